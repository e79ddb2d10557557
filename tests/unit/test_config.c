/*
** test_config.c: the YAML config file of `agentmon serve` -- values,
** lists, dashes and underscores, and a table of bad files each refused
** with the line and the problem.
*/
#include "testutil.h"
#include "serve/config.h"

static const char *const KNOWN[] = {"--listen", "--store", "--scrape", "--retention",
                                    "--statsd-unix"};
static const char *const LISTS[] = {"--scrape"};

static am_err parse(const char *text, am_config *c)
{
    return am__config_parse(text, strlen(text), KNOWN, 5, LISTS, 1, c);
}

static void test_good(void **state)
{
    (void)state;
    am_config c;
    AM_ASSERT_OK(parse("# the collector\n"
                       "listen: 127.0.0.1:9470\n"
                       "store: 'postgres://a:b@127.0.0.1/db'\n"
                       "scrape:\n  - http://a/metrics\n  - http://b/metrics\n"
                       "statsd_unix: /run/statsd.sock\n"
                       "retention: 30d\n",
                       &c));
    AM_ASSERT_EQ(c.n, 6);
    const char *want[][2] = {
        {"--listen", "127.0.0.1:9470"},        {"--store", "postgres://a:b@127.0.0.1/db"},
        {"--scrape", "http://a/metrics"},      {"--scrape", "http://b/metrics"},
        {"--statsd-unix", "/run/statsd.sock"}, {"--retention", "30d"}};
    for (size_t i = 0; i < 6; i++) {
        AM_ASSERT_STR_EQ(c.names[i], want[i][0]);
        AM_ASSERT_STR_EQ(c.values[i], want[i][1]);
    }
    am__config_free(&c);
    AM_ASSERT_OK(parse("scrape: http://one/metrics\n", &c));
    AM_ASSERT_EQ(c.n, 1);
    am__config_free(&c);
    /* Prometheus' remote_write: is skipped whole (export/rw_config.c reads it) */
    AM_ASSERT_OK(parse("listen: a\nremote_write:\n  - url: http://x/api/v1/write\n"
                       "    queue_config: {max_shards: 2}\nstore: b\n",
                       &c));
    AM_ASSERT_EQ(c.n, 2);
    assert_true(c.has_remote_write);
    assert_false(c.has_sections);
    am__config_free(&c);
    AM_ASSERT_OK(parse("", &c)); /* an empty file sets nothing */
    AM_ASSERT_EQ(c.n, 0);
    am__config_free(&c);
    AM_ASSERT_OK(parse("{}", &c));
    AM_ASSERT_EQ(c.n, 0);
    am__config_free(&c);
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"listen", "must be a mapping"},
        {"- a\n- b\n", "must be a mapping"},
        {"colour: red\n", "line 1: unknown option \"colour\""},
        {"listen: a\nlisten: b\n", "line 2: \"listen\" is given twice"},
        {"listen: [a, b]\n", "takes one value, not a list"},
        {"listen:\n  host: a\n", "must not be a mapping"},
        {"scrape:\n  - {url: a}\n", "must not be a mapping"},
        {"scrape:\n  - [a]\n", "must be a mapping"},
        {"listen: &x a\nstore: *x\n", "not supported"},
        {"listen: a\n---\nstore: b\n", "second document"},
        {"listen: 'a\n", "line"},
        {"listen: a\n  bad indent: b\n", "line 2"},
        {"\"\": a\n", "empty or overlong key"},
        {"? [a]\n: b\n", "must be a mapping"},
        {"listen: \"a\\0b\"\n", "NUL"},
        {"\t- x", "line 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        am_config c;
        am_err rc = parse(bad[i].text, &c);
        if (rc != AM_EINVAL)
            fail_msg("case %zu gave %s", i, am_err_name(rc));
        if (!strstr(am_errmsg(), bad[i].msg) || !strstr(am_errmsg(), "config:"))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, am_errmsg(), bad[i].msg);
        AM_ASSERT_EQ(c.n, 0);
        assert_null(c.mem);
    }
    am_config c;
    AM_ASSERT_ERR(am__config_load("/nonexistent/agentmon.yaml", KNOWN, 5, LISTS, 1, &c), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "/nonexistent/agentmon.yaml");
    char big[300 * 16];
    size_t o = 0;
    o += (size_t)snprintf(big, sizeof big, "scrape:\n");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "  - u%d\n", i);
    AM_ASSERT_ERR(parse(big, &c), AM_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_bad)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
