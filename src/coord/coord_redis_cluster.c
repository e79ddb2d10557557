/*
** coord_redis_cluster.c: where each command of the Redis coordinator goes
** -- the nodes it talks to, the map from its 64 buckets to the masters of
** a Redis Cluster, and the running of commands on them: redirections
** followed, scripts loaded where they are missing, writes confirmed by a
** replica.
**
** DESIGN
** Every key of the coordinator belongs to a bucket (coord_redis_slot.c):
** an agent's keys to its bucket, a message id's claim to the id's. On a
** standalone server (redis://, unix://) there is one node and every
** bucket maps to it; nothing here then costs more than a pointer read. On
** a cluster (redis+cluster://) each bucket is one slot, and the map says
** which master serves it. The map is read at open and then again, from
** any node that answers, with CLUSTER SHARDS (CLUSTER SLOTS when a server
** refuses it): when a node answers MOVED (the slot moved: resharding, or
** a failover told us first), when a node cannot be reached or fails
** (a master killed: its replica will be promoted, and the map read after
** that names it), when no replica confirms a write, and every second from
** the background thread -- but not more than once per 100 ms, however
** many threads ask. Nodes are kept, each with its connection pools, for
** the life of the backend (a cluster names few; a node that is gone just
** fails to connect), so a pointer to one never dangles.
**
** RUNNING COMMANDS (am__redis_fanout): the commands of one call are
** grouped by node; each group is written in one send and all groups are
** sent before any reply is read, so a snapshot of every agent costs one
** round trip whatever the number of masters, the masters working in
** parallel. Connections are taken in the order of the nodes' indexes, so
** two threads fanning out never wait for each other's connection in a
** cycle. Then, per command:
**   - NOSCRIPT: the node never saw the script (another master, a replica
**     promoted, a restart, SCRIPT FLUSH); it is loaded there and run again.
**   - MOVED slot host:port: the map is stale: the bucket now goes to that
**     node, the map is read again, and the command runs there.
**   - ASK slot host:port: the slot is being migrated and the key is on the
**     importing node: the command runs there once, after ASKING, and the
**     map is left as it is.
**   - TRYAGAIN (a multi-key command during a migration): again, a little
**     later. Up to six tries in all.
** None of these ran the command, so sending it again is safe. A script
** declares its bucket's key (KEYS[1], "<prefix>:{<tag>}") so that the
** node checks the slot before it runs any of it.
**
** DURABILITY ON A CLUSTER: Redis replicates asynchronously, so a master
** killed just after it answered loses what its replica had not received
** yet -- a message sent, an ack. So a group with a command that changes
** what the caller relies on (send, take, ack, nack, ...) ends with WAIT 1
** when its master has an online replica: the reply then means a replica
** has the change, and the replica that takes over has it too. When no
** replica confirms within 1 s (it is down, and the cluster has not noticed
** yet), the call fails with AM_EBACKEND, as when a reply is lost: what it
** did may or may not survive, and the caller treats it as unknown (a send
** is sent again and refused AM_EEXIST if it landed). A master without a
** replica (the one promoted after a failover, until the old one returns
** as its replica) is not waited for: there is nothing to wait for.
**
** FAILURES: a node that cannot be reached fails its commands at once with
** AM_EBACKEND (after reading the map again: if another node serves the
** bucket now, the commands go there); a connection that fails after a
** command was sent fails the call the same way, but the command may have
** run, and it is never sent again (only the caller can know whether that
** is harmless). So while a master is being replaced (the cluster's node
** timeout, then an election: a few seconds) its buckets' operations fail
** fast, and the first one after the new master is in the map works.
**
** Threading: any thread. map_lock serializes map reads and adding nodes;
** the map itself (bucket_node[]) and node counts are atomics read without
** a lock. Ownership: nodes are the backend's; replies go to the caller.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "coord_redis_conn.h"

#define MAX_TRIES 6                              /* rounds of one fan-out: redirections, TRYAGAIN */
#define REFRESH_MIN_NS 100000000ull              /* the map is read at most this often */
#define BG_WAIT_MS (AM__REDIS_BG_TIMEOUT_MS / 2) /* WAIT within the background's deadline */

/* ------------------------------------------------------------------ */
/* Nodes                                                               */
/* ------------------------------------------------------------------ */

