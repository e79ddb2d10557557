/*
** test_scrape.c: the scraper against libagentmon's own HTTP server on
** 127.0.0.1 (port 0) -- a registry served in OpenMetrics with gzip, a target
** behind a bearer token, a dead port, a target answering garbage, one
** answering 500, one whose body is over the limit, one slower than the
** timeout, and one whose labels
** clash with instance and job. Checks what reached the sink, the health
** metrics in the collector's registry, the stats, and the option errors.
*/
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"
#include "serve/ingest/expo_parse.h"
#include "serve/ingest/scrape.h"

/* ---------------------------------------------------------------- the sink */

typedef struct got {
    char *name, *type, *labels, *source;
    double value, ts;
} got;

typedef struct sink {
    got *g;
    size_t n, cap;
} sink;

static char *xdup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static int on_sample(void *ud, const am_sample *s)
{
    sink *k = ud;
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 256;
        k->g = realloc(k->g, k->cap * sizeof *k->g);
    }
    got *g = &k->g[k->n++];
    g->name = xdup(s->name);
    g->type = xdup(s->type);
    g->labels = xdup(s->labels);
    g->source = xdup(s->source);
    g->value = s->value;
    g->ts = s->timestamp;
    return 0;
}

static void sink_free(sink *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->g[i].name);
        free(k->g[i].type);
        free(k->g[i].labels);
        free(k->g[i].source);
    }
    free(k->g);
}

/* The first sample with this name, labels and source, or NULL. */
static const got *find(const sink *k, const char *name, const char *labels, const char *source)
{
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->g[i].name, name) && !strcmp(k->g[i].labels, labels) &&
            (!source || !strcmp(k->g[i].source, source)))
            return &k->g[i];
    return NULL;
}

static size_t count_source(const sink *k, const char *source)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n; i++)
        n += !strcmp(k->g[i].source, source);
    return n;
}

/* ---------------------------------------------------------------- servers */

static void garbage(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    static const char text[] = "this is { not metrics\n";
    am_http_resp_body(resp, "text/plain; version=0.0.4", text, sizeof text - 1);
}

static void failing(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    am_http_resp_error(resp, 500, "internal", "broken on purpose");
}

/* What the scraper sent to /clash, kept for the test to check. */
static pthread_mutex_t g_hdr_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_accept[256], g_encoding[64], g_timeout[32], g_auth[64];

static void keep(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v ? v : "(none)");
}

static void clash(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&g_hdr_lock);
    keep(g_accept, sizeof g_accept, am_http_req_header(req, "Accept"));
    keep(g_encoding, sizeof g_encoding, am_http_req_header(req, "Accept-Encoding"));
    keep(g_timeout, sizeof g_timeout,
         am_http_req_header(req, "X-Prometheus-Scrape-Timeout-Seconds"));
    keep(g_auth, sizeof g_auth, am_http_req_header(req, "Authorization"));
    pthread_mutex_unlock(&g_hdr_lock);
    static const char text[] = "# TYPE x gauge\n"
                               "x{job=\"j\",instance=\"i\",exported_job=\"e\",empty=\"\"} 1 1500\n";
    am_http_resp_body(resp, "text/plain; version=0.0.4", text, sizeof text - 1);
}

static void big(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    static char text[131072];
    for (size_t i = 0; i + 8 <= sizeof text; i += 8)
        memcpy(text + i, "a 1\nb 2\n", 8);
    am_http_resp_body(resp, "text/plain; version=0.0.4", text, sizeof text);
}

static void slow(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    usleep(1200 * 1000); /* past the scrape timeout */
    am_http_resp_body(resp, "text/plain; version=0.0.4", "a 1\n", 4);
}

static uint16_t dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd); /* nothing listens there now */
    return ntohs(a.sin_port);
}

static void wait_scrapes(am_scraper *s, unsigned long n)
{
    for (int tries = 0; tries < 1000; tries++) {
        bool all = true;
        for (size_t i = 0; i < am__scraper_n_targets(s); i++) {
            am_scrape_stats st;
            AM_ASSERT_OK(am__scraper_stats(s, i, &st));
            all = all && st.n_scrapes >= n;
        }
        if (all)
            return;
        usleep(10000);
    }
    fail_msg("the targets were not scraped %lu times in 10 s", n);
}

