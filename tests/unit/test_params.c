/*
** test_params.c: query parameters -> store queries, and a table of bad
** parameters each refused with a message that names the parameter.
*/
#include <math.h>

#include "testutil.h"
#include "serve/api/params.h"

#define NOW 1700003600.0

/* "a=1&b=2" split (no decoding: the HTTP layer did that) */
typedef struct kv {
    const char *names[16], *values[16];
    char mem[1024];
    am_params p;
} kv;

static const am_params *params(kv *k, const char *q)
{
    snprintf(k->mem, sizeof k->mem, "%s", q);
    k->p = (am_params){k->names, k->values, 0, NOW};
    char *save, *tok;
    size_t n = 0;
    for (tok = strtok_r(k->mem, "&", &save); tok && n < 16; tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        k->names[n] = tok;
        k->values[n++] = eq ? (*eq = '\0', eq + 1) : "";
    }
    k->p.n = n;
    return &k->p;
}

static void test_select(void **state)
{
    (void)state;
    const am_table *t = am_table_by_api_name("communication");
    kv k;
    am_store_query q;
    am_params_mem mem;
    AM_ASSERT_OK(am__params_select(t, params(&k, ""), &q, &mem));
    assert_true(isnan(q.start) && isnan(q.end));
    AM_ASSERT_EQ(q.limit, AM_PARAMS_DEFAULT_LIMIT);
    am__params_free(&mem);
    AM_ASSERT_OK(am__params_select(
        t,
        params(&k, "start_time=2023-11-14T22:13:20Z&end=1700000100&limit=5&cursor=abc&"
                   "source_agent_id=planner&message_size=12&processing_time=1.5&"
                   "filters={\"target_agent_id\":\"coder\",\"retry_count\":2,\"error_type\":null}"),
        &q, &mem));
    AM_ASSERT_DBL_EQ(q.start, 1700000000);
    AM_ASSERT_DBL_EQ(q.end, 1700000100);
    AM_ASSERT_EQ(q.limit, 5);
    AM_ASSERT_STR_EQ(q.cursor, "abc");
    AM_ASSERT_EQ(q.n_filters, 6);
    AM_ASSERT_STR_EQ(t->cols[q.filters[0].col].name, "source_agent_id");
    AM_ASSERT_STR_EQ(q.filters[0].value, "planner");
    AM_ASSERT_STR_EQ(t->cols[q.filters[3].col].name, "target_agent_id");
    AM_ASSERT_STR_EQ(q.filters[3].value, "coder");
    AM_ASSERT_STR_EQ(q.filters[4].value, "2");
    assert_null(q.filters[5].value); /* null matches SQL NULL */
    am__params_free(&mem);
    /* a time column filter is rewritten as unix seconds */
    AM_ASSERT_OK(am__params_select(t, params(&k, "timestamp=2023-11-14T22:13:20.5Z"), &q, &mem));
    AM_ASSERT_STR_EQ(q.filters[0].value, "1700000000.5");
    am__params_free(&mem);
}

