/*
** bench.h: what the files of am-bench share.
**
** am-bench prints one JSON object per figure (see report.c for the fields).
** The figures come in groups, one function per group (bench_core.c: the hot
** path and label lookup; bench_encode.c: exposition and memory); main.c
** runs the selected groups after the Python peer (peer.c) has run the same
** operations with prometheus_client, so each figure line can carry the
** peer's number from this very run. proc.c starts child processes (the
** peer, the fresh process RSS is measured in); series.c defines the label
** and value shapes both sides use.
**
** Timing: CLOCK_MONOTONIC (bench_now_ns). A ns/op figure is the best of
** bench_opts.reps repetitions, each at least bench_opts.min_rep_ns long, the
** loop count found by doubling first (bench_best_ns_per_op).
*/
#ifndef AM_BENCH_H
#define AM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Options from the command line; read-only once main() has parsed them. */
typedef struct bench_opts {
    bool is_quick;         /* --quick: short runs, for CI smoke tests */
    bool has_peer;         /* false with --no-peer */
    const char *only;      /* --only NAME, or NULL for every group */
    const char *peer_path; /* the peer script */
    const char *python;    /* the interpreter that runs it */
    int reps;              /* repetitions per figure, best one kept */
    uint64_t min_rep_ns;   /* minimum length of one repetition */
} bench_opts;

extern bench_opts g_opts;

/* ------------------------------------------------------------ timing */

uint64_t bench_now_ns(void);

/* Sort v[0..n) ascending, for medians and percentiles of timed runs. */
void bench_sort(double *v, size_t n);

/*
** A loop under test: run the operation n times. arg is the group's state,
** borrowed.
*/
typedef void (*bench_loop_fn)(void *arg, uint64_t n);

/* Best ns per call of fn over g_opts.reps repetitions (see top comment). */
double bench_best_ns_per_op(bench_loop_fn fn, void *arg);

/* Iterations that take about g_opts.min_rep_ns, found by doubling. */
uint64_t bench_calibrate(bench_loop_fn fn, void *arg);

/* Two threads at once, thread k running fn(arg[k], n) after one untimed
   fn(arg[k], 1) (a thread's first call may allocate) and a barrier: ns
   per call per thread, from the first start to the last end; -1 when a
   thread cannot be made. */
double bench_pair_ns_per_op(bench_loop_fn fn, void *arg[2], uint64_t n);

/* ------------------------------------------------------------ figures */

/* One figure, as printed. Fields left at their zero value are omitted. */
typedef struct bench_fig {
    const char *name; /* "counter_inc" */
    const char *unit; /* "ns/op", "ms", "bytes", "MiB", "x" */
    double value;
    bool has_target;
    double target;
    bool is_target_min;    /* ok means value >= target (else <=) */
    bool is_peer_compared; /* look the peer's figure of this name up */
    bool has_ratio_target; /* peer/ours must be >= ratio_target (speed figures) */
    double ratio_target;   /* 0: 100 */
    const char *reference; /* JSON object text of issue numbers, or NULL */
    const char *note;      /* free text, or NULL */
} bench_fig;

/* Print f as one JSON line, with the peer's figure when it has one. */
void bench_emit(const bench_fig *f);

/* Whether --only selects this group (or one of the figures it prints). */
bool bench_selected(const char *group, const char *const *figures, size_t n_figures);

/* Print an error line for a group that could not run; never fatal. */
void bench_emit_error(const char *name, const char *what);

/* ------------------------------------------------------------ peer */

/*
** Run the peer script once for the selected groups and keep its figures.
** groups: the names of the groups to run, comma-separated. Never fails:
** an unusable peer is recorded and reported as "unavailable".
*/
void bench_peer_run(const char *groups);

/* The peer's value for figure name; false when it has none. */
bool bench_peer_value(const char *name, double *out);

/* "python prometheus_client 0.16.0", or NULL when the peer did not run. */
const char *bench_peer_label(void);

/* Why the peer is unavailable, or NULL when it ran (or was not asked). */
const char *bench_peer_unavailable(void);

/* ------------------------------------------------------------ processes */

/*
** Run argv[0] (a path, not searched) with argv and environment unchanged,
** and collect what it writes to stdout into out (NUL-terminated; owned
** result, free()), its exit status into *status (the waitpid status).
** stderr is inherited. Returns 0, or -1 with errno when it could not start.
*/
int bench_run_capture(char *const argv[], char **out, size_t *len, int *status);

/*
** The program name (a relative path: "agentmon", "tests/slowloris") in
** am-bench's own directory into out, or "" when it is not there.
*/
void bench_sibling(const char *name, char *out, size_t cap);

