/*
** coord_redis.c: the "redis://", "unix://" and "redis+cluster://"
** coordinator backend -- queues in Redis, shared by every process and host
** that uses the same server (or cluster) and key prefix.
**
** DESIGN
** Every operation is one Lua script run with EVALSHA (src/coord/lua/, keys
** described in common.lua): the script reads and changes everything it
** needs atomically, so consumers in many processes share an agent's queue
** without locks of their own, and a message is always in exactly one place
** -- a priority list, the delayed set, the reserved set or the DLQ --
** however the callers interleave. The scripts mirror coord_memory.c, which
** is the reference: priority then FIFO; an expired reservation goes back
** to the FRONT of its queue (LPUSH) or, out of attempts, to the DLQ; a due
** retry to the back (RPUSH) with ready_at = when it was due; ids are unique
** while a message exists. A reservation is named by a token -- its
** attempt, priority and Redis's time when it was made -- and the reserved
** set holds "<id>\t<token>": ack is one ZREM of exactly that member, which
** a consumer whose reservation expired (and was settled, or taken again)
** cannot match. All deadlines and due times are Redis's clock (TIME), so
** hosts whose clocks disagree still agree on them.
**
** LENGTHS: every script that moves a message also updates its agent's
** line in the hash <prefix>:lens:<n> -- the lengths of its three queues,
** delayed set, reservations and DLQ, the enqueued_at of each queue's head
** and its next timer (lib_lens.lua) -- in the same atomic script, so the
** lines are exact whenever no script runs, and a snapshot of any number of
** agents reads one hash in a few round trips (coord_redis_snap.c) instead
** of a dozen commands per agent. The same line makes the operations cheap:
** max_queue is checked against it (a refusal is confirmed on the lists
** themselves), a take pops only queues it says are not empty and looks
** for expired reservations and due retries only once its next timer has
** passed. A line can only disagree with the keys when something other
** than these scripts changes them (an edit by hand), or a script stops
** half-way (a key of the wrong type, Redis out of memory): every snapshot
** audits a slice of agents and stores the counts of any that disagree,
** and recover() audits every agent.
**
** COST: a redis.call from Lua costs several times the command it runs, so
** the scripts make as few as they can: an ack is four (ZREM, DEL, and
** reading and writing the agent's line), a send seven, a take six when
** nothing has expired.
**
** POISON: a message whose stored hash does not decode (missing, not a
** hash, a priority other than 1/5/9, an attempt or a time that is not a
** number) is dead-lettered with reason "poison" by whichever script meets
** it, instead of being delivered or breaking the script; the scripts
** return how many, and this file reports each with am__coord_event(), as
** it does the recoveries and max_attempts dead-letterings that take and
** recover perform on their own.
**
** BLOCKING RECEIVE: a send (and a retry, a replay, a recovery) pushes one
** token to <prefix>:sig:<agent> unless one is there; wait() BLPOPs it on a
** connection of the wait pool (coord_redis_conn.c), for no longer than
** until the agent's next retry is due or reservation expires -- which the
** take that just found nothing returned, kept in a thread-local hint --
** so a receiver wakes at once on a send from any process.
**
** COUNTERS: the generic layer counts (am__coord_local()). A background thread
** adds this process's deltas to the hash <prefix>:totals every second, and
** close() once more; a snapshot reads that hash and adds what is not yet
** flushed, so every process's snapshot reports everyone's totals. A batch
** of deltas carries a number, and Redis applies each number once per
** process, so a batch whose reply was lost can be sent again without
** counting twice: counters never go backwards and never double. (A process
** killed with SIGKILL loses its last second of deltas.)
**
** ON A REDIS CLUSTER the same scripts run, each on the master of the one
** slot its agent's keys are in (common.lua: every key of an agent carries
** its bucket's hash tag), so an operation is still one atomic script and
** one round trip -- plus a replica's confirmation (coord_redis_cluster.c
** routes, follows MOVED and ASK, reloads scripts, waits for a replica).
** What spans agents is read from every master and summed (the snapshot,
** the totals, kept per bucket; coord_redis_snap.c), and ids stay unique
** across agents by a claim in the id's own slot (coord_redis_claim.c),
** which costs a send one more round trip and an ack one more command
** beside it -- unless the id's slot is on the agent's master, when
** send.lua and ack.lua claim and release it themselves.
**
** THE BACKGROUND THREAD flushes the counters and then refreshes the
** snapshot the gauges show (am__coord_refresh()), every second -- the
** first a second after open, or at once when a scrape finds none yet
** (wake()). It uses a pool of its own whose reads have a 1 s deadline, so
** a hung Redis delays it (the snapshot grows old, and the failures are
** counted) but never a scrape, and close() waits for it at most that long,
** then makes its last flush with the same deadline.
**
** Threading: every op may run on any thread; the connection pools and
** flush_lock are the only shared state. Ownership: deliveries and DLQ
** entries are owned results as the API says; replies are freed here.
*/
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmon/log.h"
#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "coord_redis_conn.h"

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

