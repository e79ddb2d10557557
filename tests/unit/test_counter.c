/*
** test_counter.c: counters -- adds, refusals, children by label values,
** removal and clearing, the cardinality guard, and exact totals when many
** threads write one series and then exit.
*/
#include <math.h>
#include <pthread.h>

#include "testutil.h"

typedef struct fixture {
    am_registry *r;
    am_counter *fam;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    AM_ASSERT_OK(am_registry_new(&f->r));
    const char *l[] = {"agent", "priority"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "messages_total";
    o.help = "Messages.";
    o.label_names = l;
    o.n_labels = 2;
    o.max_children = 4;
    AM_ASSERT_OK(am_counter_new(f->r, &o, &f->fam));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    am_registry_free(f->r);
    free(f);
    return 0;
}

static void test_add_and_refuse(void **state)
{
    fixture *f = *state;
    am_counter *c;
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("planner:1", "5"), &c));
    am_counter_inc(c);
    AM_ASSERT_OK(am_counter_add(c, 2.5));
    AM_ASSERT_OK(am_counter_add(c, 0));
    AM_ASSERT_DBL_EQ(am_counter_value(c), 3.5);
    const double bad[] = {-1, -0.001, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 5; i++) {
        AM_ASSERT_ERR(am_counter_add(c, bad[i]), AM_EINVAL);
        AM_ASSERT_CONTAINS(am_errmsg(), "messages");
    }
    AM_ASSERT_DBL_EQ(am_counter_value(c), 3.5); /* nothing changed */
}

static void test_children(void **state)
{
    fixture *f = *state;
    am_counter *a, *a2, *b;
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("planner:1", "5"), &a));
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("planner:1", "5"), &a2));
    assert_ptr_equal(a, a2);
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("planner:1", "9"), &b));
    assert_ptr_not_equal(a, b);
    /* Values are compared whole: "ab","c" is not "a","bc". */
    am_counter *x, *y;
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("ab", "c"), &x));
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("a", "bc"), &y));
    assert_ptr_not_equal(x, y);

    /* Bad label values: nothing is created. */
    am_counter *z = NULL;
    AM_ASSERT_ERR(am_counter_with(f->fam, AM_LABELS("only one"), &z), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "2 labels");
    const char *withnull[] = {"a", NULL};
    AM_ASSERT_ERR(am_counter_with(f->fam, withnull, 2, &z), AM_EINVAL);
    AM_ASSERT_ERR(am_counter_with(f->fam, AM_LABELS("a", "\xff"), &z), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "UTF-8");
    char *big = malloc(AM_MAX_LABEL_VALUE + 2);
    memset(big, 'v', AM_MAX_LABEL_VALUE + 1);
    big[AM_MAX_LABEL_VALUE + 1] = '\0';
    const char *bigv[] = {"a", big};
    AM_ASSERT_ERR(am_counter_with(f->fam, bigv, 2, &z), AM_EINVAL);
    free(big);
    assert_null(z);
    /* A child handle is not a family. */
    AM_ASSERT_ERR(am_counter_with(a, AM_LABELS("x", "y"), &z), AM_EMISUSE);
    AM_ASSERT_ERR(am_counter_remove(a, AM_LABELS("x", "y")), AM_EMISUSE);

    char *text = am_test_encode(f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "messages_total{agent=\"ab\",priority=\"c\"} 0\n");
    AM_ASSERT_LACKS(text, "only one");
    am_free(text);
}

static void test_remove_and_clear(void **state)
{
    fixture *f = *state;
    am_counter *a, *b;
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("gone", "1"), &a));
    AM_ASSERT_OK(am_counter_add(a, 41));
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("stays", "1"), &b));
    am_counter_inc(b);
    AM_ASSERT_OK(am_counter_remove(f->fam, AM_LABELS("gone", "1")));
    AM_ASSERT_ERR(am_counter_remove(f->fam, AM_LABELS("gone", "1")), AM_ENOTFOUND);
    char *text = am_test_encode(f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_LACKS(text, "gone");
    AM_ASSERT_CONTAINS(text, "messages_total{agent=\"stays\",priority=\"1\"} 1\n");
    am_free(text);
    /* Re-created, it starts from zero even if it reuses the cells. */
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("gone", "1"), &a));
    AM_ASSERT_DBL_EQ(am_counter_value(a), 0);

    am_counter_clear(f->fam);
    text = am_test_encode(f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_LACKS(text, "agent=");
    AM_ASSERT_CONTAINS(text, "# TYPE messages_total counter\n");
    am_free(text);
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("stays", "1"), &b));
    AM_ASSERT_DBL_EQ(am_counter_value(b), 0);
}

