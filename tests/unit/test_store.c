/*
** test_store.c: the record store (src/serve/store/store.h), one suite run
** unchanged against SQLite and PostgreSQL (store_fixture.h).
**
** Rows, summaries and series are read through the API's renderer
** (results_json.c) and back with jansson, or through the callbacks where
** their contract is the point; summaries are checked against percentiles
** the test computes itself from the values it stored (within the
** histograms' 1%), and read both ways -- from the rollups and from the
** rows -- to the same bytes.
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"
#include "store_fixture.h"
#include "serve/store/labels.h"
#include "serve/api/results_json.h"
#include "serve/store/store.h"
#include "serve/store/store_backend.h"

static am_store *open_store(const char *uri, const am_store_opts *o)
{
    am_store *s = NULL;
    AM_ASSERT_OK(am_store_open(uri, o, &s));
    return s;
}

/* ------------------------------------------------------------ records */

typedef struct comm {
    char id[32], session[16], src[16], dst[16], type[16], err_type[16];
    am_value v[AM_COMM__N];
    am_record r;
} comm;

static void make_comm(comm *c, int i, double ts, const char *src, double ptime, int errors)
{
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "c-%d", i);
    snprintf(c->session, sizeof c->session, "s%d", i % 3);
    snprintf(c->src, sizeof c->src, "%s", src);
    snprintf(c->dst, sizeof c->dst, "agent-%d", i % 4);
    snprintf(c->type, sizeof c->type, "type%d", i % 5);
    snprintf(c->err_type, sizeof c->err_type, "Timeout");
    am_value *v = c->v;
    v[AM_COMM_ID].v.s = c->id;
    v[AM_COMM_TIMESTAMP].v.d = ts;
    v[AM_COMM_SESSION_ID].v.s = c->session;
    v[AM_COMM_SOURCE_AGENT_ID].v.s = c->src;
    v[AM_COMM_TARGET_AGENT_ID].v.s = c->dst;
    v[AM_COMM_MESSAGE_TYPE].v.s = c->type;
    v[AM_COMM_MESSAGE_SIZE].v.i = 100 + i;
    v[AM_COMM_PROCESSING_TIME].v.d = ptime;
    v[AM_COMM_RESPONSE_TIME].v.d = ptime * 2;
    v[AM_COMM_CPU_USAGE].v.d = 0.5;
    v[AM_COMM_MEMORY_USAGE].is_null = true;
    v[AM_COMM_CONTEXT_SIZE].v.i = 4096;
    v[AM_COMM_CONTEXT_RELEVANCE_SCORE].v.d = 0.25;
    v[AM_COMM_ERROR_COUNT].v.i = errors;
    v[AM_COMM_ERROR_TYPE].v.s = errors ? c->err_type : NULL;
    v[AM_COMM_RETRY_COUNT].v.i = 0;
    v[AM_COMM_TRACE_ID].v.s = "4bf92f3577b34da6a3ce929d0e0e4736";
    c->r.table = AM_T_COMMUNICATION;
    c->r.vals = c->v;
}

static void put_comms(am_store *s, comm *cs, size_t n)
{
    am_record *rs = calloc(n, sizeof *rs);
    for (size_t i = 0; i < n; i++)
        rs[i] = cs[i].r;
    sf_put(s, rs, n);
    free(rs);
}

/* n comms, the i-th made at 1000 + i by src, and their records. */
static void make_comms(comm *c, am_record *rs, int n, const char *src)
{
    for (int i = 0; i < n; i++) {
        make_comm(&c[i], i, 1000 + i, src, 1, 0);
        rs[i] = c[i].r;
    }
}

static am_store_query all_query(am_table_id t)
{
    am_store_query q = {.table = t, .start = NAN, .end = NAN, .limit = 10000};
    return q;
}

/* Every row of q (paging through), as one JSON array. */
static json_t *select_all(am_store *s, am_store_query q, size_t *n_pages)
{
    json_t *all = json_array();
    char cursor[128] = "";
    size_t pages = 0;
    for (;;) {
        am_buf b;
        am_buf_init(&b, 0);
        size_t n = 0;
        char next[128];
        q.cursor = cursor;
        AM_ASSERT_OK(am__json_select(s, &q, &b, &n, next));
        json_error_t e;
        json_t *page = json_loads(b.p, 0, &e);
        if (!page)
            fail_msg("not JSON (%s): %.300s", e.text, b.p);
        AM_ASSERT_EQ(json_array_size(page), n);
        json_array_extend(all, page);
        json_decref(page);
        am_buf_free(&b);
        pages++;
        if (!next[0])
            break;
        assert_true(n == q.limit);
        snprintf(cursor, sizeof cursor, "%s", next);
    }
    if (n_pages)
        *n_pages = pages;
    return all;
}

static size_t count_rows(am_store *s, am_table_id t)
{
    json_t *a = select_all(s, all_query(t), NULL);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

/* ------------------------------------------------------------ tests */

static void test_types_and_nulls(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    AM_ASSERT_STR_EQ(am_store_backend(s), sf_is_pg ? "postgres" : "sqlite");
    comm c[3];
    make_comm(&c[0], 0, 1700000000.123, "planner", 12.5, 0);
    make_comm(&c[1], 1, 1700000001.5, "coder \"x\"\n\xc3\xa9", INFINITY, 2);
    make_comm(&c[2], 2, 1700000002, "coder", -INFINITY, 0);
    c[2].v[AM_COMM_PROCESSING_TIME].is_null = true; /* processing_time NULL */
    c[2].v[AM_COMM_MESSAGE_SIZE].v.i = INT64_MIN;
    c[2].v[AM_COMM_CONTEXT_SIZE].v.i = INT64_MAX;
    c[2].v[AM_COMM_SOURCE_AGENT_ID].v.s = NULL; /* NULL text */
    put_comms(s, c, 3);
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.committed, 3);
    assert_true(st.batches >= 1);

    json_t *rows = select_all(s, all_query(AM_T_COMMUNICATION), NULL);
    AM_ASSERT_EQ(json_array_size(rows), 3);
    json_t *r0 = json_array_get(rows, 0), *r1 = json_array_get(rows, 1),
           *r2 = json_array_get(rows, 2);
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(r0, "id")), "c-0");
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(r0, "timestamp")),
                     "2023-11-14T22:13:20.123Z");
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(r1, "timestamp")),
                     "2023-11-14T22:13:21.500Z");
    AM_ASSERT_DBL_EQ(json_number_value(json_object_get(r0, "processing_time")), 12.5);
    AM_ASSERT_EQ(json_integer_value(json_object_get(r0, "message_size")), 100);
    assert_true(json_is_null(json_object_get(r0, "memory_usage")));
    assert_true(json_is_null(json_object_get(r0, "error_type")));
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(r1, "source_agent_id")),
                     "coder \"x\"\n\xc3\xa9");
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(r1, "processing_time")), "+Inf");
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(r1, "error_type")), "Timeout");
    assert_true(json_is_null(json_object_get(r2, "processing_time")));
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(r2, "response_time")), "-Inf");
    assert_true(json_is_null(json_object_get(r2, "source_agent_id")));
    AM_ASSERT_EQ(json_integer_value(json_object_get(r2, "message_size")), INT64_MIN);
    AM_ASSERT_EQ(json_integer_value(json_object_get(r2, "context_size")), INT64_MAX);
    AM_ASSERT_DBL_EQ(json_number_value(json_object_get(r2, "context_relevance_score")), 0.25);
    json_decref(rows);

    /* a resent id is skipped and counted */
    double cpu0 = st.writer_cpu_s;
    put_comms(s, c, 2);
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.duplicates, 2);
    /* the writer's CPU time: spent on the batches, never going back */
    assert_true(cpu0 > 0 && st.writer_cpu_s >= cpu0 && st.writer_cpu_s < 60);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 3);
    am_store_close(s);

    /* reopen keeps the data */
    s = open_store(uri, NULL);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 3);
    am_store_close(s);
}