am_err am__redis_bad_reply(am__rbe *b, int script, redisReply *r)
{
    if (r)
        freeReplyObject(r);
    return am__err(AM_EBACKEND, "redis at %s: unexpected reply from %s.lua", b->where,
                   am__redis_script_name(script));
}

void am__redis_events(am_coord *c, const char *agent, am__event ev, long long n)
{
    for (long long i = 0; i < n; i++)
        am__coord_event(c, agent, ev);
}

/* ------------------------------------------------------------------ */
/* Counters                                                            */
/* ------------------------------------------------------------------ */

/* Add this process's counter deltas to <prefix>:totals (see the top): the
   batch whose reply was lost, if there is one, else the deltas since the
   last. final: the process is leaving (and the batch is sent even when
   empty, to say so). false when Redis did not confirm it. */
static bool flush_once(am_coord *c, bool final)
{
    am__rbe *b = c->be;
    bool ok = true;
    pthread_mutex_lock(&b->flush_lock);
    if (!b->has_batch) {
        double cur[AM__N_TOTALS];
        am__coord_local(c, cur);
        bool any = false;
        for (int i = 0; i < AM__N_TOTALS; i++) {
            /* counters only grow; a smaller sum would be a bug, never a
               reason to count backwards */
            b->batch[i] = cur[i] > b->flushed[i] ? cur[i] - b->flushed[i] : 0;
            any = any || b->batch[i] > 0;
        }
        if (!any && !final) {
            pthread_mutex_unlock(&b->flush_lock);
            return true;
        }
        b->seq++;
        b->has_batch = true;
    }
    char nums[AM__N_TOTALS + 1][32];
    const char *argv[AM__N_TOTALS + 3];
    snprintf(nums[AM__N_TOTALS], sizeof nums[0], "%llu", (unsigned long long)b->seq);
    argv[0] = b->proc;
    argv[1] = nums[AM__N_TOTALS];
    argv[2] = final ? "1" : "0";
    for (int i = 0; i < AM__N_TOTALS; i++) {
        snprintf(nums[i], sizeof nums[i], "%.0f", b->batch[i]);
        argv[3 + i] = nums[i];
    }
    redisReply *r;
    if (am__redis_eval(b, AM__S_TOTALS_ADD, am__redis_bucket(b->proc, strlen(b->proc)),
                       AM__N_TOTALS + 3, argv, NULL, &r) == AM_OK) {
        freeReplyObject(r);
        for (int i = 0; i < AM__N_TOTALS; i++)
            b->flushed[i] += b->batch[i];
        b->has_batch = false;
    } else {
        ok = false;
    }
    pthread_mutex_unlock(&b->flush_lock);
    return ok;
}

static void *background(void *arg)
{
    am_coord *c = arg;
    am__rbe *b = c->be;
    am__redis_use_bg(true);
    pthread_mutex_lock(&b->stop_lock);
    while (!b->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        while (!b->stop && !b->wake &&
               pthread_cond_timedwait(&b->stop_cond, &b->stop_lock, &ts) == 0)
            ;
        if (b->stop)
            break;
        b->wake = false;
        pthread_mutex_unlock(&b->stop_lock);
        am__redis_map_refresh(b, false); /* a cluster: who serves what now */
        flush_once(c, false);
        am__coord_refresh(c);
        pthread_mutex_lock(&b->stop_lock);
    }
    pthread_mutex_unlock(&b->stop_lock);
    return NULL;
}

