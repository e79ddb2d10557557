/*
** request.c: a request's life in libmicrohttpd's callbacks, from the URI
** to the queued answer.
**
** DESIGN
** libmicrohttpd calls us on the thread that owns the connection (one of
** its event-loop threads):
**   1. URI callback: allocate the request, keep the raw target (we parse
**      path and query ourselves, with the fuzzed parsers in query.c and
**      router.c, instead of trusting two parsers to agree);
**   2. access callback, first call -- the headers are complete, no body
**      byte is read yet. Everything that can refuse the request does it
**      now, so a refused client costs no body: framing (framing.c: 400,
**      501), a declared body over the limit (413), path and query (400),
**      route (404, 405), credentials (401), route parameters (400). The
**      guard's deadline moves from "headers" to "body" (guard.c);
**   3. further calls: append body chunks, bounded (past the limit the
**      rest is dropped and answered 413: libmicrohttpd 0.9.75 cannot
**      answer in the middle of a body; past twice the limit, closed);
**   4. last call: an AM_HTTP_INLINE route runs here and is answered; any
**      other is parked -- the connection suspended and the request queued
**      for a handler thread (pool.c), which runs the handler, builds the
**      answer and resumes the connection. An AM_HTTP_LOOP_SMALL route
**      with a small plain body is parked too (counted, so that stopping
**      waits for it) but its handler runs here, and the connection is
**      suspended only if the handler deferred its answer. A handler that
**      deferred (am_http_req_defer) leaves the answer and the resumption
**      to whoever answers (later.c); its caller then only arms the
**      token's timeout (am__later_arm) and lets go of the request;
**   5. the call after resumption: queue the answer the handler thread
**      built;
**   6. completion callback (the answer is sent, or the connection failed):
**      a parked request stops counting as parked (so stopping waits for
**      its answer to go out); free the request; the connection waits for
**      its next request (guard phase "headers" again).
** r->state says where a request is (AM_REQ_*). It is written by the
** connection's thread, except AM_REQ_DONE, which a handler thread -- or
** a deferred answer's thread -- stores (release) before resuming and the
** connection's thread loads (acquire).
**
** Answers are built by am__req_finish() on whichever thread ran the
** handler (gzip when the client accepts it, the headers, the
** agentmon_http_requests_total and _duration_seconds counts) and queued
** with libmicrohttpd by the connection's thread (queue()).
*/
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "framing.h"
#include "../util/gzip.h"
#include "negotiate.h"
#include "server.h"

#define GZIP_MIN_BYTES 1024
#define MAX_FRAMING_FIELDS 8 /* Content-Length or Transfer-Encoding fields */

static am_conn *conn_guard(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void *am__req_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    am_http_req *r = am__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->h = cls;
    r->conn = conn;
    r->guard = conn_guard(conn);
    r->t0 = am_now_ns();
    r->resp.status = 200;
    atomic_init(&r->state, AM_REQ_HEADERS);
    am_buf_init(&r->body, r->h->max_body_bytes + 1);
    am_buf_init(&r->resp.headers, 0);
    if (!(r->uri = am__strdup(uri))) {
        am__free(r);
        return NULL;
    }
    return r;
}

void am__req_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                  enum MHD_RequestTerminationCode toe)
{
    am_http *h = cls;
    (void)toe;
    /* the connection now waits for its next request */
    am__conn_phase(conn_guard(conn), AM_CONN_HEADERS);
    am_http_req *r = *con_cls;
    if (!r)
        return;
    am__pool_unpark(&h->pool, r); /* its answer is sent, or the client left */
    am__later_release(r->later);
    if (r->answer)
        MHD_destroy_response(r->answer);
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

/* ---- building an answer (any thread) ---------------------------------- */

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

/* am_free(), as am_http_resp_body_take() promises: an exposition's block
   is kept for the next scrape (encode/spare.c) */
static void free_body(void *p)
{
    am_free(p);
}

void am__req_finish(am_http_req *r, const char *route)
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
            am_free(resp->body);
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
    if (m) {
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
    }
    count(r, route);
    if (r->answer)
        MHD_destroy_response(r->answer);
    r->answer = m; /* NULL: out of memory, the connection is closed */
    r->answer_status = resp->status;
}

void am__req_fail(am_http_req *r, unsigned status, const char *type, const char *route,
                  const char *msg)
{
    am__http_resp_clear(&r->resp);
    if (am_http_resp_error(&r->resp, status, type, msg) != AM_OK)
        r->resp.status = status;
    am__req_finish(r, route);
}

