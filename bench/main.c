/*
** main.c: am-bench's driver -- options, the table of figure groups, the
** timing loop every ns/op figure shares, and the order things run in.
**
**     am-bench [--quick] [--no-peer] [--only NAME] [--peer PATH] [--python PATH]
**
** WHAT AND WHY
** am-bench shows the performance claims of libagentmon as numbers: the
** per-thread-cell hot path (counter inc, histogram observe, two threads on
** one series), the lock-free label lookup, Prometheus text encoding of many
** series and the memory 100,000 series take. Each figure carries the target
** the issue set, and, where the Python peer (bench/peer_python.py, run with
** Debian's prometheus_client) performed the same operation in this run, its
** number and the ratio peer/ours.
**
** ORDER
** The peer runs first, alone, so that its process is gone before anything of
** ours is timed; then the groups run one after another on this thread (the
** two-thread group starts its own threads and joins them). The RSS group
** measures in a fresh process (this executable again, with --rss-child), so
** nothing the other groups allocated can be counted.
**
** TIMING
** bench_best_ns_per_op() doubles the loop count until one run takes at least
** 1/20 of a repetition (which also warms caches and allocates the calling
** thread's cell pages), scales it to a repetition of min_rep_ns (100 ms, or
** 10 ms with --quick), then keeps the fastest of reps (5, or 2) runs: the
** least disturbed by other work on the machine. Nothing is pinned.
**
** The operations are calls into the static library (no LTO), which the
** compiler cannot drop, so the loops need no other guard.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, readlink, barriers in strict C11 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "bench.h"

bench_opts g_opts;

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
}

uint64_t bench_calibrate(bench_loop_fn fn, void *arg)
{
    uint64_t n = 1000, t;
    for (;;) {
        uint64_t t0 = bench_now_ns();
        fn(arg, n);
        t = bench_now_ns() - t0;
        if (t >= g_opts.min_rep_ns / 20 || n >= (UINT64_C(1) << 40))
            break;
        n *= 2;
    }
    if (t == 0)
        t = 1;
    double scaled = (double)n * (double)g_opts.min_rep_ns / (double)t;
    return scaled < 1000.0 ? 1000 : (uint64_t)scaled;
}

double bench_best_ns_per_op(bench_loop_fn fn, void *arg)
{
    uint64_t n = bench_calibrate(fn, arg);
    double best = -1.0;
    for (int r = 0; r < g_opts.reps; r++) {
        uint64_t t0 = bench_now_ns();
        fn(arg, n);
        double ns = (double)(bench_now_ns() - t0) / (double)n;
        if (best < 0 || ns < best)
            best = ns;
    }
    return best;
}

typedef struct pair {
    bench_loop_fn fn;
    void *arg;
    uint64_t n, t0, t1;
    pthread_barrier_t *go;
} pair;

static void *pair_thread(void *p)
{
    pair *w = p;
    w->fn(w->arg, 1);
    pthread_barrier_wait(w->go);
    w->t0 = bench_now_ns();
    w->fn(w->arg, w->n);
    w->t1 = bench_now_ns();
    return NULL;
}

double bench_pair_ns_per_op(bench_loop_fn fn, void *arg[2], uint64_t n)
{
    pthread_barrier_t go;
    if (pthread_barrier_init(&go, NULL, 2) != 0)
        return -1;
    pair w[2] = {{fn, arg[0], n, 0, 0, &go}, {fn, arg[1], n, 0, 0, &go}};
    pthread_t th[2];
    if (pthread_create(&th[0], NULL, pair_thread, &w[0]) != 0) {
        pthread_barrier_destroy(&go);
        return -1;
    }
    if (pthread_create(&th[1], NULL, pair_thread, &w[1]) != 0) {
        /* the first waits at the barrier for ever: give up on the process */
        fputs("am-bench: pthread_create failed\n", stderr);
        exit(1);
    }
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&go);
    uint64_t t0 = w[0].t0 < w[1].t0 ? w[0].t0 : w[1].t0;
    uint64_t t1 = w[0].t1 > w[1].t1 ? w[0].t1 : w[1].t1;
    return (double)(t1 - t0) / (double)n;
}

/* ------------------------------------------------------------------ */
/* Groups                                                              */
/* ------------------------------------------------------------------ */

typedef struct group {
    const char *name;
    void (*run)(void);
    const char *figures[8]; /* what it prints, for --only */
} group;

