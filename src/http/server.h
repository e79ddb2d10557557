/*
** server.h: the server's insides, shared by server.c (the libmicrohttpd
** side), exchange.c (request and response accessors) and builtin.c (the
** /metrics, /health and /snapshot handlers).
*/
#ifndef AM_HTTP_SERVER_H
#define AM_HTTP_SERVER_H

#include <pthread.h>
#include <stdbool.h>

#include "agentmon/http.h"
#include "../core/buf.h"
#include "query.h"
#include "router.h"

struct MHD_Daemon;
struct MHD_Connection;

struct am_http {
    char *host;
    uint16_t port;                 /* requested; then the bound one */
    unsigned threads, max_connections, idle_timeout_s;
    size_t max_body_bytes, max_header_bytes;
    int gzip_level;
    char *tls_cert, *tls_key;      /* PEM contents */
    am_registry **regs;
    size_t n_regs;
    am_registry *self;
    am_counter *requests;          /* agentmon_http_requests_total{route,code} */
    am_histogram *duration;        /* agentmon_http_request_duration_seconds{route} */
    double started;                /* unix time, for /health uptime */
    pthread_rwlock_t lock;         /* the router */
    am_router router;
    pthread_mutex_t run_lock;      /* listen/stop */
    struct MHD_Daemon *d;
    int fd;                        /* our listening socket, or -1 */
};

struct am_http_resp {
    unsigned status;
    am_buf headers;                /* "name\0value\0" pairs */
    char *body;
    size_t len;
    bool owned;                    /* body from the library allocator */
    char *ctype;
};

struct am_http_req {
    am_http *h;
    struct MHD_Connection *conn;
    char *uri;                     /* raw request target */
    char *path;                    /* uri up to '?' (points into a copy) */
    const char *method;
    am_query query;
    am_route_match match;
    char *params[AM_ROUTE_MAX_PARAMS]; /* decoded {name} values */
    am_buf body;
    bool begun, too_large;
    uint64_t t0;
    am_http_resp resp;
};

/* Register the built-in routes of h. */
am_err am__http_builtin_routes(am_http *h, const am_http_auth *auth);

/* Reset resp to 200 and empty; free what it held. */
void am__http_resp_clear(am_http_resp *r);

#endif
