/*
** test_push.c: am_push() and am_push_url() against a tiny HTTP server that
** runs in a thread of this test on 127.0.0.1 (no other host is contacted).
**
** - the group URL: a table of jobs and grouping labels with '/', empty
**   values, dot segments, UTF-8 and reserved characters;
** - bad options: a table, each refused with AM_EINVAL, a message, and no
**   request reaching the server;
** - transport failures: a closed port is AM_EIO, a server that never
**   answers is AM_ETIMEDOUT;
** - the request the server receives: method, path, Content-Type, no
**   "Expect", the body (the registries' Prometheus text), credentials;
** - answers: 2xx is AM_OK with the status; 4xx/5xx/3xx is AM_EPROTO with
**   "pushgateway answered <status>: <body>" (one line, cut at 200 bytes on
**   a character boundary); redirects are not followed;
** - concurrency: pushes from several threads while another thread updates
**   the metrics;
** - out of memory: every allocation of a push (ours and libcurl's, which
**   go through the same allocator) fails in turn; each run ends in AM_OK
**   or a clean error and leaks nothing.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"
#include "fault_alloc.h"
#include "util/validate.h"

/* ------------------------------------------------------------------ */
/* A tiny HTTP server: one thread, one connection at a time            */
/* ------------------------------------------------------------------ */

typedef struct server {
    int fd;
    int port;
    char url[64];
    pthread_t thread;
    atomic_int stop;
    /* the canned answer; set before server_start, read-only afterwards */
    int status;
    const char *body;
    const char *extra; /* more header lines, each ending "\r\n" */
    bool is_silent;    /* read the request, never answer */
    /* what arrived, under lock */
    pthread_mutex_t lock;
    char *head; /* request line and headers of the last request */
    char *rbody;
    size_t rbody_len;
    int n_requests;
} server;

/* The value of header name in head (case-insensitive), copied; or NULL. */
static char *header_value(const char *head, const char *name)
{
    size_t nl = strlen(name);
    const char *line = strstr(head, "\r\n");
    while (line && line[2] && !(line[2] == '\r' && line[3] == '\n')) {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            return strndup(v, (size_t)(end - v));
        }
        line = end;
    }
    return NULL;
}

static void assert_request_line(const char *head, const char *want)
{
    const char *end = strstr(head, "\r\n");
    assert_non_null(end);
    char *line = strndup(head, (size_t)(end - head));
    AM_ASSERT_STR_EQ(line, want);
    free(line);
}

static void handle(server *s, int c)
{
    size_t cap = 4096, len = 0, head_end = 0;
    long clen = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (head_end && len >= head_end + (size_t)clen)
            break;
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            goto out;
        if (cap - len < 2048) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = read(c, buf + len, cap - len - 1);
        if (n <= 0)
            goto out;
        len += (size_t)n;
        buf[len] = '\0';
        if (!head_end) {
            char *e = strstr(buf, "\r\n\r\n");
            if (e) {
                head_end = (size_t)(e - buf) + 4;
                char *h = strndup(buf, head_end);
                char *cl = header_value(h, "Content-Length");
                clen = cl ? strtol(cl, NULL, 10) : 0;
                free(cl);
                free(h);
            }
        }
    }
    pthread_mutex_lock(&s->lock);
    free(s->head);
    free(s->rbody);
    s->head = strndup(buf, head_end);
    s->rbody = strndup(buf + head_end, (size_t)clen);
    s->rbody_len = (size_t)clen;
    s->n_requests++;
    pthread_mutex_unlock(&s->lock);

    if (s->is_silent) {
        /* until the client gives up */
        while (!atomic_load(&s->stop)) {
            struct pollfd p = {c, POLLIN, 0};
            if (poll(&p, 1, 20) > 0 && read(c, buf, cap) <= 0)
                break;
        }
        goto out;
    }
    char resp[8192];
    const char *body = s->body ? s->body : "";
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d Canned\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                     s->status, strlen(body), s->extra ? s->extra : "", body);
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t w = send(c, resp + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
out:
    free(buf);
}

static void *serve(void *ud)
{
    server *s = ud;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        handle(s, c);
        close(c);
    }
    return NULL;
}

