/*
** packs.h: instrument packs -- the metrics the source documents specify,
** with their exact names, labels, buckets and types, recorded one event per
** call.
**
**   task    monitoring-collector-spec.md   agent_task_*, agent_queue_depth
**   a2a     metrics-exposure-story.md      a2a_* requests between agents
**   cache   metrics-exposure-story.md      cache_operations_total, cache_latency_seconds
**   rate    metrics-exposure-story.md      rate_limit_hits_total
**   llm     metrics-exposure-story.md +    ccr_* per provider, and the OpenTelemetry
**           OpenTelemetry GenAI 1.42       GenAI gen_ai_* metrics in one call
**   service metrics-exposure-story.md      agentos_info
**   worker  prometheus-integration-plan.md insa_* workers, handoffs, cache
**                                          evictions, retries, DLQ, database
** (the circuit breaker's insa_circuit_breaker_* are in breaker.h).
**
**     am_task_pack *tasks;
**     am_task_pack_new(NULL, &tasks);                             once
**     am_task_finished(tasks, "planner:1", NULL, 0.42, NULL);     per event
**
** Every pack registers its metrics when made (the existing families when
** another pack of the same kind made them first: making a pack twice is
** fine). A call resolves its label values (a lock-free lookup once the
** series exist) and records. For the busiest events a prepared handle
** resolves the labels once and then records with no lookup at all:
** am_task_agent, am_llm_route, am_a2a_target.
**
** TRACES. Calls that take `const am_trace_ctx *trace` attach it (trace_id,
** span_id) as the OpenMetrics exemplar of what they observe when it is
** sampled; NULL means the thread's current context (trace.h), if any.
**
** ERRORS. Label values are refused as am_counter_with() refuses them
** (AM_EINVAL); a family at its child limit records into its overflow series
** and returns AM_ELIMIT; a negative or NaN duration or size is refused
** (AM_EINVAL) and nothing is recorded.
**
** OFF. Every recording call accepts a NULL pack or prepared handle and
** records nothing (AM_OK): not making a pack turns its instrumentation off
** for the price of one branch. Packs are freed with their _free;
** their metrics stay in the registry. Every function is thread-safe.
*/
#ifndef AGENTMON_PACKS_H
#define AGENTMON_PACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "metrics.h"
#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- task: monitoring-collector-spec.md, requirement 10.2 ---------- */

typedef struct am_task_pack am_task_pack;
typedef struct am_task_agent am_task_agent;

/* Register agent_task_duration_seconds{agent_id,status},
   agent_task_success_total{agent_id}, agent_task_failure_total{agent_id,
   error_type} and agent_queue_depth{queue_name} in r (NULL: default). Since: 0.1 */
AM_EXTERN am_err am_task_pack_new(am_registry *r, am_task_pack **out);
AM_EXTERN void am_task_pack_free(am_task_pack *p);

/*
** A task of agent_id finished after seconds: with error_type NULL it
** succeeded (status="success", agent_task_success_total), else it failed
** (status="failure", agent_task_failure_total{error_type}). Since: 0.1
*/
AM_EXTERN am_err am_task_finished(am_task_pack *p, const char *agent_id, const char *error_type,
                                  double seconds, const am_trace_ctx *trace);

/* agent_queue_depth{queue_name} = depth. Since: 0.1 */
AM_EXTERN am_err am_task_queue_depth(am_task_pack *p, const char *queue_name, double depth);

/* A prepared agent: am_task_agent_finished() records with no lookup on
   success (a failure's error_type is looked up). Free with _free. Since: 0.1 */
AM_EXTERN am_err am_task_agent_new(am_task_pack *p, const char *agent_id, am_task_agent **out);
AM_EXTERN void am_task_agent_free(am_task_agent *a);
AM_EXTERN am_err am_task_agent_finished(am_task_agent *a, const char *error_type, double seconds,
                                        const am_trace_ctx *trace);

/* ---- a2a: metrics-exposure-story.md ------------------------------- */

typedef struct am_a2a_pack am_a2a_pack;
typedef struct am_a2a_target am_a2a_target;

