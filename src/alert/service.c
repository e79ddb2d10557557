/*
** service.c: the alerting engine run for a collector (see service.h).
**
** DESIGN
** The engine thread is the window's main writer (the registries' feed
** and the rules' outputs) and the engine's only driver. It wakes at the
** earlier of the next slot a rule group is due and one feed interval
** (the evaluation interval, or shorter for a live dashboard) after the
** last feed, feeds every registry stamped with the
** time it was due (so the group due then reads what was just fed, as a
** rule in Prometheus reads the scrape that came before it), and ticks the
** engine. A reload is a request the thread takes between ticks: the
** requester waits on the same condition variable for its outcome, so
** am_alert_engine_load() runs on the engine's thread as alert.h asks.
**
** Scraped samples arrive on the scraper's thread. Each source (target)
** has a stage: the samples of the scrape under way, copied into one text
** buffer ("name\0n1\0v1\0...") and an index. am_alerting_scrape_end()
** appends the stage as one batch through the source's own am_tsdb_src,
** so what vanished from the target is marked stale, and empties it. The
** window's write lock serialises these batches with the engine's.
**
** Rule files may be globs, as in prometheus.yml's rule_files: a pattern
** that matches nothing adds nothing; a plain path that does not exist is
** an error.
**
** THREADING: mu guards the requests, stopping and the reload outcome;
** stage_mu the list of stages (each stage is used by its source's thread
** only, and freed at stop, after every source has stopped).
*/
#include <glob.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/pack.h"
#include "labels.h"
#include "service.h"

#define DEFAULT_EVAL_MS 15000
#define DEFAULT_MAX_SERIES 1000000
#define DEFAULT_WINDOW_MS (3600 * 1000LL) /* before rules or queries ask for more */
#define MAX_STAGES 256

typedef struct staged {
    size_t off; /* "name\0n1\0v1\0..." in the stage's text */
    uint32_t n; /* label pairs */
    int64_t t;
    double v;
} staged;

typedef struct stage {
    char *source;
    am_tsdb_src *src;
    am_buf text;
    staged *s;
    size_t n, cap;
} stage;

struct am_alerting {
    am_alerting_opts o;
    char **files;
    size_t n_files;
    char *external_url;
    am_tsdb *db;
    am_tsdb_src *feed;
    am_alert_engine *eng;
    am_logger *log;
    am__pack *pack; /* the window's gauges, in o.registry */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool has_thread, is_stopping;
    uint64_t reload_asked, reload_done; /* request numbers */
    am_err reload_rc;
    am_buf reload_errs;
    int64_t last_reload_ms;
    bool last_reload_ok;

    pthread_mutex_t stage_mu;
    stage *stages[MAX_STAGES];
    size_t n_stages;
};

/* ---- the window's own gauges ------------------------------------------------ */

/* What the window holds, as Prometheus' prometheus_tsdb_head_* say it of
   its head block: the retention is what the rules and queries asked for
   (it only widens), so memory is read against it, not against
   --alert-window. */
enum { W_SERIES, W_SAMPLES, W_BYTES, W_RETENTION, N_W };

static const am_metric_def WDEFS[N_W] = {
    [W_SERIES] = {"alerting", AM_TYPE_GAUGE, "agentmon_alert_window_series", NULL,
                  "Series in the in-memory window that rules and queries read.", NULL, NULL, NULL,
                  0, NULL, "agentmon"},
    [W_SAMPLES] = {"alerting", AM_TYPE_GAUGE, "agentmon_alert_window_samples", NULL,
                   "Samples in the window's chunks, staleness markers included.", NULL, NULL, NULL,
                   0, NULL, "agentmon"},
    [W_BYTES] = {"alerting", AM_TYPE_GAUGE, "agentmon_alert_window_bytes", NULL,
                 "Memory the window holds: chunks (with their slack), series and label sets, "
                 "the index.",
                 "bytes", NULL, NULL, 0, NULL, "agentmon"},
    [W_RETENTION] = {"alerting", AM_TYPE_GAUGE, "agentmon_alert_window_retention_seconds", NULL,
                     "How much history the window keeps: --alert-window, widened to what the "
                     "rules' ranges and lookback or a query asked for.",
                     "seconds", NULL, NULL, 0, NULL, "agentmon"},
};
const am_def_table am__table_window = {WDEFS, N_W};

