/*
** coord_redis_conn.c: connections to Redis for the coordinator -- pools,
** connecting, and the scripts (routing a command to its node, and running
** it, is coord_redis_cluster.c's).
**
** DESIGN
** hiredis contexts are not thread-safe, so each is used by one thread at
** a time, taken from a pool under a mutex and given back. Every node (the
** standalone server, or each master of a cluster) has its pools. The pool
** for operations holds at most uri.pool connections (default 4): operations
** of different agents run side by side, each one round trip, and no
** thread holds a connection between operations. Blocked receives use a
** second pool that grows to the number of threads waiting at once, so a
** BLPOP never holds a connection the others need.
**
** Connections are made lazily (the first at open) with a 1 s connect
** timeout and a 10 s reply timeout -- 1 s for the background pool, which
** only the backend's own thread uses (with am__redis_use_bg()), so that its
** flushes and snapshots, and a close that waits for them, are bounded
** when Redis hangs (SIGSTOP, a long script). A connection that fails (I/O error,
** timeout, server gone) is freed, and the next operation connects again:
** while Redis is away every operation returns AM_EBACKEND quickly (the
** connect is refused) and the first one after it is back just works. A
** pooled connection that the server closed while it was idle (Redis was
** restarted) is noticed before it is used -- a non-blocking peek reads
** end-of-file, done when the connection sat idle for 100 ms or more -- so
** a restart costs no failed operation. A command whose
** reply was lost is never sent again: the script may have run, and only
** the caller can know whether running it twice is harmless.
**
** SCRIPTS are the files of src/coord/lua/, embedded by the build. open
** loads them all (SCRIPT LOAD) and keeps their SHA1s; every
** operation is EVALSHA. A server that lost its script cache (restart,
** SCRIPT FLUSH), or a node of a cluster that never saw them (another
** master, a replica promoted), answers NOSCRIPT, and the script is loaded
** there and run once more -- a NOSCRIPT reply means nothing ran, so this
** is safe. On a cluster each script starts with the "#!lua" shebang
** (Redis >= 7), under which Redis refuses a script that touches keys of
** two slots: the key layout's promise (common.lua) is checked on every
** call. send.lua and ack.lua alone carry flags=allow-cross-slot-keys, for
** one key: the claim of an id whose bucket's master is the agent's too,
** made or released in the same script (coord_redis_claim.c); Redis still
** refuses a key of a slot that master does not serve.
**
** SIGPIPE: hiredis writes with write(2), and a write to a socket the peer
** reset raises SIGPIPE, which by default kills the process. So hiredis
** only formats a command (redisAppendCommandArgv) and reads the reply;
** the bytes are sent here with send(MSG_NOSIGNAL). The library changes no
** signal disposition or mask, and costs no system call beyond the send and
** the receive per operation.
**
** Ownership: contexts belong to their pool; replies to the caller of
** am__redis_eval(). Memory hiredis allocates is its own (it is freed with
** freeReplyObject() and redisFree()).
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <hiredis/sds.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "coord_lua.h" /* generated from src/coord/lua/ by CMakeLists.txt */
#include "coord_redis_conn.h"

static const struct {
    const char *name;
    const char *text;
    /* On a cluster, confirmed by a replica before the caller has the reply
       (am__redis_fanout): what would break the conservation of messages
       or of the counters if a master's death undid it after the caller
       acted on it -- a send, an ack, a nack, a replay, a purge, a flush
       of counters, a recovery. Not a take: a reservation undone puts the
       message back in its queue, delivered again (at least once), and
       the holder's ack is refused (AM_ENOTFOUND). Not the claims of ids
       (coord_redis_claim.c says why), nor what only reads or mends the
       kept lengths. */
    bool confirm;
    /* On a cluster, may reach one key of a second slot on the same master
       (flags=allow-cross-slot-keys): the claim of an id whose bucket is
       served by the agent's master too (coord_redis_claim.c). */
    bool cross;
} SCRIPTS[AM__N_SCRIPTS] = {
    [AM__S_SEND] = {"send", am__lua_send, true, true},
    [AM__S_TAKE] = {"take", am__lua_take, false},
    [AM__S_ACK] = {"ack", am__lua_ack, true, true},
    [AM__S_RETRY] = {"retry", am__lua_retry, true},
    [AM__S_DEAD] = {"dead", am__lua_dead, true},
    [AM__S_RECOVER] = {"recover", am__lua_recover, true},
    [AM__S_DLQ_LIST] = {"dlq_list", am__lua_dlq_list, false},
    [AM__S_DLQ_REPLAY] = {"dlq_replay", am__lua_dlq_replay, true},
    [AM__S_DLQ_PURGE] = {"dlq_purge", am__lua_dlq_purge, true},
    [AM__S_STATS] = {"stats", am__lua_stats, false},
    [AM__S_ADD_AGENT] = {"add_agent", am__lua_add_agent, false},
    [AM__S_TOTALS_ADD] = {"totals_add", am__lua_totals_add, true},
    [AM__S_LENS_FIX] = {"lens_fix", am__lua_lens_fix, false},
    [AM__S_AUDIT] = {"audit", am__lua_audit, false},
    [AM__S_MIGRATE] = {"migrate", am__lua_migrate, false},
    [AM__S_CLAIM_CAS] = {"claim_cas", am__lua_claim_cas, false},
    [AM__S_RELEASE] = {"release", am__lua_release, false},
};

