/*
** bench_http.c: /metrics under load, measured by wrk.
**
** WHAT IT MEASURES, AND WHY
**   http_scrape_10k_rps / _p99_ms           an agentmon server (2 handler
**                                           threads) exposing 10,000 series,
**                                           hammered by wrk (-t2 -c16) for 5 s
**                                           (1 s with --quick): scrapes per
**                                           second and the 99th percentile
**                                           latency. Target: >= 1,000/s.
**   http_scrape_10k_gzip_rps / _p99_ms      the same with Accept-Encoding:
**                                           gzip, as Prometheus scrapes.
**   http_health_idle_p99_ms                 /health asked every 100 ms on a new
**   http_health_slowloris_p99_ms / _max_ms  connection (tests/integration/
**                                           slowloris.c), first alone, then
**                                           during a slowloris of 500
**                                           header-dripping connections from
**                                           10 addresses (15 s; 5 s with
**                                           --quick). Target (issue 10): every
**                                           answer within 1 s.
** wrk runs on the same two cores as the server, so these are the figures of
** the whole machine doing both sides -- a lower bound for the server alone.
** Skipped, with a line saying so, when /usr/bin/wrk (or tests/slowloris,
** built with the tests) is missing.
*/
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "bench.h"

#define WRK "/usr/bin/wrk"

/* wrk's "99%   12.34ms" line, in milliseconds; -1 when absent. */
static double p99_ms(const char *out)
{
    const char *p = strstr(out, " 99%");
    if (!p)
        return -1;
    char *end;
    double v = strtod(p + 4, &end);
    if (strncmp(end, "us", 2) == 0)
        return v / 1000;
    if (strncmp(end, "ms", 2) == 0)
        return v;
    if (end[0] == 's')
        return v * 1000;
    return -1;
}

