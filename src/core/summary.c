/*
** summary.c: summaries -- a count and a sum of observations in per-thread
** cells.
**
** prometheus_client's Summary exposes no quantiles, only <name>_count and
** <name>_sum, and that is what this type is: the Python binding's Summary
** and any C caller that wants an average without buckets. A series owns two
** cells, the count (an integer) and the sum (a double), both the calling
** thread's own (see cells.h), so observe takes no lock and writes no line
** another thread writes; a read sums them over all threads. Any double is
** accepted, as prometheus_client accepts it: a negative value makes the sum
** go down (Prometheus then cannot tell a reset), NaN makes it NaN.
*/
#include "cells.h"
#include "typed.h"

AM__FAMILY_API(summary, AM_TYPE_SUMMARY)

void am_summary_observe(am_summary *s, double v)
{
    uint32_t slot = AM_CHILD(s)->slot;
    am_acell *base = am__cell_fast(slot);
    if (AM_LIKELY(base != NULL)) {
        am_cell_add_own_u(base, 1);
        am_cell_add_own_d(base + 1, v);
    } else {
        am__cells_add_u(slot, 1);
        am__cells_add_d(slot + 1, v);
    }
}

void am_summary_read(am_summary *s, uint64_t *count, double *sum)
{
    double v[2];
    am__cells_rdlock();
    am__cells_sum(AM_CHILD(s)->slot, 2, v);
    am__cells_rdunlock();
    if (count)
        *count = (uint64_t)v[0];
    if (sum)
        *sum = v[1];
}
