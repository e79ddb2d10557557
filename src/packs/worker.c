/*
** worker.c: the worker pack -- prometheus-integration-plan.md, the INSA
** metrics: worker health, requests and their latency, active requests and
** queue, messages and handoffs between agents, cache hits, misses and
** evictions by reason (ttl, size), retries and success after N attempts,
** the dead-letter queue and its replays, database operations; and what
** the plan's orchestrator and dashboards track beyond its alert rules: the
** cache's size (INSA-Cache), the database connection pool
** (INSA-Database), the orchestrator's routing decisions and its parallel
** executions (orchestrator_agent_optimized.py's list).
**
** The plan names its metrics only through its alert rules, which query
** insa_agent_requests_total{status,agent_type}, insa_worker_health_status
** {worker_name}, insa_circuit_breaker_state{agent_type} (breaker.c) and
** insa_dead_letter_queue_size{agent_type}; the other metrics of its list
** follow the same insa_ namespace and labels, so the plan's rules and
** dashboards work on them as written.
*/
#include "../util/alloc.h"
#include "../util/error.h"
#include "pack.h"

enum {
    HEALTH,
    REQUESTS,
    REQUEST_DURATION,
    ACTIVE,
    QUEUE,
    MESSAGES,
    HANDOFFS,
    CACHE_HITS,
    CACHE_MISSES,
    CACHE_EVICTIONS,
    RETRIES,
    RETRY_SUCCESS,
    DLQ_SIZE,
    DLQ_REPLAYS,
    DLQ_REPLAY_OK,
    DB_DURATION,
    CACHE_SIZE,
    DB_CONNECTIONS,
    DB_CONNECTIONS_MAX,
    DB_WAIT,
    ROUTING,
    PARALLEL,
    PARALLEL_BRANCHES,
    PARALLEL_DURATION,
    N_DEFS
};

#define SRC "prometheus-integration-plan.md"

static const double ATTEMPT_BUCKETS[] = {1, 2, 3, 4, 5, 10};
static const double DB_BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                    0.05,   0.1,   0.25,   0.5,   1};
static const double BRANCH_BUCKETS[] = {1, 2, 3, 4, 6, 8, 12, 16, 32};

