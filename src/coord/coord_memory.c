/*
** coord_memory.c: the "memory:" coordinator backend -- queues in this
** process, for agents that share it.
**
** DESIGN
** One lock per agent and none over all of them: the agent table is read
** without a lock (an agent, once made, lives until close; see atab), and
** each agent has its own mutex and condition variable. An agent holds
**   - three FIFO lists, one per priority (HIGH, NORMAL, LOW),
**   - a heap of messages waiting for a retry's backoff, by due time,
**   - its reservations: a heap by expiry and a table by reservation serial,
**   - its dead-letter list.
** A message is one allocation (struct, strings, payload) that moves between
** these places and is freed when acked or purged. Message ids are unique in
** the coordinator, checked in an id set split into 64 locked shards (so
** sends to different agents rarely meet there either).
**
** A reservation is named by a serial that its agent never reuses; ack and nack
** find it by that serial, so a consumer whose reservation expired and was
** handed to someone else gets AM_ENOTFOUND instead of settling the other
** consumer's delivery. Expired reservations are settled lazily by take()
** for its agent, and for everyone by recover().
**
** Times: wall-clock seconds for what is reported (enqueued, dead), and the
** same clock for due times and expiries; waits convert to the monotonic
** clock for pthread_cond_timedwait.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/atomic.h"
#include "../util/error.h"
#include "../util/hash.h"
#include "coord.h"
#include "heap.h"

enum { Q_QUEUED, Q_DELAYED, Q_INFLIGHT, Q_DEAD };

typedef struct magent magent;

typedef struct mmsg {
    am_heap_node hn;          /* in delayed (due) or inflight (expiry) */
    struct mmsg *next, *prev; /* in a priority list or the DLQ */
    magent *agent;
    uint64_t id_hash;
    size_t id_len;
    uint64_t serial; /* the current reservation (its key in res) */
    int prio;
    int where;
    unsigned attempt;
    double enq_at, ready_at, dead_at;
    char *reason, *error; /* allocated when set */
    char traceparent[AM_TRACEPARENT_LEN + 1];
    char *id, *from, *to, *type, *tracestate;
    char *payload;
    size_t len;
    char data[];
} mmsg;

typedef struct mlist {
    mmsg *head, *tail;
    size_t n;
    double head_enq; /* head->enq_at, kept here so stats need not
                        touch a message per queue (10,000 agents) */
} mlist;

struct magent {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *name;
    uint64_t hash;
    mlist q[3];
    mlist dlq;
    am_heap delayed, inflight;
    am__map res;     /* reservations: serial (borrowed: &m->serial) -> m */
    uint64_t serial; /* the next reservation's: unique in the agent, whose
                        table alone ack and nack look it up in */
    /* agents sit side by side in their slab, and two threads working on
       two of them would otherwise write one cache line at their border */
    char pad[AM_CACHE_LINE];
};

/* The agent table: open addressing over atomic pointers, read without a
   lock. Agents are never removed before close, and a grown table replaces
   the old one, which is kept (a reader may be in it) until close. It is not
   an am__map, agentmon's one map, because that map has no lock of its own
   and is read under its owner's: this table is read by every send, take
   and ack of every thread with none (a shared lock here would be a cache
   line all of them write), and an am__map safe for such readers would need
   atomic slots and every old table kept, costs its other users would pay. */
typedef struct atab {
    size_t cap;
    struct atab *older;
    magent *_Atomic s[];
} atab;

#define SHARDS 64

typedef struct idshard {
    pthread_mutex_t lock;
    am__map ids;             /* id (borrowed: the message's) -> message */
    char pad[AM_CACHE_LINE]; /* its neighbours' locks on other cache lines */
} idshard;

/* Agents live in slabs of SLAB, in creation order, so walking all of them
   (a scrape, a snapshot of 10,000 agents) reads memory front to back. */
#define SLAB 256

