/*
** bench_packs.c: what one instrument-pack call costs on existing series.
**
** WHAT IT MEASURES, AND WHY
**   pack_task_finished         am_task_agent_finished(): a task's duration
**                              and success in one call, prepared agent.
**   pack_task_finished_traced  the same with a sampled trace attached as the
**                              exemplar (hex ids rendered per call).
**   pack_llm_call              am_llm_route_record(): seven series (CCR and
**                              OpenTelemetry GenAI) for one LLM call.
**   pack_handoff               am_worker_handoff(from, to): one labelled
**                              counter, looked up by its two label values.
** The monitoring slice asks for collection overhead < 1 ms per event;
** the target here is < 100 ns.
*/
#define _POSIX_C_SOURCE 200809L

#include "agentmon/agentmon.h"
#include "agentmon/packs.h"
#include "bench.h"

typedef struct pk {
    am_task_agent *agent;
    am_llm_route *route;
    am_worker_pack *worker;
    am_trace_ctx trace;
} pk;

static void loop_task(void *arg, uint64_t n)
{
    pk *p = arg;
    for (uint64_t i = 0; i < n; i++)
        am_task_agent_finished(p->agent, NULL, 0.001 * (double)(i & 1023), NULL);
}

static void loop_task_traced(void *arg, uint64_t n)
{
    pk *p = arg;
    for (uint64_t i = 0; i < n; i++)
        am_task_agent_finished(p->agent, NULL, 0.001 * (double)(i & 1023), &p->trace);
}

static void loop_llm(void *arg, uint64_t n)
{
    pk *p = arg;
    for (uint64_t i = 0; i < n; i++)
        am_llm_route_record(p->route, NULL, 0.5, 800 + (i & 255), 200, NULL);
}

static void loop_handoff(void *arg, uint64_t n)
{
    pk *p = arg;
    for (uint64_t i = 0; i < n; i++)
        am_worker_handoff(p->worker, "planner:1", "coder:1");
}

static void fig(const char *name, bench_loop_fn fn, void *arg)
{
    bench_fig f = {0};
    f.name = name;
    f.unit = "ns/op";
    f.value = bench_best_ns_per_op(fn, arg);
    f.has_target = true;
    f.target = 100;
    bench_emit(&f);
}

void bench_group_packs(void)
{
    am_registry *r;
    am_task_pack *tp;
    am_llm_pack *lp;
    pk p = {0};
    if (am_registry_new(&r) != AM_OK || am_task_pack_new(r, &tp) != AM_OK ||
        am_llm_pack_new(r, &lp) != AM_OK || am_worker_pack_new(r, &p.worker) != AM_OK ||
        am_task_agent_new(tp, "planner:1", &p.agent) != AM_OK ||
        am_llm_route_new(lp, "openai", "gpt-4o", "chat", "planning", &p.route) != AM_OK) {
        bench_emit_error("pack_task_finished", am_errmsg());
        return;
    }
    am_trace_new(&p.trace);
    am_worker_handoff(p.worker, "planner:1", "coder:1"); /* the series exists */
    fig("pack_task_finished", loop_task, &p);
    fig("pack_task_finished_traced", loop_task_traced, &p);
    fig("pack_llm_call", loop_llm, &p);
    fig("pack_handoff", loop_handoff, &p);
    am_task_agent_free(p.agent);
    am_llm_route_free(p.route);
    am_task_pack_free(tp);
    am_llm_pack_free(lp);
    am_worker_pack_free(p.worker);
    am_registry_free(r);
}
