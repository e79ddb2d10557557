/*
** coord_redis.c: the "redis://" and "unix://" coordinator backend --
** queues in Redis, shared by every process and host that uses the same
** server and key prefix.
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
** COST: a redis.call from Lua costs several times the command it runs, so
** the scripts make as few as they can: an ack is two (ZREM, DEL), a send
** six, a take six when nothing has expired. Two small hashes make that
** possible, both kept by the same scripts that change what they describe:
** agents (agent -> messages waiting), so max_queue is one HINCRBY -- and a
** send is refused only after the lists themselves confirm it, which also
** corrects the count -- and next (agent -> no later than its earliest
** timer), so a take looks for expired reservations and due retries only
** when one may be there. recover() looks at every agent regardless, and
** rebuilds next. What is reported -- lengths, ages -- is always read from
** the lists and sets themselves.
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
** flush() at close; the totals op reads that hash and adds what is not yet
** flushed, so every process's snapshot reports everyone's totals. A batch
** of deltas carries a number, and Redis applies each number once per
** process, so a batch whose reply was lost can be sent again without
** counting twice: counters never go backwards and never double. (A process
** killed with SIGKILL loses its last second of deltas.)
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
#include "../core/alloc.h"
#include "../core/error.h"
#include "coord_redis_conn.h"

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

static bool is_array(const redisReply *r, size_t min)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= min;
}

static bool el_int(const redisReply *r, size_t i, long long *v)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_INTEGER)
        return false;
    *v = r->element[i]->integer;
    return true;
}

/* A string element (NUL-terminated by hiredis), or NULL. */
static const char *el_str(const redisReply *r, size_t i, size_t *len)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    if (len)
        *len = r->element[i]->len;
    return r->element[i]->str;
}

static double to_double(const char *s)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    return s && end != s && *end == '\0' && isfinite(v) ? v : 0;
}

static long long to_ll(const char *s)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    return s && end != s && *end == '\0' ? v : 0;
}

static am_err bad_reply(am__rbe *b, int script, redisReply *r)
{
    if (r)
        freeReplyObject(r);
    return am__err(AM_EBACKEND, "redis at %s: unexpected reply from %s.lua", b->where,
                   am__redis_script_name(script));
}

/* Report n events ev for agent. */
static void events(am_coord *c, const char *agent, am__event ev, long long n)
{
    for (long long i = 0; i < n; i++)
        am__coord_event(c, agent, ev);
}

/* ------------------------------------------------------------------ */
/* Counters                                                            */
/* ------------------------------------------------------------------ */

/* Add this process's counter deltas to <prefix>:totals (see the top). */
static void flush_once(am_coord *c, bool final)
{
    am__rbe *b = c->be;
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
            return;
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
    if (am__redis_eval(b, AM__S_TOTALS_ADD, AM__N_TOTALS + 3, argv, NULL, &r) == AM_OK) {
        freeReplyObject(r);
        for (int i = 0; i < AM__N_TOTALS; i++)
            b->flushed[i] += b->batch[i];
        b->has_batch = false;
    } else if (final) {
        AM_LOG_WARNING(am__coord_opts(c).logger, "coordinator",
                       "counter deltas could not be added to Redis's totals before close",
                       AM_F_STR("redis", b->where), AM_F_STR("error", am_errmsg()));
    }
    pthread_mutex_unlock(&b->flush_lock);
}

static void *flusher(void *arg)
{
    am_coord *c = arg;
    am__rbe *b = c->be;
    pthread_mutex_lock(&b->stop_lock);
    while (!b->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&b->stop_cond, &b->stop_lock, &ts);
        if (b->stop)
            break;
        pthread_mutex_unlock(&b->stop_lock);
        flush_once(c, false);
        pthread_mutex_lock(&b->stop_lock);
    }
    pthread_mutex_unlock(&b->stop_lock);
    return NULL;
}

static void r_flush(am_coord *c)
{
    flush_once(c, false);
}