/* a2a_request_duration_seconds and a2a_requests_total {agent,operation,
   status}, a2a_active_tasks{agent}, a2a_response_size_bytes{agent}, with
   the story's buckets. Since: 0.1 */
AM_EXTERN am_err am_a2a_pack_new(am_registry *r, am_a2a_pack **out);
AM_EXTERN void am_a2a_pack_free(am_a2a_pack *p);

/*
** An A2A request to agent's operation finished: ok selects status
** "success" or "error"; response_bytes < 0 means unknown (not observed).
** Since: 0.1
*/
AM_EXTERN am_err am_a2a_request(am_a2a_pack *p, const char *agent, const char *operation, bool ok,
                                double seconds, double response_bytes, const am_trace_ctx *trace);

/* a2a_active_tasks{agent} += delta (+1 when a task starts, -1 when done). Since: 0.1 */
AM_EXTERN am_err am_a2a_active(am_a2a_pack *p, const char *agent, double delta);

/* A prepared (agent, operation): records with no lookup. With p NULL
   (instrumentation off) *out is a NULL target, which records nothing.
   Since: 0.1 */
AM_EXTERN am_err am_a2a_target_new(am_a2a_pack *p, const char *agent, const char *operation,
                                   am_a2a_target **out);
AM_EXTERN void am_a2a_target_free(am_a2a_target *t);
AM_EXTERN am_err am_a2a_target_request(am_a2a_target *t, bool ok, double seconds,
                                       double response_bytes, const am_trace_ctx *trace);

/*
** am_a2a_target_active: a2a_active_tasks{agent} += delta for the target's
** agent, as am_a2a_active does, with no label lookup.
** METHOD: am_a2a_target   THREAD-SAFE: yes   Since: 0.3
**
** t  borrowed, from am_a2a_target_new; NULL records nothing.
** Never fails.
*/
AM_EXTERN void am_a2a_target_active(am_a2a_target *t, double delta);

/* ---- cache and rate limit: metrics-exposure-story.md ------------- */

typedef struct am_cache_pack am_cache_pack;

/* cache_operations_total{operation,result}, cache_latency_seconds{operation}. Since: 0.1 */
AM_EXTERN am_err am_cache_pack_new(am_registry *r, am_cache_pack **out);
AM_EXTERN void am_cache_pack_free(am_cache_pack *p);

/* A cache operation ("get", "set", ...) with its result ("hit", "miss",
   "ok", ...) took seconds (negative: not observed). Since: 0.1 */
AM_EXTERN am_err am_cache_op(am_cache_pack *p, const char *operation, const char *result,
                             double seconds);

/*
** am_cache_result_new: a prepared (operation, result); its record does
** what am_cache_op does for them, with no label lookup.
** METHOD: am_cache_pack   THREAD-SAFE: yes (the handle too)   Since: 0.3
**
** p                  borrowed; NULL gives a NULL handle, which records
**                    nothing.
** operation, result  copied.  out: owned result, free with
**                    am_cache_result_free (NULL: no-op) before p.
** seconds            negative: not observed (the count only).
** Returns AM_OK; AM_ELIMIT (overflow series); AM_EINVAL for a NULL
** argument or a NaN or infinite latency (nothing recorded); AM_ENOMEM.
*/
typedef struct am_cache_result am_cache_result;
AM_EXTERN am_err am_cache_result_new(am_cache_pack *p, const char *operation, const char *result,
                                     am_cache_result **out);
AM_EXTERN void am_cache_result_free(am_cache_result *c);
AM_EXTERN am_err am_cache_result_record(am_cache_result *c, double seconds);

typedef struct am_rate_pack am_rate_pack;

/* rate_limit_hits_total{endpoint,workspace_id,result}. Since: 0.1 */
AM_EXTERN am_err am_rate_pack_new(am_registry *r, am_rate_pack **out);
AM_EXTERN void am_rate_pack_free(am_rate_pack *p);

/* A rate-limit decision: result "allowed" or "denied". Since: 0.1 */
AM_EXTERN am_err am_rate_decision(am_rate_pack *p, const char *endpoint, const char *workspace_id,
                                  bool allowed);

/* ---- llm: the story's CCR metrics and OpenTelemetry GenAI --------- */

