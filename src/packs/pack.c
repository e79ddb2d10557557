/*
** pack.c: the library's part of the packs' record helpers (see pack.h;
** making packs and the rest are util/pack.c): observing with an explicit
** trace. The exemplar of a sampled trace is rendered once per call into a
** stack buffer and stored without validation (its text is hex).
*/
#include "../core/exemplar.h"
#include "../log/trace_internal.h"
#include "pack.h"

void am__observe_ex(am_histogram *child, double v, const char *ex, size_t len)
{
    if (len)
        am__histogram_observe_text((am_child *)child, v, ex, len);
    else
        am_histogram_observe(child, v);
}

void am__observe_traced(am_histogram *child, double v, const am_trace_ctx *trace)
{
    char ex[AM__TRACE_EXEMPLAR_MAX];
    am__observe_ex(child, v, ex, am__trace_exemplar(trace, ex));
}

am_err am__pack_observe(am__pack *p, size_t i, const char *const *values, size_t n, double v,
                        const am_trace_ctx *trace)
{
    void *h;
    am_err rc = am__pack_with(p, i, AM_TYPE_HISTOGRAM, values, n, &h);
    if (h)
        am__observe_traced(h, v, trace);
    return rc;
}