/* A socket bound to 127.0.0.1 on a free port; listening if asked. */
static int loopback_socket(bool do_listen, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (do_listen)
        assert_int_equal(listen(fd, 64), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_start(server *s, int status, const char *body)
{
    s->status = status;
    s->body = body;
    pthread_mutex_init(&s->lock, NULL);
    s->fd = loopback_socket(true, &s->port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
    atomic_store(&s->stop, 0);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(server *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
    free(s->head);
    free(s->rbody);
    pthread_mutex_destroy(&s->lock);
}

static int server_requests(server *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n_requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Copies of the last request's head and body (free both). */
static void server_last(server *s, char **head, char **body)
{
    pthread_mutex_lock(&s->lock);
    *head = strdup(s->head ? s->head : "");
    *body = strdup(s->rbody ? s->rbody : "");
    pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

/* A registry with a labelled counter, a gauge and a histogram. */
static am_registry *make_registry(const char *prefix, am_counter **series_out)
{
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    char name[64];
    const char *ln[] = {"agent"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    snprintf(name, sizeof name, "%s_tasks_total", prefix);
    o.name = name;
    o.help = "Tasks done.";
    o.label_names = ln;
    o.n_labels = 1;
    am_counter *c, *cs;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    AM_ASSERT_OK(am_counter_with(c, AM_LABELS("planner"), &cs));
    AM_ASSERT_OK(am_counter_add(cs, 3));
    if (series_out)
        *series_out = cs;

    am_metric_opts g = AM_METRIC_OPTS_INIT;
    snprintf(name, sizeof name, "%s_queue_depth", prefix);
    g.name = name;
    g.help = "Queue depth.";
    am_gauge *gg;
    AM_ASSERT_OK(am_gauge_new(r, &g, &gg));
    am_gauge_set(gg, 7.5);

    am_metric_opts h = AM_METRIC_OPTS_INIT;
    snprintf(name, sizeof name, "%s_task_seconds", prefix);
    h.name = name;
    h.help = "Task time.";
    const double b[] = {0.1, 1};
    h.buckets = b;
    h.n_buckets = 2;
    am_histogram *hh;
    AM_ASSERT_OK(am_histogram_new(r, &h, &hh));
    am_histogram_observe(hh, 0.0625);
    am_histogram_observe(hh, 2);
    return r;
}

/* ------------------------------------------------------------------ */
/* The group URL                                                       */
/* ------------------------------------------------------------------ */

typedef struct url_case {
    const char *url;
    const char *job;
    size_t n;
    const char *names[4];
    const char *values[4];
    const char *want;
} url_case;

#define GW "http://127.0.0.1:9091"

static const url_case url_cases[] = {
    {GW, "planner", 0, {0}, {0}, GW "/metrics/job/planner"},
    {GW "/", "planner", 0, {0}, {0}, GW "/metrics/job/planner"},
    {GW "///", "planner", 0, {0}, {0}, GW "/metrics/job/planner"},
    {"HTTPS://127.0.0.1:8443/pgw/", "j", 0, {0}, {0}, "HTTPS://127.0.0.1:8443/pgw/metrics/job/j"},
    {GW, "planner/1", 0, {0}, {0}, GW "/metrics/job@base64/cGxhbm5lci8x"},
    {GW, ".", 0, {0}, {0}, GW "/metrics/job@base64/Lg"},
    {GW, "..", 0, {0}, {0}, GW "/metrics/job@base64/Li4"},
    {GW, "...", 0, {0}, {0}, GW "/metrics/job/..."},
    {GW, "j", 1, {"instance"}, {"p:1"}, GW "/metrics/job/j/instance/p%3A1"},
    {GW, "j", 1, {"instance"}, {""}, GW "/metrics/job/j/instance@base64/="},
    {GW, "j", 1, {"path"}, {"/"}, GW "/metrics/job/j/path@base64/Lw"},
    {GW, "j", 1, {"path"}, {"a/"}, GW "/metrics/job/j/path@base64/YS8"},
    {GW, "j", 1, {"path"}, {"ab/"}, GW "/metrics/job/j/path@base64/YWIv"},
    {GW, "j", 1, {"path"}, {"a/b"}, GW "/metrics/job/j/path@base64/YS9i"},
    /* URL-safe alphabet: '-' where standard base64 has '+' */
    {GW, "j", 1, {"w"}, {"\xe6\x97\xa5/\xe6\x9c\xac"}, GW "/metrics/job/j/w@base64/5pelL-acrA"},
    {GW, "j", 1, {"region"}, {"\xc3\xa9t\xc3\xa9"}, GW "/metrics/job/j/region/%C3%A9t%C3%A9"},
    {GW,
     "j",
     1,
     {"q"},
     {"a b?c#d%e&f=g+h@i"},
     GW "/metrics/job/j/q/a%20b%3Fc%23d%25e%26f%3Dg%2Bh%40i"},
    {GW, "j", 1, {"u"}, {"AZaz09-._~"}, GW "/metrics/job/j/u/AZaz09-._~"},
    {GW, "j", 1, {"n"}, {"line\nbreak\t\"q\"\\"}, GW "/metrics/job/j/n/line%0Abreak%09%22q%22%5C"},
    {GW,
     "j",
     3,
     {"a", "b", "c"},
     {"1", "", "x/y/z"},
     GW "/metrics/job/j/a/1/b@base64/=/c@base64/eC95L3o"},
};

static void test_url_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++) {
        const url_case *c = &url_cases[i];
        am_push_opts o = AM_PUSH_OPTS_INIT;
        o.url = c->url;
        o.job = c->job;
        o.grouping = (am_labels){c->names, c->values, c->n};
        char *got = NULL;
        am_err rc = am_push_url(&o, &got);
        if (rc != AM_OK)
            fail_msg("case %zu: %s: %s", i, am_err_name(rc), am_errmsg());
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu:\n  got  %s\n  want %s", i, got, c->want);
        am_free(got);
    }
}

/* ------------------------------------------------------------------ */
/* Bad options                                                         */
/* ------------------------------------------------------------------ */

typedef struct bad_case {
    const char *what;  /* expected in am_errmsg() */
    bool is_send_only; /* am_push_url() does not look at it */
    void (*apply)(am_push_opts *o);
} bad_case;

static const char *g_names[40], *g_values[40];

static void b_null_url(am_push_opts *o)
{
    o->url = NULL;
}
static void b_ftp(am_push_opts *o)
{
    o->url = "ftp://127.0.0.1:9091";
}
static void b_no_scheme(am_push_opts *o)
{
    o->url = "127.0.0.1:9091";
}
static void b_no_host(am_push_opts *o)
{
    o->url = "http://";
}
static void b_no_host2(am_push_opts *o)
{
    o->url = "http:///metrics";
}
static void b_space(am_push_opts *o)
{
    o->url = "http://127.0.0.1:9091/a b";
}
static void b_query(am_push_opts *o)
{
    o->url = "http://127.0.0.1:9091/?x=1";
}
static void b_fragment(am_push_opts *o)
{
    o->url = "http://127.0.0.1:9091#f";
}
static void b_null_job(am_push_opts *o)
{
    o->job = NULL;
}
static void b_empty_job(am_push_opts *o)
{
    o->job = "";
}
static void b_utf8_job(am_push_opts *o)
{
    o->job = "bad\xff";
}
static void set1(am_push_opts *o, const char *n, const char *v)
{
    g_names[0] = n;
    g_values[0] = v;
    o->grouping = (am_labels){g_names, g_values, 1};
}
static void b_label_dash(am_push_opts *o)
{
    set1(o, "bad-name", "v");
}
static void b_label_reserved(am_push_opts *o)
{
    set1(o, "__x", "v");
}
static void b_label_empty(am_push_opts *o)
{
    set1(o, "", "v");
}
static void b_label_digit(am_push_opts *o)
{
    set1(o, "1a", "v");
}
static void b_label_job(am_push_opts *o)
{
    set1(o, "job", "v");
}
static void b_value_null(am_push_opts *o)
{
    set1(o, "a", NULL);
}
static void b_value_utf8(am_push_opts *o)
{
    set1(o, "a", "\xc3(");
}
static void b_label_dup(am_push_opts *o)
{
    g_names[0] = g_names[1] = "a";
    g_values[0] = g_values[1] = "v";
    o->grouping = (am_labels){g_names, g_values, 2};
}
static void b_names_null(am_push_opts *o)
{
    o->grouping = (am_labels){NULL, g_values, 1};
}
static void b_too_many(am_push_opts *o)
{
    static char names[40][8];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "l%d", i);
        g_names[i] = names[i];
        g_values[i] = "v";
    }
    o->grouping = (am_labels){g_names, g_values, 40};
}
static void b_regs_null(am_push_opts *o)
{
    o->registries = NULL;
    o->n_registries = 1;
}
static void b_reg_elem_null(am_push_opts *o)
{
    static am_registry *const none[1] = {NULL};
    o->registries = none;
    o->n_registries = 1;
}
static void b_bearer_and_basic(am_push_opts *o)
{
    o->bearer_token = "t";
    o->username = "u";
}
static void b_bearer_empty(am_push_opts *o)
{
    o->bearer_token = "";
}
static void b_bearer_space(am_push_opts *o)
{
    o->bearer_token = "a b";
}
static void b_bearer_crlf(am_push_opts *o)
{
    o->bearer_token = "a\r\nX-Evil: 1";
}
static void b_password_alone(am_push_opts *o)
{
    o->password = "p";
}
static void b_user_colon(am_push_opts *o)
{
    o->username = "u:x";
}
static void b_user_newline(am_push_opts *o)
{
    o->username = "u\n";
}

static const bad_case bad_cases[] = {
    {"url is NULL", false, b_null_url},
    {"does not start with http:// or https://", false, b_ftp},
    {"does not start with http:// or https://", false, b_no_scheme},
    {"has no host", false, b_no_host},
    {"has no host", false, b_no_host2},
    {"space, control or non-ASCII byte at offset 23", false, b_space},
    {"must not have a query or fragment", false, b_query},
    {"must not have a query or fragment", false, b_fragment},
    {"push job is NULL", false, b_null_job},
    {"push job is empty", false, b_empty_job},
    {"push job is not valid UTF-8", false, b_utf8_job},
    {"grouping label name \"bad-name\" has an invalid character at offset 3", false, b_label_dash},
    {"starts with the reserved \"__\"", false, b_label_reserved},
    {"grouping label name is empty", false, b_label_empty},
    {"grouping label name \"1a\" has an invalid character at offset 0", false, b_label_digit},
    {"\"job\" is taken", false, b_label_job},
    {"value of grouping label \"a\" is NULL", false, b_value_null},
    {"value of grouping label \"a\" is not valid UTF-8", false, b_value_utf8},
    {"grouping label name \"a\" appears twice", false, b_label_dup},
    {"NULL names or values", false, b_names_null},
    {"40 grouping labels, more than 32", false, b_too_many},
    {"registries is NULL", true, b_regs_null},
    {"registry 0 of the push is NULL", true, b_reg_elem_null},
    {"both a bearer token and basic auth", true, b_bearer_and_basic},
    {"bearer token is empty", true, b_bearer_empty},
    {"bearer token has a space", true, b_bearer_space},
    {"bearer token has a space", true, b_bearer_crlf},
    {"password given without a username", true, b_password_alone},
    {"username contains ':'", true, b_user_colon},
    {"control character", true, b_user_newline},
};

static void test_bad_options(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, 200, "");
    am_registry *r = make_registry("bad", NULL);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        am_push_opts o = AM_PUSH_OPTS_INIT;
        o.url = s.url;
        o.job = "j";
        o.registries = &r;
        o.n_registries = 1;
        c->apply(&o);
        int status = -1;
        am_err rc = am_push(&o, AM_PUSH_PUT, &status);
        if (rc != AM_EINVAL || !strstr(am_errmsg(), c->what))
            fail_msg("case %zu: am_push returned %s \"%s\", expected AM_EINVAL \"%s\"", i,
                     am_err_name(rc), am_errmsg(), c->what);
        AM_ASSERT_EQ(status, 0);
        char *url = NULL;
        rc = am_push_url(&o, &url);
        if (c->is_send_only) {
            AM_ASSERT_EQ(rc, AM_OK);
            am_free(url);
        } else if (rc != AM_EINVAL || !strstr(am_errmsg(), c->what)) {
            fail_msg("case %zu: am_push_url returned %s \"%s\", expected AM_EINVAL \"%s\"", i,
                     am_err_name(rc), am_errmsg(), c->what);
        }
    }
    /* No options, unknown method, no out pointer. */
    AM_ASSERT_ERR(am_push(NULL, AM_PUSH_PUT, NULL), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "push options are NULL");
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    AM_ASSERT_ERR(am_push(&o, (am_push_method)7, NULL), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "unknown push method 7");
    AM_ASSERT_ERR(am_push_url(&o, NULL), AM_EINVAL);
    /* A URL past AM_PUSH_MAX_URL. */
    char *longurl = malloc(AM_PUSH_MAX_URL + 32);
    memcpy(longurl, "http://127.0.0.1/", 17);
    memset(longurl + 17, 'a', AM_PUSH_MAX_URL);
    longurl[AM_PUSH_MAX_URL + 17] = '\0';
    o.url = longurl;
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_PUT, NULL), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "longer than 2048 bytes");
    free(longurl);

    /* A URL that passes our checks but not libcurl's is still AM_EINVAL. */
    o.url = "http://127.0.0.1:99999";
    int status = -1;
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_PUT, &status), AM_EINVAL);
    AM_ASSERT_EQ(status, 0);
    AM_ASSERT_CONTAINS(am_errmsg(), "push to http://127.0.0.1:99999: ");

    AM_ASSERT_EQ(server_requests(&s), 0); /* nothing was ever sent */
    server_stop(&s);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Transport failures                                                  */
