/*
** bench_encode.c: exposition and memory at scale -- what a scrape of many
** series costs in time and bytes, and what 100,000 series cost in RSS.
**
** WHAT IT MEASURES, AND WHY
**   encode_prometheus_{10k,100k}_ms     am_registry_encode() to Prometheus
**                                       text 0.0.4 of one counter family
**                                       with 10,000 or 100,000 children,
**                                       best of the repetitions; target for
**                                       100k <= 25 ms. A scrape holds the
**                                       family lock this long, so it bounds
**                                       how often a big agent can be scraped.
**   encode_prometheus_{10k,100k}_bytes  the size of that exposition.
**   rss_100k_children_mib               VmRSS growth of a fresh process
**                                       that creates 100,000 children of a
**                                       2-label counter and increments each
**                                       once; target <= 40 MiB.
**   rss_100k_children_abs_mib           that process's VmRSS at the end.
**
** The children look like an agent system's series (series.c): two labels,
** agent="<role>:<id>", priority="<0..9>", and integer values spread over
** 1..1,000,000, so number formatting is exercised (not all "0"). The peer
** builds the same series with prometheus_client (its _created series
** switched off, as 0.0.4 text from us has none) and reports the same
** figures.
**
**   encode_first_call_ms                the scrape a process answers first:
**                                       am_registry_encode() of 100,000
**                                       one-label counters and 1,000
**                                       one-label histograms (default
**                                       buckets), the first call in a fresh
**                                       process (--encode-child); target
**                                       <= 5 ms (issue 14). Each of these
**                                       three is the median of five fresh
**                                       processes, with their range in the
**                                       note.
**   encode_second_call_ms               the second call of that process.
**   encode_third_call_ms                and the third: what best-of-N
**                                       figures show.
** The note gives the page faults and CPU time of each call: the first
** calls write their output into pages the process never touched, and a
** fault costs what the virtual machine makes it cost (tens of
** microseconds each here, against ~0.1 us on bare metal); the third
** writes into memory malloc kept from the second. Since issue 14 a
** registry remembers its last exposition's length, so the second call
** writes into one block of that size, and blocks past 1 MiB ask for
** transparent huge pages (2 MiB a fault where the system has them, as
** Debian's kernel does on madvise). Since then (issue 14, second round)
** the first call sizes its block by a guess from the registry's series
** counts (walk.c), asks for a whole number of 2 MiB pages so glibc mmaps
** it 2 MiB-aligned (am__huge_size), and collapses the 2 MiB page malloc's
** header already touched (MADV_COLLAPSE): 7-8 faults instead of ~1,000,
** and its CPU time that of the third call (8.5 against 30 ms, A/B in one
** run). The second call got its block from malloc's heap (glibc raised
** its mmap threshold when the first block was freed): 130-500 faults at
** its unaligned ends, more CPU than the first. Since issue 14's third
** round am_free() gives the first call's block back to the library
** (encode/spare.c), and the second and third calls write into it: 0
** faults and the third call's CPU time (A/B alternating, 9 runs each on a
** loaded machine: second call 51-515 -> 0 faults, median CPU 10.5 -> 7.1
** ms). Issue 14's fourth round cut the instructions of an encode by 29%
** (callgrind over three encodes of this workload: 170M -> 121M): a
** counter's two cells summed without the general run loop and its 8 KiB
** of stack, counts below a million through the two-digit table as a leaf
** call, le="..." pairs copied rather than escaped (a bound's text is a
** number), am_buf_reserve inline. Medians of five processes, same
** minutes: first call ~6-7 -> ~4-5 ms, second ~5.9 -> ~3 ms.
**
** RSS is measured in a child process started fresh from this executable
** (--rss-child, via fork and exec), not in am-bench itself: memory the
** other groups allocated and freed, but malloc kept, would otherwise be
** counted or hidden. The child prints {"baseline_kib":..,"after_kib":..}.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, readlink, barriers in strict C11 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "agentmon/agentmon.h"
#include "bench.h"

static const char *const LABELS2[] = {"agent", "priority"};

/* A registry holding one counter family with n children of values
   bench_series_value(i); NULL (message from am_errmsg()) on failure. */
static am_registry *build_series(size_t n, bool is_set_values)
{
    am_registry *reg;
    am_counter *fam, *c;
    if (am_registry_new(&reg) != AM_OK)
        return NULL;
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_messages_sent_total";
    o.help = "Messages an agent sent, by priority.";
    o.label_names = LABELS2;
    o.n_labels = 2;
    o.max_children = n;
    if (am_counter_new(reg, &o, &fam) != AM_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        char agent[BENCH_AGENT_MAX], prio[4];
        bench_series_labels(i, agent, prio);
        if (am_counter_with(fam, AM_LABELS(agent, prio), &c) != AM_OK)
            goto fail;
        if (is_set_values)
            am_counter_add(c, bench_series_value(i));
        else
            am_counter_inc(c);
    }
    return reg;
fail:
    am_registry_free(reg);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (const char *p = s; (p = memchr(p, '\n', len - (size_t)(p - s))) != NULL; p++)
        n++;
    return n;
}

