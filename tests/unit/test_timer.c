/*
** test_timer.c: timers and the timed scope -- success and error status,
** the automatic scope macro, and refusals that leave the scope inert.
*/
#include <time.h>

#include "testutil.h"

static am_histogram *make(am_registry *r, const char *const *labels, size_t n)
{
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "a2a_request_duration_seconds";
    o.help = "A2A request duration in seconds";
    o.label_names = labels;
    o.n_labels = n;
    am_histogram *h;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    return h;
}

static int work(am_histogram *h, int fail)
{
    AM_TIMED_SCOPE(s, h, AM_LABELS("navi", "query"));
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    if (fail) {
        am_timer_scope_fail(&s);
        return -1;
    }
    return 0;
}

static void test_scope(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *l[] = {"agent", "operation", "status"};
    am_histogram *h = make(r, l, 3);
    am_timer t = am_timer_start();
    work(h, 0);
    work(h, 1);
    work(h, 0);
    double elapsed = am_timer_seconds(&t);
    assert_true(elapsed >= 0.006);

    am_histogram *ok, *err;
    AM_ASSERT_OK(am_histogram_with(h, AM_LABELS("navi", "query", "success"), &ok));
    AM_ASSERT_OK(am_histogram_with(h, AM_LABELS("navi", "query", "error"), &err));
    uint64_t n_ok, n_err;
    double sum_ok;
    am_histogram_read(ok, &n_ok, &sum_ok, NULL);
    am_histogram_read(err, &n_err, NULL, NULL);
    AM_ASSERT_EQ(n_ok, 2);
    AM_ASSERT_EQ(n_err, 1);
    assert_true(sum_ok >= 0.004 && sum_ok <= elapsed);

    /* Explicit begin/end; a second end does nothing. */
    am_timer_scope s;
    AM_ASSERT_OK(am_timer_scope_begin(&s, h, AM_LABELS("navi", "run")));
    AM_ASSERT_OK(am_timer_scope_end(&s));
    AM_ASSERT_OK(am_timer_scope_end(&s));
    am_histogram *run;
    AM_ASSERT_OK(am_histogram_with(h, AM_LABELS("navi", "run", "success"), &run));
    am_histogram_read(run, &n_ok, NULL, NULL);
    AM_ASSERT_EQ(n_ok, 1);

    /* Refusals: the scope is inert. */
    AM_ASSERT_ERR(am_timer_scope_begin(&s, h, AM_LABELS("only")), AM_EINVAL);
    AM_ASSERT_OK(am_timer_scope_end(&s));
    AM_ASSERT_ERR(am_timer_scope_begin(&s, ok, AM_LABELS("navi", "x")), AM_EMISUSE);
    const char *nostatus[] = {"agent"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "other_seconds";
    o.label_names = nostatus;
    o.n_labels = 1;
    am_histogram *other;
    AM_ASSERT_OK(am_histogram_new(r, &o, &other));
    AM_ASSERT_ERR(am_timer_scope_begin(&s, other, AM_LABELS("a")), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "status");
    am_registry_free(r);
}

static void test_status_anywhere(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *l[] = {"status", "agent_id"};
    am_histogram *h = make(r, l, 2);
    am_timer_scope s;
    AM_ASSERT_OK(am_timer_scope_begin(&s, h, AM_LABELS("coder:1")));
    am_timer_scope_fail(&s);
    AM_ASSERT_OK(am_timer_scope_end(&s));
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "_count{status=\"error\",agent_id=\"coder:1\"} 1\n");
    am_free(text);
    am_registry_free(r);
}

static void test_clocks(void **state)
{
    (void)state;
    uint64_t a = am_now_ns(), b = am_now_ns();
    assert_true(b >= a);
    double now = am_unix_time();
    assert_true(now > 1.6e9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_scope),
                                       cmocka_unit_test(test_status_anywhere),
                                       cmocka_unit_test(test_clocks)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