static void node_free(am__rnode *n)
{
    if (!n)
        return;
    am__redis_pool_fini(&n->ops);
    am__redis_pool_fini(&n->waits);
    am__redis_pool_fini(&n->bg);
    am__free(n);
}

/* A node host:port (port 0: the URI's unix socket), with its pools. */
static am__rnode *node_new(am__rbe *b, const char *host, int port)
{
    am__rnode *n = am__calloc(1, sizeof *n);
    if (!n)
        return NULL;
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    if (port == 0)
        snprintf(n->addr, sizeof n->addr, "%s", b->u.path);
    else if (strchr(host, ':'))
        snprintf(n->addr, sizeof n->addr, "[%s]:%d", host, port);
    else
        snprintf(n->addr, sizeof n->addr, "%s:%d", host, port);
    if (!am__redis_pool_init(&n->ops, n, (size_t)b->u.pool, AM__REDIS_OP_TIMEOUT_MS) ||
        !am__redis_pool_init(&n->waits, n, AM__REDIS_WAIT_POOL_MAX, AM__REDIS_OP_TIMEOUT_MS) ||
        !am__redis_pool_init(&n->bg, n, 1, AM__REDIS_BG_TIMEOUT_MS)) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* The node host:port, added if it is new; NULL on ENOMEM or when the
   backend follows AM__REDIS_NODES_MAX already. map_lock held. */
static am__rnode *node_get_locked(am__rbe *b, const char *host, int port)
{
    size_t n = atomic_load(&b->n_nodes);
    for (size_t i = 0; i < n; i++)
        if (b->nodes[i]->port == port && strcmp(b->nodes[i]->host, host) == 0)
            return b->nodes[i];
    if (n == AM__REDIS_NODES_MAX)
        return NULL;
    am__rnode *node = node_new(b, host, port);
    if (!node)
        return NULL;
    node->index = (int)n;
    b->nodes[n] = node;
    atomic_store(&b->n_nodes, n + 1);
    return node;
}

static am__rnode *node_get(am__rbe *b, const char *host, int port)
{
    pthread_mutex_lock(&b->map_lock);
    am__rnode *n = node_get_locked(b, host, port);
    pthread_mutex_unlock(&b->map_lock);
    return n;
}

am__rnode *am__redis_node_of(am__rbe *b, int bucket)
{
    return atomic_load(&b->bucket_node[bucket]);
}

size_t am__redis_serving(am__rbe *b, am__rnode **out)
{
    size_t k = 0;
    for (int i = 0; i < AM__REDIS_BUCKETS; i++) {
        am__rnode *n = atomic_load(&b->bucket_node[i]);
        size_t j = 0;
        while (n && j < k && out[j] != n)
            j++;
        if (n && j == k)
            out[k++] = n;
    }
    return k;
}

const char *am__redis_bkey(const am__rbe *b, int bucket, const char *what, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%s", b->is_cluster ? b->bkey[bucket] : b->u.prefix, what);
    return buf;
}

/* The bucket whose tag is in slot, or -1. */
static int bucket_of_slot(const am__rbe *b, int slot)
{
    for (int i = 0; i < AM__REDIS_BUCKETS; i++)
        if (b->bucket_slot[i] == slot)
            return i;
    return -1;
}

/* ------------------------------------------------------------------ */
/* The map                                                             */
/* ------------------------------------------------------------------ */

/* Read the topology from node at (on a connection of the calling
   thread's pool there: none is held while the map is read). */
static am_err read_topology(am__rbe *b, am__rnode *at, am__redis_topo *t)
{
    redisContext *ctx;
    am__rpool *pool = am__redis_ops_pool(at);
    am_err rc = am__redis_pool_get(b, pool, &ctx);
    if (rc)
        return rc;
    const char *shards[2] = {"CLUSTER", "SHARDS"}, *slots[2] = {"CLUSTER", "SLOTS"};
    redisReply *r = am__redis_command(ctx, 2, shards, NULL);
    bool old = r && r->type == REDIS_REPLY_ERROR; /* Redis < 7, or the command renamed */
    if (old) {
        freeReplyObject(r);
        r = am__redis_command(ctx, 2, slots, NULL);
    }
    if (!r)
        rc = am__err(AM_EBACKEND, "redis at %s: connection lost reading the cluster's slots: %s",
                     at->addr, ctx->errstr);
    else if (r->type == REDIS_REPLY_ERROR)
        rc = am__err(AM_EBACKEND, "redis at %s: CLUSTER SLOTS refused: %.200s (is it a cluster?)",
                     at->addr, r->str);
    else if ((rc = old ? am__redis_topo_slots(r, t) : am__redis_topo_shards(r, t)))
        rc = am__err(AM_EBACKEND, "redis at %s: %s", at->addr, am_errmsg());
    if (r)
        freeReplyObject(r);
    am__redis_pool_put(pool, ctx, r == NULL);
    return rc;
}

am_err am__redis_map_refresh(am__rbe *b, bool force)
{
    if (!b->is_cluster)
        return AM_OK;
    pthread_mutex_lock(&b->map_lock);
    uint64_t now = am_now_ns();
    if (!force && b->map_at_ns && now - b->map_at_ns < REFRESH_MIN_NS) {
        pthread_mutex_unlock(&b->map_lock);
        return AM_OK;
    }
    b->map_at_ns = now; /* a failed read too: others do not all try again at once */
    am__redis_topo *t = am__malloc(sizeof *t);
    if (!t) {
        pthread_mutex_unlock(&b->map_lock);
        return am__err(AM_ENOMEM, "out of memory reading the cluster's slots");
    }
    /* Ask the masters of the map first, then every node known (the seeds
       among them): the first that answers. */
    am__rnode *order[AM__REDIS_NODES_MAX];
    size_t k = am__redis_serving(b, order), n = atomic_load(&b->n_nodes);
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && order[j] != b->nodes[i])
            j++;
        if (j == k && k < AM__REDIS_NODES_MAX)
            order[k++] = b->nodes[i];
    }
    am_err rc = AM_EBACKEND;
    for (size_t i = 0; i < k && rc; i++)
        rc = read_topology(b, order[i], t);
    if (rc) {
        rc = am__err(AM_EBACKEND, "redis at %s: no node of the cluster tells its slots (last: %s)",
                     b->where, am_errmsg());
    } else {
        for (int i = 0; i < AM__REDIS_BUCKETS; i++) {
            int m = t->slot_master[b->bucket_slot[i]];
            am__rnode *node =
                m ? node_get_locked(b, t->masters[m - 1].host, t->masters[m - 1].port) : NULL;
            if (m && !node)
                continue; /* no room for another node: keep the old one */
            if (node)
                atomic_store(&node->replicas, t->masters[m - 1].replicas);
            atomic_store(&b->bucket_node[i], node);
        }
    }
    am__free(t);
    pthread_mutex_unlock(&b->map_lock);
    return rc;
}

