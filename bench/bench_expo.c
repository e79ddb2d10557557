/*
** bench_expo.c: reading exposition text -- agentmon's parser beside Python
** prometheus_client's, on the same page in the same run.
**
** WHAT IT MEASURES, AND WHY
** The page is what a busy agent serves: 10,000 series -- 4,000 counters
** and 4,000 gauges labelled agent/priority (series.c's shapes, the values
** realistic integers), and 2,000 histograms with the default 11 buckets,
** which expose 15 samples each in OpenMetrics (_bucket x 12, _count, _sum,
** _created) -- encoded by libagentmon in both formats (about 2.5 MB of
** text). The collector reads such pages on its scraping thread, so the
** parse rate bounds how many targets one thread can serve.
**   expo_parse_prometheus_mb_per_s   0.0.4 text, MB (10^6 bytes) per second,
**                                    best of g_opts.reps whole-page parses,
**                                    with a callback that reads every value
**   expo_parse_samples_per_s         the same run, in samples per second
**   expo_parse_openmetrics_mb_per_s  the OpenMetrics page (with _created)
**   python_expo_parse_prometheus_mb_per_s
**                                    prometheus_client.parser's
**                                    text_string_to_metric_families over the
**                                    same 0.0.4 page, best of 3 (1 with
**                                    --quick), run by g_opts.python now
**   python_expo_parse_openmetrics_mb_per_s
**                                    its OpenMetrics parser on the OM page
**   expo_parse_vs_python             ours / theirs for 0.0.4 (x)
** Python's number is taken in a child process after ours, on the same
** file; an unusable interpreter is reported as an error line, not a figure,
** and --no-peer leaves Python out.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "bench.h"
#include "serve/ingest/expo_parse.h"

#define N_COUNTERS 4000
#define N_GAUGES 4000
#define N_HISTOGRAMS 2000

static am_registry *build_page(void)
{
    am_registry *r;
    if (am_registry_new(&r))
        return NULL;
    static const char *const ln[] = {"agent", "priority"};
    am_metric_opts co = {.name = "bench_messages_sent_total",
                         .help = "Messages sent, by agent and priority.",
                         .label_names = ln,
                         .n_labels = 2,
                         .max_children = 100000};
    am_metric_opts go = co, ho = co;
    go.name = "bench_queue_length";
    go.help = "Messages waiting.";
    ho.name = "bench_task_duration_seconds";
    ho.help = "Task duration.";
    ho.unit = "seconds";
    am_counter *c;
    am_gauge *g;
    am_histogram *h;
    if (am_counter_new(r, &co, &c) || am_gauge_new(r, &go, &g) || am_histogram_new(r, &ho, &h)) {
        am_registry_free(r);
        return NULL;
    }
    uint64_t rnd = 42;
    for (uint64_t i = 0; i < N_COUNTERS + N_GAUGES + N_HISTOGRAMS; i++) {
        char agent[BENCH_AGENT_MAX], prio[4];
        uint64_t k = i % N_COUNTERS;
        bench_series_labels(k, agent, prio);
        const char *vals[] = {agent, prio};
        if (i < N_COUNTERS) {
            am_counter *s;
            if (am_counter_with(c, vals, 2, &s) == AM_OK)
                am_counter_add(s, bench_series_value(i));
        } else if (i < N_COUNTERS + N_GAUGES) {
            am_gauge *s;
            if (am_gauge_with(g, vals, 2, &s) == AM_OK)
                am_gauge_set(s, bench_series_value(i) / 7.0);
        } else {
            am_histogram *s;
            if (am_histogram_with(h, vals, 2, &s) == AM_OK)
                for (int j = 0; j < 20; j++)
                    am_histogram_observe(s, (double)(bench_rand(&rnd) % 20000) / 1000.0);
        }
    }
    return r;
}

typedef struct run {
    const char *text;
    size_t len;
    am_expo_format f;
    size_t n;
    double sum;
} run;

static int on_sample(void *ud, const am_expo_sample *s)
{
    run *r = ud;
    r->sum += s->value + (double)s->n_labels;
    return 0;
}

/* Best seconds for one whole-page parse. */
static double best_parse_s(run *r)
{
    int reps = g_opts.reps > 0 ? g_opts.reps : 5;
    double best = -1;
    for (int i = 0; i < reps; i++) {
        uint64_t t0 = bench_now_ns();
        if (am__expo_parse(r->text, r->len, r->f, NULL, on_sample, r, &r->n) != AM_OK)
            return -1;
        double s = (double)(bench_now_ns() - t0) / 1e9;
        if (best < 0 || s < best)
            best = s;
    }
    return best;
}

static const char PY[] =
    "import json, sys, time\n"
    "fmt, path, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
    "if fmt == 'om':\n"
    "    from prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n"
    "else:\n"
    "    from prometheus_client.parser import text_string_to_metric_families as p\n"
    "text = open(path, encoding='utf-8').read()\n"
    "best = None\n"
    "for _ in range(reps):\n"
    "    t0 = time.perf_counter()\n"
    "    n = sum(len(f.samples) for f in p(text))\n"
    "    s = time.perf_counter() - t0\n"
    "    best = s if best is None or s < best else best\n"
    "print(json.dumps({'s': best, 'n': n}))\n";