enum { T_AGENT, T_TOKEN, T_NOTOKEN, T_DEAD, T_GARBAGE, T_500, T_BIG, T_SLOW, T_CLASH, N_T };

static void test_scrape(void **state)
{
    (void)state;
    am_registry *served = fixture_registry(), *servers;
    AM_ASSERT_OK(am_registry_new(&servers)); /* their own metrics: the page stays the same */
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.port = 0;
    ho.self_registry = servers;
    ho.registries = &served;
    ho.n_registries = 1;
    am_http *agent;
    AM_ASSERT_OK(am_http_start(&ho, &agent));
    ho.builtin_auth.bearer_token = "s3cret";
    am_http *locked;
    AM_ASSERT_OK(am_http_start(&ho, &locked));
    am_http_opts go = AM_HTTP_OPTS_INIT;
    go.port = 0;
    go.no_builtin_routes = true;
    go.self_registry = servers;
    am_http *odd;
    AM_ASSERT_OK(am_http_new(&go, &odd));
    AM_ASSERT_OK(am_http_route(odd, AM_HTTP_GET, "/garbage", garbage, NULL, NULL));
    AM_ASSERT_OK(am_http_route(odd, AM_HTTP_GET, "/fail", failing, NULL, NULL));
    AM_ASSERT_OK(am_http_route(odd, AM_HTTP_GET, "/big", big, NULL, NULL));
    AM_ASSERT_OK(am_http_route(odd, AM_HTTP_GET, "/clash", clash, NULL, NULL));

    AM_ASSERT_OK(am_http_listen(odd));
    am_http *sleepy; /* its own server: its handler holds a thread per scrape */
    go.threads = 4;
    AM_ASSERT_OK(am_http_new(&go, &sleepy));
    AM_ASSERT_OK(am_http_route(sleepy, AM_HTTP_GET, "/slow", slow, NULL, NULL));
    AM_ASSERT_OK(am_http_listen(sleepy));

    char url[N_T][128], inst[N_T][64];
    uint16_t ports[N_T] = {am_http_port(agent), am_http_port(locked), am_http_port(locked),
                           dead_port(),         am_http_port(odd),    am_http_port(odd),
                           am_http_port(odd),   am_http_port(sleepy), am_http_port(odd)};
    const char *paths[N_T] = {"/metrics", "/metrics", "/metrics", "/metrics", "/garbage",
                              "/fail",    "/big",     "/slow",    "/clash"};
    for (int i = 0; i < N_T; i++) {
        snprintf(url[i], sizeof url[i], "http://127.0.0.1:%u%s", ports[i], paths[i]);
        /* targets of one job on one host:port have instances of their own
           (issue 10: one's failure read as the other's): host:port/path */
        bool is_shared = false;
        for (int j = 0; j < N_T; j++)
            is_shared |= j != i && ports[j] == ports[i] && (i == T_NOTOKEN) == (j == T_NOTOKEN);
        snprintf(inst[i], sizeof inst[i], "127.0.0.1:%u%s", ports[i], is_shared ? paths[i] : "");
    }

    am_registry *self;
    AM_ASSERT_OK(am_registry_new(&self));
    sink k = {0};
    am_scrape_opts o = AM_SCRAPE_OPTS_INIT;
    o.registry = self;
    o.sink = on_sample;
    o.sink_ud = &k;
    o.max_body_bytes = 65536;
    am_scraper *s;
    AM_ASSERT_OK(am__scraper_new(&o, &s));
    /* the body limit applies to all; the agent's page is under it */
    for (int i = 0; i < N_T; i++) {
        am_scrape_target t = AM_SCRAPE_TARGET_INIT;
        t.url = url[i];
        t.job = i == T_NOTOKEN ? "agents-notoken" : "agents";
        /* generous for healthy targets (sanitizers, a loaded machine); short
           for the one that must time out */
        t.interval_ms = i == T_SLOW ? 400 : 1000;
        t.timeout_ms = i == T_SLOW ? 300 : 1000;
        if (i == T_TOKEN)
            t.bearer_token = "s3cret";
        AM_ASSERT_OK(am__scraper_add(s, &t));
    }
    AM_ASSERT_OK(am__scraper_start(s));
    am_scrape_target late = AM_SCRAPE_TARGET_INIT;
    late.url = "http://127.0.0.1:1/metrics";
    AM_ASSERT_ERR(am__scraper_add(s, &late), AM_EMISUSE);
    AM_ASSERT_ERR(am__scraper_start(s), AM_EMISUSE);
    wait_scrapes(s, 2);
    am__scraper_stop(s);
    am__scraper_stop(s); /* idempotent */

    /* stats */
    am_scrape_stats st[N_T];
    for (int i = 0; i < N_T; i++)
        AM_ASSERT_OK(am__scraper_stats(s, (size_t)i, &st[i]));
    AM_ASSERT_ERR(am__scraper_stats(s, N_T, &st[0]), AM_EINVAL);
    char *om = am_test_encode(served, AM_FORMAT_OPENMETRICS);
    size_t n_served = 0;
    AM_ASSERT_OK(am__expo_parse(om, strlen(om), AM_EXPO_OPENMETRICS, NULL, NULL, NULL, &n_served));
    am_free(om);
    if (!st[T_AGENT].is_up)
        fail_msg("agent down: %s", st[T_AGENT].last_error);
    AM_ASSERT_EQ(st[T_AGENT].last_samples, n_served);
    AM_ASSERT_EQ(st[T_AGENT].n_errors, 0);
    AM_ASSERT_STR_EQ(st[T_AGENT].last_error, "");
    assert_true(st[T_TOKEN].is_up);
    assert_false(st[T_NOTOKEN].is_up);
    AM_ASSERT_CONTAINS(st[T_NOTOKEN].last_error, "HTTP status 401");
    assert_false(st[T_DEAD].is_up);
    assert_true(st[T_DEAD].n_errors >= 2);
    assert_true(st[T_DEAD].last_error[0] != '\0');
    assert_false(st[T_GARBAGE].is_up);
    AM_ASSERT_CONTAINS(st[T_GARBAGE].last_error, "line 1:");
    assert_false(st[T_500].is_up);
    AM_ASSERT_CONTAINS(st[T_500].last_error, "HTTP status 500");
    assert_false(st[T_BIG].is_up);
    AM_ASSERT_CONTAINS(st[T_BIG].last_error, "larger than 65536 bytes");
    assert_false(st[T_SLOW].is_up);
    AM_ASSERT_CONTAINS(st[T_SLOW].last_error, "timed out after 300 ms");
    assert_true(st[T_CLASH].is_up);

    /* what reached the sink: every served sample, labelled, per scrape */
    char src[N_T][160], lab[N_T][128];
    for (int i = 0; i < N_T; i++) {
        snprintf(src[i], sizeof src[i], "scrape:%s", url[i]);
        snprintf(lab[i], sizeof lab[i], "{instance=\"%s\",job=\"%s\"}", inst[i],
                 i == T_NOTOKEN ? "agents-notoken" : "agents");
    }
    char want[256];
    snprintf(want, sizeof want, "{instance=\"%s\",job=\"agents\"}", inst[T_AGENT]);
    const got *g = find(&k, "messaging_nacks_total", want, src[T_AGENT]);
    assert_non_null(g);
    AM_ASSERT_STR_EQ(g->type, "counter");
    AM_ASSERT_DBL_EQ(g->value, 12);
    assert_true(g->ts > 1.6e9); /* the scrape's wall-clock time */
    snprintf(
        want, sizeof want,
        "{agent_id=\"say \\\"hi\\\"\\\\\\n\",error_type=\"\xc3\xa9\xe6\x97\xa5\",instance=\"%s\","
        "job=\"agents\"}",
        inst[T_AGENT]);
    g = find(&k, "agent_task_failure_total", want, src[T_AGENT]);
    assert_non_null(g);
    AM_ASSERT_DBL_EQ(g->value, 1);
    if (count_source(&k, src[T_AGENT]) < 2 * (n_served + 3))
        fail_msg("%zu samples from the agent, served %zu", count_source(&k, src[T_AGENT]),
                 n_served);
    assert_non_null(find(&k, "messaging_nacks_total", lab[T_TOKEN], src[T_TOKEN]));
    /* failed scrapes deliver their health only */
    for (int i = T_NOTOKEN; i <= T_SLOW; i++) {
        const got *up = find(&k, "up", lab[i], src[i]);
        assert_non_null(up);
        AM_ASSERT_DBL_EQ(up->value, 0);
        if (i != T_NOTOKEN) /* which shares its URL, so its source, with T_TOKEN */
            AM_ASSERT_EQ(count_source(&k, src[i]) % 3, 0);
        const got *n = find(&k, "scrape_samples_scraped", lab[i], src[i]);
        assert_non_null(n);
        AM_ASSERT_DBL_EQ(n->value, 0);
    }
    g = find(&k, "up", lab[T_AGENT], src[T_AGENT]);
    assert_non_null(g);
    AM_ASSERT_DBL_EQ(g->value, 1);
    g = find(&k, "scrape_samples_scraped", lab[T_AGENT], src[T_AGENT]);
    assert_non_null(g);
    AM_ASSERT_DBL_EQ(g->value, (double)n_served);
    /* honor_labels: false, empty values dropped, the sample's own timestamp */
    snprintf(want, sizeof want,
             "{exported_exported_job=\"j\",exported_instance=\"i\",exported_job=\"e\","
             "instance=\"%s\",job=\"agents\"}",
             inst[T_CLASH]);
    g = find(&k, "x", want, src[T_CLASH]);
    if (!g)
        fail_msg("no x%s; first clash sample: %s", want, k.n ? k.g[0].labels : "");
    AM_ASSERT_DBL_EQ(g->ts, 1.5);
    AM_ASSERT_STR_EQ(g->type, "gauge");
    /* the request: Prometheus' Accept, gzip, the timeout header, no token */
    pthread_mutex_lock(&g_hdr_lock);
    AM_ASSERT_STR_EQ(g_accept, "application/openmetrics-text;version=1.0.0,text/plain;"
                               "version=0.0.4;q=0.5,*/*;q=0.1");
    AM_ASSERT_CONTAINS(g_encoding, "gzip");
    AM_ASSERT_STR_EQ(g_timeout, "1");
    AM_ASSERT_STR_EQ(g_auth, "(none)");
    pthread_mutex_unlock(&g_hdr_lock);

    /* the collector's registry */
    char *text = am_test_encode(self, AM_FORMAT_PROMETHEUS);
    snprintf(want, sizeof want, "up{instance=\"%s\",job=\"agents\"} 1\n", inst[T_AGENT]);
    AM_ASSERT_CONTAINS(text, want);
    snprintf(want, sizeof want, "up{instance=\"%s\",job=\"agents\"} 0\n", inst[T_DEAD]);
    AM_ASSERT_CONTAINS(text, want);
    snprintf(want, sizeof want, "scrape_samples_scraped{instance=\"%s\",job=\"agents\"} %zu\n",
             inst[T_AGENT], n_served);
    AM_ASSERT_CONTAINS(text, want);
    snprintf(want, sizeof want, "scrape_duration_seconds{instance=\"%s\",job=\"agents\"} ",
             inst[T_AGENT]);
    AM_ASSERT_CONTAINS(text, want);
    static const struct {
        int t;
        const char *reason;
    } errs[] = {{T_DEAD, "connect"}, {T_GARBAGE, "parse"}, {T_500, "http"},
                {T_BIG, "limit"},    {T_SLOW, "timeout"},  {T_NOTOKEN, "http"}};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        snprintf(want, sizeof want,
                 "agentmon_scrape_errors_total{instance=\"%s\",job=\"%s\",reason=\"%s\"} ",
                 inst[errs[i].t], errs[i].t == T_NOTOKEN ? "agents-notoken" : "agents",
                 errs[i].reason);
        AM_ASSERT_CONTAINS(text, want);
    }
    snprintf(want, sizeof want, "agentmon_scrape_errors_total{instance=\"%s\"", inst[T_AGENT]);
    AM_ASSERT_LACKS(text, want);
    AM_ASSERT_CONTAINS(text, "agentmon_scrape_samples_total{job=\"agents\"} ");
    AM_ASSERT_CONTAINS(text, "agentmon_scrape_bytes_total{job=\"agents\"} ");
    am_free(text);

    am__scraper_free(s);
    sink_free(&k);
    am_registry_free(self);
    am_http_free(sleepy);
    am_http_free(odd);
    am_http_free(locked);
    am_http_free(agent);
    fixture_free(served);
    am_registry_free(servers);
}