static void window_gauges(am_alerting *al)
{
    if (!al->pack)
        return;
    am_tsdb_stats st;
    am_tsdb_stats_get(al->db, &st);
    (void)am__pack_set(al->pack, W_SERIES, NULL, 0, (double)st.n_series);
    (void)am__pack_set(al->pack, W_SAMPLES, NULL, 0, (double)st.n_samples);
    (void)am__pack_set(al->pack, W_BYTES, NULL, 0,
                       (double)(st.chunk_bytes + st.series_bytes + st.index_bytes));
    (void)am__pack_set(al->pack, W_RETENTION, NULL, 0, (double)am_tsdb_retention(al->db) / 1000);
}

static int64_t now_ms(void)
{
    return (int64_t)(am_unix_time() * 1000.0);
}

/* ---- rule files --------------------------------------------------------- */

static bool has_glob(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}

/* Expand the patterns: owned array of borrowed-from-g or copied strings. */
static am_err expand(am_alerting *al, char ***out, size_t *n_out)
{
    size_t cap = 0, n = 0;
    char **v = NULL;
    am_err rc = AM_OK;
    for (size_t i = 0; i < al->n_files && !rc; i++) {
        glob_t g;
        size_t k = 0;
        memset(&g, 0, sizeof g);
        if (has_glob(al->files[i]) && glob(al->files[i], 0, NULL, &g) == 0)
            k = g.gl_pathc;
        else if (!has_glob(al->files[i]))
            k = 1;
        for (size_t j = 0; j < k && !rc; j++) {
            char **nv = am__grow(v, &cap, n + 1, sizeof *v, 8);
            char *p = nv ? am__strdup(has_glob(al->files[i]) ? g.gl_pathv[j] : al->files[i]) : NULL;
            if (nv)
                v = nv;
            if (!p)
                rc = am__err(AM_ENOMEM, "out of memory");
            else
                v[n++] = p;
        }
        if (has_glob(al->files[i]))
            globfree(&g);
    }
    if (rc) {
        for (size_t i = 0; i < n; i++)
            am__free(v[i]);
        am__free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return AM_OK;
}

static am_err load_rules(am_alerting *al, am_buf *errs)
{
    char **paths = NULL;
    size_t n = 0;
    am_err rc = expand(al, &paths, &n);
    if (!rc) {
        am_ruleset *rs;
        rc = am_ruleset_load((const char *const *)paths, n, &rs, errs);
        if (!rc)
            rc = am_alert_engine_set_rules(al->eng, rs);
    }
    for (size_t i = 0; i < n; i++)
        am__free(paths[i]);
    am__free(paths);
    return rc;
}

/* ---- the thread ---------------------------------------------------------- */

static void reload_now(am_alerting *al)
{
    am_buf errs;
    am_buf_init(&errs, 1u << 20);
    am_err rc = load_rules(al, &errs);
    int64_t t = now_ms();
    if (rc)
        AM_LOG_ERROR(al->log, "agentmon-alerting", "rule reload failed; the running rules stay",
                     AM_F_STR("errors", errs.p ? errs.p : am_errmsg()));
    else
        AM_LOG_INFO(al->log, "agentmon-alerting", "rules reloaded",
                    AM_F_INT("groups", am_alert_engine_n_groups(al->eng)));
    if (!rc)
        am_alert_engine_tick(al->eng, t); /* new groups get their first slot */
    pthread_mutex_lock(&al->mu);
    al->reload_rc = rc;
    am_buf_free(&al->reload_errs);
    al->reload_errs = errs;
    al->last_reload_ok = !rc;
    if (!rc)
        al->last_reload_ms = t;
    pthread_mutex_unlock(&al->mu);
}

static void *engine_main(void *arg)
{
    am_alerting *al = arg;
    int64_t interval = al->o.feed_interval_ms;
    int64_t last_feed = INT64_MIN;
    (void)am_alert_engine_tick(al->eng, now_ms()); /* the groups' first slots */
    int64_t wake = now_ms();                       /* the first feed at once */
    pthread_mutex_lock(&al->mu);
    while (!al->is_stopping) {
        if (al->reload_asked != al->reload_done) {
            uint64_t asked = al->reload_asked;
            pthread_mutex_unlock(&al->mu);
            reload_now(al);
            int64_t next = am_alert_engine_tick(al->eng, now_ms());
            if (next < wake)
                wake = next;
            pthread_mutex_lock(&al->mu);
            al->reload_done = asked;
            pthread_cond_broadcast(&al->cv);
            continue;
        }
        int64_t now = now_ms();
        if (now < wake) {
            int64_t d = wake - now;
            if (d > 1000)
                d = 1000; /* the wall clock may jump: look again each second */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += d / 1000;
            ts.tv_nsec += (long)(d % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&al->cv, &al->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&al->mu);
        /* the samples of the moment the slot was due */
        int64_t t = wake > last_feed ? wake : now;
        if (t > last_feed && al->o.n_regs) {
            window_gauges(al);
            (void)am_alert_feed(al->db, al->feed, al->o.regs, al->o.n_regs, t);
            last_feed = t;
        }
        int64_t next = am_alert_engine_tick(al->eng, now_ms());
        now = now_ms();
        wake = next < now + interval ? next : now + interval;
        if (wake <= now)
            wake = now + 1;
        pthread_mutex_lock(&al->mu);
    }
    pthread_mutex_unlock(&al->mu);
    return NULL;
}

/* ---- start, reload, stop --------------------------------------------------- */

static void free_all(am_alerting *al)
{
    for (size_t i = 0; i < al->n_stages; i++) {
        stage *st = al->stages[i];
        am_tsdb_src_free(al->db, st->src);
        am_buf_free(&st->text);
        am__free(st->s);
        am__free(st->source);
        am__free(st);
    }
    am_alert_engine_free(al->eng);
    am__pack_free(al->pack);
    am_tsdb_src_free(al->db, al->feed);
    am_tsdb_free(al->db);
    for (size_t i = 0; i < al->n_files; i++)
        am__free(al->files[i]);
    am__free(al->files);
    am__free(al->external_url);
    am_buf_free(&al->reload_errs);
    pthread_mutex_destroy(&al->mu);
    pthread_mutex_destroy(&al->stage_mu);
    pthread_cond_destroy(&al->cv);
    am__free(al);
}

am_err am_alerting_start(const am_alerting_opts *o, am_alerting **out, struct am_buf *errs)
{
    am_alerting *al = am__calloc(1, sizeof *al);
    if (!al)
        return am__err(AM_ENOMEM, "out of memory");
    al->o = *o;
    if (al->o.eval_interval_ms <= 0)
        al->o.eval_interval_ms = DEFAULT_EVAL_MS;
    if (al->o.feed_interval_ms <= 0 || al->o.feed_interval_ms > al->o.eval_interval_ms)
        al->o.feed_interval_ms = al->o.eval_interval_ms;
    if (!al->o.max_series)
        al->o.max_series = DEFAULT_MAX_SERIES;
    al->log = o->logger;
    pthread_mutex_init(&al->mu, NULL);
    pthread_mutex_init(&al->stage_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&al->cv, &ca);
    pthread_condattr_destroy(&ca);
    am_buf_init(&al->reload_errs, 0);
    al->external_url = am__strdup(o->external_url ? o->external_url : "");
    al->files = am__calloc(o->n_rule_files + 1, sizeof *al->files);
    am_err rc = al->external_url && al->files ? AM_OK : am__err(AM_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < o->n_rule_files; i++) {
        if (!(al->files[i] = am__strdup(o->rule_files[i])))
            rc = am__err(AM_ENOMEM, "out of memory");
        al->n_files = i + 1;
    }
    am_tsdb_opts to = AM_TSDB_OPTS_INIT;
    to.max_series = al->o.max_series;
    to.retention_ms = al->o.window_ms > 0 ? al->o.window_ms : DEFAULT_WINDOW_MS;
    if (!rc)
        rc = am_tsdb_new(&to, &al->db);
    if (!rc)
        rc = am_tsdb_src_new(al->db, true, &al->feed);
    if (!rc && o->registry)
        rc = am__pack_new(o->registry, WDEFS, N_W, &al->pack);
    if (!rc) {
        am_alert_engine_opts eo = AM_ALERT_ENGINE_OPTS_INIT;
        eo.db = al->db;
        if (o->max_samples)
            eo.query.max_samples = o->max_samples;
        eo.external_url = al->external_url;
        eo.default_interval_ms = al->o.eval_interval_ms;
        eo.notify = o->notify;
        eo.notify_ud = o->notify_ud;
        eo.persister = o->persister;
        if (o->resend_delay_ms > 0)
            eo.resend_delay_ms = o->resend_delay_ms;
        if (o->outage_tolerance_ms > 0)
            eo.outage_tolerance_ms = o->outage_tolerance_ms;
        if (o->for_grace_period_ms > 0)
            eo.for_grace_period_ms = o->for_grace_period_ms;
        rc = am_alert_engine_new(&eo, &al->eng);
    }
    if (!rc)
        rc = load_rules(al, errs);
    if (!rc) {
        al->last_reload_ms = now_ms();
        al->last_reload_ok = true;
        if (pthread_create(&al->thread, NULL, engine_main, al) != 0)
            rc = am__err(AM_ENOMEM, "cannot start the alerting engine's thread");
        else
            al->has_thread = true;
    }
    if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", am_errmsg());
        free_all(al);
        return am__err(rc, "%s", why);
    }
    *out = al;
    return AM_OK;
}

am_err am_alerting_reload(am_alerting *al, struct am_buf *errs)
{
    pthread_mutex_lock(&al->mu);
    uint64_t mine = ++al->reload_asked;
    pthread_cond_broadcast(&al->cv);
    while (al->reload_done < mine && !al->is_stopping)
        pthread_cond_wait(&al->cv, &al->mu);
    am_err rc = al->is_stopping && al->reload_done < mine ? AM_EIO : al->reload_rc;
    if (errs && al->reload_errs.p)
        am_buf_puts(errs, al->reload_errs.p);
    pthread_mutex_unlock(&al->mu);
    if (rc == AM_EIO && al->is_stopping)
        return am__err(AM_EIO, "the collector is stopping");
    return rc ? am__err(rc, "%s", errs && errs->p ? errs->p : "rule files refused") : AM_OK;
}

void am_alerting_halt(am_alerting *al)
{
    if (!al)
        return;
    pthread_mutex_lock(&al->mu);
    al->is_stopping = true;
    pthread_cond_broadcast(&al->cv);
    bool join = al->has_thread;
    al->has_thread = false;
    pthread_mutex_unlock(&al->mu);
    if (join)
        pthread_join(al->thread, NULL);
}

void am_alerting_stop(am_alerting *al)
{
    if (!al)
        return;
    am_alerting_halt(al);
    free_all(al);
}

am_tsdb *am_alerting_db(am_alerting *al)
{
    return al->db;
}

am_alert_engine *am_alerting_engine(am_alerting *al)
{
    return al->eng;
}

am_promql_opts am_alerting_query_opts(const am_alerting *al)
{
    am_promql_opts q = AM_PROMQL_OPTS_INIT;
    if (al->o.max_samples)
        q.max_samples = al->o.max_samples;
    return q;
}

int64_t am_alerting_last_reload_ms(am_alerting *al, bool *is_ok)
{
    pthread_mutex_lock(&al->mu);
    int64_t t = al->last_reload_ms;
    if (is_ok)
        *is_ok = al->last_reload_ok;
    pthread_mutex_unlock(&al->mu);
    return t;
}

/* ---- scrapes ---------------------------------------------------------------- */

static stage *stage_of(am_alerting *al, const char *source)
{
    pthread_mutex_lock(&al->stage_mu);
    stage *st = NULL;
    for (size_t i = 0; i < al->n_stages && !st; i++)
        if (strcmp(al->stages[i]->source, source) == 0)
            st = al->stages[i];
    if (!st && al->n_stages < MAX_STAGES && (st = am__calloc(1, sizeof *st))) {
        st->source = am__strdup(source);
        am_buf_init(&st->text, 0);
        if (!st->source || am_tsdb_src_new(al->db, true, &st->src)) {
            am__free(st->source);
            am__free(st);
            st = NULL;
        } else {
            al->stages[al->n_stages++] = st;
        }
    }
    pthread_mutex_unlock(&al->stage_mu);
    return st;
}

void am_alerting_scrape_sample(am_alerting *al, const char *source, const char *name,
                               const char *const *names, const char *const *values, size_t n,
                               int64_t t_ms, double v)
{
    stage *st = al ? stage_of(al, source) : NULL;
    if (!st || n > 200)
        return;
    staged *s = am__grow(st->s, &st->cap, st->n + 1, sizeof *s, 64);
    if (!s)
        return;
    st->s = s;
    size_t off = st->text.len;
    am_buf_append(&st->text, name, strlen(name) + 1);
    for (size_t i = 0; i < n; i++) {
        am_buf_append(&st->text, names[i], strlen(names[i]) + 1);
        am_buf_append(&st->text, values[i], strlen(values[i]) + 1);
    }
    if (am_buf_err(&st->text))
        return; /* out of memory: the scrape's end appends nothing of it */
    st->s[st->n++] = (staged){off, (uint32_t)n, t_ms, v};
}

void am_alerting_scrape_end(am_alerting *al, const char *source, int64_t t_ms)
{
    stage *st = al ? stage_of(al, source) : NULL;
    if (!st)
        return;
    am_label pairs[202];
    if (!am_buf_err(&st->text)) {
        am_tsdb_begin(al->db, st->src);
        for (size_t i = 0; i < st->n; i++) {
            const char *p = st->text.p + st->s[i].off;
            pairs[0].name = "__name__";
            pairs[0].value = p;
            p += strlen(p) + 1;
            for (uint32_t k = 0; k < st->s[i].n; k++) {
                pairs[k + 1].name = p;
                p += strlen(p) + 1;
                pairs[k + 1].value = p;
                p += strlen(p) + 1;
            }
            (void)am_tsdb_append(al->db, st->src, pairs, st->s[i].n + 1, st->s[i].t, st->s[i].v);
        }
        am_tsdb_commit(al->db, st->src, t_ms);
    }
    st->n = 0;
    st->text.len = 0;
    st->text.err = AM_OK;
    if (st->text.p)
        st->text.p[0] = '\0';
}

/* ---- listing --------------------------------------------------------------- */

typedef struct active_ctx {
    void (*fn)(void *ud, const am_rule_info *r, const am_alert_record *a);
    void *ud;
} active_ctx;

static void on_rule(void *ud, const am_rule_info *r)
{
    active_ctx *c = ud;
    for (size_t i = 0; i < r->n_alerts; i++)
        if (r->alerts[i].state != AM_ALERT_INACTIVE)
            c->fn(c->ud, r, &r->alerts[i]);
}

void am_alerting_active(am_alerting *al,
                        void (*fn)(void *ud, const am_rule_info *r, const am_alert_record *a),
                        void *ud)
{
    active_ctx c = {fn, ud};
    am_alert_engine_rules(al->eng, on_rule, &c);
}
