/*
** test_serve.c: the collector in-process over real sockets (HTTP and
** StatsD on 127.0.0.1, a SQLite store in a temporary directory): ingest
** acknowledged only once queryable, gzip and NDJSON bodies, partial
** rejection, the API's errors (400 naming the parameter, 404, 413, 415),
** paging through the Link header, summaries, StatsD samples reaching the
** series API, resent ids stored once, the registry moved by events, log
** lines posted and tailed read back by trace id, exemplars, and the
** alerting window's gauges.
*/
#include <arpa/inet.h>
#include <math.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "http_client.h"
#include "util/alloc.h"
#include "util/gzip.h"
#include "packs/defs.h"
#include "serve/api/exemplars.h"
#include "serve/catalog.h"
#include "serve/ingest/expo_parse.h"
#include "serve/serve.h"
#include "serve/store/store_backend.h"

typedef struct fx {
    char dir[64], uri[128], base[64], tail[96];
    am_serve *s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/am-serve-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->uri, sizeof f->uri, "sqlite:%s/db/agentmon.db", f->dir);
    am_serve_opts o = AM_SERVE_OPTS_INIT;
    o.http_port = 0;
    o.statsd_port = 0;
    o.store_uri = f->uri;
    o.flush_interval_s = 0.2;
    o.system_interval_s = -1;
    o.store_max_queued = 50;
    o.retention_s = 20 * 365 * 86400.0; /* the tests' events are from 2023 */
    o.ack_timeout_s = 1;
    snprintf(f->tail, sizeof f->tail, "%s/agent.log", f->dir); /* made by a test */
    o.tail[0] = f->tail;
    o.n_tail = 1;
    o.tail_interval_s = 0.1;
    if (am_serve_start(&o, &f->s) != AM_OK) {
        fprintf(stderr, "am_serve_start: %s\n", am_errmsg());
        return -1;
    }
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", am_serve_http_port(f->s));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    am_serve_stop(f->s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static reply req(fx *f, const char *method, const char *path, const char *body,
                 const char *const *headers)
{
    char u[4096];
    snprintf(u, sizeof u, "%s%s", f->base, path);
    return fetch(u, method, headers, body, 0, NULL);
}

#define TASK(agent, status, dur)                                                                   \
    "{\"event\":\"task\",\"agent_id\":\"" agent "\",\"status\":\"" status "\",\"duration\":" dur "}"

static void test_ingest_then_query(void **state)
{
    fx *f = *state;
    static const char BODY[] = "[" TASK("coder", "success", "0.5") "," TASK(
        "coder", "bad",
        "1") ","
             "{\"event\":\"llm\",\"provider\":\"openai\",\"model\":\"gpt-4o\",\"status\":"
             "\"error\",\"error_type\":\"rate_limit\",\"latency\":2,\"input_tokens\":10,"
             "\"output_tokens\":3,\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"},"
             "{\"event\":\"metric\",\"name\":\"jobs_done\",\"type\":\"counter\",\"value\":5,"
             "\"labels\":{\"queue\":\"a\\\\b\"}},"
             "{\"event\":\"metric\",\"name\":\"jobs_done\",\"type\":\"counter\",\"value\":2,"
             "\"labels\":{\"queue\":\"a\\\\b\"}},"
             "{\"event\":\"metric\",\"name\":\"depth\",\"type\":\"gauge\",\"value\":-4}]";
    reply r = req(f, "POST", "/api/v1/events", BODY, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.body, "\"accepted\":5");
    AM_ASSERT_CONTAINS(r.body, "{\"index\":1,\"error\":\"field \\\"status\\\"");
    reply_free(&r);
    /* acknowledged = committed: readable at once */
    r = req(f, "GET", "/api/v1/metrics/task?agent_id=coder", NULL, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.body, "\"duration\":0.5");
    reply_free(&r);
    r = req(f, "GET", "/api/v1/metrics/llm?provider=openai", NULL, NULL);
    AM_ASSERT_CONTAINS(r.body, "\"error_type\":\"rate_limit\"");
    reply_free(&r);
    r = req(f, "GET", "/metrics", NULL, NULL);
    AM_ASSERT_CONTAINS(r.body, "agent_task_success_total{agent_id=\"coder\"} 1");
    AM_ASSERT_CONTAINS(r.body, "ccr_requests_total{provider=\"openai\",task_type=\"default\","
                               "status=\"error\"} 1");
    AM_ASSERT_CONTAINS(r.body, "agentmon_ingest_invalid_total{protocol=\"http\"} 1");
    AM_ASSERT_CONTAINS(r.body, "agentmon_ingest_events_total{protocol=\"http\",type=\"llm\"} 1");
    AM_ASSERT_CONTAINS(r.body, "\nagentmon_store_records_committed_total 5\n");
    /* metric events move the registry as their StatsD lines would */
    AM_ASSERT_CONTAINS(r.body, "jobs_done_total{queue=\"a\\\\b\"} 7");
    AM_ASSERT_CONTAINS(r.body, "depth -4");
    reply_free(&r);
    /* OpenMetrics: the exemplar carries the event's trace id */
    const char *om[] = {"Accept: application/openmetrics-text; version=1.0.0", NULL};
    r = req(f, "GET", "/metrics", NULL, om);
    AM_ASSERT_CONTAINS(r.body, "trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"");
    reply_free(&r);
}