static void run_handler(am_http_req *r)
{
    const am_route *route = r->match.route;
    if (r->body.p)
        r->body.p[r->body.len] = '\0';
    route->fn(r, &r->resp, route->ud);
}

void am__req_run(am_http_req *r)
{
    run_handler(r);
    am__req_finish(r, r->match.route->pattern);
}

void am__req_resume(am_http_req *r)
{
    atomic_store_explicit(&r->state, AM_REQ_DONE, memory_order_release);
    MHD_resume_connection(r->conn); /* r is libmicrohttpd's again */
}

void am__req_handle(am_http_req *r)
{
    run_handler(r);
    if (r->later) {
        am__later_arm(r); /* r may be gone after this */
        return;
    }
    am__req_finish(r, r->match.route->pattern);
    am__req_resume(r);
}

/* ---- the connection's thread ------------------------------------------ */

/* Hand r's answer to libmicrohttpd. */
static enum MHD_Result queue(am_http_req *r)
{
    am__conn_phase(r->guard, AM_CONN_BUSY);
    atomic_store_explicit(&r->state, AM_REQ_ANSWERED, memory_order_relaxed);
    if (!r->answer)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(r->conn, r->answer_status, r->answer);
    MHD_destroy_response(r->answer);
    r->answer = NULL;
    return ok;
}

static enum MHD_Result refuse(am_http_req *r, unsigned status, const char *type, const char *route,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result refuse(am_http_req *r, unsigned status, const char *type, const char *route,
                              const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    am__req_fail(r, status, type, route, msg);
    return queue(r);
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

typedef struct framing_fields {
    const char *cl[MAX_FRAMING_FIELDS], *te[MAX_FRAMING_FIELDS];
    size_t n_cl, n_te;
    bool is_too_many;
} framing_fields;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    framing_fields *f = cls;
    bool is_cl = strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0;
    bool is_te = strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0;
    if (!is_cl && !is_te)
        return MHD_YES;
    const char **v = is_cl ? f->cl : f->te;
    size_t *n = is_cl ? &f->n_cl : &f->n_te;
    if (*n == MAX_FRAMING_FIELDS) {
        f->is_too_many = true;
        return MHD_NO;
    }
    v[(*n)++] = value ? value : "";
    return MHD_YES;
}

/* The headers are complete: refuse now what will be refused, before any
   of the body is read. MHD_YES with r->state AM_REQ_BODY: admitted. */
static enum MHD_Result admit(am_http_req *r, const char *version)
{
    am_http *h = r->h;
    framing_fields f = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect, &f);
    const char *why = "too many Content-Length or Transfer-Encoding fields";
    unsigned st = f.is_too_many ? 400
                                : am__http_framing(strcmp(version, MHD_HTTP_VERSION_1_1) != 0, f.cl,
                                                   f.n_cl, f.te, f.n_te, &why);
    if (st)
        return refuse(r, st, st == 501 ? "not_implemented" : "bad_data", "unmatched", "%s", why);
    if (f.n_cl && strtoull(f.cl[0], NULL, 10) > h->max_body_bytes)
        return refuse(r, 413, "bad_data", "unmatched", "request body is larger than %zu bytes",
                      h->max_body_bytes);
    char *q = strchr(r->uri, '?');
    size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    if (!(r->path = am__strndup(r->uri, plen)))
        return refuse(r, 503, "internal", "unmatched", "out of memory");
    if (q && am__query_parse(q + 1, strlen(q + 1), &r->query) != AM_OK)
        return refuse(r, 400, "bad_data", "unmatched", "%s", am_errmsg());

    pthread_rwlock_rdlock(&h->lock);
    int match = am__router_match(&h->router, am__http_method_bit(r->method), r->path, &r->match);
    pthread_rwlock_unlock(&h->lock);
    const am_route *route = r->match.route;
    if (match == 400)
        return refuse(r, 400, "bad_data", "unmatched", "request path is not a valid path");
    if (match == 404)
        return refuse(r, 404, "not_found", "unmatched", "no route for %s %.200s", r->method,
                      r->path);
    if (match == 405) {
        char msg[300];
        snprintf(msg, sizeof msg, "method %s is not allowed for %.200s", r->method, r->path);
        am__http_resp_clear(&r->resp);
        allow_header(&r->resp, r->match.allowed);
        am_http_resp_error(&r->resp, 405, "method_not_allowed", msg);
        am__req_finish(r, "unmatched");
        return queue(r);
    }
    if (!am__creds_check(&route->creds, am_http_req_header(r, "Authorization"))) {
        am__http_resp_clear(&r->resp);
        if (route->creds.has_bearer)
            am_http_resp_header(&r->resp, "WWW-Authenticate", "Bearer realm=\"agentmon\"");
        if (route->creds.has_basic)
            am_http_resp_header(&r->resp, "WWW-Authenticate",
                                "Basic realm=\"agentmon\", charset=\"UTF-8\"");
        am_http_resp_error(&r->resp, 401, "unauthorized", "missing or wrong credentials");
        am__req_finish(r, route->pattern);
        return queue(r);
    }
    for (size_t i = 0; i < r->match.n_params; i++) {
        const am_route_param *p = &r->match.params[i];
        char *v = am__malloc(p->len + 1);
        if (!v)
            return refuse(r, 503, "internal", route->pattern, "out of memory");
        r->params[i] = v;
        if (am__percent_decode(r->path + p->off, p->len, v, 0) == (size_t)-1)
            return refuse(r, 400, "bad_data", route->pattern,
                          "path parameter \"%s\" has a bad %%-escape", p->name);
    }
    atomic_store_explicit(&r->state, AM_REQ_BODY, memory_order_relaxed);
    bool has_body = f.n_te || (f.n_cl && strtoull(f.cl[0], NULL, 10) > 0);
    am__conn_phase(r->guard, has_body ? AM_CONN_BODY : AM_CONN_BUSY);
    return MHD_YES;
}