static const group GROUPS[] = {
    {"counter_inc", bench_group_counter_inc, {"counter_inc", "cell_add_floor"}},
    {"counter_inc_labelled", bench_group_counter_inc_labelled, {"counter_inc_labelled"}},
    {"counter_inc_2threads",
     bench_group_counter_inc_2threads,
     {"counter_inc_2threads_shared", "counter_inc_2threads_own",
      "counter_inc_2threads_shared_vs_own"}},
    {"histogram_observe", bench_group_histogram_observe, {"histogram_observe"}},
    {"counter_with_existing", bench_group_counter_with_existing, {"counter_with_existing"}},
    {"encode_prometheus_10k",
     bench_group_encode_10k,
     {"encode_prometheus_10k_ms", "encode_prometheus_10k_bytes"}},
    {"encode_prometheus_100k",
     bench_group_encode_100k,
     {"encode_prometheus_100k_ms", "encode_prometheus_100k_bytes"}},
    {"encode_first",
     bench_group_encode_first,
     {"encode_first_call_ms", "encode_second_call_ms", "encode_third_call_ms"}},
    {"query_exemplars", bench_group_query_exemplars, {"query_exemplars_ms"}},
    {"rss_100k_children",
     bench_group_rss_100k,
     {"rss_100k_children_mib", "rss_100k_children_abs_mib"}},
    {"http_scrape",
     bench_group_http_scrape,
     {"http_scrape_10k_rps", "http_scrape_10k_p99_ms", "http_scrape_10k_gzip_rps",
      "http_scrape_10k_gzip_p99_ms"}},
    {"http_slowloris",
     bench_group_http_slowloris,
     {"http_health_idle_p99_ms", "http_health_slowloris_p99_ms", "http_health_slowloris_max_ms"}},
    {"coord_memory",
     bench_group_coord_memory,
     {"coord_memory_msgs_per_s_1thread", "coord_memory_msgs_per_s_2threads"}},
    {"coord_snapshot", bench_group_coord_snapshot, {"coord_snapshot_10k_agents_ms"}},
    {"packs",
     bench_group_packs,
     {"pack_task_finished", "pack_task_finished_traced", "pack_llm_call", "pack_handoff"}},
    {"demo",
     bench_group_demo,
     {"demo_steps_per_s_instrumented", "demo_steps_per_s_uninstrumented",
      "demo_instrumentation_overhead"}},
    {"coord_redis",
     bench_group_coord_redis,
     {"coord_redis_ops_per_s", "redis_benchmark_evalsha_rps", "coord_redis_vs_evalsha",
      "coord_redis_wake_ms"}},
    {"coord_redis_snapshot",
     bench_group_coord_redis_snapshot,
     {"coord_redis_snapshot_10k_agents_ms", "coord_redis_snapshot_100k_agents_ms",
      "coord_memory_snapshot_10k_agents_ms", "coord_memory_snapshot_100k_agents_ms"}},
    {"coord_cluster",
     bench_group_coord_cluster,
     {"coord_cluster_ops_per_s", "redis_benchmark_cluster_evalsha_rps", "coord_cluster_vs_evalsha",
      "coord_cluster_snapshot_10k_agents_ms"}},
    {"log_line",
     bench_group_log_line,
     {"log_write_syscall_devnull", "log_line_devnull", "log_line_3fields_devnull",
      "log_line_buffered_devnull", "log_line_buffered_devnull_2threads"}},
    {"fmt_double",
     bench_group_fmt_double,
     {"fmt_double_17digits_ns", "fmt_double_17digits_printf_ns"}},
    {"histogram_observe_traced",
     bench_group_histogram_observe_traced,
     {"histogram_observe_traced", "histogram_observe_traced_no_context"}},
    {"trace",
     bench_group_trace,
     {"trace_new", "trace_child", "traceparent_parse", "traceparent_format"}},
    {"statsd",
     bench_group_statsd,
     {"statsd_lines_per_s", "statsd_parse_ns", "statsd_udp_lines_per_s", "statsd_client_call_ns"}},
    {"expo",
     bench_group_expo,
     {"expo_parse_prometheus_mb_per_s", "expo_parse_samples_per_s",
      "python_expo_parse_prometheus_mb_per_s", "expo_parse_vs_python"}},
    {"store",
     bench_group_store,
     {"store_sqlite_records_per_s", "store_pg_records_per_s", "store_summary_1h_p99_ms",
      "store_summary_24h_p99_ms"}},
    {"python_hot",
     bench_group_python_hot,
     {"python_agentmon_counter_inc", "python_agentmon_counter_inc_labelled",
      "python_agentmon_histogram_observe", "python_agentmon_labels_lookup"}},
    {"python_expo",
     bench_group_python_expo,
     {"python_agentmon_generate_latest_100k_ms", "python_agentmon_mp_expo_8x10k_ms"}},
    {"serve",
     bench_group_serve,
     {"serve_http_sqlite_events_per_s", "serve_http_sqlite_single_events_per_s",
      "serve_http_sqlite_single_events_per_s_64_clients",
      "serve_http_sqlite_single_events_per_s_wrk", "serve_http_pg_events_per_s",
      "serve_summary_1h_p99_ms", "serve_query_p99_ms",
      "serve_http_sqlite_writer_events_per_cpu_s"}},
    {"dashboard", bench_group_dashboard, {"dashboard_asset_bytes", "dashboard_chartlib_bytes"}},
    {"alert",
     bench_group_alert,
     {"alert_eval_round_100rules_10k_ms", "alert_histogram_quantile_1k_1h_ms",
      "prometheus_histogram_quantile_1k_1h_ms", "alert_bytes_per_sample"}},
    {"remote_write",
     bench_group_rw,
     {"rw_encode_samples_per_s", "rw_bytes_per_sample", "rw_append_ns", "rw_vm_samples_per_s"}},
};
#define N_GROUPS (sizeof GROUPS / sizeof GROUPS[0])