typedef struct slabs {
    size_t cap;
    struct slabs *older;
    magent *v[]; /* v[i] holds agents i*SLAB .. i*SLAB+SLAB-1 */
} slabs;

typedef struct mem {
    atab *_Atomic tab;
    slabs *_Atomic slab;
    _Atomic size_t n;          /* agents made */
    pthread_mutex_t grow_lock; /* adding agents */
    char pad[AM_CACHE_LINE];   /* what every call reads, away from the shards' locks */
    idshard ids[SHARDS];
} mem;

static uint64_t hash_str(const char *s)
{
    return am__hash64(0, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* Lists, the reservation table, the id set                            */
/* ------------------------------------------------------------------ */

static void list_push(mlist *l, mmsg *m, bool front)
{
    m->next = m->prev = NULL;
    if (!l->head) {
        l->head = l->tail = m;
    } else if (front) {
        m->next = l->head;
        l->head->prev = m;
        l->head = m;
    } else {
        m->prev = l->tail;
        l->tail->next = m;
        l->tail = m;
    }
    l->n++;
    l->head_enq = l->head->enq_at;
}

static void list_unlink(mlist *l, mmsg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        l->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        l->tail = m->prev;
    m->next = m->prev = NULL;
    l->n--;
    l->head_enq = l->head ? l->head->enq_at : 0;
}

/* Reservations by serial. Serials are consecutive, and a multiple of an
   odd constant spreads consecutive integers over a power-of-two table
   without collisions, so the serial hashes itself; and the product is a
   bijection, so the hash is the key (hash-keyed entries: one compare a
   probe, inline). Agent locked. */
static uint64_t serial_hash(uint64_t serial)
{
    return serial * 0x9E3779B97F4A7C15ull;
}

static mmsg *res_find(magent *a, uint64_t serial)
{
    return am__map_find_h(&a->res, serial_hash(serial));
}

/* Caller made room with res_reserve. */
static void res_put(magent *a, mmsg *m)
{
    (void)am__map_put_h(&a->res, serial_hash(m->serial), m);
}

static bool res_reserve(magent *a)
{
    return am__map_reserve(&a->res, a->res.n + 1) == AM_OK;
}

static void res_del(magent *a, mmsg *m)
{
    (void)am__map_del_h(&a->res, serial_hash(m->serial));
}

static idshard *shard_of(mem *b, uint64_t h)
{
    return &b->ids[h % SHARDS];
}

/* Within a shard the hash's low bits are the shard's: the rest of it. */
static uint64_t shard_hash(uint64_t h)
{
    return h / SHARDS;
}

/* Insert m's id; false when taken (AM_EEXIST) or on ENOMEM (*oom). */
static bool ids_add(mem *b, mmsg *m, bool *oom)
{
    idshard *s = shard_of(b, m->id_hash);
    uint64_t h = shard_hash(m->id_hash);
    pthread_mutex_lock(&s->lock);
    am_err rc = am__map_put(&s->ids, h, m->id, m->id_len, m);
    pthread_mutex_unlock(&s->lock);
    *oom = rc == AM_ENOMEM;
    return rc == AM_OK;
}

static void ids_del(mem *b, mmsg *m)
{
    idshard *s = shard_of(b, m->id_hash);
    pthread_mutex_lock(&s->lock);
    (void)am__map_del(&s->ids, shard_hash(m->id_hash), m->id, m->id_len);
    pthread_mutex_unlock(&s->lock);
}

static void msg_free(mmsg *m)
{
    if (!m)
        return;
    am__free(m->reason);
    am__free(m->error);
    am__free(m);
}

/* Drop a message for good: out of the id set, freed. */
static void msg_drop(mem *b, mmsg *m)
{
    ids_del(b, m);
    msg_free(m);
}

/* ------------------------------------------------------------------ */
/* Agents                                                              */
/* ------------------------------------------------------------------ */

static magent *tab_find(const atab *t, const char *name, uint64_t h)
{
    if (!t)
        return NULL;
    for (size_t j = h & (t->cap - 1);; j = (j + 1) & (t->cap - 1)) {
        magent *a = atomic_load_explicit(&((atab *)t)->s[j], am_acquire);
        if (!a)
            return NULL;
        if (a->hash == h && strcmp(a->name, name) == 0)
            return a;
    }
}

static magent *agent_find(mem *b, const char *name)
{
    return tab_find(atomic_load_explicit(&b->tab, am_acquire), name, hash_str(name));
}

static void tab_put(atab *t, magent *a)
{
    size_t j = a->hash & (t->cap - 1);
    while (atomic_load_explicit(&t->s[j], am_relaxed))
        j = (j + 1) & (t->cap - 1);
    atomic_store_explicit(&t->s[j], a, am_release);
}

/* At close: the messages go, and the id set goes whole after them. */
static void agent_free(magent *a)
{
    for (int p = 0; p < 3; p++)
        for (mmsg *m = a->q[p].head, *n; m; m = n) {
            n = m->next;
            msg_free(m);
        }
    for (mmsg *m = a->dlq.head, *n; m; m = n) {
        n = m->next;
        msg_free(m);
    }
    for (size_t i = 0; i < a->delayed.n; i++)
        msg_free((mmsg *)a->delayed.v[i]);
    for (size_t i = 0; i < a->inflight.n; i++)
        msg_free((mmsg *)a->inflight.v[i]);
    am__heap_free(&a->delayed);
    am__heap_free(&a->inflight);
    am__map_free(&a->res);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    am__free(a->name); /* the struct is in a slab */
}

static am_err agent_get(am_coord *c, const char *name, magent **out)
{
    mem *b = c->be;
    uint64_t h = hash_str(name);
    magent *a = tab_find(atomic_load_explicit(&b->tab, am_acquire), name, h);
    if (AM_LIKELY(a != NULL)) {
        *out = a;
        return AM_OK;
    }
    pthread_mutex_lock(&b->grow_lock);
    atab *t = atomic_load_explicit(&b->tab, am_relaxed);
    if ((a = tab_find(t, name, h))) {
        pthread_mutex_unlock(&b->grow_lock);
        *out = a;
        return AM_OK;
    }
    if (!t || (atomic_load_explicit(&b->n, am_relaxed) + 1) * 2 > t->cap) {
        size_t cap = t ? t->cap * 2 : 64;
        atab *nt = am__calloc(1, sizeof *nt + cap * sizeof(magent *));
        if (!nt)
            goto oom;
        nt->cap = cap;
        for (size_t i = 0; t && i < t->cap; i++) {
            magent *x = atomic_load_explicit(&t->s[i], am_relaxed);
            if (x)
                tab_put(nt, x);
        }
        nt->older = t;
        atomic_store_explicit(&b->tab, nt, am_release);
        t = nt;
    }
    size_t n = atomic_load_explicit(&b->n, am_relaxed);
    slabs *sl = atomic_load_explicit(&b->slab, am_relaxed);
    if (!sl || n / SLAB >= sl->cap) {
        size_t cap = sl ? sl->cap * 2 : 16;
        slabs *ns = am__calloc(1, sizeof *ns + cap * sizeof(magent *));
        if (!ns)
            goto oom;
        ns->cap = cap;
        if (sl)
            memcpy(ns->v, sl->v, sl->cap * sizeof(magent *));
        ns->older = sl;
        atomic_store_explicit(&b->slab, ns, am_release);
        sl = ns;
    }
    if (!sl->v[n / SLAB] && !(sl->v[n / SLAB] = am__calloc(SLAB, sizeof(magent))))
        goto oom;
    a = &sl->v[n / SLAB][n % SLAB];
    if (!(a->name = am__strdup(name)))
        goto oom;
    a->hash = h;
    /* a table per agent that takes (10,000 of them): small at first */
    a->res = (am__map){.first_cap = 16};
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cond, &ca);
    pthread_condattr_destroy(&ca);
    tab_put(t, a);
    atomic_store_explicit(&b->n, n + 1, am_release);
    pthread_mutex_unlock(&b->grow_lock);
    *out = a;
    return AM_OK;
oom:
    pthread_mutex_unlock(&b->grow_lock);
    return am__err(AM_ENOMEM, "out of memory adding agent \"%s\"", name);
}

/* ------------------------------------------------------------------ */
/* The backend                                                         */
/* ------------------------------------------------------------------ */

static am_err m_open(am_coord *c, const char *uri)
{
    if (strcmp(uri, "memory:") != 0 && strcmp(uri, "memory://") != 0)
        return am__err(AM_EINVAL, "memory coordinator URI is \"memory:\", not \"%.64s\"", uri);
    mem *b = am__calloc(1, sizeof *b);
    if (!b)
        return am__err(AM_ENOMEM, "out of memory opening the coordinator");
    pthread_mutex_init(&b->grow_lock, NULL);
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&b->ids[i].lock, NULL);
        b->ids[i].ids.is_key_borrowed = true;
    }
    c->be = b;
    return AM_OK;
}

