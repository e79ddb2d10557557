/*
** test_statsd_parse.c: the StatsD / DogStatsD line parser -- a table of
** good lines with the fields they must give, a table of bad lines with
** the code and the words of the message, the datagram splitter and the
** name mapping.
*/
#include "testutil.h"
#include "serve/ingest/statsd_parse.h"

static int str_is(am_statsd_str s, const char *want)
{
    return s.len == strlen(want) && !memcmp(s.p, want, s.len);
}

static void test_good(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *name;
        am_statsd_type type;
        size_t n_values;
        double v0, v_last;
        uint64_t delta_mask;
        double rate;
        size_t n_tags;
        const char *tags; /* "k=v;k2=v2" of the parsed tags */
    } good[] = {
        {"hits:1|c", "hits", AM_STATSD_COUNTER, 1, 1, 1, 0, 1, 0, ""},
        {"hits:2.5|c|@0.1", "hits", AM_STATSD_COUNTER, 1, 2.5, 2.5, 0, 0.1, 0, ""},
        {"hits:0|c|@1", "hits", AM_STATSD_COUNTER, 1, 0, 0, 0, 1, 0, ""},
        {"a.b-c:+3|c", "a.b-c", AM_STATSD_COUNTER, 1, 3, 3, 0, 1, 0, ""},
        {"q:42|g", "q", AM_STATSD_GAUGE, 1, 42, 42, 0, 1, 0, ""},
        {"q:-5|g", "q", AM_STATSD_GAUGE, 1, -5, -5, 1, 1, 0, ""},
        {"q:+1.5e2|g", "q", AM_STATSD_GAUGE, 1, 150, 150, 1, 1, 0, ""},
        {"q:1:+2:-3|g", "q", AM_STATSD_GAUGE, 3, 1, -3, 6, 1, 0, ""},
        {"lat:320|ms|@0.5|#agent:planner,env:prod", "lat", AM_STATSD_TIMER, 1, 320, 320, 0, 0.5, 2,
         "agent=planner;env=prod"},
        {"lat:0.25|ms", "lat", AM_STATSD_TIMER, 1, 0.25, 0.25, 0, 1, 0, ""},
        {"sz:1:2:3|d", "sz", AM_STATSD_DISTRIBUTION, 3, 1, 3, 0, 1, 0, ""},
        {"sz:-7|h|#a", "sz", AM_STATSD_HISTOGRAM, 1, -7, -7, 0, 1, 1, "a="},
        {"users:alice|s", "users", AM_STATSD_SET, 1, 0, 0, 0, 1, 0, ""},
        {"users:x:y|s|#k:v:w", "users", AM_STATSD_SET, 2, 0, 0, 0, 1, 1, "k=v:w"},
        {"x:1|c|#a:1|c:abc123", "x", AM_STATSD_COUNTER, 1, 1, 1, 0, 1, 1, "a=1"},
        {"x:1|c|T1700000000|#a:", "x", AM_STATSD_COUNTER, 1, 1, 1, 0, 1, 1, "a="},
        {"x:1|c|e:it-false,cn-x|card:low", "x", AM_STATSD_COUNTER, 1, 1, 1, 0, 1, 0, ""},
        {"x:1|c|#\xc3\xa9t\xc3\xa9:\xe6\x97\xa5", "x", AM_STATSD_COUNTER, 1, 1, 1, 0, 1, 1,
         "\xc3\xa9t\xc3\xa9=\xe6\x97\xa5"},
        {"1st:5|c", "1st", AM_STATSD_COUNTER, 1, 5, 5, 0, 1, 0, ""},
        {"x:.5|h", "x", AM_STATSD_HISTOGRAM, 1, 0.5, 0.5, 0, 1, 0, ""},
        {"x:1e-3|ms|@1e-1", "x", AM_STATSD_TIMER, 1, 0.001, 0.001, 0, 0.1, 0, ""},
        {"x:123456789012345678|c", "x", AM_STATSD_COUNTER, 1, 123456789012345678.0,
         123456789012345678.0, 0, 1, 0, ""},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        am_statsd_line l;
        am_err rc = am__statsd_parse(good[i].line, strlen(good[i].line), &l);
        if (rc)
            fail_msg("\"%s\": %s %s", good[i].line, am_err_name(rc), am_errmsg());
        if (!str_is(l.name, good[i].name))
            fail_msg("\"%s\": name %.*s", good[i].line, (int)l.name.len, l.name.p);
        AM_ASSERT_EQ(l.type, good[i].type);
        AM_ASSERT_EQ(l.n_values, good[i].n_values);
        if (l.type != AM_STATSD_SET) {
            AM_ASSERT_DBL_EQ(l.values[0], good[i].v0);
            AM_ASSERT_DBL_EQ(l.values[l.n_values - 1], good[i].v_last);
        }
        AM_ASSERT_EQ(l.delta_mask, good[i].delta_mask);
        AM_ASSERT_DBL_EQ(l.sample_rate, good[i].rate);
        AM_ASSERT_EQ(l.n_tags, good[i].n_tags);
        char tags[256] = "";
        size_t o = 0;
        for (size_t k = 0; k < l.n_tags; k++)
            o += (size_t)snprintf(tags + o, sizeof tags - o, "%s%.*s=%.*s", k ? ";" : "",
                                  (int)l.tag_keys[k].len, l.tag_keys[k].p, (int)l.tag_values[k].len,
                                  l.tag_values[k].p);
        AM_ASSERT_STR_EQ(tags, good[i].tags);
    }
    am_statsd_line l;
    AM_ASSERT_OK(am__statsd_parse("users:x:y|s", 11, &l));
    assert_true(str_is(l.raw[0], "x") && str_is(l.raw[1], "y"));
    AM_ASSERT_OK(am__statsd_parse("a:1|c|#k:v,k2", 13, &l));
    assert_true(str_is(l.tags, "k:v,k2"));
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        am_err code;
        const char *msg;
    } bad[] = {
        {"", AM_EINVAL, "empty line"},
        {"hits", AM_EINVAL, "no ':'"},
        {"hits|c", AM_EINVAL, "no ':'"},
        {":1|c", AM_EINVAL, "empty metric name"},
        {"hits:1", AM_EINVAL, "missing '|type'"},
        {"hits:1|", AM_EINVAL, "missing metric type"},
        {"hits:1|x", AM_EINVAL, "unknown metric type \"x\""},
        {"hits:1|cc", AM_EINVAL, "unknown metric type"},
        {"hits:1|C", AM_EINVAL, "unknown metric type"},
        {"hits:1|m", AM_EINVAL, "unknown metric type"},
        {"hits:|c", AM_EINVAL, "empty value"},
        {"hits:1:|c", AM_EINVAL, "empty value"},
        {"hits::1|c", AM_EINVAL, "empty value"},
        {"hits:abc|c", AM_EINVAL, "bad value \"abc\""},
        {"hits:1x|c", AM_EINVAL, "bad value"},
        {"hits:nan|g", AM_EINVAL, "bad value"},
        {"hits:inf|g", AM_EINVAL, "bad value"},
        {"hits:0x10|g", AM_EINVAL, "bad value"},
        {"hits:1e999|g", AM_EINVAL, "bad value"},
        {"hits: 1|c", AM_EINVAL, "bad value"},
        {"hits:+|g", AM_EINVAL, "bad value"},
        {"hits:.|g", AM_EINVAL, "bad value"},
        {"hits:1e|ms", AM_EINVAL, "bad value"},
        {"hits:-1|c", AM_EINVAL, "negative counter"},
        {"hits:1|c|@0", AM_EINVAL, "bad sample rate"},
        {"hits:1|c|@1.5", AM_EINVAL, "bad sample rate"},
        {"hits:1|c|@-0.5", AM_EINVAL, "bad sample rate"},
        {"hits:1|c|@", AM_EINVAL, "bad sample rate"},
        {"hits:1|c|@abc", AM_EINVAL, "bad sample rate"},
        {"hits:1|c|@nan", AM_EINVAL, "bad sample rate"},
        {"hits:1|c|@0.5|@0.5", AM_EINVAL, "sample rate given twice"},
        {"hits:1|c|#a|#b", AM_EINVAL, "tags given twice"},
        {"hits:1|c|#", AM_EINVAL, "empty tag"},
        {"hits:1|c|#a,,b", AM_EINVAL, "empty tag"},
        {"hits:1|c|#a,", AM_EINVAL, "empty tag"},
        {"hits:1|c|#:v", AM_EINVAL, "empty tag key"},
        {"hits:1|c|#__name__:x", AM_EINVAL, "reserved"},
        {"hits:1|c|#-.x:1", AM_EINVAL, "reserved"},
        {"hits:1|c|#a:1,a:2", AM_EINVAL, "duplicate tag key \"a\""},
        {"hits:1|c|x", AM_EINVAL, "unknown field \"|x\""},
        {"hits:1|c|Tabc", AM_EINVAL, "unknown field"},
        {"hits:1|c|", AM_EINVAL, "empty field"},
        {"hits:1|c||#a", AM_EINVAL, "empty field"},
        {"__x:1|c", AM_EINVAL, "reserved"},
        {"..x:1|c", AM_EINVAL, "reserved"},
        {"a\tb:1|c", AM_EINVAL, "control character"},
        {"a:1|c|#k:\xff", AM_EINVAL, "not valid UTF-8"},
        {"\xc3(:1|c", AM_EINVAL, "not valid UTF-8"},
        {"_e{5,4}:title|text", AM_EPROTO, "not a metric"},
        {"_sc|redis.can_connect|0", AM_EPROTO, "not a metric"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        am_statsd_line l;
        am_err rc = am__statsd_parse(bad[i].line, strlen(bad[i].line), &l);
        if (rc != bad[i].code)
            fail_msg("\"%s\" gave %s, want %s", bad[i].line, am_err_name(rc),
                     am_err_name(bad[i].code));
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].msg);
        AM_ASSERT_CONTAINS(am_errmsg(), "statsd: ");
    }
    /* limits, built */
    char line[AM_STATSD_MAX_LINE + 64];
    am_statsd_line l;
    memset(line, 'n', AM_STATSD_MAX_NAME + 1);
    memcpy(line + AM_STATSD_MAX_NAME + 1, ":1|c", 5);
    AM_ASSERT_ERR(am__statsd_parse(line, strlen(line), &l), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "name longer than");
    line[AM_STATSD_MAX_NAME] = ':'; /* exactly the limit is fine */
    memcpy(line + AM_STATSD_MAX_NAME + 1, "1|c", 4);
    AM_ASSERT_OK(am__statsd_parse(line, strlen(line), &l));

    size_t o = (size_t)snprintf(line, sizeof line, "x:1|c|#");
    for (int i = 0; i <= AM_STATSD_MAX_TAGS; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, "%sk%d:v", i ? "," : "", i);
    AM_ASSERT_ERR(am__statsd_parse(line, o, &l), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "too many tags");

    o = (size_t)snprintf(line, sizeof line, "x");
    for (int i = 0; i <= AM_STATSD_MAX_VALUES; i++)
        o += (size_t)snprintf(line + o, sizeof line - o, ":%d", i);
    o += (size_t)snprintf(line + o, sizeof line - o, "|d");
    AM_ASSERT_ERR(am__statsd_parse(line, o, &l), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "too many values");

    o = (size_t)snprintf(line, sizeof line, "x:1|c|#k:");
    memset(line + o, 'v', AM_STATSD_MAX_TAG);
    o += AM_STATSD_MAX_TAG;
    AM_ASSERT_ERR(am__statsd_parse(line, o, &l), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "tag longer than");

    memset(line, 'a', sizeof line);
    AM_ASSERT_ERR(am__statsd_parse(line, AM_STATSD_MAX_LINE + 1, &l), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "line longer than");

    /* an embedded NUL within the given length */
    AM_ASSERT_ERR(am__statsd_parse("x:1|c\0|#a", 9, &l), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "NUL");
}

