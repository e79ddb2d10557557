/*
** test_encode_prometheus.c: the prometheus encoder against its golden file, over
** the fixture registry that holds every kind of family (fixture.h). The
** interoperability tests (tests/integration/) check the same output with
** promtool and Python's parsers.
*/
#include "fixture.h"

static void test_golden(void **state)
{
    (void)state;
    am_registry *r = fixture_registry();
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    am_test_golden("fixture.prom", text);
    am_free(text);
    fixture_free(r);
}

static void test_content_type(void **state)
{
    (void)state;
    assert_non_null(strchr(am_format_content_type(AM_FORMAT_PROMETHEUS), '/'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden),
                                       cmocka_unit_test(test_content_type)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
