/*
** bench_log.c: JSON log lines, trace context and traced exemplars, in ns
** per operation.
**
** WHAT IT MEASURES, AND WHY
**   log_line_devnull            AM_LOG_INFO(lg, "planner", "task done") to a
**                               logger on /dev/null: format (timestamp,
**                               level, component, message), lock, one
**                               write(2), unlock. The target is
**                               <= 1000 ns; the write system call is most
**                               of it, and is what the figure is meant to
**                               include (a line nobody writes costs nothing).
**                               Target <= 300 ns (issue 14).
**   log_line_buffered_devnull   the same line through a buffered logger
**                               (AM_LOG_BUFFERED): formatted and copied
**                               into the logger's 64 KiB buffer, which is
**                               written to /dev/null with one write(2) a
**                               batch; peer: Python's MemoryHandler in
**                               front of the same handler.
**   log_line_buffered_devnull_2threads
**                               two threads logging that line at once
**                               through one buffered logger: ns per line
**                               per thread, the buffer's mutex shared by
**                               both (one copy each under it); the note
**                               gives one thread alone and two threads on
**                               the unbuffered logger (no lock on a
**                               device) from the same run.
**   log_write_syscall_devnull   the floor: the bare write(2) of a line of the
**                               same length, so the note of each log figure
**                               can say what formatting costs.
**   log_line_3fields_devnull    the same with three extra fields (a string,
**                               an integer, a double) and a current trace
**                               context, so trace_id and span_id are on the
**                               line too: what an agent's call site costs.
**   histogram_observe_traced    am_histogram_observe_traced() with a current
**                               sampled context: the observation plus the
**                               exemplar {trace_id, span_id} (rendered and
**                               stored through am_histogram_observe_exemplar).
**   histogram_observe_traced_no_context
**                               the same call with no current context: the
**                               plain observe plus one thread-local check.
**   trace_new / trace_child / traceparent_parse / traceparent_format
**                               making ids (a per-thread ChaCha8 generator
**                               keyed from getrandom; target <= 40 ns), and
**                               reading and writing the header.
**
** Peers (bench/peer_python.py, when it runs): Python's logging with a JSON
** formatter and a StreamHandler on /dev/null for the two log figures;
** prometheus_client's Histogram.observe with an exemplar for the traced
** observation; for the trace figures what OpenTelemetry's Python SDK does
** (random.getrandbits ids, its traceparent regular expression, % format).
** Each check after timing: the logger dropped nothing, the histogram holds
** every observation; else the figure carries an error note.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, readlink, barriers in strict C11 */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "bench.h"

/* ------------------------------------------------------------------ */
/* Log lines                                                           */
/* ------------------------------------------------------------------ */

static void loop_log(void *arg, uint64_t n)
{
    am_logger *lg = arg;
    for (uint64_t i = 0; i < n; i++)
        AM_LOG_INFO(lg, "planner", "task done");
}

static void loop_log3(void *arg, uint64_t n)
{
    am_logger *lg = arg;
    for (uint64_t i = 0; i < n; i++)
        AM_LOG_INFO(lg, "planner", "task done", AM_F_STR("task_id", "task-1742"),
                    AM_F_INT("attempt", (int64_t)(i & 7)), AM_F_DOUBLE("duration_s", 0.25));
}

/* The floor under every log figure: the write(2) of a line of the same
   length to /dev/null, with no formatting at all. */
static void loop_write(void *arg, uint64_t n)
{
    static const char line[] = "{\"timestamp\":\"2026-12-05T06:00:00.000Z\",\"level\":\"INFO\","
                               "\"component\":\"planner\",\"message\":\"task done\"}\n";
    int fd = *(int *)arg;
    for (uint64_t i = 0; i < n; i++)
        if (write(fd, line, sizeof line - 1) < 0)
            break;
}

static double run_log(const char *name, bench_loop_fn fn, am_logger *lg, double floor_ns,
                      const char *note)
{
    char err[160], with_floor[400];
    bench_fig f = {0};
    f.name = name;
    f.unit = "ns/op";
    f.value = bench_best_ns_per_op(fn, lg);
    f.has_target = true;
    f.target = 300;
    f.is_peer_compared = true;
    if (floor_ns > 0)
        snprintf(with_floor, sizeof with_floor,
                 "%s; the write(2) alone costs %.0f ns here (log_write_syscall_devnull), so "
                 "formatting is %.0f ns",
                 note, floor_ns, f.value - floor_ns);
    else
        snprintf(with_floor, sizeof with_floor, "%s", note);
    f.note = with_floor;
    uint64_t dropped = am_logger_dropped(lg);
    if (dropped) {
        snprintf(err, sizeof err, "ERROR: %llu lines were dropped: %s", (unsigned long long)dropped,
                 am_errmsg());
        f.note = err;
    }
    bench_emit(&f);
    return f.value;
}