static void repeats(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    static const char text[] = "# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"2\"} 2\nx{a=\"1\"} 9\n"
                               "# TYPE y gauge\ny 5\ny 6\n";
    am_http_resp_body(resp, "text/plain; version=0.0.4", text, sizeof text - 1);
}

/* A series' second sample in one scrape is dropped, as Prometheus drops
   it (the first stays), and counted; the target stays up. JOB=URL names a
   target's job. */
static void test_repeats_and_specs(void **state)
{
    (void)state;
    am_http_opts go = AM_HTTP_OPTS_INIT;
    go.port = 0;
    go.no_builtin_routes = true;
    am_http *h;
    AM_ASSERT_OK(am_http_new(&go, &h));
    AM_ASSERT_OK(am_http_route(h, AM_HTTP_GET, "/r", repeats, NULL, NULL));
    AM_ASSERT_OK(am_http_listen(h));
    char url[128];
    snprintf(url, sizeof url, "rep=http://127.0.0.1:%u/r", am_http_port(h));
    am_registry *self;
    AM_ASSERT_OK(am_registry_new(&self));
    sink k = {0};
    am_scrape_opts o = AM_SCRAPE_OPTS_INIT;
    o.registry = self;
    o.sink = on_sample;
    o.sink_ud = &k;
    am_scraper *s;
    AM_ASSERT_OK(am__scraper_new(&o, &s));
    am_scrape_target t = AM_SCRAPE_TARGET_INIT;
    char spec[256];
    AM_ASSERT_OK(am__scrape_spec(url, spec, sizeof spec, &t));
    AM_ASSERT_STR_EQ(t.job, "rep");
    t.interval_ms = t.timeout_ms = 1000;
    AM_ASSERT_OK(am__scraper_add(s, &t));
    AM_ASSERT_OK(am__scraper_start(s));
    wait_scrapes(s, 1);
    am__scraper_stop(s);
    am_scrape_stats st;
    AM_ASSERT_OK(am__scraper_stats(s, 0, &st));
    assert_true(st.is_up);
    char src[160], inst[64], want[160];
    snprintf(src, sizeof src, "scrape:%s", url + 4);
    snprintf(inst, sizeof inst, "127.0.0.1:%u", am_http_port(h));
    snprintf(want, sizeof want, "{a=\"1\",instance=\"%s\",job=\"rep\"}", inst);
    const got *g = find(&k, "x", want, src);
    assert_non_null(g);
    AM_ASSERT_DBL_EQ(g->value, 1); /* the first, not the repeat */
    snprintf(want, sizeof want, "{instance=\"%s\",job=\"rep\"}", inst);
    g = find(&k, "y", want, src);
    assert_non_null(g);
    AM_ASSERT_DBL_EQ(g->value, 5);
    char *text = am_test_encode(self, AM_FORMAT_PROMETHEUS);
    snprintf(want, sizeof want,
             "agentmon_scrape_errors_total{instance=\"%s\",job=\"rep\",reason=\"duplicate\"} ",
             inst);
    AM_ASSERT_CONTAINS(text, want);
    am_free(text);
    am__scraper_free(s);
    sink_free(&k);
    am_registry_free(self);
    am_http_free(h);

    /* specs */
    static const struct {
        const char *spec, *job, *url, *says;
    } specs[] = {
        {"http://h:1/m", NULL, "http://h:1/m", NULL},
        {"node=http://h:1/m", "node", "http://h:1/m", NULL},
        {"http://h:1/m?a=b", NULL, "http://h:1/m?a=b", NULL}, /* '=' after the scheme */
        {"=http://h:1/m", NULL, NULL, "the job before '=' is empty"},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        am_scrape_target st2 = AM_SCRAPE_TARGET_INIT;
        am_err rc = am__scrape_spec(specs[i].spec, spec, sizeof spec, &st2);
        if (specs[i].says) {
            AM_ASSERT_ERR(rc, AM_EINVAL);
            AM_ASSERT_CONTAINS(am_errmsg(), specs[i].says);
            continue;
        }
        AM_ASSERT_OK(rc);
        AM_ASSERT_STR_EQ(st2.url, specs[i].url);
        if (specs[i].job)
            AM_ASSERT_STR_EQ(st2.job, specs[i].job);
        else
            assert_null(st2.job);
    }
    char tiny[8];
    am_scrape_target st3 = AM_SCRAPE_TARGET_INIT;
    AM_ASSERT_ERR(am__scrape_spec("http://h:1/m", tiny, sizeof tiny, &st3), AM_EINVAL);
}