/* ------------------------------------------------------------------ */

static void test_closed_port(void **state)
{
    (void)state;
    int port;
    int fd = loopback_socket(false, &port); /* bound, not listening: refused */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    am_registry *r = make_registry("closed", NULL);
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = url;
    o.job = "j";
    o.registries = &r;
    o.n_registries = 1;
    o.timeout_ms = 3000;
    int status = -1;
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_PUT, &status), AM_EIO);
    AM_ASSERT_EQ(status, 0);
    AM_ASSERT_CONTAINS(am_errmsg(), "push to http://127.0.0.1:");
    AM_ASSERT_CONTAINS(am_errmsg(),
                       "onnect"); /* libcurl: "Couldn't connect", "Failed to connect" */
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_DELETE, &status), AM_EIO);
    close(fd);
    am_registry_free(r);
}

static void test_timeout(void **state)
{
    (void)state;
    server s = {0};
    s.is_silent = true;
    server_start(&s, 200, "");
    am_registry *r = make_registry("slow", NULL);
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    o.registries = &r;
    o.n_registries = 1;
    o.timeout_ms = 300;
    int status = -1;
    am_timer t = am_timer_start();
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_PUT, &status), AM_ETIMEDOUT);
    double took = am_timer_seconds(&t);
    AM_ASSERT_EQ(status, 0);
    AM_ASSERT_CONTAINS(am_errmsg(), "timed out");
    /* Sanity bound, not a performance assertion: the timeout was honoured. */
    if (took > 10)
        fail_msg("a 300 ms timeout took %.1f s", took);
    AM_ASSERT_EQ(server_requests(&s), 1);
    server_stop(&s);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* What the gateway receives, and what its answers become              */