static void test_cardinality_guard(void **state)
{
    fixture *f = *state;
    am_counter *c[4], *over, *over2;
    char v[8];
    for (int i = 0; i < 4; i++) {
        snprintf(v, sizeof v, "a%d", i);
        AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS(v, "5"), &c[i]));
    }
    AM_ASSERT_ERR(am_counter_with(f->fam, AM_LABELS("a4", "5"), &over), AM_ELIMIT);
    assert_non_null(over);
    AM_ASSERT_CONTAINS(am_errmsg(), "limit");
    AM_ASSERT_ERR(am_counter_with(f->fam, AM_LABELS("a5", "9"), &over2), AM_ELIMIT);
    assert_ptr_equal(over, over2);
    am_counter_inc(over);
    am_counter_inc(over2);
    /* Existing children still resolve normally. */
    am_counter *again;
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("a0", "5"), &again));
    assert_ptr_equal(again, c[0]);

    char *text = am_test_encode(f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text,
                       "messages_total{agent=\"__overflow__\",priority=\"__overflow__\"} 2\n");
    AM_ASSERT_CONTAINS(text, "agentmon_cardinality_overflow_total{metric=\"messages\"} 2\n");
    AM_ASSERT_LACKS(text, "a4");
    am_free(text);

    /* Removing a child makes room again. */
    AM_ASSERT_OK(am_counter_remove(f->fam, AM_LABELS("a3", "5")));
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("a4", "5"), &over));
}

static void test_unlabelled(void **state)
{
    fixture *f = *state;
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "plain_total";
    o.help = "Plain.";
    am_counter *p, *same;
    AM_ASSERT_OK(am_counter_new(f->r, &o, &p));
    am_counter_inc(p);
    AM_ASSERT_OK(am_counter_with(p, NULL, 0, &same));
    assert_ptr_equal(p, same);
    AM_ASSERT_ERR(am_counter_remove(p, NULL, 0), AM_EINVAL);
    AM_ASSERT_DBL_EQ(am_counter_value(p), 1);
}

#define THREADS 4
#define PER_THREAD 1000000

static void *incr(void *arg)
{
    am_counter *c = arg;
    for (int i = 0; i < PER_THREAD; i++)
        am_counter_inc(c);
    am_counter_add(c, 0.5);
    return NULL;
}

static void test_threads_exact(void **state)
{
    fixture *f = *state;
    am_counter *shared;
    AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS("shared", "5"), &shared));
    for (int round = 0; round < 3; round++) {
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, incr, shared);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        /* The threads have exited: their cells were folded in, not lost. */
        AM_ASSERT_DBL_EQ(am_counter_value(shared),
                         (double)(round + 1) * THREADS * (PER_THREAD + 0.5));
    }
}

static void *lookup_and_inc(void *arg)
{
    fixture *f = arg;
    char v[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(v, sizeof v, "k%d", i % 3);
        am_counter *c;
        if (am_counter_with(f->fam, AM_LABELS(v, "1"), &c) == AM_OK)
            am_counter_inc(c);
    }
    return NULL;
}

static void test_concurrent_lookup_create(void **state)
{
    fixture *f = *state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, lookup_and_inc, f);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    double total = 0;
    for (int k = 0; k < 3; k++) {
        char v[16];
        snprintf(v, sizeof v, "k%d", k);
        am_counter *c;
        AM_ASSERT_OK(am_counter_with(f->fam, AM_LABELS(v, "1"), &c));
        total += am_counter_value(c);
    }
    AM_ASSERT_DBL_EQ(total, THREADS * 20000.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_and_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_and_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cardinality_guard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlabelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_lookup_create, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
