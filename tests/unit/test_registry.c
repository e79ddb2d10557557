/*
** test_registry.c: registering, finding, unregistering; the same
** definition returns the same family, a different one is refused, and no
** two families may expose the same sample or JSON name; the bridge calls
** (am_metric_describe, am_metric_sibling_new, am_metric_overflow), the
** sample callback's misuse, and am_errmsg_set.
*/
#include "testutil.h"

static am_metric_opts opts(const char *name, const char *const *labels, size_t n)
{
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = name;
    o.help = "help";
    o.label_names = labels;
    o.n_labels = n;
    return o;
}

static void test_same_definition_returns_existing(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *l[] = {"agent"};
    am_metric_opts o = opts("tasks_total", l, 1);
    am_counter *a, *b, *c;
    AM_ASSERT_OK(am_counter_new(r, &o, &a));
    AM_ASSERT_OK(am_counter_new(r, &o, &b));
    assert_ptr_equal(a, b);
    o.name = "tasks"; /* the same family without the _total suffix */
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    assert_ptr_equal(a, c);
    AM_ASSERT_EQ(am_registry_count(r), 1);
    am_registry_free(r);
}

static void test_different_definition_refused(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *l1[] = {"agent"}, *l2[] = {"agent", "priority"};
    am_metric_opts o = opts("depth", l1, 1);
    am_gauge *g;
    am_counter *c;
    am_histogram *h;
    AM_ASSERT_OK(am_gauge_new(r, &o, &g));
    am_metric_opts o2 = opts("depth", l2, 2);
    AM_ASSERT_ERR(am_gauge_new(r, &o2, &g), AM_EEXIST);
    AM_ASSERT_CONTAINS(am_errmsg(), "depth");
    AM_ASSERT_ERR(am_counter_new(r, &o, &c), AM_EEXIST);

    am_metric_opts ho = opts("lat_seconds", NULL, 0);
    AM_ASSERT_OK(am_histogram_new(r, &ho, &h));
    const double b[] = {1, 2};
    ho.buckets = b;
    ho.n_buckets = 2;
    AM_ASSERT_ERR(am_histogram_new(r, &ho, &h), AM_EEXIST);
    AM_ASSERT_EQ(am_registry_count(r), 2);
    am_registry_free(r);
}

static void test_exposed_name_clashes(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = opts("foo", NULL, 0);
    am_counter *c;
    am_gauge *g;
    am_histogram *h;
    AM_ASSERT_OK(am_counter_new(r, &o, &c)); /* exposes foo_total, foo_created */
    o.name = "foo_total";
    AM_ASSERT_ERR(am_gauge_new(r, &o, &g), AM_EEXIST);
    AM_ASSERT_CONTAINS(am_errmsg(), "foo_total");
    o.name = "foo_created";
    AM_ASSERT_ERR(am_gauge_new(r, &o, &g), AM_EEXIST);
    o.name = "bar_bucket";
    AM_ASSERT_OK(am_gauge_new(r, &o, &g));
    o.name = "bar";
    AM_ASSERT_ERR(am_histogram_new(r, &o, &h), AM_EEXIST); /* would expose bar_bucket */
    o.name = "baz";
    o.json_name = "shared.key";
    AM_ASSERT_OK(am_gauge_new(r, &o, &g));
    o.name = "qux";
    AM_ASSERT_ERR(am_gauge_new(r, &o, &g), AM_EEXIST); /* same JSON key */
    AM_ASSERT_EQ(am_registry_count(r), 3);
    am_registry_free(r);
}

static void test_find_and_unregister(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = opts("jobs_total", NULL, 0);
    am_counter *c, *found;
    am_gauge *g;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    AM_ASSERT_OK(am_counter_find(r, "jobs", &found));
    assert_ptr_equal(c, found);
    AM_ASSERT_OK(am_counter_find(r, "jobs_total", &found));
    assert_ptr_equal(c, found);
    AM_ASSERT_ERR(am_gauge_find(r, "jobs", &g), AM_EINVAL);
    AM_ASSERT_ERR(am_counter_find(r, "nope", &found), AM_ENOTFOUND);
    AM_ASSERT_CONTAINS(am_errmsg(), "nope");
    AM_ASSERT_OK(am_registry_unregister(r, "jobs_total"));
    AM_ASSERT_ERR(am_registry_unregister(r, "jobs_total"), AM_ENOTFOUND);
    AM_ASSERT_ERR(am_registry_unregister(r, NULL), AM_EINVAL);
    AM_ASSERT_EQ(am_registry_count(r), 0);
    /* The name is free again, for any type. */
    o.name = "jobs_total";
    AM_ASSERT_OK(am_gauge_new(r, &o, &g));
    am_registry_free(r);
}

