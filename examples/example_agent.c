/*
** example_agent.c: fill a registry the way an agent does, print it.
**
** A planner agent counts the messages it sends, times its tasks (with the
** RequestTimer-style scope), tracks its queue depth and in-flight work, and
** describes itself with an info metric. The registry is then printed in
** Prometheus text (or --openmetrics / --json).
**
** Build: make; run: build/examples/example_agent [--openmetrics|--json]
*/
#include <stdio.h>
#include <string.h>

#include "agentmon/agentmon.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        am_err rc_ = (call);                                                                       \
        if (rc_ != AM_OK) {                                                                        \
            fprintf(stderr, "%s: %s (%s)\n", #call, am_strerror(rc_), am_errmsg());                \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    am_format fmt = AM_FORMAT_PROMETHEUS;
    if (argc > 1 && strcmp(argv[1], "--openmetrics") == 0)
        fmt = AM_FORMAT_OPENMETRICS;
    else if (argc > 1 && strcmp(argv[1], "--json") == 0)
        fmt = AM_FORMAT_JSON;

    am_registry *reg;
    CHECK(am_registry_new(&reg));

    /* Who talks to whom. */
    const char *sent_labels[] = {"from_agent", "to_agent", "message_type"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "messaging_sent_total";
    o.help = "Messages sent between agents.";
    o.label_names = sent_labels;
    o.n_labels = 3;
    am_counter *sent, *to_researcher, *to_coder;
    CHECK(am_counter_new(reg, &o, &sent));
    CHECK(am_counter_with(sent, AM_LABELS("planner:1", "researcher:1", "task"), &to_researcher));
    CHECK(am_counter_with(sent, AM_LABELS("planner:1", "coder:1", "task"), &to_coder));

    /* How long tasks take, by outcome. */
    const char *task_labels[] = {"agent", "operation", "status"};
    am_metric_opts h = AM_METRIC_OPTS_INIT;
    h.name = "a2a_request_duration_seconds";
    h.help = "A2A request duration in seconds";
    h.unit = "seconds";
    h.label_names = task_labels;
    h.n_labels = 3;
    const double buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
    h.buckets = buckets;
    h.n_buckets = 9;
    am_histogram *duration;
    CHECK(am_histogram_new(reg, &h, &duration));

    /* Queue depth and work in flight. */
    const char *queue_labels[] = {"agent", "priority"};
    am_metric_opts g = AM_METRIC_OPTS_INIT;
    g.name = "messaging_queue_length";
    g.help = "Messages waiting per agent and priority.";
    g.json_name = "messaging.queue_length";
    g.label_names = queue_labels;
    g.n_labels = 2;
    am_gauge *queue, *q_high, *q_normal;
    CHECK(am_gauge_new(reg, &g, &queue));
    CHECK(am_gauge_with(queue, AM_LABELS("planner:1", "9"), &q_high));
    CHECK(am_gauge_with(queue, AM_LABELS("planner:1", "5"), &q_normal));

    am_metric_opts i = AM_METRIC_OPTS_INIT;
    i.name = "agentos";
    i.help = "AgentOS service information";
    am_info *info;
    CHECK(am_info_new(reg, &i, &info));
    const char *keys[] = {"version", "environment"}, *vals[] = {am_version(), "example"};
    am_labels pairs = {keys, vals, 2};
    CHECK(am_info_set(info, &pairs));

    /* The agent at work: ten tasks, every third one failing. */
    for (int t = 0; t < 10; t++) {
        am_counter_inc(t % 2 ? to_coder : to_researcher);
        am_timer_scope s;
        CHECK(am_timer_scope_begin(&s, duration, AM_LABELS("planner", "plan")));
        if (t % 3 == 2)
            am_timer_scope_fail(&s);
        am_timer_scope_end(&s);
    }
    am_gauge_set(q_high, 2);
    am_gauge_set(q_normal, 7);

    char *text;
    size_t len;
    CHECK(am_registry_encode(reg, fmt, &text, &len));
    fwrite(text, 1, len, stdout);
    am_free(text);
    am_registry_free(reg);
    am_shutdown();
    return 0;
}
