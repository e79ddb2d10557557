/*
** test_summary.c: summaries -- count and sum (negative and NaN values
** included), children and the reserved "quantile" label, the three
** encodings (a negative or NaN sum leaves OpenMetrics' _count/_sum out),
** lookups by name, and exact totals under concurrent observers.
*/
#include <math.h>
#include <pthread.h>

#include "testutil.h"

static am_summary *make(am_registry *r, const char *const *labels, size_t n)
{
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "request_size_bytes";
    o.help = "Request size.";
    o.unit = "bytes";
    o.label_names = labels;
    o.n_labels = n;
    am_summary *s;
    AM_ASSERT_OK(am_summary_new(r, &o, &s));
    return s;
}

static void test_observe_and_read(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_summary *s = make(r, NULL, 0);
    uint64_t count = 99;
    double sum = 99;
    am_summary_read(s, &count, &sum);
    AM_ASSERT_EQ(count, 0);
    AM_ASSERT_DBL_EQ(sum, 0);
    am_summary_observe(s, 512);
    am_summary_observe(s, 0.5);
    am_summary_observe(s, -2);
    am_summary_read(s, &count, &sum);
    AM_ASSERT_EQ(count, 3);
    AM_ASSERT_DBL_EQ(sum, 510.5);
    am_summary_read(s, NULL, NULL); /* both optional */
    am_summary *found;
    AM_ASSERT_OK(am_summary_find(r, "request_size_bytes", &found));
    assert_ptr_equal(found, s);
    am_counter *wrong;
    AM_ASSERT_ERR(am_counter_find(r, "request_size_bytes", &wrong), AM_EINVAL);
    am_registry_free(r);
}

static void test_labels(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "latency_seconds";
    const char *bad[] = {"quantile"};
    o.label_names = bad;
    o.n_labels = 1;
    am_summary *s;
    AM_ASSERT_ERR(am_summary_new(r, &o, &s), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "quantile");
    /* "le" is fine for a summary (it is a histogram's reserved label). */
    const char *le[] = {"le"};
    o.label_names = le;
    AM_ASSERT_OK(am_summary_new(r, &o, &s));

    const char *names[] = {"agent"};
    am_summary *fam = make(r, names, 1), *a, *a2, *b;
    AM_ASSERT_OK(am_summary_with(fam, AM_LABELS("planner:1"), &a));
    AM_ASSERT_OK(am_summary_with(fam, AM_LABELS("planner:1"), &a2));
    AM_ASSERT_OK(am_summary_with(fam, AM_LABELS("coder:1"), &b));
    assert_ptr_equal(a, a2);
    assert_ptr_not_equal(a, b);
    am_summary_observe(a, 1);
    am_summary_observe(b, 2);
    uint64_t count;
    double sum;
    am_summary_read(a, &count, &sum);
    AM_ASSERT_EQ(count, 1);
    AM_ASSERT_DBL_EQ(sum, 1);
    AM_ASSERT_OK(am_summary_remove(fam, AM_LABELS("planner:1")));
    AM_ASSERT_ERR(am_summary_remove(fam, AM_LABELS("planner:1")), AM_ENOTFOUND);
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_LACKS(text, "planner:1");
    AM_ASSERT_CONTAINS(text, "request_size_bytes_count{agent=\"coder:1\"} 1\n");
    am_free(text);
    am_summary_clear(fam);
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_LACKS(text, "coder:1");
    am_free(text);
    /* A child handle is not a family. */
    AM_ASSERT_OK(am_summary_with(fam, AM_LABELS("x"), &a));
    AM_ASSERT_ERR(am_summary_with(a, AM_LABELS("y"), &b), AM_EMISUSE);
    am_registry_free(r);
}

static void test_encodings(void **state)
{
    (void)state;
    am__time_hook = am_test_fixed_time;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_summary *s = make(r, NULL, 0);
    am_summary_observe(s, 512);
    am_summary_observe(s, 256);
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_STR_EQ(text, "# HELP request_size_bytes Request size.\n"
                           "# TYPE request_size_bytes summary\n"
                           "request_size_bytes_count 2\n"
                           "request_size_bytes_sum 768\n");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_STR_EQ(text, "# HELP request_size_bytes Request size.\n"
                           "# TYPE request_size_bytes summary\n"
                           "# UNIT request_size_bytes bytes\n"
                           "request_size_bytes_count 2\n"
                           "request_size_bytes_sum 768\n"
                           "request_size_bytes_created 1700000000.500\n"
                           "# EOF\n");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_JSON);
    AM_ASSERT_CONTAINS(text, "\"type\":\"summary\"");
    AM_ASSERT_CONTAINS(text, "\"count\":2,\"sum\":768");
    am_free(text);
    /* A negative sum is not valid OpenMetrics: _count and _sum go. */
    am_summary_observe(s, -1000);
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_LACKS(text, "_sum");
    AM_ASSERT_LACKS(text, "_count");
    AM_ASSERT_CONTAINS(text, "request_size_bytes_created");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "request_size_bytes_sum -232\n");
    am_free(text);
    am_summary_observe(s, NAN);
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "request_size_bytes_sum NaN\n");
    AM_ASSERT_CONTAINS(text, "request_size_bytes_count 4\n");
    am_free(text);
    am_registry_free(r);
    am__time_hook = NULL;
}

static void *observer(void *arg)
{
    for (int i = 0; i < 200000; i++)
        am_summary_observe(arg, 0.25);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_summary *s = make(r, NULL, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, observer, s);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    uint64_t count;
    double sum;
    am_summary_read(s, &count, &sum);
    AM_ASSERT_EQ(count, 800000);
    AM_ASSERT_DBL_EQ(sum, 200000);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observe_and_read), cmocka_unit_test(test_labels),
        cmocka_unit_test(test_encodings), cmocka_unit_test(test_threads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
