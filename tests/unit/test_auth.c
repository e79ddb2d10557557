/*
** test_auth.c: bearer and Basic credentials, base64, a table of malformed
** Authorization headers, every one refused; credential lists ("any of
** these") and a table of credentials refused when a route is added.
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
    static const char *bad_bearer[] = {NULL,         "",          "Bearer",
                                       "Bearer ",    "Bearer to", "Bearer tokk",
                                       "Basic dG9r", "tok",       "Bearer tok "};
    for (size_t i = 0; i < sizeof bad_bearer / sizeof *bad_bearer; i++)
        if (am__auth_check("tok", NULL, NULL, bad_bearer[i]))
            fail_msg("bearer case %zu accepted", i);
    static const char *bad_basic[] = {NULL,
                                      "Basic",
                                      "Basic !!!!",
                                      "Basic YWRtaW4=",
                                      "Basic YWRtaW46", /* admin: */
                                      "Basic YWRtaW46cGE=",
                                      "Bearer YWRtaW46cGE6c3M=",
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

/* One set with both a token and a Basic pair: either lets a request in. */
static void test_both_in_one(void **state)
{
    (void)state;
    assert_true(am__auth_check("tok", "admin", "pa:ss", "Bearer tok"));
    assert_true(am__auth_check("tok", "admin", "pa:ss", "Basic YWRtaW46cGE6c3M="));
    assert_false(am__auth_check("tok", "admin", "pa:ss", "Bearer YWRtaW46cGE6c3M="));
    assert_false(am__auth_check("tok", "admin", "pa:ss", "Basic dG9r"));
    assert_false(am__auth_check("tok", "admin", "pa:ss", NULL));
}

static void test_lists(void **state)
{
    (void)state;
    am_http_auth write = {.bearer_token = "w-token"};
    am_http_auth basic = {.basic_user = "admin", .basic_password = "pa:ss", .next = &write};
    am_http_auth read = {.bearer_token = "r-token", .next = &basic};
    am_creds c;
    AM_ASSERT_OK(am__creds_copy(&read, &c));
    AM_ASSERT_EQ(c.n, 3);
    assert_true(c.has_bearer && c.has_basic);
    assert_true(am__creds_check(&c, "Bearer r-token"));
    assert_true(am__creds_check(&c, "Bearer w-token"));
    assert_true(am__creds_check(&c, "Basic YWRtaW46cGE6c3M="));
    static const char *refused[] = {NULL,
                                    "",
                                    "Bearer ",
                                    "Bearer",
                                    "Bearer x-token",
                                    "Bearer r-tokenw-token",
                                    "Basic dG9r",
                                    "Bearer r-token w-token"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (am__creds_check(&c, refused[i]))
            fail_msg("list case %zu accepted", i);
    am__creds_free(&c);
    /* the strings were copied: the caller's may go */
    char tok[] = "abc";
    am_http_auth a = {.bearer_token = tok};
    AM_ASSERT_OK(am__creds_copy(&a, &c));
    tok[0] = 'x';
    assert_true(am__creds_check(&c, "Bearer abc"));
    am__creds_free(&c);
    /* nothing at all: open */
    am_http_auth none = {0};
    AM_ASSERT_OK(am__creds_copy(&none, &c));
    AM_ASSERT_EQ(c.n, 0);
    assert_true(am__creds_check(&c, NULL));
    AM_ASSERT_OK(am__creds_copy(NULL, &c));
    AM_ASSERT_EQ(c.n, 0);
}

/* Credentials refused when a route is added (issue 10 item 6: an empty
   token let "Bearer " in). */
static void test_bad_credentials(void **state)
{
    (void)state;
    static am_http_auth loop = {.bearer_token = "t", .next = &loop};
    static const am_http_auth tail_empty = {0};
    static const struct {
        am_http_auth a;
        const char *why;
    } bad[] = {
        {{.bearer_token = ""}, "bearer token is empty"},
        {{.bearer_token = "a b"}, "bearer token has a space"},
        {{.bearer_token = " tok"}, "bearer token has a space"},
        {{.bearer_token = "tok\r\nX: 1"}, "non-ASCII"},
        {{.bearer_token = "tok\n"}, "bearer token has a space, control"},
        {{.bearer_token = "t\xc3\xa9"}, "non-ASCII"},
        {{.basic_user = "admin"}, "both a user and a password"},
        {{.basic_password = "pw"}, "both a user and a password"},
        {{.basic_user = "", .basic_password = "pw"}, "Basic user is empty"},
        {{.basic_user = "admin", .basic_password = ""}, "Basic password is empty"},
        {{.basic_user = "ad:min", .basic_password = "pw"}, "contains ':'"},
        {{.basic_user = "admin", .basic_password = "p\rw"}, "control character"},
        {{.bearer_token = "ok", .next = &tail_empty}, "credentials 1: neither"},
        {{.bearer_token = "ok", .basic_user = "u", .basic_password = ""}, "password is empty"},
        {{.bearer_token = "t", .next = &loop}, "more than 16"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        am_creds c;
        am_err rc = am__creds_copy(&bad[i].a, &c);
        if (rc != AM_EINVAL || !strstr(am_errmsg(), bad[i].why))
            fail_msg("case %zu: %s \"%s\", expected AM_EINVAL \"%s\"", i, am_err_name(rc),
                     am_errmsg(), bad[i].why);
        AM_ASSERT_EQ(c.n, 0);
    }
    /* UTF-8 and spaces in a Basic user or password are fine (RFC 7617);
       ':' in a password too */
    am_http_auth ok = {.basic_user = "j\xc3\xb6rg m", .basic_password = "p\xc3\xa4:ss w"};
    am_creds c;
    AM_ASSERT_OK(am__creds_copy(&ok, &c));
    am__creds_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_base64), cmocka_unit_test(test_check),
                                       cmocka_unit_test(test_both_in_one),
                                       cmocka_unit_test(test_lists),
                                       cmocka_unit_test(test_bad_credentials)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