const char *am__redis_script_name(int script)
{
    return SCRIPTS[script].name;
}

bool am__redis_script_confirms(int script)
{
    return SCRIPTS[script].confirm;
}

/* Which pool the calling thread's operations use (am__redis_use_bg). */
static __thread bool t_bg;

void am__redis_use_bg(bool on)
{
    t_bg = on;
}

am__rpool *am__redis_ops_pool(am__rnode *node)
{
    return t_bg ? &node->bg : &node->ops;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

/* Send what redisAppendCommandArgv put in ctx's output buffer. hiredis
   would write(2), which raises SIGPIPE on a reset connection; this sends
   with MSG_NOSIGNAL instead. false when the connection failed. */
bool am__redis_send(redisContext *ctx)
{
    size_t len = sdslen(ctx->obuf), done = 0;
    while (done < len) {
        ssize_t n = send(ctx->fd, ctx->obuf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ctx->err = REDIS_ERR_IO;
            snprintf(ctx->errstr, sizeof ctx->errstr, "%s",
                     n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? "write timed out"
                     : n < 0                                            ? strerror(errno)
                                                                        : "write failed");
            return false;
        }
        done += (size_t)n;
    }
    sdsclear(ctx->obuf);
    return true;
}

redisReply *am__redis_command(redisContext *ctx, int argc, const char **argv, const size_t *lens)
{
    if (redisAppendCommandArgv(ctx, argc, argv, lens) != REDIS_OK || !am__redis_send(ctx))
        return NULL;
    void *r = NULL;
    if (redisGetReply(ctx, &r) != REDIS_OK)
        return NULL;
    return r;
}

static bool reply_ok(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
}

am_err am__redis_connect(am__rbe *b, const am__rnode *node, int timeout_ms, redisContext **out)
{
    struct timeval tv = {AM__REDIS_CONNECT_TIMEOUT_MS / 1000,
                         (AM__REDIS_CONNECT_TIMEOUT_MS % 1000) * 1000};
    bool is_unix = node->port == 0;
    const char *where = node->addr;
    redisContext *ctx = is_unix ? redisConnectUnixWithTimeout(b->u.path, tv)
                                : redisConnectWithTimeout(node->host, node->port, tv);
    if (!ctx)
        return am__err(AM_EBACKEND, "redis at %s: out of memory connecting", where);
    if (ctx->err) {
        am_err rc = am__err(AM_EBACKEND, "redis at %s: cannot connect: %s", where, ctx->errstr);
        redisFree(ctx);
        return rc;
    }
    struct timeval op = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (redisSetTimeout(ctx, op) != REDIS_OK ||
        (!is_unix && redisEnableKeepAlive(ctx) != REDIS_OK)) {
        am_err rc =
            am__err(AM_EBACKEND, "redis at %s: cannot set socket options: %s", where, ctx->errstr);
        redisFree(ctx);
        return rc;
    }
    if (b->u.has_password) {
        /* AUTH [user] password: the user only for an ACL user */
        bool acl = b->u.user[0] != '\0';
        const char *argv[3] = {"AUTH", acl ? b->u.user : b->u.password, b->u.password};
        size_t lens[3] = {4, strlen(argv[1]), strlen(b->u.password)};
        redisReply *r = am__redis_command(ctx, acl ? 3 : 2, argv, lens);
        if (!reply_ok(r)) {
            am_err rc = am__err(AM_EBACKEND, "redis at %s: AUTH refused: %s", where,
                                r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")
                                  : ctx->errstr);
            if (r)
                freeReplyObject(r);
            redisFree(ctx);
            return rc;
        }
        freeReplyObject(r);
    }
    if (b->u.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", b->u.db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, strlen(db)};
        redisReply *r = am__redis_command(ctx, 2, argv, lens);
        if (!reply_ok(r)) {
            am_err rc = am__err(AM_EBACKEND, "redis at %s: SELECT %d refused: %s", where, b->u.db,
                                r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply")
                                  : ctx->errstr);
            if (r)
                freeReplyObject(r);
            redisFree(ctx);
            return rc;
        }
        freeReplyObject(r);
    }
    *out = ctx;
    return AM_OK;
}

bool am__redis_scripts_init(am__rbe *b)
{
    static const char shebang[] = "#!lua\n", cross[] = "#!lua flags=allow-cross-slot-keys\n";
    size_t total = 0;
    for (int i = 0; i < AM__N_SCRIPTS; i++) {
        b->text[i] = SCRIPTS[i].text;
        total += sizeof cross + strlen(SCRIPTS[i].text);
    }
    if (!b->is_cluster)
        return true;
    char *p = b->texts = am__malloc(total);
    if (!p)
        return false;
    for (int i = 0; i < AM__N_SCRIPTS; i++) {
        const char *head = SCRIPTS[i].cross ? cross : shebang;
        size_t h = strlen(head), n = strlen(SCRIPTS[i].text);
        b->text[i] = p;
        memcpy(p, head, h);
        memcpy(p + h, SCRIPTS[i].text, n + 1);
        p += h + n + 1;
    }
    return true;
}

am_err am__redis_load_scripts(am__rbe *b, const am__rnode *node, redisContext *ctx)
{
    for (int i = 0; i < AM__N_SCRIPTS; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", b->text[i]};
        size_t lens[3] = {6, 4, strlen(b->text[i])};
        redisReply *r = am__redis_command(ctx, 3, argv, lens);
        if (!r)
            return am__err(AM_EBACKEND, "redis at %s: connection lost loading scripts: %s",
                           node->addr, ctx->errstr);
        if (r->type != REDIS_REPLY_STRING || r->len != 40) {
            am_err rc =
                am__err(AM_EBACKEND, "redis at %s: cannot load script %s.lua: %.200s%s", node->addr,
                        SCRIPTS[i].name, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply",
                        b->is_cluster ? " (a cluster needs Redis >= 7)" : "");
            freeReplyObject(r);
            return rc;
        }
        memcpy(b->sha[i], r->str, 40);
        b->sha[i][40] = '\0';
        freeReplyObject(r);
    }
    return AM_OK;
}

am_err am__redis_reload(am__rbe *b, const am__rnode *node, redisContext *ctx, int script,
                        bool *lost)
{
    const char *lv[3] = {"SCRIPT", "LOAD", b->text[script]};
    size_t ll[3] = {6, 4, strlen(b->text[script])};
    redisReply *l = am__redis_command(ctx, 3, lv, ll);
    *lost = l == NULL;
    if (!l)
        return am__err(AM_EBACKEND, "redis at %s: connection lost reloading %s.lua: %s", node->addr,
                       SCRIPTS[script].name, ctx->errstr);
    am_err rc = AM_OK;
    if (l->type != REDIS_REPLY_STRING || l->len != 40 || memcmp(l->str, b->sha[script], 40) != 0)
        rc = am__err(AM_EBACKEND, "redis at %s: cannot reload script %s.lua: %.200s", node->addr,
                     SCRIPTS[script].name,
                     l->type == REDIS_REPLY_ERROR ? l->str : "unexpected reply");
    freeReplyObject(l);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Pools                                                               */
/* ------------------------------------------------------------------ */

bool am__redis_pool_init(am__rpool *p, am__rnode *node, size_t max, int timeout_ms)
{
    memset(p, 0, sizeof *p);
    p->node = node;
    p->idle = am__calloc(max, sizeof *p->idle);
    p->idle_since = am__calloc(max, sizeof *p->idle_since);
    if (!p->idle || !p->idle_since) {
        am__free(p->idle);
        am__free(p->idle_since);
        p->idle = NULL;
        return false;
    }
    p->max = max;
    p->timeout_ms = timeout_ms;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    return true;
}

void am__redis_pool_fini(am__rpool *p)
{
    if (!p->idle)
        return;
    for (size_t i = 0; i < p->n_idle; i++)
        redisFree(p->idle[i]);
    am__free(p->idle);
    am__free(p->idle_since);
    p->idle = NULL;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
}

/* Whether the server closed ctx while it sat in the pool (or sent
   something unasked): a non-blocking peek that finds end-of-file or data. */
static bool went_away(redisContext *ctx)
{
    char c;
    int saved = errno;
    ssize_t n = recv(ctx->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    bool gone = n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    errno = saved;
    return gone;
}

am_err am__redis_pool_get(am__rbe *b, am__rpool *p, redisContext **out)
{
    pthread_mutex_lock(&p->lock);
    while (!p->n_idle && p->n_live >= p->max)
        pthread_cond_wait(&p->cond, &p->lock);
    redisContext *ctx = NULL;
    uint64_t since = 0;
    if (p->n_idle) {
        ctx = p->idle[--p->n_idle];
        since = p->idle_since[p->n_idle];
    } else {
        p->n_live++;
    }
    pthread_mutex_unlock(&p->lock);
    if (ctx && am_now_ns() - since >= AM__REDIS_PEEK_IDLE_NS && went_away(ctx)) {
        redisFree(ctx);
        ctx = NULL;
    }
    if (!ctx) {
        am_err rc = am__redis_connect(b, p->node, p->timeout_ms, &ctx);
        if (rc) {
            pthread_mutex_lock(&p->lock);
            p->n_live--;
            pthread_cond_signal(&p->cond);
            pthread_mutex_unlock(&p->lock);
            return rc;
        }
    }
    *out = ctx;
    return AM_OK;
}

void am__redis_pool_put(am__rpool *p, redisContext *ctx, bool broken)
{
    uint64_t now = broken ? 0 : am_now_ns();
    if (broken)
        redisFree(ctx);
    pthread_mutex_lock(&p->lock);
    if (broken) {
        p->n_live--;
    } else {
        p->idle_since[p->n_idle] = now;
        p->idle[p->n_idle++] = ctx;
    }
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}
