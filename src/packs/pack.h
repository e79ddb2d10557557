/*
** pack.h: what every instrument pack shares.
**
** A pack is its table of metric definitions (catalog.h) and the family
** handles registered from it, h[i] for defs[i]; the public pack types are
** this struct under another name. The record helpers resolve label values
** and update in one step, with the rules every pack follows: durations and
** sizes must be finite and >= 0, a full family records into its overflow
** series and says AM_ELIMIT, and a sampled trace becomes the exemplar.
*/
#ifndef AM_PACKS_PACK_H
#define AM_PACKS_PACK_H

#include "agentmon/packs.h"
#include "../core/catalog.h"

typedef struct am__pack {
    const am_metric_def *defs;
    size_t n;
    void *h[];
} am__pack;

#define AM__PACK(x) ((am__pack *)(x))

am_err am__pack_new(am_registry *r, const am_metric_def *defs, size_t n, am__pack **out);
void am__pack_free(am__pack *p);

/* AM_OK, or AM_EINVAL naming what when v is negative, NaN or infinite. */
am_err am__pack_check(double v, const char *what);

/* counter h[i]{values} += v */
am_err am__pack_count(am__pack *p, size_t i, const char *const *values, size_t n, double v);
/* histogram h[i]{values} observes v, with the trace as exemplar */
am_err am__pack_observe(am__pack *p, size_t i, const char *const *values, size_t n, double v,
                        const am_trace_ctx *trace);
/* gauge h[i]{values} = v (add: += v) */
am_err am__pack_set(am__pack *p, size_t i, const char *const *values, size_t n, double v);
am_err am__pack_add(am__pack *p, size_t i, const char *const *values, size_t n, double v);

/* Observe into a resolved histogram child, with the trace as exemplar. */
void am__observe_traced(am_histogram *child, double v, const am_trace_ctx *trace);

/* The same with an exemplar rendered already (len 0: none), for a call that
   attaches one trace to several series. */
void am__observe_ex(am_histogram *child, double v, const char *ex, size_t len);

/* The worse of two codes: an error beats AM_ELIMIT beats AM_OK. */
static inline am_err am__pack_worst(am_err a, am_err b)
{
    if (a && a != AM_ELIMIT)
        return a;
    if (b && b != AM_ELIMIT)
        return b;
    return a ? a : b;
}

#endif