const am_metric_def am__defs_worker[] = {
    [HEALTH] = {"worker", AM_TYPE_GAUGE, "insa_worker_health_status", NULL,
                "Worker health: 1 healthy, 0 unhealthy.", NULL,
                AM_DEF_LABELS("worker_name", "agent_type"), NULL, 0, NULL, SRC},
    [REQUESTS] = {"worker", AM_TYPE_COUNTER, "insa_agent_requests_total", NULL,
                  "Requests handled by agent workers, by status (success, error).", NULL,
                  AM_DEF_LABELS("agent_type", "status"), NULL, 0, NULL, SRC},
    [REQUEST_DURATION] = {"worker", AM_TYPE_HISTOGRAM, "insa_agent_request_duration_seconds", NULL,
                          "Request latency of agent workers.", "seconds",
                          AM_DEF_LABELS("agent_type"), NULL, 0, NULL, SRC},
    [ACTIVE] = {"worker", AM_TYPE_GAUGE, "insa_worker_active_requests", NULL,
                "Requests a worker is handling now.", NULL, AM_DEF_LABELS("agent_type"), NULL, 0,
                NULL, SRC},
    [QUEUE] = {"worker", AM_TYPE_GAUGE, "insa_worker_queue_size", NULL,
               "Requests waiting for a worker.", NULL, AM_DEF_LABELS("agent_type"), NULL, 0, NULL,
               SRC},
    [MESSAGES] = {"worker", AM_TYPE_COUNTER, "insa_agent_messages_total", NULL,
                  "Messages sent between agents.", NULL,
                  AM_DEF_LABELS("from_agent", "to_agent", "message_type"), NULL, 0, NULL, SRC},
    [HANDOFFS] = {"worker", AM_TYPE_COUNTER, "insa_agent_handoffs_total", NULL,
                  "Tasks handed off from one agent to another.", NULL,
                  AM_DEF_LABELS("from_agent", "to_agent"), NULL, 0, NULL, SRC},
    [CACHE_HITS] = {"worker", AM_TYPE_COUNTER, "insa_cache_hits_total", NULL, "Cache hits.", NULL,
                    AM_DEF_LABELS("cache_name"), NULL, 0, NULL, SRC},
    [CACHE_MISSES] = {"worker", AM_TYPE_COUNTER, "insa_cache_misses_total", NULL, "Cache misses.",
                      NULL, AM_DEF_LABELS("cache_name"), NULL, 0, NULL, SRC},
    [CACHE_EVICTIONS] = {"worker", AM_TYPE_COUNTER, "insa_cache_evictions_total", NULL,
                         "Cache evictions by reason (ttl, size).", NULL,
                         AM_DEF_LABELS("cache_name", "reason"), NULL, 0, NULL, SRC},
    [RETRIES] = {"worker", AM_TYPE_COUNTER, "insa_retry_attempts_total", NULL, "Retries attempted.",
                 NULL, AM_DEF_LABELS("agent_type"), NULL, 0, NULL, SRC},
    [RETRY_SUCCESS] = {"worker", AM_TYPE_HISTOGRAM, "insa_retry_success_after_attempts", NULL,
                       "Attempts an operation needed when it finally succeeded.", NULL,
                       AM_DEF_LABELS("agent_type"), ATTEMPT_BUCKETS, 6, NULL, SRC},
    [DLQ_SIZE] = {"worker", AM_TYPE_GAUGE, "insa_dead_letter_queue_size", NULL,
                  "Messages in the dead-letter queue.", NULL, AM_DEF_LABELS("agent_type"), NULL, 0,
                  NULL, SRC},
    [DLQ_REPLAYS] = {"worker", AM_TYPE_COUNTER, "insa_dlq_replay_attempts_total", NULL,
                     "Dead-letter replays attempted.", NULL, AM_DEF_LABELS("agent_type"), NULL, 0,
                     NULL, SRC},
    [DLQ_REPLAY_OK] = {"worker", AM_TYPE_COUNTER, "insa_dlq_replay_success_total", NULL,
                       "Dead-letter replays that succeeded.", NULL, AM_DEF_LABELS("agent_type"),
                       NULL, 0, NULL, SRC},
    [DB_DURATION] = {"worker", AM_TYPE_HISTOGRAM, "insa_database_operation_duration_seconds", NULL,
                     "Database operation duration.", "seconds", AM_DEF_LABELS("operation", "table"),
                     DB_BUCKETS, 11, NULL, SRC},
    [CACHE_SIZE] = {"worker", AM_TYPE_GAUGE, "insa_cache_size", NULL,
                    "Entries the cache holds now.", NULL, AM_DEF_LABELS("cache_name"), NULL, 0,
                    NULL, SRC},
    [DB_CONNECTIONS] = {"worker", AM_TYPE_GAUGE, "insa_database_connections", NULL,
                        "Connections of the database pool, by state (active: lent to an "
                        "operation, idle: open and waiting).",
                        NULL, AM_DEF_LABELS("pool", "state"), NULL, 0, NULL, SRC},
    [DB_CONNECTIONS_MAX] = {"worker", AM_TYPE_GAUGE, "insa_database_connections_max", NULL,
                            "Connections the database pool may hold at most.", NULL,
                            AM_DEF_LABELS("pool"), NULL, 0, NULL, SRC},
    [DB_WAIT] = {"worker", AM_TYPE_HISTOGRAM, "insa_database_connection_wait_seconds", NULL,
                 "Time an operation waited for a connection of the pool.", "seconds",
                 AM_DEF_LABELS("pool"), DB_BUCKETS, 11, NULL, SRC},
    [ROUTING] = {"worker", AM_TYPE_COUNTER, "insa_orchestrator_routing_decisions_total", NULL,
                 "Tasks the orchestrator routed, by the agent type it chose and why "
                 "(least_loaded, tie, rate_limited, queue_full, ...).",
                 NULL, AM_DEF_LABELS("agent_type", "reason"), NULL, 0, NULL, SRC},
    [PARALLEL] = {"worker", AM_TYPE_COUNTER, "insa_parallel_executions_total", NULL,
                  "Parallel executions (fan-outs whose branches run at once) completed.", NULL,
                  AM_DEF_LABELS("agent_type"), NULL, 0, NULL, SRC},
    [PARALLEL_BRANCHES] = {"worker", AM_TYPE_HISTOGRAM, "insa_parallel_execution_branches", NULL,
                           "Branches of a parallel execution.", NULL, AM_DEF_LABELS("agent_type"),
                           BRANCH_BUCKETS, 9, NULL, SRC},
    [PARALLEL_DURATION] = {"worker", AM_TYPE_HISTOGRAM, "insa_parallel_execution_duration_seconds",
                           NULL,
                           "Wall time of a parallel execution, from its start to its last "
                           "branch's end.",
                           "seconds", AM_DEF_LABELS("agent_type"), NULL, 0, NULL, SRC},
};
const am_def_table am__table_worker = {am__defs_worker, N_DEFS};

