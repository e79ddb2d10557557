/*
** test_validate.c: the data model's rules -- tables of good and bad names,
** label names, UTF-8 and JSON aliases, each bad one refused with AM_EINVAL
** and a message that names it.
*/
#include "testutil.h"
#include "util/validate.h"

static void test_metric_names(void **state)
{
    (void)state;
    static const char *good[] = {
        "a", "_a", ":a", "a:b", "agent_task_duration_seconds", "A9_:x", "messaging_queue_length"};
    static const char *bad[] = {"",  "9a",  "a-b", "a.b", "a b", "__reserved",
                                "é", "a\n", "a{}", "a\"", "a=b"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        AM_ASSERT_OK(am__check_metric_name(good[i], "metric name"));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        AM_ASSERT_ERR(am__check_metric_name(bad[i], "metric name"), AM_EINVAL);
        AM_ASSERT_CONTAINS(am_errmsg(), "metric name");
    }
    AM_ASSERT_ERR(am__check_metric_name(NULL, "metric name"), AM_EINVAL);
}

static void test_label_names(void **state)
{
    (void)state;
    static const char *good[] = {"a", "_a", "agent_id", "le", "A1"};
    static const char *bad[] = {"", "1a", "a:b", "__name__", "__x", "a-b", "a.b", "ü"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        AM_ASSERT_OK(am__check_label_name(good[i], "label name"));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        AM_ASSERT_ERR(am__check_label_name(bad[i], "label name"), AM_EINVAL);
        AM_ASSERT_CONTAINS(am_errmsg(), "label name");
    }
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        int ok;
        size_t runes;
    } cases[] = {
        {"", 0, 1, 0},
        {"abc", 3, 1, 3},
        {"\xc3\xa9", 2, 1, 1},                 /* é */
        {"\xe6\x97\xa5\xe6\x9c\xac", 6, 1, 2}, /* 日本 */
        {"\xf0\x9f\x98\x80", 4, 1, 1},         /* emoji */
        {"\xef\xbf\xbf", 3, 1, 1},             /* U+FFFF */
        {"\xf4\x8f\xbf\xbf", 4, 1, 1},         /* U+10FFFF */
        {"\x80", 1, 0, 0},                     /* stray continuation */
        {"\xc3", 1, 0, 0},                     /* truncated */
        {"\xc0\xaf", 2, 0, 0},                 /* overlong / */
        {"\xc1\xbf", 2, 0, 0},                 /* overlong */
        {"\xe0\x80\xaf", 3, 0, 0},             /* overlong 3-byte */
        {"\xed\xa0\x80", 3, 0, 0},             /* surrogate D800 */
        {"\xf0\x80\x80\xaf", 4, 0, 0},         /* overlong 4-byte */
        {"\xf4\x90\x80\x80", 4, 0, 0},         /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0, 0},         /* invalid lead */
        {"\xff", 1, 0, 0},
        {"a\xc3(", 3, 0, 0}, /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t runes = 99;
        int ok = am__utf8_valid(cases[i].s, cases[i].n, &runes);
        if (ok != cases[i].ok)
            fail_msg("case %zu: got %d", i, ok);
        if (ok)
            AM_ASSERT_EQ(runes, cases[i].runes);
    }
}

static void test_text(void **state)
{
    (void)state;
    AM_ASSERT_OK(am__check_text("fine", 10, "help"));
    AM_ASSERT_ERR(am__check_text(NULL, 10, "help"), AM_EINVAL);
    AM_ASSERT_ERR(am__check_text("toolong", 3, "help"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "longer");
    AM_ASSERT_ERR(am__check_text("bad\xff", 10, "help"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "UTF-8");
}

static void test_json_name(void **state)
{
    (void)state;
    AM_ASSERT_OK(am__check_json_name("messaging.queue_length"));
    AM_ASSERT_OK(am__check_json_name("messaging.nacks.total"));
    AM_ASSERT_ERR(am__check_json_name(".a"), AM_EINVAL);
    AM_ASSERT_ERR(am__check_json_name(""), AM_EINVAL);
    AM_ASSERT_ERR(am__check_json_name("a b"), AM_EINVAL);
    AM_ASSERT_ERR(am__check_json_name("a\"b"), AM_EINVAL);
}

static void test_error_strings(void **state)
{
    (void)state;
    for (int e = AM_OK; e <= AM_ERR_LAST; e++) {
        assert_non_null(am_strerror((am_err)e));
        AM_ASSERT_LACKS(am_strerror((am_err)e), "unknown");
        AM_ASSERT_LACKS(am_err_name((am_err)e), "UNKNOWN");
    }
    AM_ASSERT_STR_EQ(am_err_name(AM_EINVAL), "AM_EINVAL");
    AM_ASSERT_STR_EQ(am_strerror((am_err)9999), "unknown error");
    AM_ASSERT_STR_EQ(am_err_name((am_err)9999), "AM_UNKNOWN");
    AM_ASSERT_STR_EQ(am_version(), AM_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metric_names), cmocka_unit_test(test_label_names),
        cmocka_unit_test(test_utf8),         cmocka_unit_test(test_text),
        cmocka_unit_test(test_json_name),    cmocka_unit_test(test_error_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
