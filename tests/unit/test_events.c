/*
** test_events.c: JSON events -> records: every table, the nested shapes
** of the analytics slice, defaults, NDJSON, and a table of bad events each
** rejected alone with a reason that names the field.
*/
#include <math.h>

#include "testutil.h"
#include "serve/ingest/events.h"

#define NOW 1700000000.0

static const am_value *col(const am_record *r, const char *name)
{
    const am_table *t = am_table_get(r->table);
    int c = am_table_col(t, name);
    if (c < 0)
        fail_msg("no column %s", name);
    return &r->vals[c];
}

/* The decoder writes into the body and the records point into it: each
   decode gets a copy that lives until the test ends (a few KB each). */
static char *copy(const char *body)
{
    static char *kept[64];
    static size_t n_kept;
    size_t n = strlen(body);
    char *c = malloc(n + 1);
    memcpy(c, body, n + 1);
    if (n_kept == 64) {
        for (size_t i = 0; i < n_kept; i++)
            free(kept[i]);
        n_kept = 0;
    }
    kept[n_kept++] = c;
    return c;
}

static am_err decode(const char *body, bool ndjson, am_events *ev)
{
    return am__events_decode(copy(body), strlen(body), ndjson, NOW, ev);
}

static void decode_ok(const char *body, am_events *ev)
{
    AM_ASSERT_OK(decode(body, false, ev));
}