static void run_encode(size_t n, const char *tag, bool has_target, const char *reference)
{
    char name_ms[64], name_bytes[64], group[64];
    snprintf(group, sizeof group, "encode_prometheus_%s", tag);
    snprintf(name_ms, sizeof name_ms, "encode_prometheus_%s_ms", tag);
    snprintf(name_bytes, sizeof name_bytes, "encode_prometheus_%s_bytes", tag);

    am_registry *reg = build_series(n, true);
    if (!reg) {
        bench_emit_error(group, am_errmsg());
        return;
    }
    char *out = NULL;
    size_t len = 0;
    if (am_registry_encode(reg, AM_FORMAT_PROMETHEUS, &out, &len) != AM_OK) { /* warm-up */
        bench_emit_error(group, am_errmsg());
        am_registry_free(reg);
        return;
    }
    size_t lines = count_lines(out, len);
    am_free(out);

    double best_ms = -1;
    for (int r = 0; r < g_opts.reps; r++) {
        uint64_t t0 = bench_now_ns();
        am_err rc = am_registry_encode(reg, AM_FORMAT_PROMETHEUS, &out, &len);
        double ms = (double)(bench_now_ns() - t0) / 1e6;
        if (rc != AM_OK) {
            bench_emit_error(group, am_errmsg());
            am_registry_free(reg);
            return;
        }
        am_free(out);
        if (best_ms < 0 || ms < best_ms)
            best_ms = ms;
    }
    am_registry_free(reg);

    char note[160];
    const char *bad = NULL;
    if (lines != n + 2) { /* HELP, TYPE, one line per series */
        snprintf(note, sizeof note, "ERROR: %zu lines for %zu series", lines, n);
        bad = note;
    }
    bench_fig f = {0};
    f.name = name_ms;
    f.unit = "ms";
    f.value = best_ms;
    f.has_target = has_target;
    f.target = 25;
    f.is_peer_compared = true;
    f.has_ratio_target = true;
    f.reference = reference;
    f.note = bad;
    bench_emit(&f);

    f = (bench_fig){0};
    f.name = name_bytes;
    f.unit = "bytes";
    f.value = (double)len;
    f.is_peer_compared = true;
    f.note = bad;
    bench_emit(&f);
}

void bench_group_encode_10k(void)
{
    run_encode(10000, "10k", false, NULL);
}

void bench_group_encode_100k(void)
{
    run_encode(100000, "100k", true,
               "{\"fluent cmetrics\":70.7,\"python prometheus_client\":1250}");
}

/* ------------------------------------------------------------------ */
/* RSS of 100,000 children                                             */
/* ------------------------------------------------------------------ */

#define RSS_SERIES 100000

