/*
** test_gauge.c: gauges -- set, add, inc/dec from many threads, set to now,
** and values that only gauges may hold (negative, NaN, infinities).
*/
#include <math.h>
#include <pthread.h>

#include "testutil.h"

static am_gauge *make(am_registry *r, const char *name, size_t n_labels)
{
    const char *l[] = {"queue_name"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = name;
    o.help = "A gauge.";
    o.label_names = l;
    o.n_labels = n_labels;
    am_gauge *g;
    AM_ASSERT_OK(am_gauge_new(r, &o, &g));
    return g;
}

static void test_basic(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_gauge *g = make(r, "temperature", 0);
    AM_ASSERT_DBL_EQ(am_gauge_value(g), 0);
    am_gauge_set(g, 10);
    am_gauge_inc(g);
    am_gauge_dec(g);
    am_gauge_dec(g);
    am_gauge_add(g, -0.5);
    AM_ASSERT_DBL_EQ(am_gauge_value(g), 8.5);
    am_gauge_set(g, -INFINITY);
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "temperature -Inf\n");
    am_free(text);
    am_gauge_set(g, NAN);
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text, "temperature NaN\n");
    am_free(text);
    double before = am_unix_time();
    am_gauge_set_to_now(g);
    assert_true(am_gauge_value(g) >= before && am_gauge_value(g) < before + 5);
    am_registry_free(r);
}

static void *updown(void *arg)
{
    am_gauge *g = arg;
    for (int i = 0; i < 200000; i++) {
        am_gauge_inc(g);
        am_gauge_add(g, 2);
        am_gauge_dec(g);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_gauge *fam = make(r, "agent_queue_depth", 1), *g;
    AM_ASSERT_OK(am_gauge_with(fam, AM_LABELS("planner"), &g));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, updown, g);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    AM_ASSERT_DBL_EQ(am_gauge_value(g), 4 * 200000 * 2.0);
    AM_ASSERT_OK(am_gauge_remove(fam, AM_LABELS("planner")));
    am_gauge_clear(fam);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_basic),
                                       cmocka_unit_test(test_threads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
