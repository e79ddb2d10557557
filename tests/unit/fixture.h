/*
** fixture.h: one registry holding every kind of family the encoders must
** handle -- all types, escaping in help and label values, units, aliases,
** exemplars, special values -- built the same way for each encoder's golden
** test, with the clock fixed so the output is byte-exact.
*/
#ifndef AM_FIXTURE_H
#define AM_FIXTURE_H

#include <math.h>

#include "testutil.h"
#include "core/hooks.h"

static void fixture_collect(am_sink *s, void *ud)
{
    (void)ud;
    am_sink_put(s, AM_LABELS("planner:1", "9"), 2);
    am_sink_put(s, AM_LABELS("planner:1", "5"), 7);
}

static am_registry *fixture_registry(void)
{
    am__time_hook = am_test_fixed_time;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));

    const char *ct_labels[] = {"agent_id", "error_type"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_task_failure_total";
    o.help = "Total failed task executions";
    o.label_names = ct_labels;
    o.n_labels = 2;
    am_counter *fail, *c;
    AM_ASSERT_OK(am_counter_new(r, &o, &fail));
    AM_ASSERT_OK(am_counter_with(fail, AM_LABELS("coder:1", "TimeoutError"), &c));
    AM_ASSERT_OK(am_counter_add(c, 3));
    AM_ASSERT_OK(am_counter_with(fail, AM_LABELS("say \"hi\"\\\n", "\xc3\xa9\xe6\x97\xa5"), &c));
    am_counter_inc(c);

    am_metric_opts p = AM_METRIC_OPTS_INIT;
    p.name = "messaging_nacks_total";
    p.help = "Nacks, with a \\ backslash and\na newline and \"quotes\".";
    p.json_name = "messaging.nacks.total";
    am_counter *nacks;
    AM_ASSERT_OK(am_counter_new(r, &p, &nacks));
    const char *en[] = {"trace_id"}, *ev[] = {"4bf92f3577b34da6a3ce929d0e0e4736"};
    am_labels ex = {en, ev, 1};
    AM_ASSERT_OK(am_counter_add_exemplar(nacks, 12, &ex));

    const char *h_labels[] = {"agent_id", "status"};
    am_metric_opts h = AM_METRIC_OPTS_INIT;
    h.name = "agent_task_duration_seconds";
    h.help = "Task execution duration in seconds";
    h.unit = "seconds";
    h.label_names = h_labels;
    h.n_labels = 2;
    const double b[] = {0.1, 0.5, 1, 2.5};
    h.buckets = b;
    h.n_buckets = 4;
    am_histogram *hist, *hc;
    AM_ASSERT_OK(am_histogram_new(r, &h, &hist));
    AM_ASSERT_OK(am_histogram_with(hist, AM_LABELS("planner:1", "success"), &hc));
    am_histogram_observe(hc, 0.05);
    am_histogram_observe(hc, 0.5);
    AM_ASSERT_OK(am_histogram_observe_exemplar(hc, 1.75, &ex));
    am_histogram_observe(hc, 30);

    const char *g_labels[] = {"agent", "priority"};
    am_metric_opts g = AM_METRIC_OPTS_INIT;
    g.name = "messaging_retries_last_backoff_seconds";
    g.help = "Backoff of the last scheduled retry.";
    g.unit = "seconds";
    g.json_name = "messaging.retries.last_backoff_seconds";
    am_gauge *backoff;
    AM_ASSERT_OK(am_gauge_new(r, &g, &backoff));
    am_gauge_set(backoff, 0.125);
    g = (am_metric_opts)AM_METRIC_OPTS_INIT;
    g.name = "odd_values";
    g.help = "Values only a gauge may hold.";
    g.label_names = g_labels;
    g.n_labels = 2;
    am_gauge *odd, *gc;
    AM_ASSERT_OK(am_gauge_new(r, &g, &odd));
    const double vals[] = {-2.5, NAN, INFINITY, -INFINITY, 1e300, 5e-324, 1234567};
    for (size_t i = 0; i < 7; i++) {
        char v[8];
        snprintf(v, sizeof v, "%zu", i);
        AM_ASSERT_OK(am_gauge_with(odd, AM_LABELS("a", v), &gc));
        am_gauge_set(gc, vals[i]);
    }

    am_metric_opts q = AM_METRIC_OPTS_INIT;
    q.name = "messaging_queue_length";
    q.help = "Messages waiting, per agent and priority.";
    q.json_name = "messaging.queue_length";
    q.label_names = g_labels;
    q.n_labels = 2;
    am_callback *cb;
    AM_ASSERT_OK(am_callback_new(r, AM_TYPE_GAUGE, &q, fixture_collect, NULL, &cb));

    am_metric_opts i = AM_METRIC_OPTS_INIT;
    i.name = "agentos";
    i.help = "AgentOS service information";
    am_info *info;
    AM_ASSERT_OK(am_info_new(r, &i, &info));
    const char *ik[] = {"version", "environment"}, *iv[] = {"1.2.3", "test"};
    am_labels pairs = {ik, iv, 2};
    AM_ASSERT_OK(am_info_set(info, &pairs));

    const char *states[] = {"closed", "open", "half_open"}, *s_labels[] = {"provider"};
    am_metric_opts s = AM_METRIC_OPTS_INIT;
    s.name = "circuit_breaker";
    s.help = "Circuit breaker state.";
    s.states = states;
    s.n_states = 3;
    s.label_names = s_labels;
    s.n_labels = 1;
    am_stateset *ss, *sc;
    AM_ASSERT_OK(am_stateset_new(r, &s, &ss));
    AM_ASSERT_OK(am_stateset_with(ss, AM_LABELS("anthropic"), &sc));
    AM_ASSERT_OK(am_stateset_select(sc, 1));

    am_metric_opts e = AM_METRIC_OPTS_INIT;
    e.name = "empty_family_total";
    e.help = "A labelled family with no children yet.";
    e.label_names = s_labels;
    e.n_labels = 1;
    am_counter *empty;
    AM_ASSERT_OK(am_counter_new(r, &e, &empty));
    return r;
}

static void fixture_free(am_registry *r)
{
    am_registry_free(r);
    am__time_hook = NULL;
}

#endif