am_err am__redis_nodes_open(am__rbe *b)
{
    b->is_cluster = b->u.is_cluster;
    pthread_mutex_init(&b->map_lock, NULL);
    for (int i = 0; i < AM__REDIS_BUCKETS; i++) {
        char tag[AM__REDIS_TAG_MAX];
        am__redis_bucket_tag(i, tag, &b->bucket_slot[i]);
        snprintf(b->bkey[i], sizeof b->bkey[i], "%s:{%s}", b->u.prefix, tag);
    }
    if (!b->is_cluster) {
        am__rnode *n = node_get(b, b->u.is_unix ? "" : b->u.host, b->u.is_unix ? 0 : b->u.port);
        if (!n)
            return am__err(AM_ENOMEM, "out of memory opening the coordinator");
        for (int i = 0; i < AM__REDIS_BUCKETS; i++)
            atomic_store(&b->bucket_node[i], n);
        return AM_OK;
    }
    for (int i = 0; i < b->u.n_seeds; i++)
        if (!node_get(b, b->u.seeds[i].host, b->u.seeds[i].port))
            return am__err(AM_ENOMEM, "out of memory opening the coordinator");
    return am__redis_map_refresh(b, true);
}

void am__redis_nodes_free(am__rbe *b)
{
    size_t n = atomic_load(&b->n_nodes);
    for (size_t i = 0; i < n; i++)
        node_free(b->nodes[i]);
    atomic_store(&b->n_nodes, 0);
    pthread_mutex_destroy(&b->map_lock);
}

