/*
** cache.c: the cache pack -- metrics-exposure-story.md.
**
** Operations by result, and their latency with the story's buckets (1 ms to
** 100 ms: "sub-millisecond to slow"). The plan's hits, misses and evictions
** by reason are the worker pack's (worker.c).
*/
#include "pack.h"

enum { OPS, LATENCY, N_DEFS };

static const double LATENCY_BUCKETS[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1};

const am_metric_def am__defs_cache[] = {
    [OPS] = {"cache", AM_TYPE_COUNTER, "cache_operations_total", NULL, "Cache operations", NULL,
             AM_DEF_LABELS("operation", "result"), NULL, 0, NULL, "metrics-exposure-story.md"},
    [LATENCY] = {"cache", AM_TYPE_HISTOGRAM, "cache_latency_seconds", NULL,
                 "Cache operation latency", "seconds", AM_DEF_LABELS("operation"), LATENCY_BUCKETS,
                 6, NULL, "metrics-exposure-story.md"},
};
const am_def_table am__table_cache = {am__defs_cache, N_DEFS};

am_err am_cache_pack_new(am_registry *r, am_cache_pack **out)
{
    return am__pack_new(r, am__defs_cache, N_DEFS, (am__pack **)out);
}

void am_cache_pack_free(am_cache_pack *p)
{
    am__pack_free(AM__PACK(p));
}

am_err am_cache_op(am_cache_pack *cp, const char *operation, const char *result, double seconds)
{
    am__pack *p = AM__PACK(cp);
    if (!(seconds < 0)) {
        am_err rc = am__pack_check(seconds, "cache latency");
        if (rc)
            return rc;
    }
    am_err rc = am__pack_count(p, OPS, AM_LABELS(operation, result), 1);
    if (rc && rc != AM_ELIMIT)
        return rc;
    if (seconds >= 0)
        rc = am__pack_worst(rc, am__pack_observe(p, LATENCY, AM_LABELS(operation), seconds, NULL));
    return rc;
}
