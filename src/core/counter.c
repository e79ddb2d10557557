/*
** counter.c: counters -- monotonic totals in per-thread cells.
**
** A counter series owns two cells: a count, which inc and whole-number adds
** write (an integer add, the cheapest there is), and a double for fractional
** adds. Both are the calling thread's own cells (see cells.h), so increments
** from many threads never contend; the value is their sum.
** Negative, NaN and infinite deltas are refused: a counter that went down
** would read as a reset to Prometheus' rate().
*/
#include <math.h>

#include "cells.h"
#include "exemplar.h"
#include "typed.h"

AM__FAMILY_API(counter, AM_TYPE_COUNTER)

void am_counter_inc(am_counter *c)
{
    am__cells_add_u(AM_CHILD(c)->slot, 1);
}

/* v is finite and >= 0: whole numbers go to the count cell. */
static inline void add(const am_child *c, double v)
{
    if (v < 9007199254740992.0 && v == (double)(uint64_t)v)
        am__cells_add_u(c->slot, (uint64_t)v);
    else
        am__cells_add_d(c->slot + 1, v);
}

static am_err check_delta(const am_child *c, double v)
{
    if (AM_UNLIKELY(!(v >= 0.0) || isinf(v)))
        return am__err(AM_EINVAL, "counter \"%s\": cannot add %g (must be finite and >= 0)",
                       c->fam->name, v);
    return AM_OK;
}

am_err am_counter_add(am_counter *c, double v)
{
    am_err rc = check_delta(AM_CHILD(c), v);
    if (AM_LIKELY(rc == AM_OK))
        add(AM_CHILD(c), v);
    return rc;
}

am_err am_counter_add_exemplar(am_counter *h, double v, const am_labels *ex)
{
    am_child *c = AM_CHILD(h);
    am_err rc = check_delta(c, v);
    if (rc)
        return rc;
    add(c, v);
    char text[AM_EXEMPLAR_TEXT + 1];
    size_t len;
    if ((rc = am__exemplar_render(ex, text, &len)) != AM_OK)
        return rc;
    return am__exemplar_store(c, 1, 0, text, len, v);
}

void am__counter_add_text(am_child *c, double v, const char *text, size_t len)
{
    add(c, v);
    if (len <= AM_EXEMPLAR_TEXT)
        am__exemplar_store(c, 1, 0, text, len, v);
}

double am_counter_value(am_counter *h)
{
    double v[2];
    am__cells_rdlock();
    am__cells_sum(AM_CHILD(h)->slot, 2, v);
    am__cells_rdunlock();
    return v[0] + v[1];
}