/* VmRSS of this process in KiB, from /proc/self/status; 0 if unknown. */
static unsigned long long vm_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtoull(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

/* ------------------------------------------------------------------ */
/* The first encodes of a fresh process                                */
/* ------------------------------------------------------------------ */

#define FIRST_COUNTERS 100000
#define FIRST_HISTOGRAMS 1000

static const char *const LABEL1[] = {"agent"};

static long minor_faults(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int bench_encode_child_main(void)
{
    am_registry *reg;
    am_counter *c, *cc;
    am_histogram *h, *hc;
    if (am_registry_new(&reg) != AM_OK)
        return 1;
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_messages_total";
    o.help = "Messages an agent handled.";
    o.label_names = LABEL1;
    o.n_labels = 1;
    o.max_children = FIRST_COUNTERS;
    am_metric_opts ho = o;
    ho.name = "agent_task_duration_seconds";
    ho.help = "Task durations.";
    ho.max_children = FIRST_HISTOGRAMS;
    if (am_counter_new(reg, &o, &c) != AM_OK || am_histogram_new(reg, &ho, &h) != AM_OK)
        return 1;
    char agent[BENCH_AGENT_MAX], prio[4];
    for (size_t i = 0; i < FIRST_COUNTERS; i++) {
        bench_series_labels(i, agent, prio);
        snprintf(agent + strlen(agent), 8, "/%s", prio); /* 100,000 distinct values */
        if (am_counter_with(c, AM_LABELS(agent), &cc) != AM_OK)
            return 1;
        am_counter_add(cc, bench_series_value(i));
        if (i < FIRST_HISTOGRAMS) {
            if (am_histogram_with(h, AM_LABELS(agent), &hc) != AM_OK)
                return 1;
            for (int k = 0; k < 20; k++)
                am_histogram_observe(hc, (double)bench_series_value(i * 20 + (size_t)k) / 1e5);
        }
    }
    printf("{");
    for (int call = 0; call < 3; call++) {
        char *out = NULL;
        size_t len = 0;
        long f0 = minor_faults();
        double c0 = cpu_ms();
        uint64_t t0 = bench_now_ns();
        am_err rc = am_registry_encode(reg, AM_FORMAT_PROMETHEUS, &out, &len);
        double ms = (double)(bench_now_ns() - t0) / 1e6;
        if (rc != AM_OK)
            return 1;
        printf("%s\"ms%d\":%.3f,\"cpu_ms%d\":%.3f,\"faults%d\":%ld,\"bytes\":%zu", call ? "," : "",
               call, ms, call, cpu_ms() - c0, call, minor_faults() - f0, len);
        am_free(out);
    }
    printf("}\n");
    am_registry_free(reg);
    am_shutdown();
    return 0;
}

#define FIRST_CHILDREN 5

/* One --encode-child run: per call its wall ms, CPU ms and page faults. */
static bool encode_child(double ms[3], double cpu[3], double faults[3], double *bytes)
{
    char *argv[] = {"/proc/self/exe", "--encode-child", NULL};
    char *out = NULL;
    size_t len;
    int status;
    bool ok = bench_run_capture(argv, &out, &len, &status) == 0 && out && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0 && bench_json_number(out, "bytes", bytes);
    for (int k = 0; ok && k < 3; k++) {
        char m[16], cm[16], f[16];
        snprintf(m, sizeof m, "ms%d", k);
        snprintf(cm, sizeof cm, "cpu_ms%d", k);
        snprintf(f, sizeof f, "faults%d", k);
        ok = bench_json_number(out, m, &ms[k]) && bench_json_number(out, cm, &cpu[k]) &&
             bench_json_number(out, f, &faults[k]);
    }
    free(out);
    return ok;
}

void bench_group_encode_first(void)
{
    /* each figure is the median of FIRST_CHILDREN fresh processes: one
       process's first call is one sample, and on this VM a first touch of
       memory now and then costs the host's time too (7 to 22 ms seen for
       the same code) */
    double ms[3][FIRST_CHILDREN], cpu[3][FIRST_CHILDREN], faults[3][FIRST_CHILDREN], bytes = 0;
    for (int r = 0; r < FIRST_CHILDREN; r++) {
        double m[3], c[3], f[3];
        if (!encode_child(m, c, f, &bytes)) {
            bench_emit_error("encode_first_call_ms", "the --encode-child process failed");
            return;
        }
        for (int k = 0; k < 3; k++) {
            ms[k][r] = m[k];
            cpu[k][r] = c[k];
            faults[k][r] = f[k];
        }
    }
    static const char *const NAMES[3] = {"encode_first_call_ms", "encode_second_call_ms",
                                         "encode_third_call_ms"};
    int mid = FIRST_CHILDREN / 2;
    for (int k = 0; k < 3; k++) {
        bench_sort(ms[k], FIRST_CHILDREN);
        bench_sort(cpu[k], FIRST_CHILDREN);
        bench_sort(faults[k], FIRST_CHILDREN);
        char note[300];
        snprintf(note, sizeof note,
                 "fresh process, 100000 one-label counters + 1000 histograms, %.0f bytes: "
                 "call %d, median of %d processes (%.2f-%.2f ms), %.2f ms of CPU, %.0f page "
                 "faults (medians)",
                 bytes, k + 1, FIRST_CHILDREN, ms[k][0], ms[k][FIRST_CHILDREN - 1], cpu[k][mid],
                 faults[k][mid]);
        bench_fig f = {0};
        f.name = NAMES[k];
        f.unit = "ms";
        f.value = ms[k][mid];
        f.has_target = k == 0;
        f.target = 5;
        f.note = note;
        bench_emit(&f);
    }
}

int bench_rss_child_main(void)
{
    unsigned long long before = vm_rss_kib();
    am_registry *reg = build_series(RSS_SERIES, false);
    if (!reg) {
        printf("{\"error\":\"building the series failed\"}\n");
        return 1;
    }
    unsigned long long after = vm_rss_kib();
    printf("{\"baseline_kib\":%llu,\"after_kib\":%llu}\n", before, after);
    am_registry_free(reg);
    am_shutdown();
    return 0;
}

void bench_group_rss_100k(void)
{
    char *argv[] = {"/proc/self/exe", "--rss-child", NULL};
    char *out = NULL;
    size_t len;
    int status;
    double before = 0, after = 0;
    if (bench_run_capture(argv, &out, &len, &status) != 0 || !out || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || !bench_json_number(out, "baseline_kib", &before) ||
        !bench_json_number(out, "after_kib", &after) || before <= 0 || after <= 0) {
        bench_emit_error("rss_100k_children", "the --rss-child process failed");
        free(out);
        return;
    }
    free(out);
    char note[160];
    snprintf(note, sizeof note,
             "fresh process: VmRSS %.1f -> %.1f MiB creating 100000 2-label counter "
             "children (+1 each); %.0f bytes per series",
             before / 1024, after / 1024, (after - before) * 1024 / RSS_SERIES);
    bench_fig f = {0};
    f.name = "rss_100k_children_mib";
    f.unit = "MiB";
    f.value = (after - before) / 1024;
    f.has_target = true;
    f.target = 40;
    f.is_peer_compared = true;
    f.reference = "{\"fluent cmetrics_MB\":43.5}";
    f.note = note;
    bench_emit(&f);

    f = (bench_fig){0};
    f.name = "rss_100k_children_abs_mib";
    f.unit = "MiB";
    f.value = after / 1024;
    f.is_peer_compared = true;
    bench_emit(&f);
}
