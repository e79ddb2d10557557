/*
** coord.c: the coordinator API -- validation, ids, retry policy, metrics --
** over a backend that only keeps messages (see coord.h).
**
** DESIGN
** Every public operation validates its input completely before the
** backend sees it, so a refused call changes nothing anywhere. The policy
** lives here, once for every backend: a transient nack retries after
**     min(backoff_max, backoff_base * factor^(attempt-1)) * (1 +/- jitter)
** while attempt < max_attempts, and dead-letters ("max_attempts") after;
** a permanent nack dead-letters at once ("permanent"). The backend then
** performs that decision atomically, and refuses it (AM_ENOTFOUND) if the
** reservation is no longer held.
**
** Blocking receive is a loop of the backend's non-blocking take() and its
** wait(), which sleeps until something may be deliverable (a send, a due
** retry, an expiring reservation) or the deadline passes.
**
** Options are read on every operation, so they are an immutable value
** behind an atomic pointer: configure() publishes a new one, and the old
** ones are freed at close (a reader may still hold one). No operation
** writes a cache line another agent's operation writes.
*/
#include <agentmon/features.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../core/cells.h"
#include "../util/error.h"
#include "../util/validate.h"
#include "../log/trace_internal.h"
#include "coord.h"

/* ------------------------------------------------------------------ */
/* Options and names                                                   */
/* ------------------------------------------------------------------ */

static am_err resolve(const am_coord_opts *in, am_coord_opts *o)
{
    am_coord_opts d = AM_COORD_OPTS_INIT;
    if (in)
        d = *in;
    if (!d.max_queue)
        d.max_queue = 10000;
    if (!d.max_attempts)
        d.max_attempts = 5;
    if (d.backoff_base_s == 0)
        d.backoff_base_s = 0.5;
    if (d.backoff_factor == 0)
        d.backoff_factor = 2;
    if (d.backoff_max_s == 0)
        d.backoff_max_s = 30;
    if (d.backoff_jitter == 0)
        d.backoff_jitter = 0.1;
    else if (d.backoff_jitter < 0)
        d.backoff_jitter = 0;
    if (!d.max_payload_bytes)
        d.max_payload_bytes = 1u << 20;
    if (d.visibility_s == 0)
        d.visibility_s = 30;
    if (!d.dlq_growth_threshold)
        d.dlq_growth_threshold = 10;
    if (d.dlq_growth_window_s == 0)
        d.dlq_growth_window_s = 60;
    if (!(d.backoff_base_s > 0) || !isfinite(d.backoff_base_s) || !(d.backoff_factor >= 1) ||
        !isfinite(d.backoff_factor) || !(d.backoff_max_s >= d.backoff_base_s) ||
        !isfinite(d.backoff_max_s) || !(d.backoff_jitter <= 1))
        return am__err(AM_EINVAL, "backoff options need base > 0, factor >= 1, max >= base and "
                                  "jitter <= 1");
    if (!(d.visibility_s > 0) || !isfinite(d.visibility_s) || !(d.dlq_growth_window_s > 0) ||
        !isfinite(d.dlq_growth_window_s))
        return am__err(AM_EINVAL, "visibility_s and dlq_growth_window_s must be > 0");
    *o = d;
    return AM_OK;
}

am_coord_opts am__coord_opts(am_coord *c)
{
    return atomic_load_explicit(&c->opts, memory_order_acquire)->o;
}

void am__coord_count(am_coord *c, int total)
{
    am__cells_add_u(c->local_slot + (uint32_t)total, 1);
}

void am__coord_local(am_coord *c, double *out)
{
    double v[AM__N_TOTALS + 1];
    am__cells_rdlock();
    am__cells_sum(c->local_slot, AM__N_TOTALS + 1, v);
    am__cells_rdunlock();
    memcpy(out, v, AM__N_TOTALS * sizeof *out);
}

/* Publish o as the options in force; the previous box is kept. */
static am_err publish(am_coord *c, const am_coord_opts *o)
{
    am__opts_box *b = am__calloc(1, sizeof *b);
    if (!b)
        return am__err(AM_ENOMEM, "out of memory setting options");
    b->o = *o;
    pthread_mutex_lock(&c->configure_lock);
    b->older = atomic_load_explicit(&c->opts, memory_order_relaxed);
    if (b->older)
        b->o.registry = b->older->o.registry;
    atomic_store_explicit(&c->opts, b, memory_order_release);
    pthread_mutex_unlock(&c->configure_lock);
    return AM_OK;
}