static void test_bad_targets(void **state)
{
    (void)state;
    am_scrape_opts o = AM_SCRAPE_OPTS_INIT;
    am_scraper *s;
    AM_ASSERT_OK(am__scraper_new(&o, &s));
    static const struct {
        const char *url, *job, *token;
        unsigned interval_ms, timeout_ms;
        am_err code;
        const char *says;
    } bad[] = {
        {NULL, NULL, NULL, 0, 0, AM_EINVAL, "NULL"},
        {"", NULL, NULL, 0, 0, AM_EINVAL, "not a URL"},
        {"not a url", NULL, NULL, 0, 0, AM_EINVAL, "not a URL"},
        {"ftp://127.0.0.1/metrics", NULL, NULL, 0, 0, AM_EINVAL, "http or https"},
        {"file:///etc/passwd", NULL, NULL, 0, 0, AM_EINVAL, "http or https"},
        {"http://127.0.0.1:9/m", "", NULL, 0, 0, AM_EINVAL, "job name"},
        {"http://127.0.0.1:9/m", "\xff", NULL, 0, 0, AM_EINVAL, "job name"},
        {"http://127.0.0.1:9/m", NULL, NULL, 1000, 2000, AM_EINVAL, "longer than the interval"},
        {"http://127.0.0.1:9/m", NULL, NULL, 0, 20000, AM_EINVAL, "longer than the interval"},
        {"http://127.0.0.1:9/m", NULL, "a\r\nX-Evil: 1", 0, 0, AM_EINVAL, "line break"},
        {"http://127.0.0.1:9/m", "dup", NULL, 0, 0, AM_EEXIST, "already"},
    };
    am_scrape_target first = AM_SCRAPE_TARGET_INIT;
    first.url = "http://127.0.0.1:9/m";
    first.job = "dup";
    AM_ASSERT_OK(am__scraper_add(s, &first));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        am_scrape_target t = AM_SCRAPE_TARGET_INIT;
        t.url = bad[i].url;
        t.job = bad[i].job;
        t.bearer_token = bad[i].token;
        if (bad[i].interval_ms)
            t.interval_ms = bad[i].interval_ms;
        if (bad[i].timeout_ms)
            t.timeout_ms = bad[i].timeout_ms;
        am_err rc = am__scraper_add(s, &t);
        if (rc != bad[i].code)
            fail_msg("bad[%zu] gave %s (%s)", i, am_err_name(rc), am_errmsg());
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].says);
    }
    AM_ASSERT_EQ(am__scraper_n_targets(s), 1);
    /* the same URL under another job is another target; defaults apply */
    first.job = "other";
    AM_ASSERT_OK(am__scraper_add(s, &first));
    AM_ASSERT_EQ(am__scraper_n_targets(s), 2);
    /* an unset timeout shrinks to a short interval instead of failing */
    first.job = "short";
    first.interval_ms = 500;
    first.timeout_ms = 0;
    AM_ASSERT_OK(am__scraper_add(s, &first));
    am__scraper_free(s); /* never started */
    am__scraper_free(NULL);
    AM_ASSERT_ERR(am__scraper_new(NULL, &s), AM_EINVAL);
    /* health families clash with a registry's own */
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts mo = {0};
    mo.name = "up";
    mo.help = "not a gauge";
    am_counter *c;
    AM_ASSERT_OK(am_counter_new(r, &mo, &c));
    o.registry = r;
    AM_ASSERT_ERR(am__scraper_new(&o, &s), AM_EEXIST);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape),
        cmocka_unit_test(test_repeats_and_specs),
        cmocka_unit_test(test_bad_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
