/*
** test_histogram.c: histograms -- bucket placement at the boundaries, NaN,
** the bucket helpers and their refusals, long bucket lists (binary search),
** and consistency of count with +Inf under concurrent observers.
*/
#include <math.h>
#include <pthread.h>

#include "testutil.h"

static am_histogram *make(am_registry *r, const double *b, size_t n)
{
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "latency_seconds";
    o.help = "Latency.";
    o.buckets = b;
    o.n_buckets = n;
    am_histogram *h;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    return h;
}

static void test_defaults_and_placement(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_histogram *h = make(r, NULL, 0);
    AM_ASSERT_EQ(am_histogram_n_buckets(h), 11);
    const double obs[] = {0.001, 0.005, 0.0051, 1, 10, 10.0001, 1e9, -3};
    for (size_t i = 0; i < 8; i++)
        am_histogram_observe(h, obs[i]);
    uint64_t count, b[12];
    double sum;
    am_histogram_read(h, &count, &sum, b);
    AM_ASSERT_EQ(count, 8);
    AM_ASSERT_EQ(b[0], 3);  /* 0.001, 0.005 (le is inclusive), -3 */
    AM_ASSERT_EQ(b[1], 4);  /* 0.0051 <= 0.01 */
    AM_ASSERT_EQ(b[7], 5);  /* 1 <= 1 */
    AM_ASSERT_EQ(b[10], 6); /* 10 <= 10 */
    AM_ASSERT_EQ(b[11], 8); /* +Inf */
    AM_ASSERT_DBL_EQ(sum, 0.001 + 0.005 + 0.0051 + 1 + 10 + 10.0001 + 1e9 - 3);
    am_histogram_observe(h, NAN);
    am_histogram_read(h, &count, &sum, b);
    AM_ASSERT_EQ(b[10], 6);
    AM_ASSERT_EQ(b[11], 9); /* NaN counts in +Inf, as in Prometheus' Go client */
    assert_true(isnan(sum));
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "latency_seconds_bucket{le=\"0.005\"} 3\n");
    AM_ASSERT_CONTAINS(text, "latency_seconds_bucket{le=\"+Inf\"} 9\n");
    AM_ASSERT_CONTAINS(text, "latency_seconds_count 9\n");
    AM_ASSERT_CONTAINS(text, "latency_seconds_sum NaN\n");
    am_free(text);
    /* OpenMetrics forbids a NaN or negative _sum: the pair is left out. */
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_LACKS(text, "latency_seconds_sum");
    AM_ASSERT_LACKS(text, "latency_seconds_count");
    AM_ASSERT_CONTAINS(text, "latency_seconds_bucket{le=\"+Inf\"} 9\n");
    am_free(text);
    am_registry_free(r);
}

static void test_bucket_helpers(void **state)
{
    (void)state;
    double b[64];
    AM_ASSERT_OK(am_buckets_linear(1, 0.5, 4, b));
    AM_ASSERT_DBL_EQ(b[0], 1);
    AM_ASSERT_DBL_EQ(b[3], 2.5);
    AM_ASSERT_OK(am_buckets_exponential(1, 4, 14, b)); /* gen-ai token buckets */
    AM_ASSERT_DBL_EQ(b[13], 67108864);
    AM_ASSERT_OK(am_buckets_exponential(0.01, 2, 14, b));
    AM_ASSERT_DBL_EQ(b[13], 81.92);
    AM_ASSERT_ERR(am_buckets_linear(0, 1, 0, b), AM_EINVAL);
    AM_ASSERT_ERR(am_buckets_linear(0, 0, 3, b), AM_EINVAL);
    AM_ASSERT_ERR(am_buckets_linear(0, -1, 3, b), AM_EINVAL);
    AM_ASSERT_ERR(am_buckets_linear(NAN, 1, 3, b), AM_EINVAL);
    AM_ASSERT_ERR(am_buckets_linear(0, 1, AM_MAX_BUCKETS + 1, b), AM_EINVAL);
    AM_ASSERT_ERR(am_buckets_exponential(0, 2, 3, b), AM_EINVAL);
    AM_ASSERT_ERR(am_buckets_exponential(1, 1, 3, b), AM_EINVAL);
    AM_ASSERT_ERR(am_buckets_exponential(1e300, 1e10, 3, b), AM_EINVAL);
    AM_ASSERT_ERR(am_buckets_linear(0, 1, 3, NULL), AM_EINVAL);
}

static void test_bad_buckets(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "h";
    am_histogram *h;
    const double dec[] = {1, 0.5}, eq[] = {1, 1}, nan[] = {1, NAN}, ninf[] = {-INFINITY, 1};
    const double *bad[] = {dec, eq, nan, ninf};
    for (size_t i = 0; i < 4; i++) {
        o.buckets = bad[i];
        o.n_buckets = 2;
        AM_ASSERT_ERR(am_histogram_new(r, &o, &h), AM_EINVAL);
        AM_ASSERT_CONTAINS(am_errmsg(), "bucket");
    }
    static double many[AM_MAX_BUCKETS + 1];
    for (size_t i = 0; i <= AM_MAX_BUCKETS; i++)
        many[i] = (double)i;
    o.buckets = many;
    o.n_buckets = AM_MAX_BUCKETS + 1;
    AM_ASSERT_ERR(am_histogram_new(r, &o, &h), AM_EINVAL);
    /* A trailing +Inf is accepted and implied. */
    const double inf[] = {1, 2, INFINITY};
    o.buckets = inf;
    o.n_buckets = 3;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    AM_ASSERT_EQ(am_histogram_n_buckets(h), 2);
    AM_ASSERT_EQ(am_registry_count(r), 1);
    am_registry_free(r);
}

static void test_long_bucket_list(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    double b[100];
    AM_ASSERT_OK(am_buckets_linear(1, 1, 100, b));
    am_histogram *h = make(r, b, 100);
    for (int v = 0; v <= 101; v++)
        am_histogram_observe(h, v);
    am_histogram_observe(h, 50.5);
    uint64_t buckets[101], count;
    am_histogram_read(h, &count, NULL, buckets);
    AM_ASSERT_EQ(buckets[0], 2);   /* 0 and 1 */
    AM_ASSERT_EQ(buckets[49], 51); /* <= 50 */
    AM_ASSERT_EQ(buckets[50], 53); /* 50.5 and 51 */
    AM_ASSERT_EQ(buckets[99], 102);
    AM_ASSERT_EQ(buckets[100], 103);
    AM_ASSERT_EQ(count, 103);
    am_registry_free(r);
}

static void *observer(void *arg)
{
    for (int i = 0; i < 300000; i++)
        am_histogram_observe(arg, (i % 100) / 8.0); /* exact in binary */
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_histogram *h = make(r, NULL, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, observer, h);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    uint64_t count, b[12];
    double sum;
    am_histogram_read(h, &count, &sum, b);
    AM_ASSERT_EQ(count, 1200000);
    AM_ASSERT_EQ(b[11], count);
    AM_ASSERT_DBL_EQ(sum, 4 * 3000 * 618.75);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_placement), cmocka_unit_test(test_bucket_helpers),
        cmocka_unit_test(test_bad_buckets), cmocka_unit_test(test_long_bucket_list),
        cmocka_unit_test(test_threads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