/* ------------------------------------------------------------------ */
/* Running commands                                                    */
/* ------------------------------------------------------------------ */

/* Which kind of error reply r is, for the fan-out. */
enum { R_OK, R_MOVED, R_ASK, R_TRYAGAIN, R_NOSCRIPT, R_DOWN };

static bool starts(const redisReply *r, const char *word)
{
    size_t n = strlen(word);
    return r->len >= n && memcmp(r->str, word, n) == 0;
}

static int kind_of(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR)
        return R_OK;
    if (starts(r, "MOVED "))
        return R_MOVED;
    if (starts(r, "ASK "))
        return R_ASK;
    if (starts(r, "TRYAGAIN"))
        return R_TRYAGAIN;
    if (starts(r, "NOSCRIPT"))
        return R_NOSCRIPT;
    if (starts(r, "CLUSTERDOWN") || starts(r, "LOADING") || starts(r, "MASTERDOWN"))
        return R_DOWN;
    return R_OK; /* an error of the command itself: the caller's */
}

/* Per command of a fan-out. */
typedef struct cstate {
    const char **argv; /* as sent (EVALSHA ... for a script) */
    size_t *lens;
    int argc;
    bool confirm;
    bool pending;     /* to send (again) */
    am__rnode *node;  /* where it goes this round */
    am__rnode *asked; /* ASK: run it there once, after ASKING */
} cstate;

/* Per node of a round. */
typedef struct group {
    am__rnode *node;
    am__rpool *pool;
    redisContext *ctx;
    size_t *idx, n; /* its commands */
    bool wait;      /* ends with WAIT */
    bool failed;    /* a connection failure: what it sent may have run */
    bool unreached; /* could not connect: nothing ran */
    bool unconfirmed;
    char why[256]; /* unreached: why */
} group;

/* Append command c (after ASKING when it was asked there). */
static bool append(redisContext *ctx, const cstate *c)
{
    if (c->asked && redisAppendCommand(ctx, "ASKING") != REDIS_OK)
        return false;
    return redisAppendCommandArgv(ctx, c->argc, c->argv, c->lens) == REDIS_OK;
}

/* Read one reply; NULL when the connection failed. */
static redisReply *read_reply(redisContext *ctx)
{
    void *r = NULL;
    if (redisGetReply(ctx, &r) != REDIS_OK)
        return NULL;
    return r;
}

/* Read c's reply (and ASKING's before it) into *out. */
static bool read_one(redisContext *ctx, const cstate *c, redisReply **out)
{
    if (c->asked) {
        redisReply *a = read_reply(ctx);
        if (!a)
            return false;
        freeReplyObject(a);
    }
    *out = read_reply(ctx);
    return *out != NULL;
}

/* A WAIT's reply: false (unconfirmed) unless a replica has it. */
static bool read_wait(redisContext *ctx, bool *lost)
{
    redisReply *w = read_reply(ctx);
    *lost = w == NULL;
    bool ok = w && w->type == REDIS_REPLY_INTEGER && w->integer >= 1;
    if (w)
        freeReplyObject(w);
    return ok;
}

static bool send_wait(redisContext *ctx, bool is_bg)
{
    char ms[16];
    snprintf(ms, sizeof ms, "%d", is_bg ? BG_WAIT_MS : AM__REDIS_WAIT_MS);
    return redisAppendCommand(ctx, "WAIT 1 %s", ms) == REDIS_OK;
}

/* Whether the calling thread uses the background pools (their deadline). */
static bool on_bg(am__rnode *node)
{
    return am__redis_ops_pool(node) == &node->bg;
}

/* The script command c after NOSCRIPT: load it on g's connection and run
   it again (with its WAIT). false when the connection failed. */
static bool rerun(am__rbe *b, group *g, cstate *c, int script, redisReply **out, am_err *rc)
{
    bool lost = false;
    if ((*rc = am__redis_reload(b, g->node, g->ctx, script, &lost))) {
        g->failed = lost;
        return !lost;
    }
    bool wait = c->confirm && atomic_load(&g->node->replicas) > 0;
    if (!append(g->ctx, c) || (wait && !send_wait(g->ctx, on_bg(g->node))) ||
        !am__redis_send(g->ctx) || !read_one(g->ctx, c, out)) {
        g->failed = true;
        return false;
    }
    if (wait && !read_wait(g->ctx, &lost)) {
        g->failed = lost;
        g->unconfirmed = !lost;
    }
    return !g->failed;
}

