/*
** coord_redis_conn.h: the Redis coordinator's connections and scripts --
** what coord_redis.c (the operations) uses from coord_redis_conn.c.
**
** A backend keeps two pools of hiredis connections: one for operations
** (at most uri.pool, shared by every thread), one for blocked receives
** (BLPOP), so that a thread waiting for a message never holds a connection
** the others need. Each operation is one EVALSHA of one script; see
** am__redis_eval().
*/
#ifndef AM_COORD_REDIS_CONN_H
#define AM_COORD_REDIS_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "coord.h"
#include "coord_redis.h"

/* The scripts, in the order of am__redis_scripts[]. */
enum {
    AM__S_SEND,
    AM__S_TAKE,
    AM__S_ACK,
    AM__S_RETRY,
    AM__S_DEAD,
    AM__S_RECOVER,
    AM__S_DLQ_LIST,
    AM__S_DLQ_REPLAY,
    AM__S_DLQ_PURGE,
    AM__S_STATS,
    AM__S_EACH_AGENT,
    AM__S_ADD_AGENT,
    AM__S_TOTALS_ADD,
    AM__S_TOTALS,
    AM__N_SCRIPTS
};

#define AM__REDIS_MAX_ARGS 16 /* ARGV of any script, the prefix included */
#define AM__REDIS_CONNECT_TIMEOUT_MS 1000
#define AM__REDIS_OP_TIMEOUT_MS 10000 /* a reply that takes longer: connection dropped */
#define AM__REDIS_WAIT_POOL_MAX 1024
#define AM__REDIS_PEEK_IDLE_NS 100000000u /* idle this long: check it is still open */

typedef struct am__rpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    redisContext **idle;  /* a stack: the last one put back is used first */
    uint64_t *idle_since; /* am_now_ns() when each was put back */
    size_t n_idle, n_live, max;
} am__rpool;

typedef struct am__rbe {
    am__redis_uri u;
    char where[AM__REDIS_HOST_MAX + 16]; /* "host:port" or the socket path, for messages */
    am__rpool ops, waits;
    char sha[AM__N_SCRIPTS][41]; /* set by open, read-only after */
    char proc[33];               /* this process's id in flushseq */
    /* counters pushed to <prefix>:totals (under flush_lock) */
    pthread_mutex_t flush_lock;
    double flushed[AM__N_TOTALS]; /* of am__coord_local(), added to Redis */
    double batch[AM__N_TOTALS];   /* the deltas being added (integers) */
    uint64_t seq;                 /* the number of that batch */
    bool has_batch;               /* sent, not yet confirmed */
    /* the flusher thread */
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stop, has_thread;
    pthread_t thread;
} am__rbe;

/* Name and text of a script (common.lua + its own), for messages and LOAD. */
const char *am__redis_script_name(int script);
const char *am__redis_script_text(int script);

/* max connections; false on ENOMEM. */
bool am__redis_pool_init(am__rpool *p, size_t max);
/* Free the idle connections; no connection may be out. */
void am__redis_pool_fini(am__rpool *p);

/*
** Take a connection (connecting if the pool has none idle, or the one it
** had was closed by the server). Waits while max are out.
** Returns AM_OK or AM_EBACKEND (cannot connect; the reason in am_errmsg()).
*/
am_err am__redis_pool_get(am__rbe *b, am__rpool *p, redisContext **out);
/* Give it back; broken: it failed, free it (the next get reconnects). */
void am__redis_pool_put(am__rpool *p, redisContext *ctx, bool broken);

/* Connect, authenticate and select the database. Returns AM_OK or AM_EBACKEND. */
am_err am__redis_connect(am__rbe *b, redisContext **out);

/*
** One command on ctx, SIGPIPE-safe: a write to a connection the server
** closed fails with EPIPE instead of killing the process. NULL when the
** connection failed (ctx->errstr says why; ctx is unusable). argv/lens
** borrowed. Owned result, freeReplyObject().
*/
redisReply *am__redis_command(redisContext *ctx, int argc, const char **argv, const size_t *lens);

/* SCRIPT LOAD every script on ctx and keep their SHA1s in b. */
am_err am__redis_load_scripts(am__rbe *b, redisContext *ctx);

/*
** Run script with ARGV = prefix, argv[0..argc): EVALSHA on a pooled
** connection; on NOSCRIPT (Redis restarted or flushed its scripts) load it
** and run it once more. argv/lens borrowed (lens NULL: strlen).
** *out: owned reply (never an error reply), freeReplyObject().
** Returns AM_OK or AM_EBACKEND: connection lost (dropped; the next call
** reconnects), or an error reply (busy, loading, out of memory, ...), with
** the reason in am_errmsg().
*/
am_err am__redis_eval(am__rbe *b, int script, int argc, const char *const *argv, const size_t *lens,
                      redisReply **out);

#endif