typedef struct am_llm_pack am_llm_pack;
typedef struct am_llm_route am_llm_route;

/* The OpenTelemetry GenAI semantic conventions these metrics follow. Since: 0.1 */
AM_EXTERN extern const char AM_GENAI_SEMCONV_VERSION[];

/*
** ccr_requests_total{provider,task_type,status}, ccr_latency_seconds
** {provider}, ccr_tokens_total{provider,direction}; and
** gen_ai_client_token_usage{gen_ai_operation_name,gen_ai_provider_name,
** gen_ai_token_type,gen_ai_request_model},
** gen_ai_client_operation_duration_seconds{... ,error_type},
** gen_ai_invoke_agent_duration_seconds{gen_ai_agent_name},
** gen_ai_execute_tool_duration_seconds{gen_ai_tool_name}.
** Since: 0.1
*/
AM_EXTERN am_err am_llm_pack_new(am_registry *r, am_llm_pack **out);
AM_EXTERN void am_llm_pack_free(am_llm_pack *p);

/* One LLM call. Strings borrowed for the call. */
typedef struct am_llm_call {
    const char *provider;   /* "openai", "anthropic", ... */
    const char *model;      /* gen_ai_request_model */
    const char *operation;  /* gen_ai_operation_name; NULL = "chat" */
    const char *task_type;  /* ccr task_type; NULL = "default" */
    const char *error_type; /* NULL: success */
    double seconds;
    uint64_t input_tokens, output_tokens;
    const am_trace_ctx *trace;
    void *reserved[2];
} am_llm_call;

#define AM_LLM_CALL_INIT                                                                           \
    {                                                                                              \
        0                                                                                          \
    }

/* Record an LLM call in all seven series it moves. Since: 0.1 */
AM_EXTERN am_err am_llm_record(am_llm_pack *p, const am_llm_call *call);

/* A prepared (provider, model, operation, task_type): records with no
   lookup on success. Since: 0.1 */
AM_EXTERN am_err am_llm_route_new(am_llm_pack *p, const char *provider, const char *model,
                                  const char *operation, const char *task_type, am_llm_route **out);
AM_EXTERN void am_llm_route_free(am_llm_route *r);
AM_EXTERN am_err am_llm_route_record(am_llm_route *r, const char *error_type, double seconds,
                                     uint64_t input_tokens, uint64_t output_tokens,
                                     const am_trace_ctx *trace);

/* gen_ai_invoke_agent_duration_seconds{gen_ai_agent_name}. Since: 0.1 */
AM_EXTERN am_err am_llm_invoke_agent(am_llm_pack *p, const char *agent_name, double seconds,
                                     const am_trace_ctx *trace);

/*
** am_llm_agent_new: a prepared gen_ai_agent_name; am_llm_agent_invoked
** records what am_llm_invoke_agent does for it, with no label lookup.
** METHOD: am_llm_pack   THREAD-SAFE: yes (the handle too)   Since: 0.3
**
** p           borrowed; NULL (instrumentation off) gives a NULL handle,
**             which records nothing.
** agent_name  copied.  out: owned result, free with am_llm_agent_free
**             (NULL: no-op) before p.  trace: borrowed, may be NULL.
** Returns AM_OK; AM_ELIMIT (the handle records into the overflow series);
** AM_EINVAL for a NULL argument or, from _invoked, a negative, NaN or
** infinite duration (nothing recorded); AM_ENOMEM.
*/
typedef struct am_llm_agent am_llm_agent;
AM_EXTERN am_err am_llm_agent_new(am_llm_pack *p, const char *agent_name, am_llm_agent **out);
AM_EXTERN void am_llm_agent_free(am_llm_agent *a);
AM_EXTERN am_err am_llm_agent_invoked(am_llm_agent *a, double seconds, const am_trace_ctx *trace);

/* gen_ai_execute_tool_duration_seconds{gen_ai_tool_name}. Since: 0.1 */
AM_EXTERN am_err am_llm_execute_tool(am_llm_pack *p, const char *tool_name, double seconds,
                                     const am_trace_ctx *trace);

/* ---- service: metrics-exposure-story.md --------------------------- */