static void test_summary_and_series(void **state)
{
    (void)state;
    const am_table *t = am_table_by_api_name("task");
    kv k;
    am_store_summary s;
    am_params_mem mem;
    AM_ASSERT_OK(am__params_summary(t, params(&k, "group_by=agent_id,status&step=5m"), &s, &mem));
    AM_ASSERT_EQ(s.n_group_by, 2);
    AM_ASSERT_STR_EQ(t->cols[s.group_by[1]].name, "status");
    AM_ASSERT_DBL_EQ(s.step, 300);
    AM_ASSERT_DBL_EQ(s.q.end, NOW);
    AM_ASSERT_DBL_EQ(s.q.start, NOW - 3600);
    am__params_free(&mem);
    AM_ASSERT_OK(am__params_summary(t,
                                    params(&k, "group_by=agent_id&group_by=status&"
                                               "start=1700000000&agent_id=a"),
                                    &s, &mem));
    AM_ASSERT_EQ(s.n_group_by, 2);
    AM_ASSERT_DBL_EQ(s.q.start, 1700000000);
    AM_ASSERT_DBL_EQ(s.step, 60);
    AM_ASSERT_EQ(s.q.n_filters, 1);
    am__params_free(&mem);

    am_store_series r;
    AM_ASSERT_OK(am__params_series(
        params(&k, "match[]=up{job=\"a\\\"b\",instance=\"x\"}&match[]=zone=eu&step=15s"), &r,
        &mem));
    AM_ASSERT_STR_EQ(r.name, "up");
    AM_ASSERT_EQ(r.n_match, 3);
    AM_ASSERT_STR_EQ(r.match_names[0], "job");
    AM_ASSERT_STR_EQ(r.match_values[0], "a\"b");
    AM_ASSERT_STR_EQ(r.match_values[1], "x");
    AM_ASSERT_STR_EQ(r.match_names[2], "zone");
    AM_ASSERT_STR_EQ(r.match_values[2], "eu");
    AM_ASSERT_DBL_EQ(r.step, 15);
    am__params_free(&mem);
    AM_ASSERT_OK(am__params_series(params(&k, "name=up&match[]={}&match[]=up"), &r, &mem));
    AM_ASSERT_EQ(r.n_match, 0);
    am__params_free(&mem);
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        int kind; /* 0 select communication, 1 summary task, 2 series */
        const char *q, *msg;
    } bad[] = {
        {0, "start=yesterday", "start"},
        {0, "start_time=1&start=2", "start: given twice"},
        {0, "end=2023-13-01T00:00:00Z", "end"},
        {0, "start=100&end=50", "end: "},
        {0, "limit=0", "limit"},
        {0, "limit=10001", "limit"},
        {0, "limit=ten", "limit"},
        {0, "limit=5&limit=6", "limit: given twice"},
        {0, "cursor=", "cursor"},
        {0, "cursor=a&cursor=b", "cursor"},
        {0, "colour=red", "colour: not a parameter"},
        {0, "message_size=big", "message_size"},
        {0, "message_size=1.5", "message_size"},
        {0, "processing_time=fast", "processing_time"},
        {0, "processing_time=inf", "processing_time"},
        {0, "timestamp=noon", "timestamp"},
        {0, "source_agent_id=a&source_agent_id=b", "source_agent_id: filtered on twice"},
        {0, "filters=[1]", "filters"},
        {0, "filters={", "filters"},
        {0, "filters={\"nope\":1}", "filters: nope"},
        {0, "filters={\"message_size\":[1]}", "filters"},
        {0, "filters={\"message_size\":\"x\"}", "filters: message_size"},
        {0, "filters={\"a\":1,\"a\":2}", "filters"},
        {0, "step=60", "step: not a parameter"},
        {1, "group_by=message", "group_by"},
        {1, "group_by=duration", "group_by"},
        {1, "group_by=agent_id,agent_id", "group_by: \"agent_id\" given twice"},
        {1, "group_by=", "group_by"},
        {1, "group_by=agent_id,", "group_by"},
        {1, "group_by=,agent_id", "group_by"},
        {1, "group_by=agent_id,status,error_type,session_id,trace_id", "group_by"},
        {1, "step=0", "step"},
        {1, "step=-5", "step"},
        {1, "step=1x", "step"},
        {1, "step=100ms", "step: 0.1s over"},
        {1, "step=60&step=60", "step: given twice"},
        {1, "limit=5", "limit: not a parameter of a summary"},
        {1, "start=1700010000&end=1700000000", "end: "},
        {2, "", "name: missing"},
        {2, "name=1up", "name"},
        {2, "name=up&name=down", "name: given twice"},
        {2, "name=up&match[]=down{}", "names another metric"},
        {2, "match[]=up{job=~\"a\"}", "only label"},
        {2, "match[]=up{job!=\"a\"}", "match[]"},
        {2, "match[]=up{job=a}", "must be quoted"},
        {2, "match[]=up{job=\"a}", "not closed"},
        {2, "match[]=up{job=\"a\\x\"}", "bad escape"},
        {2, "match[]=up{job=\"a\"", "expected , or }"},
        {2, "match[]=up{job=\"a\"}x", "expected , or }"},
        {2, "match[]=up{=\"a\"}", "label name"},
        {2, "match[]=up{9=\"a\"}", "label name"},
        {2, "match[]=job==a", "only label"},
        {2, "match[]=\"job\"=a", "label name"},
        {2, "name=up&step=1ms", "step: "},
        {2, "match[]=______6s", "match[]"}, /* found by fuzz_params */
        {2, "match[]=__up{a=\"b\"}", "match[]"},
        {2, "name=up&query=up", "query: not a parameter"},
        {2, "name=up&start=x", "start"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        kv k;
        am_params_mem mem;
        am_err rc;
        if (bad[i].kind == 0) {
            am_store_query q;
            rc = am__params_select(am_table_by_api_name("communication"), params(&k, bad[i].q), &q,
                                   &mem);
        } else if (bad[i].kind == 1) {
            am_store_summary s;
            rc = am__params_summary(am_table_by_api_name("task"), params(&k, bad[i].q), &s, &mem);
        } else {
            am_store_series r;
            rc = am__params_series(params(&k, bad[i].q), &r, &mem);
        }
        if (rc != AM_EINVAL)
            fail_msg("case %zu \"%s\" gave %s", i, bad[i].q, am_err_name(rc));
        if (!strstr(am_errmsg(), bad[i].msg))
            fail_msg("case %zu \"%s\": message \"%s\" lacks \"%s\"", i, bad[i].q, am_errmsg(),
                     bad[i].msg);
        AM_ASSERT_EQ(mem.n, 0); /* nothing left to free after an error */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_select),
                                       cmocka_unit_test(test_summary_and_series),
                                       cmocka_unit_test(test_bad)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