/* A prepared agent_type: what a worker records per request. */
struct am_worker_agent {
    am_counter *requests[2]; /* [0] status="error", [1] "success" */
    am_histogram *duration;
    am_gauge *active;
    am_counter *retries;
};

/* A prepared (from_agent, to_agent, message_type). */
struct am_worker_link {
    am_counter *messages, *handoffs;
};

am_err am_worker_pack_new(am_registry *r, am_worker_pack **out)
{
    return am__pack_new(r, am__defs_worker, N_DEFS, (am__pack **)out);
}

void am_worker_pack_free(am_worker_pack *p)
{
    am__pack_free(AM__PACK(p));
}

am_err am_worker_health(am_worker_pack *p, const char *worker_name, const char *agent_type,
                        bool healthy)
{
    return am__pack_set(AM__PACK(p), HEALTH, AM_LABELS(worker_name, agent_type), healthy);
}

am_err am_worker_request(am_worker_pack *wp, const char *agent_type, bool ok, double seconds,
                         const am_trace_ctx *trace)
{
    am__pack *p = AM__PACK(wp);
    am_err rc = am__pack_check(seconds, "request duration");
    if (rc)
        return rc;
    rc = am__pack_count(p, REQUESTS, AM_LABELS(agent_type, ok ? "success" : "error"), 1);
    if (rc && rc != AM_ELIMIT)
        return rc;
    return am__pack_worst(
        rc, am__pack_observe(p, REQUEST_DURATION, AM_LABELS(agent_type), seconds, trace));
}

am_err am_worker_active_requests(am_worker_pack *p, const char *agent_type, double n)
{
    return am__pack_set(AM__PACK(p), ACTIVE, AM_LABELS(agent_type), n);
}

am_err am_worker_queue_size(am_worker_pack *p, const char *agent_type, double n)
{
    return am__pack_set(AM__PACK(p), QUEUE, AM_LABELS(agent_type), n);
}

am_err am_worker_message(am_worker_pack *p, const char *from_agent, const char *to_agent,
                         const char *message_type)
{
    return am__pack_count(AM__PACK(p), MESSAGES, AM_LABELS(from_agent, to_agent, message_type), 1);
}

am_err am_worker_handoff(am_worker_pack *p, const char *from_agent, const char *to_agent)
{
    return am__pack_count(AM__PACK(p), HANDOFFS, AM_LABELS(from_agent, to_agent), 1);
}

am_err am_worker_cache(am_worker_pack *p, const char *cache_name, bool hit)
{
    return am__pack_count(AM__PACK(p), hit ? CACHE_HITS : CACHE_MISSES, AM_LABELS(cache_name), 1);
}

am_err am_worker_cache_eviction(am_worker_pack *p, const char *cache_name, const char *reason)
{
    return am__pack_count(AM__PACK(p), CACHE_EVICTIONS, AM_LABELS(cache_name, reason), 1);
}

am_err am_worker_retry(am_worker_pack *p, const char *agent_type)
{
    return am__pack_count(AM__PACK(p), RETRIES, AM_LABELS(agent_type), 1);
}

