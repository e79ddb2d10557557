/*
** coord_metrics.c: the coordinator's metrics, DLQ growth events and the
** JSON snapshot.
**
** DESIGN
** Counters and histograms are updated as operations happen (coord.c).
** Lengths -- queue, DLQ, in flight, age of each queue's head -- are never
** kept as counters that could drift: they are read from the backend when
** Prometheus scrapes, through callback families. Several coordinators may
** share a registry (the families are registered once and shared); the
** callbacks walk the list of open coordinators and report those that use
** the registry being scraped. Closing a coordinator takes it off the list
** under the same lock a scrape holds, so a scrape never reads a closed one.
**
** DLQ growth: per agent the times of the last N dead-letterings are kept
** in a ring; when the N-th happens within W seconds of the first, the event
** fires (callback, WARNING log line, counter) and the ring starts over.
*/
#include <stddef.h>
#include <string.h>

#include "agentmon/expose.h"
#include "agentmon/timer.h"
#include "../core/alloc.h"
#include "../core/buf.h"
#include "../core/catalog.h"
#include "../core/error.h"
#include "../core/fmt.h"
#include "../core/render.h"
#include "coord.h"

static pthread_mutex_t g_open_lock = PTHREAD_MUTEX_INITIALIZER;
static am_coord *g_open;

struct am__growth {
    struct am__growth *next;
    char *agent;
    double *t;          /* ring of the last `cap` dead-letter times */
    size_t cap, n, head;
};

/* ------------------------------------------------------------------ */
/* Scrape-time lengths                                                 */
/* ------------------------------------------------------------------ */

typedef enum { L_QUEUE, L_DLQ, L_INFLIGHT, L_AGE } lkind;

typedef struct lens {
    am_sink *sink;
    lkind kind;
} lens;

static void put_agent(const char *agent, const am_coord_stats *st, void *ud)
{
    lens *l = ud;
    static const char *const prio[3] = {"1", "5", "9"};
    switch (l->kind) {
    case L_QUEUE:
        for (int p = 0; p < 3; p++)
            am_sink_put(l->sink, AM_LABELS(agent, prio[p]), (double)st->queued[p]);
        break;
    case L_AGE:
        for (int p = 0; p < 3; p++)
            am_sink_put(l->sink, AM_LABELS(agent, prio[p]), st->oldest_age_s[p]);
        break;
    case L_DLQ:
        am_sink_put(l->sink, AM_LABELS(agent), (double)st->dlq);
        break;
    case L_INFLIGHT:
        am_sink_put(l->sink, AM_LABELS(agent), (double)st->inflight);
        break;
    }
}

static void collect(am_sink *sink, lkind kind, am_registry *reg)
{
    lens l = {sink, kind};
    pthread_mutex_lock(&g_open_lock);
    for (am_coord *c = g_open; c; c = c->next_open)
        if (c->reg == reg)
            c->ops->each_agent(c, put_agent, &l);
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
    {"messaging", AM_TYPE_COUNTER, "messaging_dead_lettered_total",
     "messaging.dead_lettered.total",
     "Messages moved to a dead-letter queue, by reason (permanent, max_attempts, poison).", NULL,
     AM_DEF_LABELS("agent", "reason"), NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_COUNTER, "messaging_dlq_growth_events_total",
     "messaging.dlq_growth_events.total",
     "Times an agent's DLQ grew by the threshold within the window.", NULL,
     AM_DEF_LABELS("agent"), NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_HISTOGRAM, "messaging_queue_wait_seconds", "messaging.queue_wait_seconds",
     "Time from a message becoming deliverable to its being received.", "seconds",
     AM_DEF_LABELS("agent", "priority"), NULL, 0, NULL, BEYOND},
    {"messaging", AM_TYPE_HISTOGRAM, "messaging_processing_seconds",
     "messaging.processing_seconds",
     "Time from receive to ack or nack, by outcome (ok, retry, dead_letter).", "seconds",
     AM_DEF_LABELS("agent", "outcome"), NULL, 0, NULL, BEYOND},
};
#define N_DEFS (sizeof am__defs_coord / sizeof am__defs_coord[0])
const size_t am__n_defs_coord = N_DEFS;
const am_def_table am__table_coord = {am__defs_coord, N_DEFS};

#define H(field) offsetof(am_coord, field)