static size_t count_where(am_store *s, int col, const char *value, double start, double end)
{
    am_store_query q = all_query(AM_T_COMMUNICATION);
    q.start = start;
    q.end = end;
    if (col >= 0) {
        q.filters[0].col = col;
        q.filters[0].value = value;
        q.n_filters = 1;
    }
    json_t *a = select_all(s, q, NULL);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

static void test_filters_and_ranges(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    enum { N = 40 };
    comm c[N];
    for (int i = 0; i < N; i++)
        make_comm(&c[i], i, 1000 + i, i % 2 ? "odd" : "even", i * 0.5, i % 4 == 0);
    put_comms(s, c, N);
    int src = AM_COMM_SOURCE_AGENT_ID;
    AM_ASSERT_EQ(count_where(s, src, "odd", NAN, NAN), 20);
    AM_ASSERT_EQ(count_where(s, src, "nobody", NAN, NAN), 0);
    AM_ASSERT_EQ(count_where(s, AM_COMM_MESSAGE_SIZE, "105", NAN, NAN), 1);
    AM_ASSERT_EQ(count_where(s, AM_COMM_PROCESSING_TIME, "2.5", NAN, NAN), 1);
    AM_ASSERT_EQ(count_where(s, AM_COMM_ERROR_COUNT, "1", NAN, NAN), 10);
    AM_ASSERT_EQ(count_where(s, AM_COMM_ERROR_TYPE, NULL, NAN, NAN), 30);
    AM_ASSERT_EQ(count_where(s, AM_COMM_MEMORY_USAGE, NULL, NAN, NAN), 40);
    AM_ASSERT_EQ(count_where(s, AM_COMM_TIMESTAMP, "1007", NAN, NAN), 1); /* TIME: unix seconds */
    /* ranges: start inclusive, end exclusive */
    AM_ASSERT_EQ(count_where(s, -1, NULL, 1010, 1020), 10);
    AM_ASSERT_EQ(count_where(s, -1, NULL, 1010, NAN), 30);
    AM_ASSERT_EQ(count_where(s, -1, NULL, NAN, 1010), 10);
    AM_ASSERT_EQ(count_where(s, -1, NULL, 1010, 1010), 0);
    AM_ASSERT_EQ(count_where(s, src, "even", 1010, 1020), 5);
    /* two filters */
    am_store_query q = all_query(AM_T_COMMUNICATION);
    q.filters[0] = (am_store_filter){src, "even"};
    q.filters[1] = (am_store_filter){AM_COMM_ERROR_COUNT, "1"};
    q.n_filters = 2;
    json_t *a = select_all(s, q, NULL);
    AM_ASSERT_EQ(json_array_size(a), 10);
    json_decref(a);
    am_store_close(s);
}

static void test_paging(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    enum { N = 2503 };
    comm *c = calloc(N, sizeof *c);
    /* many equal timestamps, and ids stored out of time order */
    for (int i = 0; i < N; i++)
        make_comm(&c[i], i, 5000 + (double)((i * 7) % 50), "a", 1, 0);
    put_comms(s, c, 1000);
    put_comms(s, c + 1000, N - 1000);
    for (size_t limit = 1; limit <= 1000; limit = limit * 10 + 3) {
        am_store_query q = all_query(AM_T_COMMUNICATION);
        q.limit = limit;
        if (limit == 1) {
            q.start = 5010;
            q.end = 5020;
        }
        size_t pages;
        json_t *a = select_all(s, q, &pages);
        size_t want = limit == 1 ? 0 : N;
        if (limit == 1)
            for (int i = 0; i < N; i++)
                want += (i * 7) % 50 >= 10 && (i * 7) % 50 < 20;
        AM_ASSERT_EQ(json_array_size(a), want);
        AM_ASSERT_EQ(pages, want / limit + 1 - (want % limit == 0 && want > 0 ? 1 : 0));
        char *seen = calloc(N, 1);
        const char *prev_ts = "";
        int prev_i = -1;
        for (size_t k = 0; k < json_array_size(a); k++) {
            json_t *r = json_array_get(a, k);
            int i = (int)strtol(json_string_value(json_object_get(r, "id")) + 2, NULL, 10);
            assert_true(i >= 0 && i < N);
            assert_false(seen[i]);
            seen[i] = 1;
            const char *ts = json_string_value(json_object_get(r, "timestamp"));
            int c_ = strcmp(prev_ts, ts);
            assert_true(c_ <= 0);
            if (c_ == 0)
                assert_true(i > prev_i); /* equal timestamps: in storage order */
            prev_ts = ts;
            prev_i = i;
        }
        free(seen);
        json_decref(a);
    }
    free(c);
    am_store_close(s);
}

static void test_bad_input(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    comm c[2];
    make_comm(&c[0], 0, 1000, "a", 1, 0);
    make_comm(&c[1], 1, 1001, "a", 1, 0);
    put_comms(s, c, 2);

    /* records: refused whole, nothing queued */
    struct {
        int col;
        am_value v;
        const char *msg;
    } bad[] = {
        {AM_COMM_PROCESSING_TIME, {.v.d = NAN}, "NaN"},
        {AM_COMM_SOURCE_AGENT_ID, {.v.s = "\xff\xfe"}, "UTF-8"},
        {AM_COMM_ID, {.is_null = true}, "NULL"},
        {AM_COMM_ID, {.v.s = ""}, "empty"},
        {AM_COMM_TIMESTAMP, {.v.d = -1}, "1970..9999"},
        {AM_COMM_TIMESTAMP, {.v.d = INFINITY}, "1970..9999"},
        {AM_COMM_TIMESTAMP, {.v.d = 253402300800.0}, "1970..9999"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        comm b[2];
        make_comm(&b[0], 100, 1000, "a", 1, 0);
        make_comm(&b[1], 101, 1000, "a", 1, 0);
        b[1].v[bad[i].col] = bad[i].v;
        am_record rs[2] = {b[0].r, b[1].r};
        uint64_t t;
        AM_ASSERT_ERR(am_store_submit(s, rs, 2, &t), AM_EINVAL);
        AM_ASSERT_CONTAINS(am_errmsg(), "record 1");
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].msg);
    }
    char *longtext = malloc(AM_STORE_MAX_TEXT + 2);
    memset(longtext, 'x', AM_STORE_MAX_TEXT + 1);
    longtext[AM_STORE_MAX_TEXT + 1] = '\0';
    comm b;
    make_comm(&b, 100, 1000, "a", 1, 0);
    b.v[AM_COMM_SOURCE_AGENT_ID].v.s = longtext;
    uint64_t t;
    AM_ASSERT_ERR(am_store_submit(s, &b.r, 1, &t), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "longer than");
    longtext[AM_STORE_MAX_ID + 1] = '\0';
    make_comm(&b, 100, 1000, "a", 1, 0);
    b.v[AM_COMM_ID].v.s = longtext;
    AM_ASSERT_ERR(am_store_submit(s, &b.r, 1, &t), AM_EINVAL);
    free(longtext);
    AM_ASSERT_ERR(am_store_submit(s, &b.r, 0, &t), AM_EINVAL);
    b.r.table = (am_table_id)99;
    AM_ASSERT_ERR(am_store_submit(s, &b.r, 1, &t), AM_EINVAL);
    AM_ASSERT_ERR(am_store_wait(s, 12345, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_store_wait(s, 0, 0), AM_EINVAL);
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.committed, 2);
    AM_ASSERT_EQ(st.queued, 0);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 2);

    /* queries */
    am_buf out;
    am_buf_init(&out, 0);
    am_buf_puts(&out, "keep");
    size_t n;
    char next[128];
    am_store_query q = all_query(AM_T_COMMUNICATION);
    q.limit = 1;
    AM_ASSERT_OK(am__json_select(s, &q, &out, &n, next));
    assert_true(next[0]);
    char good[128];
    snprintf(good, sizeof good, "%s", next);
    out.len = 4;
    out.p[4] = '\0';
    char altered[128];
    snprintf(altered, sizeof altered, "%s", good);
    altered[20] = altered[20] == '0' ? '1' : '0';
    char upper[128];
    snprintf(upper, sizeof upper, "%s", good);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    const char *bad_cursors[] = {"x",
                                 "0",
                                 altered,
                                 upper,
                                 "zz",
                                 good + 1,
                                 "00000000000000000000000000000000000000000000000g"};
    for (size_t i = 0; i < sizeof bad_cursors / sizeof *bad_cursors; i++) {
        q.cursor = bad_cursors[i];
        if (strcmp(upper, good) == 0 && i == 3)
            continue;
        am_err rc = am__json_select(s, &q, &out, &n, next);
        if (rc != AM_EINVAL)
            fail_msg("cursor \"%s\" gave %s", bad_cursors[i], am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), "cursor");
        AM_ASSERT_STR_EQ(out.p, "keep");
    }
    /* a cursor of another query */
    q.cursor = good;
    q.start = 0;
    AM_ASSERT_ERR(am__json_select(s, &q, &out, &n, next), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "another query");
    q.start = NAN;
    q.filters[0] = (am_store_filter){AM_COMM_SOURCE_AGENT_ID, "a"};
    q.n_filters = 1;
    AM_ASSERT_ERR(am__json_select(s, &q, &out, &n, next), AM_EINVAL);
    q.n_filters = 0;
    /* the same query with another limit keeps paging */
    q.limit = 5;
    AM_ASSERT_OK(am__json_select(s, &q, &out, &n, next));
    AM_ASSERT_EQ(n, 1);
    out.len = 4;
    out.p[4] = '\0';

    q = all_query(AM_T_COMMUNICATION);
    struct {
        int col;
        const char *value;
        const char *msg;
    } badf[] = {
        {99, "x", "no column"},
        {-1, "x", "no column"},
        {AM_COMM_MESSAGE_SIZE, "12x", "integer"},
        {AM_COMM_MESSAGE_SIZE, "", "integer"},
        {AM_COMM_MESSAGE_SIZE, " 1", "integer"},
        {AM_COMM_PROCESSING_TIME, "abc", "number"},
        {AM_COMM_PROCESSING_TIME, "nan", "number"},
        {AM_COMM_TIMESTAMP, "inf", "time"},
        {AM_COMM_MESSAGE_SIZE, "99999999999999999999", "integer"},
        {AM_COMM_SOURCE_AGENT_ID, "\xc3", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof badf / sizeof *badf; i++) {
        q.filters[0] = (am_store_filter){badf[i].col, badf[i].value};
        q.n_filters = 1;
        am_err rc = am__json_select(s, &q, &out, &n, next);
        if (rc != AM_EINVAL)
            fail_msg("filter %d=\"%s\" gave %s", badf[i].col, badf[i].value, am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), badf[i].msg);
    }
    q.n_filters = 0;
    q.limit = 0;
    AM_ASSERT_ERR(am__json_select(s, &q, &out, &n, next), AM_EINVAL);
    q.limit = 10001;
    AM_ASSERT_ERR(am__json_select(s, &q, &out, &n, next), AM_EINVAL);
    q.limit = 10;
    q.start = 10;
    q.end = 5;
    AM_ASSERT_ERR(am__json_select(s, &q, &out, &n, next), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "before start");
    q.start = INFINITY;
    AM_ASSERT_ERR(am__json_select(s, &q, &out, &n, next), AM_EINVAL);
    q.table = (am_table_id)77;
    AM_ASSERT_ERR(am__json_select(s, &q, &out, &n, next), AM_EINVAL);

    am_store_summary sq = {.q = all_query(AM_T_COMMUNICATION), .step = 60};
    AM_ASSERT_ERR(am__json_summary(s, &sq, &out), AM_EINVAL); /* unbounded range */
    sq.q.start = 0;
    sq.q.end = 3600;
    sq.step = 0;
    AM_ASSERT_ERR(am__json_summary(s, &sq, &out), AM_EINVAL);
    sq.step = 0.1;
    AM_ASSERT_ERR(am__json_summary(s, &sq, &out), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "steps");
    sq.step = 60;
    sq.group_by[0] = AM_COMM_MESSAGE_SIZE; /* not a group_by column */
    sq.n_group_by = 1;
    AM_ASSERT_ERR(am__json_summary(s, &sq, &out), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "message_size");
    sq.group_by[0] = AM_COMM_SOURCE_AGENT_ID;
    sq.group_by[1] = AM_COMM_SOURCE_AGENT_ID;
    sq.n_group_by = 2;
    AM_ASSERT_ERR(am__json_summary(s, &sq, &out), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "twice");

    am_store_series se = {.name = "up", .start = 0, .end = 10};
    se.name = "bad name";
    AM_ASSERT_ERR(am__json_series(s, &se, &out), AM_EINVAL);
    se.name = "up";
    se.end = NAN;
    AM_ASSERT_ERR(am__json_series(s, &se, &out), AM_EINVAL);
    se.end = 1e6;
    se.step = 1;
    AM_ASSERT_ERR(am__json_series(s, &se, &out), AM_EINVAL);
    se.step = 0;
    se.match_names[0] = "0bad";
    se.match_values[0] = "x";
    se.n_match = 1;
    AM_ASSERT_ERR(am__json_series(s, &se, &out), AM_EINVAL);
    AM_ASSERT_STR_EQ(out.p, "keep");
    am_buf_free(&out);

    /* bad URIs and options */
    am_store *s2;
    AM_ASSERT_ERR(am_store_open("mysql://x", NULL, &s2), AM_EINVAL);
    AM_ASSERT_ERR(am_store_open("sqlite:", NULL, &s2), AM_EINVAL);
    AM_ASSERT_ERR(am_store_open("sqlite:/tmp/x.db?sync=maybe", NULL, &s2), AM_EINVAL);
    /* in-memory: every connection would see a database of its own */
    AM_ASSERT_ERR(am_store_open("sqlite::memory:", NULL, &s2), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "in-memory");
    AM_ASSERT_ERR(am_store_open("sqlite:file::memory:?cache=shared", NULL, &s2), AM_EINVAL);
    AM_ASSERT_ERR(am_store_open("sqlite::memory:?sync=full", NULL, &s2), AM_EINVAL);
    am_store_opts o = AM_STORE_OPTS_INIT;
    o.batch_window_s = -1;
    AM_ASSERT_ERR(am_store_open(uri, &o, &s2), AM_EINVAL);
    if (sf_is_pg) {
        /* collectors may share a PostgreSQL database (docs/SCALE.md) */
        AM_ASSERT_OK(am_store_open(uri, NULL, &s2));
        am_store_close(s2);
    } else {
        /* one writer per SQLite file */
        AM_ASSERT_ERR(am_store_open(uri, NULL, &s2), AM_EIO);
        AM_ASSERT_CONTAINS(am_errmsg(), "another agentmon store");
    }
    am_store_close(s);
    /* and the first one's close released it */
    s = open_store(uri, NULL);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 2);
    am_store_close(s);
}

