/*
** coord_redis_conn.h: the Redis coordinator's connections, scripts and
** routing -- what coord_redis.c (the operations), coord_redis_snap.c
** (reading every agent) and coord_redis_claim.c (ids on a cluster) use
** from coord_redis_conn.c (connections, pools, scripts) and
** coord_redis_cluster.c (nodes, the slot map, redirections).
**
** A backend talks to one or more nodes (am__rnode): the one server of a
** redis:// or unix:// URI, or the masters of a Redis Cluster. Each node
** keeps three pools of hiredis connections: one for operations (at most
** uri.pool, shared by every thread), one for blocked receives (BLPOP), so
** that a thread waiting for a message never holds a connection the others
** need, and one for the background thread (counter flushes and the
** gauges' snapshot), whose reads have a short deadline so that a hung
** Redis holds it -- and the close that waits for it -- only that long.
** Every command goes to the node of a bucket (am__redis_bucket(): an
** agent's or a message id's): on a standalone server always the same one.
** Each operation is one EVALSHA of one script (am__redis_eval()); a
** snapshot sends its commands to every node at once, one round trip each
** (am__redis_fanout()).
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
    AM__S_CLAIM_CAS,
    AM__S_RELEASE,
    AM__N_SCRIPTS
};

#define AM__REDIS_CONNECT_TIMEOUT_MS 1000
#define AM__REDIS_OP_TIMEOUT_MS 10000 /* a reply that takes longer: connection dropped */
#define AM__REDIS_BG_TIMEOUT_MS 1000  /* the same for the background thread's reads */
#define AM__REDIS_WAIT_MS 1000        /* cluster: how long a write waits for a replica */
#define AM__REDIS_WAIT_POOL_MAX 1024
#define AM__REDIS_PEEK_IDLE_NS 100000000u /* idle this long: check it is still open */
#define AM__REDIS_NODES_MAX 256           /* nodes a backend ever follows */
#define AM__REDIS_BKEY_MAX (AM__REDIS_PREFIX_MAX + AM__REDIS_TAG_MAX + 4)

struct am__rnode;

typedef struct am__rpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    redisContext **idle;  /* a stack: the last one put back is used first */
    uint64_t *idle_since; /* am_now_ns() when each was put back */
    size_t n_idle, n_live, max;
    int timeout_ms;         /* each read and write of its connections */
    struct am__rnode *node; /* where its connections go */
} am__rpool;

/* A server: the standalone one, or a node of a cluster. Made by open or
   when the cluster names it, freed by close; never moves. */
typedef struct am__rnode {
    char host[AM__REDIS_HOST_MAX + 1]; /* "" for a unix socket */
    int port;
    char addr[AM__REDIS_HOST_MAX + 16]; /* "host:port", "[v6]:port" or the socket path */
    int index;                          /* in nodes[]: a fan-out takes connections in this order */
    am__rpool ops, waits, bg;
    _Atomic int replicas; /* online replicas (cluster): a write waits for one of them */
} am__rnode;