/* The whole request is in: run its handler here or on the pool. */
static enum MHD_Result dispatch(am_http_req *r)
{
    am__conn_phase(r->guard, AM_CONN_BUSY);
    const am_route *route = r->match.route;
    if (route->is_inline) {
        am__req_run(r);
        return queue(r);
    }
    if (!am__pool_park(&r->h->pool, r))
        return refuse(r, 503, "unavailable", route->pattern, "the server is stopping");
    if (route->is_loop_small && r->body.len <= AM__LOOP_MAX_BODY &&
        !am_http_req_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING)) {
        /* a small body's handler runs here; parked all the same, so that
           it may defer its answer (and stopping waits for it) */
        run_handler(r);
        am_http_later *t = r->later;
        if (!t) {
            am__req_finish(r, route->pattern);
            return queue(r); /* unparked when it has been sent */
        }
        if (atomic_load_explicit(&t->pending, memory_order_acquire) == 1) {
            /* answered already (an error found after deferring, or work
               done before the handler returned): the answerer is done
               with r, so only this thread holds it: no need to suspend */
            atomic_store_explicit(&t->pending, 0, memory_order_relaxed);
            am__req_finish(r, route->pattern);
            return queue(r);
        }
        MHD_suspend_connection(r->conn);
        am__later_arm(r); /* r may be gone after this */
        return MHD_YES;
    }
    MHD_suspend_connection(r->conn);
    am__pool_push(&r->h->pool, r);
    return MHD_YES;
}

enum MHD_Result am__req_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)url;
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
    switch (atomic_load_explicit(&r->state, memory_order_acquire)) {
    case AM_REQ_HEADERS:
        r->method = method;
        return admit(r, version);
    case AM_REQ_BODY:
        if (*upload_data_size) {
            /* libmicrohttpd 0.9.75 queues an answer only before the body or
               after all of it: past the limit the rest is read and dropped
               (413 at its end), but no more than the limit again. */
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            if (!r->too_large) {
                am_buf_append(&r->body, upload_data, n);
                r->too_large = am_buf_err(&r->body) || r->body.len > r->h->max_body_bytes;
            }
            r->n_read += n;
            if (r->guard)
                atomic_store_explicit(&r->guard->body_bytes, r->n_read, memory_order_relaxed);
            return r->n_read > 2 * r->h->max_body_bytes ? MHD_NO : MHD_YES;
        }
        if (r->too_large)
            return refuse(r, 413, "bad_data", r->match.route->pattern,
                          "request body is larger than %zu bytes", r->h->max_body_bytes);
        return dispatch(r);
    case AM_REQ_DONE:
        return queue(r); /* unparked when it has been sent: am__req_done */
    default:
        /* answered already: whatever else arrives is not ours to read */
        *upload_data_size = 0;
        return MHD_YES;
    }
}