static void m_close(am_coord *c)
{
    mem *b = c->be;
    if (!b)
        return;
    size_t n = atomic_load_explicit(&b->n, am_relaxed);
    slabs *sl = atomic_load_explicit(&b->slab, am_relaxed);
    for (size_t i = 0; i < n; i++)
        agent_free(&sl->v[i / SLAB][i % SLAB]);
    for (size_t i = 0; sl && i < sl->cap; i++)
        am__free(sl->v[i]);
    while (sl) {
        slabs *older = sl->older;
        am__free(sl);
        sl = older;
    }
    atab *t = atomic_load_explicit(&b->tab, am_relaxed);
    while (t) {
        atab *older = t->older;
        am__free(t);
        t = older;
    }
    for (int i = 0; i < SHARDS; i++) {
        am__map_free(&b->ids[i].ids);
        pthread_mutex_destroy(&b->ids[i].lock);
    }
    pthread_mutex_destroy(&b->grow_lock);
    am__free(b);
    c->be = NULL;
}

static am_err m_add_agent(am_coord *c, const char *agent)
{
    magent *a;
    return agent_get(c, agent, &a);
}

static size_t waiting(const magent *a)
{
    return a->q[0].n + a->q[1].n + a->q[2].n + a->delayed.n;
}

static am_err m_send(am_coord *c, const am__msg *in, size_t max_queue)
{
    mem *b = c->be;
    magent *a;
    am_err rc = agent_get(c, in->to, &a);
    if (rc)
        return rc;
    size_t lid = strlen(in->id) + 1, lf = strlen(in->from) + 1, lt = strlen(in->to) + 1,
           lty = strlen(in->type) + 1, lts = strlen(in->tracestate) + 1;
    mmsg *m = am__malloc(sizeof *m + lid + lf + lt + lty + lts + in->len + 1);
    if (!m)
        return am__err(AM_ENOMEM, "out of memory queueing a message");
    memset(m, 0, sizeof *m);
    char *p = m->data;
    m->id = memcpy(p, in->id, lid);
    p += lid;
    m->from = memcpy(p, in->from, lf);
    p += lf;
    m->to = memcpy(p, in->to, lt);
    p += lt;
    m->type = memcpy(p, in->type, lty);
    p += lty;
    m->tracestate = memcpy(p, in->tracestate, lts);
    p += lts;
    m->payload = p;
    if (in->len)
        memcpy(p, in->payload, in->len);
    p[in->len] = '\0';
    m->len = in->len;
    memcpy(m->traceparent, in->traceparent, sizeof m->traceparent);
    m->prio = in->priority;
    m->agent = a;
    m->id_len = lid - 1;
    m->id_hash = am__hash64(0, m->id, m->id_len);
    m->enq_at = m->ready_at = am_unix_time();
    m->hn.pos = (size_t)-1;
    bool oom = false;
    if (!ids_add(b, m, &oom)) {
        am__free(m);
        return oom ? am__err(AM_ENOMEM, "out of memory queueing a message")
                   : am__err(AM_EEXIST, "a message with id \"%.64s\" is already queued", in->id);
    }
    pthread_mutex_lock(&a->lock);
    if (waiting(a) >= max_queue) {
        pthread_mutex_unlock(&a->lock);
        msg_drop(b, m);
        return am__err(AM_EFULL, "the queue of \"%s\" holds %zu messages (max_queue)", in->to,
                       max_queue);
    }
    m->where = Q_QUEUED;
    list_push(&a->q[am__prio_index(m->prio)], m, false);
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    return AM_OK;
}

