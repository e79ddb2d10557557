/*
** test_query.c: query strings -- decoding, repeated and empty pieces, and a
** table of bad inputs refused with a message.
*/
#include "testutil.h"
#include "util/query.h"

static void test_good(void **state)
{
    (void)state;
    am_query q;
    const char *s = "a=1&b=x%20y+z&&c&match%5B%5D=up%7Bjob%3D%22x%22%7D&e=&=v&u=%C3%A9";
    AM_ASSERT_OK(am__query_parse(s, strlen(s), &q));
    AM_ASSERT_EQ(q.n, 7);
    const char *want[][2] = {
        {"a", "1"}, {"b", "x y z"}, {"c", ""},        {"match[]", "up{job=\"x\"}"},
        {"e", ""},  {"", "v"},      {"u", "\xc3\xa9"}};
    for (size_t i = 0; i < 7; i++) {
        AM_ASSERT_STR_EQ(q.names[i], want[i][0]);
        AM_ASSERT_STR_EQ(q.values[i], want[i][1]);
    }
    am__query_free(&q);
    AM_ASSERT_OK(am__query_parse("", 0, &q));
    AM_ASSERT_EQ(q.n, 0);
    am__query_free(&q);
    AM_ASSERT_OK(am__query_parse("&&&", 3, &q));
    AM_ASSERT_EQ(q.n, 0);
    am__query_free(&q);
}

static void test_bad(void **state)
{
    (void)state;
    static const char *bad[] = {"a=%",   "a=%2",  "a=%zz", "a=%0",        "%=1",
                                "a=%00", "a=%ff", "a=%c3", "a=%ed%a0%80", "b=1&a=%G1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        am_query q;
        am_err rc = am__query_parse(bad[i], strlen(bad[i]), &q);
        if (rc != AM_EINVAL)
            fail_msg("\"%s\" gave %s", bad[i], am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), "query parameter");
        AM_ASSERT_EQ(q.n, 0);
        assert_null(q.mem);
    }
    am_query q;
    char many[2000];
    size_t o = 0;
    for (int i = 0; i <= AM_QUERY_MAX_PARAMS; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "a&");
    AM_ASSERT_ERR(am__query_parse(many, strlen(many), &q), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "more than");
    /* an embedded NUL within the given length */
    AM_ASSERT_ERR(am__query_parse("a=b\0c", 5, &q), AM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_bad)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
