/*
** test_exemplar.c: exemplars -- the last one per bucket, their limits and
** refusals (which never stop the observation itself), and their exposition
** in OpenMetrics and JSON but not in Prometheus 0.0.4.
*/
#include <pthread.h>

#include "testutil.h"
#include "core/hooks.h"

static void test_exemplars(void **state)
{
    (void)state;
    am__time_hook = am_test_fixed_time;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "task_seconds";
    o.help = "Task time.";
    const double b[] = {0.1, 1};
    o.buckets = b;
    o.n_buckets = 2;
    am_histogram *h;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    o.name = "tasks_total";
    am_counter *c;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));

    const char *n1[] = {"trace_id"}, *v1[] = {"4bf92f3577b34da6a3ce929d0e0e4736"};
    const char *v2[] = {"00f067aa0ba902b7"};
    am_labels ex1 = {n1, v1, 1}, ex2 = {n1, v2, 1};
    AM_ASSERT_OK(am_histogram_observe_exemplar(h, 0.05, &ex1));
    AM_ASSERT_OK(am_histogram_observe_exemplar(h, 0.07, &ex2)); /* replaces ex1 in bucket 0 */
    AM_ASSERT_OK(am_histogram_observe_exemplar(h, 5, &ex1));
    AM_ASSERT_OK(am_counter_add_exemplar(c, 2, &ex1));

    /* Refusals still count the observation. */
    char longv[200];
    memset(longv, 'x', 150);
    longv[150] = '\0';
    const char *vl[] = {longv};
    am_labels toolong = {n1, vl, 1};
    AM_ASSERT_ERR(am_histogram_observe_exemplar(h, 0.5, &toolong), AM_ELIMIT);
    const char *bn[] = {"bad-name"};
    am_labels badname = {bn, v1, 1};
    AM_ASSERT_ERR(am_counter_add_exemplar(c, 1, &badname), AM_EINVAL);
    AM_ASSERT_ERR(am_counter_add_exemplar(c, -1, &ex1), AM_EINVAL); /* refused whole */
    const char *dn[] = {"a", "a"}, *dv[] = {"1", "2"};
    am_labels dup = {dn, dv, 2};
    AM_ASSERT_ERR(am_histogram_observe_exemplar(h, 0.5, &dup), AM_EINVAL);
    const char *bv[] = {"\xc3("};
    am_labels badutf = {n1, bv, 1};
    AM_ASSERT_ERR(am_histogram_observe_exemplar(h, 0.5, &badutf), AM_EINVAL);
    AM_ASSERT_ERR(am_histogram_observe_exemplar(h, 0.5, NULL), AM_EINVAL);
    uint64_t count;
    am_histogram_read(h, &count, NULL, NULL);
    AM_ASSERT_EQ(count, 7);
    AM_ASSERT_DBL_EQ(am_counter_value(c), 3);

    char *text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text, "task_seconds_bucket{le=\"0.1\"} 2 # {trace_id=\"00f067aa0ba902b7\"} "
                             "0.07 1700000000.500\n");
    AM_ASSERT_CONTAINS(text, "task_seconds_bucket{le=\"+Inf\"} 7 # {trace_id=\"4bf92f3577b34da6a3"
                             "ce929d0e0e4736\"} 5 1700000000.500\n");
    AM_ASSERT_CONTAINS(text, "tasks_total 3 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 2 "
                             "1700000000.500\n");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_LACKS(text, "trace_id");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_JSON);
    AM_ASSERT_CONTAINS(text,
                       "\"exemplars\":{\"0.1\":{\"labels\":{\"trace_id\":\"00f067aa0ba902b7\"},"
                       "\"value\":0.07,\"timestamp\":1700000000.500}");
    AM_ASSERT_CONTAINS(text, "\"exemplar\":{\"labels\":{\"trace_id\":");
    am_free(text);
    am_registry_free(r);
    am__time_hook = NULL;
}

static void test_escaped_and_multi(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "ops_total";
    am_counter *c;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    const char *n[] = {"trace_id", "note"}, *v[] = {"abc", "q\"\\\n"};
    am_labels ex = {n, v, 2};
    AM_ASSERT_OK(am_counter_add_exemplar(c, 1, &ex));
    char *text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text, "# {trace_id=\"abc\",note=\"q\\\"\\\\\\n\"} 1 ");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_JSON);
    AM_ASSERT_CONTAINS(text, "{\"trace_id\":\"abc\",\"note\":\"q\\\"\\\\\\n\"}");
    am_free(text);
    am_registry_free(r);
}

/* am_encode_exemplars() into text: name{labels}|{exemplar labels} value ts, a line each. */
typedef struct ex_text {
    char s[2048];
    size_t len;
    int stop_after; /* non-zero: stop the walk after this many */
    int n;
} ex_text;