/* Expired reservations back to the queue (or the DLQ); agent locked. */
static void settle_expired(am_coord *c, magent *a, double now, unsigned max_attempts, size_t *n)
{
    am_heap_node *top;
    while ((top = am__heap_top(&a->inflight)) && top->key <= now) {
        mmsg *m = (mmsg *)am__heap_pop(&a->inflight);
        res_del(a, m);
        if (m->attempt >= max_attempts) {
            m->where = Q_DEAD;
            m->dead_at = now;
            am__free(m->reason);
            m->reason = am__strdup("max_attempts");
            list_push(&a->dlq, m, false);
            am__coord_event(c, a->name, AM__EV_DEAD_ATTEMPTS);
        } else {
            m->where = Q_QUEUED;
            m->ready_at = now;
            list_push(&a->q[am__prio_index(m->prio)], m, true); /* next in line again */
            am__coord_event(c, a->name, AM__EV_RECOVERED);
        }
        if (n)
            (*n)++;
    }
}

/* Retries whose backoff is over join the back of their queue; agent locked. */
static void promote_due(magent *a, double now)
{
    am_heap_node *top;
    while ((top = am__heap_top(&a->delayed)) && top->key <= now) {
        mmsg *m = (mmsg *)am__heap_pop(&a->delayed);
        m->where = Q_QUEUED;
        m->ready_at = top->key;
        list_push(&a->q[am__prio_index(m->prio)], m, false);
    }
}