static void test_bad_options(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_counter *c;
    am_gauge *g;
    am_histogram *h;
    am_info *i;
    am_stateset *s;
    am_metric_opts o = opts("x", NULL, 0);
    const char *dup[] = {"a", "a"}, *res[] = {"__a"}, *le[] = {"le"}, *bad[] = {"a-b"};
    const char *selfname[] = {"x"};
    static const struct {
        const char *name, *help, *unit, *json;
        const char *const *labels;
        size_t n;
        const char *msg;
    } cases[] = {
        {NULL, "h", NULL, NULL, NULL, 0, "empty"},
        {"", "h", NULL, NULL, NULL, 0, "empty"},
        {"1x", "h", NULL, NULL, NULL, 0, "invalid character"},
        {"__x", "h", NULL, NULL, NULL, 0, "reserved"},
        {"x", "bad\xff", NULL, NULL, NULL, 0, "UTF-8"},
        {"x", "h", "seconds", NULL, NULL, 0, "must end with"},
        {"x_seconds", "h", "sec-onds", NULL, NULL, 0, "unit"},
        {"x", "h", NULL, ".x", NULL, 0, "json_name"},
        {"x", "h", NULL, NULL, NULL, 2, "label_names is NULL"},
        {"x", "h", NULL, NULL, NULL, 40, "limit"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        o.name = cases[k].name;
        o.help = cases[k].help;
        o.unit = cases[k].unit;
        o.json_name = cases[k].json;
        o.label_names = cases[k].labels;
        o.n_labels = cases[k].n;
        am_err rc = am_gauge_new(r, &o, &g);
        if (rc != AM_EINVAL)
            fail_msg("case %zu: got %s", k, am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), cases[k].msg);
    }
    o = opts("x", dup, 2);
    AM_ASSERT_ERR(am_counter_new(r, &o, &c), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "twice");
    o = opts("x", res, 1);
    AM_ASSERT_ERR(am_counter_new(r, &o, &c), AM_EINVAL);
    o = opts("x", bad, 1);
    AM_ASSERT_ERR(am_counter_new(r, &o, &c), AM_EINVAL);
    o = opts("x", le, 1);
    AM_ASSERT_ERR(am_histogram_new(r, &o, &h), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "le");
    AM_ASSERT_OK(am_gauge_new(r, &o, &g)); /* le is fine elsewhere */
    am_registry_unregister(r, "x");
    o = opts("x", selfname, 1);
    const char *st[] = {"a"};
    o.states = st;
    o.n_states = 1;
    AM_ASSERT_ERR(am_stateset_new(r, &o, &s), AM_EINVAL);
    o = opts("x", res, 0);
    o.label_names = st;
    o.n_labels = 1;
    AM_ASSERT_ERR(am_info_new(r, &o, &i), AM_EINVAL); /* info keys come from am_info_set */
    o = opts("x_info", NULL, 0);
    o.unit = "info";
    AM_ASSERT_ERR(am_info_new(r, &o, &i), AM_EINVAL);
    char longname[AM_MAX_NAME + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    o = opts(longname, NULL, 0);
    AM_ASSERT_ERR(am_counter_new(r, &o, &c), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "longer");
    o = opts("x", NULL, 0);
    o.json_name = longname;
    AM_ASSERT_ERR(am_counter_new(r, &o, &c), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "json_name is longer");
    longname[AM_MAX_NAME] = '\0';
    o.json_name = longname; /* exactly the limit is fine */
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    AM_ASSERT_OK(am_registry_unregister(r, "x"));
    AM_ASSERT_ERR(am_counter_new(r, NULL, &c), AM_EINVAL);
    o = opts("x", NULL, 0);
    AM_ASSERT_ERR(am_counter_new(r, &o, NULL), AM_EINVAL);
    AM_ASSERT_EQ(am_registry_count(r), 0);
    am_registry_free(r);
}

static void test_default_registry(void **state)
{
    (void)state;
    am_registry *d = am_registry_default();
    assert_non_null(d);
    assert_ptr_equal(d, am_registry_default());
    am_metric_opts o = opts("default_thing_total", NULL, 0);
    am_counter *c, *c2;
    AM_ASSERT_OK(am_counter_new(NULL, &o, &c));
    AM_ASSERT_OK(am_counter_find(d, "default_thing_total", &c2));
    assert_ptr_equal(c, c2);
    am_counter_inc(c);
    char *text = am_test_encode(NULL, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "default_thing_total 1\n");
    am_free(text);
    am_shutdown(); /* frees the default registry; a new one appears on demand */
    assert_int_equal(am_registry_count(NULL), 0);
    am_shutdown();
}

static void test_sorted_output(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *names[] = {"zeta", "alpha", "mid", "beta"};
    for (size_t i = 0; i < 4; i++) {
        am_metric_opts o = opts(names[i], NULL, 0);
        am_gauge *g;
        AM_ASSERT_OK(am_gauge_new(r, &o, &g));
    }
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    const char *order[] = {"alpha ", "beta ", "mid ", "zeta "};
    size_t last = 0;
    for (size_t i = 0; i < 4; i++) {
        const char *at = strstr(text, order[i]);
        assert_non_null(at);
        size_t off = (size_t)(at - text);
        assert_true(off >= last);
        last = off;
    }
    am_free(text);
    am_registry_free(r);
}

/* The registry-wide series bound: new label sets of any family go to that
   family's overflow series once the registry holds max_series; removing,
   clearing and unregistering give series back. */
static void test_max_series(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *ln[] = {"agent"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.label_names = ln;
    o.n_labels = 1;
    o.name = "a_total";
    am_counter *a, *b, *c;
    AM_ASSERT_OK(am_counter_new(r, &o, &a));
    o.name = "b";
    am_gauge *g, *gc;
    AM_ASSERT_OK(am_gauge_new(r, &o, &g));
    AM_ASSERT_OK(am_registry_set_max_series(r, 3));
    AM_ASSERT_OK(am_counter_with(a, AM_LABELS("x"), &c));
    AM_ASSERT_OK(am_counter_with(a, AM_LABELS("y"), &c));
    AM_ASSERT_OK(am_gauge_with(g, AM_LABELS("x"), &gc));
    AM_ASSERT_EQ(am_registry_series(r), 3);
    /* a fourth label set, in either family, overflows */
    AM_ASSERT_ERR(am_gauge_with(g, AM_LABELS("z"), &gc), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "the registry reached its limit of 3 series");
    am_gauge_set(gc, 7);
    AM_ASSERT_ERR(am_counter_with(a, AM_LABELS("z"), &b), AM_ELIMIT);
    am_counter_inc(b);
    /* existing series still resolve */
    AM_ASSERT_OK(am_counter_with(a, AM_LABELS("x"), &c));
    AM_ASSERT_EQ(am_registry_series(r), 3);
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "b{agent=\"__overflow__\"} 7\n");
    AM_ASSERT_CONTAINS(text, "a_total{agent=\"__overflow__\"} 1\n");
    AM_ASSERT_CONTAINS(text, "agentmon_cardinality_overflow_total{metric=\"a\"} 1\n");
    AM_ASSERT_CONTAINS(text, "agentmon_cardinality_overflow_total{metric=\"b\"} 1\n");
    am_free(text);
    /* removing one makes room for one */
    AM_ASSERT_OK(am_counter_remove(a, AM_LABELS("y")));
    AM_ASSERT_EQ(am_registry_series(r), 2);
    AM_ASSERT_OK(am_gauge_with(g, AM_LABELS("z"), &gc));
    AM_ASSERT_ERR(am_gauge_with(g, AM_LABELS("w"), &gc), AM_ELIMIT);
    /* clearing and unregistering give theirs back */
    am_gauge_clear(g);
    AM_ASSERT_EQ(am_registry_series(r), 1);
    AM_ASSERT_OK(am_registry_unregister(r, "a_total"));
    AM_ASSERT_EQ(am_registry_series(r), 0);
    /* 0 removes the bound */
    AM_ASSERT_OK(am_registry_set_max_series(r, 0));
    for (int i = 0; i < 20; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        AM_ASSERT_OK(am_gauge_with(g, AM_LABELS(v), &gc));
    }
    AM_ASSERT_EQ(am_registry_series(r), 20);
    am_registry_free(r);
}

static int count_samples(void *ud, am_label_pair *pairs, size_t n, double v)
{
    (void)pairs;
    (void)n;
    (void)v;
    (*(int *)ud)++;
    return 0;
}

static void test_bridges(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *ka[] = {"route"}, *kb[] = {"route", "host"};
    am_metric_opts o = opts("hits_total", ka, 1);
    o.flags = AM_METRIC_SIBLINGS;
    am_counter *c, *plain, *child;
    void *sib, *again, *over;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    am_metric_desc d;
    AM_ASSERT_OK(am_metric_describe(c, &d));
    AM_ASSERT_EQ(d.type, AM_TYPE_COUNTER);
    assert_string_equal(d.name, "hits");
    AM_ASSERT_EQ(d.n_labels, 1);
    assert_string_equal(d.label_names[0], "route");
    AM_ASSERT_EQ(d.flags, AM_METRIC_SIBLINGS);
    /* a sibling with other label names: one family in the exposition */
    am_metric_opts ob = opts("hits_total", kb, 2);
    ob.flags = AM_METRIC_SIBLINGS;
    AM_ASSERT_OK(am_metric_sibling_new(c, &ob, &sib));
    AM_ASSERT_OK(am_metric_sibling_new(c, &ob, &again));
    assert_ptr_equal(sib, again);
    AM_ASSERT_OK(am_counter_with(c, AM_LABELS("a"), &child));
    am_counter_inc(child);
    AM_ASSERT_OK(am_counter_with(sib, AM_LABELS("b", "h"), &child));
    am_counter_inc(child);
    char *text;
    AM_ASSERT_OK(am_registry_encode(r, AM_FORMAT_PROMETHEUS, &text, NULL));
    assert_non_null(strstr(text, "hits_total{route=\"a\"} 1\n"));
    assert_non_null(strstr(text, "hits_total{route=\"b\",host=\"h\"} 1\n"));
    AM_ASSERT_EQ(strstr(strstr(text, "# TYPE hits") + 1, "# TYPE hits"), NULL);
    am_free(text);
    /* overflow for a caller's own budget */
    AM_ASSERT_OK(am_metric_overflow(c, &over));
    am_counter_inc(over);
    AM_ASSERT_OK(am_registry_encode(r, AM_FORMAT_PROMETHEUS, &text, NULL));
    assert_non_null(strstr(text, "hits_total{route=\"__overflow__\"} 1\n"));
    am_free(text);
    /* misuse: not a root, no AM_METRIC_SIBLINGS, no labels, NULLs */
    AM_ASSERT_ERR(am_metric_describe(child, &d), AM_EMISUSE);
    AM_ASSERT_ERR(am_metric_describe(NULL, &d), AM_EINVAL);
    AM_ASSERT_ERR(am_metric_sibling_new(child, &ob, &sib), AM_EMISUSE);
    am_metric_opts op = opts("plain_total", NULL, 0);
    AM_ASSERT_OK(am_counter_new(r, &op, &plain));
    AM_ASSERT_ERR(am_metric_sibling_new(plain, &ob, &sib), AM_EMISUSE);
    assert_non_null(strstr(am_errmsg(), "AM_METRIC_SIBLINGS"));
    AM_ASSERT_ERR(am_metric_overflow(plain, &over), AM_EINVAL);
    AM_ASSERT_ERR(am_metric_sibling_new(c, NULL, &sib), AM_EINVAL);
    /* another shape is refused */
    am_metric_opts og = opts("hits_total", kb, 2);
    og.unit = "seconds";
    og.name = "hits_seconds_total";
    AM_ASSERT_ERR(am_metric_sibling_new(c, &og, &sib), AM_EEXIST);
    /* every sample as a callback; misuse calls nothing */
    int n = 0;
    AM_ASSERT_OK(am_encode_samples(&r, 1, count_samples, &n));
    AM_ASSERT_EQ(n, 5); /* route=a, route=b+host, overflow, plain, cardinality_overflow */
    n = 0;
    AM_ASSERT_ERR(am_encode_samples(&r, 1, NULL, &n), AM_EINVAL);
    AM_ASSERT_ERR(am_encode_samples(NULL, 1, count_samples, &n), AM_EINVAL);
    AM_ASSERT_OK(am_encode_samples(NULL, 0, count_samples, &n));
    AM_ASSERT_EQ(n, 0);
    am_registry_free(r);
}

static void test_errmsg_set(void **state)
{
    (void)state;
    AM_ASSERT_EQ(am_errmsg_set(AM_EIO, "disk on fire"), AM_EIO);
    assert_string_equal(am_errmsg(), "disk on fire");
    AM_ASSERT_EQ(am_errmsg_set(AM_EINVAL, am_errmsg()), AM_EINVAL); /* itself */
    assert_string_equal(am_errmsg(), "disk on fire");
    AM_ASSERT_EQ(am_errmsg_set(AM_OK, NULL), AM_OK);
    assert_string_equal(am_errmsg(), "");
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    am_errmsg_set(AM_EINVAL, big);
    AM_ASSERT_EQ(strlen(am_errmsg()), 255);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_definition_returns_existing),
        cmocka_unit_test(test_different_definition_refused),
        cmocka_unit_test(test_exposed_name_clashes),
        cmocka_unit_test(test_find_and_unregister),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_default_registry),
        cmocka_unit_test(test_sorted_output),
        cmocka_unit_test(test_max_series),
        cmocka_unit_test(test_bridges),
        cmocka_unit_test(test_errmsg_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
