/*
** bench_python.c: the Python binding against prometheus_client -- the same
** Python code run on both (peer_python.py's python_* groups), so the ratio
** is what an agent's own code gains by changing its import.
**
**   python_agentmon_counter_inc            c.inc()                  ns/op  >= 5x
**   python_agentmon_counter_inc_labelled   child.inc()              ns/op  >= 5x
**   python_agentmon_histogram_observe      h.observe(v)             ns/op  >= 5x
**   python_agentmon_labels_lookup          c.labels(a, p), existing ns/op  >= 5x
**   python_agentmon_generate_latest_100k_ms  generate_latest(), 100,000 series  >= 50x
**   python_agentmon_mp_expo_8x10k_ms       the merged exposition of 8 worker
**                                          processes x 10,000 series: the shared-
**                                          memory segment vs prometheus_client's
**                                          PROMETHEUS_MULTIPROC_DIR files  >= 50x
**
** The peer (prometheus_client) ran first, with the other peer groups; here
** the same script runs with --impl agentmon on the module built next to
** am-bench (<exe dir>/python, CMake's AM_BUILD_PYTHON), and each of its
** figures is printed with the peer's value of the same name.
*/
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static void run_group(const char *group, const char *const *names, const char *const *units,
                      const double *targets, size_t n)
{
    char pydir[4096];
    bench_sibling("python", pydir, sizeof pydir);
    if (!pydir[0] || access(pydir, R_OK) != 0) {
        char dir[4096];
        bench_sibling("am-bench", dir, sizeof dir);
        char *slash = strrchr(dir, '/');
        if (slash)
            snprintf(slash + 1, sizeof dir - (size_t)(slash + 1 - dir), "python");
        snprintf(pydir, sizeof pydir, "%s", dir);
    }
    char mod[4200];
    snprintf(mod, sizeof mod, "%s/agentmon/__init__.py", pydir);
    if (access(mod, R_OK) != 0) {
        for (size_t i = 0; i < n; i++)
            bench_emit_error(names[i], "the Python module is not built (AM_BUILD_PYTHON, "
                                       "python3-dev)");
        return;
    }
    char *argv[10];
    size_t k = 0;
    argv[k++] = (char *)g_opts.python;
    argv[k++] = (char *)g_opts.peer_path;
    argv[k++] = "--impl";
    argv[k++] = "agentmon";
    argv[k++] = "--path";
    argv[k++] = pydir;
    argv[k++] = "--only";
    argv[k++] = (char *)group;
    if (g_opts.is_quick)
        argv[k++] = "--quick";
    argv[k] = NULL;
    char *out;
    size_t len;
    int status;
    if (bench_run_capture(argv, &out, &len, &status) != 0 || !out) {
        for (size_t i = 0; i < n; i++)
            bench_emit_error(names[i], "cannot run the Python benchmark");
        free(out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double v = -1;
        char name[64];
        for (char *line = out; line && *line;) {
            char *next = strchr(line, '\n');
            if (next)
                *next = '\0';
            if (bench_json_string(line, "bench", name, sizeof name) && strcmp(name, names[i]) == 0)
                bench_json_number(line, "value", &v);
            if (next)
                *next = '\n';
            line = next ? next + 1 : NULL;
        }
        if (v < 0) {
            bench_emit_error(names[i], "the Python benchmark printed no figure");
            continue;
        }
        bench_fig f = {0};
        f.name = names[i];
        f.unit = units[i];
        f.value = v;
        f.is_peer_compared = true;
        f.has_ratio_target = true;
        f.ratio_target = targets[i];
        f.note = "the same Python code on agentmon and on prometheus_client (the peer)";
        bench_emit(&f);
    }
    free(out);
}

void bench_group_python_hot(void)
{
    static const char *const names[] = {
        "python_agentmon_counter_inc", "python_agentmon_counter_inc_labelled",
        "python_agentmon_histogram_observe", "python_agentmon_labels_lookup"};
    static const char *const units[] = {"ns/op", "ns/op", "ns/op", "ns/op"};
    static const double targets[] = {5, 5, 5, 5};
    if (bench_selected("python_hot", names, 4))
        run_group("python_hot", names, units, targets, 4);
}

void bench_group_python_expo(void)
{
    static const char *const names[] = {"python_agentmon_generate_latest_100k_ms",
                                        "python_agentmon_mp_expo_8x10k_ms"};
    static const char *const units[] = {"ms", "ms"};
    static const double targets[] = {50, 50};
    if (bench_selected("python_expo", names, 2))
        run_group("python_expo", names, units, targets, 2);
}