static void test_queue_full(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store_opts o = AM_STORE_OPTS_INIT;
    o.max_queued = 100;
    am_store *s = open_store(uri, &o);
    comm *c = calloc(200, sizeof *c);
    am_record rs[200];
    make_comms(c, rs, 200, "a");
    am__store_pause(s, true);
    uint64_t t1, t2;
    AM_ASSERT_OK(am_store_submit(s, rs, 60, &t1));
    AM_ASSERT_ERR(am_store_wait(s, t1, 0.05), AM_ETIMEDOUT);
    AM_ASSERT_ERR(am_store_submit(s, rs + 60, 50, &t2), AM_EFULL);
    AM_ASSERT_CONTAINS(am_errmsg(), "full");
    AM_ASSERT_ERR(am_store_submit(s, rs, 101, &t2), AM_ELIMIT);
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.queued, 60);
    AM_ASSERT_EQ(st.rejected_full, 50);
    AM_ASSERT_OK(am_store_submit(s, rs + 60, 40, &t2)); /* exactly full */
    am__store_pause(s, false);
    AM_ASSERT_OK(am_store_wait(s, t2, 30));
    AM_ASSERT_OK(am_store_wait(s, t1, 0));
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 100);
    /* a batch closes at max_batch: close commits what is queued */
    am__store_pause(s, true);
    AM_ASSERT_OK(am_store_submit(s, rs + 100, 100, &t2));
    am_store_close(s);
    s = open_store(uri, NULL);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 200);
    am_store_close(s);
    free(c);
}

/* Samples may fill only their share of the queue: acknowledged ingest
   always has the rest (issue 10: a sample flood made posts get 503). A
   bad record is found alone by am_store_check. A waiter that gives up
   takes its records back while the writer has not started on them. */
static void test_samples_share_and_cancel(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store_opts o = AM_STORE_OPTS_INIT;
    o.max_queued = 100;
    o.samples_share = 0.4;
    am_store *s = open_store(uri, &o);
    comm *c = calloc(200, sizeof *c);
    am_record rs[200];
    make_comms(c, rs, 200, "a");
    am__store_pause(s, true);
    AM_ASSERT_OK(am_store_submit_samples(s, rs, 30));
    AM_ASSERT_OK(am_store_submit_samples(s, rs + 30, 10));
    AM_ASSERT_ERR(am_store_submit_samples(s, rs + 40, 1), AM_EFULL); /* their 40 are taken */
    AM_ASSERT_CONTAINS(am_errmsg(), "samples");
    uint64_t t1, t2, t3;
    AM_ASSERT_OK(am_store_submit(s, rs + 40, 60, &t1)); /* the rest is ingest's */
    AM_ASSERT_ERR(am_store_submit(s, rs + 100, 1, &t2), AM_EFULL);
    AM_ASSERT_ERR(am_store_submit_samples(s, rs + 100, 1), AM_EFULL);
    /* cancel: a queued ticket comes back and fails for its waiters */
    AM_ASSERT_OK(am_store_cancel(s, t1));
    AM_ASSERT_ERR(am_store_wait(s, t1, 0.01), AM_ETIMEDOUT);
    AM_ASSERT_ERR(am_store_cancel(s, t1 + 5), AM_EINVAL);
    AM_ASSERT_OK(am_store_submit(s, rs + 100, 20, &t2));
    AM_ASSERT_OK(am_store_submit(s, rs + 120, 20, &t3));
    AM_ASSERT_OK(am_store_cancel(s, t2)); /* one from the middle of the queue */
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.queued, 60);
    AM_ASSERT_EQ(st.cancelled, 80);
    am__store_pause(s, false);
    AM_ASSERT_OK(am_store_wait(s, t3, 30));
    AM_ASSERT_ERR(am_store_wait(s, t1, 0), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "cancelled");
    AM_ASSERT_ERR(am_store_wait(s, t2, 0), AM_EIO);
    AM_ASSERT_ERR(am_store_cancel(s, t3), AM_EEXIST);    /* finished: too late */
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 60); /* samples and t3, nothing cancelled */
    /* one bad record, found alone */
    comm bad;
    make_comm(&bad, 500, 1e12, "a", 1, 0); /* past year 9999 */
    AM_ASSERT_ERR(am_store_check(s, &bad.r), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "1970..9999");
    AM_ASSERT_OK(am_store_check(s, &rs[0]));
    am_store_close(s);
    /* the share must be a fraction */
    o.samples_share = 1.5;
    am_store *s2;
    AM_ASSERT_ERR(am_store_open(uri, &o, &s2), AM_EINVAL);
    free(c);
}

/* What am_store_submit_then() told one watch: how often, and rc. */
typedef struct told {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int n;
    am_err rc;
    char msg[128];
} told;

static void tell(void *ud, am_err rc)
{
    told *t = ud;
    pthread_mutex_lock(&t->lock);
    t->n++;
    t->rc = rc;
    snprintf(t->msg, sizeof t->msg, "%s", rc ? am_errmsg() : "");
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->lock);
}

/* Wait until w has been told (at most 30 s: a failure must not hang). */
static am_err told_rc(told *t)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&t->lock);
    while (!t->n && pthread_cond_timedwait(&t->cv, &t->lock, &ts) == 0)
        ;
    int n = t->n;
    am_err rc = t->rc;
    pthread_mutex_unlock(&t->lock);
    if (n != 1)
        fail_msg("the watch was told %d times", n);
    return rc;
}

/* am_store_submit_then: done is called once -- AM_OK after the commit;
   AM_EIO for a cancelled ticket, after am_store_release_waiters(), and
   for what a closing store could not write -- and never when the submit
   itself failed. */
static void test_submit_then(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store_opts o = AM_STORE_OPTS_INIT;
    o.max_queued = 10;
    am_store *s = open_store(uri, &o);
    comm c[12];
    am_record rs[12];
    make_comms(c, rs, 12, "w");
    told t[5];
    for (int i = 0; i < 5; i++)
        t[i] = (told){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, AM_OK, ""};
    am_store_watch w[5];
    AM_ASSERT_ERR(am_store_submit_then(s, rs, 1, &w[0], NULL, &t[0]), AM_EINVAL);
    am__store_pause(s, true);
    AM_ASSERT_OK(am_store_submit_then(s, rs, 2, &w[0], tell, &t[0]));
    AM_ASSERT_OK(am_store_submit_then(s, rs + 2, 2, &w[1], tell, &t[1]));
    AM_ASSERT_ERR(am_store_submit_then(s, rs + 4, 8, &w[2], tell, &t[2]), AM_EFULL);
    AM_ASSERT_OK(am_store_cancel(s, w[0].ticket)); /* told at once: its batch never comes */
    AM_ASSERT_ERR(told_rc(&t[0]), AM_EIO);
    AM_ASSERT_CONTAINS(t[0].msg, "cancelled");
    am__store_pause(s, false);
    AM_ASSERT_OK(told_rc(&t[1]));
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 2);
    AM_ASSERT_EQ(t[2].n, 0);
    /* stopping: the waiters are released, the watches told */
    am__store_pause(s, true);
    AM_ASSERT_OK(am_store_submit_then(s, rs + 4, 2, &w[2], tell, &t[2]));
    am_store_release_waiters(s);
    AM_ASSERT_ERR(told_rc(&t[2]), AM_EIO);
    AM_ASSERT_CONTAINS(t[2].msg, "stopping");
    AM_ASSERT_ERR(am_store_submit_then(s, rs + 6, 2, &w[3], tell, &t[3]), AM_EIO);
    am_store_close(s);
    AM_ASSERT_EQ(t[3].n, 0);
    /* a store that closes while a watch is queued tells it */
    s = open_store(uri, &o);
    am__store_pause(s, true);
    AM_ASSERT_OK(am_store_submit_then(s, rs + 8, 2, &w[4], tell, &t[4]));
    am_store_close(s);
    AM_ASSERT_EQ(t[4].n, 1);
}

typedef struct submitter {
    am_store *s;
    int base, n;
} submitter;