static void test_every_table(void **state)
{
    (void)state;
    const char *body =
        "[{\"event\":\"communication\",\"source_agent_id\":\"planner\",\"target_agent_id\":"
        "\"coder\",\"message_type\":\"task\",\"message_size\":512,\"processing_time\":12.5,"
        "\"session_id\":\"s1\",\"context_metrics\":{\"size\":100,\"relevance\":0.75},"
        "\"error_info\":{\"type\":\"timeout\",\"retries\":2}},"
        "{\"event\":\"system\",\"host\":\"h1\",\"cpu_usage\":50,\"timestamp\":"
        "\"2023-11-14T22:13:20.5Z\"},"
        "{\"event\":\"agent\",\"agent_id\":\"coder\",\"performance_metrics\":{\"response_time\":"
        "3,\"request_count\":7}},"
        "{\"event\":\"task\",\"agent_id\":\"coder\",\"status\":\"failure\",\"error_type\":"
        "\"timeout\",\"duration\":1.5,\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
        "\"id\":\"t-1\",\"timestamp\":1700000001},"
        "{\"event\":\"llm\",\"provider\":\"openai\",\"model\":\"gpt-4o\",\"status\":\"success\","
        "\"latency\":0.8,\"input_tokens\":100,\"output_tokens\":20,\"trace_id\":"
        "\"4BF92F35-77B3-4DA6-A3CE-929D0E0E4736\"},"
        "{\"event\":\"metric\",\"name\":\"queue_depth\",\"type\":\"gauge\",\"value\":-3,"
        "\"labels\":{\"queue\":\"a\\\"b\",\"agent\":\"x\"}}]";
    am_events ev;
    decode_ok(body, &ev);
    AM_ASSERT_EQ(ev.n_events, 6);
    AM_ASSERT_EQ(ev.n_rejects, 0);
    AM_ASSERT_EQ(ev.n_recs, 6);
    const am_record *r = &ev.recs[0];
    AM_ASSERT_EQ(r->table, AM_T_COMMUNICATION);
    AM_ASSERT_STR_EQ(col(r, "source_agent_id")->v.s, "planner");
    AM_ASSERT_EQ(col(r, "message_size")->v.i, 512);
    AM_ASSERT_DBL_EQ(col(r, "response_time")->v.d, 12.5); /* = processing_time, as the slice */
    AM_ASSERT_EQ(col(r, "context_size")->v.i, 100);
    AM_ASSERT_DBL_EQ(col(r, "context_relevance_score")->v.d, 0.75);
    AM_ASSERT_STR_EQ(col(r, "error_type")->v.s, "timeout");
    AM_ASSERT_EQ(col(r, "error_count")->v.i, 1);
    AM_ASSERT_EQ(col(r, "retry_count")->v.i, 2);
    assert_true(col(r, "cpu_usage")->is_null);
    AM_ASSERT_DBL_EQ(col(r, "timestamp")->v.d, NOW);
    AM_ASSERT_EQ(strlen(col(r, "id")->v.s), 36); /* a UUID */
    AM_ASSERT_EQ(col(r, "id")->v.s[14], '4');

    AM_ASSERT_DBL_EQ(col(&ev.recs[1], "timestamp")->v.d, 1700000000.5);
    AM_ASSERT_DBL_EQ(col(&ev.recs[1], "cpu_usage")->v.d, 50);
    AM_ASSERT_DBL_EQ(col(&ev.recs[2], "response_time")->v.d, 3);
    AM_ASSERT_EQ(col(&ev.recs[2], "request_count")->v.i, 7);
    r = &ev.recs[3];
    AM_ASSERT_STR_EQ(col(r, "id")->v.s, "t-1");
    AM_ASSERT_STR_EQ(col(r, "status")->v.s, "failure");
    AM_ASSERT_DBL_EQ(col(r, "timestamp")->v.d, 1700000001);
    char hex[33];
    assert_true(am__event_trace_hex(r, hex));
    AM_ASSERT_STR_EQ(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_true(am__event_trace_hex(&ev.recs[4], hex)); /* a UUID, dashes dropped */
    AM_ASSERT_STR_EQ(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_false(am__event_trace_hex(&ev.recs[1], hex));
    AM_ASSERT_EQ(col(&ev.recs[4], "output_tokens")->v.i, 20);
    r = &ev.recs[5];
    AM_ASSERT_STR_EQ(col(r, "labels")->v.s, "{agent=\"x\",queue=\"a\\\"b\"}");
    AM_ASSERT_DBL_EQ(col(r, "value")->v.d, -3);
    AM_ASSERT_STR_EQ(col(r, "source")->v.s, "event");
    am__events_free(&ev);
}

static void test_ndjson_and_partial(void **state)
{
    (void)state;
    const char *body = "{\"event\":\"task\",\"agent_id\":\"a\",\"status\":\"success\","
                       "\"duration\":1}\n"
                       "\n"
                       "{not json}\r\n"
                       "{\"event\":\"task\",\"agent_id\":\"b\",\"status\":\"ok\",\"duration\":1}\n"
                       "{\"event\":\"task\",\"agent_id\":\"c\",\"status\":\"success\","
                       "\"duration\":2}";
    am_events ev;
    decode_ok(body, &ev); /* not one JSON value: read as NDJSON */
    AM_ASSERT_EQ(ev.n_events, 4);
    AM_ASSERT_EQ(ev.n_recs, 2);
    AM_ASSERT_EQ(ev.index[0], 0);
    AM_ASSERT_EQ(ev.index[1], 3);
    AM_ASSERT_EQ(ev.n_rejects, 2);
    AM_ASSERT_EQ(ev.rejects[0].index, 1);
    AM_ASSERT_CONTAINS(ev.rejects[0].error, "line 2 is not JSON");
    AM_ASSERT_EQ(ev.rejects[1].index, 2);
    AM_ASSERT_CONTAINS(ev.rejects[1].error, "\"status\"");
    am__events_free(&ev);

    const char *one =
        "{\"event\":\"task\",\"agent_id\":\"a\",\"status\":\"success\",\"duration\":1}";
    AM_ASSERT_OK(decode(one, true, &ev));
    AM_ASSERT_EQ(ev.n_recs, 1);
    am__events_free(&ev);
}

static void test_bad_events(void **state)
{
    (void)state;
#define TASK "\"event\":\"task\",\"agent_id\":\"a\",\"status\":\"success\""
#define COMM                                                                                       \
    "\"event\":\"communication\",\"source_agent_id\":\"a\",\"target_agent_id\":\"b\","             \
    "\"message_type\":\"m\",\"message_size\":1"
#define METRIC "\"event\":\"metric\",\"type\":\"gauge\",\"value\":1"
    static const struct {
        const char *event, *msg;
    } bad[] = {
        {"[]", "must be a JSON object"},
        {"1", "must be a JSON object"},
        {"\"task\"", "must be a JSON object"},
        {"{}", "\"event\" is missing"},
        {"{\"event\":1}", "\"event\" must be"},
        {"{\"event\":\"tasks\"}", "\"event\" must be"},
        {"{\"event\":null}", "\"event\" must be"},
        {"{" TASK "}", "\"duration\" is missing"},
        {"{" TASK ",\"duration\":\"1\"}", "\"duration\" must be a number"},
        {"{" TASK ",\"duration\":-1}", "\"duration\" is -1"},
        {"{" TASK ",\"duration\":null}", "\"duration\" must not be null"},
        {"{" TASK ",\"duration\":true}", "\"duration\" must be a number"},
        {"{" TASK ",\"duration\":1,\"extra\":1}", "\"extra\" is not a column of task"},
        {"{\"event\":\"task\",\"agent_id\":\"\",\"status\":\"success\",\"duration\":1}",
         "\"agent_id\" must not be empty"},
        {"{\"event\":\"task\",\"agent_id\":7,\"status\":\"success\",\"duration\":1}",
         "\"agent_id\" must be a string"},
        {"{\"event\":\"task\",\"agent_id\":\"a\",\"status\":\"error\",\"duration\":1}",
         "must be success or failure"},
        {"{\"event\":\"llm\",\"provider\":\"p\",\"model\":\"m\",\"status\":\"failure\","
         "\"latency\":1}",
         "must be success or error"},
        {"{\"event\":\"llm\",\"provider\":\"p\",\"model\":\"m\",\"status\":\"error\","
         "\"latency\":1,\"input_tokens\":1.5}",
         "\"input_tokens\" must be a whole number"},
        {"{\"event\":\"llm\",\"provider\":\"p\",\"model\":\"m\",\"status\":\"error\","
         "\"latency\":1,\"input_tokens\":-1}",
         "\"input_tokens\" must be a whole number"},
        {"{\"event\":\"llm\",\"provider\":\"p\",\"model\":\"m\",\"status\":\"error\","
         "\"latency\":1,\"output_tokens\":1e300}",
         "\"output_tokens\" must be a whole number"},
        {"{" TASK ",\"duration\":1,\"timestamp\":\"yesterday\"}", "is not a time"},
        {"{" TASK ",\"duration\":1,\"timestamp\":\"2026-02-30T00:00:00Z\"}", "is not a time"},
        {"{" TASK ",\"duration\":1,\"timestamp\":\"1969-12-31T23:59:59Z\"}", "is not a time"},
        {"{" TASK ",\"duration\":1,\"timestamp\":\"2026-01-01T00:00:00\"}", "is not a time"},
        {"{" TASK ",\"duration\":1,\"timestamp\":-5}", "outside 1970"},
        {"{" TASK ",\"duration\":1,\"timestamp\":1e300}", "outside 1970"},
        {"{" TASK ",\"duration\":1,\"timestamp\":[]}", "RFC 3339"},
        {"{" TASK ",\"duration\":1,\"id\":\"\"}", "\"id\" must not be empty"},
        {"{" TASK ",\"duration\":1,\"id\":5}", "\"id\" must be a string"},
        {"{" TASK ",\"duration\":1,\"trace_id\":\"xyz\"}", "\"trace_id\" must be 32 hex"},
        {"{" TASK ",\"duration\":1,\"trace_id\":\"00000000000000000000000000000000\"}",
         "\"trace_id\" must be 32 hex"},
        {"{" TASK ",\"duration\":1,\"trace_id\":\"4bf92f35-77b3-4da6-a3ce929d0e0e4736\"}",
         "\"trace_id\" must be 32 hex"},
        {"{" COMM "}", "\"processing_time\" is missing"},
        {"{" COMM ",\"processing_time\":1,\"context_metrics\":{\"width\":1}}",
         "\"context_metrics.width\" is not known"},
        {"{" COMM ",\"processing_time\":1,\"context_metrics\":[]}",
         "\"context_metrics\" must be an object"},
        {"{" COMM ",\"processing_time\":1,\"error_type\":\"x\",\"error_info\":{\"type\":\"y\"}}",
         "\"error_type\" is given twice"},
        {"{\"event\":\"agent\",\"performance_metrics\":{\"agent_id\":\"a\",\"id\":\"x\"}}",
         "\"performance_metrics.id\" is not known"},
        {"{\"event\":\"agent\"}", "\"agent_id\" is missing"},
        {"{" METRIC "}", "\"name\" is missing"},
        {"{" METRIC ",\"name\":\"1abc\"}", "\"name\""},
        {"{" METRIC ",\"name\":\"__x\"}", "\"name\""},
        {"{\"event\":\"metric\",\"name\":\"x\",\"type\":\"meter\",\"value\":1}",
         "\"type\" is \"meter\""},
        {"{" METRIC ",\"name\":\"x\",\"labels\":[]}", "\"labels\" must be an object"},
        {"{" METRIC ",\"name\":\"x\",\"labels\":{\"a\":1}}", "label \"a\" must have a string"},
        {"{" METRIC ",\"name\":\"x\",\"labels\":{\"__a\":\"1\"}}", "labels:"},
        {"{" METRIC ",\"name\":\"x\",\"labels\":{\"a-b\":\"1\"}}", "labels:"},
        {"{\"event\":\"metric\",\"name\":\"x\",\"type\":\"gauge\",\"value\":\"NaN\"}",
         "\"value\" must be a number"},
        {"{\"event\":\"system\",\"cpu_usage\":-0.5}", "\"cpu_usage\" is -0.5"},
        {"{\"event\":\"system\",\"timestamp\":null}", "must not be null"},
        /* what a tree-building parser hid: each is the event's fault alone */
        {"{\"event\":\"task\",\"agent_id\":\"a\",\"agent_id\":\"b\",\"status\":\"success\","
         "\"duration\":1}",
         "\"agent_id\" is given twice"},
        {"{" TASK ",\"duration\":1,\"event\":\"task\"}", "\"event\" is given twice"},
        {"{" TASK ",\"duration\":1,\"error_type\":\"a\\u0000b\"}", "NUL character"},
        {"{" METRIC ",\"name\":\"x\",\"labels\":{\"a\":\"1\",\"a\":\"2\"}}",
         "label \"a\" is given twice"},
        {"{" METRIC ",\"name\":\"x\",\"labels\":{\"a\":\"\\u0000\"}}", "NUL character"},
        {"{" TASK ",\"duration\":[1]}", "\"duration\" must be a number"},
        {"{" TASK ",\"duration\":{\"a\":{}}}", "\"duration\" must be a number"},
        {"{" COMM ",\"processing_time\":1,\"context_metrics\":{\"size\":[]}}",
         "\"context_size\" must be a whole number"},
        {"{\"event\":\"task\"," TASK ",\"duration\":1}", "\"event\" is given twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        /* each bad event between two good ones: only it is rejected */
        char body[2048];
        snprintf(body, sizeof body, "[{" TASK ",\"duration\":1},%s,{" TASK ",\"duration\":2}]",
                 bad[i].event);
        am_events ev;
        am_err rc = decode(body, false, &ev);
        if (rc)
            fail_msg("case %zu (%s): %s", i, bad[i].event, am_errmsg());
        if (ev.n_recs != 2 || ev.n_rejects != 1 || ev.rejects[0].index != 1)
            fail_msg("case %zu (%s): %zu accepted, %zu rejected", i, bad[i].event, ev.n_recs,
                     ev.n_rejects);
        if (!strstr(ev.rejects[0].error, bad[i].msg))
            fail_msg("case %zu (%s): reason \"%s\" lacks \"%s\"", i, bad[i].event,
                     ev.rejects[0].error, bad[i].msg);
        AM_ASSERT_DBL_EQ(col(&ev.recs[1], "duration")->v.d, 2);
        am__events_free(&ev);
    }
    /* a long text is refused, with its length */
    size_t n = 20000;
    char *big = malloc(n + 200);
    int o = snprintf(big, 200, "{" TASK ",\"duration\":1,\"error_type\":\"");
    memset(big + o, 'x', n);
    memcpy(big + o + n, "\"}", 3);
    am_events ev;
    AM_ASSERT_OK(decode(big, false, &ev));
    AM_ASSERT_EQ(ev.n_rejects, 1);
    AM_ASSERT_CONTAINS(ev.rejects[0].error, "20000 bytes");
    am__events_free(&ev);
    free(big);
}

static void test_bad_bodies(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        am_err code;
        const char *msg;
    } bad[] = {
        {"", AM_EINVAL, "not JSON"},
        {"   ", AM_EINVAL, "not JSON"},
        {"[", AM_EINVAL, "not JSON"},
        {"[{\"event\":\"task\"},", AM_EINVAL, "not JSON"},
        {"[]", AM_EINVAL, "empty array"},
        {"42", AM_EINVAL, "must be a JSON object"},
        {"\"x\"", AM_EINVAL, "must be a JSON object"},
        {"null", AM_EINVAL, "must be a JSON object"},
        {"{\"a\":1}{", AM_EINVAL, "not JSON"},
        {"{\"a\":\"\xff\"}", AM_EINVAL, "not JSON: invalid UTF-8 byte 0xff"},
        {"[{\"a\":1}][]", AM_EINVAL, "more text after the array"},
        {"[{\"a\":1}]{}", AM_EINVAL, "more text after the array"},
        {"\n\n", AM_EINVAL, "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        am_events ev;
        am_err rc = decode(bad[i].body, false, &ev);
        if (rc != bad[i].code)
            fail_msg("case %zu: got %s, expected %s", i, am_err_name(rc), am_err_name(bad[i].code));
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].msg);
        am__events_free(&ev);
    }
    am_events ev;
    AM_ASSERT_ERR(decode("\n \n", true, &ev), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "no event");
    am__events_free(&ev);
    /* too many events */
    size_t n = AM_EVENTS_MAX + 1;
    char *body = malloc(n * 3 + 2);
    size_t o = 0;
    body[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        memcpy(body + o, "{},", 3);
        o += 3;
    }
    body[o - 1] = ']';
    AM_ASSERT_ERR(am__events_decode(body, o, false, NOW, &ev), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "more than 100000 events");
    am__events_free(&ev);
    free(body);
}

/* Objects one after another are events, as SERVE.md says; a bounded
   amount of text and members per event. */
static void test_sequences_and_bounds(void **state)
{
    (void)state;
    am_events ev;
    decode_ok("{" TASK ",\"duration\":1}{" TASK ",\"duration\":2} {\"event\":\"x\"}", &ev);
    AM_ASSERT_EQ(ev.n_events, 3);
    AM_ASSERT_EQ(ev.n_recs, 2);
    AM_ASSERT_EQ(ev.n_rejects, 1);
    AM_ASSERT_DBL_EQ(col(&ev.recs[1], "duration")->v.d, 2);
    am__events_free(&ev);

    /* a scalar among the objects is rejected alone */
    decode_ok("{" TASK ",\"duration\":1} 5", &ev);
    AM_ASSERT_EQ(ev.n_recs, 1);
    AM_ASSERT_CONTAINS(ev.rejects[0].error, "must be a JSON object");
    am__events_free(&ev);

    /* more members than any table has */
    char many[8192];
    size_t o = (size_t)snprintf(many, sizeof many, "[{" TASK ",\"duration\":1");
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, ",\"x%d\":%d", i, i);
    snprintf(many + o, sizeof many - o, "},{" TASK ",\"duration\":2}]");
    decode_ok(many, &ev);
    AM_ASSERT_EQ(ev.n_recs, 1);
    AM_ASSERT_CONTAINS(ev.rejects[0].error, "more than 160 fields");
    am__events_free(&ev);

    /* an event of more than AM_EVENT_MAX_BYTES of text */
    size_t n = AM_EVENT_MAX_BYTES;
    char *big = malloc(n + 200);
    o = (size_t)snprintf(big, 200, "[{" TASK ",\"duration\":1,\"x\":\"");
    memset(big + o, 'x', n);
    o += n;
    o += (size_t)snprintf(big + o, 200, "\"},{" TASK ",\"duration\":2}]");
    AM_ASSERT_OK(am__events_decode(big, o, false, NOW, &ev));
    AM_ASSERT_EQ(ev.n_recs, 1);
    AM_ASSERT_CONTAINS(ev.rejects[0].error, "at most 1048576 are taken per event");
    am__events_free(&ev);
    free(big);
}

static void test_tables_fit(void **state)
{
    (void)state;
    for (int i = 0; i < AM_T__N; i++) {
        const am_table *t = am_table_get((am_table_id)i);
        assert_true(t->n_cols <= 32); /* events.c's MAX_COLS */
        AM_ASSERT_STR_EQ(t->cols[0].name, "id");
        AM_ASSERT_STR_EQ(t->cols[1].name, "timestamp");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_table),          cmocka_unit_test(test_ndjson_and_partial),
        cmocka_unit_test(test_bad_events),           cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_sequences_and_bounds), cmocka_unit_test(test_tables_fit)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
