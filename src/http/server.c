/*
** server.c: the HTTP server -- options, the listening socket, and the
** libmicrohttpd callbacks that turn a request into a handler call.
**
** DESIGN
** We bind the listening socket ourselves (so a failure comes back as
** "127.0.0.1:9470: Address already in use", not a bare NULL) and hand it
** to libmicrohttpd, which runs an event loop plus a pool of threads. A
** request's life:
**   1. URI callback: allocate the request, keep the raw target (we parse
**      path and query ourselves, with the fuzzed parsers in query.c and
**      router.c, instead of trusting two parsers to agree);
**   2. access callback, first call: refuse a declared body over the limit
**      with 413 before reading it;
**   3. further calls: append body chunks, bounded;
**   4. last call: parse, route (404/405), authenticate (401), run the
**      handler, gzip when the client accepts it, queue the response, and
**      count it in agentmon_http_requests_total / _duration_seconds;
**   5. completion callback: free the request.
** A slow client only ever holds a connection (bounded by max_connections
** and idle_timeout_s), never a handler thread.
**
** The route table is read under a shared lock; routes are never removed,
** so a matched route stays valid after the lock is dropped.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentmon/expose.h"
#include "agentmon/timer.h"
#include "../core/alloc.h"
#include "../core/catalog.h"
#include "../core/error.h"
#include "auth.h"
#include "gzip.h"
#include "negotiate.h"
#include "server.h"

#define GZIP_MIN_BYTES 1024

/* ------------------------------------------------------------------ */
/* Creating                                                            */
/* ------------------------------------------------------------------ */

static am_err read_file(const char *path, char **out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return am__err(AM_EIO, "cannot open %s: %s", path, strerror(errno));
    am_buf b;
    am_buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        am_buf_append(&b, chunk, n);
    bool failed = ferror(fp);
    fclose(fp);
    if (failed || am_buf_err(&b)) {
        am_err rc = am_buf_err(&b) == AM_ENOMEM ? AM_ENOMEM : AM_EIO;
        am_buf_free(&b);
        return am__err(rc, "cannot read %s", path);
    }
    *out = am_buf_take(&b, NULL);
    return *out ? AM_OK : am__err(AM_ENOMEM, "out of memory reading %s", path);
}

const am_metric_def am__defs_http[] = {
    {"http", AM_TYPE_COUNTER, "agentmon_http_requests_total", NULL,
     "HTTP requests answered by agentmon's server, by route pattern and status code.", NULL,
     AM_DEF_LABELS("route", "code"), NULL, 0, NULL, "agentmon"},
    {"http", AM_TYPE_HISTOGRAM, "agentmon_http_request_duration_seconds", NULL,
     "Time from a request's arrival to its response being queued, by route pattern.", "seconds",
     AM_DEF_LABELS("route"), NULL, 0, NULL, "agentmon"},
};
const size_t am__n_defs_http = 2;
const am_def_table am__table_http = {am__defs_http, 2};

static am_err self_metrics(am_http *h)
{
    am_err rc = am__def_register(h->self, &am__defs_http[0], (void **)&h->requests);
    return rc ? rc : am__def_register(h->self, &am__defs_http[1], (void **)&h->duration);
}

am_err am_http_new(const am_http_opts *o, am_http **out)
{
    if (!o || !out)
        return am__err(AM_EINVAL, "options or out pointer is NULL");
    if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL))
        return am__err(AM_EINVAL, "TLS needs both tls_cert_file and tls_key_file");
    if (o->gzip_level < 0 || o->gzip_level > 9)
        return am__err(AM_EINVAL, "gzip_level %d is not 0..9", o->gzip_level);
    if (o->n_registries && !o->registries)
        return am__err(AM_EINVAL, "n_registries is set but registries is NULL");
    for (size_t i = 0; i < o->n_registries; i++)
        if (!o->registries[i])
            return am__err(AM_EINVAL, "registry %zu is NULL", i);
    am_http *h = am__calloc(1, sizeof *h);
    if (!h)
        return am__err(AM_ENOMEM, "out of memory creating the server");
    h->fd = -1;
    pthread_rwlock_init(&h->lock, NULL);
    pthread_mutex_init(&h->run_lock, NULL);
    h->port = o->port;
    h->threads = o->threads ? o->threads : 2;
    h->max_connections = o->max_connections ? o->max_connections : 128;
    h->idle_timeout_s = o->idle_timeout_s ? o->idle_timeout_s : 15;
    h->max_body_bytes = o->max_body_bytes ? o->max_body_bytes : 8u << 20;
    h->max_header_bytes = o->max_header_bytes ? o->max_header_bytes : 32u << 10;
    h->gzip_level = o->gzip_level ? o->gzip_level : 1;
    h->started = am_unix_time();
    am_err rc = AM_ENOMEM;
    if (!(h->host = am__strdup(o->host ? o->host : "127.0.0.1")))
        goto fail;
    h->n_regs = o->n_registries ? o->n_registries : 1;
    if (!(h->regs = am__calloc(h->n_regs, sizeof *h->regs)))
        goto fail;
    for (size_t i = 0; i < h->n_regs; i++)
        h->regs[i] = o->n_registries ? o->registries[i] : am_registry_default();
    if (!h->regs[0])
        goto fail;
    h->self = o->self_registry ? o->self_registry : h->regs[0];
    if (o->tls_cert_file && ((rc = read_file(o->tls_cert_file, &h->tls_cert)) ||
                             (rc = read_file(o->tls_key_file, &h->tls_key))))
        goto fail;
    if ((rc = self_metrics(h)))
        goto fail;
    if (!o->no_builtin_routes && (rc = am__http_builtin_routes(h, &o->builtin_auth)))
        goto fail;
    *out = h;
    return AM_OK;