am_err am_worker_retry_succeeded(am_worker_pack *p, const char *agent_type, unsigned attempts)
{
    return am__pack_observe(AM__PACK(p), RETRY_SUCCESS, AM_LABELS(agent_type), attempts, NULL);
}

am_err am_worker_dlq_size(am_worker_pack *p, const char *agent_type, double n)
{
    return am__pack_set(AM__PACK(p), DLQ_SIZE, AM_LABELS(agent_type), n);
}

am_err am_worker_dlq_replay(am_worker_pack *wp, const char *agent_type, bool ok)
{
    am__pack *p = AM__PACK(wp);
    am_err rc = am__pack_count(p, DLQ_REPLAYS, AM_LABELS(agent_type), 1);
    if (ok && (!rc || rc == AM_ELIMIT))
        rc = am__pack_worst(rc, am__pack_count(p, DLQ_REPLAY_OK, AM_LABELS(agent_type), 1));
    return rc;
}

am_err am_worker_db_op(am_worker_pack *wp, const char *operation, const char *table, double seconds)
{
    am_err rc = am__pack_check(seconds, "database operation duration");
    return rc ? rc
              : am__pack_observe(AM__PACK(wp), DB_DURATION, AM_LABELS(operation, table), seconds,
                                 NULL);
}

am_err am_worker_cache_size(am_worker_pack *p, const char *cache_name, double entries)
{
    am_err rc = am__pack_check(entries, "cache size");
    return rc ? rc : am__pack_set(AM__PACK(p), CACHE_SIZE, AM_LABELS(cache_name), entries);
}

am_err am_worker_db_pool(am_worker_pack *wp, const char *pool, double active, double idle,
                         double max)
{
    am_err rc = am__pack_check(active, "active connections");
    if (!rc)
        rc = am__pack_check(idle, "idle connections");
    if (!rc)
        rc = am__pack_check(max, "pool size");
    if (rc)
        return rc;
    am__pack *p = AM__PACK(wp);
    rc = am__pack_set(p, DB_CONNECTIONS, AM_LABELS(pool, "active"), active);
    rc = am__pack_worst(rc, am__pack_set(p, DB_CONNECTIONS, AM_LABELS(pool, "idle"), idle));
    return am__pack_worst(rc, am__pack_set(p, DB_CONNECTIONS_MAX, AM_LABELS(pool), max));
}

am_err am_worker_db_wait(am_worker_pack *p, const char *pool, double seconds)
{
    am_err rc = am__pack_check(seconds, "connection wait");
    return rc ? rc : am__pack_observe(AM__PACK(p), DB_WAIT, AM_LABELS(pool), seconds, NULL);
}

am_err am_worker_route(am_worker_pack *p, const char *agent_type, const char *reason)
{
    return am__pack_count(AM__PACK(p), ROUTING, AM_LABELS(agent_type, reason), 1);
}

am_err am_worker_parallel(am_worker_pack *wp, const char *agent_type, unsigned branches,
                          double seconds, const am_trace_ctx *trace)
{
    am_err rc = am__pack_check(seconds, "parallel execution duration");
    if (rc)
        return rc;
    if (branches == 0)
        return am__err(AM_EINVAL, "a parallel execution has at least one branch");
    am__pack *p = AM__PACK(wp);
    rc = am__pack_count(p, PARALLEL, AM_LABELS(agent_type), 1);
    if (rc && rc != AM_ELIMIT)
        return rc;
    rc = am__pack_worst(
        rc, am__pack_observe(p, PARALLEL_BRANCHES, AM_LABELS(agent_type), branches, NULL));
    return am__pack_worst(
        rc, am__pack_observe(p, PARALLEL_DURATION, AM_LABELS(agent_type), seconds, trace));
}

