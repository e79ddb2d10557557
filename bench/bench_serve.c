/*
** bench_serve.c: `agentmon serve` over HTTP, as agents and dashboards use
** it -- events acknowledged per second into SQLite and PostgreSQL, and the
** latency of the query and summary endpoints over a million stored
** communication records.
**
** WHAT IT MEASURES, AND WHY
**   serve_http_sqlite_events_per_s   8 client threads (libcurl, keep-alive)
**                                    POST batches of 500 communication
**                                    events for 3 s (1 s with --quick); an
**                                    event counts when its request got 200,
**                                    which the collector sends only after
**                                    the batch is committed (group commit).
**                                    Target >= 100,000.
**   serve_http_sqlite_writer_events_per_cpu_s
**                                    during that run, the records the
**                                    store's writer committed per second of
**                                    its own CPU time
**                                    (agentmon_store_writer_cpu_seconds_total),
**                                    and in the note how busy it was: the
**                                    writer is one thread, so this is what
**                                    the figure above can reach when the
**                                    writer has a core to itself.
**   serve_http_sqlite_single_events_per_s
**                                    the same with one event per request:
**                                    the cost of a request, and what a
**                                    client that does not batch gets.
**                                    Target >= 20,000 (issue 14).
**   serve_http_sqlite_single_events_per_s_64_clients
**                                    the same with 64 clients: a fleet of
**                                    agents that each send their events one
**                                    at a time. The collector does not hold a
**                                    thread per waiting request (an ingest's
**                                    answer is deferred until the commit), so
**                                    more clients put more events in each
**                                    commit; with 8 the commit's round trip
**                                    bounds the figure at 8 events a commit.
**                                    (With 8 connections and a client that
**                                    costs nothing -- wrk -c8 -- the round
**                                    trip was 544 us at p50 on the 2-core
**                                    VM: about 11 system calls a request at
**                                    5-15 us each, so 8 clients top out
**                                    near 14.7k/s there; issue 14's note.)
**   serve_http_sqlite_single_events_per_s_wrk
**                                    the same load from wrk (-t2 -c64, a
**                                    Lua script making each event's id) in a
**                                    process of its own: the libcurl
**                                    clients above share this process and
**                                    its two cores with the collector and
**                                    cost more per request than it does, so
**                                    this is the collector's own figure.
**   serve_http_pg_events_per_s       as the first, into PostgreSQL (a
**                                    throwaway cluster, pg_fixture.h;
**                                    skipped without PostgreSQL).
**   serve_query_p50_ms / _p99_ms     then 1,000,000 records (100,000 with
**                                    --quick) over the last 24 h, 20 source
**                                    agents, 5 message types, are stored
**                                    (through the same endpoint), and 200
**                                    GET /api/v1/metrics/communication with
**                                    a source_agent_id filter, a 1 h range
**                                    and limit=100 are timed one by one.
**   serve_summary_1h_p99_ms          200 GET .../communication/summary over
**                                    the last hour, group_by=source_agent_id,
**                                    step=60s. Target <= 20 ms (the slice
**                                    asks for 100 ms).
**   serve_summary_24h_p99_ms         50 of the same over 24 h, step=1h.
** The collector runs in this process (am_serve_start), the store in a
** temporary directory on the same disk as /tmp.
*/
#define _GNU_SOURCE
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "bench.h"
#include "serve/serve.h"
#include "../tests/unit/pg_fixture.h"

#define THREADS 8       /* clients of the batch figures */
#define MANY_CLIENTS 64 /* clients of the single-event figure's second run */
#define BATCH 500

static uint64_t g_next_id = 1ull << 36; /* renumbered ids: above any events() made */

typedef struct client {
    char url[128];
    char *body;
    size_t *offs;
    size_t n_events;
    double seconds;
    uint64_t accepted, failed;
    pthread_t t;
} client;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static CURL *easy(const char *url)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

