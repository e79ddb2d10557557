/*
** test_server.c: the HTTP server over real sockets on 127.0.0.1, with
** libcurl as the client -- the built-in routes, negotiation and gzip, HEAD,
** 404/405, custom routes with parameters, query and body, limits (413,
** 431), auth (bearer, basic, lists of credentials, empty secrets refused),
** TLS, bind errors, the server's own metrics, and a slow client that must
** not stall a scrape.
**
** Issue 10's attacks, over raw sockets (what an attacker sends, not what
** curl would): request framing (two Content-Length values, unsupported
** Transfer-Encoding), a header drip and a body drip cut off by their
** deadlines, the per-address connection limit (the attacker on 127.0.0.2,
** the legitimate client on 127.0.0.1), a handler that blocks while
** /health must still answer, stopping with handlers running, and
** RLIMIT_NOFILE. None is timed: each waits for an event (an answer, a
** closed socket) with a generous limit only to keep a failure from
** hanging the run.
*/
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "http_client.h"
#include "http/server.h"

#define TLS_DIR AM_GOLDEN_DIR "/../tls"

static char g_url[128];

static const char *url(const char *path)
{
    static __thread char u[512];
    snprintf(u, sizeof u, "%s%s", g_url, path);
    return u;
}

typedef struct fixture {
    am_registry *r;
    am_http *h;
    am_counter *c;
} fixture;

