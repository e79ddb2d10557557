/*
** coord_metrics.c: the coordinator's metrics, DLQ growth events and the
** JSON snapshot.
**
** DESIGN
** Counters and histograms are updated as operations happen (coord.c).
** Lengths -- queue, DLQ, in flight, age of each queue's head -- are
** reported through callback families. Several coordinators may share a
** registry (the families are registered once and shared); the callbacks
** walk the list of open coordinators and report those that use the
** registry being scraped. A coordinator joins the list once its backend
** is open, and closing takes it off first, both under the lock a scrape
** holds, so a scrape never reads a backend that is not (or no longer)
** open.
**
** A scrape never waits for a remote backend: a memory coordinator's
** lengths are read at the scrape (a lock per agent, no I/O), a Redis
** one's come from the last snapshot (am__snap) -- refreshed every second
** by the backend's thread with am__coord_refresh(), and by every
** am_coord_snapshot() -- so a hung Redis makes the gauges old, never the
** scrape slow. agentmon_coord_snapshot_age_seconds says how old,
** agentmon_coord_snapshot_refresh_failures_total how many refreshes
** failed, and agentmon_coord_key_errors names the keys the last snapshot
** could not read (a value of the wrong type), while every other agent is
** still reported.
**
** DLQ growth: per agent the times of the last N dead-letterings are kept
** in a ring; when the N-th happens within W seconds of the first, the event
** fires (callback, WARNING log line, counter) and the ring starts over.
*/
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "agentmon/expose.h"
#include "agentmon/log.h"
#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/catalog.h"
#include "../util/error.h"
#include "../util/fmt.h"
#include "../util/render.h"
#include "coord.h"

static pthread_mutex_t g_open_lock = PTHREAD_MUTEX_INITIALIZER;
static am_coord *g_open;

struct am__growth {
    struct am__growth *next;
    char *agent;
    double *t; /* ring of the last `cap` dead-letter times */
    size_t cap, n, head;
};

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

/* One agent's lengths, compact. */
typedef struct row {
    uint32_t name_off;     /* its name in names, NUL-terminated */
    uint32_t q_off, q_len; /* the name as a JSON string in quoted */
    uint32_t queued[3], dlq, inflight;
    double age[3];
} row;

#define SNAP_BAD_MAX 100 /* keys of the wrong type kept (and reported) at most */

struct am__snap {
    am_buf names, quoted;
    row *rows;
    size_t n, cap;
    am_buf bad; /* per key that could not be read: agent, key, why, each NUL-terminated */
    size_t n_bad;
    bool oom;
};