/*
** Printable ASCII without spaces, at most AM_COORD_MAX_NAME bytes; with
** want_colons >= 0 also exactly that many ':' not at either end (agent
** names are "type:instance"). One pass: these run on every send.
*/
static am_err check(const char *s, const char *what, int want_colons)
{
    if (!s || !*s)
        return am__err(AM_EINVAL, "%s is empty", what);
    size_t n = 0;
    int colons = 0;
    for (const char *p = s; *p; p++, n++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch >= 0x7f)
            return am__err(AM_EINVAL, "%s \"%.64s\" has a space, control or non-ASCII byte", what,
                           s);
        colons += ch == ':';
    }
    if (n > AM_COORD_MAX_NAME)
        return am__err(AM_EINVAL, "%s is longer than %d bytes", what, AM_COORD_MAX_NAME);
    if (want_colons >= 0 && (colons != want_colons || s[0] == ':' || s[n - 1] == ':'))
        return am__err(AM_EINVAL, "%s \"%.64s\" is not \"type:instance\"", what, s);
    return AM_OK;
}

static am_err check_name(const char *s, const char *what)
{
    return check(s, what, -1);
}

am_err am__coord_check_agent(const char *agent, const char *what)
{
    return check(agent, what, 1);
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static bool is_redis_uri(const char *uri)
{
    return strncmp(uri, "redis://", 8) == 0 || strncmp(uri, "unix://", 7) == 0 ||
           strncmp(uri, "redis+cluster://", 16) == 0;
}

static const am_coord_ops *backend_of(const char *uri)
{
    if (strncmp(uri, "memory:", 7) == 0)
        return &am__coord_memory;
#if AM_HAVE_REDIS
    if (is_redis_uri(uri))
        return &am__coord_redis;
#endif
    return NULL;
}

/* Free what open() made, in any state of completion. */
static void destroy(am_coord *c)
{
    if (c->local_slot)
        am__cells_release(c->local_slot, AM__N_TOTALS + 1);
    for (am__opts_box *b = atomic_load(&c->opts), *n; b; b = n) {
        n = b->older;
        am__free(b);
    }
    pthread_mutex_destroy(&c->configure_lock);
    pthread_mutex_destroy(&c->growth_lock);
    pthread_mutex_destroy(&c->snap_lock);
    am__coord_snap_free(c->snap);
    am__free(c->uri);
    am__free(c);
}

am_err am_coord_open(const char *uri, const am_coord_opts *o, am_coord **out)
{
    if (!uri || !out)
        return am__err(AM_EINVAL, "URI or out pointer is NULL");
    const am_coord_ops *ops = backend_of(uri);
    if (!ops && is_redis_uri(uri))
        return am__err(AM_EINVAL,
                       "coordinator URI \"%.64s\": this libagentmon was built without "
                       "Redis (AM_WITH_REDIS=OFF)",
                       uri);
    if (!ops)
        return am__err(AM_EINVAL,
                       "coordinator URI \"%.64s\" is not memory:, redis://, unix:// or "
                       "redis+cluster://",
                       uri);
    am_coord_opts resolved;
    am_err rc = resolve(o, &resolved);
    if (rc)
        return rc;
    am_coord *c = am__calloc(1, sizeof *c);
    if (!c)
        return am__err(AM_ENOMEM, "out of memory opening the coordinator");
    c->ops = ops;
    pthread_mutex_init(&c->configure_lock, NULL);
    pthread_mutex_init(&c->growth_lock, NULL);
    pthread_mutex_init(&c->snap_lock, NULL);
    c->snap_at = am_unix_time();
    c->reg = resolved.registry ? resolved.registry : am_registry_default();
    if (!c->reg || !(c->uri = am__strdup(uri))) {
        rc = am__err(AM_ENOMEM, "out of memory opening the coordinator");
        goto fail;
    }
    if ((rc = publish(c, &resolved)))
        goto fail;
    if ((rc = am__cells_alloc(AM__N_TOTALS + 1, &c->local_slot))) {
        rc = am__err(rc, "out of memory opening the coordinator");
        goto fail;
    }
    if ((rc = am__coord_metrics_init(c)))
        goto fail;
    if ((rc = ops->open(c, uri))) {
        am__coord_metrics_fini(c);
        goto fail;
    }
    /* only now: a scrape on another thread (a /metrics request, the alerting
       engine reading the registry) that found c sooner met no backend */
    am__coord_metrics_link(c);
    *out = c;
    return AM_OK;
fail:
    destroy(c);
    return rc;
}

void am_coord_close(am_coord *c)
{
    if (!c)
        return;
    am__coord_metrics_fini(c); /* off the scrape list before the backend goes */
    c->ops->close(c);
    destroy(c);
}

am_err am_coord_configure(am_coord *c, const am_coord_opts *o)
{
    if (!c || !o)
        return am__err(AM_EINVAL, "coordinator or options are NULL");
    am_coord_opts n;
    am_err rc = resolve(o, &n);
    return rc ? rc : publish(c, &n);
}

am_err am_coord_register(am_coord *c, const char *agent)
{
    if (!c)
        return am__err(AM_EINVAL, "coordinator is NULL");
    am_err rc = am__coord_check_agent(agent, "agent");
    if (!rc)
        rc = c->ops->add_agent(c, agent);
    return rc ? rc : am__coord_metrics_agent(c, agent);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* Validate m and fill the backend's view of it (strings borrowed). */
static am_err prepare(am_coord *c, const am_coord_msg *m, bool need_to, am__msg *out,
                      char idbuf[33], const am_coord_opts *o)
{
    if (!m)
        return am__err(AM_EINVAL, "message is NULL");
    am_err rc;
    if ((rc = am__coord_check_agent(m->from, "sender")) ||
        (need_to && (rc = am__coord_check_agent(m->to, "recipient"))) ||
        (m->id && (rc = check_name(m->id, "message id"))) ||
        (m->type && (rc = check_name(m->type, "message type"))))
        return rc;
    int prio = m->priority ? m->priority : AM_PRIO_NORMAL;
    if (prio != AM_PRIO_LOW && prio != AM_PRIO_NORMAL && prio != AM_PRIO_HIGH)
        return am__err(AM_EINVAL, "priority %d is not 1 (LOW), 5 (NORMAL) or 9 (HIGH)",
                       m->priority);
    if (m->len && !m->payload)
        return am__err(AM_EINVAL, "payload is NULL with length %zu", m->len);
    if (m->len > o->max_payload_bytes)
        return am__err(AM_EINVAL, "payload of %zu bytes is over max_payload_bytes (%zu)", m->len,
                       o->max_payload_bytes);
    memset(out, 0, sizeof *out);
    out->from = m->from;
    out->to = m->to;
    if (!m->id && need_to && c->ops->new_id)
        c->ops->new_id(c, m->to, idbuf); /* the backend places it (a Redis Cluster) */
    else if (!m->id)
        am__id_hex(idbuf);
    out->id = m->id ? m->id : idbuf;
    out->type = m->type ? m->type : "message";
    out->payload = m->payload;
    out->len = m->len;
    out->priority = prio;
    out->tracestate = "";
    static __thread am_trace_ctx cur; /* out->tracestate may point in it: outlives the call */
    const am_trace_ctx *t = m->trace;
    const char *th, *sh;
    if (!t && am__trace_current_hex(&th, &sh) && am_trace_current(&cur) == AM_OK)
        t = &cur; /* the full copy only when there is a current context */
    if (t && am_trace_ctx_is_valid(t)) {
        am_traceparent_format(t, out->traceparent);
        out->tracestate = t->tracestate;
    }
    return AM_OK;
}

static void count(am_coord *c, am_counter *m, int total)
{
    am_counter_inc(m);
    am__coord_count(c, total);
}

static void count_sent(am_coord *c, const am__msg *m)
{
    am_counter *s;
    am_err rc = am_counter_with(c->sent, AM_LABELS(m->from, m->to, m->type), &s);
    if (rc == AM_OK || rc == AM_ELIMIT)
        am_counter_inc(s);
    am__coord_count(c, AM__T_SENT);
}

am_err am_coord_send(am_coord *c, const am_coord_msg *m)
{
    if (!c)
        return am__err(AM_EINVAL, "coordinator is NULL");
    am_coord_opts o = am__coord_opts(c);
    am__msg in;
    char idbuf[33];
    am_err rc = prepare(c, m, true, &in, idbuf, &o);
    if (rc)
        return rc;
    if ((rc = c->ops->send(c, &in, o.max_queue)) == AM_OK)
        count_sent(c, &in);
    else if (rc == AM_EBACKEND)
        count(c, c->error, AM__T_ERROR);
    return rc;
}

typedef struct bcast {
    const char *from, *type;
    size_t type_len;
    const char **names;
    size_t n, cap;
    bool oom;
} bcast;

static void collect_name(const char *agent, const am_coord_stats *st, void *ud)
{
    (void)st;
    bcast *b = ud;
    if (strcmp(agent, b->from) == 0)
        return;
    if (b->type && !(strncmp(agent, b->type, b->type_len) == 0 && agent[b->type_len] == ':'))
        return;
    const char **v = am__grow(b->names, &b->cap, b->n + 1, sizeof *v, 16);
    if (!v) {
        b->oom = true;
        return;
    }
    b->names = v;
    char *copy = am__strdup(agent);
    if (!copy) {
        b->oom = true;
        return;
    }
    b->names[b->n++] = copy;
}

am_err am_coord_broadcast(am_coord *c, const am_coord_msg *m, const char *agent_type,
                          size_t *n_sent)
{
    if (n_sent)
        *n_sent = 0;
    if (!c)
        return am__err(AM_EINVAL, "coordinator is NULL");
    am_coord_opts o = am__coord_opts(c);
    am__msg in;
    char idbuf[33];
    am_err rc = prepare(c, m, false, &in, idbuf, &o);
    if (rc || (agent_type && (rc = check_name(agent_type, "agent type"))))
        return rc;
    bcast b = {in.from, agent_type, agent_type ? strlen(agent_type) : 0, NULL, 0, 0, false};
    am__agent_sink sink = {collect_name, NULL, &b, NULL};
    if ((rc = c->ops->each_agent(c, &sink)) == AM_OK && b.oom)
        rc = am__err(AM_ENOMEM, "out of memory broadcasting");
    am_err last = AM_OK;
    for (size_t i = 0; i < b.n && rc == AM_OK; i++) {
        char id[AM_COORD_MAX_NAME * 2 + 2];
        snprintf(id, sizeof id, "%s/%s", in.id, b.names[i]);
        am__msg copy = in;
        copy.to = b.names[i];
        copy.id = id;
        am_err r = c->ops->send(c, &copy, o.max_queue);
        if (r == AM_OK) {
            count_sent(c, &copy);
            if (n_sent)
                (*n_sent)++;
        } else if (r == AM_EFULL || r == AM_EEXIST) {
            last = r; /* skip this one (full, or sent already), serve the rest */
        } else {
            rc = r;
        }
    }
    for (size_t i = 0; i < b.n; i++)
        am__free((void *)b.names[i]);
    am__free(b.names);
    if (rc)
        return rc;
    return last ? am__err(last, last == AM_EFULL ? "some recipients' queues were full"
                                                 : "some recipients had this message already")
                : AM_OK;
}

/* ------------------------------------------------------------------ */
/* Receiving and settling                                              */
/* ------------------------------------------------------------------ */

am_coord_delivery *am__delivery_new(const char *id, const char *from, const char *to,
                                    const char *type, const void *payload, size_t len,
                                    const char *note)
{
    size_t li = strlen(id) + 1, lf = strlen(from) + 1, lt = strlen(to) + 1, lty = strlen(type) + 1;
    size_t ln = note ? strlen(note) + 1 : 0;
    am_coord_delivery *d =
        am__malloc(sizeof *d + li + lf + lt + lty + AM__TOKEN_MAX + len + 1 + ln);
    if (!d)
        return NULL;
    memset(d, 0, sizeof *d);
    char *p = (char *)(d + 1);
    d->id = memcpy(p, id, li);
    p += li;
    d->from = memcpy(p, from, lf);
    p += lf;
    d->to = memcpy(p, to, lt);
    p += lt;
    d->type = memcpy(p, type, lty);
    p += lty;
    d->token = p;
    d->token[0] = '\0';
    p += AM__TOKEN_MAX;
    d->payload = p;
    if (len)
        memcpy(p, payload, len);
    p[len] = '\0';
    d->len = len;
    if (note)
        d->reserved[0] = memcpy(p + len + 1, note, ln);
    return d;
}

void am_coord_delivery_free(am_coord_delivery *d)
{
    am__free(d);
}

static void observe_wait(am_coord *c, const am_coord_delivery *d)
{
    static const char *const prio[3] = {"1", "5", "9"};
    am_histogram *h;
    am_err rc =
        am_histogram_with(c->wait_h, AM_LABELS(d->to, prio[am__prio_index(d->priority)]), &h);
    double w = d->received_at - d->ready_at;
    if ((rc == AM_OK || rc == AM_ELIMIT) && w >= 0)
        am_histogram_observe(h, w);
}

am_err am_coord_receive(am_coord *c, const char *agent, double visibility_s, double wait_s,
                        am_coord_delivery **out)
{
    if (!c || !out)
        return am__err(AM_EINVAL, "coordinator or out pointer is NULL");
    am_err rc = am__coord_check_agent(agent, "agent");
    if (rc)
        return rc;
    if (!(visibility_s >= 0) || !isfinite(visibility_s) || !(wait_s >= 0) || !isfinite(wait_s))
        return am__err(AM_EINVAL, "visibility_s and wait_s must be finite and >= 0");
    am_coord_opts o = am__coord_opts(c);
    double vis = visibility_s > 0 ? visibility_s : o.visibility_s;
    uint64_t deadline = 0;
    for (;;) {
        rc = c->ops->take(c, agent, vis, o.max_attempts, out);
        if (rc == AM_OK) {
            observe_wait(c, *out);
            return AM_OK;
        }
        if (rc != AM_ETIMEDOUT) {
            if (rc == AM_EBACKEND)
                count(c, c->error, AM__T_ERROR);
            return rc;
        }
        if (wait_s == 0)
            return AM_ETIMEDOUT; /* the common polling case: no clock, no message */
        if (!deadline)
            deadline = am_now_ns() + (uint64_t)(wait_s * 1e9);
        else if (am_now_ns() >= deadline)
            return am__err(AM_ETIMEDOUT, "no message for \"%s\" within %.3f s", agent, wait_s);
        c->ops->wait(c, agent, deadline);
    }
}

static am_err check_delivery(am_coord *c, const am_coord_delivery *d)
{
    if (!c || !d)
        return am__err(AM_EINVAL, "coordinator or delivery is NULL");
    if (!d->token || !d->to || !d->id)
        return am__err(AM_EINVAL, "delivery is not one from am_coord_receive()");
    return AM_OK;
}

static void observe_processing(am_coord *c, const am_coord_delivery *d, const char *outcome)
{
    am_histogram *h;
    am_err rc = am_histogram_with(c->proc_h, AM_LABELS(d->to, outcome), &h);
    double t = am_unix_time() - d->received_at;
    if ((rc == AM_OK || rc == AM_ELIMIT) && t >= 0)
        am_histogram_observe(h, t);
}

am_err am_coord_ack(am_coord *c, const am_coord_delivery *d)
{
    am_err rc = check_delivery(c, d);
    if (rc)
        return rc;
    rc = c->ops->ack(c, d);
    if (rc == AM_OK) {
        count(c, c->ok, AM__T_OK);
        observe_processing(c, d, "ok");
    } else if (rc == AM_EBACKEND) {
        count(c, c->error, AM__T_ERROR);
    }
    return rc;
}

/* Seconds before the retry of a message delivered `attempt` times. */
static double backoff(const am_coord_opts *o, unsigned attempt)
{
    double d = o->backoff_base_s * pow(o->backoff_factor, attempt > 0 ? attempt - 1 : 0);
    if (!(d <= o->backoff_max_s))
        d = o->backoff_max_s;
    if (o->backoff_jitter > 0) {
        static __thread uint64_t x;
        if (!x) {
            am_trace_ctx t;
            am_trace_new(&t);
            memcpy(&x, t.span_id, sizeof x);
            x |= 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
        d *= 1 + o->backoff_jitter * (2 * u - 1);
    }
    return d > 0 ? d : 0;
}

am_err am_coord_nack(am_coord *c, const am_coord_delivery *d, bool permanent, const char *error)
{
    am_err rc = check_delivery(c, d);
    if (rc)
        return rc;
    am_coord_opts o = am__coord_opts(c);
    const char *reason = permanent                      ? "permanent"
                         : d->attempt >= o.max_attempts ? "max_attempts"
                                                        : NULL;
    double delay = 0;
    if (reason) {
        rc = c->ops->dead(c, d, reason, error);
    } else {
        delay = backoff(&o, d->attempt);
        rc = c->ops->retry(c, d, delay, error);
    }
    if (rc == AM_EBACKEND)
        count(c, c->error, AM__T_ERROR);
    if (rc)
        return rc;
    count(c, c->nacks, AM__T_NACKS);
    count(c, c->error, AM__T_ERROR);
    if (reason) {
        am__coord_dead_lettered(c, d->to, reason);
        observe_processing(c, d, "dead_letter");
    } else {
        count(c, c->retries, AM__T_RETRIES);
        am_gauge_set(c->last_backoff, delay);
        observe_processing(c, d, "retry");
    }
    return AM_OK;
}

am_err am_coord_recover(am_coord *c, size_t *n)
{
    if (n)
        *n = 0;
    if (!c)
        return am__err(AM_EINVAL, "coordinator is NULL");
    am_coord_opts o = am__coord_opts(c);
    return c->ops->recover(c, o.max_attempts, n);
}

/* ------------------------------------------------------------------ */
/* Dead letters and stats                                              */
/* ------------------------------------------------------------------ */

am_err am_coord_dlq_list(am_coord *c, const char *agent, size_t max, am_coord_dlq_entry **out,
                         size_t *n)
{
    if (!c || !out || !n)
        return am__err(AM_EINVAL, "coordinator or out pointers are NULL");
    *out = NULL;
    *n = 0;
    am_err rc = am__coord_check_agent(agent, "agent");
    return rc ? rc : c->ops->dlq_list(c, agent, max, out, n);
}

static char *copy_bytes(const char *s, size_t n)
{
    char *p = am__malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

bool am__dlq_entry_fill(am_coord_dlq_entry *e, const char *const f[AM_DLQ_N],
                        const size_t lens[AM_DLQ_N], const void *payload, size_t len)
{
    char **to[AM_DLQ_N] = {&e->id, &e->from, &e->to, &e->type, &e->reason, &e->error};
    if (!(e->lens = am__malloc(AM_DLQ_N * sizeof *e->lens)))
        return false;
    for (int i = 0; i < AM_DLQ_N; i++) {
        e->lens[i] = lens ? lens[i] : strlen(f[i]);
        if (!(*to[i] = copy_bytes(f[i], e->lens[i])))
            return false;
    }
    e->len = len;
    return (e->payload = copy_bytes(payload ? payload : "", len)) != NULL;
}

void am_coord_dlq_free(am_coord_dlq_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        am__free(e[i].id);
        am__free(e[i].from);
        am__free(e[i].to);
        am__free(e[i].type);
        am__free(e[i].payload);
        am__free(e[i].reason);
        am__free(e[i].error);
        am__free(e[i].lens);
    }
    am__free(e);
}

/*
** An id to look for in a DLQ: whatever am_coord_dlq_list() can return --
** a broadcast's copies are "<id>/<recipient>", longer than a name may be,
** and a message edited by hand in Redis may hold any byte -- so only
** empty and absurdly long ones are refused: it is compared, never stored.
*/
#define AM__LOOKUP_ID_MAX 4096

static am_err check_lookup_id(const char *id)
{
    size_t n = strlen(id);
    if (!n)
        return am__err(AM_EINVAL, "message id is empty");
    if (n > AM__LOOKUP_ID_MAX)
        return am__err(AM_EINVAL, "message id is longer than %d bytes", AM__LOOKUP_ID_MAX);
    return AM_OK;
}

am_err am_coord_dlq_replay(am_coord *c, const char *agent, const char *id, size_t *n)
{
    size_t dummy;
    if (!n)
        n = &dummy;
    *n = 0;
    if (!c)
        return am__err(AM_EINVAL, "coordinator is NULL");
    am_err rc = am__coord_check_agent(agent, "agent");
    if (rc || (id && (rc = check_lookup_id(id))))
        return rc;
    am_coord_opts o = am__coord_opts(c);
    return c->ops->dlq_replay(c, agent, id, o.max_queue, n);
}

am_err am_coord_dlq_purge(am_coord *c, const char *agent, size_t *n)
{
    size_t dummy;
    if (!n)
        n = &dummy;
    *n = 0;
    if (!c)
        return am__err(AM_EINVAL, "coordinator is NULL");
    am_err rc = am__coord_check_agent(agent, "agent");
    return rc ? rc : c->ops->dlq_purge(c, agent, n);
}

am_err am_coord_agent_stats(am_coord *c, const char *agent, am_coord_stats *out)
{
    if (!c || !out)
        return am__err(AM_EINVAL, "coordinator or out pointer is NULL");
    am_err rc = am__coord_check_agent(agent, "agent");
    return rc ? rc : c->ops->stats(c, agent, out);
}
