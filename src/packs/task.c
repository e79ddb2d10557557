/*
** task.c: the task pack -- requirement 10.2 of monitoring-collector-spec.md.
**
** The MonitoringCollector's four metrics, exactly: a task's duration by
** agent and status ("success" or "failure", the spec's record_task_duration
** values), successes, failures by error type, and queue depth. The
** duration histogram has the spec's own buckets -- prometheus_client's
** defaults, which its Histogram is given (0.005 .. 10 s, with 0.075, 0.75
** and 7.5) -- and bounds up to 30 minutes past them: agent tasks take minutes,
** and the spec's SlowTaskExecution alert (p95 > 60 s) needs bounds on both
** sides of 60 s to fire.
*/
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "pack.h"

enum { DURATION, SUCCESS, FAILURE, QUEUE, N_DEFS };

static const double TASK_BUCKETS[] = {.005, .01, .025, .05, .075, .1, .25, .5,  .75, 1,
                                      2.5,  5,   7.5,  10,  30,   60, 120, 300, 600, 1800};

const am_metric_def am__defs_task[] = {
    [DURATION] = {"task", AM_TYPE_HISTOGRAM, "agent_task_duration_seconds", NULL,
                  "Task execution duration in seconds", "seconds",
                  AM_DEF_LABELS("agent_id", "status"), TASK_BUCKETS,
                  sizeof TASK_BUCKETS / sizeof TASK_BUCKETS[0], NULL,
                  "monitoring-collector-spec.md"},
    [SUCCESS] = {"task", AM_TYPE_COUNTER, "agent_task_success_total", NULL,
                 "Total successful task executions", NULL, AM_DEF_LABELS("agent_id"), NULL, 0, NULL,
                 "monitoring-collector-spec.md"},
    [FAILURE] = {"task", AM_TYPE_COUNTER, "agent_task_failure_total", NULL,
                 "Total failed task executions", NULL, AM_DEF_LABELS("agent_id", "error_type"),
                 NULL, 0, NULL, "monitoring-collector-spec.md"},
    [QUEUE] = {"task", AM_TYPE_GAUGE, "agent_queue_depth", NULL, "Current queue depth", NULL,
               AM_DEF_LABELS("queue_name"), NULL, 0, NULL, "monitoring-collector-spec.md"},
};
const am_def_table am__table_task = {am__defs_task, N_DEFS};

struct am_task_agent {
    am__pack *p;
    am_histogram *ok;
    am_counter *success;
    char agent[];
};

am_err am_task_pack_new(am_registry *r, am_task_pack **out)
{
    return am__pack_new(r, am__defs_task, N_DEFS, (am__pack **)out);
}

void am_task_pack_free(am_task_pack *p)
{
    am__pack_free(AM__PACK(p));
}

static am_err failed(am__pack *p, const char *agent_id, const char *error_type, double seconds,
                     const am_trace_ctx *trace)
{
    am_err a = am__pack_observe(p, DURATION, AM_LABELS(agent_id, "failure"), seconds, trace);
    if (a && a != AM_ELIMIT)
        return a;
    return am__pack_worst(a, am__pack_count(p, FAILURE, AM_LABELS(agent_id, error_type), 1));
}

am_err am_task_finished(am_task_pack *tp, const char *agent_id, const char *error_type,
                        double seconds, const am_trace_ctx *trace)
{
    am__pack *p = AM__PACK(tp);
    am_err rc = am__pack_check(seconds, "task duration");
    if (rc)
        return rc;
    if (error_type)
        return failed(p, agent_id, error_type, seconds, trace);
    rc = am__pack_observe(p, DURATION, AM_LABELS(agent_id, "success"), seconds, trace);
    if (rc && rc != AM_ELIMIT)
        return rc;
    return am__pack_worst(rc, am__pack_count(p, SUCCESS, AM_LABELS(agent_id), 1));
}

am_err am_task_queue_depth(am_task_pack *tp, const char *queue_name, double depth)
{
    return am__pack_set(AM__PACK(tp), QUEUE, AM_LABELS(queue_name), depth);
}

am_err am_task_agent_new(am_task_pack *tp, const char *agent_id, am_task_agent **out)
{
    am__pack *p = AM__PACK(tp);
    if (!agent_id || !out)
        return am__err(AM_EINVAL, "agent_id or out pointer is NULL");
    size_t len = strlen(agent_id) + 1;
    am_task_agent *a = am__malloc(sizeof *a + len);
    if (!a)
        return am__err(AM_ENOMEM, "out of memory preparing an agent");
    a->p = p;
    memcpy(a->agent, agent_id, len);
    am_err rc = am_histogram_with(p->h[DURATION], AM_LABELS(agent_id, "success"), &a->ok);
    am_err rc2 = rc && rc != AM_ELIMIT
                     ? rc
                     : am_counter_with(p->h[SUCCESS], AM_LABELS(agent_id), &a->success);
    if (rc2 && rc2 != AM_ELIMIT) {
        am__free(a);
        return rc2;
    }
    *out = a;
    return am__pack_worst(rc, rc2);
}

void am_task_agent_free(am_task_agent *a)
{
    am__free(a);
}

am_err am_task_agent_finished(am_task_agent *a, const char *error_type, double seconds,
                              const am_trace_ctx *trace)
{
    am_err rc = am__pack_check(seconds, "task duration");
    if (rc || !a)
        return rc;
    if (error_type)
        return failed(a->p, a->agent, error_type, seconds, trace);
    am__observe_traced(a->ok, seconds, trace);
    am_counter_inc(a->success);
    return AM_OK;
}