typedef struct am__rbe {
    am__redis_uri u;
    char where[AM__REDIS_HOST_MAX + 32]; /* the server, or "cluster <first seed>", for messages */
    bool is_cluster;
    /* the nodes, and which serves each bucket (coord_redis_cluster.c) */
    pthread_mutex_t map_lock;                          /* adding nodes, refreshing the map */
    am__rnode *nodes[AM__REDIS_NODES_MAX];             /* written under map_lock, never removed */
    _Atomic size_t n_nodes;                            /* published after nodes[n] is set */
    am__rnode *_Atomic bucket_node[AM__REDIS_BUCKETS]; /* NULL: no one serves its slot */
    int bucket_slot[AM__REDIS_BUCKETS];                /* each bucket tag's slot */
    char bkey[AM__REDIS_BUCKETS][AM__REDIS_BKEY_MAX];  /* cluster: "<prefix>:{<tag>}" */
    uint64_t map_at_ns;                                /* the last refresh (map_lock) */
    /* the scripts as loaded: on a cluster with the "#!lua" shebang */
    const char *text[AM__N_SCRIPTS];
    char *texts;                 /* the shebang copies, one block (cluster) */
    char sha[AM__N_SCRIPTS][41]; /* set by open, read-only after */
    char proc[33];               /* this process's id in flushseq */
    _Atomic uint64_t claim_seq;  /* cluster: the nonces of this process's claims */
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

/* Whether what script does must survive its master's death once the
   caller has the reply (on a cluster it waits for a replica to have it,
   see am__redis_fanout). */
bool am__redis_script_confirms(int script);

/* max connections to node, each read or write waiting at most
   timeout_ms; false on ENOMEM. */
bool am__redis_pool_init(am__rpool *p, struct am__rnode *node, size_t max, int timeout_ms);
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

/* Connect to node, authenticate and select the database, every read and
   write then waiting at most timeout_ms. Returns AM_OK or AM_EBACKEND. */
am_err am__redis_connect(am__rbe *b, const am__rnode *node, int timeout_ms, redisContext **out);

/*
** Make the calling thread's operations use each node's background pool
** (on) or operations pool (off, the default): the background thread turns
** it on for its life, close() around its last flush. Thread-local.
*/
void am__redis_use_bg(bool on);

/* The pool the calling thread's operations use on node (see above). */
am__rpool *am__redis_ops_pool(am__rnode *node);

/*
** One command on ctx, SIGPIPE-safe: a write to a connection the server
** closed fails with EPIPE instead of killing the process. NULL when the
** connection failed (ctx->errstr says why; ctx is unusable). argv/lens
** borrowed. Owned result, freeReplyObject().
*/
redisReply *am__redis_command(redisContext *ctx, int argc, const char **argv, const size_t *lens);

/* Send what redisAppendCommand*() put in ctx's output buffer (see
   am__redis_command); false when the connection failed. */
bool am__redis_send(redisContext *ctx);

/* The scripts' texts for b (the shebang copies on a cluster): false on
   ENOMEM. */
bool am__redis_scripts_init(am__rbe *b);
/* SCRIPT LOAD every script on ctx and keep their SHA1s in b. */
am_err am__redis_load_scripts(am__rbe *b, const am__rnode *node, redisContext *ctx);
/* Load script on ctx again after NOSCRIPT. AM_OK; AM_EBACKEND with the
   reason (*lost: the connection failed). */
am_err am__redis_reload(am__rbe *b, const am__rnode *node, redisContext *ctx, int script,
                        bool *lost);

/* ------------------------------------------------------------------ */
/* Routing (coord_redis_cluster.c)                                     */
/* ------------------------------------------------------------------ */

/*
** One command of a fan-out. script >= 0: EVALSHA of that script, argv
** being its ARGV after the prefix (the EVALSHA, SHA1, key and prefix are
** added); script -1: argv is the whole command. It runs on the node of
** bucket (0..63), or on node when bucket is -1. confirm: a command (not
** a script: those say themselves, am__redis_script_confirms) whose effect
** must survive its master's death once the caller has the reply.
** argv/lens borrowed (lens NULL: strlen).
*/
typedef struct am__rcmd {
    int argc;
    const char *const *argv;
    const size_t *lens;
    int script;
    int bucket;
    am__rnode *node;
    bool confirm;
} am__rcmd;

/*
** Run n commands: grouped by node, each group sent in one write and its
** replies read in order, all groups sent before any is read (one round
** trip, the nodes working in parallel). A script a node does not have
** (restarted, failed over, SCRIPT FLUSH, never loaded there) is loaded and
** run again. On a cluster: a MOVED reply updates the map and the command
** goes to the node named, an ASK reply sends it there once after ASKING,
** TRYAGAIN sends it again a little later -- none of them ran -- and when
** a group has a command to confirm and its node has an online replica,
** the group ends with WAIT 1, so that a reply means a replica has what
** it did (a master killed after its reply loses nothing); when no replica
** confirms it in time, the call fails (what it did may be lost).
** out[i]: the owned reply of cmds[i] -- an error reply too (WRONGTYPE,
** ...): the caller decides. Returns AM_OK (all n replies in out) or
** AM_EBACKEND / AM_ENOMEM (no reply is kept; a connection that failed is
** dropped).
*/
am_err am__redis_fanout(am__rbe *b, const am__rcmd *cmds, size_t n, redisReply **out);

/*
** Run script on the node of bucket with ARGV = prefix, argv[0..argc) (any
** number), as am__redis_fanout. argv/lens borrowed (lens NULL: strlen).
** *out: owned reply (never an error reply), freeReplyObject().
** Returns AM_OK or AM_EBACKEND: connection lost (dropped; the next call
** reconnects), or an error reply (busy, loading, out of memory, ...), with
** the reason in am_errmsg().
*/
am_err am__redis_eval(am__rbe *b, int script, int bucket, int argc, const char *const *argv,
                      const size_t *lens, redisReply **out);

/*
** As am__redis_eval, for send.lua and ack.lua run with the claim of an id
** of another bucket whose slot the same master serves (coord_redis_claim.c:
** am__redis_near). When that master refused the script at its first key
** of that slot -- the slot is not its own, the map changed -- *elsewhere
** is set and AM_EBACKEND returned: nothing ran, and the caller takes the
** long way.
*/
am_err am__redis_eval_near(am__rbe *b, int script, int bucket, int argc, const char *const *argv,
                           const size_t *lens, redisReply **out, bool *elsewhere);

/* The node that serves bucket now (NULL: none known). Lock-free. */
am__rnode *am__redis_node_of(am__rbe *b, int bucket);

/* The distinct nodes that serve a bucket, into out (at most
   AM__REDIS_BUCKETS); how many. Lock-free. */
size_t am__redis_serving(am__rbe *b, am__rnode **out);

/* Make the nodes: the server of a standalone URI; on a cluster the seeds,
   then the map read from one of them. Returns AM_OK, AM_EBACKEND or
   AM_ENOMEM. */
am_err am__redis_nodes_open(am__rbe *b);
void am__redis_nodes_free(am__rbe *b);

/*
** Read the cluster's map again (CLUSTER SHARDS, or CLUSTER SLOTS) from a
** node that answers; unless force, not more than once per 100 ms. A no-op
** on a standalone server. Returns AM_OK or AM_EBACKEND.
*/
am_err am__redis_map_refresh(am__rbe *b, bool force);

/* A key in bucket: "<prefix>:<what>" standalone, "<prefix>:{<tag>}:<what>"
   on a cluster, into buf (cap bytes). */
const char *am__redis_bkey(const am__rbe *b, int bucket, const char *what, char *buf, size_t cap);

/* ------------------------------------------------------------------ */
/* Ids on a cluster (coord_redis_claim.c)                              */
/* ------------------------------------------------------------------ */

#define AM__REDIS_CLAIM_MAX 256 /* bytes of a claim, NUL included */
#define AM__REDIS_CLAIM_STALE_MS 60000

/* Claim id for a message to agent to: AM_OK and the claim in out (to keep
   in the message), AM_EEXIST, or AM_EBACKEND. */
am_err am__redis_claim(am__rbe *b, const char *id, const char *to, char out[AM__REDIS_CLAIM_MAX]);

/* A claim of an id for a message to agent to, this process's: into out. */
void am__redis_claim_value(am__rbe *b, const char *to, char out[AM__REDIS_CLAIM_MAX]);

/* A new message id for a message to agent to: 32 random hex digits; on a
   cluster in to's bucket (so that send.lua claims it itself). */
void am__redis_new_id(am__rbe *b, const char *to, char out[33]);

/* Whether the claim of an id of bucket ib can be made (or released) by
   the script of an agent of bucket ab: the same bucket, or both served by
   the same master as the map says now. Lock-free. */
bool am__redis_near(am__rbe *b, int ib, int ab);

/* Put back the claim of id that a release took while its message stayed
   (an ack refused, or whose reply was lost); best effort. */
void am__redis_reclaim(am__rbe *b, const char *id, const char *claim);

/* Release n claims of messages that are gone (ids[i], claims[i]); best
   effort (a claim left behind is taken over later). */
void am__redis_release(am__rbe *b, const char *const *ids, const size_t *id_lens,
                       const char *const *claims, const size_t *claim_lens, size_t n);

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