static uint32_t clamp32(size_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static am__snap *snap_new(void)
{
    am__snap *s = am__calloc(1, sizeof *s);
    if (s) {
        am_buf_init(&s->names, 0);
        am_buf_init(&s->quoted, 0);
        am_buf_init(&s->bad, 0);
    }
    return s;
}

void am__coord_snap_free(am__snap *s)
{
    if (!s)
        return;
    am_buf_free(&s->names);
    am_buf_free(&s->quoted);
    am_buf_free(&s->bad);
    am__free(s->rows);
    am__free(s);
}

static void snap_agent(const char *agent, const am_coord_stats *st, void *ud)
{
    am__snap *s = ud;
    row *rows = am__grow(s->rows, &s->cap, s->n + 1, sizeof *rows, 1024);
    if (!rows) {
        s->oom = true;
        return;
    }
    s->rows = rows;
    row *r = &s->rows[s->n++];
    r->name_off = (uint32_t)s->names.len;
    am_buf_append(&s->names, agent, strlen(agent) + 1);
    r->q_off = (uint32_t)s->quoted.len;
    am__buf_json_string(&s->quoted, agent, strlen(agent));
    r->q_len = (uint32_t)(s->quoted.len - r->q_off);
    for (int p = 0; p < 3; p++) {
        r->queued[p] = clamp32(st->queued[p]);
        r->age[p] = st->oldest_age_s[p];
    }
    r->dlq = clamp32(st->dlq);
    r->inflight = clamp32(st->inflight);
}

static void snap_expect(size_t n, void *ud)
{
    am__snap *s = ud;
    row *rows = am__grow(s->rows, &s->cap, n, sizeof *rows, 1024);
    if (rows)
        s->rows = rows;
    am_buf_reserve(&s->names, n * 16);
    am_buf_reserve(&s->quoted, n * 18);
}

static void snap_bad(const char *agent, const char *key, const char *why, void *ud)
{
    am__snap *s = ud;
    if (s->n_bad >= SNAP_BAD_MAX)
        return;
    am_buf_append(&s->bad, agent, strlen(agent) + 1);
    am_buf_append(&s->bad, key, strlen(key) + 1);
    am_buf_append(&s->bad, why, strlen(why) + 1);
    s->n_bad++;
}

/* Call fn for each bad key of s: agent, key, why. */
static void each_bad(const am__snap *s,
                     void (*fn)(const char *a, const char *k, const char *w, void *ud), void *ud)
{
    const char *p = s->bad.p;
    for (size_t i = 0; i < s->n_bad; i++) {
        const char *a = p, *k = a + strlen(a) + 1, *w = k + strlen(k) + 1;
        fn(a, k, w, ud);
        p = w + strlen(w) + 1;
    }
}

/* A snapshot of every agent's lengths from the backend (totals: see
   am__agent_sink). *out owned; NULL on an error. */
static am_err take_snapshot(am_coord *c, double *totals, am__snap **out)
{
    *out = NULL;
    am__snap *s = snap_new();
    if (!s)
        return am__err(AM_ENOMEM, "out of memory taking a snapshot");
    am__agent_sink sink = {snap_agent, snap_bad, s, totals, snap_expect};
    am_err rc = c->ops->each_agent(c, &sink);
    if (!rc && (s->oom || am_buf_err(&s->names) || am_buf_err(&s->quoted) || am_buf_err(&s->bad)))
        rc = am__err(AM_ENOMEM, "out of memory taking a snapshot");
    if (rc) {
        am__coord_snap_free(s);
        return rc;
    }
    *out = s;
    return AM_OK;
}

/* Make s (taken) the snapshot c's gauges show. */
static void publish(am_coord *c, am__snap *s)
{
    pthread_mutex_lock(&c->snap_lock);
    am__snap *old = c->snap;
    c->snap = s;
    c->snap_at = am_unix_time();
    pthread_mutex_unlock(&c->snap_lock);
    am__coord_snap_free(old);
}

am_err am__coord_refresh(am_coord *c)
{
    am__snap *s;
    am_err rc = take_snapshot(c, NULL, &s);
    if (rc) {
        am_counter_inc(c->refresh_failures);
        if (!atomic_exchange(&c->refresh_failing, true))
            AM_LOG_WARNING(am__coord_opts(c).logger, "coordinator",
                           "cannot refresh the coordinator's snapshot: its gauges grow old",
                           AM_F_STR("backend", c->ops->name), AM_F_STR("error", am_errmsg()));
        return rc;
    }
    if (atomic_exchange(&c->refresh_failing, false))
        AM_LOG_INFO(am__coord_opts(c).logger, "coordinator",
                    "the coordinator's snapshot is refreshed again",
                    AM_F_STR("backend", c->ops->name));
    publish(c, s);
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Scrape-time lengths                                                 */
/* ------------------------------------------------------------------ */

typedef enum { L_QUEUE, L_DLQ, L_INFLIGHT, L_AGE } lkind;

typedef struct lens {
    am_sink *sink;
    lkind kind;
} lens;

static void put_lengths(am_sink *sink, lkind kind, const char *agent, const uint32_t queued[3],
                        uint32_t dlq, uint32_t inflight, const double age[3])
{
    static const char *const prio[3] = {"1", "5", "9"};
    switch (kind) {
    case L_QUEUE:
        for (int p = 0; p < 3; p++)
            am_sink_put(sink, AM_LABELS(agent, prio[p]), (double)queued[p]);
        break;
    case L_AGE:
        for (int p = 0; p < 3; p++)
            am_sink_put(sink, AM_LABELS(agent, prio[p]), age[p]);
        break;
    case L_DLQ:
        am_sink_put(sink, AM_LABELS(agent), (double)dlq);
        break;
    case L_INFLIGHT:
        am_sink_put(sink, AM_LABELS(agent), (double)inflight);
        break;
    }
}

static void put_agent(const char *agent, const am_coord_stats *st, void *ud)
{
    lens *l = ud;
    uint32_t q[3] = {clamp32(st->queued[0]), clamp32(st->queued[1]), clamp32(st->queued[2])};
    put_lengths(l->sink, l->kind, agent, q, clamp32(st->dlq), clamp32(st->inflight),
                st->oldest_age_s);
}

static void collect(am_sink *sink, lkind kind, am_registry *reg)
{
    lens l = {sink, kind};
    am__agent_sink live = {put_agent, NULL, &l, NULL};
    pthread_mutex_lock(&g_open_lock);
    for (am_coord *c = g_open; c; c = c->next_open) {
        if (c->reg != reg)
            continue;
        if (!c->ops->is_remote) {
            c->ops->each_agent(c, &live);
            continue;
        }
        pthread_mutex_lock(&c->snap_lock);
        const am__snap *s = c->snap;
        for (size_t i = 0; s && i < s->n; i++) {
            const row *r = &s->rows[i];
            put_lengths(sink, kind, s->names.p + r->name_off, r->queued, r->dlq, r->inflight,
                        r->age);
        }
        pthread_mutex_unlock(&c->snap_lock);
        if (!s && c->ops->wake)
            c->ops->wake(c); /* none yet: refresh now rather than in a second */
    }
    pthread_mutex_unlock(&g_open_lock);
}

/* The callbacks' userdata is the registry they were registered in. */
static void collect_queue(am_sink *s, void *ud)
{
    collect(s, L_QUEUE, ud);
}

static void collect_dlq(am_sink *s, void *ud)
{
    collect(s, L_DLQ, ud);
}

static void collect_inflight(am_sink *s, void *ud)
{
    collect(s, L_INFLIGHT, ud);
}

static void collect_age(am_sink *s, void *ud)
{
    collect(s, L_AGE, ud);
}

/* The oldest snapshot among the registry's coordinators (0: all live). */
static void collect_snapshot_age(am_sink *sink, void *ud)
{
    double now = am_unix_time(), oldest = -1;
    pthread_mutex_lock(&g_open_lock);
    for (am_coord *c = g_open; c; c = c->next_open) {
        if (c->reg != ud)
            continue;
        double age = 0;
        if (c->ops->is_remote) {
            pthread_mutex_lock(&c->snap_lock);
            age = now - c->snap_at;
            pthread_mutex_unlock(&c->snap_lock);
        }
        if (age > oldest)
            oldest = age < 0 ? 0 : age;
    }
    pthread_mutex_unlock(&g_open_lock);
    if (oldest >= 0)
        am_sink_put(sink, NULL, 0, round(oldest * 1e3) / 1e3);
}

static void put_bad(const char *agent, const char *key, const char *why, void *ud)
{
    (void)why;
    am_sink_put(ud, AM_LABELS(agent, key), 1);
}

static void collect_key_errors(am_sink *sink, void *ud)
{
    pthread_mutex_lock(&g_open_lock);
    for (am_coord *c = g_open; c; c = c->next_open) {
        if (c->reg != ud || !c->ops->is_remote)
            continue;
        pthread_mutex_lock(&c->snap_lock);
        if (c->snap)
            each_bad(c->snap, put_bad, sink);
        pthread_mutex_unlock(&c->snap_lock);
    }
    pthread_mutex_unlock(&g_open_lock);
}

/* ------------------------------------------------------------------ */
/* Registration                                                        */
/* ------------------------------------------------------------------ */

/* The rows; how each is held (a handle in am_coord, or a scrape callback)
   is in HOW, in the same order. */
#define SPEC "messaging-metrics-spec.md"
#define BEYOND "agentmon (beyond messaging-metrics-spec.md)"

const am_metric_def am__defs_coord[] = {
    {"messaging", AM_TYPE_GAUGE, "messaging_queue_length", "messaging.queue_length",
     "Messages waiting to be received, per agent and priority (1 LOW, 5 NORMAL, 9 HIGH).", NULL,
     AM_DEF_LABELS("agent", "priority"), NULL, 0, NULL, SPEC},
    {"messaging", AM_TYPE_GAUGE, "messaging_dlq_length", "messaging.dlq_length",
     "Messages in the agent's dead-letter queue.", NULL, AM_DEF_LABELS("agent"), NULL, 0, NULL,
     SPEC},
    {"messaging", AM_TYPE_GAUGE, "messaging_inflight", "messaging.inflight",
     "Messages received and not yet acked or nacked, per agent.", NULL, AM_DEF_LABELS("agent"),
     NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_GAUGE, "messaging_oldest_message_age_seconds",
     "messaging.oldest_message_age_seconds",
     "Age of the message at the head of each queue, since it was first sent.", "seconds",
     AM_DEF_LABELS("agent", "priority"), NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_COUNTER, "messaging_nacks_total", "messaging.nacks.total",
     "Nacks received.", NULL, NULL, NULL, 0, NULL, SPEC},
    {"messaging", AM_TYPE_COUNTER, "messaging_retries_scheduled_total",
     "messaging.retries.scheduled.total", "Transient nacks scheduled for a retry after a backoff.",
     NULL, NULL, NULL, 0, NULL, SPEC},
    {"messaging", AM_TYPE_COUNTER, "messaging_permanent_failures_total",
     "messaging.permanent_failures.total",
     "Messages dead-lettered for good (permanent nack or attempts used up).", NULL, NULL, NULL, 0,
     NULL, SPEC},
    {"messaging", AM_TYPE_GAUGE, "messaging_retries_last_backoff_seconds",
     "messaging.retries.last_backoff_seconds", "Backoff of the last retry scheduled.", "seconds",
     NULL, NULL, 0, NULL, SPEC},
    {"messaging", AM_TYPE_COUNTER, "messaging_delivered_ok_total", "messaging.delivered.ok",
     "Deliveries acked.", NULL, NULL, NULL, 0, NULL, SPEC},
    {"messaging", AM_TYPE_COUNTER, "messaging_delivered_error_total", "messaging.delivered.error",
     "Deliveries that failed: nacks and backend errors.", NULL, NULL, NULL, 0, NULL, SPEC},
    {"messaging", AM_TYPE_COUNTER, "messaging_recovered_total", "messaging.recovered.total",
     "Expired reservations put back in their queue.", NULL, NULL, NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_COUNTER, "messaging_sent_total", "messaging.sent.total",
     "Messages sent, by sender, recipient and message type.", NULL,
     AM_DEF_LABELS("from_agent", "to_agent", "message_type"), NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_COUNTER, "messaging_dead_lettered_total", "messaging.dead_lettered.total",
     "Messages moved to a dead-letter queue, by reason (permanent, max_attempts, poison).", NULL,
     AM_DEF_LABELS("agent", "reason"), NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_COUNTER, "messaging_dlq_growth_events_total",
     "messaging.dlq_growth_events.total",
     "Times an agent's DLQ grew by the threshold within the window.", NULL, AM_DEF_LABELS("agent"),
     NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_HISTOGRAM, "messaging_queue_wait_seconds", "messaging.queue_wait_seconds",
     "Time from a message becoming deliverable to its being received.", "seconds",
     AM_DEF_LABELS("agent", "priority"), NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_HISTOGRAM, "messaging_processing_seconds", "messaging.processing_seconds",
     "Time from receive to ack or nack, by outcome (ok, retry, dead_letter).", "seconds",
     AM_DEF_LABELS("agent", "outcome"), NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_GAUGE, "agentmon_coord_snapshot_age_seconds", NULL,
     "Seconds since the lengths above were read from a remote (Redis) coordinator, which a "
     "scrape never waits for: a background thread reads them every second (0 for a memory "
     "coordinator, read at the scrape; the oldest when several share the registry).",
     "seconds", NULL, NULL, 0, NULL, "agentmon"},
    {"messaging", AM_TYPE_COUNTER, "agentmon_coord_snapshot_refresh_failures_total", NULL,
     "Background reads of a remote coordinator's lengths that failed (Redis unreachable, hung "
     "past the 1 s deadline, or refusing).",
     NULL, NULL, NULL, 0, NULL, "agentmon"},
    {"messaging", AM_TYPE_GAUGE, "agentmon_coord_key_errors", NULL,
     "Keys of a Redis coordinator the last snapshot could not read (a value of the wrong type), "
     "1 per key, at most 100; the other agents are reported as usual.",
     NULL, AM_DEF_LABELS("agent", "key"), NULL, 0, NULL, "agentmon"},
};
#define N_DEFS (sizeof am__defs_coord / sizeof am__defs_coord[0])
const am_def_table am__table_coord = {am__defs_coord, N_DEFS};

#define H(field) offsetof(am_coord, field)

static const struct {
    size_t off;            /* where the handle goes in am_coord */
    am_collect_fn collect; /* or: read at scrape time */
} HOW[N_DEFS] = {
    {0, collect_queue},      {0, collect_dlq},          {0, collect_inflight},
    {0, collect_age},        {H(nacks), NULL},          {H(retries), NULL},
    {H(permanent), NULL},    {H(last_backoff), NULL},   {H(ok), NULL},
    {H(error), NULL},        {H(recovered), NULL},      {H(sent), NULL},
    {H(dead), NULL},         {H(growth_events), NULL},  {H(wait_h), NULL},
    {H(proc_h), NULL},       {0, collect_snapshot_age}, {H(refresh_failures), NULL},
    {0, collect_key_errors},
};

am_err am__coord_metrics_init(am_coord *c)
{
    for (size_t i = 0; i < N_DEFS; i++) {
        const am_metric_def *d = &am__defs_coord[i];
        am_err rc;
        if (HOW[i].collect) {
            am_metric_opts o = am__def_opts(d);
            am_callback *cb;
            rc = am_callback_new(c->reg, d->type, &o, HOW[i].collect, c->reg, &cb);
        } else {
            rc = am__def_register(c->reg, d, (void **)((char *)c + HOW[i].off));
        }
        if (rc)
            return rc;
    }
    return AM_OK;
}

void am__coord_metrics_link(am_coord *c)
{
    pthread_mutex_lock(&g_open_lock);
    c->next_open = g_open;
    g_open = c;
    pthread_mutex_unlock(&g_open_lock);
}

void am__coord_metrics_fini(am_coord *c)
{
    pthread_mutex_lock(&g_open_lock);
    for (am_coord **pp = &g_open; *pp; pp = &(*pp)->next_open) {
        if (*pp == c) {
            *pp = c->next_open;
            break;
        }
    }
    pthread_mutex_unlock(&g_open_lock);
    for (am__growth *g = c->growth, *n; g; g = n) {
        n = g->next;
        am__free(g->agent);
        am__free(g->t);
        am__free(g);
    }
    c->growth = NULL;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static void growth(am_coord *c, const char *agent)
{
    am_coord_opts o = am__coord_opts(c);
    size_t n = o.dlq_growth_threshold;
    double w = o.dlq_growth_window_s;
    am_dlq_growth_fn fn = o.on_dlq_growth;
    void *ud = o.dlq_growth_userdata;
    am_logger *lg = o.logger;

    double now = am_unix_time();
    bool fire = false;
    pthread_mutex_lock(&c->growth_lock);
    am__growth *g = c->growth;
    while (g && strcmp(g->agent, agent) != 0)
        g = g->next;
    if (!g) {
        g = am__calloc(1, sizeof *g);
        if (g && !(g->agent = am__strdup(agent))) {
            am__free(g);
            g = NULL;
        }
        if (g) {
            g->next = c->growth;
            c->growth = g;
        }
    }
    if (g && g->cap != n) {
        double *t = am__calloc(n, sizeof *t);
        if (t) {
            am__free(g->t);
            g->t = t;
            g->cap = n;
            g->n = g->head = 0;
        }
    }
    if (g && g->cap == n) {
        /* ring: head is the oldest of the n kept */
        if (g->n < n) {
            g->t[(g->head + g->n++) % n] = now;
        } else {
            g->t[g->head] = now;
            g->head = (g->head + 1) % n;
        }
        if (g->n == n && now - g->t[g->head] <= w) {
            fire = true;
            g->n = g->head = 0;
        }
    }
    pthread_mutex_unlock(&c->growth_lock);
    if (!fire)
        return;
    am_counter *ev;
    am_err rc = am_counter_with(c->growth_events, AM_LABELS(agent), &ev);
    if (rc == AM_OK || rc == AM_ELIMIT)
        am_counter_inc(ev);
    AM_LOG_WARNING(lg, "coordinator", "dead-letter queue growing", AM_F_STR("agent", agent),
                   AM_F_INT("grown", n), AM_F_DOUBLE("window_seconds", w));
    if (fn)
        fn(agent, n, w, ud);
}

am_err am__coord_metrics_agent(am_coord *c, const char *agent)
{
    static const char *const reasons[] = {"permanent", "max_attempts", "poison"};
    am_counter *k;
    am_err rc = am_counter_with(c->growth_events, AM_LABELS(agent), &k);
    for (size_t i = 0; i < 3 && rc == AM_OK; i++)
        rc = am_counter_with(c->dead, AM_LABELS(agent, reasons[i]), &k);
    return rc == AM_ELIMIT ? AM_OK : rc; /* past the limit: the overflow child counts */
}

void am__coord_dead_lettered(am_coord *c, const char *agent, const char *reason)
{
    am_counter *d;
    am_err rc = am_counter_with(c->dead, AM_LABELS(agent, reason), &d);
    if (rc == AM_OK || rc == AM_ELIMIT)
        am_counter_inc(d);
    am__coord_count(c, AM__T_DEAD);
    if (strcmp(reason, "poison") != 0) {
        am_counter_inc(c->permanent);
        am__coord_count(c, AM__T_PERMANENT);
    }
    growth(c, agent);
}

void am__coord_event(am_coord *c, const char *agent, am__event ev)
{
    switch (ev) {
    case AM__EV_RECOVERED:
        am_counter_inc(c->recovered);
        am__coord_count(c, AM__T_RECOVERED);
        break;
    case AM__EV_DEAD_ATTEMPTS:
        am__coord_dead_lettered(c, agent, "max_attempts");
        break;
    case AM__EV_DEAD_POISON:
        am__coord_dead_lettered(c, agent, "poison");
        break;
    }
}

/* ------------------------------------------------------------------ */
/* The JSON snapshot                                                   */
/* ------------------------------------------------------------------ */

/* "key":{"agent":v,...} for one of the four per-agent sections. */
static void section(am_buf *b, const am__snap *s, const char *key, size_t klen, int which)
{
    static const char prio[3][6] = {"\"1\":", ",\"5\":", ",\"9\":"};
    am_buf_append(b, key, klen);
    for (size_t i = 0; i < s->n; i++) {
        const row *r = &s->rows[i];
        if (i)
            am_buf_putc(b, ',');
        am_buf_append(b, s->quoted.p + r->q_off, r->q_len);
        am_buf_putc(b, ':');
        switch (which) {
        case 0:
        case 3:
            am_buf_putc(b, '{');
            for (int p = 0; p < 3; p++) {
                am_buf_append(b, prio[p], p ? 5 : 4);
                if (which == 0)
                    am__buf_int(b, r->queued[p]);
                else if (r->age[p] == 0)
                    am_buf_putc(b, '0');
                else
                    am__buf_double(b, r->age[p]);
            }
            am_buf_putc(b, '}');
            break;
        case 1:
            am__buf_int(b, r->dlq);
            break;
        default:
            am__buf_int(b, r->inflight);
            break;
        }
    }
    am_buf_putc(b, '}');
}

typedef struct jbad {
    am_buf *b;
    bool more;
} jbad;

static void json_bad(const char *agent, const char *key, const char *why, void *ud)
{
    jbad *j = ud;
    am_buf *b = j->b;
    if (j->more)
        am_buf_putc(b, ',');
    j->more = true;
    am_buf_puts(b, "{\"agent\":");
    am__buf_json_string(b, agent, strlen(agent));
    am_buf_puts(b, ",\"key\":");
    am__buf_json_string(b, key, strlen(key));
    am_buf_puts(b, ",\"error\":");
    am__buf_json_string(b, why, strlen(why));
    am_buf_putc(b, '}');
}

am_err am_coord_snapshot(am_coord *c, char **out, size_t *len)
{
    if (!c || !out)
        return am__err(AM_EINVAL, "coordinator or out pointer is NULL");
    double totals[AM__N_TOTALS];
    am__coord_local(c, totals);
    am__snap *s;
    am_err rc = take_snapshot(c, totals, &s);
    if (rc)
        return rc;
    /* The four sections are written into one buffer sized up front, so
       the output is built without regrowth. */
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_reserve(&b, 1024 + s->quoted.len * 4 + s->n * 140 + s->bad.len * 2);
    static const char *const names[AM__N_TOTALS] = {"messaging.nacks.total",
                                                    "messaging.retries.scheduled.total",
                                                    "messaging.permanent_failures.total",
                                                    "messaging.delivered.ok",
                                                    "messaging.delivered.error",
                                                    "messaging.recovered.total",
                                                    "messaging.sent.total",
                                                    "messaging.dead_lettered.total"};
#define S(lit) lit, sizeof(lit) - 1
    am_buf_puts(&b, "{\"timestamp\":");
    am__buf_millis(&b, am_unix_time());
    am_buf_puts(&b, ",\"backend\":");
    am__buf_json_string(&b, c->ops->name, strlen(c->ops->name));
    section(&b, s, S(",\"messaging.queue_length\":{"), 0);
    section(&b, s, S(",\"messaging.dlq_length\":{"), 1);
    section(&b, s, S(",\"messaging.inflight\":{"), 2);
    section(&b, s, S(",\"messaging.oldest_message_age_seconds\":{"), 3);
#undef S
    for (int i = 0; i < AM__N_TOTALS; i++) {
        am_buf_puts(&b, ",\"");
        am_buf_puts(&b, names[i]);
        am_buf_puts(&b, "\":");
        am__buf_double(&b, totals[i]);
    }
    am_buf_puts(&b, ",\"messaging.retries.last_backoff_seconds\":");
    am__buf_double(&b, am_gauge_value(c->last_backoff));
    if (s->n_bad) {
        am_buf_puts(&b, ",\"errors\":[");
        jbad j = {&b, false};
        each_bad(s, json_bad, &j);
        am_buf_putc(&b, ']');
    }
    am_buf_puts(&b, "}\n");
    if (c->ops->is_remote)
        publish(c, s); /* a fresh read: the gauges show it too */
    else
        am__coord_snap_free(s);
    if (am_buf_err(&b)) {
        am_buf_free(&b);
        return am__err(AM_ENOMEM, "out of memory building the snapshot");
    }
    *out = am_buf_take(&b, len);
    return AM_OK;
}
