/*
** test_labels.c: canonical label text -- sorted and escaped one way, split
** back the other (a round trip over awkward values), and a table of text
** that is not canonical.
*/
#include "testutil.h"
#include "util/buf.h"
#include "serve/store/labels.h"

static void test_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"zone", "agent", "q"};
    const char *values[] = {"eu\n\"west\"", "", "a\\b,c}={"};
    am_buf b;
    am_buf_init(&b, 0);
    am__labels_canonical(&b, names, values, 3);
    AM_ASSERT_STR_EQ(b.p, "{agent=\"\",q=\"a\\\\b,c}={\",zone=\"eu\\n\\\"west\\\"\"}");
    char scratch[256];
    const char *n[8], *v[8];
    size_t k;
    AM_ASSERT_OK(am__labels_split(b.p, scratch, strlen(b.p) + 1, n, v, 8, &k));
    AM_ASSERT_EQ(k, 3);
    AM_ASSERT_STR_EQ(n[0], "agent");
    AM_ASSERT_STR_EQ(v[0], "");
    AM_ASSERT_STR_EQ(n[1], "q");
    AM_ASSERT_STR_EQ(v[1], "a\\b,c}={");
    AM_ASSERT_STR_EQ(n[2], "zone");
    AM_ASSERT_STR_EQ(v[2], "eu\n\"west\"");
    am_buf_free(&b);
    AM_ASSERT_OK(am__labels_split("", scratch, 1, n, v, 8, &k));
    AM_ASSERT_EQ(k, 0);
    AM_ASSERT_OK(am__labels_split("{}", scratch, 3, n, v, 8, &k));
    AM_ASSERT_EQ(k, 0);
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        am_err code;
    } bad[] = {
        {"a=\"1\"", AM_EINVAL},
        {"{a=\"1\"", AM_EINVAL},
        {"{a=1}", AM_EINVAL},
        {"{=\"1\"}", AM_EINVAL},
        {"{1a=\"1\"}", AM_EINVAL},
        {"{a=\"1}", AM_EINVAL},
        {"{a=\"\\x\"}", AM_EINVAL},
        {"{a=\"1\",}", AM_EINVAL},
        {"{a=\"1\"b=\"2\"}", AM_EINVAL},
        {"{a=\"1\"}x", AM_EINVAL},
        {"{a-b=\"1\"}", AM_EINVAL},
        {"{a =\"1\"}", AM_EINVAL},
        {"{a=\"1\",b=\"2\",c=\"3\"}", AM_ELIMIT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char scratch[64];
        const char *n[2], *v[2];
        size_t k;
        am_err rc = am__labels_split(bad[i].text, scratch, sizeof scratch, n, v, 2, &k);
        if (rc != bad[i].code)
            fail_msg("\"%s\" gave %s", bad[i].text, am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), "label text");
    }
    char tiny[4];
    const char *n[2], *v[2];
    size_t k;
    AM_ASSERT_ERR(am__labels_split("{abc=\"1\"}", tiny, sizeof tiny, n, v, 2, &k), AM_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip),
                                       cmocka_unit_test(test_bad)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