static void *submit_thread(void *arg)
{
    submitter *w = arg;
    for (int i = 0; i < w->n; i++) {
        comm c;
        make_comm(&c, w->base + i, 2000 + i, "t", 1, 0);
        uint64_t t;
        if (am_store_submit(w->s, &c.r, 1, &t) || am_store_wait(w->s, t, 30))
            return (void *)1;
    }
    return NULL;
}

static void test_group_commit(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    enum { THREADS = 4, EACH = 200 };
    pthread_t th[THREADS];
    submitter w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (submitter){s, i * EACH, EACH};
        pthread_create(&th[i], NULL, submit_thread, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.committed, THREADS * EACH);
    /* waiting submitters share batches */
    assert_true(st.batches < THREADS * EACH);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), THREADS * EACH);
    am_store_close(s);
}

/* ------------------------------------------------------------ summaries */

static double nearest_rank(double *v, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n - 1e-9);
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *summary_text(am_store *s, const am_store_summary *q)
{
    am_buf b;
    am_buf_init(&b, 0);
    AM_ASSERT_OK(am__json_summary(s, q, &b));
    return am_buf_take(&b, NULL);
}

/* The summary from rollups is the summary from rows, to the byte. */
static void check_both_ways(am_store *s, const am_store_summary *q, bool expect_rollups)
{
    am_store_stats st0, st1;
    am_store_get_stats(s, &st0);
    char *a = summary_text(s, q);
    am_store_get_stats(s, &st1);
    if (expect_rollups)
        assert_true(st1.rollup_rows_read > st0.rollup_rows_read);
    else
        AM_ASSERT_EQ(st1.rollup_rows_read, st0.rollup_rows_read);
    am__store_read_rollups(s, false);
    char *b = summary_text(s, q);
    am__store_read_rollups(s, true);
    AM_ASSERT_STR_EQ(a, b);
    am_free(a);
    am_free(b);
}

static json_t *summarize(am_store *s, const am_store_summary *q)
{
    am_buf b;
    am_buf_init(&b, 0);
    AM_ASSERT_OK(am__json_summary(s, q, &b));
    json_error_t e;
    json_t *j = json_loads(b.p, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %.300s", e.text, b.p);
    am_buf_free(&b);
    return j;
}

/* The counts of every point of a summary's groups, added up. */
static int64_t points_count(json_t *groups)
{
    int64_t total = 0;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        json_t *pts = json_object_get(json_array_get(groups, g), "points");
        for (size_t k = 0; k < json_array_size(pts); k++)
            total += json_integer_value(json_object_get(json_array_get(pts, k), "count"));
    }
    return total;
}

static void check_close(double got, double want)
{
    if (!(fabs(got - want) <= fabs(want) * 0.01))
        fail_msg("got %.17g, expected %.17g (within 1%%)", got, want);
}

static void test_summary(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    enum { N = 3000 };
    const double t0 = 1700000000; /* a multiple of 3600 + 800 */
    const char *agents[] = {"b-agent", "a-agent", NULL};
    comm *c = calloc(N, sizeof *c);
    srand(7);
    for (int i = 0; i < N; i++) {
        double ts = t0 + (i % 600) * 1.0 + 0.25; /* 10 minutes */
        double v = exp((rand() % 10000) / 1000.0);
        make_comm(&c[i], i, ts, agents[i % 3] ? agents[i % 3] : "x", v, i % 7 == 0);
        if (!agents[i % 3])
            c[i].v[AM_COMM_SOURCE_AGENT_ID].is_null = true;
        if (i % 11 == 0)
            c[i].v[AM_COMM_PROCESSING_TIME].is_null =
                true; /* no value: counted, not in percentiles */
    }
    put_comms(s, c, N);
    int src = AM_COMM_SOURCE_AGENT_ID;
    am_store_summary q = {.q = all_query(AM_T_COMMUNICATION), .step = 60};
    q.q.start = t0 - 3600;
    q.q.end = t0 + 3600;
    q.group_by[0] = src;
    q.n_group_by = 1;
    json_t *j = summarize(s, &q);
    AM_ASSERT_DBL_EQ(json_number_value(json_object_get(j, "step")), 60);
    json_t *groups = json_object_get(j, "groups");
    AM_ASSERT_EQ(json_array_size(groups), 3);
    /* NULL first, then ascending */
    assert_true(json_is_null(
        json_object_get(json_object_get(json_array_get(groups, 0), "group"), "source_agent_id")));
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(
                         json_object_get(json_array_get(groups, 1), "group"), "source_agent_id")),
                     "a-agent");
    for (size_t g = 0; g < 3; g++) {
        json_t *grp = json_array_get(groups, g);
        json_t *gv = json_object_get(json_object_get(grp, "group"), "source_agent_id");
        int which = json_is_null(gv) ? 2 : strcmp(json_string_value(gv), "b-agent") == 0 ? 0 : 1;
        json_t *pts = json_object_get(grp, "points");
        /* t0 = ...13:20: the 10 minutes span 11 minute buckets */
        AM_ASSERT_EQ(json_array_size(pts), 11);
        for (size_t k = 0; k < json_array_size(pts); k++) {
            json_t *p = json_array_get(pts, k);
            const char *ts = json_string_value(json_object_get(p, "t"));
            AM_ASSERT_STR_EQ(ts + 16, ":00.000Z"); /* aligned to minutes */
            /* expected values from the records */
            double b0 = floor(t0 / 60) * 60 + 60.0 * (double)k;
            double vals[N];
            size_t nv = 0, cnt = 0, errs = 0;
            for (int i = 0; i < N; i++) {
                if (i % 3 != which || c[i].v[AM_COMM_TIMESTAMP].v.d < b0 ||
                    c[i].v[AM_COMM_TIMESTAMP].v.d >= b0 + 60)
                    continue;
                cnt++;
                errs += i % 7 == 0;
                if (!c[i].v[AM_COMM_PROCESSING_TIME].is_null)
                    vals[nv++] = c[i].v[AM_COMM_PROCESSING_TIME].v.d;
            }
            qsort(vals, nv, sizeof *vals, cmp_d);
            AM_ASSERT_EQ(json_integer_value(json_object_get(p, "count")), cnt);
            check_close(json_number_value(json_object_get(p, "error_rate")),
                        (double)errs / (double)cnt);
            check_close(json_number_value(json_object_get(p, "p50")), nearest_rank(vals, nv, 0.5));
            check_close(json_number_value(json_object_get(p, "p95")), nearest_rank(vals, nv, 0.95));
            check_close(json_number_value(json_object_get(p, "p99")), nearest_rank(vals, nv, 0.99));
        }
    }
    json_decref(j);
    check_both_ways(s, &q, true);
    /* resent records change nothing */
    char *before = summary_text(s, &q);
    put_comms(s, c, 100);
    char *after = summary_text(s, &q);
    AM_ASSERT_STR_EQ(before, after);
    am_free(before);
    am_free(after);
    /* hour rollups, minute rollups and rows at the ragged ends */
    am_store_summary h = q;
    h.step = 3600;
    h.q.start = t0 - 7200 + 0.5;
    h.q.end = t0 + 450.25;
    check_both_ways(s, &h, true);
    h.q.filters[0] = (am_store_filter){src, "a-agent"};
    h.q.n_filters = 1;
    check_both_ways(s, &h, true);
    h.n_group_by = 0;
    h.step = 120;
    check_both_ways(s, &h, true);
    h.q.filters[0].value = NULL; /* the NULL group */
    check_both_ways(s, &h, true);
    /* two dimensions, or a step that is not whole minutes: rows */
    h.step = 90;
    check_both_ways(s, &h, false);
    h.step = 60;
    h.group_by[0] = AM_COMM_MESSAGE_TYPE;
    h.n_group_by = 1;
    check_both_ways(s, &h, false);

    /* one bucket for everything, no group, a filter */
    q.n_group_by = 0;
    q.step = 7200;
    q.q.filters[0] = (am_store_filter){src, "a-agent"};
    q.q.n_filters = 1;
    j = summarize(s, &q);
    groups = json_object_get(j, "groups");
    AM_ASSERT_EQ(json_array_size(groups), 1);
    json_t *pts = json_object_get(json_array_get(groups, 0), "points");
    AM_ASSERT_EQ(json_array_size(pts), 1);
    AM_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(pts, 0), "count")), N / 3);
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(pts, 0), "t")),
                     "2023-11-14T22:00:00.000Z"); /* 1699999200 = 236111 * 7200 */
    json_decref(j);

    /* two group_by columns; an empty range */
    q.q.n_filters = 0;
    q.group_by[0] = src;
    q.group_by[1] = AM_COMM_MESSAGE_TYPE;
    q.n_group_by = 2;
    j = summarize(s, &q);
    AM_ASSERT_EQ(json_array_size(json_object_get(j, "groups")), 15);
    json_decref(j);
    q.q.start = 0;
    q.q.end = 3600;
    j = summarize(s, &q);
    AM_ASSERT_EQ(json_array_size(json_object_get(j, "groups")), 0);
    json_decref(j);

    /* a table without an error column: error_rate null */
    const am_table *sys = am_table_get(AM_T_SYSTEM);
    am_value v[40];
    for (size_t i = 0; i < sys->n_cols; i++)
        v[i] = (am_value){.is_null = true};
    v[AM_SYS_ID].v.s = "sys-1";
    v[AM_SYS_TIMESTAMP] = (am_value){.v.d = t0};
    v[AM_SYS_HOST] = (am_value){.v.s = "h"};
    v[AM_SYS_CPU_USAGE] = (am_value){.v.d = 42};
    v[AM_SYS_ID].is_null = false;
    am_record r = {AM_T_SYSTEM, v};
    sf_put(s, &r, 1);
    am_store_summary sq = {.q = all_query(AM_T_SYSTEM), .step = 60};
    sq.q.start = t0 - 60;
    sq.q.end = t0 + 60;
    j = summarize(s, &sq);
    json_t *p = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "groups"), 0), "points"), 0);
    assert_true(json_is_null(json_object_get(p, "error_rate")));
    check_close(json_number_value(json_object_get(p, "p99")), 42);
    json_decref(j);
    am_store_stats st;
    am_store_get_stats(s, &st);
    assert_true(st.raw_rows_read >= N);
    free(c);
    am_store_close(s);
}