static void r_wake(am_coord *c)
{
    am__rbe *b = c->be;
    if (!b)
        return;
    pthread_mutex_lock(&b->stop_lock);
    b->wake = true;
    pthread_cond_signal(&b->stop_cond);
    pthread_mutex_unlock(&b->stop_lock);
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static void be_free(am__rbe *b)
{
    am__redis_nodes_free(b);
    am__free(b->texts);
    pthread_mutex_destroy(&b->flush_lock);
    pthread_mutex_destroy(&b->stop_lock);
    pthread_cond_destroy(&b->stop_cond);
    am__free(b);
}

static am_err r_open(am_coord *c, const char *uri)
{
    am__rbe *b = am__calloc(1, sizeof *b);
    if (!b)
        return am__err(AM_ENOMEM, "out of memory opening the coordinator");
    pthread_mutex_init(&b->flush_lock, NULL);
    pthread_mutex_init(&b->stop_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    am_err rc = am__redis_uri_parse(uri, &b->u);
    if (rc) {
        be_free(b);
        return rc;
    }
    const char *host_fmt = strchr(b->u.host, ':') ? "%s[%s]:%d" : "%s%s:%d";
    if (b->u.is_unix)
        snprintf(b->where, sizeof b->where, "%s", b->u.path);
    else
        snprintf(b->where, sizeof b->where, host_fmt, b->u.is_cluster ? "cluster " : "", b->u.host,
                 b->u.port);
    am_trace_ctx t;
    am_trace_new(&t);
    am_trace_id_hex(&t, b->proc);
    if ((rc = am__redis_nodes_open(b))) {
        be_free(b);
        return rc;
    }
    if (!am__redis_scripts_init(b)) {
        be_free(b);
        return am__err(AM_ENOMEM, "out of memory opening the coordinator");
    }
    /* The SHA1s, from the first node that serves a bucket (the others
       load a script when they first answer NOSCRIPT). */
    am__rnode *first = NULL;
    for (int i = 0; i < AM__REDIS_BUCKETS && !first; i++)
        first = am__redis_node_of(b, i);
    redisContext *ctx;
    if (!first) {
        be_free(b);
        return am__err(AM_EBACKEND, "redis at %s: no master serves any slot", b->where);
    }
    if ((rc = am__redis_pool_get(b, &first->ops, &ctx))) {
        be_free(b);
        return rc;
    }
    rc = am__redis_load_scripts(b, first, ctx);
    am__redis_pool_put(&first->ops, ctx, rc != AM_OK);
    if (rc) {
        be_free(b);
        return rc;
    }
    c->be = b;
    /* The thread takes no signals: block them all while it is created. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&b->thread, NULL, background, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        c->be = NULL;
        be_free(b);
        return am__err(AM_ENOMEM, "cannot start the coordinator's background thread");
    }
    b->has_thread = true;
    return AM_OK;
}

static void r_close(am_coord *c)
{
    am__rbe *b = c->be;
    if (!b)
        return;
    if (b->has_thread) {
        pthread_mutex_lock(&b->stop_lock);
        b->stop = true;
        pthread_cond_signal(&b->stop_cond);
        pthread_mutex_unlock(&b->stop_lock);
        pthread_join(b->thread, NULL);
    }
    /* The last flush -- a batch still unconfirmed, then what is left, said
       to be the last -- has the background pool's deadline too. */
    am__redis_use_bg(true);
    if (!flush_once(c, false) || !flush_once(c, true))
        AM_LOG_WARNING(am__coord_opts(c).logger, "coordinator",
                       "counter deltas could not be added to Redis's totals before close: this "
                       "process's last counts are missing from the shared totals",
                       AM_F_STR("redis", b->where), AM_F_STR("error", am_errmsg()));
    am__redis_use_bg(false);
    be_free(b);
    c->be = NULL;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* The bucket of an agent's keys. */
static int bucket_of(const char *agent)
{
    return am__redis_bucket(agent, strlen(agent));
}

static am_err r_add_agent(am_coord *c, const char *agent)
{
    redisReply *r;
    am_err rc = am__redis_eval(c->be, AM__S_ADD_AGENT, bucket_of(agent), 1, &agent, NULL, &r);
    if (rc == AM_OK)
        freeReplyObject(r);
    return rc;
}

static am_err r_send(am_coord *c, const am__msg *m, size_t max_queue)
{
    am__rbe *b = c->be;
    char prio[4], maxq[24], claim[AM__REDIS_CLAIM_MAX], ikey[AM__REDIS_BKEY_MAX + 8] = "";
    snprintf(prio, sizeof prio, "%d", m->priority);
    snprintf(maxq, sizeof maxq, "%zu", max_queue);
    /* On a cluster the id is claimed (coord_redis_claim.c): by send.lua
       itself when the id's bucket is the recipient's (a generated id's
       always is) or is served by the same master, else first, the long
       way. */
    int bucket = bucket_of(m->to), ibucket = am__redis_bucket(m->id, strlen(m->id));
    bool by_script = am__redis_near(b, ibucket, bucket);
    am_err rc;
    if (by_script) {
        am__redis_claim_value(b, m->to, claim);
        if (ibucket != bucket)
            am__redis_bkey(b, ibucket, "ids", ikey, sizeof ikey);
    } else if (b->is_cluster && (rc = am__redis_claim(b, m->id, m->to, claim))) {
        return rc;
    }
    const char *argv[12] = {
        m->id,          m->from,       m->to, m->type, m->payload ? m->payload : "", prio,
        m->traceparent, m->tracestate, maxq,  claim,   by_script ? "1" : "0",        ikey};
    size_t lens[12];
    for (int i = 0; i < 12; i++)
        lens[i] = i == 4 ? m->len : strlen(argv[i]);
    long long code = 3;
    for (int pass = 0; pass < 2 && code == 3; pass++) {
        if (pass == 1) { /* another agent holds the claim, or its slot moved: the long way */
            if ((rc = am__redis_claim(b, m->id, m->to, claim)))
                return rc;
            by_script = false;
            argv[10] = "0";
            lens[9] = strlen(claim);
            lens[10] = 1;
        }
        redisReply *r;
        bool elsewhere;
        rc = am__redis_eval_near(b, AM__S_SEND, bucket, b->is_cluster ? 12 : 9, argv, lens, &r,
                                 &elsewhere);
        if (rc && elsewhere && by_script) {
            code = 3; /* nothing ran */
            continue;
        }
        if (rc)
            return rc; /* a claim stays: the message may have landed */
        if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer > 3 ||
            (r->integer == 3 && !by_script))
            return am__redis_bad_reply(b, AM__S_SEND, r);
        code = r->integer;
        freeReplyObject(r);
    }
    if (code == 1)
        return am__err(AM_EEXIST, "a message with id \"%.64s\" is already queued", m->id);
    if (code == 2) {
        if (b->is_cluster && !by_script) { /* (send.lua claims only what it queues) */
            const char *id = m->id, *cl = claim;
            size_t il = strlen(id), cll = strlen(claim);
            am__redis_release(b, &id, &il, &cl, &cll, 1);
        }
        return am__err(AM_EFULL, "the queue of \"%s\" holds %zu messages (max_queue)", m->to,
                       max_queue);
    }
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */
/* ------------------------------------------------------------------ */

/* What the last take that found nothing said, for the wait() after it. */
static __thread struct {
    const am_coord *c;
    uint64_t at_ns;   /* monotonic, when take returned */
    double next_in_s; /* until a retry is due or a reservation expires; < 0: none */
    char agent[AM_COORD_MAX_NAME + 1];
} t_hint;

/* The fields of take.lua's head line. */
enum {
    T_STATUS,
    T_RECOVERED,
    T_DEAD,
    T_POISON,
    T_ID,
    T_NEXT_IN = T_ID, /* status 1 */
    T_FROM,
    T_TYPE,
    T_PRIORITY,
    T_ATTEMPT,
    T_ENQUEUED,
    T_READY,
    T_RECEIVED,
    T_TRACEPARENT,
    T_TRACESTATE,
    T_TOKEN,
    T_CLAIM,
    T_N
};

/* Split s (NUL-terminated, changed in place) at '\n' into at most T_N
   fields; returns how many. */
static int split_head(char *s, const char *f[T_N])
{
    int n = 0;
    for (;;) {
        if (n == T_N)
            return T_N + 1; /* too many */
        f[n++] = s;
        char *nl = strchr(s, '\n');
        if (!nl)
            return n;
        *nl = '\0';
        s = nl + 1;
    }
}

static am_err r_take(am_coord *c, const char *agent, double visibility_s, unsigned max_attempts,
                     am_coord_delivery **out)
{
    am__rbe *b = c->be;
    char vis[32], maxa[16];
    snprintf(vis, sizeof vis, "%.6f", visibility_s);
    snprintf(maxa, sizeof maxa, "%u", max_attempts);
    const char *argv[3] = {agent, vis, maxa};
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_TAKE, bucket_of(agent), 3, argv, NULL, &r);
    if (rc)
        return rc;
    const char *f[T_N];
    int nf = 0;
    if (am__is_array(r, 1) && r->element[0]->type == REDIS_REPLY_STRING)
        nf = split_head(r->element[0]->str, f);
    if (nf < T_ID + 1 || (f[T_STATUS][0] != '0' && f[T_STATUS][0] != '1') || f[T_STATUS][1])
        return am__redis_bad_reply(b, AM__S_TAKE, r);
    am__redis_events(c, agent, AM__EV_RECOVERED, am__to_ll(f[T_RECOVERED]));
    am__redis_events(c, agent, AM__EV_DEAD_ATTEMPTS, am__to_ll(f[T_DEAD]));
    am__redis_events(c, agent, AM__EV_DEAD_POISON, am__to_ll(f[T_POISON]));
    if (f[T_STATUS][0] == '1') {
        t_hint.c = c;
        t_hint.at_ns = am_now_ns();
        t_hint.next_in_s = f[T_NEXT_IN][0] ? am__to_double(f[T_NEXT_IN]) : -1;
        snprintf(t_hint.agent, sizeof t_hint.agent, "%s", agent);
        freeReplyObject(r);
        return AM_ETIMEDOUT;
    }
    size_t payload_len = 0;
    const char *payload = am__el_str(r, 1, &payload_len);
    if (nf != T_N || !payload || strlen(f[T_TOKEN]) >= AM__TOKEN_MAX)
        return am__redis_bad_reply(b, AM__S_TAKE, r);
    am_coord_delivery *d = am__delivery_new(f[T_ID], f[T_FROM], agent, f[T_TYPE], payload,
                                            payload_len, f[T_CLAIM][0] ? f[T_CLAIM] : NULL);
    if (!d) {
        freeReplyObject(r);
        return am__err(AM_ENOMEM, "out of memory delivering a message (it stays reserved until "
                                  "its visibility timeout)");
    }
    d->priority = (int)am__to_ll(f[T_PRIORITY]);
    d->attempt = (unsigned)am__to_ll(f[T_ATTEMPT]);
    d->enqueued_at = am__to_double(f[T_ENQUEUED]);
    d->ready_at = am__to_double(f[T_READY]);
    d->received_at = am__to_double(f[T_RECEIVED]);
    if (f[T_TRACEPARENT][0] &&
        am_traceparent_parse(f[T_TRACEPARENT], strlen(f[T_TRACEPARENT]), &d->trace) == AM_OK)
        am_tracestate_set(&d->trace, f[T_TRACESTATE], strlen(f[T_TRACESTATE]));
    memcpy(d->token, f[T_TOKEN], strlen(f[T_TOKEN]) + 1);
    freeReplyObject(r);
    *out = d;
    return AM_OK;
}

static void r_wait(am_coord *c, const char *agent, uint64_t deadline_ns)
{
    am__rbe *b = c->be;
    uint64_t now = am_now_ns();
    if (now >= deadline_ns)
        return;
    double until_s = (double)(deadline_ns - now) / 1e9;
    if (t_hint.c == c && now - t_hint.at_ns < 1000000000u && strcmp(t_hint.agent, agent) == 0) {
        if (t_hint.next_in_s >= 0) {
            double left = t_hint.next_in_s - (double)(now - t_hint.at_ns) / 1e9;
            if (left <= 0) {
                t_hint.c = NULL;
                return; /* due now: take again */
            }
            if (left < until_s)
                until_s = left;
        }
    } else if (until_s > 1) {
        until_s = 1; /* no hint: look at the queues again within a second */
    }
    t_hint.c = NULL;
    if (until_s < 0.001)
        until_s = 0.001; /* BLPOP's 0 would block for ever */
    int bucket = bucket_of(agent);
    am__rnode *node = am__redis_node_of(b, bucket);
    redisContext *ctx;
    if (!node || am__redis_pool_get(b, &node->waits, &ctx) != AM_OK)
        return; /* take() will report the failure */
    char key[AM__REDIS_BKEY_MAX + AM_COORD_MAX_NAME + 8], timeout[32], what[AM_COORD_MAX_NAME + 8];
    snprintf(what, sizeof what, "sig:%s", agent);
    am__redis_bkey(b, bucket, what, key, sizeof key);
    snprintf(timeout, sizeof timeout, "%.3f", until_s);
    double rto = until_s + (double)AM__REDIS_OP_TIMEOUT_MS / 1000;
    struct timeval tv = {(time_t)rto, (suseconds_t)((rto - (double)(time_t)rto) * 1e6)};
    redisSetTimeout(ctx, tv);
    const char *argv[3] = {"BLPOP", key, timeout};
    size_t lens[3] = {5, strlen(key), strlen(timeout)};
    redisReply *r = am__redis_command(ctx, 3, argv, lens);
    bool moved =
        r && r->type == REDIS_REPLY_ERROR; /* MOVED, CLUSTERDOWN, ...: the next take says */
    if (r)
        freeReplyObject(r);
    am__redis_pool_put(&node->waits, ctx, r == NULL);
    if (moved || !r)
        am__redis_map_refresh(b, false);
}

/* ------------------------------------------------------------------ */
/* Settling                                                            */
/* ------------------------------------------------------------------ */

/* Run script for d with ARGV d->to, d->id, d->token, a4, a5 (ack: as many
   as are not NULL). *elsewhere (ack only, may be NULL): as
   am__redis_eval_near. */
static am_err settle(am_coord *c, int script, const am_coord_delivery *d, const char *a4,
                     const char *a5, bool *elsewhere)
{
    am__rbe *b = c->be;
    const char *argv[5] = {d->to, d->id, d->token, a4, a5};
    int argc = script == AM__S_ACK ? (a4 ? (a5 ? 5 : 4) : 3) : 5;
    redisReply *r;
    am_err rc = am__redis_eval_near(b, script, bucket_of(d->to), argc, argv, NULL, &r, elsewhere);
    if (rc)
        return rc;
    if (script == AM__S_ACK && b->is_cluster && r->type == REDIS_REPLY_STRING) {
        /* acked; the id's claim (coord_redis_claim.c) is released */
        const char *id = d->id, *cl = r->str;
        size_t il = strlen(id), cll = r->len;
        am__redis_release(b, &id, &il, &cl, &cll, 1);
        freeReplyObject(r);
        return AM_OK;
    }
    if (r->type != REDIS_REPLY_INTEGER || (r->integer != 0 && r->integer != 1))
        return am__redis_bad_reply(b, script, r);
    long long code = r->integer;
    freeReplyObject(r);
    if (code == 1)
        return am__err(AM_ENOTFOUND,
                       "the reservation of message \"%.64s\" is no longer held (it "
                       "expired or was settled)",
                       d->id);
    return AM_OK;
}

static am_err r_ack(am_coord *c, const am_coord_delivery *d)
{
    am__rbe *b = c->be;
    const char *claim = b->is_cluster ? d->reserved[0] : NULL;
    if (!claim) /* standalone, or a delivery we did not make */
        return settle(c, AM__S_ACK, d, NULL, NULL, NULL);
    int ib = am__redis_bucket(d->id, strlen(d->id)), ab = bucket_of(d->to);
    if (am__redis_near(b, ib, ab)) {
        /* ack.lua releases it itself: in its own bucket, or in the id's
           on the same master */
        char ikey[AM__REDIS_BKEY_MAX + 8] = "";
        if (ib != ab)
            am__redis_bkey(b, ib, "ids", ikey, sizeof ikey);
        bool elsewhere;
        am_err rc = settle(c, AM__S_ACK, d, "1", ikey, &elsewhere);
        if (!elsewhere)
            return rc;
        /* the id's slot is on another master now: nothing ran */
    }
    /* On a cluster the id's claim is released in the same round trip as
       the ack (its master may be another: both at once), and restored if
       the ack did not happen (coord_redis_claim.c). */
    const char *ack_argv[3] = {d->to, d->id, d->token};
    const char *rel_argv[2] = {d->id, claim};
    const am__rcmd cmds[2] = {{3, ack_argv, NULL, AM__S_ACK, ab, NULL, false},
                              {2, rel_argv, NULL, AM__S_RELEASE, ib, NULL, false}};
    redisReply *r[2];
    am_err rc = am__redis_fanout(b, cmds, 2, r);
    if (rc) {
        am__redis_reclaim(b, d->id, claim); /* the ack may not have happened */
        return rc;
    }
    long long code = r[0]->type == REDIS_REPLY_INTEGER ? r[0]->integer : 0;
    if (r[0]->type == REDIS_REPLY_ERROR)
        rc = am__err(AM_EBACKEND, "redis at %s: ack.lua failed: %.300s", b->where, r[0]->str);
    else if (r[0]->type != REDIS_REPLY_STRING &&
             (r[0]->type != REDIS_REPLY_INTEGER || code < 0 || code > 1))
        rc = am__redis_bad_reply(b, AM__S_ACK, NULL);
    else if (code == 1)
        rc = am__err(AM_ENOTFOUND,
                     "the reservation of message \"%.64s\" is no longer held (it expired or "
                     "was settled)",
                     d->id);
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    if (rc)
        am__redis_reclaim(b, d->id, claim);
    return rc;
}

static am_err r_retry(am_coord *c, const am_coord_delivery *d, double delay_s, const char *error)
{
    char delay[32];
    snprintf(delay, sizeof delay, "%.6f", delay_s);
    return settle(c, AM__S_RETRY, d, delay, error ? error : "", NULL);
}

static am_err r_dead(am_coord *c, const am_coord_delivery *d, const char *reason, const char *error)
{
    return settle(c, AM__S_DEAD, d, reason, error ? error : "", NULL);
}

/* ------------------------------------------------------------------ */
/* Dead letters                                                        */
/* ------------------------------------------------------------------ */

enum {
    L_ID,
    L_FROM,
    L_TO,
    L_TYPE,
    L_PAYLOAD,
    L_PRIORITY,
    L_ATTEMPT,
    L_REASON,
    L_ERROR,
    L_DEAD_AT,
    L_N
};

static am_err r_dlq_list(am_coord *c, const char *agent, size_t max, am_coord_dlq_entry **out,
                         size_t *n)
{
    am__rbe *b = c->be;
    *out = NULL;
    *n = 0;
    char maxs[24];
    snprintf(maxs, sizeof maxs, "%zu", max < 1000000000u ? max : (size_t)1000000000u);
    const char *argv[2] = {agent, maxs};
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_DLQ_LIST, bucket_of(agent), 2, argv, NULL, &r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % L_N != 0)
        return am__redis_bad_reply(b, AM__S_DLQ_LIST, r);
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING)
            return am__redis_bad_reply(b, AM__S_DLQ_LIST, r);
    size_t k = r->elements / L_N;
    am_coord_dlq_entry *e = k ? am__calloc(k, sizeof *e) : NULL;
    if (k && !e) {
        freeReplyObject(r);
        return am__err(AM_ENOMEM, "out of memory listing a DLQ");
    }
    for (size_t i = 0; i < k; i++) {
        redisReply **v = r->element + i * L_N;
        const char *f[AM_DLQ_N] = {
            v[L_ID]->str,   v[L_FROM]->str,   v[L_TO]->len ? v[L_TO]->str : agent,
            v[L_TYPE]->str, v[L_REASON]->str, v[L_ERROR]->str};
        size_t lens[AM_DLQ_N] = {
            v[L_ID]->len,   v[L_FROM]->len,   v[L_TO]->len ? v[L_TO]->len : strlen(agent),
            v[L_TYPE]->len, v[L_REASON]->len, v[L_ERROR]->len};
        if (!am__dlq_entry_fill(&e[i], f, lens, v[L_PAYLOAD]->str, v[L_PAYLOAD]->len)) {
            freeReplyObject(r);
            am_coord_dlq_free(e, i + 1);
            return am__err(AM_ENOMEM, "out of memory listing a DLQ");
        }
        e[i].priority = (int)am__to_ll(v[L_PRIORITY]->str);
        long long att = am__to_ll(v[L_ATTEMPT]->str);
        e[i].attempts = att > 0 && att < 1000000000 ? (unsigned)att : 0;
        e[i].dead_at = am__to_double(v[L_DEAD_AT]->str);
    }
    freeReplyObject(r);
    *out = e;
    *n = k;
    return AM_OK;
}

