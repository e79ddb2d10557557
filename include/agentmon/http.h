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
** Built on libmicrohttpd: a few event-loop threads read and write every
** connection (epoll: no FD_SETSIZE limit); route handlers run on a separate
** pool of handler threads while their connection is set aside, so a
** handler that waits (a database commit) never delays another connection,
** and /health and /metrics, which never block, are answered on the event
** loop itself. A slow or malformed client holds at most a connection slot
** for a bounded time: the request line and headers have a deadline, a body
** a minimum rate, each client address a connection limit, and bodies,
** headers and connections a size. docs/SECURITY.md lists the defaults.
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

/*
** AM_HTTP_INLINE, or-ed into am_http_route()'s methods: run the handler on
** the event-loop thread that read the request instead of the handler pool.
** Only for handlers that never block (no I/O, no waiting on other threads'
** work): every other connection of that thread waits while it runs. The
** built-in /metrics, /health and /snapshot are inline, so a full pool never
** delays them. Since: 0.2
*/
#define AM_HTTP_INLINE 0x100u

/*
** AM_HTTP_LOOP_SMALL, or-ed into am_http_route()'s methods: a request whose
** body is at most 64 KiB and not content-encoded runs its handler on the
** event loop, as AM_HTTP_INLINE does (no hand-off to a pool thread), and
** may still defer its answer (am_http_req_defer); a larger one goes to the
** pool. For handlers whose cost is bounded by their body (a parse) and that
** never wait: a handler that must wait defers instead. With
** AM_HTTP_INLINE, AM_HTTP_INLINE wins. Since: 0.3
*/
#define AM_HTTP_LOOP_SMALL 0x200u

/* For max_connections_per_ip and body_min_bytes_per_s: no limit. Since: 0.2 */
#define AM_HTTP_NO_LIMIT 0xffffffffu

/*
** Credentials a route requires. One am_http_auth holds a bearer token, a
** Basic user and password, or both; a request presenting any one of them
** is let in. next chains more (up to 16 in all): a route protected by
**     am_http_auth write = {.bearer_token = "w-token"};
**     am_http_auth read = {.bearer_token = "r-token", .next = &write};
** accepts the read token or the write token. All strings and the chain are
** copied when the route is added. An empty token, user or password, a
** token with a space, control or non-ASCII byte, a user or password with a
** control character, or a user with ':' is refused (AM_EINVAL): an empty
** secret would let "Bearer " in, and the others could never match. An
** am_http_auth with nothing set and no next means "no credentials needed".
** Since: 0.1 (next: 0.2)
*/
typedef struct am_http_auth {
    const char *bearer_token;        /* "Authorization: Bearer <token>" */
    const char *basic_user;          /* "Authorization: Basic ..." with this user */
    const char *basic_password;      /*   and password */
    const struct am_http_auth *next; /* also accepted; NULL ends the list */
    void *reserved[2];
} am_http_auth;

/*
** Where a server listens unless told otherwise: loopback only, on agentmon's
** port. The one place these defaults are written (the collector, the demo and
** the shm server use them too). Since: 0.3
*/
#define AM_HTTP_DEFAULT_HOST "127.0.0.1"
#define AM_HTTP_DEFAULT_PORT 9470
/* "127.0.0.1:9470", for help texts. Since: 0.3 */
#define AM_HTTP_DEFAULT_LISTEN AM_HTTP_DEFAULT_HOST ":" AM_STR(AM_HTTP_DEFAULT_PORT)

typedef struct am_http_opts {
    const char *host;          /* address or name to bind; AM_HTTP_DEFAULT_HOST */
    uint16_t port;             /* 0 picks a free port: see am_http_port() */
    unsigned threads;          /* handler threads; 0 = 2 */
    unsigned max_connections;  /* 0 = 1024, lowered to fit RLIMIT_NOFILE */
    unsigned idle_timeout_s;   /* close idle connections; 0 = 15 */
    size_t max_body_bytes;     /* larger bodies get 413; 0 = 8 MiB */
    size_t max_header_bytes;   /* per-connection header memory; 0 = 32 KiB */
    const char *tls_cert_file; /* PEM; both set = HTTPS */
    const char *tls_key_file;
    am_registry *const *registries; /* served by /metrics and /snapshot; */
    size_t n_registries;            /*   none = the default registry */
    am_registry *self_registry;     /* agentmon_http_*; NULL = the first served */
    am_http_auth builtin_auth;      /* required by /metrics, /health, /snapshot */
    bool no_builtin_routes;         /* start with an empty route table */
    int gzip_level;                 /* 1..9; 0 = 1 (fast: scrapes are frequent) */
    /* Since 0.2: slow clients (see docs/SECURITY.md) */
    unsigned header_timeout_s;       /* the request line and headers must arrive
                                        within this of the connection opening or
                                        of the previous response; 0 = 10 */
    unsigned body_grace_s;           /* a body may take this long ... 0 = 10 */
    unsigned body_min_bytes_per_s;   /* ... plus 1 s per this many bytes;
                                        0 = 1024; AM_HTTP_NO_LIMIT: no minimum */
    unsigned max_connections_per_ip; /* 0 = 64; AM_HTTP_NO_LIMIT: none (behind
                                      a reverse proxy every client is its IP) */
    unsigned io_threads;             /* event-loop threads; 0 = 2 */
    void *reserved[4];
} am_http_opts;