static void put_sample(am_store *s, int i, const char *name, const char *labels, double ts,
                       double value);

/* Histograms over the whole range of doubles: signs, zero, tiny, huge,
   infinities -- each percentile within 1% of the exact one, either way. */
static void test_summary_values(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    enum { N = 400 };
    double vals[N];
    for (int i = 0; i < N; i++) {
        double mag = pow(10, (double)(i % 200 - 100) * 3.0); /* 1e-300 .. 1e297 */
        vals[i] = i % 7 == 0 ? 0 : i % 2 ? mag : -mag;
    }
    vals[1] = INFINITY;
    vals[3] = -INFINITY;
    vals[5] = 4.9e-324; /* the smallest subnormal */
    vals[9] = 1.7976931348623157e308;
    for (int i = 0; i < N; i++) {
        char lab[32];
        snprintf(lab, sizeof lab, "{i=\"%d\"}", i);
        put_sample(s, 1000 + i, "v", lab, 6000 + i % 120, vals[i]);
    }
    qsort(vals, N, sizeof *vals, cmp_d);
    am_store_summary q = {.q = all_query(AM_T_METRIC), .step = 3600};
    q.q.start = 3600;
    q.q.end = 10800;
    json_t *j = summarize(s, &q);
    json_t *p = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "groups"), 0), "points"), 0);
    AM_ASSERT_EQ(json_integer_value(json_object_get(p, "count")), N);
    const char *names[] = {"p50", "p95", "p99"};
    const double qs[] = {0.5, 0.95, 0.99};
    for (int k = 0; k < 3; k++) {
        double want = nearest_rank(vals, N, qs[k]);
        json_t *got = json_object_get(p, names[k]);
        if (isinf(want))
            AM_ASSERT_STR_EQ(json_string_value(got), want > 0 ? "+Inf" : "-Inf");
        else
            check_close(json_number_value(got), want);
    }
    json_decref(j);
    check_both_ways(s, &q, true);
    am_store_close(s);
}

/* ------------------------------------------------------------ series */

static void put_sample(am_store *s, int i, const char *name, const char *labels, double ts,
                       double value)
{
    char id[32];
    snprintf(id, sizeof id, "m-%d", i);
    const am_table *t = am_table_get(AM_T_METRIC);
    am_value v[40];
    for (size_t k = 0; k < t->n_cols; k++)
        v[k] = (am_value){.is_null = true};
    v[AM_METRIC_ID] = (am_value){.v.s = id};
    v[AM_METRIC_TIMESTAMP] = (am_value){.v.d = ts};
    v[AM_METRIC_NAME] = (am_value){.v.s = name};
    v[AM_METRIC_TYPE] = (am_value){.v.s = "gauge"};
    v[AM_METRIC_LABELS] = (am_value){.v.s = labels};
    v[AM_METRIC_VALUE] = (am_value){.v.d = value};
    v[AM_METRIC_SOURCE] = (am_value){.v.s = "event"};
    am_record r = {AM_T_METRIC, v};
    sf_put(s, &r, 1);
}

static json_t *series(am_store *s, const am_store_series *q)
{
    am_buf b;
    am_buf_init(&b, 0);
    AM_ASSERT_OK(am__json_series(s, q, &b));
    json_error_t e;
    json_t *j = json_loads(b.p, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %.300s", e.text, b.p);
    am_buf_free(&b);
    return j;
}

static void test_series(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    const char *la = "{agent=\"a\",job=\"x\"}", *lb = "{agent=\"b\",job=\"x\\\"y\"}",
               *lc = "{xagent=\"a\"}";
    int n = 0;
    for (int i = 0; i < 10; i++) {
        put_sample(s, n++, "tasks", la, 1000 + i * 10, i);
        put_sample(s, n++, "tasks", lb, 1000 + i * 10 + 5, 100 + i);
        put_sample(s, n++, "tasks", lc, 1000 + i * 10, -i);
    }
    put_sample(s, n++, "other", la, 1000, INFINITY);
    put_sample(s, n++, "tasks", "", 1000, -INFINITY);

    am_store_series q = {.name = "tasks", .start = 1000, .end = 1095};
    json_t *j = series(s, &q);
    json_t *ss = json_object_get(j, "series");
    AM_ASSERT_EQ(json_array_size(ss), 4); /* "", la, lb, lc in label-text order */
    AM_ASSERT_EQ(json_object_size(json_object_get(json_array_get(ss, 0), "labels")), 0);
    AM_ASSERT_STR_EQ(json_string_value(json_array_get(
                         json_array_get(json_object_get(json_array_get(ss, 0), "points"), 0), 1)),
                     "-Inf");
    json_t *b = json_array_get(ss, 2);
    AM_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(b, "labels"), "job")),
                     "x\"y");
    AM_ASSERT_EQ(json_array_size(json_object_get(b, "points")), 10);
    json_decref(j);

    /* matchers: a="a" must not match xagent="a" */
    q.match_names[0] = "agent";
    q.match_values[0] = "a";
    q.n_match = 1;
    j = series(s, &q);
    ss = json_object_get(j, "series");
    AM_ASSERT_EQ(json_array_size(ss), 1);
    json_t *pts = json_object_get(json_array_get(ss, 0), "points");
    AM_ASSERT_EQ(json_array_size(pts), 10);
    AM_ASSERT_DBL_EQ(json_number_value(json_array_get(json_array_get(pts, 3), 0)), 1030);
    AM_ASSERT_DBL_EQ(json_number_value(json_array_get(json_array_get(pts, 3), 1)), 3);
    json_decref(j);
    q.match_names[0] = "job";
    q.match_values[0] = "x\"y";
    j = series(s, &q);
    AM_ASSERT_EQ(json_array_size(json_object_get(j, "series")), 1);
    json_decref(j);
    q.match_names[1] = "agent";
    q.match_values[1] = "a";
    q.n_match = 2;
    j = series(s, &q);
    AM_ASSERT_EQ(json_array_size(json_object_get(j, "series")), 0);
    json_decref(j);

    /* with a step: the last sample at or before each step */
    q.n_match = 1;
    q.match_names[0] = "agent";
    q.match_values[0] = "b";
    q.start = 1000;
    q.end = 1100;
    q.step = 20;
    j = series(s, &q);
    pts = json_object_get(json_array_get(json_object_get(j, "series"), 0), "points");
    /* steps 1000 (none yet), 1020 (1015: 101), ..., 1100 (1095: 109) */
    AM_ASSERT_EQ(json_array_size(pts), 5);
    AM_ASSERT_DBL_EQ(json_number_value(json_array_get(json_array_get(pts, 0), 0)), 1020);
    AM_ASSERT_DBL_EQ(json_number_value(json_array_get(json_array_get(pts, 0), 1)), 101);
    AM_ASSERT_DBL_EQ(json_number_value(json_array_get(json_array_get(pts, 4), 1)), 109);
    json_decref(j);
    /* lookback is 5 minutes */
    q.start = 1400;
    q.end = 1500;
    q.step = 50;
    j = series(s, &q);
    pts = json_object_get(json_array_get(json_object_get(j, "series"), 0), "points");
    AM_ASSERT_EQ(json_array_size(pts), 0); /* 1095 is more than 5 minutes before 1400 */
    json_decref(j);
    am_store_close(s);
}

/* ------------------------------------------------------------ callbacks */

typedef struct calls {
    int n, stop_at; /* stop_at: the call that returns 42 (0: none) */
} calls;

static int count_call(calls *c)
{
    return ++c->n == c->stop_at ? 42 : 0;
}

static int row_cb(void *ud, const am_table *t, const am_value *v)
{
    (void)t;
    (void)v;
    return count_call(ud);
}

static int point_cb(void *ud, const am_store_point *p)
{
    (void)p;
    return count_call(ud);
}

static int series_cb(void *ud, const char *const *names, const char *const *values, size_t n)
{
    (void)names;
    (void)values;
    (void)n;
    return count_call(ud);
}

static int sample_cb(void *ud, double t, double v)
{
    (void)t;
    (void)v;
    return count_call(ud);
}

/* store.h's contract: a non-zero return stops the walk and is returned;
   a read that fails calls nothing. */
static void test_callbacks(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    comm c[6];
    for (int i = 0; i < 6; i++)
        make_comm(&c[i], i, 1000 + i * 60, i % 2 ? "a" : "b", i, 0);
    put_comms(s, c, 6);
    put_sample(s, 1, "up", "{a=\"x\"}", 1000, 1);
    put_sample(s, 2, "up", "{a=\"x\"}", 1001, 2);
    put_sample(s, 3, "up", "{a=\"y\"}", 1000, 3);

    calls k = {0, 2};
    size_t n = 99;
    char next[AM_STORE_CURSOR_MAX] = "unset";
    am_store_query q = all_query(AM_T_COMMUNICATION);
    AM_ASSERT_EQ(am_store_select(s, &q, row_cb, &k, &n, next), 42);
    AM_ASSERT_EQ(k.n, 2);
    AM_ASSERT_EQ(n, 99); /* set only on success */
    k = (calls){0, 0};
    AM_ASSERT_OK(am_store_select(s, &q, row_cb, &k, &n, next));
    AM_ASSERT_EQ(k.n, 6);
    AM_ASSERT_EQ(n, 6);

    am_store_summary sq = {.q = all_query(AM_T_COMMUNICATION), .step = 60};
    sq.q.start = 0;
    sq.q.end = 3600;
    k = (calls){0, 3};
    AM_ASSERT_EQ(am_store_summarize(s, &sq, point_cb, &k), 42);
    AM_ASSERT_EQ(k.n, 3);

    am_store_series se = {.name = "up", .start = 0, .end = 2000};
    k = (calls){0, 2}; /* the first series' first sample */
    AM_ASSERT_EQ(am_store_series_query(s, &se, series_cb, sample_cb, &k), 42);
    AM_ASSERT_EQ(k.n, 2);
    k = (calls){0, 0};
    AM_ASSERT_OK(am_store_series_query(s, &se, series_cb, sample_cb, &k));
    AM_ASSERT_EQ(k.n, 5); /* 2 series, 3 samples */

    /* failures call nothing, even when part of the result was good */
    k = (calls){0, 0};
    q.cursor = "0000";
    AM_ASSERT_ERR(am_store_select(s, &q, row_cb, &k, &n, next), AM_EINVAL);
    sq.step = 0;
    AM_ASSERT_ERR(am_store_summarize(s, &sq, point_cb, &k), AM_EINVAL);
    put_sample(s, 4, "up", "{a=unquoted}", 1000, 4); /* sorts after the good ones */
    AM_ASSERT_ERR(am_store_series_query(s, &se, series_cb, sample_cb, &k), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "not canonical");
    AM_ASSERT_EQ(k.n, 0);
    am_store_close(s);
}