am_err am_worker_agent_new(am_worker_pack *wp, const char *agent_type, am_worker_agent **out)
{
    if (!agent_type || !out)
        return am__err(AM_EINVAL, "agent_type or out pointer is NULL");
    am__pack *p = AM__PACK(wp);
    am_err rc;
    am_worker_agent *a = *out = am__pack_alloc(p, sizeof *a, &rc);
    if (!a)
        return rc;
    a->requests[0] = am__pack_resolve(p, REQUESTS, AM_LABELS(agent_type, "error"), &rc);
    a->requests[1] = am__pack_resolve(p, REQUESTS, AM_LABELS(agent_type, "success"), &rc);
    a->duration = am__pack_resolve(p, REQUEST_DURATION, AM_LABELS(agent_type), &rc);
    a->active = am__pack_resolve(p, ACTIVE, AM_LABELS(agent_type), &rc);
    a->retries = am__pack_resolve(p, RETRIES, AM_LABELS(agent_type), &rc);
    *out = am__pack_keep(a, rc);
    return rc;
}

void am_worker_agent_free(am_worker_agent *a)
{
    am__free(a);
}

am_err am_worker_agent_request(am_worker_agent *a, bool ok, double seconds,
                               const am_trace_ctx *trace)
{
    am_err rc = am__pack_check(seconds, "request duration");
    if (rc || !a)
        return rc;
    am_counter_inc(a->requests[ok]);
    am__observe_traced(a->duration, seconds, trace);
    return AM_OK;
}

void am_worker_agent_active(am_worker_agent *a, double n)
{
    if (a)
        am_gauge_set(a->active, n);
}

void am_worker_agent_retry(am_worker_agent *a)
{
    if (a)
        am_counter_inc(a->retries);
}

am_err am_worker_link_new(am_worker_pack *wp, const char *from_agent, const char *to_agent,
                          const char *message_type, am_worker_link **out)
{
    if (!from_agent || !to_agent || !message_type || !out)
        return am__err(AM_EINVAL, "an agent, the message type or the out pointer is NULL");
    am__pack *p = AM__PACK(wp);
    am_err rc;
    am_worker_link *l = *out = am__pack_alloc(p, sizeof *l, &rc);
    if (!l)
        return rc;
    l->messages = am__pack_resolve(p, MESSAGES, AM_LABELS(from_agent, to_agent, message_type), &rc);
    l->handoffs = am__pack_resolve(p, HANDOFFS, AM_LABELS(from_agent, to_agent), &rc);
    *out = am__pack_keep(l, rc);
    return rc;
}

void am_worker_link_free(am_worker_link *l)
{
    am__free(l);
}

void am_worker_link_handoff(am_worker_link *l)
{
    if (!l)
        return;
    am_counter_inc(l->handoffs);
    am_counter_inc(l->messages);
}

/* A prepared cache_name: hits, misses, size. */
struct am_worker_cache_ref {
    am_counter *lookups[2]; /* [0] misses, [1] hits */
    am_gauge *size;
};

am_err am_worker_cache_ref_new(am_worker_pack *wp, const char *cache_name,
                               am_worker_cache_ref **out)
{
    if (!cache_name || !out)
        return am__err(AM_EINVAL, "cache_name or out pointer is NULL");
    am__pack *p = AM__PACK(wp);
    am_err rc;
    am_worker_cache_ref *c = *out = am__pack_alloc(p, sizeof *c, &rc);
    if (!c)
        return rc;
    c->lookups[0] = am__pack_resolve(p, CACHE_MISSES, AM_LABELS(cache_name), &rc);
    c->lookups[1] = am__pack_resolve(p, CACHE_HITS, AM_LABELS(cache_name), &rc);
    c->size = am__pack_resolve(p, CACHE_SIZE, AM_LABELS(cache_name), &rc);
    *out = am__pack_keep(c, rc);
    return rc;
}

void am_worker_cache_ref_free(am_worker_cache_ref *c)
{
    am__free(c);
}

void am_worker_cache_ref_lookup(am_worker_cache_ref *c, bool hit)
{
    if (c)
        am_counter_inc(c->lookups[hit]);
}

am_err am_worker_cache_ref_size(am_worker_cache_ref *c, double entries)
{
    am_err rc = am__pack_check(entries, "cache size");
    if (!rc && c)
        am_gauge_set(c->size, entries);
    return rc;
}