/* ------------------------------------------------------------------ */

static void test_put_400_request_and_message(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, 400, "text format parsing error in line 3: unexpected end of input\n");
    am_registry *r = make_registry("put", NULL);
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "planner";
    const char *gn[] = {"instance", "path"}, *gv[] = {"p:1", "a/b"};
    o.grouping = (am_labels){gn, gv, 2};
    o.registries = &r;
    o.n_registries = 1;
    int status = 0;
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_PUT, &status), AM_EPROTO);
    AM_ASSERT_EQ(status, 400);
    AM_ASSERT_STR_EQ(am_errmsg(), "pushgateway answered 400: text format parsing error in line "
                                  "3: unexpected end of input");

    char *head, *body;
    server_last(&s, &head, &body);
    assert_request_line(head, "PUT /metrics/job/planner/instance/p%3A1/path@base64/YS9i HTTP/1.1");
    char *ct = header_value(head, "Content-Type");
    assert_non_null(ct);
    AM_ASSERT_STR_EQ(ct, "text/plain; version=0.0.4; charset=utf-8");
    char *ua = header_value(head, "User-Agent");
    assert_non_null(ua);
    AM_ASSERT_STR_EQ(ua, "agentmon/" AM_VERSION_STRING);
    char *expect = header_value(head, "Expect");
    assert_null(expect);
    assert_null(header_value(head, "Authorization"));
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_STR_EQ(body, text);
    AM_ASSERT_CONTAINS(body, "put_tasks_total{agent=\"planner\"} 3\n");
    AM_ASSERT_CONTAINS(body, "put_task_seconds_bucket{le=\"+Inf\"} 2\n");
    am_free(text);
    free(ct);
    free(ua);
    free(head);
    free(body);
    server_stop(&s);
    am_registry_free(r);
}

