/*
** histogram.c: histograms -- bucket counts and a sum in per-thread cells.
**
** A series owns n_bounds + 2 consecutive cells on one page: one count per
** bucket (not cumulative; the encoder accumulates) including +Inf, then the
** sum, a double. The count is the sum of the buckets, so count and +Inf always agree.
** observe() finds the bucket without branches for the usual dozen bounds
** and by binary search for long lists, then writes two cells of the calling
** thread: no lock, no allocation, no shared cache line.
*/
#include <math.h>

#include "../util/alloc.h"
#include "bucket.h"
#include "cells.h"
#include "exemplar.h"
#include "typed.h"

const double AM_DEFAULT_BUCKETS[11] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

AM__FAMILY_API(histogram, AM_TYPE_HISTOGRAM)

am_err am_buckets_linear(double start, double width, size_t count, double *out)
{
    if (!out || count == 0 || count > AM_MAX_BUCKETS || !(width > 0) || !isfinite(start) ||
        !isfinite(width))
        return am__err(AM_EINVAL,
                       "linear buckets need 1..%d bounds, a finite start and a "
                       "positive width",
                       AM_MAX_BUCKETS);
    for (size_t i = 0; i < count; i++) {
        out[i] = start + width * (double)i;
        if (!isfinite(out[i]))
            return am__err(AM_EINVAL, "linear bucket %zu is not finite", i);
    }
    return AM_OK;
}

am_err am_buckets_exponential(double start, double factor, size_t count, double *out)
{
    if (!out || count == 0 || count > AM_MAX_BUCKETS || !(start > 0) || !(factor > 1) ||
        !isfinite(start) || !isfinite(factor))
        return am__err(AM_EINVAL,
                       "exponential buckets need 1..%d bounds, start > 0 and "
                       "factor > 1",
                       AM_MAX_BUCKETS);
    double v = start;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(v))
            return am__err(AM_EINVAL, "exponential bucket %zu is not finite", i);
        out[i] = v;
        v *= factor;
    }
    return AM_OK;
}

static inline size_t observe(am_child *c, double v)
{
    const am_family *f = c->fam;
    size_t nb = f->n_bounds;
    size_t i = am__bucket_of(f->bounds, nb, v);
    am_acell *base = am__cell_fast(c->slot);
    if (AM_LIKELY(base != NULL)) {
        am_cell_add_own_u(base + i, 1);
        am_cell_add_own_d(base + nb + 1, v);
    } else {
        am__cells_add_u(c->slot + (uint32_t)i, 1);
        am__cells_add_d(c->slot + (uint32_t)nb + 1, v);
    }
    return i;
}

void am_histogram_observe(am_histogram *h, double v)
{
    observe(AM_CHILD(h), v);
}

am_err am_histogram_observe_exemplar(am_histogram *h, double v, const am_labels *ex)
{
    am_child *c = AM_CHILD(h);
    size_t i = observe(c, v);
    char text[AM_EXEMPLAR_TEXT + 1];
    size_t len;
    am_err rc = am__exemplar_render(ex, text, &len);
    if (rc)
        return rc;
    return am__exemplar_store(c, (uint32_t)c->fam->n_bounds + 1, (uint32_t)i, text, len, v);
}

void am__histogram_observe_text(am_child *c, double v, const char *text, size_t len)
{
    size_t i = observe(c, v);
    if (len <= AM_EXEMPLAR_TEXT)
        am__exemplar_store(c, (uint32_t)c->fam->n_bounds + 1, (uint32_t)i, text, len, v);
}

size_t am_histogram_n_buckets(am_histogram *h)
{
    return AM_CHILD(h)->fam->n_bounds;
}

const double *am_histogram_bounds(am_histogram *h)
{
    return AM_CHILD(h)->fam->bounds;
}

void am_histogram_read(am_histogram *h, uint64_t *count, double *sum, uint64_t *buckets)
{
    am_child *c = AM_CHILD(h);
    size_t nb = c->fam->n_bounds;
    double v[AM_MAX_BUCKETS + 2];
    am__cells_rdlock();
    am__cells_sum(c->slot, (uint32_t)nb + 2, v);
    am__cells_rdunlock();
    am__buckets_report(v, nb, count, sum, buckets);
}
