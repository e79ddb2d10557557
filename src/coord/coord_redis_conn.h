/*
** coord_redis_conn.h: the Redis coordinator's connections and scripts --
** what coord_redis.c (the operations) uses from coord_redis_conn.c.
**
** A backend keeps three pools of hiredis connections: one for operations
** (at most uri.pool, shared by every thread), one for blocked receives
** (BLPOP), so that a thread waiting for a message never holds a connection
** the others need, and one for the background thread (counter flushes and
** the gauges' snapshot), whose reads have a short deadline so that a hung
** Redis holds it -- and the close that waits for it -- only that long. Each
** operation is one EVALSHA of one script (am__redis_eval()); a snapshot
** pipelines several commands in one round trip (am__redis_pipeline()).
*/
#ifndef AM_COORD_REDIS_CONN_H
#define AM_COORD_REDIS_CONN_H

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

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
    AM__S_ADD_AGENT,
    AM__S_TOTALS_ADD,
    AM__S_LENS_FIX,
    AM__S_AUDIT,
    AM__S_MIGRATE,
    AM__N_SCRIPTS
};

#define AM__REDIS_CONNECT_TIMEOUT_MS 1000
#define AM__REDIS_OP_TIMEOUT_MS 10000 /* a reply that takes longer: connection dropped */
#define AM__REDIS_BG_TIMEOUT_MS 1000  /* the same for the background thread's reads */
#define AM__REDIS_BUCKETS 64          /* the hashes lens:0..63 (common.lua) */
#define AM__REDIS_WAIT_POOL_MAX 1024
#define AM__REDIS_PEEK_IDLE_NS 100000000u /* idle this long: check it is still open */

typedef struct am__rpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    redisContext **idle;  /* a stack: the last one put back is used first */
    uint64_t *idle_since; /* am_now_ns() when each was put back */
    size_t n_idle, n_live, max;
    int timeout_ms; /* each read and write of its connections */
} am__rpool;

typedef struct am__rbe {
    am__redis_uri u;
    char where[AM__REDIS_HOST_MAX + 16]; /* "host:port" or the socket path, for messages */
    am__rpool ops, waits, bg;
    char sha[AM__N_SCRIPTS][41]; /* set by open, read-only after */
    char proc[33];               /* this process's id in flushseq */
    /* counters pushed to <prefix>:totals (under flush_lock) */
    pthread_mutex_t flush_lock;
    double flushed[AM__N_TOTALS]; /* of am__coord_local(), added to Redis */
    double batch[AM__N_TOTALS];   /* the deltas being added (integers) */
    uint64_t seq;                 /* the number of that batch */
    bool has_batch;               /* sent, not yet confirmed */
    /* the background thread: flushes, and refreshes the gauges' snapshot */
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool stop, has_thread, wake;
    pthread_t thread;
    /* where the audit goes on: bucket << 56 | HSCAN cursor in it */
    _Atomic uint64_t audit_at;
    _Atomic size_t last_agents; /* how many the last snapshot had: a size hint */
} am__rbe;

/* Name of a script, for messages. */
const char *am__redis_script_name(int script);

/* max connections, each read or write waiting at most timeout_ms; false on ENOMEM. */
bool am__redis_pool_init(am__rpool *p, size_t max, int timeout_ms);
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

/* Connect, authenticate and select the database, every read and write then
   waiting at most timeout_ms. Returns AM_OK or AM_EBACKEND. */
am_err am__redis_connect(am__rbe *b, int timeout_ms, redisContext **out);

/*
** Make the calling thread's operations use b's background pool (on) or the
** operations pool (off, the default): the background thread turns it on
** for its life, close() around its last flush. Thread-local.
*/
void am__redis_use_bg(bool on);

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
** Run script with ARGV = prefix, argv[0..argc) (any number): EVALSHA on a
** pooled connection; on NOSCRIPT (Redis restarted or flushed its scripts)
** load it and run it once more. argv/lens borrowed (lens NULL: strlen).
** *out: owned reply (never an error reply), freeReplyObject().
** Returns AM_OK or AM_EBACKEND: connection lost (dropped; the next call
** reconnects), or an error reply (busy, loading, out of memory, ...), with
** the reason in am_errmsg().
*/
am_err am__redis_eval(am__rbe *b, int script, int argc, const char *const *argv, const size_t *lens,
                      redisReply **out);

/* One command of a pipeline: argv/lens borrowed (lens NULL: strlen). For
   a script, argv = {"EVALSHA", b->sha[script], "0", prefix, ...} and
   script its number (am__redis_pipeline reloads it on NOSCRIPT); else
   script is -1. */
typedef struct am__rcmd {
    int argc;
    const char *const *argv;
    const size_t *lens;
    int script;
} am__rcmd;

/*
** Send n commands on one pooled connection at once, then read their n
** replies: one round trip. out[i]: the owned reply of cmds[i] -- an error
** reply too (WRONGTYPE, ...): the caller decides; a script that answered
** NOSCRIPT has been loaded and run again. Returns AM_OK (all n replies in
** out) or AM_EBACKEND (the connection failed: no reply is kept, and the
** connection is dropped).
*/
am_err am__redis_pipeline(am__rbe *b, const am__rcmd *cmds, size_t n, redisReply **out);

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

static inline bool am__is_array(const redisReply *r, size_t min)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= min;
}

static inline bool am__el_int(const redisReply *r, size_t i, long long *v)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_INTEGER)
        return false;
    *v = r->element[i]->integer;
    return true;
}

/* A string element (NUL-terminated by hiredis), or NULL. */
static inline const char *am__el_str(const redisReply *r, size_t i, size_t *len)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    if (len)
        *len = r->element[i]->len;
    return r->element[i]->str;
}

static inline double am__to_double(const char *s)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    return s && end != s && *end == '\0' && isfinite(v) ? v : 0;
}

static inline long long am__to_ll(const char *s)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    return s && end != s && *end == '\0' ? v : 0;
}

/* Free r (may be NULL) and say that script answered something unexpected. */
am_err am__redis_bad_reply(am__rbe *b, int script, redisReply *r);

/* Report n events ev for agent (am__coord_event). */
void am__redis_events(am_coord *c, const char *agent, am__event ev, long long n);

/* ------------------------------------------------------------------ */
/* Reading every agent (coord_redis_snap.c)                            */
/* ------------------------------------------------------------------ */

am_err am__redis_each_agent(am_coord *c, const am__agent_sink *s);
am_err am__redis_stats(am_coord *c, const char *agent, am_coord_stats *out);
am_err am__redis_recover(am_coord *c, unsigned max_attempts, size_t *n);

#endif