static void test_post_two_registries(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, 200, "");
    am_registry *r[2] = {make_registry("one", NULL), make_registry("two", NULL)};
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    o.registries = r;
    o.n_registries = 2;
    int status = 0;
    AM_ASSERT_OK(am_push(&o, AM_PUSH_POST, &status));
    AM_ASSERT_EQ(status, 200);
    char *head, *body, *text;
    server_last(&s, &head, &body);
    assert_request_line(head, "POST /metrics/job/j HTTP/1.1");
    AM_ASSERT_OK(am_encode(r, 2, AM_FORMAT_PROMETHEUS, &text, NULL));
    AM_ASSERT_STR_EQ(body, text);
    AM_ASSERT_CONTAINS(body, "one_queue_depth 7.5\n");
    AM_ASSERT_CONTAINS(body, "two_queue_depth 7.5\n");
    am_free(text);
    free(head);
    free(body);
    server_stop(&s);
    am_registry_free(r[0]);
    am_registry_free(r[1]);
}

static void test_delete(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, 202, "");
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    const char *gn[] = {"instance"}, *gv[] = {""};
    o.grouping = (am_labels){gn, gv, 1};
    int status = 0;
    AM_ASSERT_OK(am_push(&o, AM_PUSH_DELETE, &status));
    AM_ASSERT_EQ(status, 202);
    char *head, *body;
    server_last(&s, &head, &body);
    assert_request_line(head, "DELETE /metrics/job/j/instance@base64/= HTTP/1.1");
    assert_null(header_value(head, "Content-Type"));
    char *cl = header_value(head, "Content-Length");
    if (cl)
        AM_ASSERT_STR_EQ(cl, "0");
    free(cl);
    AM_ASSERT_STR_EQ(body, "");
    free(head);
    free(body);
    server_stop(&s);
}

