/*
** llm.c: the LLM pack -- one call records an LLM request in the story's
** CCR metrics (metrics-exposure-story.md: requests, latency and tokens per
** provider) and in the OpenTelemetry GenAI metrics (genai.c), so dashboards
** built for either read the same events.
**
** A call moves seven series: ccr_requests_total, ccr_latency_seconds,
** ccr_tokens_total twice (input, output), gen_ai_client_token_usage twice
** and gen_ai_client_operation_duration_seconds. A prepared route resolves
** the seven for success once; a failure's error_type is looked up.
*/
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "../log/trace_internal.h"
#include "genai.h"
#include "pack.h"

enum { CCR_REQUESTS, CCR_LATENCY, CCR_TOKENS, CCR_N };

static const double LATENCY_BUCKETS[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

const am_metric_def am__defs_ccr[] = {
    [CCR_REQUESTS] = {"llm", AM_TYPE_COUNTER, "ccr_requests_total", NULL, "CCR routing requests",
                      NULL, AM_DEF_LABELS("provider", "task_type", "status"), NULL, 0, NULL,
                      "metrics-exposure-story.md"},
    [CCR_LATENCY] = {"llm", AM_TYPE_HISTOGRAM, "ccr_latency_seconds", NULL, "CCR routing latency",
                     "seconds", AM_DEF_LABELS("provider"), LATENCY_BUCKETS, 7, NULL,
                     "metrics-exposure-story.md"},
    [CCR_TOKENS] = {"llm", AM_TYPE_COUNTER, "ccr_tokens_total", NULL, "CCR tokens used", NULL,
                    AM_DEF_LABELS("provider", "direction"), NULL, 0, NULL,
                    "metrics-exposure-story.md"},
};
const am_def_table am__table_ccr = {am__defs_ccr, CCR_N};

struct am_llm_pack {
    am__pack *ccr, *genai;
};

struct am_llm_route {
    am_llm_pack *p;
    am_counter *requests_ok, *tokens_in, *tokens_out;
    am_histogram *latency, *usage_in, *usage_out, *duration_ok;
    const char *provider, *model, *operation, *task_type; /* in strings[] */
    char strings[];
};

am_err am_llm_pack_new(am_registry *r, am_llm_pack **out)
{
    if (!out)
        return am__err(AM_EINVAL, "out pointer is NULL");
    am_llm_pack *p = am__calloc(1, sizeof *p);
    if (!p)
        return am__err(AM_ENOMEM, "out of memory making the LLM pack");
    am_err rc = am__pack_new(r, am__defs_ccr, CCR_N, &p->ccr);
    if (!rc)
        rc = am__pack_new(r, am__defs_genai, GENAI_N, &p->genai);
    if (rc) {
        am_llm_pack_free(p);
        return rc;
    }
    *out = p;
    return AM_OK;
}

void am_llm_pack_free(am_llm_pack *p)
{
    if (!p)
        return;
    am__pack_free(p->ccr);
    am__pack_free(p->genai);
    am__free(p);
}

static am_err check(double seconds)
{
    return am__pack_check(seconds, "LLM call duration");
}

/* The seven series of one call, looked up. */
static am_err record(am_llm_pack *p, const char *provider, const char *model, const char *op,
                     const char *task_type, const char *error_type, double seconds, uint64_t in,
                     uint64_t out, const am_trace_ctx *trace)
{
    if (!p)
        return AM_OK; /* instrumentation off */
    const char *status = error_type ? "error" : "success";
    am_err rc = am__pack_count(p->ccr, CCR_REQUESTS, AM_LABELS(provider, task_type, status), 1);
    if (rc && rc != AM_ELIMIT)
        return rc;
    rc = am__pack_worst(rc,
                        am__pack_observe(p->ccr, CCR_LATENCY, AM_LABELS(provider), seconds, trace));
    rc = am__pack_worst(
        rc, am__pack_count(p->ccr, CCR_TOKENS, AM_LABELS(provider, "input"), (double)in));
    rc = am__pack_worst(
        rc, am__pack_count(p->ccr, CCR_TOKENS, AM_LABELS(provider, "output"), (double)out));
    rc = am__pack_worst(rc, am__pack_observe(p->genai, GENAI_TOKENS,
                                             AM_LABELS(op, provider, "input", model), (double)in,
                                             NULL));
    rc = am__pack_worst(rc, am__pack_observe(p->genai, GENAI_TOKENS,
                                             AM_LABELS(op, provider, "output", model), (double)out,
                                             NULL));
    rc = am__pack_worst(
        rc, am__pack_observe(p->genai, GENAI_DURATION,
                             AM_LABELS(op, provider, model, error_type ? error_type : ""), seconds,
                             trace));
    return rc;
}

am_err am_llm_record(am_llm_pack *p, const am_llm_call *c)
{
    if (!c)
        return am__err(AM_EINVAL, "call is NULL");
    am_err rc = check(c->seconds);
    if (rc)
        return rc;
    return record(p, c->provider, c->model, c->operation ? c->operation : "chat",
                  c->task_type ? c->task_type : "default", c->error_type, c->seconds,
                  c->input_tokens, c->output_tokens, c->trace);
}

am_err am_llm_route_new(am_llm_pack *p, const char *provider, const char *model,
                        const char *operation, const char *task_type, am_llm_route **out)
{
    if (!p || !provider || !model || !out)
        return am__err(AM_EINVAL, "pack, provider, model or out pointer is NULL");
    const char *op = operation ? operation : "chat", *tt = task_type ? task_type : "default";
    size_t lp = strlen(provider) + 1, lm = strlen(model) + 1, lo = strlen(op) + 1,
           lt = strlen(tt) + 1;
    am_llm_route *r = am__calloc(1, sizeof *r + lp + lm + lo + lt);
    if (!r)
        return am__err(AM_ENOMEM, "out of memory preparing an LLM route");
    char *s = r->strings;
    r->provider = memcpy(s, provider, lp);
    r->model = memcpy(s += lp, model, lm);
    r->operation = memcpy(s += lm, op, lo);
    r->task_type = memcpy(s += lo, tt, lt);
    r->p = p;
    am__pack *c = p->ccr, *g = p->genai;
    am_err rc =
        am_counter_with(c->h[CCR_REQUESTS], AM_LABELS(provider, tt, "success"), &r->requests_ok);
#define MORE(call)                                                                                 \
    if (!rc || rc == AM_ELIMIT)                                                                    \
    rc = am__pack_worst(rc, (call))
    MORE(am_histogram_with(c->h[CCR_LATENCY], AM_LABELS(provider), &r->latency));
    MORE(am_counter_with(c->h[CCR_TOKENS], AM_LABELS(provider, "input"), &r->tokens_in));
    MORE(am_counter_with(c->h[CCR_TOKENS], AM_LABELS(provider, "output"), &r->tokens_out));
    MORE(am_histogram_with(g->h[GENAI_TOKENS], AM_LABELS(op, provider, "input", model),
                           &r->usage_in));
    MORE(am_histogram_with(g->h[GENAI_TOKENS], AM_LABELS(op, provider, "output", model),
                           &r->usage_out));
    MORE(am_histogram_with(g->h[GENAI_DURATION], AM_LABELS(op, provider, model, ""),
                           &r->duration_ok));
#undef MORE
    *out = am__pack_keep(r, rc);
    return rc;
}

void am_llm_route_free(am_llm_route *r)
{
    am__free(r);
}

am_err am_llm_route_record(am_llm_route *r, const char *error_type, double seconds,
                           uint64_t input_tokens, uint64_t output_tokens, const am_trace_ctx *trace)
{
    am_err rc = check(seconds);
    if (rc || !r)
        return rc;
    if (error_type)
        return record(r->p, r->provider, r->model, r->operation, r->task_type, error_type, seconds,
                      input_tokens, output_tokens, trace);
    char ex[AM__TRACE_EXEMPLAR_MAX];
    size_t n = am__trace_exemplar(trace, ex); /* rendered once, used twice */
    am_counter_inc(r->requests_ok);
    am__observe_ex(r->latency, seconds, ex, n);
    am_counter_add(r->tokens_in, (double)input_tokens);
    am_counter_add(r->tokens_out, (double)output_tokens);
    am_histogram_observe(r->usage_in, (double)input_tokens);
    am_histogram_observe(r->usage_out, (double)output_tokens);
    am__observe_ex(r->duration_ok, seconds, ex, n);
    return AM_OK;
}

am_err am_llm_invoke_agent(am_llm_pack *p, const char *agent_name, double seconds,
                           const am_trace_ctx *trace)
{
    am_err rc = am__pack_check(seconds, "agent invocation duration");
    return rc || !p ? rc
                    : am__pack_observe(p->genai, GENAI_INVOKE_AGENT, AM_LABELS(agent_name), seconds,
                                       trace);
}

am_err am_llm_execute_tool(am_llm_pack *p, const char *tool_name, double seconds,
                           const am_trace_ctx *trace)
{
    am_err rc = am__pack_check(seconds, "tool execution duration");
    return rc || !p ? rc
                    : am__pack_observe(p->genai, GENAI_EXECUTE_TOOL, AM_LABELS(tool_name), seconds,
                                       trace);
}

/* A prepared gen_ai_agent_name: its one series. */
struct am_llm_agent {
    am_histogram *invoke;
};

am_err am_llm_agent_new(am_llm_pack *p, const char *agent_name, am_llm_agent **out)
{
    if (!agent_name || !out)
        return am__err(AM_EINVAL, "agent_name or out pointer is NULL");
    am_err rc;
    am_llm_agent *a = *out = am__pack_alloc(p, sizeof *a, &rc);
    if (!a)
        return rc;
    a->invoke = am__pack_resolve(p->genai, GENAI_INVOKE_AGENT, AM_LABELS(agent_name), &rc);
    *out = am__pack_keep(a, rc);
    return rc;
}

void am_llm_agent_free(am_llm_agent *a)
{
    am__free(a);
}

am_err am_llm_agent_invoked(am_llm_agent *a, double seconds, const am_trace_ctx *trace)
{
    am_err rc = am__pack_check(seconds, "agent invocation duration");
    if (rc || !a)
        return rc;
    am__observe_traced(a->invoke, seconds, trace);
    return AM_OK;
}
