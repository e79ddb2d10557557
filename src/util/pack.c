/*
** pack.c: a table of metric definitions registered as one unit, and the
** record helpers every pack shares (see pack.h).
**
** A label lookup is am_<type>_with(), lock-free once the series exists.
** Only public calls: the library's instrument packs and the collector's
** own tables (through the program's copy of util, when it links
** libagentmon.so) use the same code. Observing with an explicit trace's
** exemplar is the library's (src/packs/pack.c), as rendering it needs the
** trace internals; am__pack_observe_current() takes the calling thread's
** current trace through the public am_histogram_observe_traced().
*/
#include <math.h>

#include "agentmon/trace.h"
#include "alloc.h"
#include "error.h"
#include "pack.h"

am_err am__pack_new(am_registry *r, const am_metric_def *defs, size_t n, am__pack **out)
{
    if (!out)
        return am__err(AM_EINVAL, "out pointer is NULL");
    am__pack *p = am__calloc(1, sizeof *p + n * sizeof(void *));
    if (!p)
        return am__err(AM_ENOMEM, "out of memory making a pack");
    p->defs = defs;
    p->n = n;
    am_err rc = am__defs_register(r, defs, n, p->h);
    if (rc) {
        am__free(p);
        return rc;
    }
    *out = p;
    return AM_OK;
}

void am__pack_free(am__pack *p)
{
    am__free(p);
}

am_err am__pack_check(double v, const char *what)
{
    if (!(v >= 0) || isinf(v))
        return am__err(AM_EINVAL, "%s %g is not finite and >= 0", what, v);
    return AM_OK;
}

am_err am__pack_count(am__pack *p, size_t i, const char *const *values, size_t n, double v)
{
    if (!p)
        return AM_OK; /* instrumentation off */
    am_counter *c;
    am_err rc = am_counter_with(p->h[i], values, n, &c);
    if (rc && rc != AM_ELIMIT)
        return rc;
    am_err arc = am_counter_add(c, v);
    return arc ? arc : rc;
}

am_err am__pack_observe_current(am__pack *p, size_t i, const char *const *values, size_t n,
                                double v)
{
    if (!p)
        return AM_OK; /* instrumentation off */
    am_histogram *h;
    am_err rc = am_histogram_with(p->h[i], values, n, &h);
    if (rc && rc != AM_ELIMIT)
        return rc;
    am_histogram_observe_traced(h, v);
    return rc;
}

am_err am__pack_set(am__pack *p, size_t i, const char *const *values, size_t n, double v)
{
    if (!p)
        return AM_OK; /* instrumentation off */
    am_gauge *g;
    am_err rc = am_gauge_with(p->h[i], values, n, &g);
    if (rc && rc != AM_ELIMIT)
        return rc;
    am_gauge_set(g, v);
    return rc;
}

am_err am__pack_add(am__pack *p, size_t i, const char *const *values, size_t n, double v)
{
    if (!p)
        return AM_OK; /* instrumentation off */
    am_gauge *g;
    am_err rc = am_gauge_with(p->h[i], values, n, &g);
    if (rc && rc != AM_ELIMIT)
        return rc;
    am_gauge_add(g, v);
    return rc;
}