#define AM_HTTP_OPTS_INIT                                                                          \
    {                                                                                              \
        AM_HTTP_DEFAULT_HOST, AM_HTTP_DEFAULT_PORT                                                 \
    }

/*
** A handler fills resp from req. It runs on one of the server's handler
** threads (an event-loop thread for AM_HTTP_INLINE routes), concurrently
** with other handlers; req and resp are valid during the call. It may take
** as long as it needs: its connection waits, no other does (a full pool
** makes later requests queue). A handler whose answer waits for another
** thread's work need not hold its thread meanwhile: see am_http_req_defer.
*/
typedef void (*am_http_handler)(am_http_req *req, am_http_resp *resp, void *userdata);

/*
** am_http_new: create a server (not yet listening) with the built-in routes
** unless o->no_builtin_routes. o and everything it points to are copied,
** except the registries, which are borrowed and must outlive the server.
** out: owned result, free with am_http_free().
** Returns AM_OK, AM_EINVAL (bad option, or bad builtin_auth: see
** am_http_auth; am_errmsg() says which), AM_EIO (a TLS file cannot be
** read) or AM_ENOMEM. Since: 0.1
*/
AM_EXTERN am_err am_http_new(const am_http_opts *o, am_http **out);

/*
** am_http_route: add a route. methods is a mask of AM_HTTP_* (methods, and
** AM_HTTP_INLINE); pattern is copied; userdata borrowed; auth and its chain
** copied (NULL: open). Routes are tried in the order added; the first whose
** pattern and method match handles the request. A request that matches no
** route, or lacks the credentials, is answered before its body is read.
** Thread-safe, also while serving.
** Returns AM_OK, AM_EINVAL (bad pattern, methods or credentials: see
** am_http_auth) or AM_ENOMEM. Since: 0.1
*/
AM_EXTERN am_err am_http_route(am_http *h, unsigned methods, const char *pattern,
                               am_http_handler fn, void *userdata, const am_http_auth *auth);

/*
** am_http_listen: bind and start serving. max_connections needs as many
** file descriptors: when RLIMIT_NOFILE's soft limit is below
** max_connections + 64 it is raised (up to the hard limit); if that is not
** enough, a default max_connections is lowered to fit (see
** am_http_max_connections()) and an explicit one is refused (AM_ELIMIT).
** Returns AM_OK, AM_EINVAL (host does not resolve), AM_EIO (cannot bind:
** am_errmsg() says why), AM_ELIMIT or AM_EMISUSE (already listening).
** Since: 0.1
*/
AM_EXTERN am_err am_http_listen(am_http *h);

/* am_http_start: am_http_new() then am_http_listen(); *out only on AM_OK. Since: 0.1 */
AM_EXTERN am_err am_http_start(const am_http_opts *o, am_http **out);

/* am_http_port: the port being listened on (the chosen one for port 0). Since: 0.1 */
AM_EXTERN uint16_t am_http_port(const am_http *h);

/*
** am_http_is_loopback: whether h listens only on a loopback address
** (127.0.0.0/8, ::1, ::ffff:127.x.y.z), so that only this machine can
** connect. False before am_http_listen() and for a wildcard address. A
** program prints a warning when this is false and its routes need no
** credentials. Thread-safe. Since: 0.2
*/
AM_EXTERN bool am_http_is_loopback(const am_http *h);

/*
** am_http_max_connections: the connection limit in force: the option, or
** the default lowered to fit RLIMIT_NOFILE by am_http_listen(). Since: 0.2
*/
AM_EXTERN unsigned am_http_max_connections(const am_http *h);

/*
** am_http_stop: let the handlers already running finish (requests still
** queued for a handler thread, and new ones meanwhile, are answered 503),
** then close every connection and the listening socket.
** Idempotent. am_http_free(h) stops and frees; NULL is a no-op. Since: 0.1
*/
AM_EXTERN void am_http_stop(am_http *h);
AM_EXTERN void am_http_free(am_http *h);

/* ---- requests: every string is borrowed, valid during the handler ---- */

/* The request method: "GET", "POST", ... Since: 0.1 */
AM_EXTERN const char *am_http_req_method(const am_http_req *r);
/* The path, without the query string, as sent (not percent-decoded). Since: 0.1 */
AM_EXTERN const char *am_http_req_path(const am_http_req *r);
/* A header's value (name case-insensitive), or NULL. Since: 0.1 */
AM_EXTERN const char *am_http_req_header(const am_http_req *r, const char *name);
/* The first value of a query parameter (percent-decoded, UTF-8), or NULL. Since: 0.1 */
AM_EXTERN const char *am_http_req_query(const am_http_req *r, const char *name);
/*
** All values of a repeated query parameter (match[]=a&match[]=b): fills
** vals[0..max) and returns how many there are (may exceed max).
** Since: 0.1
*/
AM_EXTERN size_t am_http_req_query_all(const am_http_req *r, const char *name, const char **vals,
                                       size_t max);
