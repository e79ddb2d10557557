/*
** test_results_json.c: the query API's JSON for rows, summaries and
** series, pinned byte for byte by golden files (tests/unit/golden/
** api_select.txt, api_summary.txt, api_series.txt), on SQLite and on a
** throwaway PostgreSQL (store_fixture.h) -- one golden file for both, so the
** two stores answer alike to the byte.
**
** The data are fixed records that reach every corner of the rendering:
** SQL NULL, infinities, NaN samples, 64-bit extremes, escapes and UTF-8
** in text, milliseconds in times, a NULL group, a table without an error
** column, a bucket without values, paging with its cursor, empty results.
** Each golden file holds one "== name" line and the JSON per query.
*/
#include <math.h>
#include <unistd.h>

#include "testutil.h"
#include "store_fixture.h"
#include "serve/api/results_json.h"
#include "serve/store/store.h"

/* ------------------------------------------------------------ records */

typedef struct rec {
    am_table_id table;
    am_value v[40];
} rec;

static rec *rec_new(am_table_id t, const char *id, double ts)
{
    rec *r = calloc(1, sizeof *r);
    r->table = t;
    for (size_t i = 0; i < am_table_get(t)->n_cols; i++)
        r->v[i].is_null = true;
    r->v[0] = (am_value){.v.s = id};
    r->v[1] = (am_value){.v.d = ts};
    return r;
}

static am_value *col(rec *r, const char *name)
{
    int c = am_table_col(am_table_get(r->table), name);
    if (c < 0)
        fail_msg("no column %s", name);
    return &r->v[c];
}

static void s_(rec *r, const char *name, const char *s)
{
    *col(r, name) = (am_value){.v.s = s};
}

static void i_(rec *r, const char *name, int64_t i)
{
    *col(r, name) = (am_value){.v.i = i};
}

static void d_(rec *r, const char *name, double d)
{
    *col(r, name) = (am_value){.v.d = d};
}

static void put(am_store *s, rec **rs, size_t n)
{
    am_record *recs = calloc(n, sizeof *recs);
    for (size_t i = 0; i < n; i++)
        recs[i] = (am_record){rs[i]->table, rs[i]->v};
    sf_put(s, recs, n);
    free(recs);
    for (size_t i = 0; i < n; i++)
        free(rs[i]);
}

#define T0 1700000000.0 /* 2023-11-14T22:13:20Z */

