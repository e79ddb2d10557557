/*
** a2a.c: the A2A pack -- requests between agents, metrics-exposure-story.md.
**
** The story's four metrics with its buckets: A2A calls take 10 ms to 10 s,
** responses 100 B to 100 kB. status is "success" or "error", the values
** the story's RequestTimer writes.
*/
#include <math.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "pack.h"

enum { DURATION, COUNT, ACTIVE, SIZE, N_DEFS };

static const double DURATION_BUCKETS[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
static const double SIZE_BUCKETS[] = {100, 500, 1000, 5000, 10000, 50000, 100000};

const am_metric_def am__defs_a2a[] = {
    [DURATION] = {"a2a", AM_TYPE_HISTOGRAM, "a2a_request_duration_seconds", NULL,
                  "A2A request duration in seconds", "seconds",
                  AM_DEF_LABELS("agent", "operation", "status"), DURATION_BUCKETS, 9, NULL,
                  "metrics-exposure-story.md"},
    [COUNT] = {"a2a", AM_TYPE_COUNTER, "a2a_requests_total", NULL, "Total A2A requests", NULL,
               AM_DEF_LABELS("agent", "operation", "status"), NULL, 0, NULL,
               "metrics-exposure-story.md"},
    [ACTIVE] = {"a2a", AM_TYPE_GAUGE, "a2a_active_tasks", NULL, "Currently active A2A tasks", NULL,
                AM_DEF_LABELS("agent"), NULL, 0, NULL, "metrics-exposure-story.md"},
    [SIZE] = {"a2a", AM_TYPE_HISTOGRAM, "a2a_response_size_bytes", NULL,
              "A2A response size in bytes", "bytes", AM_DEF_LABELS("agent"), SIZE_BUCKETS, 7, NULL,
              "metrics-exposure-story.md"},
};
const am_def_table am__table_a2a = {am__defs_a2a, N_DEFS};

struct am_a2a_target {
    am_histogram *dur[2]; /* [0] error, [1] success */
    am_counter *count[2];
    am_histogram *size;
    am_gauge *active; /* a2a_active_tasks{agent} */
};

am_err am_a2a_pack_new(am_registry *r, am_a2a_pack **out)
{
    return am__pack_new(r, am__defs_a2a, N_DEFS, (am__pack **)out);
}

void am_a2a_pack_free(am_a2a_pack *p)
{
    am__pack_free(AM__PACK(p));
}

/* A duration must be finite and >= 0; a size may be negative (unknown)
   but not NaN or infinite. */
static am_err check(double seconds, double bytes)
{
    am_err rc = am__pack_check(seconds, "A2A request duration");
    if (!rc && !isfinite(bytes))
        rc = am__pack_check(bytes, "A2A response size");
    return rc;
}

am_err am_a2a_request(am_a2a_pack *ap, const char *agent, const char *operation, bool ok,
                      double seconds, double response_bytes, const am_trace_ctx *trace)
{
    am__pack *p = AM__PACK(ap);
    am_err rc = check(seconds, response_bytes);
    if (rc)
        return rc;
    const char *status = ok ? "success" : "error";
    rc = am__pack_observe(p, DURATION, AM_LABELS(agent, operation, status), seconds, trace);
    if (rc && rc != AM_ELIMIT)
        return rc;
    rc = am__pack_worst(rc, am__pack_count(p, COUNT, AM_LABELS(agent, operation, status), 1));
    if (response_bytes >= 0)
        rc = am__pack_worst(rc, am__pack_observe(p, SIZE, AM_LABELS(agent), response_bytes, NULL));
    return rc;
}

am_err am_a2a_active(am_a2a_pack *ap, const char *agent, double delta)
{
    return am__pack_add(AM__PACK(ap), ACTIVE, AM_LABELS(agent), delta);
}

am_err am_a2a_target_new(am_a2a_pack *ap, const char *agent, const char *operation,
                         am_a2a_target **out)
{
    am__pack *p = AM__PACK(ap);
    if (!out)
        return am__err(AM_EINVAL, "out pointer is NULL");
    am_err rc;
    am_a2a_target *t = *out = am__pack_alloc(p, sizeof *t, &rc);
    if (!t)
        return rc;
    static const char *const status[2] = {"error", "success"};
    for (int k = 0; k < 2; k++) {
        t->dur[k] = am__pack_resolve(p, DURATION, AM_LABELS(agent, operation, status[k]), &rc);
        t->count[k] = am__pack_resolve(p, COUNT, AM_LABELS(agent, operation, status[k]), &rc);
    }
    t->size = am__pack_resolve(p, SIZE, AM_LABELS(agent), &rc);
    t->active = am__pack_resolve(p, ACTIVE, AM_LABELS(agent), &rc);
    *out = am__pack_keep(t, rc);
    return rc;
}

void am_a2a_target_free(am_a2a_target *t)
{
    am__free(t);
}

am_err am_a2a_target_request(am_a2a_target *t, bool ok, double seconds, double response_bytes,
                             const am_trace_ctx *trace)
{
    am_err rc = check(seconds, response_bytes);
    if (rc || !t)
        return rc;
    am__observe_traced(t->dur[ok], seconds, trace);
    am_counter_inc(t->count[ok]);
    if (response_bytes >= 0)
        am_histogram_observe(t->size, response_bytes);
    return AM_OK;
}

void am_a2a_target_active(am_a2a_target *t, double delta)
{
    if (t)
        am_gauge_add(t->active, delta);
}