static void test_split(void **state)
{
    (void)state;
    const char *dg = "a:1|c\nb:2|g\r\r\n\n\r\nc:3|ms\r";
    const char *want[] = {"a:1|c", "b:2|g", "c:3|ms"};
    size_t pos = 0, n = 0;
    am_statsd_str line;
    while (am__statsd_next_line(dg, strlen(dg), &pos, &line)) {
        assert_true(n < 3);
        assert_true(str_is(line, want[n]));
        n++;
    }
    AM_ASSERT_EQ(n, 3);
    AM_ASSERT_EQ(pos, strlen(dg));
    pos = 0;
    assert_false(am__statsd_next_line("\n\r\n", 3, &pos, &line));
    pos = 0;
    assert_true(am__statsd_next_line("x:1|c", 5, &pos, &line));
    assert_true(str_is(line, "x:1|c"));
    assert_false(am__statsd_next_line("x:1|c", 5, &pos, &line));
}

static void test_map(void **state)
{
    (void)state;
    static const char *map[][2] = {
        {"a.b-c", "a_b_c"},
        {"1st", "_1st"},
        {"ok_Name9", "ok_Name9"},
        {"caf\xc3\xa9", "caf_"},
        {"a b/c", "a_b_c"},
        {"x\xe6\x97\xa5y", "x_y"},
        {"agent.tasks", "agent_tasks"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        char out[64];
        size_t n = am__statsd_map_name(map[i][0], strlen(map[i][0]), out, sizeof out);
        AM_ASSERT_STR_EQ(out, map[i][1]);
        AM_ASSERT_EQ(n, strlen(map[i][1]));
    }
    char small[4];
    AM_ASSERT_EQ(am__statsd_map_name("abcdef", 6, small, sizeof small), 6);
    AM_ASSERT_STR_EQ(small, "abc");
    AM_ASSERT_STR_EQ(am__statsd_type_name(AM_STATSD_TIMER), "ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_bad),
                                       cmocka_unit_test(test_split), cmocka_unit_test(test_map)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
