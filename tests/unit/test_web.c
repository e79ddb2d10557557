/*
** test_web.c: the web dashboard's routes and parsers (src/web/): the
** --llm-price parser and the trace-id check with tables of bad inputs, the
** log-line search on awkward text, and the routes over real sockets on an
** am_http with a memory coordinator -- the embedded page and files, the
** description the page reads first, the DLQ actions (credentials, bad
** parameters, a message dead-lettered, listed, replayed, purged) and the
** log route. (The page itself in Chromium: tests/integration/dashboard.sh.)
*/
#include <jansson.h>
#include <unistd.h>

#include "testutil.h"
#include "http_client.h"
#include "util/buf.h"
#include "web/assets.h"
#include "web/dashboard.h"

static void test_prices(void **state)
{
    (void)state;
    am_dashboard d;
    memset(&d, 0, sizeof d);
    AM_ASSERT_OK(am__dashboard_price_add(&d, "openai/gpt-4o=2.5,10"));
    AM_ASSERT_OK(am__dashboard_price_add(&d, "local/*=0,0"));
    AM_ASSERT_OK(am__dashboard_price_add(&d, "a/b/c=1e-3,0.5"));
    AM_ASSERT_EQ(d.n_prices, 3);
    AM_ASSERT_STR_EQ(d.prices[0].provider, "openai");
    AM_ASSERT_STR_EQ(d.prices[0].model, "gpt-4o");
    AM_ASSERT_DBL_EQ(d.prices[0].input, 2.5);
    AM_ASSERT_DBL_EQ(d.prices[0].output, 10);
    AM_ASSERT_STR_EQ(d.prices[2].model, "b/c");
    static const struct {
        const char *spec, *want;
    } BAD[] = {
        {"", "want PROVIDER/MODEL=INPUT,OUTPUT"},
        {"openai", "want PROVIDER/MODEL"},
        {"openai/gpt", "want PROVIDER/MODEL"},
        {"openai/gpt=1", "want PROVIDER/MODEL"},
        {"/gpt=1,2", "must not be empty"},
        {"openai/=1,2", "must not be empty"},
        {"openai/gpt=,2", "input price must be a number"},
        {"openai/gpt=1,", "output price must be a number"},
        {"openai/gpt=x,2", "input price \"x\" is not a number"},
        {"openai/gpt=1,2,3", "output price \"2,3\""},
        {"openai/gpt=-1,2", "not a number in 0..1000000"},
        {"openai/gpt=1,nan", "not a number in 0..1000000"},
        {"openai/gpt=1,inf", "not a number in 0..1000000"},
        {"openai/gpt=1,1e7", "not a number in 0..1000000"},
        {"openai/gpt=1 ,2", "not a number"},
        {"open\"ai/gpt=1,2", "a control character"},
        {"open\\ai/gpt=1,2", "a control character"},
        {"openai/g\npt=1,2", "a control character"},
        {"openai/gpt-4o=1,2", "given twice"},
        {"llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll/m=1,2",
         "must not be empty"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        am_dashboard before = d;
        if (am__dashboard_price_add(&d, BAD[i].spec) != AM_EINVAL)
            fail_msg("\"%s\" accepted", BAD[i].spec);
        if (!strstr(am_errmsg(), BAD[i].want))
            fail_msg("\"%s\": want \"%s\" in \"%s\"", BAD[i].spec, BAD[i].want, am_errmsg());
        assert_memory_equal(&before, &d, sizeof d); /* unchanged */
    }
    AM_ASSERT_ERR(am__dashboard_price_add(&d, NULL), AM_EINVAL);
    /* a full table */
    am_dashboard full;
    memset(&full, 0, sizeof full);
    char spec[64];
    for (int i = 0; i < AM_DASHBOARD_MAX_PRICES; i++) {
        snprintf(spec, sizeof spec, "p/m%d=1,2", i);
        AM_ASSERT_OK(am__dashboard_price_add(&full, spec));
    }
    AM_ASSERT_ERR(am__dashboard_price_add(&full, "p/more=1,2"), AM_ELIMIT);
}

static void test_trace_id(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } T[] = {
        {"0af7651916cd43dd8448eb211c80319c", true},
        {"0AF7651916CD43DD8448EB211C80319C", true},
        {"123e4567-e89b-12d3-a456-426614174000", true},
        {"", false},
        {"0af7651916cd43dd8448eb211c80319", false},
        {"0af7651916cd43dd8448eb211c80319cc", false},
        {"0af7651916cd43dd8448eb211c80319g", false},
        {"123e4567e89b-12d3-a456-4266141740000", false},
        {"123e4567-e89b-12d3-a456_426614174000", false},
        {"\"af7651916cd43dd8448eb211c80319c", false},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (am__trace_id_valid(T[i].s) != T[i].ok)
            fail_msg("\"%s\": %s", T[i].s, T[i].ok ? "refused" : "accepted");
    assert_false(am__trace_id_valid(NULL));
}

static char *filter(const char *text, const char *trace, size_t max)
{
    am_buf b;
    am_buf_init(&b, 0);
    am__logs_filter(text, strlen(text), trace, max, &b);
    json_error_t e;
    json_t *j = json_loadb(b.p, b.len, 0, &e);
    if (!j || !json_is_array(j))
        fail_msg("not a JSON array: %s", b.p);
    json_decref(j);
    size_t len;
    return am_buf_take(&b, &len);
}

static void test_logs_filter(void **state)
{
    (void)state;
    const char *T1 = "0af7651916cd43dd8448eb211c80319c";
    char text[2048];
    snprintf(text, sizeof text,
             "tial line of a tail\"}\n"
             "{\"message\":\"a\",\"trace_id\":\"%s\"}\n"
             "not json at all\n"
             "{\"message\":\"b\"}\r\n"
             "[1,2]\n"
             "\n"
             "{\"message\":\"c\",\"trace_id\":\"%s\",\"x\":\"\\u00e9\"}\n"
             "{\"message\":\"d\",\"trace_id\":\"other\"}\n"
             "{\"message\":\"e\",\"trace_id\":1}\n"
             "{\"message\":\"dup\",\"message\":\"twice\"}\n"
             "{\"message\":\"torn",
             T1, T1);
    char *all = filter(text, NULL, 100);
    AM_ASSERT_STR_EQ(all, "[{\"message\":\"a\",\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\"},"
                          "{\"message\":\"b\"},"
                          "{\"message\":\"c\",\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\","
                          "\"x\":\"\\u00e9\"},"
                          "{\"message\":\"d\",\"trace_id\":\"other\"},"
                          "{\"message\":\"e\",\"trace_id\":1}]");
    free(all);
    char *one = filter(text, T1, 100);
    AM_ASSERT_CONTAINS(one, "\"a\"");
    AM_ASSERT_CONTAINS(one, "\"c\"");
    AM_ASSERT_LACKS(one, "\"d\"");
    free(one);
    char *last = filter(text, T1, 1); /* the newest one only */
    AM_ASSERT_LACKS(last, "\"a\"");
    AM_ASSERT_CONTAINS(last, "\"c\"");
    free(last);
    char *none = filter("", NULL, 10);
    AM_ASSERT_STR_EQ(none, "[]");
    free(none);
    char *nl = filter("\n\n\n", NULL, 10);
    AM_ASSERT_STR_EQ(nl, "[]");
    free(nl);
}

/* ---- the routes, over real sockets -------------------------------- */

typedef struct fx {
    am_http *h;
    am_coord *coord;
    am_dashboard d;
    char base[64], log[64];
} fx;

static const am_http_auth WRITE = {.bearer_token = "w-secret"};

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->log, sizeof f->log, "/tmp/am-web-log-XXXXXX");
    int fd = mkstemp(f->log);
    if (fd < 0)
        return -1;
    const char *lines = "{\"message\":\"x\",\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\"}\n"
                        "{\"message\":\"y\"}\n";
    if (write(fd, lines, strlen(lines)) != (ssize_t)strlen(lines))
        return -1;
    close(fd);
    am_coord_opts co = AM_COORD_OPTS_INIT;
    co.max_attempts = 1;
    if (am_coord_open("memory:", &co, &f->coord))
        return -1;
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.port = 0;
    o.no_builtin_routes = true;
    if (am_http_new(&o, &f->h))
        return -1;
    f->d.title = "test";
    f->d.write_auth = &WRITE;
    f->d.coord = f->coord;
    f->d.log_path = f->log;
    if (am__dashboard_price_add(&f->d, "openai/gpt-4o=2.5,10") ||
        am__dashboard_routes_add(f->h, &f->d) || am_http_listen(f->h))
        return -1;
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", am_http_port(f->h));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    am_http_free(f->h);
    am_coord_close(f->coord);
    unlink(f->log);
    free(f);
    return 0;
}