/* Python's best seconds on the file, or -1 with err set. */
static double python_parse_s(const char *fmt, const char *path, double *n, char *err, size_t cap)
{
    const char *reps = g_opts.is_quick ? "1" : "3";
    char *argv[] = {(char *)g_opts.python, "-c",         (char *)PY, (char *)fmt,
                    (char *)path,          (char *)reps, NULL};
    char *out = NULL;
    size_t len = 0;
    int status = 0;
    double s = -1;
    if (bench_run_capture(argv, &out, &len, &status) != 0)
        snprintf(err, cap, "cannot run %s", g_opts.python);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !out ||
             !bench_json_number(out, "s", &s) || !bench_json_number(out, "n", n))
        snprintf(err, cap, "%s with prometheus_client failed", g_opts.python), s = -1;
    free(out);
    return s;
}

static void emit(const char *name, const char *unit, double v, const char *note)
{
    bench_fig f = {0};
    f.name = name;
    f.unit = unit;
    f.value = v;
    f.note = note;
    bench_emit(&f);
}

void bench_group_expo(void)
{
    am_registry *r = build_page();
    char *prom = NULL, *om = NULL;
    size_t prom_len = 0, om_len = 0;
    if (!r || am_registry_encode(r, AM_FORMAT_PROMETHEUS, &prom, &prom_len) ||
        am_registry_encode(r, AM_FORMAT_OPENMETRICS, &om, &om_len)) {
        bench_emit_error("expo_parse_prometheus_mb_per_s", "cannot build the page");
        am_free(prom);
        am_registry_free(r);
        return;
    }
    am_registry_free(r);
    char note[200];
    run rp = {prom, prom_len, AM_EXPO_PROMETHEUS, 0, 0};
    double sp = best_parse_s(&rp);
    run ro = {om, om_len, AM_EXPO_OPENMETRICS, 0, 0};
    double so = best_parse_s(&ro);
    if (sp <= 0 || so <= 0) {
        bench_emit_error("expo_parse_prometheus_mb_per_s", am_errmsg());
        am_free(prom);
        am_free(om);
        return;
    }
    double ours = (double)prom_len / 1e6 / sp;
    snprintf(note, sizeof note, "10k series page, 0.0.4: %zu bytes, %zu samples", prom_len, rp.n);
    emit("expo_parse_prometheus_mb_per_s", "MB/s", ours, note);
    emit("expo_parse_samples_per_s", "samples/s", (double)rp.n / sp, "0.0.4 page, same run");
    snprintf(note, sizeof note, "OpenMetrics page: %zu bytes, %zu samples", om_len, ro.n);
    emit("expo_parse_openmetrics_mb_per_s", "MB/s", (double)om_len / 1e6 / so, note);

    if (!g_opts.has_peer) {
        bench_emit_error("python_expo_parse_prometheus_mb_per_s", "skipped: --no-peer");
        am_free(prom);
        am_free(om);
        return;
    }
    char dir[] = "/tmp/am-bench-expo.XXXXXX";
    if (!mkdtemp(dir)) {
        bench_emit_error("python_expo_parse_prometheus_mb_per_s", "cannot make a temp dir");
        am_free(prom);
        am_free(om);
        return;
    }
    char pp[64], po[64];
    snprintf(pp, sizeof pp, "%s/page.prom", dir);
    snprintf(po, sizeof po, "%s/page.om", dir);
    FILE *f1 = fopen(pp, "wb"), *f2 = fopen(po, "wb");
    bool written = f1 && f2 && fwrite(prom, 1, prom_len, f1) == prom_len &&
                   fwrite(om, 1, om_len, f2) == om_len;
    if (f1)
        fclose(f1);
    if (f2)
        fclose(f2);
    char err[200] = "cannot write the page";
    double n = 0;
    double tp = written ? python_parse_s("prom", pp, &n, err, sizeof err) : -1;
    if (tp > 0) {
        double theirs = (double)prom_len / 1e6 / tp;
        snprintf(note, sizeof note, "prometheus_client.parser, same page, same run, %.0f samples",
                 n);
        emit("python_expo_parse_prometheus_mb_per_s", "MB/s", theirs, note);
        emit("expo_parse_vs_python", "x", ours / theirs,
             "expo_parse_prometheus_mb_per_s / python_expo_parse_prometheus_mb_per_s");
    } else {
        bench_emit_error("python_expo_parse_prometheus_mb_per_s", err);
    }
    double to = written ? python_parse_s("om", po, &n, err, sizeof err) : -1;
    if (to > 0) {
        snprintf(note, sizeof note,
                 "prometheus_client.openmetrics.parser, same page, same run, %.0f samples", n);
        emit("python_expo_parse_openmetrics_mb_per_s", "MB/s", (double)om_len / 1e6 / to, note);
    } else {
        bench_emit_error("python_expo_parse_openmetrics_mb_per_s", err);
    }
    unlink(pp);
    unlink(po);
    rmdir(dir);
    am_free(prom);
    am_free(om);
}