bool bench_wrk(char *argv[], double *rps, double *p99, char errors[160], const char **why)
{
    char *full[24];
    int n = 0;
    full[n++] = WRK;
    full[n++] = "--latency";
    for (int i = 1; argv[i] && n < 23; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    if (access(WRK, X_OK) != 0) {
        *why = "wrk is not installed (Debian package wrk)";
        return false;
    }
    char *out;
    size_t len;
    int status;
    if (bench_run_capture(full, &out, &len, &status) != 0 || !out || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        *why = "wrk failed";
        free(out);
        return false;
    }
    const char *r = strstr(out, "Requests/sec:");
    *rps = r ? strtod(r + 13, NULL) : 0;
    *p99 = p99_ms(out);
    const char *e = strstr(out, "Socket errors");
    if (!e)
        e = strstr(out, "Non-2xx");
    int el = e ? (int)strcspn(e, "\n") : 0;
    snprintf(errors, 160, "%.*s", el, e ? e : "");
    free(out);
    return true;
}

static void run_wrk(const char *url, bool gzip, const char *name_rps, const char *name_p99)
{
    char *argv[8];
    int n = 0;
    argv[n++] = WRK;
    argv[n++] = "-t2";
    argv[n++] = "-c16";
    argv[n++] = g_opts.is_quick ? "-d1s" : "-d5s";
    if (gzip) {
        argv[n++] = "-H";
        argv[n++] = "Accept-Encoding: gzip";
    }
    argv[n++] = (char *)url;
    argv[n] = NULL;
    double rps, p99;
    char errors[160];
    const char *why;
    if (!bench_wrk(argv, &rps, &p99, errors, &why)) {
        bench_emit_error(name_rps, why);
        return;
    }
    bench_fig f = {0};
    f.name = name_rps;
    f.unit = "scrapes/s";
    f.value = rps;
    f.has_target = true;
    f.target = 1000;
    f.is_target_min = true;
    f.note = errors[0] ? "wrk reported errors" : "10,000 series, wrk -t2 -c16 on the same 2 cores";
    bench_emit(&f);
    bench_fig p = {0};
    p.name = name_p99;
    p.unit = "ms";
    p.value = p99;
    bench_emit(&p);
}

void bench_group_http_scrape(void)
{
    if (access(WRK, X_OK) != 0) {
        bench_emit_error("http_scrape_10k_rps", "wrk is not installed (Debian package wrk)");
        return;
    }
    am_registry *r;
    am_counter *fam, *c;
    const char *labels[] = {"agent", "priority"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "bench_http_total";
    o.help = "am-bench series.";
    o.label_names = labels;
    o.n_labels = 2;
    if (am_registry_new(&r) != AM_OK || am_counter_new(r, &o, &fam) != AM_OK) {
        bench_emit_error("http_scrape_10k_rps", am_errmsg());
        return;
    }
    for (uint64_t i = 0; i < 10000; i++) {
        char agent[BENCH_AGENT_MAX], prio[4];
        bench_series_labels(i, agent, prio);
        if (am_counter_with(fam, AM_LABELS(agent, prio), &c) == AM_OK)
            am_counter_add(c, bench_series_value(i));
    }
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.port = 0;
    ho.registries = &r;
    ho.n_registries = 1;
    ho.self_registry = r; /* the server's own two families add a few series */
    am_http *srv;
    if (am_http_start(&ho, &srv) != AM_OK) {
        bench_emit_error("http_scrape_10k_rps", am_errmsg());
        am_registry_free(r);
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", am_http_port(srv));
    run_wrk(url, false, "http_scrape_10k_rps", "http_scrape_10k_p99_ms");
    run_wrk(url, true, "http_scrape_10k_gzip_rps", "http_scrape_10k_gzip_p99_ms");
    am_http_free(srv);
    am_registry_free(r);
}

/* One slowloris run (conns 0: the probe alone); its JSON line, owned. */
static char *loris(const char *prog, unsigned port, const char *conns)
{
    char p[8];
    snprintf(p, sizeof p, "%u", port);
    char *argv[] = {(char *)prog,
                    "--port",
                    p,
                    "--conns",
                    (char *)conns,
                    "--seconds",
                    g_opts.is_quick ? "5" : "15",
                    "--mode",
                    "headers",
                    "--probe",
                    "/health",
                    "--probe-ms",
                    "100",
                    NULL};
    char *out;
    size_t len;
    int status;
    if (bench_run_capture(argv, &out, &len, &status) != 0 || !out || !WIFEXITED(status) ||
        WEXITSTATUS(status) > 1) {
        free(out);
        return NULL;
    }
    return out;
}

void bench_group_http_slowloris(void)
{
    char prog[PATH_MAX];
    bench_sibling("tests/slowloris", prog, sizeof prog);
    if (!prog[0]) {
        bench_emit_error("http_health_slowloris_p99_ms",
                         "tests/slowloris is not built (configure with the tests)");
        return;
    }
    am_registry *r;
    am_http *srv;
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.port = 0;
    if (am_registry_new(&r) != AM_OK) {
        bench_emit_error("http_health_slowloris_p99_ms", am_errmsg());
        return;
    }
    ho.registries = &r;
    ho.n_registries = 1;
    if (am_http_start(&ho, &srv) != AM_OK) {
        bench_emit_error("http_health_slowloris_p99_ms", am_errmsg());
        am_registry_free(r);
        return;
    }
    char *idle = loris(prog, am_http_port(srv), "0");
    char *hit = loris(prog, am_http_port(srv), "500");
    double v;
    bench_fig f = {0};
    f.unit = "ms";
    f.name = "http_health_idle_p99_ms";
    if (idle && bench_json_number(idle, "p99_ms", &v)) {
        f.value = v;
        f.note = "no attack: the baseline of the next two";
        bench_emit(&f);
    } else {
        bench_emit_error(f.name, "the probe failed");
    }
    double open = 0;
    if (hit && bench_json_number(hit, "p99_ms", &v) &&
        bench_json_number(hit, "attack_open_max", &open)) {
        f.name = "http_health_slowloris_p99_ms";
        f.value = v;
        f.note = open >= 400 ? "500 header-drip connections from 10 addresses"
                             : "the attack held fewer than 400 connections";
        bench_emit(&f);
        bench_json_number(hit, "max_ms", &v);
        f.name = "http_health_slowloris_max_ms";
        f.value = v;
        f.has_target = true;
        f.target = 1000;
        bench_emit(&f);
    } else {
        bench_emit_error("http_health_slowloris_p99_ms", "the attack or its probe failed");
    }
    free(idle);
    free(hit);
    am_http_free(srv);
    am_registry_free(r);
}
