/*
** server.h: the server's insides, shared by server.c (options, listening,
** stopping), request.c (a request's life in libmicrohttpd's callbacks),
** guard.c (deadlines on slow clients), pool.c (the handler threads),
** later.c (deferred answers), exchange.c (request and response accessors) and builtin.c (the
** /metrics, /health and /snapshot handlers).
*/
#ifndef AM_HTTP_SERVER_H
#define AM_HTTP_SERVER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "agentmon/http.h"
#include "../util/buf.h"
#include "../util/query.h"
#include "router.h"

/* ---- guard.c: one record per TCP connection ---------------------------- */

/* What a connection is waiting for; the guard's deadline depends on it. */
enum {
    AM_CONN_HEADERS, /* request line and headers: header_timeout_s from since_ns */
    AM_CONN_BODY,    /* the body: body_grace_s plus body_bytes at the minimum rate */
    AM_CONN_BUSY     /* a handler or the response: only libmicrohttpd's idle timeout */
};

typedef struct am_conn {
    struct am_conn *prev, *next; /* the guard's list, under am_guard.lock */
    int fd;                      /* the socket; valid while on the list (see guard.c) */
    bool is_shut;                /* the guard shut it down already */
    _Atomic int phase;           /* AM_CONN_*, written by the connection's thread */
    _Atomic uint64_t since_ns;   /* when the phase began (am_now_ns) */
    _Atomic uint64_t body_bytes; /* body bytes read in AM_CONN_BODY */
} am_conn;

typedef struct am_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    am_conn *head;    /* every open connection */
    size_t n;         /* how many */
    bool is_running;  /* the reaper thread exists */
    bool is_stopping; /* asks it to return */
    pthread_t thread;
    uint64_t header_ns;                       /* header_timeout_s */
    uint64_t grace_ns;                        /* body_grace_s */
    unsigned min_rate;                        /* body bytes per second; 0: none */
    struct am_http_later *later;              /* deferred answers' deadlines */
    am_counter *closed_headers, *closed_body; /* ..._closed_total{reason} */
    am_gauge *open;                           /* agentmon_http_open_connections */
} am_guard;

/* Set the phase of c (NULL: nothing); since_ns becomes now. */
void am__conn_phase(am_conn *c, int phase);

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback (cls: the am_http). */
void am__guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);

/* Start and stop the reaper thread. start returns AM_OK or AM_ENOMEM. */
am_err am__guard_start(am_guard *g);
void am__guard_stop(am_guard *g);

/* ---- later.c: deferred answers (am_http_req_defer) ------------------- */

/* AM_HTTP_LOOP_SMALL's bound: a larger body's handler runs on the pool. */
#define AM__LOOP_MAX_BODY (64u << 10)

struct am_http_later {
    struct am_http_req *r;             /* the request; valid until pending is 0 */
    struct am_http_later *prev, *next; /* the guard's deadline list (its lock) */
    bool is_linked;                    /* on that list (guard lock) */
    uint64_t deadline_ns;              /* am_now_ns() when the timeout answers */
    _Atomic int claimed;               /* 1: answered (am_http_later_answer or the timeout) */
    _Atomic int pending;               /* 2 -> 0: the answer, the handler's return */
    _Atomic int refs;                  /* the answerer's and the request's */
    am_http_later_fn fn;               /* fills the answer */
    void (*free_ud)(void *ud);
    void *ud;
};

/* r's handler returned having deferred (r->later): put the deadline on the
   guard's list, and complete r when its answer is in already. r's
   connection must be suspended. */
void am__later_arm(am_http_req *r);

/* The request is freed: drop its reference to r->later (NULL: nothing). */
void am__later_release(struct am_http_later *t);

/* The guard's reaper, g->lock held: take the deferred answers due at now
   (claimed, off the list) and return them linked by next; then, without
   the lock, am__later_expire() each. */
struct am_http_later *am__later_due(am_guard *g, uint64_t now);
void am__later_expire(struct am_http_later *list);

/* ---- pool.c: the handler threads -------------------------------------- */

typedef struct am_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;             /* a job was queued, or the pool is stopping */
    pthread_cond_t idle;             /* n_parked fell */
    struct am_http_req *head, *tail; /* queued, not yet taken by a thread */
    size_t n_parked;                 /* suspended connections not yet back in libmicrohttpd */
    bool is_stopping;                /* answer new requests 503; queued ones too */
    bool is_exiting;                 /* threads return */
    pthread_t *threads;
    unsigned n_threads, n_started;
} am_pool;

/* ---- the server ---------------------------------------------------------- */