/*
** Find "key": in one JSON object line and read the number or string after
** it. The scanner knows just enough JSON for the peer's flat objects.
*/
bool bench_json_number(const char *line, const char *key, double *out);
bool bench_json_string(const char *line, const char *key, char *out, size_t cap);

/* ------------------------------------------------------------ redis */
/* (bench_coord_redis.c; the cluster's group uses them too) */

/* The path of program name on PATH into out; false when it is not there. */
bool bench_find_exe(const char *name, char *out, size_t cap);

/* redis-benchmark -c 8 EVALSHA sha 0 against 127.0.0.1:port (cluster:
   --cluster, its clients over the masters): requests/s, or -1 (why in err). */
double bench_redis_benchmark(const char *exe, int port, bool cluster, const char *sha, char *err,
                             size_t cap);

/* Operations per second (send, receive, ack) of 4 producer and 4 consumer
   threads, each with its own coordinator on uri, for seconds; -1 (err).
   generated_ids: sends leave the id to the coordinator (else "b<i>-<n>"). */
double bench_coord_ops_per_s(const char *uri, bool generated_ids, double seconds, char *err,
                             size_t cap);

/* am_coord_snapshot() of a coordinator on uri with n agents x prios
   messages (filled by 4 threads): best ms, or -1 (err); *bytes of JSON. */
double bench_coord_snapshot_ms(const char *uri, int n, int prios, size_t *bytes, char *err,
                               size_t cap);

/* ------------------------------------------------------------ groups */

void bench_group_counter_inc(void);
void bench_group_counter_inc_labelled(void);
void bench_group_counter_inc_2threads(void);
void bench_group_histogram_observe(void);
void bench_group_counter_with_existing(void);
void bench_group_encode_10k(void);
void bench_group_encode_100k(void);
void bench_group_rss_100k(void);
void bench_group_query_exemplars(void); /* bench_exemplars.c */
void bench_group_http_scrape(void);
void bench_group_http_slowloris(void); /* bench_http.c */

/* wrk (/usr/bin/wrk) with argv (argv[0] is ignored; --latency is added):
   its requests per second, 99th percentile latency (ms, -1 if absent) and
   the line of errors it printed (non-2xx answers, socket errors: connect,
   read, write, timeout) into errors ("" when none). false when wrk is
   missing or failed; then *why says which. bench_http.c */
bool bench_wrk(char *argv[], double *rps, double *p99_ms, char errors[160], const char **why);
void bench_group_coord_memory(void);
void bench_group_packs(void);
void bench_group_demo(void);      /* bench_demo.c */
void bench_group_dashboard(void); /* bench_dashboard.c */
void bench_group_coord_snapshot(void);
void bench_group_coord_redis(void);          /* bench_coord_redis.c */
void bench_group_coord_redis_snapshot(void); /* bench_coord_redis.c */
void bench_group_coord_cluster(void);        /* bench_coord_cluster.c */
void bench_group_log_line(void);             /* bench_log.c */
void bench_group_fmt_double(void);           /* bench_fmt.c */
void bench_group_histogram_observe_traced(void);
void bench_group_trace(void);
void bench_group_expo(void);       /* bench_expo.c */
void bench_group_statsd(void);     /* bench_statsd.c */
void bench_group_store(void);      /* bench_store.c */
void bench_group_serve(void);      /* bench_serve.c */
void bench_group_alert(void);      /* bench_alert.c */
void bench_group_rw(void);         /* bench_rw.c */
void bench_group_python_hot(void); /* bench_python.c */
void bench_group_python_expo(void);

/* am-bench --rss-child: the fresh process the RSS group measures in. */
int bench_rss_child_main(void);
/* am-bench --encode-child: the fresh process the first encodes run in. */
int bench_encode_child_main(void);
void bench_group_encode_first(void);

/* ------------------------------------------------------------ shapes */

/*
** The label values every labelled figure uses, the same in peer_python.py:
** agent="<role>:<id>", priority="<0..9>". Series i of a set has role
** i % 10, priority (i / 10) % 10, id i / 100, so 1000 series are 10 roles
** x 10 ids x 10 priorities, 100,000 series 10 x 1000 x 10.
*/
#define BENCH_AGENT_MAX 32
void bench_series_labels(uint64_t i, char agent[BENCH_AGENT_MAX], char priority[4]);

/* A realistic counter value for series i: an integer in 1..1,000,000. */
double bench_series_value(uint64_t i);

/* A chain of splitmix64: deterministic, the same sequence as peer_python.py. */
uint64_t bench_rand(uint64_t *state);

#endif