static am_err r_totals(am_coord *c, double *out)
{
    am__rbe *b = c->be;
    pthread_mutex_lock(&b->flush_lock);
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_TOTALS, 0, NULL, NULL, &r);
    if (rc == AM_OK && !is_array(r, AM__N_TOTALS))
        rc = bad_reply(b, AM__S_TOTALS, r);
    if (rc == AM_OK) {
        double cur[AM__N_TOTALS];
        am__coord_local(c, cur);
        for (int i = 0; i < AM__N_TOTALS; i++)
            out[i] = (double)to_ll(el_str(r, (size_t)i, NULL)) +
                     (cur[i] > b->flushed[i] ? cur[i] - b->flushed[i] : 0);
        freeReplyObject(r);
    }
    pthread_mutex_unlock(&b->flush_lock);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static void be_free(am__rbe *b)
{
    am__redis_pool_fini(&b->ops);
    am__redis_pool_fini(&b->waits);
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
    if (b->u.is_unix)
        snprintf(b->where, sizeof b->where, "%s", b->u.path);
    else if (strchr(b->u.host, ':'))
        snprintf(b->where, sizeof b->where, "[%s]:%d", b->u.host, b->u.port);
    else
        snprintf(b->where, sizeof b->where, "%s:%d", b->u.host, b->u.port);
    if (!am__redis_pool_init(&b->ops, (size_t)b->u.pool) ||
        !am__redis_pool_init(&b->waits, AM__REDIS_WAIT_POOL_MAX)) {
        be_free(b);
        return am__err(AM_ENOMEM, "out of memory opening the coordinator");
    }
    am_trace_ctx t;
    am_trace_new(&t);
    am_trace_id_hex(&t, b->proc);

    redisContext *ctx;
    if ((rc = am__redis_pool_get(b, &b->ops, &ctx))) {
        be_free(b);
        return rc;
    }
    rc = am__redis_load_scripts(b, ctx);
    am__redis_pool_put(&b->ops, ctx, rc != AM_OK);
    if (rc) {
        be_free(b);
        return rc;
    }
    c->be = b;
    /* The flusher takes no signals: block them all while it is created. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&b->thread, NULL, flusher, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        c->be = NULL;
        be_free(b);
        return am__err(AM_ENOMEM, "cannot start the coordinator's counter thread");
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
    flush_once(c, true);
    be_free(b);
    c->be = NULL;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static am_err r_add_agent(am_coord *c, const char *agent)
{
    redisReply *r;
    am_err rc = am__redis_eval(c->be, AM__S_ADD_AGENT, 1, &agent, NULL, &r);
    if (rc == AM_OK)
        freeReplyObject(r);
    return rc;
}

static am_err r_send(am_coord *c, const am__msg *m, size_t max_queue)
{
    am__rbe *b = c->be;
    char prio[4], maxq[24];
    snprintf(prio, sizeof prio, "%d", m->priority);
    snprintf(maxq, sizeof maxq, "%zu", max_queue);
    const char *argv[9] = {
        m->id, m->from,        m->to,         m->type, m->payload ? m->payload : "",
        prio,  m->traceparent, m->tracestate, maxq};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = i == 4 ? m->len : strlen(argv[i]);
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_SEND, 9, argv, lens, &r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer > 2)
        return bad_reply(b, AM__S_SEND, r);
    long long code = r->integer;
    freeReplyObject(r);
    if (code == 1)
        return am__err(AM_EEXIST, "a message with id \"%.64s\" is already queued", m->id);
    if (code == 2)
        return am__err(AM_EFULL, "the queue of \"%s\" holds %zu messages (max_queue)", m->to,
                       max_queue);
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
    am_err rc = am__redis_eval(b, AM__S_TAKE, 3, argv, NULL, &r);
    if (rc)
        return rc;
    const char *f[T_N];
    int nf = 0;
    if (is_array(r, 1) && r->element[0]->type == REDIS_REPLY_STRING)
        nf = split_head(r->element[0]->str, f);
    if (nf < T_ID + 1 || (f[T_STATUS][0] != '0' && f[T_STATUS][0] != '1') || f[T_STATUS][1])
        return bad_reply(b, AM__S_TAKE, r);
    events(c, agent, AM__EV_RECOVERED, to_ll(f[T_RECOVERED]));
    events(c, agent, AM__EV_DEAD_ATTEMPTS, to_ll(f[T_DEAD]));
    events(c, agent, AM__EV_DEAD_POISON, to_ll(f[T_POISON]));
    if (f[T_STATUS][0] == '1') {
        t_hint.c = c;
        t_hint.at_ns = am_now_ns();
        t_hint.next_in_s = f[T_NEXT_IN][0] ? to_double(f[T_NEXT_IN]) : -1;
        snprintf(t_hint.agent, sizeof t_hint.agent, "%s", agent);
        freeReplyObject(r);
        return AM_ETIMEDOUT;
    }
    size_t payload_len = 0;
    const char *payload = el_str(r, 1, &payload_len);
    if (nf != T_N || !payload || strlen(f[T_TOKEN]) >= AM__TOKEN_MAX)
        return bad_reply(b, AM__S_TAKE, r);
    am_coord_delivery *d =
        am__delivery_new(f[T_ID], f[T_FROM], agent, f[T_TYPE], payload, payload_len);
    if (!d) {
        freeReplyObject(r);
        return am__err(AM_ENOMEM, "out of memory delivering a message (it stays reserved until "
                                  "its visibility timeout)");
    }
    d->priority = (int)to_ll(f[T_PRIORITY]);
    d->attempt = (unsigned)to_ll(f[T_ATTEMPT]);
    d->enqueued_at = to_double(f[T_ENQUEUED]);
    d->ready_at = to_double(f[T_READY]);
    d->received_at = to_double(f[T_RECEIVED]);
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
    redisContext *ctx;
    if (am__redis_pool_get(b, &b->waits, &ctx) != AM_OK)
        return; /* take() will report the failure */
    char key[AM__REDIS_PREFIX_MAX + AM_COORD_MAX_NAME + 8], timeout[32];
    snprintf(key, sizeof key, "%s:sig:%s", b->u.prefix, agent);
    snprintf(timeout, sizeof timeout, "%.3f", until_s);
    double rto = until_s + (double)AM__REDIS_OP_TIMEOUT_MS / 1000;
    struct timeval tv = {(time_t)rto, (suseconds_t)((rto - (double)(time_t)rto) * 1e6)};
    redisSetTimeout(ctx, tv);
    const char *argv[3] = {"BLPOP", key, timeout};
    size_t lens[3] = {5, strlen(key), strlen(timeout)};
    redisReply *r = am__redis_command(ctx, 3, argv, lens);
    if (r)
        freeReplyObject(r);
    am__redis_pool_put(&b->waits, ctx, r == NULL);
}