static void fill(am_store *s)
{
    rec *rs[64];
    size_t n = 0;
    rec *r = rs[n++] = rec_new(AM_T_COMMUNICATION, "c-1", T0 + 0.123);
    s_(r, "session_id", "s1");
    s_(r, "source_agent_id", "planner");
    s_(r, "target_agent_id", "coder");
    s_(r, "message_type", "task");
    i_(r, "message_size", 512);
    d_(r, "processing_time", 12.5);
    d_(r, "response_time", 20.25);
    d_(r, "cpu_usage", 3.5);
    d_(r, "memory_usage", 128);
    i_(r, "context_size", 4096);
    d_(r, "context_relevance_score", 0.875);
    i_(r, "error_count", 0);
    i_(r, "retry_count", 0);
    s_(r, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
    r = rs[n++] = rec_new(AM_T_COMMUNICATION, "c-2 \"quoted\"", T0 + 61.5);
    s_(r, "source_agent_id", "coder \"x\"\n\t\\ \xc3\xa9\xe2\x82\xac \x01");
    s_(r, "target_agent_id", "reviewer");
    s_(r, "message_type", "handoff");
    i_(r, "message_size", INT64_MIN);
    d_(r, "processing_time", INFINITY);
    d_(r, "response_time", -INFINITY);
    i_(r, "context_size", INT64_MAX);
    d_(r, "context_relevance_score", 1e-300);
    i_(r, "error_count", 2);
    s_(r, "error_type", "Timeout");
    i_(r, "retry_count", 3);
    r = rs[n++] = rec_new(AM_T_COMMUNICATION, "c-3", T0 + 62);
    s_(r, "target_agent_id", "writer");
    s_(r, "message_type", "task");
    d_(r, "processing_time", 0.1);
    d_(r, "cpu_usage", 1e21);
    i_(r, "error_count", 0);
    r = rs[n++] = rec_new(AM_T_COMMUNICATION, "c-4", T0 + 62);
    s_(r, "source_agent_id", "planner");
    s_(r, "target_agent_id", "coder");
    s_(r, "message_type", "task");
    d_(r, "processing_time", 7);
    i_(r, "error_count", 1);
    r = rs[n++] = rec_new(AM_T_COMMUNICATION, "c-5", T0 + 3600 + 0.999);
    s_(r, "source_agent_id", "planner");
    s_(r, "target_agent_id", "coder");
    s_(r, "message_type", "task");
    i_(r, "error_count", 0);

    r = rs[n++] = rec_new(AM_T_SYSTEM, "sys-1", T0);
    s_(r, "host", "box-1");
    d_(r, "cpu_usage", 42.5);
    d_(r, "memory_usage", 2048);
    d_(r, "disk_usage", 100000.125);
    i_(r, "network_rx_bytes", 123456789012);
    d_(r, "load_1m", 0.01);
    r = rs[n++] = rec_new(AM_T_SYSTEM, "sys-2", T0 + 10);
    s_(r, "host", "box-1");
    r = rs[n++] = rec_new(AM_T_AGENT, "ag-1", T0 + 5);
    s_(r, "agent_id", "coder");
    d_(r, "response_time", 250);
    d_(r, "error_rate", 12.5);
    i_(r, "request_count", 8);
    i_(r, "failure_count", 1);
    s_(r, "session_id", "s2");
    r = rs[n++] = rec_new(AM_T_TASK, "t-1", T0 + 1);
    s_(r, "agent_id", "coder");
    s_(r, "status", "success");
    d_(r, "duration", 1.5);
    r = rs[n++] = rec_new(AM_T_TASK, "t-2", T0 + 2);
    s_(r, "agent_id", "coder");
    s_(r, "status", "failure");
    s_(r, "error_type", "ValueError");
    d_(r, "duration", 0.25);
    r = rs[n++] = rec_new(AM_T_TASK, "t-3", T0 + 3);
    s_(r, "agent_id", "planner");
    s_(r, "status", "success");
    d_(r, "duration", 3);
    r = rs[n++] = rec_new(AM_T_LLM, "l-1", T0 + 4);
    s_(r, "provider", "openai");
    s_(r, "model", "gpt-4o");
    s_(r, "task_type", "code");
    s_(r, "status", "error");
    s_(r, "error_type", "rate_limit");
    i_(r, "input_tokens", 10);
    i_(r, "output_tokens", 3);
    r = rs[n++] = rec_new(AM_T_LLM, "l-2", T0 + 5);
    s_(r, "provider", "anthropic");
    s_(r, "model", "claude");
    s_(r, "status", "success");
    d_(r, "latency", 0.75);

    static const struct {
        const char *name, *labels;
        double ts, v;
        bool is_null;
    } M[] = {
        {"tasks", "{agent=\"a\",job=\"x\"}", T0, 1, false},
        {"tasks", "{agent=\"a\",job=\"x\"}", T0 + 10, 2.5, false},
        {"tasks", "{agent=\"a\",job=\"x\"}", T0 + 20, 0, true},
        {"tasks", "{agent=\"a\",job=\"x\"}", T0 + 30, INFINITY, false},
        {"tasks", "{agent=\"b\",job=\"x\\\"y\\\\z\\n\"}", T0 + 5, -INFINITY, false},
        {"tasks", "{agent=\"b\",job=\"x\\\"y\\\\z\\n\"}", T0 + 15, 1e-7, false},
        {"tasks", "{xagent=\"a\"}", T0 + 7, -3, false},
        {"tasks", "", T0 + 8, 123456789.125, false},
        {"tasks", "{agent=\"\xc3\xa9\"}", T0 + 9, 42, false},
        {"other", "{agent=\"a\"}", T0, 5, false},
    };
    static char ids[sizeof M / sizeof *M][16];
    for (size_t i = 0; i < sizeof M / sizeof *M; i++) {
        snprintf(ids[i], sizeof ids[i], "m-%zu", i);
        r = rs[n++] = rec_new(AM_T_METRIC, ids[i], M[i].ts);
        s_(r, "name", M[i].name);
        s_(r, "type", "gauge");
        s_(r, "labels", M[i].labels);
        s_(r, "source", "event");
        if (!M[i].is_null)
            d_(r, "value", M[i].v);
    }
    put(s, rs, n);
}

/* ------------------------------------------------------------ renderings */

/* A test's store, filled, and the text its renderings gather. */
typedef struct golden {
    am_store *s;
    am_buf all;
} golden;

static void golden_begin(golden *g)
{
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    AM_ASSERT_OK(am_store_open(uri, NULL, &g->s));
    fill(g->s);
    am_buf_init(&g->all, 0);
}

/* Compare what was gathered with the golden file name. */
static void golden_end(golden *g, const char *name)
{
    am_test_golden(name, g->all.p);
    am_buf_free(&g->all);
    am_store_close(g->s);
}

static void add(am_buf *all, const char *name, const char *json)
{
    am_buf_printf(all, "== %s\n%s\n", name, json);
}

static void select_json(am_store *s, am_buf *all, const char *name, const am_store_query *q)
{
    am_buf b;
    am_buf_init(&b, 0);
    size_t n = 0;
    char next[128] = "unset";
    AM_ASSERT_OK(am__json_select(s, q, &b, &n, next));
    add(all, name, b.p);
    am_buf_printf(all, "rows %zu next \"%s\"\n", n, next);
    am_buf_free(&b);
}

static void summary_json(am_store *s, am_buf *all, const char *name, const am_store_summary *q)
{
    am_buf b;
    am_buf_init(&b, 0);
    AM_ASSERT_OK(am__json_summary(s, q, &b));
    add(all, name, b.p);
    am_buf_free(&b);
}

static void series_json(am_store *s, am_buf *all, const char *name, const am_store_series *q)
{
    am_buf b;
    am_buf_init(&b, 0);
    AM_ASSERT_OK(am__json_series(s, q, &b));
    add(all, name, b.p);
    am_buf_free(&b);
}

static am_store_query all_of(am_table_id t)
{
    return (am_store_query){.table = t, .start = NAN, .end = NAN, .limit = 10000};
}

static int colof(am_table_id t, const char *name)
{
    return am_table_col(am_table_get(t), name);
}

static void test_select(void **state)
{
    (void)state;
    golden g;
    golden_begin(&g);
    am_store *s = g.s;
    static const char *const names[] = {"communication", "system", "agent",
                                        "task",          "llm",    "metric"};
    for (int t = 0; t < 6; t++)
        select_json(
            s, &g.all, names[t],
            &(am_store_query){.table = (am_table_id)t, .start = NAN, .end = NAN, .limit = 10000});
    /* paging: two pages of two, then the last */
    am_store_query q = all_of(AM_T_COMMUNICATION);
    q.limit = 2;
    char cursor[128] = "";
    for (int page = 0; page < 3; page++) {
        am_buf b;
        am_buf_init(&b, 0);
        size_t n = 0;
        char next[128];
        q.cursor = cursor;
        AM_ASSERT_OK(am__json_select(s, &q, &b, &n, next));
        add(&g.all, "page", b.p);
        am_buf_printf(&g.all, "rows %zu next \"%s\"\n", n, next);
        am_buf_free(&b);
        snprintf(cursor, sizeof cursor, "%s", next);
    }
    q = all_of(AM_T_COMMUNICATION);
    q.start = T0 + 60;
    q.end = T0 + 3600;
    q.filters[0] = (am_store_filter){colof(AM_T_COMMUNICATION, "source_agent_id"), "planner"};
    q.n_filters = 1;
    select_json(s, &g.all, "filtered", &q);
    q.filters[0] = (am_store_filter){colof(AM_T_COMMUNICATION, "source_agent_id"), NULL};
    select_json(s, &g.all, "null filter", &q);
    q.filters[0] = (am_store_filter){colof(AM_T_COMMUNICATION, "source_agent_id"), "nobody"};
    select_json(s, &g.all, "empty", &q);
    golden_end(&g, "api_select.txt");
}

static void test_summary(void **state)
{
    (void)state;
    golden g;
    golden_begin(&g);
    am_store *s = g.s;
    am_store_summary q = {.q = all_of(AM_T_COMMUNICATION), .step = 60};
    q.q.start = T0 - 3600;
    q.q.end = T0 + 7200;
    q.group_by[0] = colof(AM_T_COMMUNICATION, "source_agent_id");
    q.n_group_by = 1;
    summary_json(s, &g.all, "communication by source, 60 s", &q);
    q.n_group_by = 0;
    q.step = 3600;
    summary_json(s, &g.all, "communication, 1 h", &q);
    q.step = 90;
    summary_json(s, &g.all, "communication, 90 s", &q);
    q.q.filters[0] = (am_store_filter){colof(AM_T_COMMUNICATION, "source_agent_id"), "planner"};
    q.q.n_filters = 1;
    q.step = 60;
    summary_json(s, &g.all, "communication of planner", &q);
    q.q.start = 0;
    q.q.end = 3600;
    summary_json(s, &g.all, "empty", &q);

    am_store_summary sq = {.q = all_of(AM_T_SYSTEM), .step = 60};
    sq.q.start = T0 - 60;
    sq.q.end = T0 + 60;
    sq.group_by[0] = colof(AM_T_SYSTEM, "host");
    sq.n_group_by = 1;
    summary_json(s, &g.all, "system (no error column)", &sq);

    am_store_summary tq = {.q = all_of(AM_T_TASK), .step = 1};
    tq.q.start = T0;
    tq.q.end = T0 + 10;
    tq.group_by[0] = colof(AM_T_TASK, "agent_id");
    tq.group_by[1] = colof(AM_T_TASK, "status");
    tq.n_group_by = 2;
    summary_json(s, &g.all, "task by agent and status", &tq);
    tq.n_group_by = 0;
    tq.step = 600;
    summary_json(s, &g.all, "task", &tq);

    am_store_summary lq = {.q = all_of(AM_T_LLM), .step = 60};
    lq.q.start = T0 - 60;
    lq.q.end = T0 + 60;
    lq.group_by[0] = colof(AM_T_LLM, "provider");
    lq.n_group_by = 1;
    summary_json(s, &g.all, "llm by provider (a bucket without values)", &lq);

    am_store_summary mq = {.q = all_of(AM_T_METRIC), .step = 3600};
    mq.q.start = T0 - 3600;
    mq.q.end = T0 + 3600;
    mq.group_by[0] = colof(AM_T_METRIC, "name");
    mq.n_group_by = 1;
    summary_json(s, &g.all, "metric by name (infinities)", &mq);
    golden_end(&g, "api_summary.txt");
}

static void test_series(void **state)
{
    (void)state;
    golden g;
    golden_begin(&g);
    am_store *s = g.s;
    am_store_series q = {.name = "tasks", .start = T0, .end = T0 + 60};
    series_json(s, &g.all, "tasks", &q);
    q.match_names[0] = "agent";
    q.match_values[0] = "a";
    q.n_match = 1;
    series_json(s, &g.all, "tasks{agent=a}", &q);
    q.step = 7;
    series_json(s, &g.all, "tasks{agent=a}, step 7", &q);
    q.match_values[0] = "b";
    q.start = T0 + 400;
    q.end = T0 + 500;
    q.step = 50;
    series_json(s, &g.all, "past the lookback", &q);
    q.n_match = 0;
    q.name = "nothing";
    series_json(s, &g.all, "empty", &q);
    golden_end(&g, "api_series.txt");
}

static const struct CMUnitTest SUITE[] = {
    cmocka_unit_test(test_select),
    cmocka_unit_test(test_summary),
    cmocka_unit_test(test_series),
};

int main(void)
{
    return sf_run_both("json", SUITE, sizeof SUITE / sizeof *SUITE);
}
