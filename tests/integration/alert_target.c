/*
** alert_target.c: a scrape target with scripted series, for the
** differential test of the alerting engine (tests/integration/alert_diff.sh).
**
**   alert_target      prints its port, serves /metrics until SIGTERM
**
** The series are agentmon's own, made with agentmon's metric types: the
** task pack (agent_task_duration_seconds with the buckets agentmon
** exposes, agent_task_success_total, agent_task_failure_total,
** agent_queue_depth), a messaging_dlq_growth_events_total counter, and a
** counter that is removed and made again (a counter reset). Every 100 ms
** the script sets them from the seconds since start:
**   queue planner:1   10, then 150 from 8 s to 30 s, then 20
**   queue coder:1     50 + 10 per 5 s (past 100 from 25 s)
**   queue temp:1      200 from 12 s to 24 s, absent otherwise (staleness)
**   coder:1 tasks     6..8 s long from 10 s to 40 s; failing from 15 s to 35 s
**   writer:1 tasks    50 ms long, always succeeding
**   DLQ growth        one event at 5 s, 18 s and 31 s
**   restarts          counts up, reset at 20 s
*/
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
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
            fprintf(stderr, "alert_target: %s: %s\n", #call, am_errmsg());                         \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    am_registry *r;
    CHECK(am_registry_new(&r));
    am_task_pack *tasks;
    CHECK(am_task_pack_new(r, &tasks));
    am_gauge *depth;
    CHECK(am_gauge_find(r, "agent_queue_depth", &depth));
    const char *al[] = {"agent"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "messaging_dlq_growth_events_total";
    o.help = "Times a DLQ grew past its threshold";
    o.label_names = al;
    o.n_labels = 1;
    am_counter *dlq, *dlq_w;
    CHECK(am_counter_new(r, &o, &dlq));
    CHECK(am_counter_with(dlq, AM_LABELS("writer:1"), &dlq_w));
    const char *pl[] = {"pod"};
    o = (am_metric_opts)AM_METRIC_OPTS_INIT;
    o.name = "agentmon_diff_restarts_total";
    o.help = "A counter that is reset once";
    o.label_names = pl;
    o.n_labels = 1;
    am_counter *restarts, *rs;
    CHECK(am_counter_new(r, &o, &restarts));
    CHECK(am_counter_with(restarts, AM_LABELS("p1"), &rs));

    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.port = 0;
    ho.registries = &r;
    ho.n_registries = 1;
    am_http *srv;
    CHECK(am_http_start(&ho, &srv));
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("%u\n", am_http_port(srv));
    fflush(stdout);

    double t0 = now_s();
    bool temp_on = false, reset_done = false;
    int dlq_sent = 0;
    while (!g_stop) {
        double e = now_s() - t0;
        CHECK(am_task_queue_depth(tasks, "planner:1", e < 8 ? 10 : e < 30 ? 150 : 20));
        CHECK(am_task_queue_depth(tasks, "coder:1", 50 + 10 * floor(e / 5)));
        bool want_temp = e >= 12 && e < 24;
        if (want_temp && !temp_on)
            CHECK(am_task_queue_depth(tasks, "temp:1", 200));
        if (!want_temp && temp_on)
            CHECK(am_gauge_remove(depth, AM_LABELS("temp:1")));
        temp_on = want_temp;
        if (e >= 10 && e < 40) {
            bool fail = e >= 15 && e < 35 && fmod(e, 1.0) < 0.6;
            CHECK(am_task_finished(tasks, "coder:1", fail ? "Timeout" : NULL, 6.0 + fmod(e, 2.0),
                                   NULL));
        }
        CHECK(am_task_finished(tasks, "writer:1", NULL, 0.05, NULL));
        static const double DLQ_AT[] = {5, 18, 31};
        while (dlq_sent < 3 && e >= DLQ_AT[dlq_sent]) {
            am_counter_inc(dlq_w);
            dlq_sent++;
        }
        if (e >= 20 && !reset_done) {
            CHECK(am_counter_remove(restarts, AM_LABELS("p1")));
            CHECK(am_counter_with(restarts, AM_LABELS("p1"), &rs));
            reset_done = true;
        }
        am_counter_add(rs, 3);
        usleep(100000);
    }
    am_http_free(srv);
    am_task_pack_free(tasks);
    am_registry_free(r);
    am_shutdown();
    return 0;
}
