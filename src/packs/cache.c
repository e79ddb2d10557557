/*
** cache.c: the cache pack -- metrics-exposure-story.md.
**
** Operations by result, and their latency with the story's buckets (1 ms to
** 100 ms: "sub-millisecond to slow"). The plan's hits, misses and evictions
** by reason are the worker pack's (worker.c).
*/
#include "../util/alloc.h"
#include "../util/error.h"
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

/* A latency must be finite and >= 0, or negative for "not observed". */
static am_err check(double seconds)
{
    return seconds < 0 ? AM_OK : am__pack_check(seconds, "cache latency");
}

am_err am_cache_op(am_cache_pack *cp, const char *operation, const char *result, double seconds)
{
    am__pack *p = AM__PACK(cp);
    am_err rc = check(seconds);
    if (rc)
        return rc;
    rc = am__pack_count(p, OPS, AM_LABELS(operation, result), 1);
    if (rc && rc != AM_ELIMIT)
        return rc;
    if (seconds >= 0)
        rc = am__pack_worst(rc, am__pack_observe(p, LATENCY, AM_LABELS(operation), seconds, NULL));
    return rc;
}

/* A prepared (operation, result). */
struct am_cache_result {
    am_counter *ops;
    am_histogram *latency;
};

am_err am_cache_result_new(am_cache_pack *cp, const char *operation, const char *result,
                           am_cache_result **out)
{
    if (!operation || !result || !out)
        return am__err(AM_EINVAL, "operation, result or out pointer is NULL");
    am__pack *p = AM__PACK(cp);
    am_err rc;
    am_cache_result *c = *out = am__pack_alloc(p, sizeof *c, &rc);
    if (!c)
        return rc;
    c->ops = am__pack_resolve(p, OPS, AM_LABELS(operation, result), &rc);
    c->latency = am__pack_resolve(p, LATENCY, AM_LABELS(operation), &rc);
    *out = am__pack_keep(c, rc);
    return rc;
}

void am_cache_result_free(am_cache_result *c)
{
    am__free(c);
}

am_err am_cache_result_record(am_cache_result *c, double seconds)
{
    am_err rc = check(seconds);
    if (rc || !c)
        return rc;
    am_counter_inc(c->ops);
    if (seconds >= 0)
        am__observe_traced(c->latency, seconds, NULL); /* as am_cache_op: the current trace */
    return AM_OK;
}