static am_err r_dlq_replay(am_coord *c, const char *agent, const char *id, size_t max_queue,
                           size_t *n)
{
    am__rbe *b = c->be;
    *n = 0;
    char maxq[24];
    snprintf(maxq, sizeof maxq, "%zu", max_queue);
    const char *argv[3] = {agent, id ? id : "", maxq};
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_DLQ_REPLAY, bucket_of(agent), 3, argv, NULL, &r);
    if (rc)
        return rc;
    long long code, done, skipped;
    if (!am__is_array(r, 3) || !am__el_int(r, 0, &code) || !am__el_int(r, 1, &done) ||
        !am__el_int(r, 2, &skipped))
        return am__redis_bad_reply(b, AM__S_DLQ_REPLAY, r);
    freeReplyObject(r);
    *n = (size_t)done;
    switch (code) {
    case 0:
        return AM_OK;
    case 2:
        return am__err(AM_EFULL, "the queue of \"%s\" is full; %zu replayed", agent, *n);
    case 3:
        if (!id)
            return AM_OK;
        return am__err(AM_ENOTFOUND, "no dead letter \"%.64s\" for \"%s\"", id, agent);
    default:
        return am__err(AM_EINVAL,
                       "dead letter \"%.64s\" of \"%s\" cannot be decoded (poison); "
                       "it stays dead-lettered",
                       id ? id : "", agent);
    }
}