/* ------------------------------------------------------------------ */
/* Settling                                                            */
/* ------------------------------------------------------------------ */

static am_err settle(am_coord *c, int script, const am_coord_delivery *d, const char *a4,
                     const char *a5)
{
    am__rbe *b = c->be;
    const char *argv[5] = {d->to, d->id, d->token, a4, a5};
    int argc = script == AM__S_ACK ? 3 : 5;
    redisReply *r;
    am_err rc = am__redis_eval(b, script, argc, argv, NULL, &r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER || (r->integer != 0 && r->integer != 1))
        return bad_reply(b, script, r);
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
    return settle(c, AM__S_ACK, d, NULL, NULL);
}

static am_err r_retry(am_coord *c, const am_coord_delivery *d, double delay_s, const char *error)
{
    char delay[32];
    snprintf(delay, sizeof delay, "%.6f", delay_s);
    return settle(c, AM__S_RETRY, d, delay, error ? error : "");
}

static am_err r_dead(am_coord *c, const am_coord_delivery *d, const char *reason, const char *error)
{
    return settle(c, AM__S_DEAD, d, reason, error ? error : "");
}

static am_err r_recover(am_coord *c, unsigned max_attempts, size_t *n)
{
    am__rbe *b = c->be;
    char maxa[16];
    snprintf(maxa, sizeof maxa, "%u", max_attempts);
    const char *argv[1] = {maxa};
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_RECOVER, 1, argv, NULL, &r);
    if (rc)
        return rc;
    long long total;
    if (!is_array(r, 1) || !el_int(r, 0, &total) || (r->elements - 1) % 4 != 0)
        return bad_reply(b, AM__S_RECOVER, r);
    for (size_t i = 1; i + 3 < r->elements; i += 4) {
        const char *agent = el_str(r, i, NULL);
        long long nrec = 0, ndead = 0, npois = 0;
        if (!agent || !el_int(r, i + 1, &nrec) || !el_int(r, i + 2, &ndead) ||
            !el_int(r, i + 3, &npois))
            continue;
        events(c, agent, AM__EV_RECOVERED, nrec);
        events(c, agent, AM__EV_DEAD_ATTEMPTS, ndead);
        events(c, agent, AM__EV_DEAD_POISON, npois);
    }
    freeReplyObject(r);
    if (n)
        *n = (size_t)total;
    return AM_OK;
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
    am_err rc = am__redis_eval(b, AM__S_DLQ_LIST, 2, argv, NULL, &r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % L_N != 0)
        return bad_reply(b, AM__S_DLQ_LIST, r);
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING)
            return bad_reply(b, AM__S_DLQ_LIST, r);
    size_t k = r->elements / L_N;
    am_coord_dlq_entry *e = k ? am__calloc(k, sizeof *e) : NULL;
    if (k && !e) {
        freeReplyObject(r);
        return am__err(AM_ENOMEM, "out of memory listing a DLQ");
    }
    for (size_t i = 0; i < k; i++) {
        redisReply **v = r->element + i * L_N;
        e[i].id = am__strdup(v[L_ID]->str);
        e[i].from = am__strdup(v[L_FROM]->str);
        e[i].to = am__strdup(v[L_TO]->len ? v[L_TO]->str : agent);
        e[i].type = am__strdup(v[L_TYPE]->str);
        e[i].payload = am__malloc(v[L_PAYLOAD]->len + 1);
        e[i].reason = am__strdup(v[L_REASON]->str);
        e[i].error = am__strdup(v[L_ERROR]->str);
        if (!e[i].id || !e[i].from || !e[i].to || !e[i].type || !e[i].payload || !e[i].reason ||
            !e[i].error) {
            freeReplyObject(r);
            am_coord_dlq_free(e, i + 1);
            return am__err(AM_ENOMEM, "out of memory listing a DLQ");
        }
        memcpy(e[i].payload, v[L_PAYLOAD]->str, v[L_PAYLOAD]->len + 1);
        e[i].len = v[L_PAYLOAD]->len;
        e[i].priority = (int)to_ll(v[L_PRIORITY]->str);
        long long att = to_ll(v[L_ATTEMPT]->str);
        e[i].attempts = att > 0 && att < 1000000000 ? (unsigned)att : 0;
        e[i].dead_at = to_double(v[L_DEAD_AT]->str);
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
    am_err rc = am__redis_eval(b, AM__S_DLQ_REPLAY, 3, argv, NULL, &r);
    if (rc)
        return rc;
    long long code, done, skipped;
    if (!is_array(r, 3) || !el_int(r, 0, &code) || !el_int(r, 1, &done) || !el_int(r, 2, &skipped))
        return bad_reply(b, AM__S_DLQ_REPLAY, r);
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
    am_err rc = am__redis_eval(b, AM__S_DLQ_PURGE, 1, &agent, NULL, &r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0)
        return bad_reply(b, AM__S_DLQ_PURGE, r);
    *n = (size_t)r->integer;
    freeReplyObject(r);
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Stats                                                               */
/* ------------------------------------------------------------------ */

static am_err r_stats(am_coord *c, const char *agent, am_coord_stats *out)
{
    am__rbe *b = c->be;
    memset(out, 0, sizeof *out);
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_STATS, 1, &agent, NULL, &r);
    if (rc)
        return rc;
    long long code;
    if (!is_array(r, 1) || !el_int(r, 0, &code))
        return bad_reply(b, AM__S_STATS, r);
    if (code == 1) {
        freeReplyObject(r);
        return am__err(AM_ENOTFOUND, "no agent \"%s\"", agent);
    }
    size_t len;
    const char *line = el_str(r, 1, &len);
    const char *name;
    size_t name_len;
    am_coord_stats st;
    if (!line || am__redis_lens_parse(line, len, &name, &name_len, &st) != AM_OK)
        return bad_reply(b, AM__S_STATS, r);
    freeReplyObject(r);
    *out = st;
    return AM_OK;
}