static am_coord_delivery *delivery_of(const mmsg *m, double now)
{
    am_coord_delivery *d =
        am__delivery_new(m->id, m->from, m->to, m->type, m->payload, m->len, NULL);
    if (!d)
        return NULL;
    d->priority = m->prio;
    d->attempt = m->attempt;
    d->enqueued_at = m->enq_at;
    d->ready_at = m->ready_at;
    d->received_at = now;
    if (m->traceparent[0] &&
        am_traceparent_parse(m->traceparent, strlen(m->traceparent), &d->trace) == AM_OK)
        am_tracestate_set(&d->trace, m->tracestate, strlen(m->tracestate));
    /* the serial in decimal, without printf on this path */
    char tmp[24];
    size_t k = 0;
    for (uint64_t v = m->serial; v; v /= 10)
        tmp[k++] = (char)('0' + v % 10);
    for (size_t i = 0; i < k; i++)
        d->token[i] = tmp[k - 1 - i];
    d->token[k] = '\0';
    return d;
}

static am_err m_take(am_coord *c, const char *agent, double visibility_s, unsigned max_attempts,
                     am_coord_delivery **out)
{
    magent *a;
    am_err rc = agent_get(c, agent, &a);
    if (rc)
        return rc;
    pthread_mutex_lock(&a->lock);
    double now = am_unix_time();
    settle_expired(c, a, now, max_attempts, NULL);
    promote_due(a, now);
    mmsg *m = NULL;
    for (int p = 2; p >= 0 && !m; p--)
        m = a->q[p].head;
    if (!m) {
        pthread_mutex_unlock(&a->lock);
        return AM_ETIMEDOUT;
    }
    if (!res_reserve(a) || !am__heap_reserve(&a->inflight, 1)) {
        pthread_mutex_unlock(&a->lock);
        return am__err(AM_ENOMEM, "out of memory reserving a message");
    }
    m->serial = ++a->serial;
    m->attempt++;
    am_coord_delivery *d = delivery_of(m, now);
    if (!d) {
        m->attempt--;
        pthread_mutex_unlock(&a->lock);
        return am__err(AM_ENOMEM, "out of memory delivering a message");
    }
    list_unlink(&a->q[am__prio_index(m->prio)], m);
    m->where = Q_INFLIGHT;
    m->hn.key = now + visibility_s;
    am__heap_push(&a->inflight, &m->hn);
    res_put(a, m);
    pthread_mutex_unlock(&a->lock);
    *out = d;
    return AM_OK;
}