static reply req(fx *f, const char *method, const char *path, bool auth)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    const char *h[] = {"Authorization: Bearer w-secret", NULL};
    return fetch_n(url, method, auth ? h : NULL, NULL, 0, 0, NULL);
}

static void done(reply *r)
{
    free(r->body);
    free(r->headers);
}

static void expect(fx *f, const char *method, const char *path, bool auth, long status,
                   const char *in_body)
{
    reply r = req(f, method, path, auth);
    if (r.status != status || (in_body && !strstr(r.body, in_body)))
        fail_msg("%s %s: %ld %s (want %ld with \"%s\")", method, path, r.status, r.body, status,
                 in_body ? in_body : "");
    done(&r);
}

static void test_page_and_files(void **state)
{
    fx *f = *state;
    expect(f, "GET", "/", false, 200, "<script src=\"/ui/app.js\"");
    expect(f, "GET", "/ui/app.js", false, 200, "agentmonDashboard");
    expect(f, "GET", "/ui/chart.js", false, 200, "Chart.js");
    expect(f, "GET", "/ui/panels.json", false, 200, "\"pages\"");
    expect(f, "GET", "/ui/nothing.js", false, 404, "no such file");
    expect(f, "GET", "/ui/..%2Fapp.js", false, 404, NULL);
    reply r = req(f, "GET", "/", false);
    AM_ASSERT_CONTAINS(r.headers, "Content-Security-Policy: default-src 'self'");
    AM_ASSERT_CONTAINS(r.headers, "text/html");
    done(&r);
    expect(f, "GET", "/api/v1/dashboard", false, 200,
           "\"title\":\"test\",\"store\":false,\"coordinator\":true,\"logs\":true");
    expect(f, "GET", "/api/v1/dashboard", false, 200,
           "\"prices_are_examples\":false,\"prices\":[{\"provider\":\"openai\",\"model\":"
           "\"gpt-4o\",\"input\":2.5,\"output\":10}]");
    assert_non_null(am__web_asset("index.html"));
    assert_null(am__web_asset("index.htm"));
    assert_null(am__web_asset(NULL));
}

