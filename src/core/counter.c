/*
** counter.c: counters -- monotonic totals in per-thread cells.
**
** A counter series owns one cell slot; inc/add write the calling thread's
** cell (see cells.h), so increments from many threads never contend.
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
    am__cells_add(AM_CHILD(c)->slot, 1.0);
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
        am__cells_add(AM_CHILD(c)->slot, v);
    return rc;
}

am_err am_counter_add_exemplar(am_counter *h, double v, const am_labels *ex)
{
    am_child *c = AM_CHILD(h);
    am_err rc = check_delta(c, v);
    if (rc)
        return rc;
    am__cells_add(c->slot, v);
    char text[AM_EXEMPLAR_TEXT + 1];
    size_t len;
    if ((rc = am__exemplar_render(ex, text, &len)) != AM_OK)
        return rc;
    return am__exemplar_store(c, 1, 0, text, len, v);
}

double am_counter_value(am_counter *h)
{
    double v;
    am__cells_rdlock();
    am__cells_sum(AM_CHILD(h)->slot, 1, &v);
    am__cells_rdunlock();
    return v;
}