static void echo(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)ud;
    char out[2048];
    size_t blen;
    const char *body = am_http_req_body(req, &blen);
    const char *m[4];
    size_t nm = am_http_req_query_all(req, "match[]", m, 4);
    snprintf(out, sizeof out, "method=%s path=%s type=%s q=%s n=%zu m0=%s m1=%s nq=%zu body=%s",
             am_http_req_method(req), am_http_req_path(req),
             am_http_req_param(req, "type") ? am_http_req_param(req, "type") : "-",
             am_http_req_query(req, "q") ? am_http_req_query(req, "q") : "-", nm,
             nm > 0 ? m[0] : "-", nm > 1 ? m[1] : "-", am_http_req_query_count(req),
             body ? body : "-");
    am_http_resp_status(resp, 201);
    AM_ASSERT_OK(am_http_resp_header(resp, "X-Echo", "yes"));
    AM_ASSERT_ERR(am_http_resp_header(resp, "X-Bad", "a\r\nInjected: 1"), AM_EINVAL);
    AM_ASSERT_OK(am_http_resp_body(resp, "text/plain", out, strlen(out)));
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    AM_ASSERT_OK(am_registry_new(&f->r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "jobs_total";
    o.help = "Jobs.";
    AM_ASSERT_OK(am_counter_new(f->r, &o, &f->c));
    am_counter_add(f->c, 7);
    /* Enough series that /metrics is worth compressing. */
    const char *l[] = {"agent"};
    o.name = "per_agent";
    o.label_names = l;
    o.n_labels = 1;
    am_gauge *g, *gc;
    AM_ASSERT_OK(am_gauge_new(f->r, &o, &g));
    for (int i = 0; i < 200; i++) {
        char v[32];
        snprintf(v, sizeof v, "agent-%d", i);
        AM_ASSERT_OK(am_gauge_with(g, AM_LABELS(v), &gc));
        am_gauge_set(gc, i);
    }
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.port = 0;
    ho.registries = &f->r;
    ho.n_registries = 1;
    ho.max_body_bytes = 1000;
    ho.max_header_bytes = 4096;
    ho.idle_timeout_s = 2;
    AM_ASSERT_OK(am_http_new(&ho, &f->h));
    AM_ASSERT_OK(am_http_route(f->h, AM_HTTP_GET | AM_HTTP_POST, "/api/v1/metrics/{type}", echo,
                               NULL, NULL));
    AM_ASSERT_OK(am_http_route(f->h, AM_HTTP_DELETE, "/files/*", echo, NULL, NULL));
    am_http_auth bearer = {"s3cret", NULL, NULL}, basic = {NULL, "admin", "pa:ss"};
    AM_ASSERT_OK(am_http_route(f->h, AM_HTTP_GET, "/private/bearer", echo, NULL, &bearer));
    AM_ASSERT_OK(am_http_route(f->h, AM_HTTP_GET, "/private/basic", echo, NULL, &basic));
    AM_ASSERT_OK(am_http_listen(f->h));
    assert_true(am_http_port(f->h) > 0);
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%u", am_http_port(f->h));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    am_http_free(f->h);
    am_registry_free(f->r);
    free(f);
    return 0;
}

static void test_metrics_formats(void **state)
{
    (void)state;
    reply r = fetch(url("/metrics"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.headers, "Content-Type: text/plain; version=0.0.4; charset=utf-8");
    AM_ASSERT_CONTAINS(r.body, "jobs_total 7\n");
    AM_ASSERT_LACKS(r.headers, "Content-Encoding");
    reply_free(&r);

    const char *prom_accept[] = {
        "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        NULL};
    r = fetch(url("/metrics"), "GET", prom_accept, NULL, 0, NULL);
    AM_ASSERT_CONTAINS(r.headers, "Content-Type: application/openmetrics-text; version=1.0.0");
    AM_ASSERT_CONTAINS(r.body, "jobs_total 7\n");
    AM_ASSERT_CONTAINS(r.body, "# EOF\n");
    reply_free(&r);

    const char *prefers_text[] = {"Accept: application/openmetrics-text;q=0.3, text/plain", NULL};
    r = fetch(url("/metrics"), "GET", prefers_text, NULL, 0, NULL);
    AM_ASSERT_CONTAINS(r.headers, "Content-Type: text/plain");
    reply_free(&r);

    /* gzip, decoded by curl: the same text comes out. */
    r = fetch(url("/metrics"), "GET", NULL, NULL, 1, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.headers, "Content-Encoding: gzip");
    AM_ASSERT_CONTAINS(r.headers, "Vary: Accept-Encoding");
    AM_ASSERT_CONTAINS(r.body, "per_agent{agent=\"agent-199\"} 199\n");
    reply_free(&r);
    const char *nogzip[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
    r = fetch(url("/metrics"), "GET", nogzip, NULL, 0, NULL);
    AM_ASSERT_LACKS(r.headers, "Content-Encoding");
    reply_free(&r);

    /* HEAD: the headers of GET, no body. */
    r = fetch(url("/metrics"), "HEAD", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.headers, "Content-Type: text/plain");
    AM_ASSERT_EQ(r.len, 0);
    reply_free(&r);
}

static void test_health_snapshot(void **state)
{
    (void)state;
    reply r = fetch(url("/health"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.headers, "Content-Type: application/json");
    AM_ASSERT_CONTAINS(r.body, "\"status\":\"ok\",\"version\":\"" AM_VERSION_STRING "\"");
    AM_ASSERT_CONTAINS(r.body, "\"uptime_seconds\":");
    reply_free(&r);
    r = fetch(url("/snapshot"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_CONTAINS(r.body, "\"jobs_total\":{\"name\":\"jobs_total\",\"type\":\"counter\"");
    reply_free(&r);
}

static void test_errors(void **state)
{
    (void)state;
    reply r = fetch(url("/nope"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 404);
    AM_ASSERT_CONTAINS(r.headers, "Content-Type: application/json");
    AM_ASSERT_STR_EQ(r.body, "{\"status\":\"error\",\"errorType\":\"not_found\",\"error\":\"no "
                             "route for GET /nope\"}\n");
    reply_free(&r);
    r = fetch(url("/metrics"), "POST", NULL, "x", 0, NULL);
    AM_ASSERT_EQ(r.status, 405);
    AM_ASSERT_CONTAINS(r.headers, "Allow: GET, HEAD");
    AM_ASSERT_CONTAINS(r.body, "\"errorType\":\"method_not_allowed\"");
    reply_free(&r);
    r = fetch(url("/metrics"), "PATCH", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 405);
    reply_free(&r);
    r = fetch(url("/metrics?a=%zz"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 400);
    AM_ASSERT_CONTAINS(r.body, "bad %-escape");
    reply_free(&r);
    r = fetch(url("/metrics/"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 404);
    reply_free(&r);
}

static void test_custom_routes(void **state)
{
    (void)state;
    reply r = fetch(url("/api/v1/metrics/llm%20calls?q=a+b%21&match[]=x&match[]=y%3D1&flag"),
                    "POST", NULL, "{\"k\":1}", 0, NULL);
    AM_ASSERT_EQ(r.status, 201);
    AM_ASSERT_CONTAINS(r.headers, "X-Echo: yes");
    AM_ASSERT_LACKS(r.headers, "Injected");
    AM_ASSERT_STR_EQ(r.body, "method=POST path=/api/v1/metrics/llm%20calls type=llm calls q=a b! "
                             "n=2 m0=x m1=y=1 nq=4 body={\"k\":1}");
    reply_free(&r);
    r = fetch(url("/api/v1/metrics/"), "GET", NULL, NULL, 0, NULL); /* empty {type} */
    AM_ASSERT_EQ(r.status, 404);
    reply_free(&r);
    r = fetch(url("/api/v1/metrics/a/b"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 404);
    reply_free(&r);
    r = fetch(url("/files/a/b/c"), "DELETE", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 201);
    AM_ASSERT_CONTAINS(r.body, "path=/files/a/b/c");
    reply_free(&r);
    r = fetch(url("/files/a"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 405);
    AM_ASSERT_CONTAINS(r.headers, "Allow: DELETE");
    reply_free(&r);
}

static void test_limits(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    reply r = fetch(url("/api/v1/metrics/x"), "POST", NULL, big, 0, NULL);
    AM_ASSERT_EQ(r.status, 413);
    AM_ASSERT_CONTAINS(r.body, "larger than 1000 bytes");
    reply_free(&r);
    /* Chunked (no Content-Length): cut off while reading. */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    r = fetch(url("/api/v1/metrics/x"), "POST", chunked, big, 0, NULL);
    AM_ASSERT_EQ(r.status, 413);
    reply_free(&r);
    char hdr[6000];
    snprintf(hdr, sizeof hdr, "X-Big: %05000d", 1);
    const char *bigh[] = {hdr, NULL};
    r = fetch(url("/metrics"), "GET", bigh, NULL, 0, NULL);
    assert_true(r.status == 431 || r.status == 413);
    reply_free(&r);
    /* The server is still fine. */
    r = fetch(url("/health"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
}

static void test_auth(void **state)
{
    (void)state;
    reply r = fetch(url("/private/bearer"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 401);
    AM_ASSERT_CONTAINS(r.headers, "WWW-Authenticate: Bearer");
    AM_ASSERT_CONTAINS(r.body, "\"errorType\":\"unauthorized\"");
    reply_free(&r);
    const char *wrong[] = {"Authorization: Bearer s3cre", NULL};
    r = fetch(url("/private/bearer"), "GET", wrong, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 401);
    reply_free(&r);
    const char *right[] = {"Authorization: Bearer s3cret", NULL};
    r = fetch(url("/private/bearer"), "GET", right, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 201);
    reply_free(&r);

    r = fetch(url("/private/basic"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 401);
    AM_ASSERT_CONTAINS(r.headers, "WWW-Authenticate: Basic");
    reply_free(&r);
    const char *basic_ok[] = {"Authorization: Basic YWRtaW46cGE6c3M=", NULL}; /* admin:pa:ss */
    r = fetch(url("/private/basic"), "GET", basic_ok, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 201);
    reply_free(&r);
    const char *basic_bad[] = {"Authorization: Basic YWRtaW46cGFzcw==", NULL}; /* admin:pass */
    r = fetch(url("/private/basic"), "GET", basic_bad, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 401);
    reply_free(&r);
    const char *garbage[] = {"Authorization: Basic !!!", NULL};
    r = fetch(url("/private/basic"), "GET", garbage, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 401);
    reply_free(&r);
}

static void test_self_metrics(void **state)
{
    (void)state;
    reply r = fetch(url("/nope"), "GET", NULL, NULL, 0, NULL);
    reply_free(&r);
    r = fetch(url("/health"), "GET", NULL, NULL, 0, NULL);
    reply_free(&r);
    r = fetch(url("/metrics"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_CONTAINS(r.body, "agentmon_http_requests_total{route=\"/health\",code=\"200\"} 1\n");
    AM_ASSERT_CONTAINS(r.body,
                       "agentmon_http_requests_total{route=\"unmatched\",code=\"404\"} 1\n");
    AM_ASSERT_CONTAINS(r.body,
                       "agentmon_http_request_duration_seconds_count{route=\"/health\"} 1\n");
    reply_free(&r);
}

/* A client that sends half a request and waits must not stall others. */
static void test_slow_client(void **state)
{
    fixture *f = *state;
    int slow[8];
    for (int i = 0; i < 8; i++) {
        slow[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons(am_http_port(f->h));
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        assert_int_equal(connect(slow[i], (struct sockaddr *)&a, sizeof a), 0);
        const char *half = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        assert_true(write(slow[i], half, strlen(half)) > 0);
    }
    am_timer t = am_timer_start();
    for (int k = 0; k < 20; k++) {
        reply r = fetch(url("/metrics"), "GET", NULL, NULL, 0, NULL);
        AM_ASSERT_EQ(r.status, 200);
        reply_free(&r);
    }
    /* Not a timing test: 20 scrapes take milliseconds; a stall would take
       the idle timeout (2 s) or curl's (10 s). */
    assert_true(am_timer_seconds(&t) < 1.5);
    for (int i = 0; i < 8; i++)
        close(slow[i]);
}

static void *scraper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 30; i++) {
        reply r = fetch(url("/metrics"), "GET", NULL, NULL, i % 2, NULL);
        if (r.status != 200 || !strstr(r.body, "jobs_total"))
            fail_msg("concurrent scrape %d got %ld", i, r.status);
        reply_free(&r);
    }
    return NULL;
}

static void test_concurrent_scrapes(void **state)
{
    fixture *f = *state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, scraper, NULL);
    for (int i = 0; i < 100000; i++)
        am_counter_inc(f->c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    AM_ASSERT_DBL_EQ(am_counter_value(f->c), 100007);
}

static void test_tls_and_builtin_auth(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.port = 0;
    o.registries = &r;
    o.n_registries = 1;
    o.tls_cert_file = TLS_DIR "/cert.pem";
    o.tls_key_file = TLS_DIR "/key.pem";
    o.builtin_auth.bearer_token = "tok";
    am_http *h;
    AM_ASSERT_OK(am_http_start(&o, &h));
    char u[128];
    snprintf(u, sizeof u, "https://127.0.0.1:%u/health", am_http_port(h));
    const char *tok[] = {"Authorization: Bearer tok", NULL};
    reply rp = fetch(u, "GET", tok, NULL, 0, TLS_DIR "/cert.pem");
    AM_ASSERT_EQ(rp.status, 200);
    AM_ASSERT_CONTAINS(rp.body, "\"status\":\"ok\"");
    reply_free(&rp);
    rp = fetch(u, "GET", NULL, NULL, 0, TLS_DIR "/cert.pem");
    AM_ASSERT_EQ(rp.status, 401);
    reply_free(&rp);
    /* Plain HTTP to the TLS port fails. */
    snprintf(u, sizeof u, "http://127.0.0.1:%u/health", am_http_port(h));
    rp = fetch(u, "GET", tok, NULL, 0, NULL);
    assert_true(rp.status != 200);
    reply_free(&rp);
    am_http_free(h);
    am_registry_free(r);
}

static void test_bad_options(void **state)
{
    fixture *f = *state;
    am_http *h;
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.port = am_http_port(f->h); /* taken */
    AM_ASSERT_ERR(am_http_start(&o, &h), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "Address already in use");
    o.port = 0;
    o.host = "no-such-host.invalid";
    AM_ASSERT_ERR(am_http_start(&o, &h), AM_EINVAL);
    o.host = NULL;
    o.tls_cert_file = "/nonexistent/cert.pem";
    AM_ASSERT_ERR(am_http_new(&o, &h), AM_EINVAL); /* key missing */
    o.tls_key_file = "/nonexistent/key.pem";
    AM_ASSERT_ERR(am_http_new(&o, &h), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "/nonexistent/cert.pem");
    o.tls_cert_file = o.tls_key_file = NULL;
    o.gzip_level = 12;
    AM_ASSERT_ERR(am_http_new(&o, &h), AM_EINVAL);
    AM_ASSERT_ERR(am_http_new(NULL, &h), AM_EINVAL);
    AM_ASSERT_ERR(am_http_listen(f->h), AM_EMISUSE);
    AM_ASSERT_ERR(am_http_route(f->h, AM_HTTP_GET, "no-slash", echo, NULL, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_http_route(f->h, 0, "/x", echo, NULL, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_http_route(f->h, AM_HTTP_GET, "/x", NULL, NULL, NULL), AM_EINVAL);
    am_http_auth half = {NULL, "user", NULL};
    AM_ASSERT_ERR(am_http_route(f->h, AM_HTTP_GET, "/x", echo, NULL, &half), AM_EINVAL);
    /* A server made but never started frees cleanly; stop is idempotent. */
    o.gzip_level = 0;
    AM_ASSERT_OK(am_http_new(&o, &h));
    am_http_stop(h);
    am_http_stop(h);
    am_http_free(h);
    am_http_free(NULL);
    am_shutdown(); /* the default registry it registered into */
}

/* ---- raw sockets ----------------------------------------------------- */

#define WAIT_MS 8000 /* only so that a failure cannot hang the run */

static int raw_connect(uint16_t port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    if (src) {
        inet_pton(AF_INET, src, &a.sin_addr);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    }
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void raw_send(int fd, const char *data, size_t len)
{
    assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Read until the server closes or an answer's headers are in: the status
   (0: closed without an answer; -1: nothing within WAIT_MS). */
static int raw_status(int fd, char *out, size_t cap)
{
    size_t got = 0;
    out[0] = '\0';
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, WAIT_MS) != 1)
            return -1;
        ssize_t r = recv(fd, out + got, cap - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        out[got] = '\0';
        if (strstr(out, "\r\n\r\n") || got == cap - 1)
            break;
    }
    return strncmp(out, "HTTP/1.", 7) == 0 ? (int)strtol(out + 9, NULL, 10) : 0;
}

/* Whether the server closes fd (EOF or reset) within WAIT_MS, reading and
   dropping whatever it sends first. */
static bool raw_closed(int fd)
{
    char buf[4096];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, WAIT_MS) != 1)
            return false;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            return true;
    }
}

static int raw_request(uint16_t port, const char *req, size_t len, char *out, size_t cap)
{
    int fd = raw_connect(port, NULL);
    raw_send(fd, req, len);
    int st = raw_status(fd, out, cap);
    close(fd);
    return st;
}

static double metric(am_registry *r, const char *line_prefix)
{
    char *text;
    size_t len;
    AM_ASSERT_OK(am_encode(&r, 1, AM_FORMAT_PROMETHEUS, &text, &len));
    char want[256];
    snprintf(want, sizeof want, "\n%s", line_prefix); /* a sample, not its HELP */
    const char *p = strstr(text, want);
    double v = p ? strtod(p + strlen(want), NULL) : -1;
    am_free(text);
    return v;
}

/* Issue 10 item 10: framing that libmicrohttpd 0.9.75 accepted or hung on. */
static void test_framing(void **state)
{
    fixture *f = *state;
    uint16_t port = am_http_port(f->h);
    static const struct {
        const char *req;
        int want;
    } cases[] = {
        /* two different lengths: it used to take the first (smuggling) */
        {"POST /api/v1/metrics/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
         "Content-Length: 7\r\n\r\n{}",
         400},
        {"POST /api/v1/metrics/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
         "Content-Length: 2\r\n\r\n{}",
         201},
        /* codings we cannot decode: it used to wait for the connection to close */
        {"POST /api/v1/metrics/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nxx", 501},
        {"POST /api/v1/metrics/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         "2\r\n{}\r\n0\r\n\r\n",
         501},
        {"POST /api/v1/metrics/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n"
         "\r\n2\r\n{}\r\n0\r\n\r\n",
         400},
        {"POST /api/v1/metrics/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
         "Content-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
         400},
        {"POST /api/v1/metrics/x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
         "2\r\n{}\r\n0\r\n\r\n",
         400},
        {"POST /api/v1/metrics/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
         "2\r\n{}\r\n0\r\n\r\n",
         201},
        /* refused before the body: an unknown path, a wrong method */
        {"POST /nope HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\n", 404},
        {"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 900\r\n\r\n", 405},
    };
    char out[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = raw_request(port, cases[i].req, strlen(cases[i].req), out, sizeof out);
        if (st != cases[i].want)
            fail_msg("case %zu: status %d, expected %d: %.200s", i, st, cases[i].want, out);
    }
    /* A chunk extension longer than the connection's memory: libmicrohttpd
       0.9.75 answers it itself, before any callback of ours, with 500 and
       closes (not a 4xx: see docs/SECURITY.md). At least it is at once, and
       the server carries on. */
    static char big[40000];
    int n = snprintf(big, sizeof big,
                     "POST /api/v1/metrics/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                     "\r\n\r\n2;e=");
    memset(big + n, 'e', sizeof big - (size_t)n - 1);
    int st = raw_request(port, big, sizeof big - 1, out, sizeof out);
    assert_true(st >= 400);
    reply r = fetch(url("/health"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
}

typedef struct slow_ctx {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int n_entered;
    bool is_released;
} slow_ctx;

static void slow_handler(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    slow_ctx *c = ud;
    pthread_mutex_lock(&c->lock);
    c->n_entered++;
    pthread_cond_broadcast(&c->cv);
    while (!c->is_released)
        pthread_cond_wait(&c->cv, &c->lock);
    pthread_mutex_unlock(&c->lock);
    am_http_resp_body(resp, "text/plain", "slow", 4);
}

static void wait_entered(slow_ctx *c, int n)
{
    pthread_mutex_lock(&c->lock);
    while (c->n_entered < n)
        pthread_cond_wait(&c->cv, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

static void release(slow_ctx *c)
{
    pthread_mutex_lock(&c->lock);
    c->is_released = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->lock);
}

static am_http *start_small(am_registry *reg, slow_ctx *c)
{
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.port = 0;
    o.registries = &reg;
    o.n_registries = 1;
    o.threads = 1;    /* one handler thread ... */
    o.io_threads = 1; /* ... and one event loop: the worst case */
    am_http *h;
    AM_ASSERT_OK(am_http_new(&o, &h));
    AM_ASSERT_OK(am_http_route(h, AM_HTTP_GET, "/slow", slow_handler, c, NULL));
    AM_ASSERT_OK(am_http_listen(h));
    return h;
}

/* A server with one handler thread, g1 in /slow's handler holding it, and
   g2 asking /slow too (it queues). */
static am_http *start_two_slow(slow_ctx *c, am_registry **reg, fetcher *g1, fetcher *g2)
{
    AM_ASSERT_OK(am_registry_new(reg));
    am_http *h = start_small(*reg, c);
    fetch_start(g1, am_http_port(h), "GET", "/slow", NULL);
    wait_entered(c, 1);
    fetch_start(g2, am_http_port(h), "GET", "/slow", NULL);
    return h;
}

/* A handler that blocks (serve's ingest waits for its commit) used to stop
   every other connection of its libmicrohttpd thread: /health included. */
static void test_slow_handler(void **state)
{
    (void)state;
    slow_ctx c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false};
    am_registry *reg;
    fetcher g1 = {0}, g2 = {0};
    am_http *h = start_two_slow(&c, &reg, &g1, &g2);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/health", am_http_port(h));
    for (int i = 0; i < 5; i++) {
        reply r = fetch(u, "GET", NULL, NULL, 0, NULL);
        AM_ASSERT_EQ(r.status, 200);
        reply_free(&r);
    }
    snprintf(u, sizeof u, "http://127.0.0.1:%u/metrics", am_http_port(h));
    reply r = fetch(u, "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    pthread_mutex_lock(&c.lock);
    AM_ASSERT_EQ(c.n_entered, 1); /* the first still holds the one thread */
    pthread_mutex_unlock(&c.lock);
    release(&c);
    pthread_join(g1.t, NULL);
    pthread_join(g2.t, NULL);
    AM_ASSERT_EQ(g1.status, 200);
    AM_ASSERT_STR_EQ(g1.body, "slow");
    AM_ASSERT_EQ(g2.status, 200);
    am_http_free(h);
    am_registry_free(reg);
}

static void *stop_thread(void *arg)
{
    am_http_stop(arg);
    return NULL;
}

/* Stopping waits for the handler that runs, answers the queued one 503,
   and never stops libmicrohttpd with a suspended connection. */
static void test_stop_with_handlers(void **state)
{
    (void)state;
    slow_ctx c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false};
    am_registry *reg;
    fetcher g1 = {0}, g2 = {0};
    am_http *h = start_two_slow(&c, &reg, &g1, &g2);
    /* g2 is queued once the server counts two parked requests */
    for (;;) {
        pthread_mutex_lock(&h->pool.lock);
        size_t n = h->pool.n_parked;
        pthread_mutex_unlock(&h->pool.lock);
        if (n == 2)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_t st;
    pthread_create(&st, NULL, stop_thread, h);
    for (;;) { /* the stop has begun */
        pthread_mutex_lock(&h->pool.lock);
        bool stopping = h->pool.is_stopping;
        pthread_mutex_unlock(&h->pool.lock);
        if (stopping)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    release(&c);
    pthread_join(st, NULL);
    pthread_join(g1.t, NULL);
    pthread_join(g2.t, NULL);
    AM_ASSERT_EQ(g1.status, 200);
    AM_ASSERT_EQ(g2.status, 503);
    AM_ASSERT_CONTAINS(g2.body, "stopping");
    am_http_free(h);
    am_registry_free(reg);
}

/* Two clients that keep connecting while the server starts and stops over
   and over. libmicrohttpd 0.9.75 aborted the process in about one stop in
   two thousand when MHD_quiesce_daemon() raced its epoll threads ("Failed
   to remove listen FD from epoll set"); CI hit it in test_web. Each answer
   is 200 or the drain's 503, or the connection closes or is refused; after
   a stop the port refuses connections (its socket is closed, not left to
   fill a backlog). */
typedef struct busy_client {
    pthread_t t[2];
    atomic_uint port;
    atomic_bool done;
    atomic_ulong connected;
    atomic_int bad_status;
    atomic_int bad_errno;
} busy_client;

/* A connection to 127.0.0.1:port: its fd, or -1 with errno (refused,
   reset) -- raw_connect for when the server may be gone. */
static int try_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* no assert: clients' threads call it */
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static void *busy_client_run(void *arg)
{
    busy_client *b = arg;
    static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    while (!atomic_load(&b->done)) {
        unsigned port = atomic_load(&b->port);
        if (!port)
            continue;
        int fd = try_connect((uint16_t)port);
        if (fd >= 0) {
            atomic_fetch_add(&b->connected, 1);
            char out[1024];
            int st = send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)sizeof req - 1
                         ? raw_status(fd, out, sizeof out)
                         : 0;
            if (st != 200 && st != 503 && st != 0)
                b->bad_status = st;
            close(fd);
        } else if (errno != ECONNREFUSED && errno != ECONNRESET) { /* closed meanwhile */
            b->bad_errno = errno;
        }
    }
    return NULL;
}

/* 2000 stops caught the abort in 4 of 6 runs; the sanitizer builds, many
   times slower, run the same code over fewer. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BUSY_STOPS 200
#else
#define BUSY_STOPS 2000
#endif

static void test_stop_while_busy(void **state)
{
    (void)state;
    busy_client b = {0};
    for (int i = 0; i < 2; i++)
        pthread_create(&b.t[i], NULL, busy_client_run, &b);
    for (int i = 0; i < BUSY_STOPS; i++) {
        am_http_opts o = AM_HTTP_OPTS_INIT;
        o.port = 0;
        am_http *h;
        AM_ASSERT_OK(am_http_start(&o, &h));
        uint16_t port = am_http_port(h);
        unsigned long before = atomic_load(&b.connected);
        atomic_store(&b.port, port);
        /* stop while the clients are at it: once one has connected */
        for (int spin = 0; atomic_load(&b.connected) == before && spin < 100000; spin++)
            sched_yield();
        am_http_free(h);
        atomic_store(&b.port, 0);
        assert_int_equal(try_connect(port), -1);
        assert_int_equal(errno, ECONNREFUSED);
    }
    atomic_store(&b.done, true);
    for (int i = 0; i < 2; i++)
        pthread_join(b.t[i], NULL);
    AM_ASSERT_EQ(b.bad_status, 0);
    AM_ASSERT_EQ(b.bad_errno, 0);
}

static am_http *start_guarded(am_registry *reg, unsigned per_ip, unsigned deadline_s)
{
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.port = 0;
    o.registries = &reg;
    o.n_registries = 1;
    o.header_timeout_s = deadline_s;
    o.body_grace_s = deadline_s;
    o.body_min_bytes_per_s = 100;
    o.max_connections_per_ip = per_ip;
    am_http *h;
    AM_ASSERT_OK(am_http_new(&o, &h));
    AM_ASSERT_OK(am_http_route(h, AM_HTTP_POST, "/in", echo, NULL, NULL));
    AM_ASSERT_OK(am_http_listen(h));
    return h;
}

static void drip_until_closed(int fd, const char *piece)
{
    for (int i = 0; i < 100; i++) { /* 100 x 100 ms, far past any deadline */
        if (send(fd, piece, strlen(piece), MSG_NOSIGNAL) < 0)
            return;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) == 1) {
            char b[256];
            if (recv(fd, b, sizeof b, 0) <= 0)
                return;
        }
    }
    fail_msg("the server kept a dripping connection open for 10 s");
}

/* Issue 10 item 2: a header drip and a body drip are cut off. */
static void test_deadlines(void **state)
{
    (void)state;
    am_registry *reg;
    AM_ASSERT_OK(am_registry_new(&reg));
    am_http *h = start_guarded(reg, 0, 1);
    uint16_t port = am_http_port(h);
    int fd = raw_connect(port, NULL);
    raw_send(fd, "GET /health HTTP/1.1\r\nHost: a\r\n", 31);
    drip_until_closed(fd, "X: y\r\n");
    close(fd);
    fd = raw_connect(port, NULL);
    raw_send(fd, "POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n", 55);
    drip_until_closed(fd, " ");
    close(fd);
    /* a connection that only opens, and an idle keep-alive one, go too */
    fd = raw_connect(port, NULL);
    assert_true(raw_closed(fd));
    close(fd);
    fd = raw_connect(port, NULL);
    char out[4096];
    raw_send(fd, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", 33);
    AM_ASSERT_EQ(raw_status(fd, out, sizeof out), 200);
    assert_true(raw_closed(fd));
    close(fd);
    /* what is on time is served: a body at once, and one in two parts */
    AM_ASSERT_EQ(raw_request(port, "POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}",
                             52, out, sizeof out),
                 201);
    fd = raw_connect(port, NULL);
    raw_send(fd, "POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 200\r\n\r\n", 52);
    static char half[100];
    memset(half, 'x', sizeof half);
    raw_send(fd, half, sizeof half);
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    raw_send(fd, half, sizeof half);
    AM_ASSERT_EQ(raw_status(fd, out, sizeof out), 201);
    close(fd);
    AM_ASSERT_DBL_EQ(
        metric(reg, "agentmon_http_connections_closed_total{reason=\"header_timeout\"} "), 3);
    AM_ASSERT_DBL_EQ(
        metric(reg, "agentmon_http_connections_closed_total{reason=\"body_too_slow\"} "), 1);
    am_http_free(h);
    am_registry_free(reg);
}

/* The attacker on 127.0.0.2 holds its limit; 127.0.0.1 is still served. */
static void test_per_ip_limit(void **state)
{
    (void)state;
    am_registry *reg;
    AM_ASSERT_OK(am_registry_new(&reg));
    am_http *h = start_guarded(reg, 3, 60); /* no deadline in the way */
    uint16_t port = am_http_port(h);
    int held[3];
    char out[4096];
    for (int i = 0; i < 3; i++) {
        held[i] = raw_connect(port, "127.0.0.2");
        raw_send(held[i], "GET /health HTTP/1.1\r\n", 22);
        /* accepted by the server, not only by the kernel, before the next */
        for (int k = 0; k < WAIT_MS && metric(reg, "agentmon_http_open_connections ") < i + 1;
             k++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    /* each of ours is accepted: a request on a fourth is not */
    int extra = raw_connect(port, "127.0.0.2");
    send(extra, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", 33, MSG_NOSIGNAL);
    AM_ASSERT_EQ(raw_status(extra, out, sizeof out), 0);
    close(extra);
    AM_ASSERT_EQ(raw_request(port, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", 33, out, sizeof out),
                 200);
    for (int i = 0; i < 3; i++)
        close(held[i]);
    am_http_free(h);
    am_registry_free(reg);
}

/* Issue 10 item 6: empty secrets refused; "any of these" credentials. */
static void test_auth_lists(void **state)
{
    (void)state;
    am_registry *reg;
    AM_ASSERT_OK(am_registry_new(&reg));
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.port = 0;
    o.registries = &reg;
    o.n_registries = 1;
    am_http *h;
    o.builtin_auth.bearer_token = "";
    AM_ASSERT_ERR(am_http_new(&o, &h), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "bearer token is empty");
    o.builtin_auth.bearer_token = NULL;
    o.builtin_auth.basic_user = "u";
    o.builtin_auth.basic_password = "";
    AM_ASSERT_ERR(am_http_new(&o, &h), AM_EINVAL);
    /* /metrics and /health: the read token or the write token */
    am_http_auth write = {.bearer_token = "w-tok"};
    am_http_auth read = {.bearer_token = "r-tok", .next = &write};
    o.builtin_auth = read;
    AM_ASSERT_OK(am_http_new(&o, &h));
    am_http_auth empty = {.bearer_token = ""};
    AM_ASSERT_ERR(am_http_route(h, AM_HTTP_POST, "/in", echo, NULL, &empty), AM_EINVAL);
    am_http_auth both = {.bearer_token = "w-tok", .basic_user = "admin", .basic_password = "pa:ss"};
    AM_ASSERT_OK(am_http_route(h, AM_HTTP_POST, "/in", echo, NULL, &both));
    AM_ASSERT_OK(am_http_listen(h));
    char u[128], p[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/health", am_http_port(h));
    snprintf(p, sizeof p, "http://127.0.0.1:%u/in", am_http_port(h));
    const char *rt[] = {"Authorization: Bearer r-tok", NULL};
    const char *wt[] = {"Authorization: Bearer w-tok", NULL};
    const char *bare[] = {"Authorization: Bearer ", NULL};
    const char *basic[] = {"Authorization: Basic YWRtaW46cGE6c3M=", NULL};
    reply r = fetch(u, "GET", rt, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    r = fetch(u, "GET", wt, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    reply_free(&r);
    r = fetch(u, "GET", bare, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 401);
    reply_free(&r);
    r = fetch(p, "POST", rt, "{}", 0, NULL); /* the read token cannot write */
    AM_ASSERT_EQ(r.status, 401);
    AM_ASSERT_CONTAINS(r.headers, "WWW-Authenticate: Bearer");
    AM_ASSERT_CONTAINS(r.headers, "WWW-Authenticate: Basic");
    reply_free(&r);
    r = fetch(p, "POST", wt, "{}", 0, NULL);
    AM_ASSERT_EQ(r.status, 201);
    reply_free(&r);
    r = fetch(p, "POST", basic, "{}", 0, NULL);
    AM_ASSERT_EQ(r.status, 201);
    reply_free(&r);
    am_http_free(h);
    am_registry_free(reg);
}

static void test_loopback(void **state)
{
    fixture *f = *state;
    assert_true(am_http_is_loopback(f->h));
    assert_false(am_http_is_loopback(NULL));
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.registries = &f->r;
    o.n_registries = 1;
    am_http *h;
    AM_ASSERT_OK(am_http_new(&o, &h));
    assert_false(am_http_is_loopback(h)); /* not listening yet */
    AM_ASSERT_EQ(am_http_max_connections(h), 1024);
    am_http_free(h);
    static const struct {
        int family;
        const char *addr;
        bool want;
    } t[] = {{AF_INET, "127.0.0.1", true},
             {AF_INET, "127.255.0.9", true},
             {AF_INET, "0.0.0.0", false},
             {AF_INET, "10.0.0.1", false},
             {AF_INET, "128.0.0.1", false},
             {AF_INET6, "::1", true},
             {AF_INET6, "::", false},
             {AF_INET6, "::ffff:127.0.0.1", true},
             {AF_INET6, "::ffff:10.1.1.1", false},
             {AF_INET6, "fe80::1", false},
             {AF_INET6, "::2", false}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct sockaddr_storage ss = {0};
        ss.ss_family = (sa_family_t)t[i].family;
        void *dst = t[i].family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
                                           : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
        assert_int_equal(inet_pton(t[i].family, t[i].addr, dst), 1);
        if (am__addr_is_loopback((struct sockaddr *)&ss) != t[i].want)
            fail_msg("%s: expected %d", t[i].addr, t[i].want);
    }
}

/* In a child process (it changes RLIMIT_NOFILE): the limit is raised to
   fit, or a default max_connections lowered, or an explicit one refused. */
static int fd_limit_child(void)
{
    struct rlimit rl = {200, 5000};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 10;
    am_registry *reg;
    if (am_registry_new(&reg) != AM_OK)
        return 11;
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.port = 0;
    o.registries = &reg;
    o.n_registries = 1;
    am_http *h;
    if (am_http_start(&o, &h) != AM_OK || am_http_max_connections(h) != 1024)
        return 12;
    am_http_free(h);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur != 1024 + 64 || rl.rlim_max != 5000)
        return 13;
    rl.rlim_cur = rl.rlim_max = 300;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 14;
    if (am_http_start(&o, &h) != AM_OK || am_http_max_connections(h) != 300 - 64)
        return 15;
    am_http_free(h);
    o.max_connections = 1024;
    if (am_http_start(&o, &h) != AM_ELIMIT || !strstr(am_errmsg(), "RLIMIT_NOFILE"))
        return 16;
    am_registry_free(reg);
    return 0;
}

static void test_fd_limit(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fd_limit_child());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("fd-limit child failed at step %d", WEXITSTATUS(status));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_scrapes, setup, teardown),
        cmocka_unit_test(test_tls_and_builtin_auth),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
        cmocka_unit_test(test_slow_handler),
        cmocka_unit_test(test_stop_with_handlers),
        cmocka_unit_test(test_stop_while_busy),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_per_ip_limit),
        cmocka_unit_test(test_auth_lists),
        cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
        cmocka_unit_test(test_fd_limit),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