static void test_dlq(void **state)
{
    fx *f = *state;
    /* bad requests change nothing */
    expect(f, "GET", "/api/v1/dlq/coder:1?limit=0", false, 400, "limit");
    expect(f, "GET", "/api/v1/dlq/coder:1?limit=1001", false, 400, "limit");
    expect(f, "GET", "/api/v1/dlq/coder:1?limit=x", false, 400, "limit");
    expect(f, "GET", "/api/v1/dlq/coder:1?limit=", false, 400, "limit");
    char longname[300] = "/api/v1/dlq/";
    memset(longname + 12, 'a', 200);
    expect(f, "GET", longname, false, 400, "agent");
    expect(f, "GET", "/api/v1/dlq/no%20such", false, 400, NULL);
    expect(f, "POST", "/api/v1/dlq/coder:1/replay", false, 401, "credentials");
    expect(f, "POST", "/api/v1/dlq/coder:1/purge", false, 401, "credentials");
    expect(f, "GET", "/api/v1/dlq/coder:1/replay", true, 405, NULL);
    expect(f, "POST", "/api/v1/dlq/coder:1/replay?id=", true, 400, "id");
    expect(f, "GET", "/api/v1/dlq/coder:1", false, 200, "{\"status\":\"success\",\"data\":[]}");
    /* a message dead-lettered */
    AM_ASSERT_OK(am_coord_register(f->coord, "coder:1"));
    am_coord_msg m = AM_COORD_MSG_INIT;
    m.from = "planner:1";
    m.to = "coder:1";
    m.id = "m-1";
    m.type = "code";
    m.payload = "task=1\x01\"";
    m.len = 8;
    AM_ASSERT_OK(am_coord_send(f->coord, &m));
    am_coord_delivery *dv;
    AM_ASSERT_OK(am_coord_receive(f->coord, "coder:1", 10, 0, &dv));
    AM_ASSERT_OK(am_coord_nack(f->coord, dv, true, "bad \"input\""));
    am_coord_delivery_free(dv);
    expect(f, "GET", "/api/v1/dlq/coder:1", false, 200,
           "\"id\":\"m-1\",\"from\":\"planner:1\",\"to\":\"coder:1\",\"type\":\"code\","
           "\"reason\":\"permanent\",\"error\":\"bad "
           "\\\"input\\\"\",\"payload\":\"task=1\\u0001\\\"\"");
    expect(f, "POST", "/api/v1/dlq/coder:1/replay?id=nope", true, 404, NULL);
    expect(f, "POST", "/api/v1/dlq/coder:1/replay?id=m-1", true, 200, "{\"replayed\":1}");
    expect(f, "GET", "/api/v1/dlq/coder:1", false, 200, "\"data\":[]");
    /* back in the queue: received again, dead-lettered again, purged */
    AM_ASSERT_OK(am_coord_receive(f->coord, "coder:1", 10, 0, &dv));
    AM_ASSERT_STR_EQ(dv->id, "m-1");
    AM_ASSERT_OK(am_coord_nack(f->coord, dv, true, NULL));
    am_coord_delivery_free(dv);
    expect(f, "POST", "/api/v1/dlq/coder:1/replay", true, 200, "{\"replayed\":1}");
    AM_ASSERT_OK(am_coord_receive(f->coord, "coder:1", 10, 0, &dv));
    AM_ASSERT_OK(am_coord_nack(f->coord, dv, true, NULL));
    am_coord_delivery_free(dv);
    expect(f, "POST", "/api/v1/dlq/coder:1/purge", true, 200, "{\"purged\":1}");
    expect(f, "GET", "/api/v1/dlq/coder:1", false, 200, "\"data\":[]");
}

