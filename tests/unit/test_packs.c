/*
** test_packs.c: the instrument packs -- exact names, labels and buckets of
** the source documents in the exposition, one call per event, prepared
** handles equal to the looked-up calls, exemplars from the trace, refusals
** that record nothing, and every catalogue row registering cleanly.
*/
#include <math.h>

#include "testutil.h"
#include "agentmon/packs.h"
#include "packs/defs.h"

static am_registry *fresh(void)
{
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    return r;
}

static void test_task(void **state)
{
    (void)state;
    am_registry *r = fresh();
    am_task_pack *p, *again;
    AM_ASSERT_OK(am_task_pack_new(r, &p));
    AM_ASSERT_OK(am_task_pack_new(r, &again)); /* the same families */
    AM_ASSERT_OK(am_task_finished(p, "planner:1", NULL, 0.3, NULL));
    AM_ASSERT_OK(am_task_finished(again, "planner:1", "TimeoutError", 12, NULL));
    AM_ASSERT_OK(am_task_queue_depth(p, "planner", 4));
    am_task_agent *a;
    AM_ASSERT_OK(am_task_agent_new(p, "coder:1", &a));
    AM_ASSERT_OK(am_task_agent_finished(a, NULL, 0.01, NULL));
    AM_ASSERT_OK(am_task_agent_finished(a, "ValueError", 0.02, NULL));
    AM_ASSERT_ERR(am_task_agent_finished(a, NULL, -1, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_task_finished(p, "planner:1", NULL, NAN, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_task_finished(p, "bad\xff", NULL, 1, NULL), AM_EINVAL);
    char *t = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(t, "agent_task_duration_seconds_bucket{agent_id=\"planner:1\",status="
                          "\"success\",le=\"0.5\"} 1\n");
    AM_ASSERT_CONTAINS(t, "agent_task_duration_seconds_count{agent_id=\"planner:1\",status="
                          "\"failure\"} 1\n");
    AM_ASSERT_CONTAINS(t, "agent_task_success_total{agent_id=\"planner:1\"} 1\n");
    AM_ASSERT_CONTAINS(t, "agent_task_failure_total{agent_id=\"planner:1\",error_type="
                          "\"TimeoutError\"} 1\n");
    AM_ASSERT_CONTAINS(t, "agent_queue_depth{queue_name=\"planner\"} 4\n");
    AM_ASSERT_CONTAINS(t, "agent_task_success_total{agent_id=\"coder:1\"} 1\n");
    AM_ASSERT_CONTAINS(t, "agent_task_failure_total{agent_id=\"coder:1\",error_type="
                          "\"ValueError\"} 1\n");
    AM_ASSERT_LACKS(t, "bad");
    am_free(t);
    am_task_agent_free(a);
    am_task_pack_free(p);
    am_task_pack_free(again);
    am_registry_free(r);
}

static void test_a2a_cache_rate_service(void **state)
{
    (void)state;
    am_registry *r = fresh();
    am_a2a_pack *a;
    am_cache_pack *c;
    am_rate_pack *rl;
    AM_ASSERT_OK(am_a2a_pack_new(r, &a));
    AM_ASSERT_OK(am_cache_pack_new(r, &c));
    AM_ASSERT_OK(am_rate_pack_new(r, &rl));
    AM_ASSERT_OK(am_a2a_request(a, "navi", "query", true, 0.07, 1200, NULL));
    AM_ASSERT_OK(am_a2a_request(a, "navi", "query", false, 3, -1, NULL));
    AM_ASSERT_ERR(am_a2a_request(a, "navi", "query", true, 1, NAN, NULL), AM_EINVAL);
    AM_ASSERT_OK(am_a2a_active(a, "navi", 1));
    AM_ASSERT_OK(am_a2a_active(a, "navi", 1));
    AM_ASSERT_OK(am_a2a_active(a, "navi", -1));
    am_a2a_target *tg;
    AM_ASSERT_OK(am_a2a_target_new(a, "herald", "run", &tg));
    AM_ASSERT_OK(am_a2a_target_request(tg, true, 0.5, 1024, NULL));
    am_a2a_target_free(tg);
    AM_ASSERT_OK(am_cache_op(c, "get", "hit", 0.002));
    AM_ASSERT_OK(am_cache_op(c, "get", "miss", -1)); /* latency not measured */
    AM_ASSERT_OK(am_rate_decision(rl, "/agents/approval/runs", "ws-1", false));
    AM_ASSERT_OK(am_rate_decision(rl, "/agents/approval/runs", "ws-1", true));
    const char *k[] = {"version", "environment"}, *v[] = {"1.0.0", "production"};
    am_labels pairs = {k, v, 2};
    AM_ASSERT_OK(am_service_info(r, &pairs));
    char *t = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    /* the story's buckets */
    AM_ASSERT_CONTAINS(t, "a2a_request_duration_seconds_bucket{agent=\"navi\",operation=\"query\","
                          "status=\"success\",le=\"0.1\"} 1\n");
    AM_ASSERT_CONTAINS(t, "le=\"2.5\"");
    AM_ASSERT_CONTAINS(t, "a2a_requests_total{agent=\"navi\",operation=\"query\",status=\"error\"} "
                          "1\n");
    AM_ASSERT_CONTAINS(t, "a2a_response_size_bytes_bucket{agent=\"navi\",le=\"5000\"} 1\n");
    AM_ASSERT_CONTAINS(t, "a2a_response_size_bytes_count{agent=\"navi\"} 1\n"); /* -1: unknown */
    AM_ASSERT_CONTAINS(t, "a2a_active_tasks{agent=\"navi\"} 1\n");
    AM_ASSERT_CONTAINS(t,
                       "a2a_requests_total{agent=\"herald\",operation=\"run\",status=\"success\"}"
                       " 1\n");
    AM_ASSERT_CONTAINS(t, "cache_operations_total{operation=\"get\",result=\"miss\"} 1\n");
    AM_ASSERT_CONTAINS(t, "cache_latency_seconds_bucket{operation=\"get\",le=\"0.005\"} 1\n");
    AM_ASSERT_CONTAINS(t, "cache_latency_seconds_count{operation=\"get\"} 1\n");
    AM_ASSERT_CONTAINS(t, "rate_limit_hits_total{endpoint=\"/agents/approval/runs\",workspace_id="
                          "\"ws-1\",result=\"denied\"} 1\n");
    AM_ASSERT_CONTAINS(t, "agentos_info{version=\"1.0.0\",environment=\"production\"} 1\n");
    am_free(t);
    am_a2a_pack_free(a);
    am_cache_pack_free(c);
    am_rate_pack_free(rl);
    am_registry_free(r);
}

static void test_llm(void **state)
{
    (void)state;
    am_registry *r = fresh();
    am_llm_pack *p;
    AM_ASSERT_OK(am_llm_pack_new(r, &p));
    am_llm_call c = AM_LLM_CALL_INIT;
    c.provider = "openai";
    c.model = "gpt-4o";
    c.task_type = "planning";
    c.seconds = 1.2;
    c.input_tokens = 900;
    c.output_tokens = 300;
    AM_ASSERT_OK(am_llm_record(p, &c));
    c.error_type = "RateLimitError";
    c.seconds = 0.05;
    c.input_tokens = 900;
    c.output_tokens = 0;
    AM_ASSERT_OK(am_llm_record(p, &c));
    am_llm_route *route;
    AM_ASSERT_OK(am_llm_route_new(p, "openai", "gpt-4o", NULL, "planning", &route));
    AM_ASSERT_OK(am_llm_route_record(route, NULL, 0.8, 100, 50, NULL));
    AM_ASSERT_ERR(am_llm_route_record(route, NULL, -0.8, 100, 50, NULL), AM_EINVAL);
    AM_ASSERT_OK(am_llm_invoke_agent(p, "planner", 42, NULL));
    AM_ASSERT_OK(am_llm_execute_tool(p, "web_search", 0.3, NULL));
    AM_ASSERT_STR_EQ(AM_GENAI_SEMCONV_VERSION, "1.42");
    char *t = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(t, "ccr_requests_total{provider=\"openai\",task_type=\"planning\",status="
                          "\"success\"} 2\n");
    AM_ASSERT_CONTAINS(t, "ccr_requests_total{provider=\"openai\",task_type=\"planning\",status="
                          "\"error\"} 1\n");
    AM_ASSERT_CONTAINS(t, "ccr_tokens_total{provider=\"openai\",direction=\"input\"} 1900\n");
    AM_ASSERT_CONTAINS(t, "ccr_tokens_total{provider=\"openai\",direction=\"output\"} 350\n");
    AM_ASSERT_CONTAINS(t, "ccr_latency_seconds_bucket{provider=\"openai\",le=\"1\"} 2\n");
    AM_ASSERT_CONTAINS(t, "gen_ai_client_token_usage_bucket{gen_ai_operation_name=\"chat\","
                          "gen_ai_provider_name=\"openai\",gen_ai_token_type=\"input\","
                          "gen_ai_request_model=\"gpt-4o\",le=\"1024\"} 3\n");
    AM_ASSERT_CONTAINS(t, "le=\"6.7108864e+07\"");
    AM_ASSERT_CONTAINS(t,
                       "gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="
                       "\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\","
                       "error_type=\"RateLimitError\"} 1\n");
    AM_ASSERT_CONTAINS(t, "le=\"81.92\"");
    AM_ASSERT_CONTAINS(t, "gen_ai_invoke_agent_duration_seconds_bucket{gen_ai_agent_name="
                          "\"planner\",le=\"51.2\"} 1\n");
    AM_ASSERT_CONTAINS(t, "le=\"409.6\"");
    AM_ASSERT_CONTAINS(t, "gen_ai_execute_tool_duration_seconds_count{gen_ai_tool_name="
                          "\"web_search\"} 1\n");
    am_free(t);
    t = am_test_encode(r, AM_FORMAT_JSON);
    AM_ASSERT_CONTAINS(t, "\"gen_ai.client.token.usage\":{\"name\":\"gen_ai_client_token_usage\"");
    am_free(t);
    am_llm_route_free(route);
    am_llm_pack_free(p);
    am_registry_free(r);
}

static void test_worker(void **state)
{
    (void)state;
    am_registry *r = fresh();
    am_worker_pack *p;
    AM_ASSERT_OK(am_worker_pack_new(r, &p));
    AM_ASSERT_OK(am_worker_health(p, "sizing-1", "sizing_agent", false));
    AM_ASSERT_OK(am_worker_request(p, "sizing_agent", false, 0.4, NULL));
    AM_ASSERT_OK(am_worker_active_requests(p, "sizing_agent", 2));
    AM_ASSERT_OK(am_worker_queue_size(p, "sizing_agent", 7));
    AM_ASSERT_OK(am_worker_message(p, "crm_agent", "sizing_agent", "handoff"));
    AM_ASSERT_OK(am_worker_handoff(p, "crm_agent", "sizing_agent"));
    AM_ASSERT_OK(am_worker_cache(p, "agent_cache", true));
    AM_ASSERT_OK(am_worker_cache(p, "agent_cache", false));
    AM_ASSERT_OK(am_worker_cache_eviction(p, "agent_cache", "ttl"));
    AM_ASSERT_OK(am_worker_retry(p, "sizing_agent"));
    AM_ASSERT_OK(am_worker_retry_succeeded(p, "sizing_agent", 3));
    AM_ASSERT_OK(am_worker_dlq_size(p, "sizing_agent", 11));
    AM_ASSERT_OK(am_worker_dlq_replay(p, "sizing_agent", true));
    AM_ASSERT_OK(am_worker_db_op(p, "select", "leads", 0.004));
    AM_ASSERT_OK(am_worker_cache_size(p, "agent_cache", 42));
    AM_ASSERT_OK(am_worker_db_pool(p, "crm", 3, 1, 4));
    AM_ASSERT_OK(am_worker_db_wait(p, "crm", 0.002));
    AM_ASSERT_OK(am_worker_route(p, "sizing_agent", "least_loaded"));
    AM_ASSERT_OK(am_worker_parallel(p, "orchestrator", 3, 0.8, NULL));
    /* bad values are refused and record nothing */
    AM_ASSERT_ERR(am_worker_cache_size(p, "agent_cache", -1), AM_EINVAL);
    AM_ASSERT_ERR(am_worker_db_pool(p, "crm", 1, NAN, 4), AM_EINVAL);
    AM_ASSERT_ERR(am_worker_db_wait(p, "crm", INFINITY), AM_EINVAL);
    AM_ASSERT_ERR(am_worker_parallel(p, "orchestrator", 0, 0.1, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_worker_parallel(p, "orchestrator", 2, -0.1, NULL), AM_EINVAL);
    char *t = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    /* what the plan's alert rules query */
    AM_ASSERT_CONTAINS(t, "insa_agent_requests_total{agent_type=\"sizing_agent\",status=\"error\"} "
                          "1\n");
    AM_ASSERT_CONTAINS(t, "insa_worker_health_status{worker_name=\"sizing-1\",agent_type="
                          "\"sizing_agent\"} 0\n");
    AM_ASSERT_CONTAINS(t, "insa_dead_letter_queue_size{agent_type=\"sizing_agent\"} 11\n");
    AM_ASSERT_CONTAINS(t, "insa_cache_evictions_total{cache_name=\"agent_cache\",reason=\"ttl\"} "
                          "1\n");
    AM_ASSERT_CONTAINS(t, "insa_retry_success_after_attempts_bucket{agent_type=\"sizing_agent\","
                          "le=\"2\"} 0\n");
    AM_ASSERT_CONTAINS(t, "insa_dlq_replay_success_total{agent_type=\"sizing_agent\"} 1\n");
    /* what the plan's cache, database and orchestrator dashboards query */
    AM_ASSERT_CONTAINS(t, "insa_cache_size{cache_name=\"agent_cache\"} 42\n");
    AM_ASSERT_CONTAINS(t, "insa_database_connections{pool=\"crm\",state=\"active\"} 3\n");
    AM_ASSERT_CONTAINS(t, "insa_database_connections{pool=\"crm\",state=\"idle\"} 1\n");
    AM_ASSERT_CONTAINS(t, "insa_database_connections_max{pool=\"crm\"} 4\n");
    AM_ASSERT_CONTAINS(t, "insa_database_connection_wait_seconds_count{pool=\"crm\"} 1\n");
    AM_ASSERT_CONTAINS(t, "insa_orchestrator_routing_decisions_total{agent_type=\"sizing_agent\","
                          "reason=\"least_loaded\"} 1\n");
    AM_ASSERT_CONTAINS(t, "insa_parallel_executions_total{agent_type=\"orchestrator\"} 1\n");
    AM_ASSERT_CONTAINS(t, "insa_parallel_execution_branches_bucket{agent_type=\"orchestrator\","
                          "le=\"3\"} 1\n");
    AM_ASSERT_CONTAINS(t, "insa_parallel_execution_branches_bucket{agent_type=\"orchestrator\","
                          "le=\"2\"} 0\n");
    AM_ASSERT_CONTAINS(t, "insa_parallel_execution_duration_seconds_sum{agent_type="
                          "\"orchestrator\"} 0.8\n");
    am_free(t);
    am_worker_pack_free(p);
    am_registry_free(r);
}

/* The events of one demo-like agent step or two, through the worker, a2a
   and llm packs of r: by looked-up calls, or by the prepared handles. */
/* Two demo-like agent steps, a failed one then one that succeeds, through
   the worker, a2a and llm packs: by looked-up calls or by the prepared
   handles. The exposition's text. (A handle makes its error and success
   series at once, so the looked-up calls fail first: the same order.) */
static char *record_steps(bool prepared)
{
    am_registry *r = fresh();
    am_worker_pack *w;
    am_a2a_pack *a;
    am_llm_pack *l;
    am_cache_pack *c;
    AM_ASSERT_OK(am_worker_pack_new(r, &w));
    AM_ASSERT_OK(am_a2a_pack_new(r, &a));
    AM_ASSERT_OK(am_llm_pack_new(r, &l));
    AM_ASSERT_OK(am_cache_pack_new(r, &c));
    if (prepared) {
        am_worker_agent *wa;
        am_worker_link *wl;
        am_a2a_target *t;
        am_llm_agent *la;
        am_worker_cache_ref *wc;
        am_cache_result *hit, *miss;
        AM_ASSERT_OK(am_worker_cache_ref_new(w, "research_cache", &wc));
        AM_ASSERT_OK(am_cache_result_new(c, "get", "miss", &miss));
        AM_ASSERT_OK(am_cache_result_new(c, "get", "hit", &hit));
        AM_ASSERT_OK(am_worker_agent_new(w, "coder", &wa));
        AM_ASSERT_OK(am_worker_link_new(w, "coder:1", "reviewer:2", "review", &wl));
        AM_ASSERT_OK(am_a2a_target_new(a, "coder", "code", &t));
        AM_ASSERT_OK(am_llm_agent_new(l, "coder", &la));
        for (int i = 0; i < 2; i++) {
            am_a2a_target_active(t, 1);
            am_worker_agent_active(wa, 1 + i);
            am_worker_link_handoff(wl);
            AM_ASSERT_OK(am_worker_agent_request(wa, i == 1, 0.25 * (i + 1), NULL));
            AM_ASSERT_OK(am_a2a_target_request(t, i == 1, 0.25 * (i + 1), 900, NULL));
            AM_ASSERT_OK(am_llm_agent_invoked(la, 0.25 * (i + 1), NULL));
            am_worker_agent_retry(wa);
            am_a2a_target_active(t, -1);
            am_worker_cache_ref_lookup(wc, i == 1);
            AM_ASSERT_OK(am_worker_cache_ref_size(wc, 3 + i));
            AM_ASSERT_OK(am_cache_result_record(i == 1 ? hit : miss, i == 1 ? 0.002 : -1));
        }
        AM_ASSERT_ERR(am_worker_cache_ref_size(wc, -1), AM_EINVAL);
        AM_ASSERT_ERR(am_cache_result_record(hit, NAN), AM_EINVAL);
        am_worker_cache_ref_free(wc);
        am_cache_result_free(hit);
        am_cache_result_free(miss);
        /* refused like the looked-up calls, and recording nothing */
        AM_ASSERT_ERR(am_worker_agent_request(wa, true, -1, NULL), AM_EINVAL);
        AM_ASSERT_ERR(am_llm_agent_invoked(la, NAN, NULL), AM_EINVAL);
        am_worker_agent_free(wa);
        am_worker_link_free(wl);
        am_a2a_target_free(t);
        am_llm_agent_free(la);
    } else {
        for (int i = 0; i < 2; i++) {
            AM_ASSERT_OK(am_a2a_active(a, "coder", 1));
            AM_ASSERT_OK(am_worker_active_requests(w, "coder", 1 + i));
            AM_ASSERT_OK(am_worker_handoff(w, "coder:1", "reviewer:2"));
            AM_ASSERT_OK(am_worker_message(w, "coder:1", "reviewer:2", "review"));
            AM_ASSERT_OK(am_worker_request(w, "coder", i == 1, 0.25 * (i + 1), NULL));
            AM_ASSERT_OK(am_a2a_request(a, "coder", "code", i == 1, 0.25 * (i + 1), 900, NULL));
            AM_ASSERT_OK(am_llm_invoke_agent(l, "coder", 0.25 * (i + 1), NULL));
            AM_ASSERT_OK(am_worker_retry(w, "coder"));
            AM_ASSERT_OK(am_a2a_active(a, "coder", -1));
            AM_ASSERT_OK(am_worker_cache(w, "research_cache", i == 1));
            AM_ASSERT_OK(am_worker_cache_size(w, "research_cache", 3 + i));
            AM_ASSERT_OK(am_cache_op(c, "get", i == 1 ? "hit" : "miss", i == 1 ? 0.002 : -1));
        }
    }
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    am_worker_pack_free(w);
    am_a2a_pack_free(a);
    am_llm_pack_free(l);
    am_cache_pack_free(c);
    am_registry_free(r);
    return text;
}

/* Prepared worker, link, cache, a2a target and llm agent handles write exactly
   what the looked-up calls write; with NULL packs they are NULL and record
   nothing; NULL arguments are refused. */
static void test_prepared_handles(void **state)
{
    (void)state;
    char *looked_up = record_steps(false), *prepared = record_steps(true);
    AM_ASSERT_STR_EQ(prepared, looked_up);
    AM_ASSERT_CONTAINS(prepared, "insa_agent_handoffs_total{from_agent=\"coder:1\",to_agent="
                                 "\"reviewer:2\"} 2\n");
    AM_ASSERT_CONTAINS(prepared, "insa_agent_requests_total{agent_type=\"coder\",status="
                                 "\"error\"} 1\n");
    AM_ASSERT_CONTAINS(prepared, "insa_retry_attempts_total{agent_type=\"coder\"} 2\n");
    AM_ASSERT_CONTAINS(prepared, "a2a_active_tasks{agent=\"coder\"} 0\n");
    AM_ASSERT_CONTAINS(prepared,
                       "gen_ai_invoke_agent_duration_seconds_sum{gen_ai_agent_name=\"coder\"} "
                       "0.75\n");
    AM_ASSERT_CONTAINS(prepared, "insa_cache_hits_total{cache_name=\"research_cache\"} 1\n");
    AM_ASSERT_CONTAINS(prepared, "insa_cache_size{cache_name=\"research_cache\"} 4\n");
    AM_ASSERT_CONTAINS(prepared, "cache_operations_total{operation=\"get\",result=\"miss\"} 1\n");
    AM_ASSERT_CONTAINS(prepared, "cache_latency_seconds_count{operation=\"get\"} 1\n");
    am_free(looked_up);
    am_free(prepared);

    am_worker_agent *wa = (am_worker_agent *)1;
    am_worker_link *wl = (am_worker_link *)1;
    am_a2a_target *t = (am_a2a_target *)1;
    am_llm_agent *la = (am_llm_agent *)1;
    am_worker_cache_ref *wc = (am_worker_cache_ref *)1;
    am_cache_result *cr = (am_cache_result *)1;
    AM_ASSERT_OK(am_worker_cache_ref_new(NULL, "research_cache", &wc));
    AM_ASSERT_OK(am_cache_result_new(NULL, "get", "hit", &cr));
    assert_null(wc);
    assert_null(cr);
    am_worker_cache_ref_lookup(NULL, true);
    AM_ASSERT_OK(am_worker_cache_ref_size(NULL, 2));
    AM_ASSERT_OK(am_cache_result_record(NULL, 0.1));
    AM_ASSERT_ERR(am_cache_result_new(NULL, "get", NULL, &cr), AM_EINVAL);
    am_worker_cache_ref_free(NULL);
    am_cache_result_free(NULL);
    AM_ASSERT_OK(am_worker_agent_new(NULL, "coder", &wa));
    AM_ASSERT_OK(am_worker_link_new(NULL, "a", "b", "plan", &wl));
    AM_ASSERT_OK(am_a2a_target_new(NULL, "coder", "code", &t));
    AM_ASSERT_OK(am_llm_agent_new(NULL, "coder", &la));
    assert_null(wa);
    assert_null(wl);
    assert_null(t);
    assert_null(la);
    AM_ASSERT_OK(am_worker_agent_request(NULL, true, 0.1, NULL));
    am_worker_agent_active(NULL, 1);
    am_worker_agent_retry(NULL);
    am_worker_link_handoff(NULL);
    am_a2a_target_active(NULL, 1);
    AM_ASSERT_OK(am_llm_agent_invoked(NULL, 0.1, NULL));
    AM_ASSERT_ERR(am_worker_agent_request(NULL, true, INFINITY, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_worker_agent_new(NULL, NULL, &wa), AM_EINVAL);
    AM_ASSERT_ERR(am_worker_link_new(NULL, "a", NULL, "plan", &wl), AM_EINVAL);
    AM_ASSERT_ERR(am_llm_agent_new(NULL, "coder", NULL), AM_EINVAL);
    am_worker_agent_free(NULL);
    am_worker_link_free(NULL);
    am_llm_agent_free(NULL);
}

static void test_trace_exemplars(void **state)
{
    (void)state;
    am_registry *r = fresh();
    am_task_pack *p;
    AM_ASSERT_OK(am_task_pack_new(r, &p));
    am_trace_ctx t;
    am_trace_new(&t);
    char hex[AM_TRACE_ID_HEX + 1];
    am_trace_id_hex(&t, hex);
    AM_ASSERT_OK(am_task_finished(p, "planner:1", NULL, 0.2, &t)); /* explicit */
    am_trace_ctx cur;
    am_trace_new(&cur);
    am_trace_set_current(&cur);
    AM_ASSERT_OK(am_task_finished(p, "planner:1", NULL, 7, NULL)); /* the current one */
    am_trace_clear_current();
    char curhex[AM_TRACE_ID_HEX + 1];
    am_trace_id_hex(&cur, curhex);
    char *s = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(s, hex);
    AM_ASSERT_CONTAINS(s, curhex);
    AM_ASSERT_CONTAINS(s, "le=\"0.25\"} 1 # {trace_id=\"");
    am_free(s);
    am_task_pack_free(p);
    am_registry_free(r);
}

/* NULL packs and handles: every recording call is a no-op (instrumentation
   off), and a bad value is still refused. */
static void test_null_packs_record_nothing(void **state)
{
    (void)state;
    am_llm_call c = AM_LLM_CALL_INIT;
    c.provider = "openai";
    c.model = "gpt-4o";
    c.seconds = 0.5;
    AM_ASSERT_OK(am_task_finished(NULL, "planner:1", NULL, 0.1, NULL));
    AM_ASSERT_OK(am_task_finished(NULL, "planner:1", "Timeout", 0.1, NULL));
    AM_ASSERT_OK(am_task_queue_depth(NULL, "planner:1", 3));
    AM_ASSERT_OK(am_task_agent_finished(NULL, NULL, 0.1, NULL));
    AM_ASSERT_OK(am_a2a_request(NULL, "planner", "plan", true, 0.1, 100, NULL));
    AM_ASSERT_OK(am_a2a_active(NULL, "planner", 1));
    AM_ASSERT_OK(am_a2a_target_request(NULL, true, 0.1, 100, NULL));
    AM_ASSERT_OK(am_cache_op(NULL, "get", "hit", 0.001));
    AM_ASSERT_OK(am_rate_decision(NULL, "/v1/tasks", "ws-1", false));
    AM_ASSERT_OK(am_llm_record(NULL, &c));
    AM_ASSERT_OK(am_llm_route_record(NULL, NULL, 0.5, 10, 20, NULL));
    AM_ASSERT_OK(am_llm_invoke_agent(NULL, "planner", 0.5, NULL));
    AM_ASSERT_OK(am_llm_execute_tool(NULL, "web_search", 0.5, NULL));
    AM_ASSERT_OK(am_worker_request(NULL, "coder", false, 0.2, NULL));
    AM_ASSERT_OK(am_worker_handoff(NULL, "planner:1", "coder:1"));
    AM_ASSERT_OK(am_worker_dlq_replay(NULL, "coder", true));
    AM_ASSERT_OK(am_worker_db_op(NULL, "insert", "results", 0.003));
    AM_ASSERT_OK(am_worker_cache_size(NULL, "research_cache", 3));
    AM_ASSERT_OK(am_worker_db_pool(NULL, "results_db", 1, 1, 2));
    AM_ASSERT_OK(am_worker_db_wait(NULL, "results_db", 0));
    AM_ASSERT_OK(am_worker_route(NULL, "planner", "least_loaded"));
    AM_ASSERT_OK(am_worker_parallel(NULL, "researcher", 2, 0.1, NULL));
    AM_ASSERT_ERR(am_worker_parallel(NULL, "researcher", 0, 0.1, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_task_finished(NULL, "planner:1", NULL, -1, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_llm_route_record(NULL, NULL, NAN, 10, 20, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_llm_record(NULL, NULL), AM_EINVAL);
}

static void test_catalogue_registers(void **state)
{
    (void)state;
    am_registry *r = fresh();
    size_t nt, total = 0;
    const am_def_table *const *t = am__catalog(&nt);
    for (size_t k = 0; k < nt; k++) {
        for (size_t i = 0; i < t[k]->n; i++, total++) {
            const am_metric_def *d = &t[k]->defs[i];
            assert_non_null(d->name);
            assert_non_null(d->help);
            assert_non_null(d->source);
            void *h;
            am_err rc = am__def_register(r, d, &h);
            if (rc)
                fail_msg("%s: %s", d->name, am_errmsg());
        }
    }
    assert_true(total >= 60);
    AM_ASSERT_EQ(am_registry_count(r), total); /* no two rows share a name */
    am_registry_free(r);

    /* The public view: the same rows, in the same order. */
    AM_ASSERT_EQ(am_catalog_count(), total);
    am_metric_def_info info;
    size_t i = 0;
    for (size_t k = 0; k < nt; k++) {
        for (size_t j = 0; j < t[k]->n; j++, i++) {
            AM_ASSERT_OK(am_catalog_get(i, &info));
            AM_ASSERT_STR_EQ(info.name, t[k]->defs[j].name);
            AM_ASSERT_EQ(info.type, t[k]->defs[j].type);
            AM_ASSERT_EQ(info.n_labels, am__def_n_labels(&t[k]->defs[j]));
        }
    }
    AM_ASSERT_OK(am_catalog_get(0, &info));
    AM_ASSERT_STR_EQ(info.name, "agent_task_duration_seconds");
    AM_ASSERT_STR_EQ(info.labels[1], "status");
    AM_ASSERT_EQ(info.n_buckets, 20);
    AM_ASSERT_ERR(am_catalog_get(total, &info), AM_EINVAL);
    AM_ASSERT_ERR(am_catalog_get(0, NULL), AM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task),
        cmocka_unit_test(test_a2a_cache_rate_service),
        cmocka_unit_test(test_llm),
        cmocka_unit_test(test_worker),
        cmocka_unit_test(test_prepared_handles),
        cmocka_unit_test(test_trace_exemplars),
        cmocka_unit_test(test_null_packs_record_nothing),
        cmocka_unit_test(test_catalogue_registers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    am_shutdown();
    return rc;
}