fail:
    if (rc == AM_ENOMEM)
        am__err(AM_ENOMEM, "out of memory creating the server");
    am_http_free(h);
    return rc;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = am__strdup(s);
    if (!d)
        *oom = true;
    return d;
}

am_err am_http_route(am_http *h, unsigned methods, const char *pattern, am_http_handler fn,
                     void *userdata, const am_http_auth *auth)
{
    if (!h || !fn)
        return am__err(AM_EINVAL, "server or handler is NULL");
    if (auth && auth->basic_user && !auth->basic_password)
        return am__err(AM_EINVAL, "basic auth needs a password");
    am_route *r;
    am_err rc = am__route_new(methods, pattern, &r);
    if (rc)
        return rc;
    r->fn = fn;
    r->ud = userdata;
    bool oom = false;
    if (auth) {
        r->bearer = dup_or_null(auth->bearer_token, &oom);
        r->user = dup_or_null(auth->basic_user, &oom);
        r->password = dup_or_null(auth->basic_password, &oom);
    }
    if (oom) {
        am__route_free(r);
        return am__err(AM_ENOMEM, "out of memory adding a route");
    }
    pthread_rwlock_wrlock(&h->lock);
    rc = am__router_add(&h->router, r);
    pthread_rwlock_unlock(&h->lock);
    if (rc)
        am__route_free(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    am_http_req *r = am__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->h = cls;
    r->conn = conn;
    r->t0 = am_now_ns();
    r->resp.status = 200;
    am_buf_init(&r->body, r->h->max_body_bytes + 1);
    am_buf_init(&r->resp.headers, 0);
    if (!(r->uri = am__strdup(uri))) {
        am__free(r);
        return NULL;
    }
    return r;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    am_http_req *r = *con_cls;
    if (!r)
        return;
    am__query_free(&r->query);
    for (size_t i = 0; i < AM_ROUTE_MAX_PARAMS; i++)
        am__free(r->params[i]);
    am_buf_free(&r->body);
    am__http_resp_clear(&r->resp);
    am__free(r->path);
    am__free(r->uri);
    am__free(r);
    *con_cls = NULL;
}

static void count(am_http_req *r, const char *route)
{
    char code[8];
    snprintf(code, sizeof code, "%u", r->resp.status);
    am_counter *c;
    am_histogram *d;
    am_err rc = am_counter_with(r->h->requests, AM_LABELS(route, code), &c);
    if (rc == AM_OK || rc == AM_ELIMIT)
        am_counter_inc(c);
    rc = am_histogram_with(r->h->duration, AM_LABELS(route), &d);
    if (rc == AM_OK || rc == AM_ELIMIT)
        am_histogram_observe(d, (double)(am_now_ns() - r->t0) / 1e9);
}

static void free_body(void *p)
{
    am__free(p);
}

/* Turn r->resp into a libmicrohttpd response and queue it. */
static enum MHD_Result respond(am_http_req *r, const char *route)
{
    am_http_resp *resp = &r->resp;
    bool textual = !resp->ctype || strncmp(resp->ctype, "text/", 5) == 0 ||
                   strstr(resp->ctype, "json") || strstr(resp->ctype, "openmetrics");
    bool encoded = false;
    for (const char *p = resp->headers.p; p && p < resp->headers.p + resp->headers.len;) {
        if (strcasecmp(p, "Content-Encoding") == 0)
            encoded = true;
        p += strlen(p) + 1;
        p += strlen(p) + 1;
    }
    bool gzipped = false;
    if (textual && !encoded && resp->len >= GZIP_MIN_BYTES &&
        am__accepts_gzip(am_http_req_header(r, "Accept-Encoding"))) {
        char *z;
        size_t zlen;
        if (am__gzip(resp->body, resp->len, r->h->gzip_level, &z, &zlen) == AM_OK) {
            am__free(resp->body);
            resp->body = z;
            resp->len = zlen;
            gzipped = true;
        }
    }
    struct MHD_Response *m;
    if (resp->body) {
        m = MHD_create_response_from_buffer_with_free_callback(resp->len, resp->body, free_body);
        if (m)
            resp->body = NULL; /* libmicrohttpd frees it now */
    } else {
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!m)
        return MHD_NO;
    if (resp->ctype)
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, resp->ctype);
    if (gzipped)
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (textual)
        MHD_add_response_header(m, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    for (const char *p = resp->headers.p; p && p < resp->headers.p + resp->headers.len;) {
        const char *v = p + strlen(p) + 1;
        MHD_add_response_header(m, p, v);
        p = v + strlen(v) + 1;
    }
    count(r, route);
    enum MHD_Result ok = MHD_queue_response(r->conn, resp->status, m);
    MHD_destroy_response(m);
    return ok;
}

static enum MHD_Result error(am_http_req *r, unsigned status, const char *type, const char *route,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result error(am_http_req *r, unsigned status, const char *type, const char *route,
                             const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    am__http_resp_clear(&r->resp);
    if (am_http_resp_error(&r->resp, status, type, msg) != AM_OK)
        r->resp.status = status;
    return respond(r, route);
}

static void allow_header(am_http_resp *resp, unsigned allowed)
{
    static const struct {
        unsigned bit;
        const char *name;
    } t[] = {{AM_HTTP_GET, "GET"},
             {AM_HTTP_HEAD, "HEAD"},
             {AM_HTTP_POST, "POST"},
             {AM_HTTP_PUT, "PUT"},
             {AM_HTTP_DELETE, "DELETE"}};
    char v[64] = "";
    size_t o = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (allowed & t[i].bit)
            o += (size_t)snprintf(v + o, sizeof v - o, "%s%s", o ? ", " : "", t[i].name);
    am_http_resp_header(resp, "Allow", v);
}

/* The request is complete: route it and answer. */
static enum MHD_Result dispatch(am_http_req *r)
{
    am_http *h = r->h;
    if (r->too_large)
        return error(r, 413, "bad_data", "unmatched", "request body is larger than %zu bytes",
                     h->max_body_bytes);
    char *q = strchr(r->uri, '?');
    size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    if (!(r->path = am__strndup(r->uri, plen)))
        return error(r, 503, "internal", "unmatched", "out of memory");
    if (q && am__query_parse(q + 1, strlen(q + 1), &r->query) != AM_OK)
        return error(r, 400, "bad_data", "unmatched", "%s", am_errmsg());

    pthread_rwlock_rdlock(&h->lock);
    int st = am__router_match(&h->router, am__http_method_bit(r->method), r->path, &r->match);
    pthread_rwlock_unlock(&h->lock);
    const am_route *route = r->match.route;
    if (st == 400)
        return error(r, 400, "bad_data", "unmatched", "request path is not a valid path");
    if (st == 404)
        return error(r, 404, "not_found", "unmatched", "no route for %s %.200s", r->method,
                     r->path);
    if (st == 405) {
        enum MHD_Result res;
        am__http_resp_clear(&r->resp);
        allow_header(&r->resp, r->match.allowed);
        char msg[300];
        snprintf(msg, sizeof msg, "method %s is not allowed for %.200s", r->method, r->path);
        am_http_resp_error(&r->resp, 405, "method_not_allowed", msg);
        res = respond(r, "unmatched");
        return res;
    }
    if (!am__auth_check(route->bearer, route->user, route->password,
                        am_http_req_header(r, "Authorization"))) {
        am__http_resp_clear(&r->resp);
        am_http_resp_header(&r->resp, "WWW-Authenticate",
                            route->bearer ? "Bearer realm=\"agentmon\""
                                          : "Basic realm=\"agentmon\", charset=\"UTF-8\"");
        am_http_resp_error(&r->resp, 401, "unauthorized", "missing or wrong credentials");
        return respond(r, route->pattern);
    }
    for (size_t i = 0; i < r->match.n_params; i++) {
        const am_route_param *p = &r->match.params[i];
        char *v = am__malloc(p->len + 1);
        if (!v)
            return error(r, 503, "internal", route->pattern, "out of memory");
        r->params[i] = v;
        if (am__percent_decode(r->path + p->off, p->len, v, 0) == (size_t)-1)
            return error(r, 400, "bad_data", route->pattern, "path parameter \"%s\" has a bad "
                         "%%-escape", p->name);
    }
    if (r->body.p)
        r->body.p[r->body.len] = '\0';
    route->fn(r, &r->resp, route->ud);
    return respond(r, route->pattern);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    am_http_req *r = *con_cls;
    if (!r) {
        static char oom[] = "{\"status\":\"error\",\"errorType\":\"internal\","
                            "\"error\":\"out of memory\"}\n";
        struct MHD_Response *m =
            MHD_create_response_from_buffer(sizeof oom - 1, oom, MHD_RESPMEM_PERSISTENT);
        if (!m)
            return MHD_NO;
        enum MHD_Result ok = MHD_queue_response(conn, 503, m);
        MHD_destroy_response(m);
        return ok;
    }
    if (!r->begun) {
        r->begun = true;
        r->method = method;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > r->h->max_body_bytes) {
            r->too_large = true;
            return dispatch(r); /* answer now; the body is never read */
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_large) {
            am_buf_append(&r->body, upload_data, *upload_data_size);
            if (am_buf_err(&r->body) || r->body.len > r->h->max_body_bytes)
                r->too_large = true;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(r);
}

/* ------------------------------------------------------------------ */
/* Listening                                                           */
/* ------------------------------------------------------------------ */

static am_err bind_socket(am_http *h, int *family)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)h->port);
    int gai = getaddrinfo(h->host, port, &hints, &ai);
    if (gai != 0)
        return am__err(AM_EINVAL, "%s: %s", h->host, gai_strerror(gai));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    am_err rc = AM_OK;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        rc = am__err(AM_EIO, "%s:%u: %s", h->host, (unsigned)h->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    *family = ai->ai_family;
    freeaddrinfo(ai);
    if (rc)
        return rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    h->fd = fd;
    return AM_OK;
}

am_err am_http_listen(am_http *h)
{
    if (!h)
        return am__err(AM_EINVAL, "server is NULL");
    pthread_mutex_lock(&h->run_lock);
    if (h->d) {
        pthread_mutex_unlock(&h->run_lock);
        return am__err(AM_EMISUSE, "the server is already listening");
    }
    int family = AF_INET;
    am_err rc = bind_socket(h, &family);
    if (rc) {
        pthread_mutex_unlock(&h->run_lock);
        return rc;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (h->tls_cert)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, h->fd, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)h->threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)h->max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)h->idle_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)h->max_header_bytes, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_done, h},
        /* Without TLS the list ends here, before the key. */
        {h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    if (!h->d) {
        close(h->fd);
        h->fd = -1;
        pthread_mutex_unlock(&h->run_lock);
        return am__err(AM_EIO, "libmicrohttpd could not start on %s:%u%s", h->host,
                       (unsigned)h->port, h->tls_cert ? " (check the TLS certificate and key)"
                                                      : "");
    }
    pthread_mutex_unlock(&h->run_lock);
    return AM_OK;
}

am_err am_http_start(const am_http_opts *o, am_http **out)
{
    am_http *h;
    am_err rc = am_http_new(o, &h);
    if (rc)
        return rc;
    if ((rc = am_http_listen(h))) {
        am_http_free(h);
        return rc;
    }
    *out = h;
    return AM_OK;
}

uint16_t am_http_port(const am_http *h)
{
    return h ? h->port : 0;
}

void am_http_stop(am_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->run_lock);
    if (h->d) {
        MHD_stop_daemon(h->d);
        h->d = NULL;
        close(h->fd);
        h->fd = -1;
    }
    pthread_mutex_unlock(&h->run_lock);
}

void am_http_free(am_http *h)
{
    if (!h)
        return;
    am_http_stop(h);
    am__router_free(&h->router);
    pthread_rwlock_destroy(&h->lock);
    pthread_mutex_destroy(&h->run_lock);
    am__free(h->host);
    am__free(h->regs);
    am__free(h->tls_cert);
    am__free(h->tls_key);
    am__free(h);
}