/* Send g's commands (sent before any group is read). */
static void send_group(am__rbe *b, group *g, cstate *cs)
{
    g->pool = am__redis_ops_pool(g->node);
    if (am__redis_pool_get(b, g->pool, &g->ctx) != AM_OK) {
        g->ctx = NULL;
        g->unreached = true;
        snprintf(g->why, sizeof g->why, "%s", am_errmsg());
        return;
    }
    bool ok = true, confirm = false;
    for (size_t i = 0; i < g->n && ok; i++) {
        ok = append(g->ctx, &cs[g->idx[i]]);
        confirm = confirm || cs[g->idx[i]].confirm;
    }
    g->wait = b->is_cluster && confirm && atomic_load(&g->node->replicas) > 0;
    if (ok && g->wait)
        ok = send_wait(g->ctx, on_bg(g->node));
    if (!ok || !am__redis_send(g->ctx))
        g->failed = true;
}

/* Read g's replies into out; NOSCRIPT ones loaded and run again. */
static void read_group(am__rbe *b, group *g, cstate *cs, const am__rcmd *cmds, redisReply **out,
                       am_err *script_rc)
{
    for (size_t i = 0; i < g->n && !g->failed; i++)
        if (!read_one(g->ctx, &cs[g->idx[i]], &out[g->idx[i]]))
            g->failed = true;
    bool lost = false;
    if (!g->failed && g->wait && !read_wait(g->ctx, &lost)) {
        g->failed = lost;
        g->unconfirmed = !lost;
    }
    for (size_t i = 0; i < g->n && !g->failed; i++) {
        size_t k = g->idx[i];
        if (cmds[k].script < 0 || kind_of(out[k]) != R_NOSCRIPT)
            continue;
        freeReplyObject(out[k]);
        out[k] = NULL;
        am_err rc;
        if (!rerun(b, g, &cs[k], cmds[k].script, &out[k], &rc) || rc) {
            if (rc)
                *script_rc = rc;
            break;
        }
    }
}

static void free_replies(redisReply **out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i]) {
            freeReplyObject(out[i]);
            out[i] = NULL;
        }
}

/* Build each command as sent: a script's EVALSHA head added. */
static bool expand(am__rbe *b, const am__rcmd *cmds, size_t n, cstate *cs, const char **av,
                   size_t *al)
{
    for (size_t i = 0; i < n; i++) {
        const am__rcmd *c = &cmds[i];
        cs[i].argv = av;
        cs[i].lens = al;
        cs[i].pending = true;
        size_t k = 0;
        if (c->script >= 0) {
            bool keyed = b->is_cluster && c->bucket >= 0;
            av[k] = "EVALSHA";
            al[k++] = 7;
            av[k] = b->sha[c->script];
            al[k++] = 40;
            av[k] = keyed ? "1" : "0";
            al[k++] = 1;
            if (keyed) {
                av[k] = b->bkey[c->bucket];
                al[k] = strlen(av[k]);
                k++;
            }
            av[k] = b->u.prefix;
            al[k] = strlen(av[k]);
            k++;
            cs[i].confirm = am__redis_script_confirms(c->script);
        } else {
            cs[i].confirm = c->confirm;
        }
        for (int j = 0; j < c->argc; j++, k++) {
            av[k] = c->argv[j];
            al[k] = c->lens ? c->lens[j] : strlen(c->argv[j]);
        }
        cs[i].argc = (int)k;
        av += k;
        al += k;
    }
    return true;
}

/* Follow out[i]'s redirection, if it is one: true when cs[i] is to be
   sent again. */
