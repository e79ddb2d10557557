/*
** http_agent.c: a C agent that Prometheus can scrape and whose logs join
** its metrics by trace_id -- requirement 10.1-10.3 of the monitoring spec.
**
**   http_agent [--listen HOST:PORT] [--duration SECONDS] [--log FILE]
**
** It serves /metrics, /health and /snapshot (default 127.0.0.1:9464; port 0
** picks one, printed on the first line of output), then works: every 50 ms
** it runs a task under a new trace, logs it as a JSON line carrying that
** trace's ids, and records the task in agent_task_* metrics, the duration
** with the trace as an OpenMetrics exemplar. A slow task's bucket therefore
** links to the very log lines that explain it. Ctrl-C stops it.
**
** The three lines that make an agent scrapeable are marked below.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmon/agentmon.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: http_agent [--listen HOST:PORT] [--duration SECONDS] [--log FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    char host[128] = "127.0.0.1";
    long port = 9464;
    double duration = 0;
    const char *log_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            const char *hp = argv[++i], *colon = strrchr(hp, ':');
            if (!colon || (size_t)(colon - hp) >= sizeof host)
                return usage();
            memcpy(host, hp, (size_t)(colon - hp));
            host[colon - hp] = '\0';
            char *end;
            port = strtol(colon + 1, &end, 10);
            if (*end || port < 0 || port > 65535)
                return usage();
        } else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
            duration = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
            log_path = argv[++i];
        } else {
            return usage();
        }
    }

    am_logger *lg = NULL; /* NULL: the default logger, on stdout */
    if (log_path) {
        am_log_opts lo = AM_LOG_OPTS_INIT;
        lo.path = log_path;
        if (am_logger_new(&lo, &lg) != AM_OK) {
            fprintf(stderr, "http_agent: %s\n", am_errmsg());
            return 1;
        }
    }

    /* The task metrics of the monitoring spec, in the default registry. */
    const char *dl[] = {"agent_id", "status"}, *sl[] = {"agent_id"},
               *fl[] = {"agent_id", "error_type"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_task_duration_seconds";
    o.help = "Task execution duration in seconds";
    o.label_names = dl;
    o.n_labels = 2;
    am_histogram *duration_h, *ok_h, *err_h;
    am_counter *success, *failure, *ok_c, *timeout_c;
    am_histogram_new(NULL, &o, &duration_h);
    o.name = "agent_task_success_total";
    o.help = "Total successful task executions";
    o.label_names = sl;
    o.n_labels = 1;
    am_counter_new(NULL, &o, &success);
    o.name = "agent_task_failure_total";
    o.help = "Total failed task executions";
    o.label_names = fl;
    o.n_labels = 2;
    am_counter_new(NULL, &o, &failure);
    if (am_histogram_with(duration_h, AM_LABELS("planner:1", "success"), &ok_h) ||
        am_histogram_with(duration_h, AM_LABELS("planner:1", "failure"), &err_h) ||
        am_counter_with(success, AM_LABELS("planner:1"), &ok_c) ||
        am_counter_with(failure, AM_LABELS("planner:1", "TimeoutError"), &timeout_c)) {
        fprintf(stderr, "http_agent: %s\n", am_errmsg());
        return 1;
    }
    am_registry_enable_process_metrics(NULL);

    am_http_opts ho = AM_HTTP_OPTS_INIT; /* 1 */
    ho.host = host;
    ho.port = (uint16_t)port;
    am_http *srv;
    if (am_http_start(&ho, &srv) != AM_OK) { /* 2, 3: serving until am_http_free */
        fprintf(stderr, "http_agent: %s\n", am_errmsg());
        return 1;
    }
    printf("%u\n", am_http_port(srv));
    fflush(stdout);
    AM_LOG_INFO(lg, "http_agent", "serving /metrics", AM_F_STR("host", host),
                AM_F_INT("port", am_http_port(srv)));

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    am_timer run = am_timer_start();
    unsigned seed = (unsigned)time(NULL);
    for (long task = 1; !g_stop && (duration <= 0 || am_timer_seconds(&run) < duration); task++) {
        am_trace_ctx t;
        am_trace_new(&t);
        am_trace_set_current(&t);
        AM_LOG_INFO(lg, "planner", "task started", AM_F_INT("task", task));
        seed = seed * 1103515245u + 12345u;
        double seconds = 0.01 + (double)((seed >> 16) % 1000) / 1000.0 * 0.2;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        bool failed = (seed >> 8) % 10 == 0;
        if (failed) {
            am_counter_inc(timeout_c);
            am_histogram_observe_traced(err_h, seconds);
            AM_LOG_ERROR(lg, "planner", "task failed", AM_F_INT("task", task),
                         AM_F_ERROR("TimeoutError", "the LLM call timed out"));
        } else {
            am_counter_inc(ok_c);
            am_histogram_observe_traced(ok_h, seconds);
            AM_LOG_INFO(lg, "planner", "task finished", AM_F_INT("task", task),
                        AM_F_DOUBLE("duration_seconds", seconds));
        }
        am_trace_clear_current();
    }
    AM_LOG_INFO(lg, "http_agent", "stopping");
    am_http_free(srv);
    am_logger_free(lg);
    am_shutdown();
    return 0;
}
