/*
** test_process.c: the opt-in process metrics are present, plausible and
** registered idempotently; a registry without them stays clean.
*/
#include <unistd.h>

#include "testutil.h"

static double value_of(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    if (!p)
        fail_msg("%s missing from:\n%s", name, text);
    return strtod(p + strlen(key), NULL);
}

static void test_process(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_LACKS(text, "process_");
    am_free(text);
    AM_ASSERT_OK(am_registry_enable_process_metrics(r));
    AM_ASSERT_OK(am_registry_enable_process_metrics(r)); /* idempotent */
    AM_ASSERT_EQ(am_registry_count(r), 7);
    /* burn a little CPU so the counter is above zero */
    volatile double x = 0;
    for (int i = 0; i < 20000000; i++)
        x += i;
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    assert_true(value_of(text, "process_cpu_seconds_total") > 0);
    assert_true(value_of(text, "process_resident_memory_bytes") > 1e5);
    assert_true(value_of(text, "process_virtual_memory_bytes") >
                value_of(text, "process_resident_memory_bytes"));
    double fds = value_of(text, "process_open_fds");
    assert_true(fds >= 3 && fds < 1000);
    assert_true(value_of(text, "process_max_fds") >= fds);
    double start = value_of(text, "process_start_time_seconds");
    assert_true(start > 1.6e9 && start <= am_unix_time() + 1);
    assert_true(value_of(text, "process_threads") >= 1);
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text,
                       "# TYPE process_cpu_seconds counter\n# UNIT process_cpu_seconds seconds\n");
    am_free(text);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_process)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