static void test_default_registry(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, 200, "");
    am_metric_opts mo = AM_METRIC_OPTS_INIT;
    mo.name = "push_default_total";
    am_counter *c;
    AM_ASSERT_OK(am_counter_new(NULL, &mo, &c));
    am_counter_inc(c);
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    AM_ASSERT_OK(am_push(&o, AM_PUSH_PUT, NULL));
    char *head, *body;
    server_last(&s, &head, &body);
    char *text = am_test_encode(NULL, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_STR_EQ(body, text);
    AM_ASSERT_CONTAINS(body, "push_default_total 1\n");
    am_free(text);
    free(head);
    free(body);
    AM_ASSERT_OK(am_registry_unregister(NULL, "push_default_total"));
    server_stop(&s);
}

static void test_long_and_empty_bodies(void **state)
{
    (void)state;
    /* 190 'x', a line break, then "é" (2 bytes) straddling byte 200, then more. */
    char big[1200];
    size_t n = 0;
    memset(big, 'x', 190);
    n = 190;
    memcpy(big + n, "\r\n\t", 3);
    n += 3;
    memset(big + n, 'y', 6);
    n += 6; /* 199 bytes so far */
    while (n + 2 < sizeof big - 1) {
        memcpy(big + n, "\xc3\xa9", 2);
        n += 2;
    }
    big[n] = '\0';
    server s = {0};
    server_start(&s, 500, big);
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    int status = 0;
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_DELETE, &status), AM_EPROTO);
    AM_ASSERT_EQ(status, 500);
    const char *m = am_errmsg();
    const char *prefix = "pushgateway answered 500: ";
    AM_ASSERT_EQ(strncmp(m, prefix, strlen(prefix)), 0);
    const char *shown = m + strlen(prefix);
    AM_ASSERT_EQ(strlen(shown), 199 + 3); /* cut before the split "é", then "..." */
    AM_ASSERT_STR_EQ(shown + 199, "...");
    assert_null(strchr(m, '\n'));
    assert_null(strchr(m, '\r'));
    assert_null(strchr(m, '\t'));
    assert_true(am__utf8_valid(m, strlen(m), NULL));
    assert_true(strlen(m) < 255); /* fits am_errmsg() whole */
    server_stop(&s);

    server e = {0};
    server_start(&e, 404, "");
    o.url = e.url;
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_PUT, &status), AM_EPROTO);
    AM_ASSERT_EQ(status, 404);
    AM_ASSERT_STR_EQ(am_errmsg(), "pushgateway answered 404 with no body");
    server_stop(&e);
}

