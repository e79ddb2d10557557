/*
** pack.c: making packs and the record helpers they share (see pack.h).
**
** A label lookup is am_<type>_with(), lock-free once the series exists;
** the exemplar of a sampled trace is rendered once per call into a stack
** buffer and stored without validation (its text is hex).
*/
#include <math.h>

#include "../util/alloc.h"
#include "../util/error.h"
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
    if (!p)
        return AM_OK; /* instrumentation off */
    am_histogram *h;
    am_err rc = am_histogram_with(p->h[i], values, n, &h);
    if (rc && rc != AM_ELIMIT)
        return rc;
    am__observe_traced(h, v, trace);
    return rc;
}