/* ------------------------------------------------------------ state and logs */

/* A record of table t with every column NULL but id, timestamp and the
   (column, text) pairs given; strings borrowed. */
typedef struct rec {
    am_value v[AM_TABLE_MAX_COLS];
    am_record r;
} rec;

static void rec_init(rec *x, am_table_id t, const char *id, double ts)
{
    for (size_t c = 0; c < AM_TABLE_MAX_COLS; c++)
        x->v[c] = (am_value){.is_null = true};
    x->v[AM_C_ID] = (am_value){.v.s = id};
    x->v[AM_C_TIMESTAMP] = (am_value){.v.d = ts};
    x->r = (am_record){t, x->v};
}

typedef struct rows {
    size_t n;
    char ids[16][64];
    am_value v[16][AM_TABLE_MAX_COLS];
    char text[16][AM_TABLE_MAX_COLS][64];
} rows;

/* Keep up to 16 rows (copies of their texts). */
static int keep_row(void *ud, const am_table *t, const am_value *vals)
{
    rows *r = ud;
    if (r->n == 16)
        return AM_ELIMIT;
    for (size_t c = 0; c < t->n_cols; c++) {
        r->v[r->n][c] = vals[c];
        if (t->cols[c].type == AM_COL_TEXT && !vals[c].is_null) {
            snprintf(r->text[r->n][c], sizeof r->text[0][0], "%s", vals[c].v.s);
            r->v[r->n][c].v.s = r->text[r->n][c];
        }
    }
    snprintf(r->ids[r->n], sizeof r->ids[0], "%s", vals[AM_C_ID].v.s);
    r->n++;
    return 0;
}

static void select_into(am_store *s, am_store_query q, rows *out)
{
    memset(out, 0, sizeof *out);
    size_t n;
    char next[AM_STORE_CURSOR_MAX];
    AM_ASSERT_OK(am_store_select(s, &q, keep_row, out, &n, next));
    AM_ASSERT_EQ(n, out->n);
}

/* Alert state and silences are replaced by id; history and log lines are
   appended, and found by alert name and trace id. */
static void test_state_and_logs(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    rec a;
    rec_init(&a, AM_T_ALERT, "HighErrorRate/1f2e", 1000);
    a.v[AM_ALERT_ALERT_NAME] = (am_value){.v.s = "HighErrorRate"};
    a.v[AM_ALERT_FINGERPRINT] = (am_value){.v.s = "1f2e"};
    a.v[AM_ALERT_LABELS] = (am_value){.v.s = "{agent=\"coder\"}"};
    a.v[AM_ALERT_STATE] = (am_value){.v.s = "pending"};
    a.v[AM_ALERT_ACTIVE_AT] = (am_value){.v.d = 1000};
    a.v[AM_ALERT_VALUE] = (am_value){.v.d = 0.25};
    sf_put(s, &a.r, 1);
    a.v[AM_C_TIMESTAMP].v.d = 1300;
    a.v[AM_ALERT_STATE].v.s = "firing";
    a.v[AM_ALERT_FIRED_AT] = (am_value){.v.d = 1300};
    a.v[AM_ALERT_LAST_SENT_AT] = (am_value){.v.d = 1301};
    a.v[AM_ALERT_VALUE].v.d = 0.5;
    sf_put(s, &a.r, 1);
    rows r;
    select_into(s, all_query(AM_T_ALERT), &r);
    AM_ASSERT_EQ(r.n, 1);
    AM_ASSERT_STR_EQ(r.v[0][AM_ALERT_STATE].v.s, "firing");
    AM_ASSERT_DBL_EQ(r.v[0][AM_ALERT_ACTIVE_AT].v.d, 1000);
    AM_ASSERT_DBL_EQ(r.v[0][AM_ALERT_FIRED_AT].v.d, 1300);
    AM_ASSERT_DBL_EQ(r.v[0][AM_ALERT_LAST_SENT_AT].v.d, 1301);
    AM_ASSERT_DBL_EQ(r.v[0][AM_ALERT_VALUE].v.d, 0.5);
    assert_true(r.v[0][AM_ALERT_RESOLVED_AT].is_null);
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.duplicates, 0); /* replaced, not skipped */

    rec sil;
    rec_init(&sil, AM_T_SILENCE, "silence-1", 1000);
    sil.v[AM_SILENCE_MATCHERS] =
        (am_value){.v.s = "[{\"name\":\"agent\",\"value\":\"coder\",\"isRegex\":false}]"};
    sil.v[AM_SILENCE_STARTS_AT] = (am_value){.v.d = 1000};
    sil.v[AM_SILENCE_ENDS_AT] = (am_value){.v.d = 5000};
    sil.v[AM_SILENCE_CREATED_BY] = (am_value){.v.s = "ops"};
    sf_put(s, &sil.r, 1);
    sil.v[AM_C_TIMESTAMP].v.d = 2000;
    sil.v[AM_SILENCE_ENDS_AT].v.d = 2000; /* expired */
    sf_put(s, &sil.r, 1);
    select_into(s, all_query(AM_T_SILENCE), &r);
    AM_ASSERT_EQ(r.n, 1);
    AM_ASSERT_DBL_EQ(r.v[0][AM_SILENCE_ENDS_AT].v.d, 2000);
    AM_ASSERT_STR_EQ(r.v[0][AM_SILENCE_CREATED_BY].v.s, "ops");

    static const char *const states[] = {"pending", "firing", "resolved"};
    rec h[3];
    char hid[3][16];
    for (int i = 0; i < 3; i++) {
        snprintf(hid[i], sizeof hid[i], "h-%d", i);
        rec_init(&h[i], AM_T_ALERT_HISTORY, hid[i], 1000 + i * 300);
        h[i].v[AM_AHIST_ALERT_NAME] = (am_value){.v.s = i == 2 ? "Other" : "HighErrorRate"};
        h[i].v[AM_AHIST_FINGERPRINT] = (am_value){.v.s = "1f2e"};
        h[i].v[AM_AHIST_STATE] = (am_value){.v.s = states[i]};
    }
    am_record hr[3] = {h[0].r, h[1].r, h[2].r};
    sf_put(s, hr, 3);
    sf_put(s, hr, 1); /* a resent change is stored once */
    am_store_query q = all_query(AM_T_ALERT_HISTORY);
    q.filters[0] = (am_store_filter){AM_AHIST_ALERT_NAME, "HighErrorRate"};
    q.n_filters = 1;
    select_into(s, q, &r);
    AM_ASSERT_EQ(r.n, 2);
    AM_ASSERT_STR_EQ(r.v[1][AM_AHIST_STATE].v.s, "firing");

    /* a trace's log lines and records, in time order */
    const char *trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    rec l[5];
    char lid[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(lid[i], sizeof lid[i], "line-%d", i);
        rec_init(&l[i], AM_T_LOG, lid[i], 2000 - i);
        l[i].v[AM_LOG_LEVEL] = (am_value){.v.s = "INFO"};
        l[i].v[AM_LOG_MESSAGE] = (am_value){.v.s = "step"};
        l[i].v[AM_LOG_FIELDS] = (am_value){.v.s = "{\"attempt\":1}"};
        if (i % 2 == 0)
            l[i].v[AM_LOG_TRACE_ID] = (am_value){.v.s = trace};
    }
    am_record lr[5] = {l[0].r, l[1].r, l[2].r, l[3].r, l[4].r};
    sf_put(s, lr, 5);
    q = all_query(AM_T_LOG);
    q.filters[0] = (am_store_filter){AM_LOG_TRACE_ID, trace};
    q.n_filters = 1;
    select_into(s, q, &r);
    AM_ASSERT_EQ(r.n, 3);
    AM_ASSERT_STR_EQ(r.ids[0], "line-4");
    AM_ASSERT_STR_EQ(r.ids[2], "line-0");
    AM_ASSERT_STR_EQ(r.v[0][AM_LOG_FIELDS].v.s, "{\"attempt\":1}");
    rec t;
    rec_init(&t, AM_T_TASK, "task-1", 1999.5);
    t.v[AM_TASK_AGENT_ID] = (am_value){.v.s = "coder"};
    t.v[AM_TASK_STATUS] = (am_value){.v.s = "success"};
    t.v[AM_TASK_TRACE_ID] = (am_value){.v.s = trace};
    sf_put(s, &t.r, 1);
    q = all_query(AM_T_TASK);
    q.filters[0] = (am_store_filter){AM_TASK_TRACE_ID, trace};
    q.n_filters = 1;
    select_into(s, q, &r);
    AM_ASSERT_EQ(r.n, 1);
    am_store_close(s);

    /* retention keeps the state tables whole */
    am_store_opts o = AM_STORE_OPTS_INIT;
    o.retention_s = 3600;
    s = open_store(uri, &o);
    for (int i = 0; i < 1000; i++) {
        am_store_get_stats(s, &st);
        if (st.deleted >= 9) /* 3 history + 5 lines + 1 task */
            break;
        usleep(20000);
    }
    AM_ASSERT_EQ(st.deleted, 9);
    select_into(s, all_query(AM_T_ALERT), &r);
    AM_ASSERT_EQ(r.n, 1);
    select_into(s, all_query(AM_T_SILENCE), &r);
    AM_ASSERT_EQ(r.n, 1);
    select_into(s, all_query(AM_T_LOG), &r);
    AM_ASSERT_EQ(r.n, 0);
    am_store_close(s);
}

/* ------------------------------------------------------------ failures */