static size_t n_figures(const group *g)
{
    size_t n = 0;
    while (n < sizeof g->figures / sizeof g->figures[0] && g->figures[n])
        n++;
    return n;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* An exact group or figure name selects just that group; anything else is
   a prefix of group names ("encode" selects both encode groups). */
static bool only_is_exact(void)
{
    for (size_t i = 0; i < N_GROUPS; i++) {
        if (strcmp(GROUPS[i].name, g_opts.only) == 0)
            return true;
        for (size_t k = 0; k < n_figures(&GROUPS[i]); k++)
            if (strcmp(GROUPS[i].figures[k], g_opts.only) == 0)
                return true;
    }
    return false;
}

bool bench_selected(const char *name, const char *const *figures, size_t nfig)
{
    if (!g_opts.only)
        return true;
    if (!only_is_exact())
        return starts_with(name, g_opts.only);
    if (strcmp(name, g_opts.only) == 0)
        return true;
    for (size_t k = 0; k < nfig; k++)
        if (strcmp(figures[k], g_opts.only) == 0)
            return true;
    return false;
}

static bool group_selected(const group *g)
{
    return bench_selected(g->name, g->figures, n_figures(g));
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs("usage: am-bench [--quick] [--no-peer] [--only NAME] [--peer PATH] [--python PATH]\n"
          "\n"
          "Benchmarks libagentmon and prints one JSON object per figure.\n"
          "  --quick        short runs (CI smoke test); figures are rougher\n"
          "  --no-peer      do not run the Python prometheus_client peer\n"
          "  --only NAME    run one group or figure (exact name), or the groups whose\n"
          "                 name starts with NAME\n"
          "  --peer PATH    the peer script (default: $AM_BENCH_PEER, else\n"
          "                 ./bench/peer_python.py, else <exe dir>/../bench/peer_python.py)\n"
          "  --python PATH  the interpreter for the peer (default: $AM_BENCH_PYTHON,\n"
          "                 else /usr/bin/python3, which has prometheus_client on Debian)\n"
          "groups:",
          f);
    for (size_t i = 0; i < N_GROUPS; i++)
        fprintf(f, " %s", GROUPS[i].name);
    fputc('\n', f);
}

/* The default peer path: the first of the candidates that is readable. */
static const char *find_peer(void)
{
    static char exe_rel[4096];
    const char *env = getenv("AM_BENCH_PEER");
    if (env && *env)
        return env;
    if (access("bench/peer_python.py", R_OK) == 0)
        return "bench/peer_python.py";
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(exe_rel, sizeof exe_rel, "%s/../bench/peer_python.py", exe);
            if (w > 0 && (size_t)w < sizeof exe_rel && access(exe_rel, R_OK) == 0)
                return exe_rel;
        }
    }
    return "bench/peer_python.py"; /* reported as not found by peer.c */
}

static int parse_args(int argc, char **argv)
{
    g_opts.has_peer = true;
    g_opts.peer_path = NULL;
    g_opts.python = getenv("AM_BENCH_PYTHON");
    if (!g_opts.python || !*g_opts.python)
        g_opts.python = "/usr/bin/python3";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--quick") == 0) {
            g_opts.is_quick = true;
        } else if (strcmp(a, "--no-peer") == 0) {
            g_opts.has_peer = false;
        } else if (strcmp(a, "--only") == 0 && has_value) {
            g_opts.only = argv[++i];
        } else if (strcmp(a, "--peer") == 0 && has_value) {
            g_opts.peer_path = argv[++i];
        } else if (strcmp(a, "--python") == 0 && has_value) {
            g_opts.python = argv[++i];
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "am-bench: unknown or incomplete option \"%s\"\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (!g_opts.peer_path)
        g_opts.peer_path = find_peer();
    g_opts.reps = g_opts.is_quick ? 2 : 5;
    g_opts.min_rep_ns = g_opts.is_quick ? 10000000u : 100000000u;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--rss-child") == 0)
        return bench_rss_child_main();
    if (argc == 2 && strcmp(argv[1], "--encode-child") == 0)
        return bench_encode_child_main();
    if (parse_args(argc, argv) != 0)
        return 2;

    char groups[512] = "";
    size_t used = 0, n_selected = 0;
    for (size_t i = 0; i < N_GROUPS; i++) {
        if (!group_selected(&GROUPS[i]))
            continue;
        int w =
            snprintf(groups + used, sizeof groups - used, "%s%s", used ? "," : "", GROUPS[i].name);
        if (w > 0 && (size_t)w < sizeof groups - used)
            used += (size_t)w;
        n_selected++;
    }
    if (n_selected == 0) {
        fprintf(stderr, "am-bench: --only \"%s\" selects nothing\n", g_opts.only);
        usage(stderr);
        return 2;
    }
    if (g_opts.has_peer)
        bench_peer_run(groups);

    for (size_t i = 0; i < N_GROUPS; i++)
        if (group_selected(&GROUPS[i]))
            GROUPS[i].run();
    am_shutdown(); /* every group freed its registry: leak checkers see none */
    return 0;
}