static am_err r_each_agent(am_coord *c,
                           void (*fn)(const char *agent, const am_coord_stats *st, void *ud),
                           void *ud)
{
    am__rbe *b = c->be;
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_EACH_AGENT, 0, NULL, NULL, &r);
    if (rc)
        return rc;
    if (r->type != REDIS_REPLY_STRING)
        return bad_reply(b, AM__S_EACH_AGENT, r);
    const char *p = r->str, *end = r->str + r->len;
    char name[AM_COORD_MAX_NAME + 1];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *agent;
        size_t agent_len;
        am_coord_stats st;
        /* A line that does not parse (a name someone else put in the set)
           is skipped: it cannot be an agent of ours. */
        if (am__redis_lens_parse(p, len, &agent, &agent_len, &st) == AM_OK) {
            memcpy(name, agent, agent_len);
            name[agent_len] = '\0';
            fn(name, &st, ud);
        }
        p += len + 1;
    }
    freeReplyObject(r);
    return AM_OK;
}

const am_coord_ops am__coord_redis = {
    .version = 1,
    .name = "redis",
    .open = r_open,
    .close = r_close,
    .add_agent = r_add_agent,
    .send = r_send,
    .take = r_take,
    .wait = r_wait,
    .ack = r_ack,
    .retry = r_retry,
    .dead = r_dead,
    .recover = r_recover,
    .dlq_list = r_dlq_list,
    .dlq_replay = r_dlq_replay,
    .dlq_purge = r_dlq_purge,
    .stats = r_stats,
    .each_agent = r_each_agent,
    .totals = r_totals,
    .flush = r_flush,
};
