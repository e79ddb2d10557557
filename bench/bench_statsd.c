/*
** bench_statsd.c: StatsD on both ends -- the collector parsing and
** aggregating lines, and an agent sending them.
**
** WHAT IT MEASURES, AND WHY
**   statsd_lines_per_s      lines parsed and aggregated into a registry per
**                           second on one core (am__statsd_agg_datagram over
**                           prepared datagrams of about 1400 bytes): what
**                           the listener's thread does for each datagram,
**                           without the recvmmsg. The mix is an agent
**                           fleet's: 40% counters with two tags
**                           (agent, status), 25% timers with a provider tag
**                           (a tenth of them sampled at 0.5), 15% gauge
**                           sets and deltas with a queue tag, 10%
**                           distributions with a model tag, 10% sets of
**                           user ids; about 200 series in 5 families,
**                           warmed, so it is the steady state (cache hits). Target: >= 1 M
**                           lines/s (issue 6).
**   statsd_parse_ns         am__statsd_parse alone, per line of that mix.
**   statsd_udp_lines_per_s  the same datagrams sent over UDP loopback to the
**                           listener (am__ingest_statsd: recvmmsg, parse,
**                           aggregate) for a second; lines ingested per
**                           second, with the kernel's drops in the note.
**   statsd_client_call_ns   am_statsd_count() with two tags, buffered into
**                           1432-byte datagrams sent with send(2) to a
**                           UDP socket on loopback: the agent's cost per
**                           event, the sends included (one per ~35 calls).
**                           Target: < 1000 ns (issue 6).
**
** Peer: prometheus-statsd-exporter would be the peer for lines/s, but
** Debian 12 has no package of it (apt-cache policy prometheus-statsd-exporter
** finds none), so the lines/s figure has no peer here.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, readlink, barriers in strict C11 */

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "bench.h"
#include "serve/ingest/statsd.h"
#include "serve/ingest/statsd_agg.h"

#define N_DATAGRAMS 256
#define DATAGRAM_BYTES 1400

typedef struct workload {
    char *dg[N_DATAGRAMS];
    size_t len[N_DATAGRAMS];
    size_t n_lines[N_DATAGRAMS];
    size_t total_lines;
    am_registry *r;
    am_statsd_agg *agg;
    size_t next;
} workload;