static void test_redirect_not_followed(void **state)
{
    (void)state;
    server s = {0};
    s.extra = "Location: http://127.0.0.1:1/elsewhere\r\n";
    server_start(&s, 301, "moved");
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    int status = 0;
    AM_ASSERT_ERR(am_push(&o, AM_PUSH_PUT, &status), AM_EPROTO);
    AM_ASSERT_EQ(status, 301);
    AM_ASSERT_STR_EQ(am_errmsg(), "pushgateway answered 301: moved");
    AM_ASSERT_EQ(server_requests(&s), 1);
    server_stop(&s);
}

static void test_credentials(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, 200, "");
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    o.bearer_token = "s3cr3t.T0ken";
    AM_ASSERT_OK(am_push(&o, AM_PUSH_DELETE, NULL));
    char *head, *body, *auth;
    server_last(&s, &head, &body);
    auth = header_value(head, "Authorization");
    assert_non_null(auth);
    AM_ASSERT_STR_EQ(auth, "Bearer s3cr3t.T0ken");
    free(auth);
    free(head);
    free(body);

    o.bearer_token = NULL;
    o.username = "u";
    o.password = "p";
    AM_ASSERT_OK(am_push(&o, AM_PUSH_DELETE, NULL));
    server_last(&s, &head, &body);
    auth = header_value(head, "Authorization");
    assert_non_null(auth);
    AM_ASSERT_STR_EQ(auth, "Basic dTpw"); /* base64("u:p") */
    free(auth);
    free(head);
    free(body);
    server_stop(&s);
}

/* ------------------------------------------------------------------ */
/* Concurrency                                                         */
/* ------------------------------------------------------------------ */

#define PUSHERS 4
#define PUSHES 8

typedef struct shared {
    const char *url;
    am_registry *r;
    am_counter *series;
    atomic_int done;
    atomic_int failures;
} shared;

static void *pusher(void *ud)
{
    shared *sh = ud;
    char inst[16];
    snprintf(inst, sizeof inst, "%lu", (unsigned long)(uintptr_t)pthread_self() % 1000);
    const char *gn[] = {"instance"}, *gv[] = {inst};
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = sh->url;
    o.job = "concurrent";
    o.grouping = (am_labels){gn, gv, 1};
    o.registries = &sh->r;
    o.n_registries = 1;
    for (int i = 0; i < PUSHES; i++) {
        int status = 0;
        if (am_push(&o, i % 2 ? AM_PUSH_POST : AM_PUSH_PUT, &status) != AM_OK || status != 200)
            atomic_fetch_add(&sh->failures, 1);
    }
    return NULL;
}

static void *updater(void *ud)
{
    shared *sh = ud;
    while (!atomic_load(&sh->done))
        am_counter_inc(sh->series);
    return NULL;
}