static void test_logs_route(void **state)
{
    fx *f = *state;
    expect(f, "GET", "/api/v1/logs", false, 200, "\"data\":[{\"message\":\"x\"");
    expect(f, "GET", "/api/v1/logs?trace_id=0af7651916cd43dd8448eb211c80319c", false, 200,
           "\"data\":[{\"message\":\"x\",\"trace_id\":\"0af7651916cd43dd8448eb211c80319c\"}]}");
    expect(f, "GET", "/api/v1/logs?trace_id=1af7651916cd43dd8448eb211c80319c", false, 200,
           "\"data\":[]}");
    expect(f, "GET", "/api/v1/logs?limit=1", false, 200, "\"data\":[{\"message\":\"y\"}]}");
    expect(f, "GET", "/api/v1/logs?trace_id=x", false, 400, "trace_id");
    expect(f, "GET", "/api/v1/logs?trace_id=", false, 400, "trace_id");
    expect(f, "GET", "/api/v1/logs?limit=0", false, 400, "limit");
    expect(f, "GET", "/api/v1/logs?limit=2001", false, 400, "limit");
    expect(f, "GET", "/api/v1/logs?limit=1e3", false, 400, "limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prices),
        cmocka_unit_test(test_trace_id),
        cmocka_unit_test(test_logs_filter),
        cmocka_unit_test_setup_teardown(test_page_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dlq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_route, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