static am_err r_dlq_purge(am_coord *c, const char *agent, size_t *n)
{
    am__rbe *b = c->be;
    *n = 0;
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_DLQ_PURGE, bucket_of(agent), 1, &agent, NULL, &r);
    if (rc)
        return rc;
    if (b->is_cluster) {
        /* {how many, id, claim, ...}: the claims are released */
        long long k;
        if (!am__is_array(r, 1) || !am__el_int(r, 0, &k) || k < 0 || r->elements % 2 == 0)
            return am__redis_bad_reply(b, AM__S_DLQ_PURGE, r);
        size_t m = (r->elements - 1) / 2;
        const char **s = am__malloc((2 * m + 1) * sizeof *s);
        size_t *l = am__malloc((2 * m + 1) * sizeof *l);
        size_t k2 = 0;
        for (size_t i = 0; s && l && i < m; i++) {
            s[k2] = am__el_str(r, 1 + 2 * i, &l[k2]);
            s[m + k2] = am__el_str(r, 2 + 2 * i, &l[m + k2]);
            k2 += s[k2] && s[m + k2];
        }
        if (s && l) /* ids in s[0..k2), their claims in s[m..m + k2) */
            am__redis_release(b, s, l, s + m, l + m, k2);
        am__free(s);
        am__free(l);
        *n = (size_t)k;
        freeReplyObject(r);
        return AM_OK;
    }
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0)
        return am__redis_bad_reply(b, AM__S_DLQ_PURGE, r);
    *n = (size_t)r->integer;
    freeReplyObject(r);
    return AM_OK;
}

static void r_new_id(am_coord *c, const char *to, char out[33])
{
    am__redis_new_id(c->be, to, out);
}

const am_coord_ops am__coord_redis = {
    .version = 1,
    .name = "redis",
    .is_remote = true,
    .open = r_open,
    .close = r_close,
    .add_agent = r_add_agent,
    .send = r_send,
    .take = r_take,
    .wait = r_wait,
    .ack = r_ack,
    .retry = r_retry,
    .dead = r_dead,
    .recover = am__redis_recover,
    .dlq_list = r_dlq_list,
    .dlq_replay = r_dlq_replay,
    .dlq_purge = r_dlq_purge,
    .stats = am__redis_stats,
    .each_agent = am__redis_each_agent,
    .wake = r_wake,
    .new_id = r_new_id,
};
