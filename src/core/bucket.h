/*
** bucket.h: which histogram bucket a value falls in -- shared by the
** per-thread histograms (histogram.c) and the shared-memory ones
** (src/shm), so both place values exactly alike.
*/
#ifndef AM_CORE_BUCKET_H
#define AM_CORE_BUCKET_H

#include <stddef.h>
#include <stdint.h>

/* Index of the first bound >= v; n for +Inf (and for NaN, as Prometheus
   does). Branch-free for the usual dozen bounds, binary search beyond. */
static inline size_t am__bucket_of(const double *b, size_t n, double v)
{
    if (n <= 16) {
        size_t i = 0;
        for (size_t k = 0; k < n; k++)
            i += !(v <= b[k]);
        return i;
    }
    if (!(v <= b[n - 1]))
        return n;
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v <= b[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/*
** A histogram's summed cells v[0..nb+2) (a count per bucket, +Inf last,
** then the sum) as am_histogram_read() reports them: the total count, the
** sum and the cumulative counts (each out pointer may be NULL).
*/
static inline void am__buckets_report(const double *v, size_t nb, uint64_t *count, double *sum,
                                      uint64_t *buckets)
{
    uint64_t acc = 0;
    for (size_t i = 0; i <= nb; i++) {
        acc += (uint64_t)v[i];
        if (buckets)
            buckets[i] = acc;
    }
    if (count)
        *count = acc;
    if (sum)
        *sum = v[nb + 1];
}

#endif