static long post(CURL *c, const char *body)
{
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* A body of n communication events with timestamps from t0 back over span
   seconds; ids unique across calls (seq), 12 digits each, at offs[i] when
   offs is given (so a client can renumber a body instead of rebuilding
   it). Owned result. */
static char *events(size_t n, double t0, double span, uint64_t *seq, size_t *offs)
{
    static const char *const TYPES[] = {"task", "result", "handoff", "question", "error"};
    size_t cap = n * 330 + 16, o = 0;
    char *b = malloc(cap);
    b[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        uint64_t k = (*seq)++;
        if (offs)
            offs[i] = o + (i ? 1 : 0) + strlen("{\"event\":\"communication\",\"id\":\"b");
        o += (size_t)snprintf(
            b + o, cap - o,
            "%s{\"event\":\"communication\",\"id\":\"b%012llu\",\"timestamp\":%.3f,"
            "\"source_agent_id\":\"agent-%02llu\",\"target_agent_id\":\"agent-%02llu\","
            "\"message_type\":\"%s\",\"message_size\":%llu,\"processing_time\":%.2f,"
            "\"error_count\":%d,\"session_id\":\"s%llu\"}",
            i ? "," : "", (unsigned long long)k, t0 - span * (double)(k % 100003) / 100003.0,
            (unsigned long long)(k % 20), (unsigned long long)((k + 7) % 20), TYPES[k % 5],
            (unsigned long long)(200 + k % 4000), 1.0 + (double)(k * 7919 % 50000) / 100.0,
            k % 50 == 0, (unsigned long long)(k % 1000));
    }
    b[o++] = ']';
    b[o] = '\0';
    return b;
}

static void *run_client(void *arg)
{
    client *cl = arg;
    CURL *c = easy(cl->url);
    double end = (double)bench_now_ns() / 1e9 + cl->seconds;
    while ((double)bench_now_ns() / 1e9 < end) {
        /* fresh ids: every event a new row, none skipped as a resend */
        uint64_t id = __atomic_fetch_add(&g_next_id, cl->n_events, __ATOMIC_RELAXED);
        for (size_t i = 0; i < cl->n_events; i++) {
            /* digits by hand: the clients share the machine with the server */
            char *d = cl->body + cl->offs[i];
            uint64_t v = id + i;
            for (int k = 11; k >= 0; k--, v /= 10)
                d[k] = (char)('0' + v % 10);
        }
        if (post(c, cl->body) == 200)
            cl->accepted += cl->n_events;
        else
            cl->failed++;
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* Events per second acknowledged by n_clients (up to MANY_CLIENTS)
   clients posting batches of batch events; -1 when any request failed. */
static double ingest_rate(const char *base, int n_clients, size_t batch, uint64_t *seq)
{
    client cl[MANY_CLIENTS];
    for (int i = 0; i < n_clients; i++) {
        size_t *offs = malloc(batch * sizeof *offs);
        cl[i] = (client){.body = events(batch, am_unix_time(), 3600, seq, offs),
                         .offs = offs,
                         .n_events = batch,
                         .seconds = g_opts.is_quick ? 1.0 : 3.0};
        snprintf(cl[i].url, sizeof cl[i].url, "%s/api/v1/events", base);
    }
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n_clients; i++)
        pthread_create(&cl[i].t, NULL, run_client, &cl[i]);
    uint64_t total = 0, failed = 0;
    for (int i = 0; i < n_clients; i++) {
        pthread_join(cl[i].t, NULL);
        total += cl[i].accepted;
        failed += cl[i].failed;
        free(cl[i].body);
        free(cl[i].offs);
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    return failed ? -1 : (double)total / secs;
}

/* p50 and p99 in ms of n GETs of the paths make_path writes. */
static bool latencies(const char *base, size_t n, void (*make_path)(char *, size_t, size_t, double),
                      double *p50, double *p99)
{
    CURL *c = easy(base);
    double *ms = malloc(n * sizeof *ms), now = am_unix_time();
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        char url[512], path[400];
        make_path(path, sizeof path, i, now);
        snprintf(url, sizeof url, "%s%s", base, path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        uint64_t t0 = bench_now_ns();
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        ms[i] = (double)(bench_now_ns() - t0) / 1e6;
        ok = status == 200;
    }
    if (ok) {
        bench_sort(ms, n);
        *p50 = ms[n / 2];
        *p99 = ms[(size_t)ceil(0.99 * (double)n) - 1];
    }
    free(ms);
    curl_easy_cleanup(c);
    return ok;
}

static void rows_path(char *p, size_t cap, size_t i, double now)
{
    snprintf(p, cap,
             "/api/v1/metrics/communication?source_agent_id=agent-%02zu&start=%.0f&end=%.0f"
             "&limit=100",
             i % 20, now - 3600 - (double)(i % 12) * 3600, now - (double)(i % 12) * 3600);
}

static void summary_1h_path(char *p, size_t cap, size_t i, double now)
{
    (void)i;
    snprintf(p, cap,
             "/api/v1/metrics/communication/summary?group_by=source_agent_id&step=60s"
             "&start=%.0f&end=%.0f",
             floor(now / 60) * 60 - 3600, floor(now / 60) * 60);
}

static void summary_24h_path(char *p, size_t cap, size_t i, double now)
{
    (void)i;
    snprintf(p, cap,
             "/api/v1/metrics/communication/summary?group_by=source_agent_id&step=1h"
             "&start=%.0f&end=%.0f",
             floor(now / 3600) * 3600 - 86400, floor(now / 3600) * 3600);
}

static void emit(const char *name, const char *unit, double v, double target, bool is_min,
                 const char *note)
{
    bench_fig f = {0};
    f.name = name;
    f.unit = unit;
    f.value = v;
    f.has_target = target > 0;
    f.target = target;
    f.is_target_min = is_min;
    f.reference = target > 0 ? "{\"issue\":14}" : NULL;
    f.note = note;
    bench_emit(&f);
}

/* wrk's script: one communication event a request, its id unique in
   the run ("w<thread>-<n>"), stamped now. */
static const char WRK_POST_LUA[] =
    "wrk.method = \"POST\"\n"
    "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
    "local n, tid = 0, 0\n"
    "function setup(thread) tid = tid + 1; thread:set(\"tid\", tid) end\n"
    "function request()\n"
    "  n = n + 1\n"
    "  return wrk.format(nil, \"/api/v1/events\", nil, string.format("
    "'[{\"event\":\"communication\",\"id\":\"w%d-%d\",\"timestamp\":%d,"
    "\"source_agent_id\":\"agent-%02d\",\"target_agent_id\":\"agent-%02d\","
    "\"message_type\":\"task\",\"message_size\":300,\"processing_time\":1.5,"
    "\"error_count\":0,\"session_id\":\"s%d\"}]', tid, n, os.time(), n % 20, (n + 7) % 20, "
    "n % 1000))\n"
    "end\n";

/* serve_http_sqlite_single_events_per_s_wrk: wrk (2 threads, 64
   keep-alive connections) posting one event a request, in a process of its
   own, so the figure is the collector's and not the client's. */
static void wrk_single(const char *base, const char *dir)
{
    const char *name = "serve_http_sqlite_single_events_per_s_wrk";
    char script[300], url[128];
    snprintf(script, sizeof script, "%s/post.lua", dir);
    snprintf(url, sizeof url, "%s/api/v1/events", base);
    FILE *fp = fopen(script, "w");
    if (!fp || fputs(WRK_POST_LUA, fp) < 0 || fclose(fp) != 0) {
        bench_emit_error(name, "cannot write the wrk script");
        return;
    }
    char *argv[] = {"wrk", "-t2",  "-c64", g_opts.is_quick ? "-d1s" : "-d5s",
                    "-s",  script, url,    NULL};
    double rps, p99;
    char errors[160], msg[200];
    const char *why;
    if (!bench_wrk(argv, &rps, &p99, errors, &why)) {
        bench_emit_error(name, why);
    } else if (errors[0]) {
        snprintf(msg, sizeof msg, "wrk: %s", errors);
        bench_emit_error(name, msg);
    } else {
        emit(name, "events/s", rps, 20000, true,
             "wrk -t2 -c64 in its own process, 1 event per POST (keep-alive), 200 after "
             "commit");
    }
}

static am_serve *start(const char *uri, char *base, size_t cap)
{
    am_serve_opts o = AM_SERVE_OPTS_INIT;
    o.http_port = 0;
    o.statsd_port = -1;
    o.store_uri = uri;
    o.system_interval_s = -1;
    o.store_max_queued = 1000000;
    /* every client is 127.0.0.1, and the 64 of one run may still be counted
       (closed, not yet cleaned up) when the 64 of the next connect: the
       default per-address limit (64) then refused one of wrk's connections */
    o.max_connections_per_ip = 4 * MANY_CLIENTS;
    am_serve *s;
    if (am_serve_start(&o, &s) != AM_OK)
        return NULL;
    snprintf(base, cap, "http://127.0.0.1:%u", am_serve_http_port(s));
    return s;
}

static void queries(const char *base, uint64_t *seq)
{
    size_t total = g_opts.is_quick ? 100000 : 1000000, chunk = 5000;
    CURL *c = easy("");
    char url[128];
    snprintf(url, sizeof url, "%s/api/v1/events", base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    double now = am_unix_time();
    uint64_t t0 = bench_now_ns();
    for (size_t done = 0; done < total; done += chunk) {
        char *body = events(chunk, now, 86400, seq, NULL);
        long st = post(c, body);
        free(body);
        if (st != 200) {
            curl_easy_cleanup(c);
            bench_emit_error("serve_query_p99_ms", "storing the records failed");
            return;
        }
    }
    curl_easy_cleanup(c);
    char note[160];
    snprintf(note, sizeof note, "%zu records stored in %.1f s first; 200 queries", total,
             (double)(bench_now_ns() - t0) / 1e9);
    double p50, p99;
    if (latencies(base, 200, rows_path, &p50, &p99)) {
        emit("serve_query_p50_ms", "ms", p50, 0, false, note);
        emit("serve_query_p99_ms", "ms", p99, 0, false, note);
    } else {
        bench_emit_error("serve_query_p99_ms", "a query failed");
    }
    if (latencies(base, 200, summary_1h_path, &p50, &p99)) {
        emit("serve_summary_1h_p50_ms", "ms", p50, 0, false, "group_by=source_agent_id, step=60s");
        emit("serve_summary_1h_p99_ms", "ms", p99, 20, false,
             "group_by=source_agent_id, step=60s; the slice asks for 100 ms");
    } else {
        bench_emit_error("serve_summary_1h_p99_ms", "a summary failed");
    }
    if (latencies(base, 50, summary_24h_path, &p50, &p99))
        emit("serve_summary_24h_p99_ms", "ms", p99, 20, false, "group_by=source_agent_id, step=1h");
    else
        bench_emit_error("serve_summary_24h_p99_ms", "a summary failed");
}

void bench_group_serve(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    char dir[] = "/tmp/am-bench-serve-XXXXXX", uri[256], base[64], cmd[512];
    if (!mkdtemp(dir)) {
        bench_emit_error("serve_http_sqlite_events_per_s", "mkdtemp failed");
        return;
    }
    uint64_t seq = 0;
    snprintf(uri, sizeof uri, "sqlite:%s/agentmon.db", dir);
    am_serve *s = start(uri, base, sizeof base);
    if (!s) {
        bench_emit_error("serve_http_sqlite_events_per_s", am_errmsg());
    } else {
        am_store_stats st0, st1;
        am_store_get_stats(am__serve_store(s), &st0);
        uint64_t t0 = bench_now_ns();
        double v = ingest_rate(base, THREADS, BATCH, &seq);
        double wall = (double)(bench_now_ns() - t0) / 1e9;
        am_store_get_stats(am__serve_store(s), &st1);
        double records = (double)(st1.committed - st0.committed),
               cpu = st1.writer_cpu_s - st0.writer_cpu_s;
        if (getenv("AM_BENCH_STORE_DEBUG"))
            fprintf(stderr, "serve: %.0f records in %llu batches\n", records,
                    (unsigned long long)(st1.batches - st0.batches));
        if (v > 0) {
            emit("serve_http_sqlite_events_per_s", "events/s", v, 100000, true,
                 "8 clients, 500 events per POST, 200 after commit");
            char note[200];
            snprintf(note, sizeof note,
                     "the bound of one writer thread on this workload: records committed per "
                     "second of its CPU; it was busy %.2f of the run above",
                     cpu / wall);
            if (cpu > 0)
                emit("serve_http_sqlite_writer_events_per_cpu_s", "events/s", records / cpu, 0,
                     true, note);
        } else {
            bench_emit_error("serve_http_sqlite_events_per_s", "a request failed");
        }
        v = ingest_rate(base, THREADS, 1, &seq);
        if (v > 0)
            emit("serve_http_sqlite_single_events_per_s", "events/s", v, 20000, true,
                 "8 clients, 1 event per POST (keep-alive), 200 after commit");
        else
            bench_emit_error("serve_http_sqlite_single_events_per_s", "a request failed");
        v = ingest_rate(base, MANY_CLIENTS, 1, &seq);
        if (v > 0)
            emit("serve_http_sqlite_single_events_per_s_64_clients", "events/s", v, 20000, true,
                 "64 clients, 1 event per POST (keep-alive), 200 after commit");
        else
            bench_emit_error("serve_http_sqlite_single_events_per_s_64_clients",
                             "a request failed");
        wrk_single(base, dir);
        queries(base, &seq);
        am_serve_stop(s);
    }
    /* PostgreSQL: a throwaway cluster */
    pf_server pg;
    if (!pf_find(&pg)) {
        bench_emit_error("serve_http_pg_events_per_s", "skipped: PostgreSQL is not installed");
    } else if (!pf_start(&pg)) {
        bench_emit_error("serve_http_pg_events_per_s", "a PostgreSQL cluster did not start");
    } else if (!(s = start(pg.uri, base, sizeof base))) {
        bench_emit_error("serve_http_pg_events_per_s", am_errmsg());
    } else {
        am_store_stats st0, st1;
        am_store_get_stats(am__serve_store(s), &st0);
        double v = ingest_rate(base, THREADS, BATCH, &seq);
        am_store_get_stats(am__serve_store(s), &st1);
        if (getenv("AM_BENCH_STORE_DEBUG"))
            fprintf(stderr, "serve: %llu records in %llu batches\n",
                    (unsigned long long)(st1.committed - st0.committed),
                    (unsigned long long)(st1.batches - st0.batches));
        if (v > 0)
            emit("serve_http_pg_events_per_s", "events/s", v, 0, false,
                 "8 clients, 500 events per POST, 200 after commit");
        else
            bench_emit_error("serve_http_pg_events_per_s", "a request failed");
        am_serve_stop(s);
    }
    pf_cleanup();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        bench_emit_error("serve_http_sqlite_events_per_s", "could not remove the temporary store");
    curl_global_cleanup();
}