static void test_concurrent_pushes_and_updates(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, 200, "");
    shared sh = {0};
    sh.url = s.url;
    sh.r = make_registry("conc", &sh.series);
    pthread_t up, t[PUSHERS];
    assert_int_equal(pthread_create(&up, NULL, updater, &sh), 0);
    for (int i = 0; i < PUSHERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, pusher, &sh), 0);
    for (int i = 0; i < PUSHERS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&sh.done, 1);
    pthread_join(up, NULL);
    AM_ASSERT_EQ(atomic_load(&sh.failures), 0);
    AM_ASSERT_EQ(server_requests(&s), PUSHERS * PUSHES);

    /* After the updates stop, a push carries the final value. */
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "concurrent";
    o.registries = &sh.r;
    o.n_registries = 1;
    AM_ASSERT_OK(am_push(&o, AM_PUSH_PUT, NULL));
    char *head, *body;
    server_last(&s, &head, &body);
    char *text = am_test_encode(sh.r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_STR_EQ(body, text);
    AM_ASSERT_LACKS(body, "conc_tasks_total{agent=\"planner\"} 3\n");
    am_free(text);
    free(head);
    free(body);
    server_stop(&s);
    am_registry_free(sh.r);
}

/* ------------------------------------------------------------------ */
/* Out of memory at every allocation of a push                         */
/* ------------------------------------------------------------------ */

static void test_every_allocation_fails_once(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, 200, "");
    am_registry *r = make_registry("oom", NULL);
    const char *gn[] = {"instance", "path"}, *gv[] = {"i", "a/b"};
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = s.url;
    o.job = "j";
    o.grouping = (am_labels){gn, gv, 2};
    o.registries = &r;
    o.n_registries = 1;
    o.username = "u";
    o.password = "p";
    /* Warm up: libcurl's global state exists before we count. */
    AM_ASSERT_OK(am_push(&o, AM_PUSH_PUT, NULL));
    long baseline = atomic_load(&g_live);
    long k, n_enomem = 0, n_other = 0;
    for (k = 1;; k++) {
        atomic_store(&g_count, 0);
        atomic_store(&g_failed, 0);
        atomic_store(&g_fail_at, k);
        int status = -1;
        am_err rc = am_push(&o, k % 2 ? AM_PUSH_PUT : AM_PUSH_DELETE, &status);
        atomic_store(&g_fail_at, 0);
        if (atomic_load(&g_live) != baseline)
            fail_msg("fail_at=%ld leaked %ld allocation(s)", k, atomic_load(&g_live) - baseline);
        if (!atomic_load(&g_failed)) {
            AM_ASSERT_EQ(rc, AM_OK);
            break;
        }
        /*
        ** Our own allocations fail as AM_ENOMEM. libcurl reports most of its
        ** failures as CURLE_OUT_OF_MEMORY too, but a few of its allocations
        ** are optional (it carries on: AM_OK) or surface as a failed send
        ** (AM_EIO); what matters is a clean code and nothing leaked.
        */
        if (rc == AM_ENOMEM)
            n_enomem++;
        else if (rc != AM_OK)
            n_other++;
        if (getenv("AM_PUSH_FAULT_VERBOSE"))
            fprintf(stderr, "fail_at=%ld: %s %s\n", k, am_err_name(rc), am_errmsg());
        if (rc != AM_OK && rc != AM_ENOMEM && rc != AM_EIO)
            fail_msg("fail_at=%ld: %s (%s)", k, am_err_name(rc), am_errmsg());
        if (rc != AM_OK && am_errmsg()[0] == '\0')
            fail_msg("fail_at=%ld: %s without a message", k, am_err_name(rc));
    }
    fprintf(stderr,
            "push fault injection: %ld allocations failed in turn (%ld AM_ENOMEM, %ld other "
            "errors), no leak\n",
            k - 1, n_enomem, n_other);
    assert_true(k > 5);
    assert_true(n_enomem > 0);
    server_stop(&s);
    am_registry_free(r);
}

int main(void)
{
    /* Loopback only: no proxy may see these requests. */
    static const char *proxies[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                    "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    signal(SIGPIPE, SIG_IGN);
    am_allocator a = {t_malloc, t_realloc, t_free};
    am_set_allocator(&a);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_table),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_put_400_request_and_message),
        cmocka_unit_test(test_post_two_registries),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_default_registry),
        cmocka_unit_test(test_long_and_empty_bodies),
        cmocka_unit_test(test_redirect_not_followed),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_concurrent_pushes_and_updates),
        cmocka_unit_test(test_every_allocation_fails_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    am_shutdown();
    return rc;
}