/* agentos_info{...} = 1 with these pairs (e.g. version, environment). Since: 0.1 */
AM_EXTERN am_err am_service_info(am_registry *r, const am_labels *pairs);

/* ---- worker: prometheus-integration-plan.md (the insa_ metrics) --- */

typedef struct am_worker_pack am_worker_pack;

/*
** insa_worker_health_status{worker_name,agent_type},
** insa_agent_requests_total{agent_type,status},
** insa_agent_request_duration_seconds{agent_type},
** insa_worker_active_requests{agent_type}, insa_worker_queue_size{agent_type},
** insa_agent_messages_total{from_agent,to_agent,message_type},
** insa_agent_handoffs_total{from_agent,to_agent},
** insa_cache_hits_total / insa_cache_misses_total{cache_name},
** insa_cache_evictions_total{cache_name,reason},
** insa_retry_attempts_total{agent_type},
** insa_retry_success_after_attempts{agent_type} (histogram of attempts),
** insa_dead_letter_queue_size{agent_type},
** insa_dlq_replay_attempts_total / insa_dlq_replay_success_total{agent_type},
** insa_database_operation_duration_seconds{operation,table};
** insa_cache_size{cache_name}, insa_database_connections{pool,state},
** insa_database_connections_max{pool},
** insa_database_connection_wait_seconds{pool},
** insa_orchestrator_routing_decisions_total{agent_type,reason},
** insa_parallel_executions_total{agent_type},
** insa_parallel_execution_branches{agent_type} (histogram of branches),
** insa_parallel_execution_duration_seconds{agent_type}.
** The plan's alert rules (HighErrorRate, WorkerUnhealthy, CircuitBreakerOpen,
** DeadLetterQueueGrowing) query these names.
** Since: 0.1
*/
AM_EXTERN am_err am_worker_pack_new(am_registry *r, am_worker_pack **out);
AM_EXTERN void am_worker_pack_free(am_worker_pack *p);

/* insa_worker_health_status{worker_name,agent_type} = 1 or 0. Since: 0.1 */
AM_EXTERN am_err am_worker_health(am_worker_pack *p, const char *worker_name,
                                  const char *agent_type, bool healthy);
/* A request handled by an agent_type worker: status "success" or "error". Since: 0.1 */
AM_EXTERN am_err am_worker_request(am_worker_pack *p, const char *agent_type, bool ok,
                                   double seconds, const am_trace_ctx *trace);
AM_EXTERN am_err am_worker_active_requests(am_worker_pack *p, const char *agent_type, double n);
AM_EXTERN am_err am_worker_queue_size(am_worker_pack *p, const char *agent_type, double n);
AM_EXTERN am_err am_worker_message(am_worker_pack *p, const char *from_agent, const char *to_agent,
                                   const char *message_type);
AM_EXTERN am_err am_worker_handoff(am_worker_pack *p, const char *from_agent, const char *to_agent);
/* A cache lookup in cache_name: a hit or a miss. Since: 0.1 */
AM_EXTERN am_err am_worker_cache(am_worker_pack *p, const char *cache_name, bool hit);
/* An eviction from cache_name, reason "ttl" or "size" (others allowed). Since: 0.1 */
AM_EXTERN am_err am_worker_cache_eviction(am_worker_pack *p, const char *cache_name,
                                          const char *reason);
/*
** A retry: attempt is the attempt number about to run (2 for the first
** retry). am_worker_retry_succeeded: the operation finally succeeded on
** attempt `attempts` (observed in the success-after-N histogram).
** Since: 0.1
*/
AM_EXTERN am_err am_worker_retry(am_worker_pack *p, const char *agent_type);
AM_EXTERN am_err am_worker_retry_succeeded(am_worker_pack *p, const char *agent_type,
                                           unsigned attempts);
AM_EXTERN am_err am_worker_dlq_size(am_worker_pack *p, const char *agent_type, double n);
AM_EXTERN am_err am_worker_dlq_replay(am_worker_pack *p, const char *agent_type, bool ok);
AM_EXTERN am_err am_worker_db_op(am_worker_pack *p, const char *operation, const char *table,
                                 double seconds);