struct am_http {
    char *host;
    uint16_t port; /* requested; then the bound one */
    unsigned threads, io_threads, max_connections, max_per_ip, idle_timeout_s;
    bool is_max_connections_default; /* max_connections was 0: may be lowered */
    size_t max_body_bytes, max_header_bytes;
    int gzip_level;
    char *tls_cert, *tls_key; /* PEM contents */
    am_registry **regs;
    size_t n_regs;
    am_registry *self;
    am_counter *requests;   /* agentmon_http_requests_total{route,code} */
    am_histogram *duration; /* agentmon_http_request_duration_seconds{route} */
    double started;         /* unix time, for /health uptime */
    pthread_rwlock_t lock;  /* the router */
    am_router router;
    pthread_mutex_t run_lock; /* listen/stop */
    struct MHD_Daemon *d;
    int fd;                        /* our listening socket, or -1 */
    struct sockaddr_storage bound; /* its address, once listening */
    bool is_listening;
    am_guard guard;
    am_pool pool;
};

struct am_http_resp {
    unsigned status;
    am_buf headers; /* "name\0value\0" pairs */
    char *body;
    size_t len;
    bool owned; /* body from the library allocator */
    char *ctype;
};

/* Where a request is; see request.c. */
enum {
    AM_REQ_HEADERS, /* before the first access-handler call */
    AM_REQ_BODY,    /* routed and admitted; reading the body */
    AM_REQ_QUEUED,  /* suspended, waiting for a handler thread */
    AM_REQ_DONE,    /* answer built (r->answer), to be queued */
    AM_REQ_ANSWERED /* queued with libmicrohttpd */
};

struct am_http_req {
    am_http *h;
    struct MHD_Connection *conn;
    am_conn *guard;           /* the connection's record, or NULL */
    struct am_http_req *next; /* the pool's queue */
    char *uri;                /* raw request target */
    char *path;               /* uri up to '?' (points into a copy) */
    const char *method;
    am_query query;
    am_route_match match;
    char *params[AM_ROUTE_MAX_PARAMS]; /* decoded {name} values */
    am_buf body;
    size_t n_read;               /* body bytes read, kept or not */
    _Atomic int state;           /* AM_REQ_* */
    bool is_parked;              /* counted in pool.n_parked */
    struct am_http_later *later; /* the handler deferred its answer (later.c) */
    bool too_large;
    uint64_t t0;
    am_http_resp resp;
    struct MHD_Response *answer; /* built by am__req_finish */
    unsigned answer_status;
};

/* Whether sa is a loopback address (127/8, ::1, ::ffff:127.x.y.z). */
bool am__addr_is_loopback(const struct sockaddr *sa);

/* Register the built-in routes of h. */
am_err am__http_builtin_routes(am_http *h, const am_http_auth *auth);

/* Reset resp to 200 and empty; free what it held. */
void am__http_resp_clear(am_http_resp *r);

/* request.c: libmicrohttpd's callbacks (cls: the am_http). */
void *am__req_uri(void *cls, const char *uri, struct MHD_Connection *conn);
void am__req_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                  enum MHD_RequestTerminationCode toe);
enum MHD_Result am__req_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);

/* Run r's route handler, then build its answer (any thread); an inline
   route's, on the event loop. */
void am__req_run(am_http_req *r);

/* A parked r (connection suspended): run its handler; then, unless it
   deferred (r->later: am__later_arm), build its answer and resume. */
void am__req_handle(am_http_req *r);

/* r's answer is built: mark it DONE and resume its connection (any
   thread; r is libmicrohttpd's again after this). */
void am__req_resume(am_http_req *r);

/* Build r's answer from r->resp (gzip, headers, metrics); any thread. */
void am__req_finish(am_http_req *r, const char *route);

/* Answer r with status and a JSON error now, replacing what r->resp held. */
void am__req_fail(am_http_req *r, unsigned status, const char *type, const char *route,
                  const char *msg);

/* pool.c */
am_err am__pool_start(am_pool *p, unsigned n_threads);
/* Queue r (its connection suspended by the caller); false when stopping. */
bool am__pool_park(am_pool *p, am_http_req *r);
void am__pool_push(am_pool *p, am_http_req *r);
/* r is back in libmicrohttpd's hands (answered or closed). */
void am__pool_unpark(am_pool *p, am_http_req *r);
/* Refuse new work, answer queued requests 503, wait for the parked ones. */
void am__pool_drain(am_pool *p);
/* Join the threads (after am__pool_drain and MHD_stop_daemon). */
void am__pool_stop(am_pool *p);

#endif