/* Two threads on one buffered logger (lg), beside two on an unbuffered
   one, interleaved; alone: one thread on lg. */
static void run_log_pair(am_logger *lg, double alone)
{
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.path = "/dev/null";
    am_logger *plain;
    if (am_logger_new(&o, &plain) != AM_OK) {
        bench_emit_error("log_line_buffered_devnull_2threads", am_errmsg());
        return;
    }
    uint64_t n = bench_calibrate(loop_log, lg);
    void *both[2] = {lg, lg}, *both_plain[2] = {plain, plain};
    double best = -1, best_plain = -1;
    for (int r = 0; r < g_opts.reps; r++) {
        double b = bench_pair_ns_per_op(loop_log, both, n);
        double p = bench_pair_ns_per_op(loop_log, both_plain, n);
        if (b < 0 || p < 0) {
            bench_emit_error("log_line_buffered_devnull_2threads", "cannot start two threads");
            am_logger_free(plain);
            return;
        }
        if (best < 0 || b < best)
            best = b;
        if (best_plain < 0 || p < best_plain)
            best_plain = p;
    }
    char note[400];
    snprintf(note, sizeof note,
             "ns per line per thread, two threads logging the line of "
             "log_line_buffered_devnull through one buffered logger at once (its buffer's "
             "mutex shared); same run: one thread alone %.1f ns, two threads on an unbuffered "
             "logger (no lock on a device, a write(2) each) %.1f ns",
             alone, best_plain);
    bench_fig f = {0};
    f.name = "log_line_buffered_devnull_2threads";
    f.unit = "ns/op";
    f.value = best;
    f.has_target = true;
    f.target = 300;
    f.note = note;
    if (am_logger_dropped(lg) || am_logger_dropped(plain)) {
        snprintf(note, sizeof note, "ERROR: lines were dropped: %s", am_errmsg());
        f.note = note;
    }
    bench_emit(&f);
    am_logger_free(plain);
}

void bench_group_log_line(void)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.fd = fd;
    o.flags = AM_LOG_CLOSE_FD;
    o.level = AM_LOG_LEVEL_INFO;
    am_logger *lg;
    if (fd < 0 || am_logger_new(&o, &lg) != AM_OK) {
        bench_emit_error("log_line_devnull", fd < 0 ? "cannot open /dev/null" : am_errmsg());
        return;
    }
    am_trace_clear_current();
    bench_fig w = {0};
    w.name = "log_write_syscall_devnull";
    w.unit = "ns/op";
    w.value = bench_best_ns_per_op(loop_write, &fd);
    w.note = "the floor under the log figures: write(2) of a 94-byte line to /dev/null, no "
             "formatting (a system call costs this much on this machine)";
    bench_emit(&w);
    run_log("log_line_devnull", loop_log, lg, w.value,
            "one JSON line (timestamp, level, component, message) formatted and written "
            "with one write(2) to /dev/null, no lock (a device is written whole by the "
            "kernel); peer: Python logging with a JSON formatter");
    am_trace_ctx ctx;
    am_trace_new(&ctx);
    am_trace_set_current(&ctx);
    run_log("log_line_3fields_devnull", loop_log3, lg, w.value,
            "the same with 3 extra fields (string, int, double) and the current trace "
            "context's trace_id/span_id");
    am_trace_clear_current();
    am_logger_free(lg);

    o.fd = -1;
    o.flags = AM_LOG_BUFFERED;
    o.path = "/dev/null";
    if (am_logger_new(&o, &lg) != AM_OK) {
        bench_emit_error("log_line_buffered_devnull", am_errmsg());
        return;
    }
    double alone = run_log("log_line_buffered_devnull", loop_log, lg, 0,
                           "the line of log_line_devnull through a buffered logger "
                           "(AM_LOG_BUFFERED): formatted, copied into its 64 KiB buffer, written "
                           "a batch per write(2); peer: Python logging's MemoryHandler in front "
                           "of the same handler");
    run_log_pair(lg, alone);
    am_logger_free(lg);
}

/* ------------------------------------------------------------------ */
/* Traced histogram observations                                       */
/* ------------------------------------------------------------------ */