static size_t make_line(uint64_t *rng, char *out, size_t cap)
{
    static const char *const status[] = {"success", "failure"};
    static const char *const providers[] = {"openai", "anthropic", "local", "azure"};
    static const char *const models[] = {"gpt-4o", "claude-3-5-sonnet", "llama-3-70b"};
    uint64_t r = bench_rand(rng);
    uint64_t kind = r % 100, s = (r >> 8) % 1000;
    char agent[BENCH_AGENT_MAX], prio[4];
    bench_series_labels(s, agent, prio);
    int n;
    if (kind < 40)
        n = snprintf(out, cap, "agent.tasks.completed:1|c|#agent:%s,status:%s", agent,
                     status[s % 2]);
    else if (kind < 65)
        n = snprintf(out, cap, "llm.request.latency:%u|ms%s|#provider:%s",
                     (unsigned)(r >> 20) % 5000, kind < 43 ? "|@0.5" : "", providers[s % 4]);
    else if (kind < 80)
        n = snprintf(out, cap, "messaging.queue_length:%s%u|g|#queue:%s", kind < 72 ? "" : "+",
                     (unsigned)(r >> 24) % 100, agent);
    else if (kind < 90)
        n = snprintf(out, cap, "llm.tokens:%u|d|#model:%s", (unsigned)(r >> 16) % 8000,
                     models[s % 3]);
    else
        n = snprintf(out, cap, "agent.active_users:user%u|s", (unsigned)(r >> 30) % 500);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void workload_free(workload *w)
{
    for (size_t i = 0; i < N_DATAGRAMS; i++)
        free(w->dg[i]);
    am__statsd_agg_free(w->agg);
    am_registry_free(w->r);
}

static int workload_make(workload *w)
{
    memset(w, 0, sizeof *w);
    uint64_t rng = 42;
    for (size_t i = 0; i < N_DATAGRAMS; i++) {
        w->dg[i] = malloc(DATAGRAM_BYTES + 256);
        if (!w->dg[i])
            return -1;
        char line[256];
        for (;;) {
            size_t n = make_line(&rng, line, sizeof line);
            if (w->len[i] + n + 1 > DATAGRAM_BYTES)
                break;
            memcpy(w->dg[i] + w->len[i], line, n);
            w->len[i] += n;
            w->dg[i][w->len[i]++] = '\n';
            w->n_lines[i]++;
        }
        w->total_lines += w->n_lines[i];
    }
    if (am_registry_new(&w->r) || am__statsd_agg_new(w->r, NULL, &w->agg))
        return -1;
    return 0;
}

static void loop_agg(void *arg, uint64_t n)
{
    workload *w = arg;
    for (uint64_t i = 0; i < n; i++) {
        am_statsd_counts c = {0, 0};
        size_t k = w->next++ % N_DATAGRAMS;
        am__statsd_agg_datagram(w->agg, w->dg[k], w->len[k], &c, NULL, NULL);
    }
}

static void loop_parse(void *arg, uint64_t n)
{
    workload *w = arg;
    am_statsd_line l;
    for (uint64_t i = 0; i < n; i++) {
        size_t k = w->next++ % N_DATAGRAMS, pos = 0;
        am_statsd_str s;
        while (am__statsd_next_line(w->dg[k], w->len[k], &pos, &s))
            (void)am__statsd_parse(s.p, s.len, &l);
    }
}

static void run_agg(void)
{
    workload w;
    if (workload_make(&w)) {
        bench_emit_error("statsd_lines_per_s", "cannot build the workload");
        workload_free(&w);
        return;
    }
    /* warm: every series exists and every raw key is cached */
    am_statsd_counts c = {0, 0};
    for (size_t i = 0; i < N_DATAGRAMS; i++)
        am__statsd_agg_datagram(w.agg, w.dg[i], w.len[i], &c, NULL, NULL);
    double per_line = (double)w.total_lines / N_DATAGRAMS;
    char note[256];
    snprintf(note, sizeof note,
             "one core; %.1f lines per %d-byte datagram; %zu families, %zu series; "
             "%llu of %llu warm-up lines refused",
             per_line, DATAGRAM_BYTES, am__statsd_agg_n_families(w.agg),
             am__statsd_agg_n_series(w.agg), (unsigned long long)c.n_invalid,
             (unsigned long long)c.n_lines);
    if (bench_selected("statsd", (const char *[]){"statsd_lines_per_s"}, 1)) {
        double ns = bench_best_ns_per_op(loop_agg, &w);
        bench_fig f = {0};
        f.name = "statsd_lines_per_s";
        f.unit = "lines/s";
        f.value = per_line * 1e9 / ns;
        f.has_target = true;
        f.target = 1e6;
        f.is_target_min = true;
        f.note = c.n_invalid ? "error: warm-up lines were refused" : note;
        bench_emit(&f);
    }
    if (bench_selected("statsd", (const char *[]){"statsd_parse_ns"}, 1)) {
        double ns = bench_best_ns_per_op(loop_parse, &w);
        bench_fig f = {0};
        f.name = "statsd_parse_ns";
        f.unit = "ns/op";
        f.value = ns / per_line;
        f.note = "am__statsd_parse per line of the same mix, splitting included";
        bench_emit(&f);
    }
    workload_free(&w);
}

/*
** The listener over real UDP: this thread blasts the workload's datagrams
** at it for about a second (send(2) on a connected socket) while its
** receive thread reads them in recvmmsg batches; the figure is lines
** ingested per second of wall time, the kernel's drops (sender faster than
** receiver) showing as the share of lines that never arrived.
*/
static void run_udp(void)
{
    workload w;
    am_ingest_statsd *s = NULL;
    int fd = -1;
    if (workload_make(&w)) {
        bench_emit_error("statsd_udp_lines_per_s", "cannot build the workload");
        workload_free(&w);
        return;
    }
    am_ingest_statsd_opts o = AM_INGEST_STATSD_OPTS_INIT;
    o.port = 0;
    o.registry = w.r;
    o.agg = w.agg;
    am_counter *lines_root = NULL, *lines = NULL;
    if (am__ingest_statsd_start(&o, &s) ||
        am_counter_find(w.r, "agentmon_ingest_lines_total", &lines_root) ||
        am_counter_with(lines_root, AM_LABELS("statsd"), &lines)) {
        bench_emit_error("statsd_udp_lines_per_s", am_errmsg());
        goto out;
    }
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)am__ingest_statsd_port(s)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        bench_emit_error("statsd_udp_lines_per_s", "cannot open a UDP socket");
        goto out;
    }
    uint64_t dur = g_opts.is_quick ? 200000000u : 1000000000u;
    uint64_t sent = 0, t0 = bench_now_ns(), t_end = t0 + dur;
    for (size_t k = 0; bench_now_ns() < t_end; k++) {
        for (int j = 0; j < 64; j++, k++) {
            size_t i = k % N_DATAGRAMS;
            if (send(fd, w.dg[i], w.len[i], 0) == (ssize_t)w.len[i])
                sent += w.n_lines[i];
        }
    }
    /* wait for the receiver to go quiet */
    double got = -1, now_got;
    uint64_t t_last = bench_now_ns();
    while ((now_got = am_counter_value(lines)) != got) {
        got = now_got;
        t_last = bench_now_ns();
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    double secs = (double)(t_last - t0) / 1e9;
    char note[256];
    snprintf(note, sizeof note,
             "am__ingest_statsd over UDP loopback, sender and receive thread on 2 cores; "
             "%.0f of %llu lines sent arrived (%.1f%% dropped by the kernel)",
             got, (unsigned long long)sent, sent ? 100.0 * (1 - got / (double)sent) : 0.0);
    bench_fig f = {0};
    f.name = "statsd_udp_lines_per_s";
    f.unit = "lines/s";
    f.value = got / secs;
    f.has_target = true;
    f.target = 1e6;
    f.is_target_min = true;
    f.note = note;
    bench_emit(&f);
out:
    if (fd >= 0)
        close(fd);
    am__ingest_statsd_stop(s);
    workload_free(&w);
}

