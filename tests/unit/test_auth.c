/*
** test_auth.c: bearer and Basic credentials, base64, and a table of
** malformed Authorization headers, every one refused.
*/
#include "testutil.h"
#include "http/auth.h"

static void test_base64(void **state)
{
    (void)state;
    char out[64];
    AM_ASSERT_EQ(am__base64_decode("YWRtaW46cGE6c3M=", 16, out), 11);
    AM_ASSERT_STR_EQ(out, "admin:pa:ss");
    AM_ASSERT_EQ(am__base64_decode("", 0, out), 0);
    AM_ASSERT_EQ(am__base64_decode("YQ", 2, out), 1);
    AM_ASSERT_EQ(am__base64_decode("Y", 1, out), (size_t)-1);
    AM_ASSERT_EQ(am__base64_decode("YW*=", 4, out), (size_t)-1);
}

static void test_check(void **state)
{
    (void)state;
    assert_true(am__auth_check(NULL, NULL, NULL, NULL));
    assert_true(am__auth_check("tok", NULL, NULL, "Bearer tok"));
    assert_true(am__auth_check("tok", NULL, NULL, "bearer   tok"));
    assert_true(am__auth_check(NULL, "admin", "pa:ss", "Basic YWRtaW46cGE6c3M="));
    static const char *bad_bearer[] = {NULL, "", "Bearer", "Bearer ", "Bearer to", "Bearer tokk",
                                       "Basic dG9r", "tok", "Bearer tok "};
    for (size_t i = 0; i < sizeof bad_bearer / sizeof *bad_bearer; i++)
        if (am__auth_check("tok", NULL, NULL, bad_bearer[i]))
            fail_msg("bearer case %zu accepted", i);
    static const char *bad_basic[] = {NULL, "Basic", "Basic !!!!", "Basic YWRtaW4=",
                                      "Basic YWRtaW46",  /* admin: */
                                      "Basic YWRtaW46cGE=", "Bearer YWRtaW46cGE6c3M=",
                                      "Basic YWRtaW46cGE6c3M"};
    for (size_t i = 0; i < sizeof bad_basic / sizeof *bad_basic; i++) {
        bool ok = am__auth_check(NULL, "admin", "pa:ss", bad_basic[i]);
        /* the last one lacks its padding, which we accept */
        if (ok != (i == sizeof bad_basic / sizeof *bad_basic - 1))
            fail_msg("basic case %zu: %d", i, ok);
    }
    char huge[4000] = "Basic ";
    memset(huge + 6, 'A', sizeof huge - 7);
    huge[sizeof huge - 1] = '\0';
    assert_false(am__auth_check(NULL, "admin", "x", huge));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_base64), cmocka_unit_test(test_check)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
