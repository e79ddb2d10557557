/*
** test_log_lines.c: agentmon's JSON log lines -> log_lines records
** (serve/ingest/log_lines.c): lines written by the real logger (src/log)
** with a trace context and fields, ids stable across resends, UUID trace
** ids made hex, and a table of bad lines each rejected alone.
*/
#include <math.h>
#include <stdio.h>

#include "testutil.h"
#include "agentmon/log.h"
#include "agentmon/trace.h"
#include "util/buf.h"
#include "serve/ingest/log_lines.h"

#define NOW 1700000000.0

static int capture(void *ud, const char *line, size_t len)
{
    am_buf *b = ud;
    am_buf_append(b, line, len);
    return 0;
}

/* What the logger really writes: two lines, one with a trace. */
static char *logged(am_trace_ctx *ctx)
{
    static am_buf b;
    am_buf_free(&b);
    am_buf_init(&b, 0);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.write_fn = capture;
    o.userdata = &b;
    o.flags = AM_LOG_NO_TRACE;
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    am_trace_new(ctx);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "coder:1", "task done \"quoted\"", AM_F_TRACE(ctx),
                             AM_F_INT("task", 7), AM_F_STR("note", "a\tb"),
                             AM_F_DOUBLE("secs", 0.25)));
    AM_ASSERT_OK(AM_LOG_WARNING(lg, "planner:1", "no trace here"));
    am_logger_free(lg);
    return b.p;
}

static const am_value *col(const am_record *r, int c)
{
    return &r->vals[c];
}

static void test_real_lines(void **state)
{
    (void)state;
    am_trace_ctx ctx;
    char *text = strdup(logged(&ctx));
    char *again = strdup(text);
    char hex[AM_TRACE_ID_HEX + 1];
    am_trace_id_hex(&ctx, hex);
    am_events ev;
    AM_ASSERT_OK(am__log_lines_decode(text, strlen(text), NOW, &ev));
    AM_ASSERT_EQ(ev.n_events, 2);
    AM_ASSERT_EQ(ev.n_recs, 2);
    const am_record *r = &ev.recs[0];
    AM_ASSERT_EQ(r->table, AM_T_LOG);
    AM_ASSERT_STR_EQ(col(r, AM_LOG_LEVEL)->v.s, "INFO");
    AM_ASSERT_STR_EQ(col(r, AM_LOG_COMPONENT)->v.s, "coder:1");
    AM_ASSERT_STR_EQ(col(r, AM_LOG_MESSAGE)->v.s, "task done \"quoted\"");
    AM_ASSERT_STR_EQ(col(r, AM_LOG_TRACE_ID)->v.s, hex);
    AM_ASSERT_EQ(strlen(col(r, AM_LOG_SPAN_ID)->v.s), AM_SPAN_ID_HEX);
    assert_true(col(r, AM_LOG_AGENT_ID)->is_null);
    /* the other members, their text as written (escapes kept) */
    AM_ASSERT_STR_EQ(col(r, AM_LOG_FIELDS)->v.s, "{\"task\":7,\"note\":\"a\\tb\",\"secs\":0.25}");
    assert_true(fabs(col(r, AM_LOG_TIMESTAMP)->v.d - am_unix_time()) < 60);
    assert_true(col(&ev.recs[1], AM_LOG_TRACE_ID)->is_null);
    assert_true(col(&ev.recs[1], AM_LOG_FIELDS)->is_null);
    /* a resend makes the same ids; two lines, two ids */
    am_events ev2;
    AM_ASSERT_OK(am__log_lines_decode(again, strlen(again), NOW + 5, &ev2));
    AM_ASSERT_STR_EQ(col(&ev2.recs[0], AM_LOG_ID)->v.s, col(r, AM_LOG_ID)->v.s);
    AM_ASSERT_STR_EQ(col(&ev2.recs[1], AM_LOG_ID)->v.s, col(&ev.recs[1], AM_LOG_ID)->v.s);
    assert_true(strcmp(col(r, AM_LOG_ID)->v.s, col(&ev.recs[1], AM_LOG_ID)->v.s) != 0);
    AM_ASSERT_EQ(strlen(col(r, AM_LOG_ID)->v.s), 32);
    am__events_free(&ev);
    am__events_free(&ev2);
    free(text);
    free(again);
}