/* Stores that cannot open, and records larger than the queue. */
static void test_open_errors_and_limits(void **state)
{
    (void)state;
    am_store *s;
    if (!sf_is_pg) {
        AM_ASSERT_ERR(am_store_open("sqlite:/proc/no-such-dir/x/agentmon.db", NULL, &s), AM_EIO);
        AM_ASSERT_CONTAINS(am_errmsg(), "cannot create directory");
        char dir_uri[128];
        snprintf(dir_uri, sizeof dir_uri, "sqlite:%s", sf_dir); /* a directory */
        AM_ASSERT_ERR(am_store_open(dir_uri, NULL, &s), AM_EIO);
        char longp[5000];
        memset(longp, 'x', sizeof longp - 1);
        longp[sizeof longp - 1] = '\0';
        memcpy(longp, "sqlite:/tmp/", 12);
        AM_ASSERT_ERR(am_store_open(longp, NULL, &s), AM_EINVAL);
    } else {
        /* a server that is not there */
        AM_ASSERT_ERR(am_store_open("postgres://postgres@127.0.0.1:1/postgres", NULL, &s), AM_EIO);
        AM_ASSERT_CONTAINS(am_errmsg(), "cannot connect");
    }
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store_opts o = AM_STORE_OPTS_INIT;
    o.retention_s = -1;
    AM_ASSERT_ERR(am_store_open(uri, &o, &s), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "retention_s");
    o.retention_s = 0;
    o.max_queued_bytes = 4096;
    s = open_store(uri, &o);
    char *text = malloc(8000);
    memset(text, 'y', 7999);
    text[7999] = '\0';
    comm c;
    make_comm(&c, 1, 1000, "a", 1, 0);
    c.v[AM_COMM_SOURCE_AGENT_ID].v.s = text;
    uint64_t t;
    AM_ASSERT_ERR(am_store_submit(s, &c.r, 1, &t), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "bytes of records");
    /* a record without values, or of a table not known */
    am_record bad = {AM_T_COMMUNICATION, NULL};
    AM_ASSERT_ERR(am_store_submit(s, &bad, 1, &t), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "no values");
    free(text);
    am_store_close(s);
}

/* PostgreSQL drops the store's connections (a restart, an administrator):
   the writer reconnects and takes its lock again, and reads go on. */
static void test_reconnect(void **state)
{
    (void)state;
    if (!sf_is_pg)
        skip();
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    comm c[2];
    make_comm(&c[0], 0, 1000, "a", 1, 0);
    make_comm(&c[1], 1, 1001, "a", 1, 0);
    put_comms(s, c, 1);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 1); /* a reader in the pool */
    PGconn *admin = PQconnectdb(uri);
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    PGresult *r = PQexec(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                "pid <> pg_backend_pid() AND datname = current_database()");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_true(PQntuples(r) >= 2);
    PQclear(r);
    PQfinish(admin);
    uint64_t t;
    am_err rc = AM_EIO;
    for (int i = 0; i < 300 && rc; i++) {
        rc = am_store_submit(s, &c[1].r, 1, &t);
        if (!rc)
            rc = am_store_wait(s, t, 30);
        if (rc) {
            AM_ASSERT_ERR(rc, AM_EIO);
            usleep(10000);
        }
    }
    AM_ASSERT_OK(rc);
    /* a pooled reader finds its connection gone once, then reconnects */
    am_store_query q = all_query(AM_T_COMMUNICATION);
    size_t n = 0;
    char next[AM_STORE_CURSOR_MAX];
    rc = AM_EIO;
    for (int i = 0; i < 10 && rc; i++) {
        rows got;
        memset(&got, 0, sizeof got);
        rc = am_store_select(s, &q, keep_row, &got, &n, next);
    }
    AM_ASSERT_OK(rc);
    AM_ASSERT_EQ(n, 2);
    /* and it shares the database with a second store */
    am_store *s2;
    AM_ASSERT_OK(am_store_open(uri, NULL, &s2));
    am_store_close(s2);
    am_store_close(s);
}

/* ------------------------------------------------------------ shared */

typedef struct sharer {
    am_store *s;
    comm *c;
    int from, to;
} sharer;

static void *share_part(void *arg)
{
    sharer *p = arg;
    for (int i = p->from; i < p->to; i += 20)
        put_comms(p->s, p->c + i, (size_t)(p->to - i < 20 ? p->to - i : 20));
    return NULL;
}

/* Two stores of one PostgreSQL database (collectors sharing it), sent
   overlapping ids at once: each stored once, and the summaries from the
   rollups (each store's rows of its own) equal those from rows, from
   either store. */
static void test_shared_pg(void **state)
{
    (void)state;
    if (!sf_is_pg)
        skip();
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *a = open_store(uri, NULL), *b = open_store(uri, NULL);
    enum { N = 1200 };
    comm *c = calloc(N, sizeof *c);
    double hour = floor((double)time(NULL) / 3600) * 3600 - 3600;
    for (int i = 0; i < N; i++)
        make_comm(&c[i], i, hour + i * 3.0, i % 3 ? "a" : "b", 1 + i % 17, i % 13 == 0);
    sharer pa = {a, c, 0, N * 2 / 3}, pb = {b, c, N / 3, N};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, share_part, &pa);
    pthread_create(&tb, NULL, share_part, &pb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    am_store_stats sa, sb;
    am_store_get_stats(a, &sa);
    am_store_get_stats(b, &sb);
    AM_ASSERT_EQ(sa.duplicates + sb.duplicates, N / 3);
    AM_ASSERT_EQ(count_rows(a, AM_T_COMMUNICATION), N);
    AM_ASSERT_EQ(count_rows(b, AM_T_COMMUNICATION), N);
    am_store_summary q = {.q = all_query(AM_T_COMMUNICATION), .step = 60};
    q.q.start = hour;
    q.q.end = hour + 3600;
    q.group_by[0] = AM_COMM_SOURCE_AGENT_ID;
    q.n_group_by = 1;
    check_both_ways(a, &q, true);
    check_both_ways(b, &q, true);
    char *ta_text = summary_text(a, &q), *tb_text = summary_text(b, &q);
    AM_ASSERT_STR_EQ(ta_text, tb_text);
    am_free(ta_text);
    am_free(tb_text);
    q.step = 3600;
    q.n_group_by = 0;
    json_t *j = summarize(b, &q);
    json_t *pts = json_object_get(json_array_get(json_object_get(j, "groups"), 0), "points");
    AM_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(pts, 0), "count")), N);
    json_decref(j);
    am_store_close(a);
    am_store_close(b);
    free(c);
}

/* ------------------------------------------------------------ retention */

static void test_retention(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store_opts o = AM_STORE_OPTS_INIT;
    o.retention_s = 3600;
    o.retention_batch = 100;
    am_store *s = open_store(uri, &o);
    enum { OLD = 1050, NEW = 10 };
    comm *c = calloc(OLD + NEW, sizeof *c);
    double now = (double)time(NULL);
    for (int i = 0; i < OLD + NEW; i++)
        make_comm(&c[i], i, i < OLD ? now - 7200 - i : now - 10, "a", 1, 0);
    put_comms(s, c, OLD + NEW);
    am_store_stats st;
    for (int i = 0; i < 1000; i++) {
        am_store_get_stats(s, &st);
        if (st.deleted >= OLD)
            break;
        usleep(20000);
    }
    AM_ASSERT_EQ(st.deleted, OLD);
    assert_true(st.retention_runs >= OLD / 100); /* in batches of at most 100 */
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), NEW);
    /* and their rollups: nothing left to summarize before the cutoff */
    am_store_summary q = {.q = all_query(AM_T_COMMUNICATION), .step = 60};
    q.q.start = floor((now - 9000) / 60) * 60;
    q.q.end = floor((now - 3600) / 60) * 60 - 60;
    json_t *j = summarize(s, &q);
    AM_ASSERT_EQ(json_array_size(json_object_get(j, "groups")), 0);
    json_decref(j);
    am_store_stats st2;
    am_store_get_stats(s, &st2);
    AM_ASSERT_EQ(st2.raw_rows_read, st.raw_rows_read);
    free(c);
    am_store_close(s);
}

/* A rule the database was given (add: SQL for PostgreSQL, then SQLite)
   refuses the record of source "bad": the batch of it and two good ones
   fails with the rule's message, storing none of them; once drop removed
   the rule, the same records commit. */
static void assert_refused_then_stored(const char *rule, const char *const add[2],
                                       const char *const drop[2])
{
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    AM_ASSERT_OK(am__store_exec(s, add[!sf_is_pg]));
    comm c[3];
    make_comm(&c[0], 0, 1000, "a", 1, 0);
    make_comm(&c[1], 1, 1001, "bad", 1, 0);
    make_comm(&c[2], 2, 1002, "a", 1, 0);
    am_record rs[3] = {c[0].r, c[1].r, c[2].r};
    uint64_t t;
    AM_ASSERT_OK(am_store_submit(s, rs, 3, &t));
    AM_ASSERT_ERR(am_store_wait(s, t, 30), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), rule);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 0);
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.committed, 0);
    assert_true(st.failed >= 1);
    AM_ASSERT_OK(am__store_exec(s, drop[!sf_is_pg]));
    am_err rc = AM_EIO;
    for (int i = 0; i < 300 && rc == AM_EIO; i++) {
        rc = am_store_submit(s, rs, 3, &t);
        if (!rc)
            rc = am_store_wait(s, t, 30);
        if (rc == AM_EIO)
            usleep(10000); /* until the writer's probe lets writes in again */
    }
    AM_ASSERT_OK(rc);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), 3);
    am_store_close(s);
}

/* One row the database refuses (a trigger on SQLite, a CHECK constraint
   on PostgreSQL -- what a DBA's rule looks like) fails the whole batch it
   came in: the rows before and after it are not stored either, so a
   client that retries what failed duplicates nothing. Once the rule
   goes, the same records commit. */
static void test_refused_row_fails_its_batch(void **state)
{
    (void)state;
    static const char *const add[2] = {
        "ALTER TABLE communication_metrics ADD CONSTRAINT no_bad_source "
        "CHECK (source_agent_id <> 'bad') NOT VALID",
        "CREATE TRIGGER no_bad_source BEFORE INSERT ON communication_metrics "
        "WHEN NEW.source_agent_id = 'bad' BEGIN SELECT RAISE(ABORT, 'no_bad_source'); END"};
    static const char *const drop[2] = {
        "ALTER TABLE communication_metrics DROP CONSTRAINT no_bad_source",
        "DROP TRIGGER no_bad_source"};
    assert_refused_then_stored("no_bad_source", add, drop);
}