static void m_wait(am_coord *c, const char *agent, uint64_t deadline_ns)
{
    magent *a = agent_find(c->be, agent);
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    if (!a->q[0].n && !a->q[1].n && !a->q[2].n) {
        uint64_t until = deadline_ns;
        double now = am_unix_time();
        am_heap_node *d = am__heap_top(&a->delayed), *r = am__heap_top(&a->inflight);
        double next = d ? d->key : 0;
        if (r && (!d || r->key < next))
            next = r->key;
        if (next > 0) {
            double in_s = next - now;
            uint64_t at = am_now_ns() + (in_s > 0 ? (uint64_t)(in_s * 1e9) : 0);
            if (at < until)
                until = at;
        }
        struct timespec ts = {(time_t)(until / 1000000000ull), (long)(until % 1000000000ull)};
        pthread_cond_timedwait(&a->cond, &a->lock, &ts);
    }
    pthread_mutex_unlock(&a->lock);
}

/* Find and lock d's agent and reservation; NULL with AM_ENOTFOUND set. */
static mmsg *reserved(am_coord *c, const am_coord_delivery *d, magent **out)
{
    magent *a = agent_find(c->be, d->to);
    if (!a || !d->token) {
        am__err(AM_ENOTFOUND, "no reservation for this delivery");
        return NULL;
    }
    uint64_t serial = 0;
    const char *p = d->token;
    for (; *p >= '0' && *p <= '9' && serial < UINT64_MAX / 10; p++)
        serial = serial * 10 + (uint64_t)(*p - '0');
    bool ok = p != d->token && *p == '\0';
    pthread_mutex_lock(&a->lock);
    mmsg *m = ok ? res_find(a, serial) : NULL;
    if (!m) {
        pthread_mutex_unlock(&a->lock);
        am__err(AM_ENOTFOUND,
                "the reservation of message \"%.64s\" is no longer held (it "
                "expired or was settled)",
                d->id);
        return NULL;
    }
    *out = a;
    return m;
}

static am_err m_ack(am_coord *c, const am_coord_delivery *d)
{
    magent *a;
    mmsg *m = reserved(c, d, &a);
    if (!m)
        return AM_ENOTFOUND;
    res_del(a, m);
    am__heap_remove(&a->inflight, &m->hn);
    pthread_mutex_unlock(&a->lock);
    msg_drop(c->be, m);
    return AM_OK;
}

static am_err set_text(char **field, const char *text)
{
    char *t = am__strdup(text ? text : "");
    if (!t)
        return am__err(AM_ENOMEM, "out of memory settling a message");
    am__free(*field);
    *field = t;
    return AM_OK;
}

