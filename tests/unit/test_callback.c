/*
** test_callback.c: callback families -- values computed at exposition,
** checks on what the collect function reports (label count, UTF-8,
** duplicates, negative counters), and a collect that reports many series.
*/
#include <math.h>

#include "testutil.h"

typedef struct seen {
    int calls;
    am_err dup, wrong_count, bad_utf8, negative;
    int many;
} seen;

static void collect(am_sink *s, void *ud)
{
    seen *x = ud;
    x->calls++;
    am_sink_put(s, AM_LABELS("planner:1", "5"), 3);
    am_sink_put(s, AM_LABELS("planner:1", "9"), 1);
    x->dup = am_sink_put(s, AM_LABELS("planner:1", "5"), 4);
    x->wrong_count = am_sink_put(s, AM_LABELS("x"), 1);
    x->bad_utf8 = am_sink_put(s, AM_LABELS("\xff", "1"), 1);
    for (int i = 0; i < x->many; i++) {
        char v[16];
        snprintf(v, sizeof v, "a%d", i);
        am_sink_put(s, AM_LABELS(v, "1"), i);
    }
}

static void collect_counter(am_sink *s, void *ud)
{
    seen *x = ud;
    x->negative = am_sink_put(s, NULL, 0, -1);
    am_sink_put(s, NULL, 0, 42);
}

static void test_callback(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    seen x = {0};
    const char *l[] = {"agent", "priority"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "messaging_queue_length";
    o.help = "Queue length.";
    o.label_names = l;
    o.n_labels = 2;
    am_callback *cb;
    AM_ASSERT_OK(am_callback_new(r, AM_TYPE_GAUGE, &o, collect, &x, &cb));
    o.name = "reads_total";
    o.n_labels = 0;
    AM_ASSERT_OK(am_callback_new(r, AM_TYPE_COUNTER, &o, collect_counter, &x, &cb));
    AM_ASSERT_ERR(am_callback_new(r, AM_TYPE_HISTOGRAM, &o, collect, &x, &cb), AM_EINVAL);
    AM_ASSERT_ERR(am_callback_new(r, AM_TYPE_GAUGE, &o, NULL, &x, &cb), AM_EINVAL);

    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_EQ(x.calls, 1);
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"planner:1\",priority=\"5\"} 3\n");
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"planner:1\",priority=\"9\"} 1\n");
    AM_ASSERT_LACKS(text, "} 4\n");
    AM_ASSERT_CONTAINS(text, "reads_total 42\n");
    AM_ASSERT_EQ(x.dup, AM_EINVAL);
    AM_ASSERT_EQ(x.wrong_count, AM_EINVAL);
    AM_ASSERT_EQ(x.bad_utf8, AM_EINVAL);
    AM_ASSERT_EQ(x.negative, AM_EINVAL);
    am_free(text);

    /* Many series: the duplicate check grows with them. */
    x.many = 30000;
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"a29999\",priority=\"1\"} 29999\n");
    AM_ASSERT_CONTAINS(text, "reads_total 42\n");
    AM_ASSERT_LACKS(text, "reads_created"); /* a callback has no creation time of its own */
    am_free(text);
    AM_ASSERT_OK(am_registry_unregister(r, "messaging_queue_length"));
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_callback)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