#define N_VALUES 1024

typedef struct obs_arg {
    am_histogram *h;
    double v[N_VALUES];
    uint64_t done;
} obs_arg;

static void loop_observe_traced(void *arg, uint64_t n)
{
    obs_arg *a = arg;
    for (uint64_t i = 0; i < n; i++)
        am_histogram_observe_traced(a->h, a->v[i & (N_VALUES - 1)]);
    a->done += n;
}

static void run_traced(const char *name, obs_arg *a, const char *note)
{
    char err[160];
    a->done = 0;
    uint64_t before;
    am_histogram_read(a->h, &before, NULL, NULL);
    bench_fig f = {0};
    f.name = name;
    f.unit = "ns/op";
    f.value = bench_best_ns_per_op(loop_observe_traced, a);
    f.is_peer_compared = true;
    f.note = note;
    uint64_t after;
    am_histogram_read(a->h, &after, NULL, NULL);
    if (after - before != a->done) {
        snprintf(err, sizeof err, "ERROR: the histogram counted %llu of %llu observations",
                 (unsigned long long)(after - before), (unsigned long long)a->done);
        f.note = err;
    }
    bench_emit(&f);
}

void bench_group_histogram_observe_traced(void)
{
    am_registry *reg;
    am_histogram *h;
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "bench_traced_seconds";
    o.help = "am-bench traced histogram.";
    if (am_registry_new(&reg) != AM_OK) {
        bench_emit_error("histogram_observe_traced", am_errmsg());
        return;
    }
    if (am_histogram_new(reg, &o, &h) != AM_OK) {
        bench_emit_error("histogram_observe_traced", am_errmsg());
        am_registry_free(reg);
        return;
    }
    static obs_arg a;
    a.h = h;
    uint64_t s = 42;
    for (int i = 0; i < N_VALUES; i++) /* spread over the default buckets and +Inf */
        a.v[i] = (double)(bench_rand(&s) % 12000) / 1000.0;
    am_trace_ctx ctx;
    am_trace_new(&ctx);
    am_trace_set_current(&ctx);
    run_traced("histogram_observe_traced", &a,
               "observe + exemplar {trace_id, span_id} from the thread's current (sampled) "
               "context; peer: prometheus_client observe(v, exemplar=...)");
    am_trace_clear_current();
    run_traced("histogram_observe_traced_no_context", &a,
               "the same call with no current context: a plain observe");
    am_registry_free(reg);
}

/* ------------------------------------------------------------------ */
/* Trace context                                                       */
/* ------------------------------------------------------------------ */

static void loop_trace_new(void *arg, uint64_t n)
{
    am_trace_ctx *c = arg;
    for (uint64_t i = 0; i < n; i++)
        am_trace_new(c);
}

static void loop_trace_child(void *arg, uint64_t n)
{
    am_trace_ctx *c = arg;
    for (uint64_t i = 0; i < n; i++)
        am_trace_child(c, c);
}

static const char TP[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void loop_parse(void *arg, uint64_t n)
{
    am_trace_ctx *c = arg;
    for (uint64_t i = 0; i < n; i++)
        am_traceparent_parse(TP, sizeof TP - 1, c);
}

static void loop_format(void *arg, uint64_t n)
{
    am_trace_ctx *c = arg;
    char out[AM_TRACEPARENT_LEN + 1];
    for (uint64_t i = 0; i < n; i++)
        am_traceparent_format(c, out);
}

static void run_plain(const char *name, bench_loop_fn fn, am_trace_ctx *c, double target,
                      const char *note)
{
    bench_fig f = {0};
    f.name = name;
    f.has_target = target > 0;
    f.target = target;
    f.unit = "ns/op";
    f.value = bench_best_ns_per_op(fn, c);
    f.is_peer_compared = true;
    f.note = note;
    bench_emit(&f);
}

void bench_group_trace(void)
{
    am_trace_ctx c;
    am_trace_new(&c);
    run_plain("trace_new", loop_trace_new, &c, 40,
              "random trace and span ids from a per-thread ChaCha8 generator keyed from "
              "getrandom(2) (fast key erasure, reseeded after fork): unpredictable ids with no "
              "system call; the peer's random.getrandbits is a Mersenne Twister, not a CSPRNG");
    run_plain("trace_child", loop_trace_child, &c, 0, "a child span: a new span id");
    run_plain("traceparent_parse", loop_parse, &c, 0, "a version-00 header, validated in full");
    run_plain("traceparent_format", loop_format, &c, 0, NULL);
}
