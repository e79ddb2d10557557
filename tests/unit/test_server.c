/*
** test_server.c: the HTTP server over real sockets on 127.0.0.1, with
** libcurl as the client -- the built-in routes, negotiation and gzip, HEAD,
** 404/405, custom routes with parameters, query and body, limits (413,
** 431), auth (bearer, basic), TLS, bind errors, the server's own metrics,
** and a slow client that must not stall a scrape.
*/
#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "http_client.h"

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
    reply r = fetch(url("/api/v1/metrics/llm%20calls?q=a+b%21&match[]=x&match[]=y%3D1&flag"), "POST",
                    NULL, "{\"k\":1}", 0, NULL);
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
    AM_ASSERT_CONTAINS(r.body, "agentmon_http_requests_total{route=\"unmatched\",code=\"404\"} 1\n");
    AM_ASSERT_CONTAINS(r.body, "agentmon_http_request_duration_seconds_count{route=\"/health\"} 1\n");
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
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
