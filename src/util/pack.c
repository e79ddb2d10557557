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

am_err am__pack_with(am__pack *p, size_t i, am_metric_type type, const char *const *values,
                     size_t n, void **child)
{
    *child = NULL;
    if (!p)
        return AM_OK; /* instrumentation off */
    void *c;
    am_err rc;
    switch (type) {
    case AM_TYPE_COUNTER:
        rc = am_counter_with(p->h[i], values, n, (am_counter **)&c);
        break;
    case AM_TYPE_GAUGE:
        rc = am_gauge_with(p->h[i], values, n, (am_gauge **)&c);
        break;
    default:
        rc = am_histogram_with(p->h[i], values, n, (am_histogram **)&c);
        break;
    }
    if (rc && rc != AM_ELIMIT)
        return rc;
    *child = c;
    return rc;
}

void *am__pack_resolve(am__pack *p, size_t i, const char *const *values, size_t n, am_err *rc)
{
    if (!p || (*rc && *rc != AM_ELIMIT))
        return NULL;
    void *child;
    *rc = am__pack_worst(*rc, am__pack_with(p, i, p->defs[i].type, values, n, &child));
    return child;
}

void *am__pack_alloc(const void *pack, size_t size, am_err *rc)
{
    *rc = AM_OK;
    if (!pack)
        return NULL;
    void *h = am__calloc(1, size);
    if (!h)
        *rc = am__err(AM_ENOMEM, "out of memory preparing a pack's handle");
    return h;
}

void *am__pack_keep(void *h, am_err rc)
{
    if (rc && rc != AM_ELIMIT) {
        am__free(h);
        return NULL;
    }
    return h;
}

am_err am__pack_count(am__pack *p, size_t i, const char *const *values, size_t n, double v)
{
    void *c;
    am_err rc = am__pack_with(p, i, AM_TYPE_COUNTER, values, n, &c);
    if (!c)
        return rc;
    am_err arc = am_counter_add(c, v);
    return arc ? arc : rc;
}

am_err am__pack_observe_current(am__pack *p, size_t i, const char *const *values, size_t n,
                                double v)
{
    void *h;
    am_err rc = am__pack_with(p, i, AM_TYPE_HISTOGRAM, values, n, &h);
    if (h)
        am_histogram_observe_traced(h, v);
    return rc;
}

am_err am__pack_set(am__pack *p, size_t i, const char *const *values, size_t n, double v)
{
    void *g;
    am_err rc = am__pack_with(p, i, AM_TYPE_GAUGE, values, n, &g);
    if (g)
        am_gauge_set(g, v);
    return rc;
}

am_err am__pack_add(am__pack *p, size_t i, const char *const *values, size_t n, double v)
{
    void *g;
    am_err rc = am__pack_with(p, i, AM_TYPE_GAUGE, values, n, &g);
    if (g)
        am_gauge_add(g, v);
    return rc;
}