static bool redirected(am__rbe *b, cstate *c, const am__rcmd *cmd, redisReply **out, bool *pause,
                       bool *refresh)
{
    int kind = kind_of(*out);
    if (kind != R_MOVED && kind != R_ASK && kind != R_TRYAGAIN)
        return false;
    if (kind == R_TRYAGAIN) {
        *pause = true;
    } else {
        bool is_ask;
        int slot, port;
        char host[AM__REDIS_HOST_MAX + 1];
        if (am__redis_redirect_parse((*out)->str, (*out)->len, &is_ask, &slot, host, &port))
            return false; /* left to the caller as an error reply */
        am__rnode *to = node_get(b, host[0] ? host : c->node->host, port);
        if (!to)
            return false;
        if (is_ask) {
            c->asked = to;
        } else {
            c->asked = NULL;
            int bucket = cmd->bucket >= 0 ? cmd->bucket : bucket_of_slot(b, slot);
            if (bucket >= 0 && b->bucket_slot[bucket] == slot)
                atomic_store(&b->bucket_node[bucket], to);
            *refresh = true;
        }
    }
    freeReplyObject(*out);
    *out = NULL;
    return true;
}

am_err am__redis_fanout(am__rbe *b, const am__rcmd *cmds, size_t n, redisReply **out)
{
    size_t words = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        words += (size_t)cmds[i].argc + 5;
    }
    /* an operation's one or two commands need no allocation */
    enum { FEW = 4, FEW_WORDS = 48 };
    cstate cs_few[FEW];
    group gs_few[FEW];
    size_t idx_few[FEW], al_few[FEW_WORDS];
    const char *av_few[FEW_WORDS];
    bool few = n <= FEW && words <= FEW_WORDS;
    cstate *cs = few ? cs_few : am__calloc(n, sizeof *cs);
    group *gs = few ? gs_few : am__calloc(n, sizeof *gs);
    size_t *idx = few ? idx_few : am__calloc(n, sizeof *idx);
    const char **av = few ? av_few : am__malloc(words * sizeof *av);
    size_t *al = few ? al_few : am__malloc(words * sizeof *al);
    if (few) {
        memset(cs_few, 0, sizeof cs_few);
        memset(gs_few, 0, sizeof gs_few);
    }
    am_err rc = AM_OK;
    if (!cs || !gs || !idx || !av || !al) {
        rc = am__err(AM_ENOMEM, "out of memory sending commands to redis");
        goto done;
    }
    expand(b, cmds, n, cs, av, al);
    for (int round = 0; !rc; round++) {
        /* where each pending command goes */
        size_t np = 0;
        for (size_t i = 0; i < n; i++) {
            if (!cs[i].pending)
                continue;
            cs[i].node = cs[i].asked           ? cs[i].asked
                         : cmds[i].bucket >= 0 ? am__redis_node_of(b, cmds[i].bucket)
                                               : cmds[i].node;
            if (!cs[i].node && cmds[i].bucket >= 0 && am__redis_map_refresh(b, false) == AM_OK)
                cs[i].node = am__redis_node_of(b, cmds[i].bucket);
            if (!cs[i].node && cmds[i].bucket < 0) {
                rc = am__err(AM_EBACKEND, "redis at %s: a command for no node", b->where);
                break;
            }
            if (!cs[i].node) {
                rc = am__err(AM_EBACKEND, "redis at %s: no master serves slot %d (of bucket %d)",
                             b->where, b->bucket_slot[cmds[i].bucket], cmds[i].bucket);
                break;
            }
            idx[np++] = i;
        }
        if (rc || np == 0)
            break;
        if (round == MAX_TRIES) {
            rc = am__err(AM_EBACKEND,
                         "redis at %s: still redirected after %d tries (the cluster is "
                         "resharding or failing over)",
                         b->where, MAX_TRIES);
            break;
        }
        /* group by node, in the order of their indexes (insertion sort:
           a fan-out has at most a few hundred commands) */
        for (size_t i = 1; i < np; i++)
            for (size_t j = i; j > 0 && cs[idx[j - 1]].node->index > cs[idx[j]].node->index; j--) {
                size_t t = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = t;
            }
        size_t ng = 0;
        for (size_t i = 0; i < np; i++) {
            if (ng == 0 || gs[ng - 1].node != cs[idx[i]].node)
                gs[ng++] = (group){.node = cs[idx[i]].node, .idx = &idx[i]};
            gs[ng - 1].n++;
            cs[idx[i]].pending = false;
        }
        for (size_t g = 0; g < ng; g++)
            send_group(b, &gs[g], cs);
        am_err script_rc = AM_OK;
        for (size_t g = 0; g < ng; g++)
            if (gs[g].ctx && !gs[g].failed)
                read_group(b, &gs[g], cs, cmds, out, &script_rc);
        /* judge the round */
        bool refresh = false, pause = false;
        for (size_t g = 0; g < ng; g++) {
            group *gr = &gs[g];
            if (gr->ctx) {
                if (gr->failed && !rc)
                    rc = am__err(AM_EBACKEND, "redis at %s: connection lost: %s", gr->node->addr,
                                 gr->ctx->err ? gr->ctx->errstr : "no reply");
                else if (gr->unconfirmed && !rc)
                    rc = am__err(AM_EBACKEND,
                                 "redis at %s: no replica confirmed the write within %d ms: it "
                                 "may be lost if this master fails",
                                 gr->node->addr, on_bg(gr->node) ? BG_WAIT_MS : AM__REDIS_WAIT_MS);
                am__redis_pool_put(gr->pool, gr->ctx, gr->failed);
            }
            refresh = refresh || gr->failed || gr->unconfirmed || gr->unreached;
        }
        if (!rc && script_rc)
            rc = script_rc;
        for (size_t g = 0; g < ng && !rc; g++) {
            group *gr = &gs[g];
            if (gr->unreached) {
                /* nothing ran there: if another node serves it now, try it */
                am__redis_map_refresh(b, false);
                for (size_t i = 0; i < gr->n; i++) {
                    cstate *c = &cs[gr->idx[i]];
                    am__rnode *now = c->asked || cmds[gr->idx[i]].bucket < 0
                                         ? NULL
                                         : am__redis_node_of(b, cmds[gr->idx[i]].bucket);
                    if (now && now != gr->node)
                        c->pending = true;
                    else
                        rc = am__err(AM_EBACKEND, "%s", gr->why);
                }
                continue;
            }
            for (size_t i = 0; i < gr->n; i++) {
                size_t k = gr->idx[i];
                cs[k].asked = NULL; /* an ASK is for one command: redirected() sets it again */
                if (redirected(b, &cs[k], &cmds[k], &out[k], &pause, &refresh))
                    cs[k].pending = true;
                else if (kind_of(out[k]) == R_DOWN && !rc)
                    rc = am__err(AM_EBACKEND, "redis at %s: %.200s", gr->node->addr, out[k]->str);
            }
        }
        for (size_t g = 0; g < ng; g++)
            gs[g] = (group){0};
        if (refresh)
            am__redis_map_refresh(b, false);
        if (pause && !rc) {
            struct timespec ts = {0, 10000000L * (round + 1)};
            nanosleep(&ts, NULL);
        }
    }
