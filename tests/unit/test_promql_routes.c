/*
** test_promql_routes.c: Prometheus' query API of `agentmon serve`
** (src/serve/api/promql_routes.c) over real sockets: a table of bad
** requests answered as Prometheus answers them (status, errorType, the
** parameter named), 422 past the sample budget, form POSTs, the rules and
** their alerts, label and series lookups (and the store's series still
** behind name=), and reloads -- one that fails answers 500 naming file
** and line and keeps the rules that run; the alert's history.
** (Equality with a real Prometheus is tests/integration/promql_api.sh.)
*/
#include <unistd.h>

#include "testutil.h"
#include "http_client.h"
#include "serve/serve.h"

typedef struct fx {
    char dir[64], uri[128], base[64], rules[128];
    am_serve *s;
} fx;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char RULES[] = "groups:\n"
                            "  - name: g\n"
                            "    rules:\n"
                            "      - record: job:one\n"
                            "        expr: vector(1)\n"
                            "      - alert: AlwaysOn\n"
                            "        expr: vector(7) > 0\n"
                            "        labels: {severity: warning}\n"
                            "        annotations: {summary: 'value {{ $value }}'}\n";

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/am-promql-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->uri, sizeof f->uri, "sqlite:%s/db/agentmon.db", f->dir);
    snprintf(f->rules, sizeof f->rules, "%s/rules.yml", f->dir);
    write_file(f->rules, RULES);
    am_serve_opts o = AM_SERVE_OPTS_INIT;
    o.http_port = 0;
    o.statsd_port = -1;
    o.store_uri = f->uri;
    o.system_interval_s = -1;
    o.rule_files[0] = f->rules;
    o.n_rule_files = 1;
    o.eval_interval_s = 0.05;
    o.query_max_samples = 1000;
    if (am_serve_start(&o, &f->s) != AM_OK) {
        fprintf(stderr, "am_serve_start: %s\n", am_errmsg());
        return -1;
    }
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", am_serve_http_port(f->s));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    am_serve_stop(f->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static reply get(fx *f, const char *path)
{
    char u[4096];
    snprintf(u, sizeof u, "%s%s", f->base, path);
    return fetch(u, "GET", NULL, NULL, 0, NULL);
}