/* The number of query parameters, and the i-th name and value. Since: 0.1 */
AM_EXTERN size_t am_http_req_query_count(const am_http_req *r);
AM_EXTERN const char *am_http_req_query_name(const am_http_req *r, size_t i);
AM_EXTERN const char *am_http_req_query_value(const am_http_req *r, size_t i);
/* The value of a "{name}" segment of the route's pattern, or NULL. Since: 0.1 */
AM_EXTERN const char *am_http_req_param(const am_http_req *r, const char *name);
/* The request body (NULL and 0 when none); NUL-terminated for convenience. Since: 0.1 */
AM_EXTERN const char *am_http_req_body(const am_http_req *r, size_t *len);
/*
** The same body, writable: a handler may change the bytes in place (a
** parser that unescapes strings where they stand, say). Still the
** request's memory, valid during the handler; NUL-terminated. Since: 0.2
*/
AM_EXTERN char *am_http_req_body_mut(am_http_req *r, size_t *len);

/* ---- responses: by default 200 with an empty body ---- */

/* Set the response's status code (default 200). Since: 0.1 */
AM_EXTERN void am_http_resp_status(am_http_resp *r, unsigned status);

/* Add a header (name and value copied; no CR/LF allowed: AM_EINVAL). Since: 0.1 */
AM_EXTERN am_err am_http_resp_header(am_http_resp *r, const char *name, const char *value);

/* Set the body and its Content-Type (both copied). Since: 0.1 */
AM_EXTERN am_err am_http_resp_body(am_http_resp *r, const char *content_type, const void *data,
                                   size_t len);

/*
** Set the body, taking data: memory from this library's allocator (such as
** text from am_registry_encode()), freed with am_free() when sent, or at
** once if this fails. Returns AM_OK or AM_ENOMEM.
** Since: 0.1
*/
AM_EXTERN am_err am_http_resp_body_take(am_http_resp *r, const char *content_type, char *data,
                                        size_t len);

/*
** Answer with status and the JSON error body
** {"status":"error","errorType":type,"error":message}. Returns AM_OK or
** AM_ENOMEM.
** Since: 0.1
*/
AM_EXTERN am_err am_http_resp_error(am_http_resp *r, unsigned status, const char *type,
                                    const char *message);

/* ---- deferred answers ------------------------------------------------ */

typedef struct am_http_later am_http_later;

/*
** Fills the answer of a deferred request. resp is the request's (as the
** handler left it), ud the one given to am_http_req_defer(). rc is what
** the answerer passed to am_http_later_answer(), or AM_ETIMEDOUT when the
** timeout came first (am_errmsg() then says so). Called exactly once per
** token, on the answering thread (for the timeout, the server's deadline
** thread); it must not block long. Since: 0.3
*/
typedef void (*am_http_later_fn)(am_http_resp *resp, void *ud, am_err rc);

/*
** am_http_req_defer: from a handler, while it runs: its answer will come
** later, from whatever thread finishes the work it waits for, and no
** thread waits meanwhile. The handler returns without touching resp
** again; the connection stays open and silent until the answer.
** METHOD: am_http_req   THREAD-SAFE: the handler's thread   Since: 0.3
**
** req        borrowed; the handler's request.
** timeout_s  > 0: when no answer came by then, fn(resp, ud, AM_ETIMEDOUT)
**            answers, on the server's deadline thread (checked 4 times a
**            second).
** fn         fills the answer (am_http_later_fn): exactly once.
** free_ud    may be NULL; free_ud(ud) runs once nothing uses the token any
**            more -- after the answer was sent (or the client left) and
**            after am_http_later_answer() -- on one of those threads.
** out        the token: exactly one am_http_later_answer(*out, rc) must
**            follow, from any thread, also after the timeout answered.
** am_http_stop() waits for every deferred answer (at worst until its
** timeout). A client that disconnects meanwhile changes nothing: the
** answer is made and dropped.
** Returns AM_OK; AM_EINVAL (fn NULL, timeout_s not > 0); AM_EMISUSE (a
** second call for the request, or an AM_HTTP_INLINE route: its handler
** runs where nothing may wait); AM_ENOMEM. On an error fn and free_ud are
** never called: answer resp now.
*/
AM_EXTERN am_err am_http_req_defer(am_http_req *req, double timeout_s, am_http_later_fn fn,
                                   void (*free_ud)(void *ud), void *ud, am_http_later **out);

/*
** am_http_later_answer: answer a deferred request: fn(resp, ud, rc) fills
** its answer on this thread, and the answer is sent. true when this call
** answered; false when the timeout had (fn is not called, nothing of the
** request is touched). Either way t is not the caller's any more.
** METHOD: am_http_later   THREAD-SAFE: yes, any thread, also the handler's
** own before it returns (an error found after deferring)   Since: 0.3
*/
AM_EXTERN bool am_http_later_answer(am_http_later *t, am_err rc);

#ifdef __cplusplus
}
#endif
#endif
