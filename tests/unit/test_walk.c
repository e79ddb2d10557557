/*
** test_walk.c: the registry walk -- several registries in one exposition,
** merged by name; same-named families with one definition become one family
** (the library's own agentmon_* counter in each registry, for one), a
** conflicting definition is left out, and bad arguments are refused.
*/
#include "testutil.h"

static am_counter *limited(am_registry *r, const char *name)
{
    const char *l[] = {"a"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = name;
    o.help = "Limited.";
    o.label_names = l;
    o.n_labels = 1;
    o.max_children = 1;
    am_counter *c, *child;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    AM_ASSERT_OK(am_counter_with(c, AM_LABELS("x"), &child));
    AM_ASSERT_ERR(am_counter_with(c, AM_LABELS("y"), &child), AM_ELIMIT);
    return c;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_merge(void **state)
{
    (void)state;
    am_registry *r1, *r2;
    AM_ASSERT_OK(am_registry_new(&r1));
    AM_ASSERT_OK(am_registry_new(&r2));
    limited(r1, "b_total");
    limited(r2, "a_total");
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "zz";
    o.help = "In both, differently.";
    am_gauge *g;
    am_counter *c;
    AM_ASSERT_OK(am_gauge_new(r1, &o, &g));
    am_gauge_set(g, 5);
    AM_ASSERT_OK(am_counter_new(r2, &o, &c));

    am_registry *both[] = {r1, r2, r1};
    for (int f = AM_FORMAT_PROMETHEUS; f <= AM_FORMAT_JSON; f++) {
        char *text;
        AM_ASSERT_OK(am_encode(both, 3, (am_format)f, &text, NULL));
        if (f != AM_FORMAT_JSON) {
            AM_ASSERT_EQ(count(text, "# TYPE agentmon_cardinality_overflow"), 1);
            AM_ASSERT_EQ(count(text, "agentmon_cardinality_overflow_total{metric=\"b\"} 1"), 1);
            AM_ASSERT_EQ(count(text, "agentmon_cardinality_overflow_total{metric=\"a\"} 1"), 1);
            AM_ASSERT_EQ(count(text, "# TYPE zz"), 1);
            AM_ASSERT_CONTAINS(text, "zz 5\n"); /* the first definition wins */
            AM_ASSERT_LACKS(text, "zz_total");
            /* One merged order: a, agentmon_..., b, zz. */
            const char *order[] = {"# TYPE a_total", "# TYPE agentmon_", "# TYPE b_total",
                                   "# TYPE zz"};
            if (f == AM_FORMAT_OPENMETRICS) {
                order[0] = "# TYPE a counter";
                order[2] = "# TYPE b counter";
            }
            size_t last = 0;
            for (size_t i = 0; i < 4; i++) {
                const char *at = strstr(text, order[i]);
                assert_non_null(at);
                assert_true((size_t)(at - text) >= last);
                last = (size_t)(at - text);
            }
        } else {
            AM_ASSERT_EQ(count(text, "\"agentmon_cardinality_overflow_total\":{"), 1);
        }
        am_free(text);
    }
    char *text;
    AM_ASSERT_ERR(am_encode(both, 0, AM_FORMAT_JSON, &text, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_encode(both, 1, (am_format)42, &text, NULL), AM_EINVAL);
    am_registry *withnull[] = {r1, NULL};
    AM_ASSERT_ERR(am_encode(withnull, 2, AM_FORMAT_JSON, &text, NULL), AM_EINVAL);
    am_registry_free(r1);
    am_registry_free(r2);
}

static void test_negative_bounds_have_no_om_sum(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "temp_delta";
    o.help = "Temperature change.";
    const double b[] = {-1, 0, 1};
    o.buckets = b;
    o.n_buckets = 3;
    am_histogram *h;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    am_histogram_observe(h, 0.5);
    char *text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_LACKS(text, "temp_delta_sum");
    AM_ASSERT_LACKS(text, "temp_delta_count");
    AM_ASSERT_CONTAINS(text, "temp_delta_bucket{le=\"-1\"} 0\n");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS); /* 0.0.4 has no such rule */
    AM_ASSERT_CONTAINS(text, "temp_delta_sum 0.5\n");
    am_free(text);
    am_registry_free(r);
}

static void test_reserved_names(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_counter *c = limited(r, "x_total"), *child;
    AM_ASSERT_ERR(am_counter_with(c, AM_LABELS("__overflow__"), &child), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "reserved");
    const char *st[] = {"open"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "breaker:state";
    o.states = st;
    o.n_states = 1;
    am_stateset *s;
    AM_ASSERT_ERR(am_stateset_new(r, &o, &s), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "stateset name");
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_merge),
                                       cmocka_unit_test(test_negative_bounds_have_no_om_sum),
                                       cmocka_unit_test(test_reserved_names)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