static void test_bodies(void **state)
{
    fx *f = *state;
    const char *nd[] = {"Content-Type: application/x-ndjson", NULL};
    reply r = req(f, "POST", "/api/v1/events",
                  TASK("a", "success", "1") "\n" TASK("b", "success", "2") "\n", nd);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.body, "\"accepted\":2,\"rejected\":[]");
    reply_free(&r);

    const char *body = TASK("gz", "failure", "3");
    char *z;
    size_t zlen;
    AM_ASSERT_OK(am__gzip(body, strlen(body), 1, &z, &zlen));
    char u[256];
    snprintf(u, sizeof u, "%s/api/v1/events", f->base);
    const char *gz[] = {"Content-Encoding: gzip", NULL};
    r = fetch_n(u, "POST", gz, z, zlen, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    am__free(z);
    r = req(f, "GET", "/api/v1/metrics/task?agent_id=gz", NULL, NULL);
    AM_ASSERT_CONTAINS(r.body, "\"status\":\"failure\"");
    reply_free(&r);

    static const struct {
        const char *body, *header;
        long status;
        const char *msg;
    } bad[] = {
        {"not json", NULL, 400, "not JSON"},
        {"[]", NULL, 400, "empty array"},
        {"[" TASK("a", "nope", "1") "]", NULL, 400, "\"accepted\":0"},
        {TASK("a", "success", "1"), "Content-Encoding: br", 415, "gzip or identity"},
        {TASK("a", "success", "1"), "Content-Encoding: gzip", 400, "not gzip"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *h[] = {bad[i].header, NULL};
        r = req(f, "POST", "/api/v1/events", bad[i].body, bad[i].header ? h : NULL);
        if (r.status != bad[i].status)
            fail_msg("case %zu: status %ld, expected %ld: %s", i, r.status, bad[i].status, r.body);
        AM_ASSERT_CONTAINS(r.body, bad[i].msg);
        reply_free(&r);
    }
    /* a bomb: 80 MiB of zeros in a small body */
    size_t big = 80u << 20;
    char *zeros = calloc(1, big);
    AM_ASSERT_OK(am__gzip(zeros, big, 1, &z, &zlen));
    free(zeros);
    r = fetch_n(u, "POST", gz, z, zlen, 0, NULL);
    AM_ASSERT_EQ(r.status, 413);
    reply_free(&r);
    am__free(z);
    /* more events than the store's queue (50) can ever hold */
    char many[8192];
    size_t o = 0;
    many[o++] = '[';
    for (int i = 0; i < 60; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "%s" TASK("q", "success", "1"),
                              i ? "," : "");
    many[o++] = ']';
    many[o] = '\0';
    r = req(f, "POST", "/api/v1/events", many, NULL);
    AM_ASSERT_EQ(r.status, 413);
    AM_ASSERT_CONTAINS(r.body, "more than the queue holds");
    reply_free(&r);
    r = req(f, "GET", "/api/v1/metrics/task?agent_id=q", NULL, NULL);
    AM_ASSERT_STR_EQ(r.body, "[]"); /* nothing of it stored */
    reply_free(&r);
}

/* What decoding cannot see is refused per event all the same (issue 10
   item 7): a metric event the collector cannot apply, a timestamp far
   ahead or older than the retention. And an ingest whose commit does not
   come in time is taken back: 503, and nothing of it stored later. */
static void test_admission_and_give_up(void **state)
{
    fx *f = *state;
    char body[4096];
    double now = am_unix_time();
    reply r =
        req(f, "POST", "/api/v1/events",
            "{\"event\":\"metric\",\"name\":\"adm_ok\",\"type\":\"counter\",\"value\":1}", NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    snprintf(body, sizeof body,
             "[{\"event\":\"metric\",\"name\":\"adm_ok\",\"type\":\"counter\",\"value\":2},"
             "{\"event\":\"metric\",\"name\":\"adm_ok\",\"type\":\"counter\",\"value\":-1},"
             "{\"event\":\"metric\",\"name\":\"adm_h\",\"type\":\"histogram\",\"value\":1,"
             "\"labels\":{\"le\":\"1\"}},"
             "{\"event\":\"metric\",\"name\":\"adm_ok\",\"type\":\"gauge\",\"value\":1},"
             "{\"event\":\"metric\",\"name\":\"adm_ok\",\"type\":\"counter\",\"value\":1,"
             "\"labels\":{\"x\":\"1\"}},"
             "{\"event\":\"metric\",\"name\":\"agentmon_x\",\"type\":\"gauge\",\"value\":1},"
             "{\"event\":\"task\",\"agent_id\":\"a\",\"status\":\"success\",\"duration\":1,"
             "\"timestamp\":%.0f},"
             "{\"event\":\"task\",\"agent_id\":\"a\",\"status\":\"success\",\"duration\":1,"
             "\"timestamp\":\"2001-01-01T00:00:00Z\"}]",
             now + 7200);
    r = req(f, "POST", "/api/v1/events", body, NULL);
    AM_ASSERT_EQ(r.status, 200);
    /* 0, and 4: other labels for a name are taken, as StatsD lines are */
    AM_ASSERT_CONTAINS(r.body, "\"accepted\":2,");
    static const char *const why[] = {
        "{\"index\":1,\"error\":\"cannot be applied: a counter increment must be >= 0",
        "{\"index\":2,\"error\":\"cannot be applied: label \\\"le\\\" is reserved",
        "{\"index\":3,\"error\":\"cannot be applied: \\\"adm_ok_total\\\" is a counter (c), not a "
        "gauge (g)",
        "{\"index\":5,\"error\":\"cannot be applied: metric name \\\"agentmon_x\\\" is reserved",
        "{\"index\":6,\"error\":\"field \\\"timestamp\\\" is 7", /* 7200 s, or 7199 if slow */
        "{\"index\":7,\"error\":\"field \\\"timestamp\\\" is older than the retention"};
    for (size_t i = 0; i < sizeof why / sizeof why[0]; i++)
        AM_ASSERT_CONTAINS(r.body, why[i]);
    reply_free(&r);
    r = req(f, "GET", "/metrics", NULL, NULL);
    AM_ASSERT_CONTAINS(r.body, "adm_ok_total 3\n");
    reply_free(&r);
    /* a clash inside one request cannot be seen before it is stored: it
       is stored, moves nothing, and is counted */
    r = req(f, "POST", "/api/v1/events",
            "[{\"event\":\"metric\",\"name\":\"adm_new\",\"type\":\"gauge\",\"value\":1},"
            "{\"event\":\"metric\",\"name\":\"adm_new\",\"type\":\"counter\",\"value\":1}]",
            NULL);
    AM_ASSERT_CONTAINS(r.body, "\"accepted\":2,");
    reply_free(&r);
    r = req(f, "GET", "/metrics", NULL, NULL);
    AM_ASSERT_CONTAINS(r.body,
                       "agentmon_ingest_unapplied_total{protocol=\"http\",type=\"metric\"} 1\n");
    reply_free(&r);

    /* the writer is held: the ingest gives up after ack_timeout_s and takes
       its events back; they are never stored */
    am__store_pause(am__serve_store(f->s), true);
    r = req(f, "POST", "/api/v1/events",
            "{\"event\":\"task\",\"id\":\"given-up\",\"agent_id\":\"gu\",\"status\":"
            "\"success\",\"duration\":1}",
            NULL);
    AM_ASSERT_EQ(r.status, 503);
    AM_ASSERT_CONTAINS(r.body, "none of them was stored");
    reply_free(&r);
    am__store_pause(am__serve_store(f->s), false);
    r = req(f, "POST", "/api/v1/events", TASK("after", "success", "1"), NULL);
    AM_ASSERT_EQ(r.status, 200); /* committed after the one given up would have been */
    reply_free(&r);
    r = req(f, "GET", "/api/v1/metrics/task?agent_id=gu", NULL, NULL);
    AM_ASSERT_STR_EQ(r.body, "[]"); /* no row: the one given up was never stored */
    reply_free(&r);
}

static void test_paging_and_errors(void **state)
{
    fx *f = *state;
    char body[16384];
    size_t o = 0;
    body[o++] = '[';
    for (int i = 0; i < 25; i++)
        o += (size_t)snprintf(body + o, sizeof body - o,
                              "%s{\"event\":\"communication\",\"id\":\"c%02d\",\"timestamp\":%d,"
                              "\"source_agent_id\":\"p\",\"target_agent_id\":\"c\","
                              "\"message_type\":\"task\",\"message_size\":%d,"
                              "\"processing_time\":%d}",
                              i ? "," : "", i, 1700000000 + i, i, i);
    body[o++] = ']';
    body[o] = '\0';
    reply r = req(f, "POST", "/api/v1/events", body, NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    /* resent: stored once */
    r = req(f, "POST", "/api/v1/events", body, NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    char path[1024] = "/api/v1/metrics/communication?limit=10&source_agent_id=p";
    int rows = 0, pages = 0;
    for (;;) {
        r = req(f, "GET", path, NULL, NULL);
        AM_ASSERT_EQ(r.status, 200);
        for (const char *p = r.body; (p = strstr(p, "\"id\":\"c")); p++)
            rows++;
        pages++;
        const char *link = strstr(r.headers, "Link: <");
        if (!link) {
            reply_free(&r);
            break;
        }
        AM_ASSERT_CONTAINS(r.headers, "X-Next-Cursor: ");
        const char *end = strchr(link, '>');
        snprintf(path, sizeof path, "%.*s", (int)(end - link - 7), link + 7);
        AM_ASSERT_CONTAINS(path, "source_agent_id=p");
        reply_free(&r);
    }
    AM_ASSERT_EQ(rows, 25);
    AM_ASSERT_EQ(pages, 3);
    r = req(f, "GET",
            "/api/v1/metrics/communication/summary?start=1700000000&end=1700000100"
            "&step=60&group_by=source_agent_id",
            NULL, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.body, "\"count\":25");
    AM_ASSERT_CONTAINS(r.body, "\"p50\":12");
    reply_free(&r);
    r = req(f, "GET", "/metrics", NULL, NULL);
    const char *d = strstr(r.body, "\nagentmon_store_duplicates_total ");
    if (!d || strncmp(d + 33, "25\n", 3) != 0)
        fail_msg("%.50s", d ? d : "no duplicates line");
    reply_free(&r);

    static const struct {
        const char *path;
        long status;
        const char *msg;
    } bad[] = {
        {"/api/v1/metrics/nope", 404, "no metric type"},
        {"/api/v1/metrics/nope/summary", 404, "no metric type"},
        {"/api/v1/metrics/task?start=yesterday", 400, "start"},
        {"/api/v1/metrics/task?limit=0", 400, "limit"},
        {"/api/v1/metrics/task?colour=red", 400, "colour: not a parameter"},
        {"/api/v1/metrics/task?cursor=garbage", 400, "cursor"},
        {"/api/v1/metrics/task/summary?group_by=duration", 400, "group_by"},
        {"/api/v1/metrics/task/summary?step=fast", 400, "step"},
        {"/api/v1/series", 400, "name: missing"},
        {"/api/v1/series?name=up&match[]=up{a=~\"b\"}", 400, "match[]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = req(f, "GET", bad[i].path, NULL, NULL);
        if (r.status != bad[i].status)
            fail_msg("%s: status %ld, expected %ld: %s", bad[i].path, r.status, bad[i].status,
                     r.body);
        AM_ASSERT_CONTAINS(r.body, "\"status\":\"error\"");
        AM_ASSERT_CONTAINS(r.body, bad[i].msg);
        reply_free(&r);
    }
}

static void test_statsd_to_series(void **state)
{
    fx *f = *state;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)am_serve_statsd_port(f->s))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    const char *pkt = "agent.calls:3|c|#agent:coder\nagent.queue:7|g\nnot a line\n";
    assert_true(sendto(fd, pkt, strlen(pkt), 0, (struct sockaddr *)&a, sizeof a) > 0);
    close(fd);
    /* the listener thread, then a flush (every 0.2 s) and a batch (1 s) */
    int found = 0;
    for (int i = 0; i < 50 && !found; i++) {
        usleep(100000);
        reply r =
            req(f, "GET", "/api/v1/series?match[]=agent_calls_total{agent=\"coder\"}", NULL, NULL);
        found = r.status == 200 && strstr(r.body, "\"labels\":{\"agent\":\"coder\"}") &&
                strstr(r.body, ",3]");
        if (i == 49)
            fprintf(stderr, "series: %ld %s\n", r.status, r.body);
        reply_free(&r);
    }
    assert_true(found);
    reply r = req(f, "GET", "/metrics", NULL, NULL);
    AM_ASSERT_CONTAINS(r.body, "agent_calls_total{agent=\"coder\"} 3");
    AM_ASSERT_CONTAINS(r.body, "agent_queue 7");
    AM_ASSERT_CONTAINS(r.body, "agentmon_ingest_invalid_total{protocol=\"statsd\"} 1");
    reply_free(&r);
}

/* The alerting window says what it holds and how far back it keeps: the
   first feed runs at start, so the gauges are there at once. */
static void test_window_gauges(void **state)
{
    fx *f = *state;
    int found = 0;
    for (int i = 0; i < 300 && !found; i++) {
        reply r = req(f, "GET", "/metrics", NULL, NULL);
        found =
            r.status == 200 && strstr(r.body, "\nagentmon_alert_window_retention_seconds 3600\n");
        if (found) {
            AM_ASSERT_CONTAINS(r.body, "\nagentmon_alert_window_series ");
            AM_ASSERT_CONTAINS(r.body, "\nagentmon_alert_window_samples ");
            AM_ASSERT_CONTAINS(r.body, "# TYPE agentmon_alert_window_bytes gauge\n");
        } else {
            usleep(100000);
        }
        reply_free(&r);
    }
    assert_true(found);
}

/* The collector's tables register side by side with libagentmon's: no
   name twice, every row documented. */
static void test_catalogue(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    size_t nl, ns, total = 0;
    const am_def_table *const *lib = am__catalog(&nl), *const *srv = am__serve_catalog(&ns);
    for (int side = 0; side < 2; side++)
        for (size_t k = 0; k < (side ? ns : nl); k++) {
            const am_def_table *t = side ? srv[k] : lib[k];
            for (size_t i = 0; i < t->n; i++, total++) {
                const am_metric_def *d = &t->defs[i];
                assert_non_null(d->help);
                assert_non_null(d->source);
                void *h;
                if (am__def_register(r, d, &h))
                    fail_msg("%s: %s", d->name, am_errmsg());
            }
        }
    AM_ASSERT_EQ(am_registry_count(r), total);
    am_registry_free(r);
}

/* The exemplars the OpenMetrics text of a registry carries, read back with
   the scraper's parser: what query_exemplars answered from before issue 14. */
typedef struct ex_oracle {
    const char *answer;
    size_t n;
} ex_oracle;

static int oracle_sample(void *ud, const am_expo_sample *s)
{
    ex_oracle *o = ud;
    if (!s->has_exemplar)
        return 0;
    o->n++;
    char want[256];
    snprintf(want, sizeof want, "\"exemplars\":[{\"labels\":{\"trace_id\":\"%s\"},\"value\":\"",
             s->ex_label_values[0]);
    AM_ASSERT_CONTAINS(o->answer, want);
    snprintf(want, sizeof want, "\"timestamp\":%.3f}", floor(s->ex_timestamp * 1000) / 1000);
    AM_ASSERT_CONTAINS(o->answer, want);
    return 0;
}

/* query_exemplars walks the exemplars (am_encode_exemplars): every one the
   OpenMetrics text shows, answered for a selector of all series. */
static void test_exemplars_as_the_text_has_them(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "step_seconds";
    o.help = "Steps.";
    const char *ln[] = {"agent"};
    o.label_names = ln;
    o.n_labels = 1;
    am_histogram *h, *hc;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    o.name = "steps_total";
    am_counter *c, *cc;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    const char *n[] = {"trace_id"};
    for (int i = 0; i < 40; i++) {
        char agent[16], id[40];
        snprintf(agent, sizeof agent, "a\"%d", i);
        snprintf(id, sizeof id, "%032x", (unsigned)i * 2654435761u);
        const char *v[] = {id};
        am_labels ex = {n, v, 1};
        AM_ASSERT_OK(am_histogram_with(h, AM_LABELS(agent), &hc));
        AM_ASSERT_OK(am_histogram_observe_exemplar(hc, 0.001 * (i * i % 9000) + 0.0004, &ex));
        AM_ASSERT_OK(am_counter_with(c, AM_LABELS(agent), &cc));
        if (i % 3)
            AM_ASSERT_OK(am_counter_add_exemplar(cc, i, &ex));
    }
    am_promql *q;
    char err[128];
    AM_ASSERT_OK(am_promql_parse("{__name__=~\".+\"}", &q, err, sizeof err));
    am_buf out;
    am_buf_init(&out, 0);
    AM_ASSERT_OK(am__exemplars_find(&r, 1, q, 0, 1e12, &out));
    char *text;
    size_t len;
    AM_ASSERT_OK(am_encode(&r, 1, AM_FORMAT_OPENMETRICS, &text, &len));
    ex_oracle or = {out.p, 0};
    AM_ASSERT_OK(am__expo_parse(text, len, AM_EXPO_OPENMETRICS, NULL, oracle_sample, & or, NULL));
    size_t answered = 0;
    for (const char *p = out.p; (p = strstr(p, "\"seriesLabels\"")); p++)
        answered++;
    AM_ASSERT_EQ(answered, or.n);
    AM_ASSERT_EQ(or.n, 40 + 26);
    am_free(text);
    am_buf_free(&out);
    am_promql_free(q);
    am_registry_free(r);
}

/* POST /api/v1/logs, --tail, GET /api/v1/logs by trace id, and the task
   events' exemplars through /api/v1/query_exemplars. */
static void test_log_lines_and_exemplars(void **state)
{
    fx *f = *state;
#define TR "4bf92f3577b34da6a3ce929d0e0e4736"
    static const char LINES[] =
        "{\"timestamp\":\"2026-11-24T21:00:00.125Z\",\"level\":\"INFO\",\"component\":"
        "\"coder:1\",\"message\":\"step done\",\"trace_id\":\"" TR "\",\"span_id\":"
        "\"00f067aa0ba902b7\",\"task\":7}\n"
        "not a log line\n"
        "{\"timestamp\":\"2026-11-24T21:00:01Z\",\"message\":\"other trace\",\"trace_id\":"
        "\"0af7651916cd43dd8448eb211c80319c\"}\n";
    const char *nd[] = {"Content-Type: application/x-ndjson", NULL};
    for (int i = 0; i < 2; i++) { /* the second time: stored once */
        reply r = req(f, "POST", "/api/v1/logs", LINES, nd);
        AM_ASSERT_EQ(r.status, 200);
        AM_ASSERT_CONTAINS(r.body, "\"accepted\":2");
        AM_ASSERT_CONTAINS(r.body, "{\"index\":1,\"error\":\"line 2 is not JSON");
        reply_free(&r);
    }
    /* acknowledged = committed: its line is read back as it was written */
    reply r =
        req(f, "GET", "/api/v1/logs?trace_id=4BF92F35-77B3-4DA6-A3CE-929D0E0E4736", NULL, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_STR_EQ(r.body, "{\"status\":\"success\",\"data\":[{\"timestamp\":"
                             "\"2026-11-24T21:00:00.125Z\",\"level\":\"INFO\",\"component\":"
                             "\"coder:1\",\"message\":\"step done\",\"trace_id\":\"" TR
                             "\",\"span_id\":\"00f067aa0ba902b7\",\"task\":7}]}");
    reply_free(&r);
    static const struct {
        const char *path;
        int status;
        const char *msg;
    } bad[] = {
        {"/api/v1/logs?trace_id=xyz", 400, "trace_id"},
        {"/api/v1/logs?limit=0", 400, "limit"},
        {"/api/v1/logs?limit=2001", 400, "limit"},
        {"/api/v1/query_exemplars", 400, "query"},
        {"/api/v1/query_exemplars?query=sum(", 400, "query"},
        {"/api/v1/query_exemplars?query=up&start=x", 400, "start"},
        {"/api/v1/query_exemplars?query=up&start=10&end=5", 400, "end"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = req(f, "GET", bad[i].path, NULL, NULL);
        if (r.status != bad[i].status || !strstr(r.body, bad[i].msg))
            fail_msg("%s: %d %s", bad[i].path, r.status, r.body);
        reply_free(&r);
    }
    r = req(f, "POST", "/api/v1/logs", "\n\n", nd);
    AM_ASSERT_EQ(r.status, 400);
    reply_free(&r);

    /* a tailed file: whole lines only, as they are appended */
    FILE *lf = fopen(f->tail, "w");
    assert_non_null(lf);
    fputs("{\"message\":\"tailed\",\"trace_id\":\"" TR "\",\"level\":\"WARNING\"}\n{\"mess", lf);
    fflush(lf);
    int n = 0;
    for (int i = 0; i < 100 && n != 2; i++) {
        usleep(50000);
        r = req(f, "GET", "/api/v1/logs?trace_id=" TR, NULL, NULL);
        n = strstr(r.body, "\"message\":\"tailed\"") ? 2 : 1;
        reply_free(&r);
    }
    AM_ASSERT_EQ(n, 2);
    fputs("age\":\"second half\",\"trace_id\":\"" TR "\"}\n", lf);
    fclose(lf);
    bool got = false;
    for (int i = 0; i < 100 && !got; i++) {
        usleep(50000);
        r = req(f, "GET", "/api/v1/logs?trace_id=" TR "&limit=2", NULL, NULL);
        got = strstr(r.body, "\"message\":\"second half\"") != NULL;
        if (!got)
            reply_free(&r);
    }
    assert_true(got);
    /* the last 2 of the trace's 3 lines, oldest first */
    AM_ASSERT_LACKS(r.body, "step done");
    AM_ASSERT_CONTAINS(r.body, "\"level\":\"WARNING\",\"message\":\"tailed\"");
    reply_free(&r);

    /* a task event's trace id is its histogram's exemplar */
    r = req(f, "POST", "/api/v1/events",
            "{\"event\":\"task\",\"agent_id\":\"coder:1\",\"status\":\"success\","
            "\"duration\":0.3,\"trace_id\":\"" TR "\"}",
            NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    r = req(f, "GET",
            "/api/v1/query_exemplars?query=histogram_quantile(0.95,%20sum%20by%20(le)%20(rate("
            "agent_task_duration_seconds_bucket%7Bagent_id%3D%22coder%3A1%22%7D%5B1m%5D)))",
            NULL, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.body, "{\"seriesLabels\":{\"__name__\":\"agent_task_duration_seconds_"
                               "bucket\",\"agent_id\":\"coder:1\",\"status\":\"success\",\"le\":");
    AM_ASSERT_CONTAINS(r.body, "\"exemplars\":[{\"labels\":{\"trace_id\":\"" TR);
    AM_ASSERT_CONTAINS(r.body, "\"value\":\"0.3\",\"timestamp\":");
    reply_free(&r);
    r = req(
        f, "GET",
        "/api/v1/query_exemplars?query=agent_task_duration_seconds_bucket%7Bagent_id%3D%22x%22%7D",
        NULL, NULL);
    AM_ASSERT_STR_EQ(r.body, "{\"status\":\"success\",\"data\":[]}");
    reply_free(&r);
#undef TR
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest_then_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission_and_give_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statsd_to_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_gauges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_lines_and_exemplars, setup, teardown),
        cmocka_unit_test(test_exemplars_as_the_text_has_them),
        cmocka_unit_test(test_catalogue),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