/*
** am_worker_cache_size: insa_cache_size{cache_name} = entries, the entries
** cache_name holds now (the INSA-Cache dashboard's size panel).
** METHOD: am_worker_pack   THREAD-SAFE: yes   Since: 0.2
**
** p           borrowed; NULL records nothing.
** cache_name  copied (as a label value).
** Returns AM_OK; AM_EINVAL for a negative, NaN or infinite count;
** AM_ELIMIT when the family is full (recorded in its overflow series).
*/
AM_EXTERN am_err am_worker_cache_size(am_worker_pack *p, const char *cache_name, double entries);

/*
** am_worker_cache_ref_new: a prepared cache_name. _lookup records what
** am_worker_cache does (a hit or a miss), _size what am_worker_cache_size
** does, with no label lookup (evictions, rarer and by reason, stay with
** am_worker_cache_eviction).
** METHOD: am_worker_pack   THREAD-SAFE: yes (the handle too)   Since: 0.3
**
** p           borrowed; NULL gives a NULL handle, which records nothing.
** cache_name  copied.  out: owned result, free with
**             am_worker_cache_ref_free (NULL: no-op) before p.
** Returns AM_OK; AM_ELIMIT (overflow series); AM_EINVAL for a NULL
** argument or, from _size, a negative, NaN or infinite count (nothing
** recorded); AM_ENOMEM.
*/
typedef struct am_worker_cache_ref am_worker_cache_ref;
AM_EXTERN am_err am_worker_cache_ref_new(am_worker_pack *p, const char *cache_name,
                                         am_worker_cache_ref **out);
AM_EXTERN void am_worker_cache_ref_free(am_worker_cache_ref *c);
AM_EXTERN void am_worker_cache_ref_lookup(am_worker_cache_ref *c, bool hit);
AM_EXTERN am_err am_worker_cache_ref_size(am_worker_cache_ref *c, double entries);

/*
** am_worker_db_pool: the state of the database connection pool `pool`:
** insa_database_connections{pool,state="active"} = active (lent to an
** operation), {state="idle"} = idle (open, waiting), and
** insa_database_connections_max{pool} = max. Call it whenever the pool
** changes, or sample it.
** am_worker_db_wait: an operation waited `seconds` for a connection of
** pool (0 when one was free): insa_database_connection_wait_seconds{pool}.
** METHOD: am_worker_pack   THREAD-SAFE: yes   Since: 0.2
**
** p     borrowed; NULL records nothing.  pool: copied.
** Returns AM_OK; AM_EINVAL for a negative, NaN or infinite number (nothing
** is recorded); AM_ELIMIT as above.
*/
AM_EXTERN am_err am_worker_db_pool(am_worker_pack *p, const char *pool, double active, double idle,
                                   double max);
AM_EXTERN am_err am_worker_db_wait(am_worker_pack *p, const char *pool, double seconds);

/*
** am_worker_route: the orchestrator routed a task to an agent of
** agent_type, for reason (e.g. "least_loaded", "tie", or, when it did not
** route it, "rate_limited", "queue_full"):
** insa_orchestrator_routing_decisions_total{agent_type,reason} += 1.
** METHOD: am_worker_pack   THREAD-SAFE: yes   Since: 0.2
**
** p  borrowed; NULL records nothing.  agent_type, reason: copied.
** Returns AM_OK, or AM_ELIMIT as above.
*/
AM_EXTERN am_err am_worker_route(am_worker_pack *p, const char *agent_type, const char *reason);

/*
** am_worker_parallel: a parallel execution of agent_type finished: it ran
** `branches` branches at once and took `seconds` from its start to its
** last branch's end. insa_parallel_executions_total{agent_type} += 1;
** insa_parallel_execution_branches{agent_type} observes branches and
** insa_parallel_execution_duration_seconds{agent_type} seconds (with the
** trace as exemplar when it is sampled; NULL: the thread's current one).
** METHOD: am_worker_pack   THREAD-SAFE: yes   Since: 0.2
**
** p      borrowed; NULL records nothing.  agent_type: copied.
** trace  borrowed, may be NULL.
** Returns AM_OK; AM_EINVAL for 0 branches or a negative, NaN or infinite
** duration (nothing is recorded); AM_ELIMIT as above.
*/
AM_EXTERN am_err am_worker_parallel(am_worker_pack *p, const char *agent_type, unsigned branches,
                                    double seconds, const am_trace_ctx *trace);