static reply post_form(fx *f, const char *path, const char *body)
{
    char u[4096];
    snprintf(u, sizeof u, "%s%s", f->base, path);
    const char *h[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    return fetch(u, "POST", h, body, 0, NULL);
}

/* Poll until path's answer contains needle (bounded: 10 s). */
static reply wait_for(fx *f, const char *path, const char *needle)
{
    for (int i = 0; i < 200; i++) {
        reply r = get(f, path);
        if (r.body && strstr(r.body, needle))
            return r;
        reply_free(&r);
        usleep(50000);
    }
    fail_msg("%s never had %s", path, needle);
    return (reply){0};
}

static void test_bad_requests(void **state)
{
    fx *f = *state;
    static const struct {
        const char *path;
        long status;
        const char *type, *msg;
    } BAD[] = {
        {"/api/v1/query?query=sum(", 400, "bad_data",
         "invalid parameter \\\"query\\\": 1:5: parse error"},
        {"/api/v1/query", 400, "bad_data", "invalid parameter \\\"query\\\""},
        {"/api/v1/query?query=up&time=yesterday", 400, "bad_data",
         "invalid parameter \\\"time\\\": cannot parse \\\"yesterday\\\" to a valid timestamp"},
        {"/api/v1/query?query=up&timeout=soon", 400, "bad_data",
         "invalid parameter \\\"timeout\\\""},
        {"/api/v1/query?query=x%5B5m:1m%5D", 400, "bad_data", "subqueries"},
        {"/api/v1/query?query=holt_winters(x%5B5m%5D,0.5,0.5)", 400, "bad_data", "holt_winters"},
        {"/api/v1/query_range?query=up&start=x&end=1&step=1", 400, "bad_data",
         "invalid parameter \\\"start\\\""},
        {"/api/v1/query_range?query=up&start=1&end=x&step=1", 400, "bad_data",
         "invalid parameter \\\"end\\\""},
        {"/api/v1/query_range?query=up&start=10&end=5&step=1", 400, "bad_data",
         "end timestamp must not be before start time"},
        {"/api/v1/query_range?query=up&start=1&end=5&step=0", 400, "bad_data",
         "zero or negative query resolution step widths"},
        {"/api/v1/query_range?query=up&start=1&end=5", 400, "bad_data",
         "invalid parameter \\\"step\\\""},
        {"/api/v1/query_range?query=up&start=0&end=100000&step=1", 400, "bad_data",
         "exceeded maximum resolution of 11,000 points"},
        {"/api/v1/query_range?query=%22s%22&start=1&end=5&step=1", 400, "bad_data",
         "invalid expression type \\\"string\\\" for range query"},
        {"/api/v1/labels?match%5B%5D=rate(x%5B5m%5D)", 400, "bad_data",
         "invalid parameter \\\"match[]\\\""},
        {"/api/v1/labels?match%5B%5D=%7Bx%3D~%22.*%22%7D", 400, "bad_data",
         "at least one non-empty matcher"},
        {"/api/v1/label/1x/values", 400, "bad_data", "invalid label name: \\\"1x\\\""},
        {"/api/v1/rules?type=both", 400, "bad_data", "not supported value \\\"both\\\""},
        /* vector(1) over 5000 steps: past the budget of 1000 samples */
        {"/api/v1/query_range?query=vector(1)&start=0&end=5000&step=1", 422, "execution",
         "too many samples"},
        {"/api/v1/query?query=label_replace(vector(1),%221x%22,%22%22,%22a%22,%22%22)", 422,
         "execution", "invalid destination label name"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        reply r = get(f, BAD[i].path);
        if (r.status != BAD[i].status)
            fail_msg("%s: status %ld, expected %ld: %s", BAD[i].path, r.status, BAD[i].status,
                     r.body);
        char want[64];
        snprintf(want, sizeof want, "\"errorType\":\"%s\"", BAD[i].type);
        AM_ASSERT_CONTAINS(r.body, want);
        AM_ASSERT_CONTAINS(r.body, BAD[i].msg);
        reply_free(&r);
    }
}

static void test_queries(void **state)
{
    fx *f = *state;
    reply r = get(f, "/api/v1/query?query=1%2B1&time=100");
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_STR_EQ(r.body, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
                             "\"result\":[100,\"2\"]}}");
    reply_free(&r);
    /* a form POST, as Grafana sends it; the body wins over the URL */
    r = post_form(f, "/api/v1/query?query=3", "query=vector(2)&time=200.5");
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_STR_EQ(r.body, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                             "\"result\":[{\"metric\":{},\"value\":[200.500,\"2\"]}]}}");
    reply_free(&r);
    r = post_form(f, "/api/v1/query_range", "query=time()&start=0&end=120&step=1m");
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_STR_EQ(r.body, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
                             "\"result\":[{\"metric\":{},\"values\":[[0,\"0\"],[60,\"60\"],[120,"
                             "\"120\"]]}]}}");
    reply_free(&r);
    /* the collector's own series are in the window, and the rule's output */
    r = wait_for(f, "/api/v1/query?query=job:one", "\"job:one\"");
    reply_free(&r);
    r = wait_for(f, "/api/v1/label/__name__/values", "agentmon_store_batches_total");
    reply_free(&r);
    r = get(f, "/api/v1/labels?match%5B%5D=job:one");
    AM_ASSERT_STR_EQ(r.body, "{\"status\":\"success\",\"data\":[\"__name__\"]}");
    reply_free(&r);
    /* /api/v1/series stays the store's (docs/SERVE.md) */
    r = get(f, "/api/v1/series?name=nothing_stored");
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_LACKS(r.body, "job:one");
    reply_free(&r);
    r = get(f, "/api/v1/status/buildinfo");
    AM_ASSERT_CONTAINS(r.body, "\"version\":\"2.42.0\"");
    reply_free(&r);
    r = get(f, "/-/ready");
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
}

static void test_rules_alerts_reload(void **state)
{
    fx *f = *state;
    reply r = wait_for(f, "/api/v1/alerts", "\"state\":\"firing\"");
    AM_ASSERT_CONTAINS(r.body, "\"alertname\":\"AlwaysOn\"");
    AM_ASSERT_CONTAINS(r.body, "\"severity\":\"warning\"");
    AM_ASSERT_CONTAINS(r.body, "\"summary\":\"value 7\"");
    AM_ASSERT_CONTAINS(r.body, "\"value\":\"7e+00\"");
    reply_free(&r);
    r = get(f, "/api/v1/rules?type=alert");
    AM_ASSERT_CONTAINS(r.body, "\"name\":\"g\"");
    AM_ASSERT_CONTAINS(r.body, "\"type\":\"alerting\"");
    AM_ASSERT_CONTAINS(r.body, "\"state\":\"firing\"");
    AM_ASSERT_CONTAINS(r.body, "\"health\":\"ok\"");
    AM_ASSERT_LACKS(r.body, "\"type\":\"recording\"");
    reply_free(&r);
    r = get(f, "/api/v1/rules?type=record");
    AM_ASSERT_CONTAINS(r.body, "\"name\":\"job:one\"");
    AM_ASSERT_LACKS(r.body, "\"type\":\"alerting\"");
    reply_free(&r);

    /* the history has the alert's firing, paged as the other row routes */
    r = wait_for(f, "/api/v1/alerts/history?alert_name=AlwaysOn", "\"state\":\"firing\"");
    AM_ASSERT_CONTAINS(r.body, "\"labels\":{\"alertname\":\"AlwaysOn\",\"severity\":\"warning\"}");
    AM_ASSERT_CONTAINS(r.body, "\"annotations\":{\"summary\":\"value 7\"}");
    AM_ASSERT_CONTAINS(r.body, "\"value\":7");
    reply_free(&r);
    r = get(f, "/api/v1/alerts/history?limit=0");
    AM_ASSERT_EQ(r.status, 400);
    AM_ASSERT_CONTAINS(r.body, "limit");
    reply_free(&r);
    r = get(f, "/api/v1/alerts/history?nope=1");
    AM_ASSERT_EQ(r.status, 400);
    reply_free(&r);

    /* a broken file: 500 naming file and line; the rules keep running */
    write_file(f->rules,
               "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: bad(\n");
    r = post_form(f, "/-/reload", "");
    AM_ASSERT_EQ(r.status, 500);
    AM_ASSERT_CONTAINS(r.body, "failed to reload config: ");
    AM_ASSERT_CONTAINS(r.body, "rules.yml: 5:");
    reply_free(&r);
    r = get(f, "/api/v1/rules");
    AM_ASSERT_CONTAINS(r.body, "AlwaysOn");
    reply_free(&r);
    /* a good one replaces them */
    write_file(f->rules, "groups:\n  - name: h\n    rules:\n      - record: two\n        expr: "
                         "vector(2)\n");
    r = post_form(f, "/-/reload", "");
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    r = get(f, "/api/v1/rules");
    AM_ASSERT_LACKS(r.body, "AlwaysOn");
    AM_ASSERT_CONTAINS(r.body, "\"name\":\"two\"");
    reply_free(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rules_alerts_reload, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