done:
    if (rc)
        free_replies(out, n);
    if (!few) {
        am__free(cs);
        am__free(gs);
        am__free(idx);
        am__free(av);
        am__free(al);
    }
    return rc;
}

am_err am__redis_eval_near(am__rbe *b, int script, int bucket, int argc, const char *const *argv,
                           const size_t *lens, redisReply **out, bool *elsewhere)
{
    const am__rcmd cmd = {argc, argv, lens, script, bucket, NULL, false};
    redisReply *r = NULL;
    if (elsewhere)
        *elsewhere = false;
    am_err rc = am__redis_fanout(b, &cmd, 1, &r);
    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_ERROR && elsewhere && starts(r, "ERR Script attempted to access") &&
        strstr(r->str, "non local key")) {
        *elsewhere = true; /* refused at its first key there: nothing ran */
        freeReplyObject(r);
        return am__err(AM_EBACKEND, "redis at %s: %s.lua reached a slot its master does not serve",
                       b->where, am__redis_script_name(script));
    }
    if (r->type == REDIS_REPLY_ERROR) {
        rc = am__err(AM_EBACKEND, "redis at %s: %s.lua failed: %.300s", b->where,
                     am__redis_script_name(script), r->str);
        freeReplyObject(r);
        return rc;
    }
    *out = r;
    return AM_OK;
}

am_err am__redis_eval(am__rbe *b, int script, int bucket, int argc, const char *const *argv,
                      const size_t *lens, redisReply **out)
{
    return am__redis_eval_near(b, script, bucket, argc, argv, lens, out, NULL);
}
