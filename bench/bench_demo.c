/*
** bench_demo.c: what instrumentation costs the demo's agents.
**
** WHAT IT MEASURES, AND WHY
**   demo_steps_per_s_instrumented    agent steps per second of `agentmon
**   demo_steps_per_s_uninstrumented  demo` running flat out (--time-scale 0:
**                                    simulated latencies are not slept), with
**                                    its packs and logs, and without them
**                                    (--uninstrumented; the coordinator
**                                    measures itself either way, as it must)
**   demo_instrumentation_overhead    1 - instrumented / uninstrumented
** A step is a message received, worked on (LLM calls, cache lookups,
** tools, all simulated), sent on and acked: the coordinator and the thread
** hand-offs dominate it, so this is the instrumentation's share of a real
** agent's loop, not of a micro-benchmark. Runs alternate (on, off, on,
** off, ...) and the median of each is kept, since other processes on a
** small machine move single runs by tens of percent.
**
** WHERE THE OVERHEAD GOES (issue 14 asks for <= 0.05). callgrind
** (2026-12-05, Release build, --duration 4 --seed 1, step() inclusive,
** instructions per agent step), before the issue-14 work: instrumented
** 30.6k, uninstrumented 8.9k. Of the 21.7k more: the JSON log lines 9.6k
** (6k of it am__fmt_digits: a simulated latency is a double of 16-17
** digits, which took snprintf("%.16e") and one or two strtod), label
** lookups by the packs ~7k (am__family_with, tab_find: the demo named its
** agent type, operation and link on every call), exemplars and trace
** hex ~2k.
** After it (fmt.c's digits_exact writes those digits in 128-bit integers,
** ~550 instructions; the demo keeps am_worker_agent, am_a2a_target,
** am_llm_agent, am_worker_link, am_worker_cache_ref and am_cache_result
** handles and a route per provider and task type): instrumented 17.0k,
** uninstrumented 8.7k. The 8.3k left: the log line 4.0k (format_line:
** each field's key escaped and checked for uniqueness ~0.4k, strings
** JSON-escaped, the trace ids in hex, the double ~0.7k), the four
** per-step records 1.9k (each stores the step's trace as its exemplar,
** ~0.3k of each), the LLM call's route and breaker ~1.1k, the database
** pool and operation calls ~0.8k (they name their pool and table per
** call: still looked up), tools and parallel executions ~0.7k, the cache
** ~0.2k. valgrind runs the threads one at a time, where that is 1 -
** 8.7/17.0 = 0.49 of CPU (0.71 before).
** In wall time the figure hardly moved: base and this work alternately
** on the shared 2-core VM (2026-12-05, 11 runs each, this work's first
** four before the cache handles), medians 0.34 and 0.33, single runs
** from -0.03 to 0.47. What the step costs there is
** mostly the kernel's, which callgrind does not count: perf (cpu-clock,
** -g, instrumented, 3 s) puts 32% of the process in system calls, most
** of it (25%) in the paravirtual VM's interrupt re-enable; the
** write(2) of each log line is 15% of all samples, futex waits and wakes
** of the hand-offs 15% (both sides pay those), clock_gettime 5% (a slow
** clock source here: log timestamps, exemplar times, the demo's own
** timing), the exemplar store 3%. So 0.05 cannot be reached while every
** step writes a log line with its own write(2).
** Since 2026-12-06 the demo's logger is buffered (AM_LOG_BUFFERED: a line
** is copied, and 64 KiB of whole lines go out per write(2); never torn).
** Alternating the builds before and after it, 7 runs each of this group
** on the shared VM: instrumented steps/s median 69.3k -> 75.3k, the
** overhead's median 0.23 -> 0.12 (single runs 0.11..0.34 before, -0.18..
** 0.27 after). perf of the buffered demo: the kernel's futex hand-offs
** (condition-variable wakes between agent threads, which both sides pay)
** are a third of all samples; the instrumentation's own largest parts are
** the exemplar store (3.5%) and clock reads (3.4%). Next would be
** exemplars stored once per step rather than per record, and prepared
** pool handles; below that the step is the coordinator's hand-offs.
**
** The demo is the `agentmon` program next to am-bench (build-bench/agentmon,
** built by `make bench`); without it the group reports an error line.
*/
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* One run; the summary's steps per second, or -1. */
static double run(const char *prog, bool instrumented, const char *seconds)
{
    char *argv[] = {(char *)prog,
                    "demo",
                    "--quiet",
                    "--listen",
                    "127.0.0.1:0",
                    "--log",
                    "/dev/null",
                    "--time-scale",
                    "0",
                    "--rate",
                    "1000000",
                    "--duration",
                    (char *)seconds,
                    "--seed",
                    "1",
                    instrumented ? NULL : "--uninstrumented",
                    NULL};
    char *out;
    size_t len;
    int status;
    double v = -1;
    if (bench_run_capture(argv, &out, &len, &status) == 0 && status == 0 && out) {
        const char *p = strstr(out, "agent steps (");
        if (p)
            v = strtod(p + 13, NULL);
    }
    free(out);
    return v;
}

void bench_group_demo(void)
{
    char prog[4096];
    bench_sibling("agentmon", prog, sizeof prog);
    if (!prog[0]) {
        bench_emit_error("demo_steps_per_s_instrumented",
                         "no agentmon program beside am-bench (make bench builds it)");
        return;
    }
    enum { RUNS = 3 };
    const char *seconds = g_opts.is_quick ? "1" : "3";
    double on[RUNS], off[RUNS];
    for (int i = 0; i < RUNS; i++) {
        on[i] = run(prog, true, seconds);
        off[i] = run(prog, false, seconds);
        if (on[i] <= 0 || off[i] <= 0) {
            bench_emit_error("demo_steps_per_s_instrumented", "agentmon demo did not run");
            return;
        }
    }
    bench_sort(on, RUNS);
    bench_sort(off, RUNS);

    bench_fig f = {0};
    f.unit = "steps/s";
    f.name = "demo_steps_per_s_instrumented";
    f.value = on[RUNS / 2];
    f.note = "median of 3 flat-out runs: packs, logs, traces and coordinator metrics on";
    bench_emit(&f);
    f.name = "demo_steps_per_s_uninstrumented";
    f.value = off[RUNS / 2];
    f.note = "median of 3 flat-out runs: no packs, no logs (coordinator metrics stay)";
    bench_emit(&f);

    bench_fig o = {0};
    o.name = "demo_instrumentation_overhead";
    o.unit = "fraction";
    o.value = 1 - on[RUNS / 2] / off[RUNS / 2];
    o.has_target = true;
    o.target = 0.05;
    o.note = "1 - instrumented/uninstrumented steps per second. callgrind, instructions per "
             "step: 17.0k instrumented vs 8.7k (30.6k before issue 14's printf-free doubles "
             "and prepared per-agent handles), the JSON log line 4.0k of the 8.3k more; in "
             "wall time the kernel dominates: the log lines are buffered (a write(2) per "
             "64 KiB, not per line: median 0.23 -> 0.12), and futex hand-offs between agent "
             "threads, which both sides pay, are a third of the process -- see bench_demo.c";
    bench_emit(&o);
}