static am_err m_retry(am_coord *c, const am_coord_delivery *d, double delay_s, const char *error)
{
    magent *a;
    mmsg *m = reserved(c, d, &a);
    if (!m)
        return AM_ENOTFOUND;
    if (set_text(&m->error, error) != AM_OK || !am__heap_reserve(&a->delayed, 1)) {
        pthread_mutex_unlock(&a->lock);
        return am__err(AM_ENOMEM, "out of memory scheduling a retry");
    }
    res_del(a, m);
    am__heap_remove(&a->inflight, &m->hn);
    m->where = Q_DELAYED;
    m->hn.key = am_unix_time() + delay_s;
    am__heap_push(&a->delayed, &m->hn);
    pthread_cond_broadcast(&a->cond); /* waiters recompute when to wake */
    pthread_mutex_unlock(&a->lock);
    return AM_OK;
}

static am_err m_dead(am_coord *c, const am_coord_delivery *d, const char *reason, const char *error)
{
    magent *a;
    mmsg *m = reserved(c, d, &a);
    if (!m)
        return AM_ENOTFOUND;
    if (set_text(&m->error, error) != AM_OK || set_text(&m->reason, reason) != AM_OK) {
        pthread_mutex_unlock(&a->lock);
        return AM_ENOMEM;
    }
    res_del(a, m);
    am__heap_remove(&a->inflight, &m->hn);
    m->where = Q_DEAD;
    m->dead_at = am_unix_time();
    list_push(&a->dlq, m, false);
    pthread_mutex_unlock(&a->lock);
    return AM_OK;
}

/* Visit every agent in creation order (one added meanwhile may or may not
   be seen). n is read before the slab list, and both are published in that
   order's reverse, so every index below n has its slab. */
static void each(mem *b, void (*fn)(magent *a, void *ud), void *ud)
{
    size_t n = atomic_load_explicit(&b->n, am_acquire);
    slabs *sl = atomic_load_explicit(&b->slab, am_acquire);
    for (size_t i = 0; i < n; i++)
        fn(&sl->v[i / SLAB][i % SLAB], ud);
}

typedef struct recover_arg {
    am_coord *c;
    unsigned max_attempts;
    size_t n;
} recover_arg;

