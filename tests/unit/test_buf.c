/*
** test_buf.c: the bounded buffer -- growth, NUL termination, the cap and
** its sticky error, and take().
*/
#include "testutil.h"
#include "util/alloc.h"
#include "util/buf.h"

static void test_grow(void **state)
{
    (void)state;
    am_buf b;
    am_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        am_buf_puts(&b, "abc");
    am_buf_printf(&b, "%d-%s", 42, "x");
    AM_ASSERT_EQ(am_buf_err(&b), AM_OK);
    AM_ASSERT_EQ(b.len, 30004);
    AM_ASSERT_STR_EQ(b.p + 30000, "42-x");
    size_t len;
    char *p = am_buf_take(&b, &len);
    AM_ASSERT_EQ(len, 30004);
    AM_ASSERT_EQ(b.p, NULL);
    am__free(p);
}

static void test_printf_long(void **state)
{
    (void)state;
    am_buf b;
    am_buf_init(&b, 0);
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    am_buf_printf(&b, "<%s>", big);
    AM_ASSERT_EQ(b.len, 1001);
    AM_ASSERT_EQ(b.p[1000], '>');
    am_buf_free(&b);
}

static void test_cap_is_sticky(void **state)
{
    (void)state;
    am_buf b;
    am_buf_init(&b, 16);
    am_buf_puts(&b, "0123456789");
    AM_ASSERT_EQ(am_buf_err(&b), AM_OK);
    am_buf_puts(&b, "0123456789");
    AM_ASSERT_EQ(am_buf_err(&b), AM_ELIMIT);
    am_buf_puts(&b, "x"); /* ignored */
    AM_ASSERT_EQ(b.len, 10);
    AM_ASSERT_EQ(am_buf_take(&b, NULL), NULL); /* never handed out truncated */
}

static void test_empty_take(void **state)
{
    (void)state;
    am_buf b;
    am_buf_init(&b, 0);
    size_t len = 99;
    char *p = am_buf_take(&b, &len);
    assert_non_null(p);
    AM_ASSERT_EQ(len, 0);
    AM_ASSERT_STR_EQ(p, "");
    am__free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow), cmocka_unit_test(test_printf_long),
        cmocka_unit_test(test_cap_is_sticky), cmocka_unit_test(test_empty_take)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