static void loop_client(void *arg, uint64_t n)
{
    am_statsd *c = arg;
    for (uint64_t i = 0; i < n; i++)
        (void)am_statsd_count(c, "agent.tasks.completed", 1, 1,
                              AM_LABELS("agent:planner:1", "status:success"));
}

static void run_client(void)
{
    /* a bound socket nobody reads: the kernel drops what does not fit, the
       sender never notices, as with a busy collector */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl)) {
        bench_emit_error("statsd_client_call_ns", "cannot bind a loopback UDP socket");
        if (fd >= 0)
            close(fd);
        return;
    }
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(sa.sin_port));
    am_statsd *c;
    if (am_statsd_open(target, NULL, &c)) {
        bench_emit_error("statsd_client_call_ns", am_errmsg());
        close(fd);
        return;
    }
    double ns = bench_best_ns_per_op(loop_client, c);
    am_statsd_stats st;
    am_statsd_get_stats(c, &st);
    char note[200];
    snprintf(note, sizeof note,
             "am_statsd_count with 2 tags into 1432-byte datagrams, send(2) to UDP loopback "
             "included; %llu datagrams sent, %llu dropped",
             (unsigned long long)st.n_packets, (unsigned long long)st.n_dropped_packets);
    bench_fig f = {0};
    f.name = "statsd_client_call_ns";
    f.unit = "ns/op";
    f.value = ns;
    f.has_target = true;
    f.target = 1000;
    f.note = note;
    bench_emit(&f);
    am_statsd_close(c);
    close(fd);
}

void bench_group_statsd(void)
{
    if (bench_selected("statsd", (const char *[]){"statsd_lines_per_s", "statsd_parse_ns"}, 2))
        run_agg();
    if (bench_selected("statsd", (const char *[]){"statsd_udp_lines_per_s"}, 1))
        run_udp();
    if (bench_selected("statsd", (const char *[]){"statsd_client_call_ns"}, 1))
        run_client();
}
