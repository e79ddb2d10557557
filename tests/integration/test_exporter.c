/*
** test_exporter.c: an exporter with known values, for a real Prometheus to
** scrape (tests/integration/prometheus.sh).
**
**   test_exporter [--tls CERT KEY] [--bearer TOKEN]
**
** Serves /metrics on 127.0.0.1 and a free port, which it prints on its first
** line of output, then waits for SIGTERM or SIGINT. The values are fixed so
** the script can ask Prometheus for them and compare.
*/
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentmon/agentmon.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        am_err rc_ = (call);                                                                       \
        if (rc_ != AM_OK && rc_ != AM_ELIMIT) {                                                    \
            fprintf(stderr, "test_exporter: %s: %s\n", #call, am_errmsg());                        \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
            ho.tls_cert_file = argv[++i];
            ho.tls_key_file = argv[++i];
        } else if (strcmp(argv[i], "--bearer") == 0 && i + 1 < argc) {
            ho.builtin_auth.bearer_token = argv[++i];
        } else {
            fprintf(stderr, "usage: test_exporter [--tls CERT KEY] [--bearer TOKEN]\n");
            return 2;
        }
    }
    am_registry *r;
    CHECK(am_registry_new(&r));
    CHECK(am_registry_enable_process_metrics(r));

    const char *tl[] = {"agent_id", "error_type"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_task_failure_total";
    o.help = "Total failed task executions";
    o.label_names = tl;
    o.n_labels = 2;
    am_counter *fail, *c;
    CHECK(am_counter_new(r, &o, &fail));
    CHECK(am_counter_with(fail, AM_LABELS("coder:1", "TimeoutError"), &c));
    CHECK(am_counter_add(c, 42));
    CHECK(am_counter_with(fail, AM_LABELS("say \"hi\"", "\xc3\xa9"), &c));
    am_counter_inc(c);

    const char *ql[] = {"queue_name"};
    o = (am_metric_opts)AM_METRIC_OPTS_INIT;
    o.name = "agent_queue_depth";
    o.help = "Current queue depth";
    o.label_names = ql;
    o.n_labels = 1;
    am_gauge *depth, *g;
    CHECK(am_gauge_new(r, &o, &depth));
    CHECK(am_gauge_with(depth, AM_LABELS("planner"), &g));
    am_gauge_set(g, -3.5);

    const char *hl[] = {"agent_id", "status"};
    o = (am_metric_opts)AM_METRIC_OPTS_INIT;
    o.name = "agent_task_duration_seconds";
    o.help = "Task execution duration in seconds";
    o.unit = "seconds";
    o.label_names = hl;
    o.n_labels = 2;
    am_histogram *dur, *h;
    CHECK(am_histogram_new(r, &o, &dur));
    CHECK(am_histogram_with(dur, AM_LABELS("planner:1", "success"), &h));
    const char *en[] = {"trace_id"}, *ev[] = {"4bf92f3577b34da6a3ce929d0e0e4736"};
    am_labels ex = {en, ev, 1};
    am_histogram_observe(h, 0.05);
    am_histogram_observe(h, 0.5);
    CHECK(am_histogram_observe_exemplar(h, 7, &ex));

    const char *states[] = {"closed", "open", "half_open"}, *sl[] = {"provider"};
    o = (am_metric_opts)AM_METRIC_OPTS_INIT;
    o.name = "circuit_breaker";
    o.help = "Circuit breaker state.";
    o.states = states;
    o.n_states = 3;
    o.label_names = sl;
    o.n_labels = 1;
    am_stateset *ss, *s;
    CHECK(am_stateset_new(r, &o, &ss));
    CHECK(am_stateset_with(ss, AM_LABELS("anthropic"), &s));
    CHECK(am_stateset_select(s, 1));

    o = (am_metric_opts)AM_METRIC_OPTS_INIT;
    o.name = "agentos";
    o.help = "AgentOS service information";
    am_info *info;
    CHECK(am_info_new(r, &o, &info));
    const char *ik[] = {"version"}, *iv[] = {AM_VERSION_STRING};
    am_labels pairs = {ik, iv, 1};
    CHECK(am_info_set(info, &pairs));

    ho.registries = &r;
    ho.n_registries = 1;
    am_http *srv;
    CHECK(am_http_start(&ho, &srv));
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("%u\n", am_http_port(srv));
    fflush(stdout);
    while (!g_stop)
        pause();
    am_http_free(srv);
    am_registry_free(r);
    am_shutdown();
    return 0;
}
