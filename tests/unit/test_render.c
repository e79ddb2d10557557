/*
** test_render.c: escaping for label values, HELP (both formats) and JSON.
*/
#include "testutil.h"
#include "util/render.h"

static void test_label_escape(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},           {"a\"b", "a\\\"b"},
        {"a\\b", "a\\\\b"},           {"a\nb", "a\\nb"},
        {"tab\tstays", "tab\tstays"}, {"\xc3\xa9", "\xc3\xa9"},
        {"\\\"\n", "\\\\\\\"\\n"},    {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[64];
        size_t n = am__escape_label(out, cases[i].in, strlen(cases[i].in));
        AM_ASSERT_EQ(n, am__escape_label(NULL, cases[i].in, strlen(cases[i].in)));
        out[n] = '\0';
        AM_ASSERT_STR_EQ(out, cases[i].out);
    }
}

/* Label values as the exposition parser and the exemplar readers meet them,
   just past the opening quote; in place and into another buffer. */
static void test_label_unescape(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        size_t end;
    } good[] = {
        {"plain\"", "plain", 5},
        {"\"", "", 0},
        {"a\\\"b\"", "a\"b", 4},
        {"a\\\\b\"", "a\\b", 4},
        {"a\\nb\"", "a\nb", 4},
        {"\\\\\\\"\\n\"", "\\\"\n", 6},
        {"\xc3\xa9\",x=\"y\"", "\xc3\xa9", 2},
        {"tab\tstays\"", "tab\tstays", 9},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char in[64], out[64];
        size_t len = 99, end = 99;
        snprintf(in, sizeof in, "%s", good[i].in);
        AM_ASSERT_OK(am__unescape_label(out, in, &len, &end));
        AM_ASSERT_EQ(end, good[i].end);
        AM_ASSERT_EQ(len, strlen(good[i].out));
        AM_ASSERT_STR_EQ(out, good[i].out);
        len = end = 99;
        AM_ASSERT_OK(am__unescape_label(in, in, &len, &end)); /* in place */
        AM_ASSERT_EQ(end, good[i].end);
        AM_ASSERT_STR_EQ(in, good[i].out);
    }
    /* bad input: *end at the offending backslash, or at the NUL */
    static const struct {
        const char *in;
        size_t end;
        char at;
    } bad[] = {
        {"", 0, '\0'}, /* no closing quote */
        {"unterminated", 12, '\0'},
        {"a\\\"", 3, '\0'},   /* the only quote is escaped */
        {"a\\tb\"", 1, '\\'}, /* \t is no label escape */
        {"\\x\"", 0, '\\'},
        {"\\'\"", 0, '\\'},
        {"ab\\", 2, '\\'}, /* a backslash, then the end */
        {"ok\\n\\u0041\"", 4, '\\'},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char in[64], out[64];
        size_t len = 99, end = 99;
        snprintf(in, sizeof in, "%s", bad[i].in);
        AM_ASSERT_ERR(am__unescape_label(out, in, &len, &end), AM_EPROTO);
        AM_ASSERT_EQ(len, 99);
        AM_ASSERT_EQ(end, bad[i].end);
        AM_ASSERT_EQ(in[end], bad[i].at);
        if (bad[i].at) /* the escape's byte, left as it was */
            AM_ASSERT_EQ(in[end + 1], bad[i].in[end + 1]);
        end = 99;
        AM_ASSERT_ERR(am__unescape_label(in, in, &len, &end), AM_EPROTO); /* in place */
        AM_ASSERT_EQ(end, bad[i].end);
        AM_ASSERT_EQ(in[end], bad[i].at);
    }
}

static void test_pairs(void **state)
{
    (void)state;
    const char *names[] = {"agent", "q"}, *values[] = {"planner:1", "say \"hi\""};
    char out[128];
    size_t n = am__render_pairs(out, names, values, 2, 1);
    out[n] = '\0';
    AM_ASSERT_STR_EQ(out, "agent=\"planner:1\",q=\"say \\\"hi\\\"\"");
    const char *inter[] = {"k1", "v1", "k2", "v2"};
    n = am__render_pairs(out, inter, inter + 1, 2, 2);
    out[n] = '\0';
    AM_ASSERT_STR_EQ(out, "k1=\"v1\",k2=\"v2\"");
    AM_ASSERT_EQ(am__render_pairs(NULL, names, values, 0, 1), 0);
}

static void test_help_and_json(void **state)
{
    (void)state;
    am_buf b;
    am_buf_init(&b, 0);
    am__buf_help(&b, "a\\b\n\"c\"", false);
    AM_ASSERT_STR_EQ(b.p, "a\\\\b\\n\"c\"");
    b.len = 0;
    am__buf_help(&b, "a\\b\n\"c\"", true);
    AM_ASSERT_STR_EQ(b.p, "a\\\\b\\n\\\"c\\\"");
    b.len = 0;
    am__buf_json_string(&b, "q\"\\\n\r\t\x01\xc3\xa9", 9);
    AM_ASSERT_STR_EQ(b.p, "\"q\\\"\\\\\\n\\r\\t\\u0001\xc3\xa9\"");
    am_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_escape), cmocka_unit_test(test_label_unescape),
        cmocka_unit_test(test_pairs), cmocka_unit_test(test_help_and_json)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
