/*
** http.h: the embedded HTTP server -- /metrics for Prometheus, /health,
** /snapshot, and a route table the rest of agentmon mounts its handlers on.
**
** Three lines give an agent a scrape endpoint:
**
**     am_http_opts o = AM_HTTP_OPTS_INIT;
**     o.port = 9464;
**     am_http *srv; am_http_start(&o, &srv);     ... am_http_free(srv);
**
** Built on libmicrohttpd: a small thread pool runs handlers while an event
** loop reads requests, so a slow or malformed client holds a connection
** slot, never a thread, and cannot stall other scrapes. Request bodies,
** headers, connections and idle time are bounded by the options.
**
** Routes are "METHODS pattern -> handler". A pattern is a path of literal
** segments, "{name}" segments that match any one segment (read with
** am_http_req_param()) and a final "*" matching the rest. Unknown paths get
** 404 and known paths with another method 405 with Allow, both with a JSON
** error body: {"status":"error","errorType":"...","error":"..."}, the shape
** of Prometheus' own API errors.
*/
#ifndef AGENTMON_HTTP_H
#define AGENTMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_http am_http;
typedef struct am_http_req am_http_req;
typedef struct am_http_resp am_http_resp;

/* Methods, for am_http_route(). A GET route also answers HEAD. */
#define AM_HTTP_GET 0x01u
#define AM_HTTP_HEAD 0x02u
#define AM_HTTP_POST 0x04u
#define AM_HTTP_PUT 0x08u
#define AM_HTTP_DELETE 0x10u

/* Credentials a route requires; all NULL means none. Strings are copied. */
typedef struct am_http_auth {
    const char *bearer_token;   /* "Authorization: Bearer <token>" */
    const char *basic_user;     /* "Authorization: Basic ..." with this user */
    const char *basic_password; /*   and password */
} am_http_auth;

typedef struct am_http_opts {
    const char *host;              /* address or name to bind; "127.0.0.1" */
    uint16_t port;                 /* 0 picks a free port: see am_http_port() */
    unsigned threads;              /* handler threads; 0 = 2 */
    unsigned max_connections;      /* 0 = 128 */
    unsigned idle_timeout_s;       /* close idle connections; 0 = 15 */
    size_t max_body_bytes;         /* larger bodies get 413; 0 = 8 MiB */
    size_t max_header_bytes;       /* per-connection header memory; 0 = 32 KiB */
    const char *tls_cert_file;     /* PEM; both set = HTTPS */
    const char *tls_key_file;
    am_registry *const *registries; /* served by /metrics and /snapshot; */
    size_t n_registries;           /*   none = the default registry */
    am_registry *self_registry;    /* agentmon_http_*; NULL = the first served */
    am_http_auth builtin_auth;     /* required by /metrics, /health, /snapshot */
    bool no_builtin_routes;        /* start with an empty route table */
    int gzip_level;                /* 1..9; 0 = 1 (fast: scrapes are frequent) */
    void *reserved[4];
} am_http_opts;

#define AM_HTTP_OPTS_INIT {"127.0.0.1", 9470}

/*
** A handler fills resp from req. It runs on one of the server's threads,
** concurrently with other handlers; req and resp are valid during the call.
*/
typedef void (*am_http_handler)(am_http_req *req, am_http_resp *resp, void *userdata);

/*
** am_http_new: create a server (not yet listening) with the built-in routes
** unless o->no_builtin_routes. o and everything it points to are copied,
** except the registries, which are borrowed and must outlive the server.
** out: owned result, free with am_http_free().
** Returns AM_OK, AM_EINVAL (bad option; am_errmsg() says which), AM_EIO
** (a TLS file cannot be read) or AM_ENOMEM. Since: 0.1
*/
AM_EXTERN am_err am_http_new(const am_http_opts *o, am_http **out);

/*
** am_http_route: add a route. methods is a mask of AM_HTTP_*; pattern is
** copied; userdata borrowed; auth copied (NULL: open). Routes are tried in
** the order added; the first whose pattern and method match handles the
** request. Thread-safe, also while serving.
** Returns AM_OK, AM_EINVAL (bad pattern or methods) or AM_ENOMEM. Since: 0.1
*/
AM_EXTERN am_err am_http_route(am_http *h, unsigned methods, const char *pattern,
                               am_http_handler fn, void *userdata, const am_http_auth *auth);

