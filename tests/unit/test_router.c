/*
** test_router.c: route patterns (good and bad) and matching: literals,
** {params}, "*" tails, order, 404 versus 405 with the allowed methods, and
** paths that are not valid.
*/
#include "testutil.h"
#include "http/router.h"

static void noop(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)resp;
    (void)ud;
}

static void test_bad_patterns(void **state)
{
    (void)state;
    static const struct {
        unsigned methods;
        const char *pattern;
    } bad[] = {
        {AM_HTTP_GET, NULL},
        {AM_HTTP_GET, ""},
        {AM_HTTP_GET, "metrics"},
        {AM_HTTP_GET, "/a//b"},
        {AM_HTTP_GET, "/a/"},
        {AM_HTTP_GET, "/*/a"},
        {AM_HTTP_GET, "/{}"},
        {AM_HTTP_GET, "/{1x}"},
        {AM_HTTP_GET, "/a{b}"},
        {AM_HTTP_GET, "/{a}b}"},
        {AM_HTTP_GET, "/a?b"},
        {AM_HTTP_GET, "/a*"},
        {0, "/a"},
        {0x100, "/a"},
        {AM_HTTP_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        am_route *r = NULL;
        am_err rc = am__route_new(bad[i].methods, bad[i].pattern, &r);
        if (rc != AM_EINVAL)
            fail_msg("pattern %zu (%s) gave %s", i, bad[i].pattern ? bad[i].pattern : "NULL",
                     am_err_name(rc));
        assert_true(strlen(am_errmsg()) > 0);
    }
}

static void add(am_router *rt, unsigned m, const char *p)
{
    am_route *r;
    AM_ASSERT_OK(am__route_new(m, p, &r));
    r->fn = noop;
    AM_ASSERT_OK(am__router_add(rt, r));
}

static void test_match(void **state)
{
    (void)state;
    am_router rt = {0};
    add(&rt, AM_HTTP_GET, "/");
    add(&rt, AM_HTTP_GET, "/metrics");
    add(&rt, AM_HTTP_GET, "/api/v1/metrics/{type}");
    add(&rt, AM_HTTP_POST, "/api/v1/metrics/{type}");
    add(&rt, AM_HTTP_GET, "/api/v1/metrics/{type}/summary");
    add(&rt, AM_HTTP_DELETE, "/static/*");
    add(&rt, AM_HTTP_GET, "/{a}/{b}");

    static const struct {
        unsigned method;
        const char *path;
        int status;
        const char *route;
        const char *param; /* "name=value" of the first parameter */
        unsigned allowed;
    } cases[] = {
        {AM_HTTP_GET, "/", 200, "/", NULL, 0},
        {AM_HTTP_HEAD, "/metrics", 200, "/metrics", NULL, 0},
        {AM_HTTP_GET, "/metrics/", 404, NULL, NULL, 0},
        {AM_HTTP_POST, "/metrics", 405, NULL, NULL, AM_HTTP_GET | AM_HTTP_HEAD},
        {AM_HTTP_GET, "/api/v1/metrics/llm", 200, "/api/v1/metrics/{type}", "type=llm", 0},
        {AM_HTTP_POST, "/api/v1/metrics/task", 200, "/api/v1/metrics/{type}", "type=task", 0},
        {AM_HTTP_PUT, "/api/v1/metrics/task", 405, NULL, NULL,
         AM_HTTP_GET | AM_HTTP_HEAD | AM_HTTP_POST},
        {AM_HTTP_GET, "/api/v1/metrics/task/summary", 200, "/api/v1/metrics/{type}/summary",
         "type=task", 0},
        {AM_HTTP_GET, "/api/v1/metrics/", 404, NULL, NULL, 0},
        {AM_HTTP_GET, "/api/v1/metrics", 404, NULL, NULL, 0},
        {AM_HTTP_DELETE, "/static", 200, "/static/*", NULL, 0},
        {AM_HTTP_DELETE, "/static/a/b/c", 200, "/static/*", NULL, 0},
        {AM_HTTP_GET, "/x/y", 200, "/{a}/{b}", "a=x", 0},
        {AM_HTTP_GET, "/x%2Fy/z", 200, "/{a}/{b}", "a=x%2Fy", 0},
        {0, "/metrics", 405, NULL, NULL, AM_HTTP_GET | AM_HTTP_HEAD},
        {AM_HTTP_GET, "", 400, NULL, NULL, 0},
        {AM_HTTP_GET, "metrics", 400, NULL, NULL, 0},
        {AM_HTTP_GET, "/a b", 400, NULL, NULL, 0},
        {AM_HTTP_GET, "/a\tb", 400, NULL, NULL, 0},
        {AM_HTTP_GET, "/a\x7f", 400, NULL, NULL, 0},
        {AM_HTTP_GET, "/a?b", 400, NULL, NULL, 0},
        {AM_HTTP_GET, "/a/b/c", 404, NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        am_route_match m;
        int st = am__router_match(&rt, cases[i].method, cases[i].path, &m);
        if (st != cases[i].status)
            fail_msg("case %zu (%s): status %d, want %d", i, cases[i].path, st, cases[i].status);
        if (cases[i].route)
            AM_ASSERT_STR_EQ(m.route->pattern, cases[i].route);
        if (st == 405)
            AM_ASSERT_EQ(m.allowed, cases[i].allowed);
        if (cases[i].param) {
            char got[64];
            snprintf(got, sizeof got, "%s=%.*s", m.params[0].name, (int)m.params[0].len,
                     cases[i].path + m.params[0].off);
            AM_ASSERT_STR_EQ(got, cases[i].param);
        }
    }
    AM_ASSERT_EQ(am__http_method_bit("GET"), AM_HTTP_GET);
    AM_ASSERT_EQ(am__http_method_bit("get"), 0);
    AM_ASSERT_EQ(am__http_method_bit("PATCH"), 0);
    am__router_free(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bad_patterns),
                                       cmocka_unit_test(test_match)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