static int collect_ex(void *ud, const am_label_pair *p, size_t n, const am_label_pair *ex,
                      size_t n_ex, double value, double ts)
{
    ex_text *t = ud;
    size_t room = sizeof t->s - t->len;
    int k = snprintf(t->s + t->len, room, "%s{", p[0].value);
    for (size_t i = 1; i < n; i++)
        k += snprintf(t->s + t->len + (size_t)k, room - (size_t)k, "%s%s=%s", i > 1 ? "," : "",
                      p[i].name, p[i].value);
    k += snprintf(t->s + t->len + (size_t)k, room - (size_t)k, "}|{");
    for (size_t i = 0; i < n_ex; i++)
        k += snprintf(t->s + t->len + (size_t)k, room - (size_t)k, "%s%s=%s", i ? "," : "",
                      ex[i].name, ex[i].value);
    k += snprintf(t->s + t->len + (size_t)k, room - (size_t)k, "} %g %.3f\n", value, ts);
    t->len += (size_t)k;
    return t->stop_after && ++t->n >= t->stop_after;
}

/* The exemplars alone, named as the OpenMetrics text names their samples,
   escapes undone, in the text's order; samples without one left out. */
static void test_encode_exemplars(void **state)
{
    (void)state;
    am__time_hook = am_test_fixed_time;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "task_seconds";
    o.help = "Task time.";
    const char *ln[] = {"agent"};
    o.label_names = ln;
    o.n_labels = 1;
    const double b[] = {0.1, 1};
    o.buckets = b;
    o.n_buckets = 2;
    am_histogram *h, *hc;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    o.name = "ops_total";
    o.label_names = NULL;
    o.n_labels = 0;
    am_counter *c;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    o.name = "idle_total";
    am_counter *idle;
    AM_ASSERT_OK(am_counter_new(r, &o, &idle));
    am_counter_inc(idle); /* no exemplar: not reported */

    const char *n[] = {"trace_id", "note"}, *v[] = {"abc", "q\"\\\n,x=\"y\""};
    am_labels ex = {n, v, 2}, ex1 = {n, v, 1};
    AM_ASSERT_OK(am_counter_add_exemplar(c, 2, &ex));
    AM_ASSERT_OK(am_histogram_with(h, AM_LABELS("a\"1"), &hc));
    AM_ASSERT_OK(am_histogram_observe_exemplar(hc, 5, &ex1));
    am_histogram_observe(hc, 0.05); /* bucket 0.1: a count, no exemplar */

    ex_text t = {0};
    AM_ASSERT_OK(am_encode_exemplars(&r, 1, collect_ex, &t));
    assert_string_equal(t.s, "ops_total{}|{trace_id=abc,note=q\"\\\n,x=\"y\"} 2 1700000000.500\n"
                             "task_seconds_bucket{agent=a\"1,le=+Inf}|{trace_id=abc} 5 "
                             "1700000000.500\n");

    /* a non-zero return stops the walk: AM_ENOMEM, after that one */
    ex_text one = {.stop_after = 1};
    AM_ASSERT_ERR(am_encode_exemplars(&r, 1, collect_ex, &one), AM_ENOMEM);
    AM_ASSERT_EQ(one.n, 1);
    AM_ASSERT_ERR(am_encode_exemplars(&r, 1, NULL, &t), AM_EINVAL);
    AM_ASSERT_ERR(am_encode_exemplars(NULL, 1, collect_ex, &t), AM_EINVAL);
    AM_ASSERT_OK(am_encode_exemplars(NULL, 0, collect_ex, &t));
    am_registry_free(r);
    am__time_hook = NULL;
}

static void *writer(void *arg)
{
    const char *n[] = {"trace_id"};
    char id[40];
    for (int i = 0; i < 50000; i++) {
        snprintf(id, sizeof id, "t%d", i);
        const char *v[] = {id};
        am_labels ex = {n, v, 1};
        am_histogram_observe_exemplar(arg, 0.5, &ex);
    }
    return NULL;
}

static void test_concurrent_writers_and_scrapes(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "x_seconds";
    am_histogram *h;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, writer, h);
    for (int k = 0; k < 50; k++) {
        char *text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
        const char *e = strstr(text, "le=\"0.5\"}");
        if (e && strstr(e, "# {")) {
            /* Whatever we read is one whole exemplar, never a torn mix. */
            const char *id = strstr(e, "trace_id=\"t");
            assert_non_null(id);
        }
        am_free(text);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exemplars),
                                       cmocka_unit_test(test_escaped_and_multi),
                                       cmocka_unit_test(test_encode_exemplars),
                                       cmocka_unit_test(test_concurrent_writers_and_scrapes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