static const struct {
    size_t off;                 /* where the handle goes in am_coord */
    am_collect_fn collect;      /* or: read at scrape time */
} HOW[N_DEFS] = {
    {0, collect_queue},        {0, collect_dlq},         {0, collect_inflight},
    {0, collect_age},          {H(nacks), NULL},         {H(retries), NULL},
    {H(permanent), NULL},      {H(last_backoff), NULL},  {H(ok), NULL},
    {H(error), NULL},          {H(recovered), NULL},     {H(sent), NULL},
    {H(dead), NULL},           {H(growth_events), NULL}, {H(wait_h), NULL},
    {H(proc_h), NULL},
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
    pthread_mutex_lock(&g_open_lock);
    c->next_open = g_open;
    g_open = c;
    pthread_mutex_unlock(&g_open_lock);
    return AM_OK;
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
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

/* One agent's lengths, compact, as the snapshot needs them. */
typedef struct row {
    uint32_t name_off, name_len; /* the escaped, quoted name in names */
    uint32_t queued[3], dlq, inflight;
    double age[3];
} row;

typedef struct snap {
    am_buf names;
    row *rows;
    size_t n, cap;
    bool oom;
} snap;

static uint32_t clamp32(size_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void snap_agent(const char *agent, const am_coord_stats *st, void *ud)
{
    snap *s = ud;
    row *rows = am__grow(s->rows, &s->cap, s->n + 1, sizeof *rows, 1024);
    if (!rows) {
        s->oom = true;
        return;
    }
    s->rows = rows;
    row *r = &s->rows[s->n++];
    r->name_off = (uint32_t)s->names.len;
    am__buf_json_string(&s->names, agent, strlen(agent));
    r->name_len = (uint32_t)(s->names.len - r->name_off);
    for (int p = 0; p < 3; p++) {
        r->queued[p] = clamp32(st->queued[p]);
        r->age[p] = st->oldest_age_s[p];
    }
    r->dlq = clamp32(st->dlq);
    r->inflight = clamp32(st->inflight);
}

/* "key":{"agent":v,...} for one of the four per-agent sections. */
static void section(am_buf *b, const snap *s, const char *key, size_t klen, int which)
{
    static const char prio[3][6] = {"\"1\":", ",\"5\":", ",\"9\":"};
    am_buf_append(b, key, klen);
    for (size_t i = 0; i < s->n; i++) {
        const row *r = &s->rows[i];
        if (i)
            am_buf_putc(b, ',');
        am_buf_append(b, s->names.p + r->name_off, r->name_len);
        am_buf_putc(b, ':');
        switch (which) {
        case 0:
        case 3:
            am_buf_putc(b, '{');
            for (int p = 0; p < 3; p++) {
                am_buf_append(b, prio[p], p ? 5 : 4);
                am__buf_double(b, which == 0 ? (double)r->queued[p] : r->age[p]);
            }
            am_buf_putc(b, '}');
            break;
        case 1:
            am__buf_double(b, (double)r->dlq);
            break;
        default:
            am__buf_double(b, (double)r->inflight);
            break;
        }
    }
    am_buf_putc(b, '}');
}

am_err am_coord_snapshot(am_coord *c, char **out, size_t *len)
{
    if (!c || !out)
        return am__err(AM_EINVAL, "coordinator or out pointer is NULL");
    double totals[AM__N_TOTALS];
    am__coord_local(c, totals);
    am_err rc = AM_OK;
    if (c->ops->totals && (rc = c->ops->totals(c, totals)))
        return rc;
    /* One walk collects the rows; the four sections are then written into
       one buffer sized up front, so the output is built without regrowth. */
    snap s = {0};
    am_buf_init(&s.names, 0);
    rc = c->ops->each_agent(c, snap_agent, &s);
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_reserve(&b, 1024 + s.names.len * 4 + s.n * 140);
    static const char *const names[AM__N_TOTALS] = {
        "messaging.nacks.total",       "messaging.retries.scheduled.total",
        "messaging.permanent_failures.total", "messaging.delivered.ok",
        "messaging.delivered.error",   "messaging.recovered.total",
        "messaging.sent.total",        "messaging.dead_lettered.total"};
#define S(lit) lit, sizeof(lit) - 1
    am_buf_puts(&b, "{\"timestamp\":");
    am__buf_millis(&b, am_unix_time());
    am_buf_puts(&b, ",\"backend\":");
    am__buf_json_string(&b, c->ops->name, strlen(c->ops->name));
    section(&b, &s, S(",\"messaging.queue_length\":{"), 0);
    section(&b, &s, S(",\"messaging.dlq_length\":{"), 1);
    section(&b, &s, S(",\"messaging.inflight\":{"), 2);
    section(&b, &s, S(",\"messaging.oldest_message_age_seconds\":{"), 3);
#undef S
    for (int i = 0; i < AM__N_TOTALS; i++) {
        am_buf_puts(&b, ",\"");
        am_buf_puts(&b, names[i]);
        am_buf_puts(&b, "\":");
        am__buf_double(&b, totals[i]);
    }
    am_buf_puts(&b, ",\"messaging.retries.last_backoff_seconds\":");
    am__buf_double(&b, am_gauge_value(c->last_backoff));
    am_buf_puts(&b, "}\n");
    am_err berr = am_buf_err(&b) ? am_buf_err(&b) : am_buf_err(&s.names);
    if (s.oom)
        berr = AM_ENOMEM;
    am_buf_free(&s.names);
    am__free(s.rows);
    if (rc || berr) {
        am_buf_free(&b);
        return rc ? rc : am__err(AM_ENOMEM, "out of memory building the snapshot");
    }
    *out = am_buf_take(&b, len);
    return AM_OK;
}