static void recover_one(magent *a, void *ud)
{
    recover_arg *r = ud;
    pthread_mutex_lock(&a->lock);
    size_t before = r->n;
    settle_expired(r->c, a, am_unix_time(), r->max_attempts, &r->n);
    if (r->n != before)
        pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

static am_err m_recover(am_coord *c, unsigned max_attempts, size_t *n)
{
    recover_arg r = {c, max_attempts, 0};
    each(c->be, recover_one, &r);
    if (n)
        *n = r.n;
    return AM_OK;
}

static am_err m_dlq_list(am_coord *c, const char *agent, size_t max, am_coord_dlq_entry **out,
                         size_t *n)
{
    *out = NULL;
    *n = 0;
    magent *a = agent_find(c->be, agent);
    if (!a)
        return AM_OK;
    pthread_mutex_lock(&a->lock);
    size_t k = a->dlq.n < max ? a->dlq.n : max;
    am_coord_dlq_entry *e = k ? am__calloc(k, sizeof *e) : NULL;
    if (k && !e) {
        pthread_mutex_unlock(&a->lock);
        return am__err(AM_ENOMEM, "out of memory listing a DLQ");
    }
    size_t i = 0;
    for (mmsg *m = a->dlq.head; m && i < k; m = m->next, i++) {
        const char *f[AM_DLQ_N] = {
            m->id, m->from, m->to, m->type, m->reason ? m->reason : "", m->error ? m->error : ""};
        if (!am__dlq_entry_fill(&e[i], f, NULL, m->payload, m->len)) {
            pthread_mutex_unlock(&a->lock);
            am_coord_dlq_free(e, i + 1);
            return am__err(AM_ENOMEM, "out of memory listing a DLQ");
        }
        e[i].priority = m->prio;
        e[i].attempts = m->attempt;
        e[i].dead_at = m->dead_at;
    }
    pthread_mutex_unlock(&a->lock);
    *out = e;
    *n = k;
    return AM_OK;
}

static am_err m_dlq_replay(am_coord *c, const char *agent, const char *id, size_t max_queue,
                           size_t *n)
{
    *n = 0;
    magent *a = agent_find(c->be, agent);
    if (!a)
        return id ? am__err(AM_ENOTFOUND, "agent \"%s\" has no dead letters", agent) : AM_OK;
    am_err rc = AM_OK;
    bool found = false;
    pthread_mutex_lock(&a->lock);
    for (mmsg *m = a->dlq.head, *nx; m; m = nx) {
        nx = m->next;
        if (id && strcmp(m->id, id) != 0)
            continue;
        found = true;
        if (waiting(a) >= max_queue) {
            rc = am__err(AM_EFULL, "the queue of \"%s\" is full; %zu replayed", agent, *n);
            break;
        }
        list_unlink(&a->dlq, m);
        m->where = Q_QUEUED;
        m->attempt = 0;
        m->ready_at = am_unix_time();
        list_push(&a->q[am__prio_index(m->prio)], m, false);
        (*n)++;
    }
    if (*n)
        pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (id && !found)
        return am__err(AM_ENOTFOUND, "no dead letter \"%.64s\" for \"%s\"", id, agent);
    return rc;
}

static am_err m_dlq_purge(am_coord *c, const char *agent, size_t *n)
{
    *n = 0;
    magent *a = agent_find(c->be, agent);
    if (!a)
        return AM_OK;
    pthread_mutex_lock(&a->lock);
    mmsg *m = a->dlq.head;
    *n = a->dlq.n;
    a->dlq = (mlist){0};
    pthread_mutex_unlock(&a->lock);
    for (mmsg *nx; m; m = nx) {
        nx = m->next;
        msg_drop(c->be, m);
    }
    return AM_OK;
}

static void stats_locked(magent *a, am_coord_stats *st, double now)
{
    memset(st, 0, sizeof *st);
    for (int p = 0; p < 3; p++) {
        st->queued[p] = a->q[p].n;
        /* milliseconds are precision enough for an age */
        st->oldest_age_s[p] = a->q[p].n ? round((now - a->q[p].head_enq) * 1e3) / 1e3 : 0;
    }
    st->delayed = a->delayed.n;
    st->inflight = a->inflight.n;
    st->dlq = a->dlq.n;
}

static am_err m_stats(am_coord *c, const char *agent, am_coord_stats *out)
{
    magent *a = agent_find(c->be, agent);
    if (!a) {
        memset(out, 0, sizeof *out);
        return am__err(AM_ENOTFOUND, "no agent \"%s\"", agent);
    }
    pthread_mutex_lock(&a->lock);
    stats_locked(a, out, am_unix_time());
    pthread_mutex_unlock(&a->lock);
    return AM_OK;
}

typedef struct each_arg {
    const am__agent_sink *s;
    double now;
} each_arg;

static void each_one(magent *a, void *ud)
{
    each_arg *e = ud;
    am_coord_stats st;
    pthread_mutex_lock(&a->lock);
    stats_locked(a, &st, e->now);
    pthread_mutex_unlock(&a->lock);
    e->s->agent(a->name, &st, e->s->ud);
}

static am_err m_each_agent(am_coord *c, const am__agent_sink *s)
{
    each_arg e = {s, am_unix_time()};
    each(c->be, each_one, &e);
    return AM_OK;
}

const am_coord_ops am__coord_memory = {
    .version = 1,
    .name = "memory",
    .open = m_open,
    .close = m_close,
    .add_agent = m_add_agent,
    .send = m_send,
    .take = m_take,
    .wait = m_wait,
    .ack = m_ack,
    .retry = m_retry,
    .dead = m_dead,
    .recover = m_recover,
    .dlq_list = m_dlq_list,
    .dlq_replay = m_dlq_replay,
    .dlq_purge = m_dlq_purge,
    .stats = m_stats,
    .each_agent = m_each_agent,
};