static void test_shapes(void **state)
{
    (void)state;
    char body[] =
        "\n{\"message\":\"bare\"}\n\r\n"
        "{\"timestamp\":1700000001.5,\"trace_id\":\"4BF92F35-77B3-4DA6-A3CE-929D0E0E4736\","
        "\"agent_id\":\"coder:1\",\"nested\":{\"a\":[1,2]},\"level\":null}\n";
    am_events ev;
    AM_ASSERT_OK(am__log_lines_decode(body, strlen(body), NOW, &ev));
    AM_ASSERT_EQ(ev.n_recs, 2);
    AM_ASSERT_DBL_EQ(ev.recs[0].vals[AM_LOG_TIMESTAMP].v.d, NOW);
    assert_true(ev.recs[0].vals[AM_LOG_FIELDS].is_null);
    const am_record *r = &ev.recs[1];
    AM_ASSERT_DBL_EQ(r->vals[AM_LOG_TIMESTAMP].v.d, 1700000001.5);
    AM_ASSERT_STR_EQ(r->vals[AM_LOG_TRACE_ID].v.s, "4bf92f3577b34da6a3ce929d0e0e4736");
    AM_ASSERT_STR_EQ(r->vals[AM_LOG_AGENT_ID].v.s, "coder:1");
    AM_ASSERT_STR_EQ(r->vals[AM_LOG_FIELDS].v.s, "{\"nested\":{\"a\":[1,2]}}");
    assert_true(r->vals[AM_LOG_LEVEL].is_null);
    am__events_free(&ev);
}

static void test_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"[1]", "must be a JSON object"},
        {"\"x\"", "must be a JSON object"},
        {"{\"message\":", "not JSON"},
        {"{\"message\":\"a\"} x", "not JSON"},
        {"{\"message\":1}", "\"message\" must be a string"},
        {"{\"level\":true}", "\"level\" must be a string"},
        {"{\"message\":\"a\",\"message\":\"b\"}", "given twice"},
        {"{\"timestamp\":\"yesterday\"}", "timestamp"},
        {"{\"timestamp\":-1}", "\"timestamp\" must be RFC 3339"},
        {"{\"timestamp\":1e300}", "\"timestamp\" must be RFC 3339"},
        {"{\"timestamp\":null}", "\"timestamp\" must not be null"},
        {"{\"timestamp\":[1]}", "\"timestamp\" must be RFC 3339"},
        {"{\"trace_id\":\"xyz\"}", "\"trace_id\" must be 32 hex digits"},
        {"{\"trace_id\":\"00000000000000000000000000000000\"}", "\"trace_id\" must be 32 hex"},
        {"{\"trace_id\":7}", "\"trace_id\" must be a string"},
        {"{\"component\":\"a\\u0000b\"}", "NUL character"},
        {"{\"message\":\"\\ud800\"}", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* each bad line between two good ones: only it is rejected */
        char body[512];
        snprintf(body, sizeof body, "{\"message\":\"ok\"}\n%s\n{\"message\":\"ok2\"}\n",
                 bad[i].line);
        am_events ev;
        AM_ASSERT_OK(am__log_lines_decode(body, strlen(body), NOW, &ev));
        if (ev.n_rejects != 1 || ev.n_recs != 2)
            fail_msg("line %s: %zu rejects, %zu records", bad[i].line, ev.n_rejects, ev.n_recs);
        AM_ASSERT_EQ(ev.rejects[0].index, 1);
        if (!strstr(ev.rejects[0].error, bad[i].msg))
            fail_msg("line %s: \"%s\" lacks \"%s\"", bad[i].line, ev.rejects[0].error, bad[i].msg);
        am__events_free(&ev);
    }
    /* too many members; other members too long as JSON */
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_putc(&b, '{');
    for (int i = 0; i < 100; i++)
        am_buf_printf(&b, "%s\"k%d\":1", i ? "," : "", i);
    am_buf_puts(&b, "}\n{\"a\":\"");
    for (int i = 0; i < 17000; i++)
        am_buf_putc(&b, 'x');
    am_buf_puts(&b, "\"}\n{\"message\":\"");
    for (int i = 0; i < 17000; i++)
        am_buf_putc(&b, 'x');
    am_buf_puts(&b, "\"}\n");
    am_events ev;
    AM_ASSERT_OK(am__log_lines_decode(b.p, b.len, NOW, &ev));
    AM_ASSERT_EQ(ev.n_recs, 0);
    AM_ASSERT_EQ(ev.n_rejects, 3);
    AM_ASSERT_CONTAINS(ev.rejects[0].error, "more than 96 members");
    AM_ASSERT_CONTAINS(ev.rejects[1].error, "more than 16384 bytes");
    AM_ASSERT_CONTAINS(ev.rejects[2].error, "\"message\" is 17000 bytes");
    am__events_free(&ev);
    am_buf_free(&b);
    /* whole bodies */
    char blank[] = "\n \n";
    AM_ASSERT_ERR(am__log_lines_decode(blank, strlen(blank), NOW, &ev), AM_EINVAL);
    am__events_free(&ev);
    AM_ASSERT_ERR(am__log_lines_decode(blank, 0, NOW, &ev), AM_EINVAL);
    am__events_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_lines),
                                       cmocka_unit_test(test_shapes),
                                       cmocka_unit_test(test_bad_lines)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
