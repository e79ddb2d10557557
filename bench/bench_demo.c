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
** WHERE THE OVERHEAD GOES (issue 14 asks for <= 0.05). perf on this
** 2-core VM (2026-12-05, --duration 3, instrumented vs --uninstrumented),
** share of the instrumented process's CPU: the write(2) of each JSON log
** line ~12% (the kernel entry is what costs: the VM makes every syscall
** expensive; one write per line is kept on purpose, so a line is never
** torn); label lookups of the packs ~9% (tab_find, am__family_with,
** am__labels_hash: the demo resolves children per step instead of
** keeping handles); exemplars ~3%; formatting and parsing doubles for the
** log lines ~4%. A demo step itself is a few microseconds of hand-offs,
** so these fixed costs per step are a large fraction of it; an agent
** whose step waits on an LLM for 100s of ms sees none of it.
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

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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
    qsort(on, RUNS, sizeof on[0], cmp);
    qsort(off, RUNS, sizeof off[0], cmp);

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
    o.note = "1 - instrumented/uninstrumented steps per second; the rest: a write(2) per log "
             "line (~12% of CPU), per-step label lookups in the packs (~9%), exemplars (~3%), "
             "number formatting (~4%) -- see bench_demo.c";
    bench_emit(&o);
}
