/*
** test_info.c: info metrics -- pairs set and replaced whole, refusals that
** keep the old pairs, and the _info naming in both text formats.
*/
#include "testutil.h"

static void test_info(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agentos_info";
    o.help = "AgentOS service information";
    am_info *i, *same;
    AM_ASSERT_OK(am_info_new(r, &o, &i));
    o.name = "agentos";
    AM_ASSERT_OK(am_info_new(r, &o, &same));
    assert_ptr_equal(i, same);

    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "# TYPE agentos_info gauge\nagentos_info 1\n");
    am_free(text);

    const char *k[] = {"version", "environment"}, *v[] = {"1.0.0", "prod \"eu\""};
    am_labels p = {k, v, 2};
    AM_ASSERT_OK(am_info_set(i, &p));
    const char *k2[] = {"version", "version"};
    am_labels dup = {k2, v, 2};
    AM_ASSERT_ERR(am_info_set(i, &dup), AM_EINVAL);
    const char *k3[] = {"__x"};
    am_labels res = {k3, v, 1};
    AM_ASSERT_ERR(am_info_set(i, &res), AM_EINVAL);
    const char *bad[] = {"\xc3"};
    am_labels badv = {k, bad, 1};
    AM_ASSERT_ERR(am_info_set(i, &badv), AM_EINVAL);
    AM_ASSERT_ERR(am_info_set(i, NULL), AM_EINVAL);

    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "agentos_info{version=\"1.0.0\",environment=\"prod \\\"eu\\\"\"} 1\n");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text, "# TYPE agentos info\n");
    AM_ASSERT_CONTAINS(text, "agentos_info{version=\"1.0.0\"");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_JSON);
    AM_ASSERT_CONTAINS(text,
                       "\"labels\":{\"version\":\"1.0.0\",\"environment\":\"prod \\\"eu\\\"\"}");
    am_free(text);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_info)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