/* The same when what the database refuses is the batch's rollup upsert:
   on PostgreSQL those statements go in one pipeline with the COMMIT,
   whose answer must then be the upsert's failure, and nothing commits. */
static void test_refused_rollup_fails_its_batch(void **state)
{
    (void)state;
    static const char *const add[2] = {
        "ALTER TABLE communication_metrics_rollup ADD CONSTRAINT no_bad_key "
        "CHECK (key <> '=bad') NOT VALID",
        "CREATE TRIGGER no_bad_key BEFORE INSERT ON communication_metrics_rollup "
        "WHEN NEW.key = '=bad' BEGIN SELECT RAISE(ABORT, 'no_bad_key'); END"};
    static const char *const drop[2] = {
        "ALTER TABLE communication_metrics_rollup DROP CONSTRAINT no_bad_key",
        "DROP TRIGGER no_bad_key"};
    assert_refused_then_stored("no_bad_key", add, drop);
}

/* A batch the database refuses fails its tickets with the reason, and
   the store goes on writing once the database takes writes again. */
static void test_failed_batch(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    AM_ASSERT_OK(am__store_exec(s, "DROP TABLE communication_metrics"));
    comm c;
    make_comm(&c, 0, 1000, "a", 1, 0);
    uint64_t t;
    AM_ASSERT_OK(am_store_submit(s, &c.r, 1, &t));
    AM_ASSERT_ERR(am_store_wait(s, t, 30), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "writing a batch failed");
    AM_ASSERT_CONTAINS(am_errmsg(), "communication_metrics");
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.failed, 1);
    AM_ASSERT_EQ(st.committed, 0);
    /* other tables are written again once the writer's probe succeeds */
    const am_table *task = am_table_get(AM_T_TASK);
    am_value v[40];
    for (size_t i = 0; i < task->n_cols; i++)
        v[i] = (am_value){.is_null = true};
    v[0] = (am_value){.v.s = "task-1"};
    v[1] = (am_value){.v.d = 1000};
    am_record r = {AM_T_TASK, v};
    am_err rc = AM_EIO;
    for (int i = 0; i < 300 && rc == AM_EIO; i++) {
        rc = am_store_submit(s, &r, 1, &t);
        if (rc == AM_EIO) {
            AM_ASSERT_CONTAINS(am_errmsg(), "cannot write");
            usleep(10000);
        }
    }
    AM_ASSERT_OK(rc);
    AM_ASSERT_OK(am_store_wait(s, t, 30));
    AM_ASSERT_EQ(count_rows(s, AM_T_TASK), 1);
    am_store_close(s);
}

/*
** Resent records among new ones, in one submit: ids stored before, and an
** id twice in the same batch. The many-row INSERT (SQLite) stores each id
** once, and counts in the rollups only the records it stored, so a summary
** from rollups still equals the one from rows.
*/
static void test_duplicates_in_batch(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    enum { OLD = 40, N = 150 };
    const double t0 = 1700000000;
    comm *c = calloc(N, sizeof *c);
    for (int i = 0; i < N; i++)
        make_comm(&c[i], i < OLD ? i : 100 + i, t0 + i * 0.5, i % 2 ? "a" : "b", 1 + i, i % 9 == 0);
    put_comms(s, c, OLD);
    /* the second submit: 20 stored before, 110 new, the last two with the
       same id (other values: the first one is kept), in the same INSERT */
    make_comm(&c[N - 1], 100 + N - 2, t0 + 99, "z", 12345, 1);
    put_comms(s, c + OLD / 2, N - OLD / 2);
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.duplicates, OLD / 2 + 1);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), N - 1);
    am_store_summary q = {.q = all_query(AM_T_COMMUNICATION), .step = 60};
    q.q.start = t0 - 3600;
    q.q.end = t0 + 3600;
    q.group_by[0] = AM_COMM_SOURCE_AGENT_ID;
    q.n_group_by = 1;
    json_t *j = summarize(s, &q);
    json_t *groups = json_object_get(j, "groups");
    int64_t total = points_count(groups);
    AM_ASSERT_EQ(total, N - 1);
    AM_ASSERT_EQ(json_array_size(groups), 2); /* "z" was the resent copy */
    json_decref(j);
    check_both_ways(s, &q, true);
    free(c);
    am_store_close(s);
}

/* Stored ids met in a later chunk of a large batch (PostgreSQL: COPY
   under a savepoint, undone to it: the earlier chunks stay), then in the
   batches after it (the staging table for a while, then COPY again). */
static void test_duplicates_across_chunks(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s = open_store(uri, NULL);
    enum { OLD = 10, BIG = 2500, SMALL = 20, EACH = 10 };
    const double t0 = 1700000000;
    comm *c = calloc(BIG, sizeof *c);
    for (int i = 0; i < OLD; i++)
        make_comm(&c[i], i, t0 + i, "a", 1 + i, 0);
    put_comms(s, c, OLD);
    for (int i = 0; i < BIG; i++) /* 2,200th: stored before */
        make_comm(&c[i], i == 2200 ? 5 : 1000 + i, t0 + i * 0.1, i % 2 ? "a" : "b", 1 + i, 0);
    put_comms(s, c, BIG);
    int next = 10000;
    for (int k = 0; k < SMALL; k++) {
        for (int i = 0; i < EACH; i++)
            make_comm(&c[i], next++, t0 + k, "b", 2, 0);
        if (k == SMALL - 1) { /* a stored id, and one twice */
            make_comm(&c[0], 7, t0, "b", 2, 0);
            make_comm(&c[EACH - 1], next - 2, t0, "b", 2, 0);
        }
        put_comms(s, c, EACH);
    }
    int64_t n_rows = OLD + (BIG - 1) + SMALL * EACH - 2;
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.duplicates, 3);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), n_rows);
    am_store_summary q = {.q = all_query(AM_T_COMMUNICATION), .step = 3600};
    q.q.start = t0 - 3600;
    q.q.end = t0 + 3600;
    json_t *j = summarize(s, &q);
    json_t *groups = json_object_get(j, "groups");
    int64_t total = points_count(groups);
    AM_ASSERT_EQ(total, n_rows);
    json_decref(j);
    check_both_ways(s, &q, true);
    free(c);
    am_store_close(s);
}

/* One-record commits from four threads, back to back for 3 s, as agents
   that do not batch send them: SQLite's WAL must not grow past a few times
   the store's 64 MiB limit at any moment (it grew ~130 MB a second of this
   before the checkpointer restarted it: a passive checkpoint never catches
   up with a writer this busy; and with that thread alone, a slow disk let
   it pass 192 MiB in CI). SQLite only. */
typedef struct wal_load {
    am_store *s;
    int thread;
    double until;
    int n;
} wal_load;

static void *wal_load_run(void *arg)
{
    wal_load *w = arg;
    comm c;
    while (am_unix_time() < w->until) {
        make_comm(&c, w->thread * 10000000 + w->n++, am_unix_time(), "planner", 1.5, 0);
        sf_put(w->s, &c.r, 1);
    }
    return NULL;
}

/* The WAL file's largest size while the writers run, looked at every 5 ms. */
typedef struct wal_watch {
    const char *path;
    atomic_bool stop;
    off_t peak;
} wal_watch;

static void *wal_watch_run(void *arg)
{
    wal_watch *ww = arg;
    while (!atomic_load(&ww->stop)) {
        struct stat st;
        if (stat(ww->path, &st) == 0 && st.st_size > ww->peak)
            ww->peak = st.st_size;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_wal_bounded(void **state)
{
    (void)state;
    if (sf_is_pg)
        return;
    char uri[256], wal[300];
    sf_fresh_uri(uri, sizeof uri);
    snprintf(wal, sizeof wal, "%s-wal", uri + strlen("sqlite:"));
    am_store *s = open_store(uri, NULL);
    wal_watch ww = {.path = wal};
    pthread_t watcher;
    pthread_create(&watcher, NULL, wal_watch_run, &ww);
    wal_load w[4];
    pthread_t t[4];
    double until = am_unix_time() + 3;
    for (int i = 0; i < 4; i++) {
        w[i] = (wal_load){s, i, until, 0};
        pthread_create(&t[i], NULL, wal_load_run, &w[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].n;
    }
    atomic_store(&ww.stop, true);
    pthread_join(watcher, NULL);
    assert_true(total > 0);
    /* the writer restarts the WAL itself past 2 x 64 MiB, so it never holds
       more than that and a commit's frames (the checkpointer alone let it
       reach 145-186 MB under a disk writing with O_DSYNC beside) */
    print_message("the WAL's largest size: %lld bytes, %d commits\n", (long long)ww.peak, total);
    if (ww.peak >= 2 * (64 << 20) + (4 << 20))
        fail_msg("the WAL reached %lld bytes", (long long)ww.peak);
    AM_ASSERT_EQ(count_rows(s, AM_T_COMMUNICATION), total);
    am_store_close(s);
}

static const struct CMUnitTest SUITE[] = {
    cmocka_unit_test(test_wal_bounded),
    cmocka_unit_test(test_failed_batch),
    cmocka_unit_test(test_refused_row_fails_its_batch),
    cmocka_unit_test(test_refused_rollup_fails_its_batch),
    cmocka_unit_test(test_types_and_nulls),
    cmocka_unit_test(test_duplicates_in_batch),
    cmocka_unit_test(test_duplicates_across_chunks),
    cmocka_unit_test(test_filters_and_ranges),
    cmocka_unit_test(test_paging),
    cmocka_unit_test(test_bad_input),
    cmocka_unit_test(test_queue_full),
    cmocka_unit_test(test_samples_share_and_cancel),
    cmocka_unit_test(test_submit_then),
    cmocka_unit_test(test_group_commit),
    cmocka_unit_test(test_summary),
    cmocka_unit_test(test_summary_values),
    cmocka_unit_test(test_series),
    cmocka_unit_test(test_retention),
    cmocka_unit_test(test_state_and_logs),
    cmocka_unit_test(test_callbacks),
    cmocka_unit_test(test_open_errors_and_limits),
    cmocka_unit_test(test_reconnect),
    cmocka_unit_test(test_shared_pg),
};

int main(void)
{
    return sf_run_both("store", SUITE, sizeof SUITE / sizeof *SUITE);
}