/*
** am_worker_agent_new: a prepared agent_type, whose records take no label
** lookup (an agent's loop keeps one instead of naming its type per call).
** am_worker_agent_request, _active and _retry record what
** am_worker_request, am_worker_active_requests and am_worker_retry do for
** that agent_type, into the same series.
** METHOD: am_worker_pack   THREAD-SAFE: yes (the handle too)   Since: 0.3
**
** p           borrowed; NULL (instrumentation off) gives a NULL handle,
**             whose records do nothing.
** agent_type  copied.  out: owned result, free with am_worker_agent_free
**             (NULL: no-op) before p.  trace: borrowed, may be NULL.
** Returns AM_OK; AM_ELIMIT when a family is full (the handle records into
** its overflow series); AM_EINVAL for a NULL argument; AM_ENOMEM.
** _request: AM_EINVAL for a negative, NaN or infinite duration (nothing
** is recorded).
*/
typedef struct am_worker_agent am_worker_agent;
AM_EXTERN am_err am_worker_agent_new(am_worker_pack *p, const char *agent_type,
                                     am_worker_agent **out);
AM_EXTERN void am_worker_agent_free(am_worker_agent *a);
AM_EXTERN am_err am_worker_agent_request(am_worker_agent *a, bool ok, double seconds,
                                         const am_trace_ctx *trace);
AM_EXTERN void am_worker_agent_active(am_worker_agent *a, double n);
AM_EXTERN void am_worker_agent_retry(am_worker_agent *a);

/*
** am_worker_link_new: a prepared (from_agent, to_agent, message_type).
** am_worker_link_handoff: a task handed from from_agent to to_agent in a
** message of message_type -- am_worker_handoff and am_worker_message in
** one call, with no label lookup.
** METHOD: am_worker_pack   THREAD-SAFE: yes (the handle too)   Since: 0.3
**
** p    borrowed; NULL gives a NULL handle, which records nothing.
** from_agent, to_agent, message_type: copied.  out: owned result, free
** with am_worker_link_free (NULL: no-op) before p.
** Returns AM_OK, AM_ELIMIT (overflow series), AM_EINVAL for a NULL
** argument, or AM_ENOMEM.
*/
typedef struct am_worker_link am_worker_link;
AM_EXTERN am_err am_worker_link_new(am_worker_pack *p, const char *from_agent, const char *to_agent,
                                    const char *message_type, am_worker_link **out);
AM_EXTERN void am_worker_link_free(am_worker_link *l);
AM_EXTERN void am_worker_link_handoff(am_worker_link *l);

/* ---- the catalogue: every metric the library defines ------------ */

/*
** One metric definition of the catalogue: a pack's, the coordinator's, the
** HTTP server's, the library's own (the rows `agentmon metrics list` prints
** and docs/METRICS.md is made from). Every pointer is the library's static
** data, valid for the life of the process. name is the exposed name
** (counters end in _total); buckets NULL means AM_DEFAULT_BUCKETS.
*/
typedef struct am_metric_def_info {
    const char *group; /* "task", "a2a", "messaging", ... */
    const char *name;
    const char *json_name; /* dotted alias in the JSON snapshot, or NULL */
    const char *help;
    const char *unit;   /* OpenMetrics unit, or NULL */
    const char *source; /* the document it comes from */
    am_metric_type type;
    const char *const *labels;
    size_t n_labels;
    const double *buckets;
    size_t n_buckets;
    const char *const *states;
    size_t n_states;
    void *reserved[4];
} am_metric_def_info;

/*
** am_catalog_count / am_catalog_get: the number of definitions, and the
** i-th (0-based, in catalogue order) into *out. For bindings and tools
** that need the exact names, labels and buckets without hard-coding them.
** Returns AM_OK, or AM_EINVAL when i is out of range or out is NULL.
** Thread-safe (read-only data). Since: 0.2
*/
AM_EXTERN size_t am_catalog_count(void);
AM_EXTERN am_err am_catalog_get(size_t i, am_metric_def_info *out);

#ifdef __cplusplus
}
#endif
#endif