/*
** am_http_listen: bind and start serving. Returns AM_OK, AM_EINVAL (host
** does not resolve), AM_EIO (cannot bind: am_errmsg() says why) or
** AM_EMISUSE (already listening). Since: 0.1
*/
AM_EXTERN am_err am_http_listen(am_http *h);

/* am_http_start: am_http_new() then am_http_listen(); *out only on AM_OK. */
AM_EXTERN am_err am_http_start(const am_http_opts *o, am_http **out);

/* am_http_port: the port being listened on (the chosen one for port 0). */
AM_EXTERN uint16_t am_http_port(const am_http *h);

/*
** am_http_stop: stop accepting, finish the requests in progress, close.
** Idempotent. am_http_free(h) stops and frees; NULL is a no-op. Since: 0.1
*/
AM_EXTERN void am_http_stop(am_http *h);
AM_EXTERN void am_http_free(am_http *h);

/* ---- requests: every string is borrowed, valid during the handler ---- */

/* "GET", "POST", ... */
AM_EXTERN const char *am_http_req_method(const am_http_req *r);
/* The path, without the query string, as sent (not percent-decoded). */
AM_EXTERN const char *am_http_req_path(const am_http_req *r);
/* A header's value (name case-insensitive), or NULL. */
AM_EXTERN const char *am_http_req_header(const am_http_req *r, const char *name);
/* The first value of a query parameter (percent-decoded, UTF-8), or NULL. */
AM_EXTERN const char *am_http_req_query(const am_http_req *r, const char *name);
/*
** All values of a repeated query parameter (match[]=a&match[]=b): fills
** vals[0..max) and returns how many there are (may exceed max).
*/
AM_EXTERN size_t am_http_req_query_all(const am_http_req *r, const char *name,
                                       const char **vals, size_t max);
/* The number of query parameters, and the i-th name and value. */
AM_EXTERN size_t am_http_req_query_count(const am_http_req *r);
AM_EXTERN const char *am_http_req_query_name(const am_http_req *r, size_t i);
AM_EXTERN const char *am_http_req_query_value(const am_http_req *r, size_t i);
/* The value of a "{name}" segment of the route's pattern, or NULL. */
AM_EXTERN const char *am_http_req_param(const am_http_req *r, const char *name);
/* The request body (NULL and 0 when none); NUL-terminated for convenience. */
AM_EXTERN const char *am_http_req_body(const am_http_req *r, size_t *len);
/*
** The same body, writable: a handler may change the bytes in place (a
** parser that unescapes strings where they stand, say). Still the
** request's memory, valid during the handler; NUL-terminated. Since: 0.2
*/
AM_EXTERN char *am_http_req_body_mut(am_http_req *r, size_t *len);

/* ---- responses: by default 200 with an empty body ---- */

AM_EXTERN void am_http_resp_status(am_http_resp *r, unsigned status);

/* Add a header (name and value copied; no CR/LF allowed: AM_EINVAL). */
AM_EXTERN am_err am_http_resp_header(am_http_resp *r, const char *name, const char *value);

/* Set the body and its Content-Type (both copied). */
AM_EXTERN am_err am_http_resp_body(am_http_resp *r, const char *content_type, const void *data,
                                   size_t len);

/*
** Set the body, taking data: memory from this library's allocator (such as
** text from am_registry_encode()), freed with am_free() when sent, or at
** once if this fails. Returns AM_OK or AM_ENOMEM.
*/
AM_EXTERN am_err am_http_resp_body_take(am_http_resp *r, const char *content_type, char *data,
                                        size_t len);

/*
** Answer with status and the JSON error body
** {"status":"error","errorType":type,"error":message}. Returns AM_OK or
** AM_ENOMEM.
*/
AM_EXTERN am_err am_http_resp_error(am_http_resp *r, unsigned status, const char *type,
                                    const char *message);

#ifdef __cplusplus
}
#endif
#endif
