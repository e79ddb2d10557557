/*
** serve.c: the collector assembled (see serve.h).
**
** SAMPLES. StatsD flushes and scrapes produce samples on their own
** threads; each goes into one shared batch (a mutex, records and the copies
** of their strings), which the housekeeping thread submits every second,
** or the producer when it reaches BATCH records. Samples are not
** acknowledged to anyone, so nothing waits for the commit; a store whose
** queue is full refuses the batch whole, and its records are counted in
** agentmon_ingest_dropped_total{protocol} -- dropped, never silently.
**
** SOURCES. What feeds the collector -- the HTTP server (events in,
** queries out), the StatsD listener, the scraper, the /proc sampler -- is
** a table of {name, start, stop, flush} rows (SOURCES below): started in
** order, stopped in the same order (the alerting engine, then the inputs),
** each flushing what it holds when it stops. Adding a source is adding a
** row.
**
** HOUSEKEEPING. One thread: the sample batch every second, and each
** source's flush at its interval (StatsD's series as samples, a /proc
** sample). It sleeps on a condition variable so that stop is prompt.
*/
#define _GNU_SOURCE /* memrchr */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agentmon/http.h"
#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "../util/pack.h"
#include "../alert/service.h"
#include "../alert/ycfg.h"
#include "alert_state.h"
#include "api/alert_routes.h"
#include "api/promql_routes.h"
#include "api/routes.h"
#include "export/rw_export.h"
#include "ingest/event_metrics.h"
#include "ingest/scrape.h"
#include "ingest/statsd.h"
#include "ingest/statsd_agg.h"
#include "ingest/sysstat.h"
#include "ingest/tail.h"
#include "serve.h"
#include "store/labels.h"
#include "store/store.h"

#define BATCH 5000

enum {
    S_COMMITTED,
    S_BATCHES,
    S_FULL,
    S_FAILED,
    S_DELETED,
    S_DUPLICATES,
    S_QUEUED,
    S_WRITER_CPU,
    S_DROPPED,
    S_SERIES,
    S_SERIES_LIMIT,
    N_STORE
};

static const am_metric_def STORE[] = {
    [S_COMMITTED] = {"store", AM_TYPE_COUNTER, "agentmon_store_records_committed_total", NULL,
                     "Records the store committed (resent duplicates included).", NULL, NULL, NULL,
                     0, NULL, "agentmon"},
    [S_BATCHES] = {"store", AM_TYPE_COUNTER, "agentmon_store_batches_total", NULL,
                   "Transactions the store's writer committed (group commit).", NULL, NULL, NULL, 0,
                   NULL, "agentmon"},
    [S_FULL] = {"store", AM_TYPE_COUNTER, "agentmon_store_rejected_full_total", NULL,
                "Records refused because the store's queue was full (HTTP got 503).", NULL, NULL,
                NULL, 0, NULL, "agentmon"},
    [S_FAILED] = {"store", AM_TYPE_COUNTER, "agentmon_store_records_failed_total", NULL,
                  "Records of batches the database refused (their senders got an error).", NULL,
                  NULL, NULL, 0, NULL, "agentmon"},
    [S_DELETED] = {"store", AM_TYPE_COUNTER, "agentmon_store_retention_deleted_total", NULL,
                   "Rows deleted by retention.", NULL, NULL, NULL, 0, NULL, "agentmon"},
    [S_DUPLICATES] = {"store", AM_TYPE_COUNTER, "agentmon_store_duplicates_total", NULL,
                      "Records skipped because their id was stored already (resends).", NULL, NULL,
                      NULL, 0, NULL, "agentmon"},
    [S_QUEUED] = {"store", AM_TYPE_GAUGE, "agentmon_store_queued_records", NULL,
                  "Records waiting for the store's writer.", NULL, NULL, NULL, 0, NULL, "agentmon"},
    [S_WRITER_CPU] = {"store", AM_TYPE_COUNTER, "agentmon_store_writer_cpu_seconds_total", NULL,
                      "CPU time of the store's writer thread, which inserts and commits every "
                      "record: a rate near 1 means the writer is what limits ingest.",
                      NULL, NULL, NULL, 0, NULL, "agentmon"},
    [S_DROPPED] = {"store", AM_TYPE_COUNTER, "agentmon_ingest_dropped_total", NULL,
                   "Samples (StatsD flushes, scrapes, /proc) not stored, by why: queue_full (the "
                   "samples' share of the store's queue was full), invalid (the store refuses "
                   "the sample: the log says why), flush_cap (past the samples stored per "
                   "StatsD flush).",
                   NULL, AM_DEF_LABELS("protocol", "reason"), NULL, 0, NULL, "agentmon"},
    [S_SERIES] = {"store", AM_TYPE_GAUGE, "agentmon_series", NULL,
                  "Series the collector holds, by source: statsd and events (metric events) "
                  "against their budgets, all (every series of its registry, the packs' "
                  "included) against the total.",
                  NULL, AM_DEF_LABELS("source"), NULL, 0, NULL, "agentmon"},
    [S_SERIES_LIMIT] = {"store", AM_TYPE_GAUGE, "agentmon_series_limit", NULL,
                        "The series budgets in force (--max-series, --statsd-max-series, "
                        "--events-max-series); past one, new label sets go to overflow series, "
                        "counted in agentmon_cardinality_overflow_total.",
                        NULL, AM_DEF_LABELS("source"), NULL, 0, NULL, "agentmon"},
};
const am_def_table am__table_store = {STORE, N_STORE};

/* A store statistic's callback: which row it reports. */
typedef struct store_cb {
    struct am_serve *s;
    int row;
} store_cb;

/* One sample kept until its batch is submitted. */
typedef struct kept {
    char *name, *type, *labels, *source, id[40];
    am_value vals[AM_METRIC__N];
} kept;

struct am_serve {
    am_serve_opts o;
    am_registry *reg;
    am_store *store;
    am_event_metrics *em;
    am_routes routes;
    am_promql_api papi; /* the query API; papi.al is the engine once it runs */
    am_dashboard dash;  /* the web dashboard at / */
    am_alert_api aapi;  /* alert history */
    am_alerting *alerting;
    am_alert_state_store *astate; /* the engine's persister, in the store */
    am_notify *notify;            /* routing, silences, receivers */
    am_http *http;
    am_statsd_agg *agg; /* made before the sources start, freed after they stop */
    am_ingest_statsd *statsd;
    am_scraper *scraper;
    am__pack *dropped; /* S_DROPPED only: the others are callbacks */
    store_cb cbs[N_STORE];
    size_t flush_samples;    /* samples the StatsD flush under way has given */
    double next_invalid_log; /* invalid samples are logged once a second */
    char disk_path[4096];
    am_sysstat sys;    /* the /proc sampler's state */
    am_rw_export *rwx; /* remote_write endpoints */
    am_tail *tail;     /* --tail files */

    pthread_mutex_t lock; /* the batch, stopping */
    pthread_cond_t wake;
    kept *batch;
    size_t n_batch;
    bool stopping;
    uint64_t seq;
    pthread_t thread;
    bool thread_started;
};

/* ---- samples -> metric_samples --------------------------------------- */

static void kept_free(kept *k)
{
    am__free(k->name);
    am__free(k->type);
    am__free(k->labels);
    am__free(k->source);
}

/* The protocol label of a sample's source ("statsd", "scrape:URL"). */
static const char *protocol_of(const char *source)
{
    return strncmp(source, "scrape", 6) == 0 ? "scrape" : source;
}

static void dropped(am_serve *s, const char *source, const char *reason, uint64_t n)
{
    am__pack_count(s->dropped, 0, AM_LABELS(protocol_of(source), reason), n);
}

/* Submit the batch; called with the lock held. */
static void submit_batch(am_serve *s)
{
    if (!s->n_batch)
        return;
    am_record *recs = am__calloc(s->n_batch, sizeof *recs);
    if (recs) {
        for (size_t i = 0; i < s->n_batch; i++)
            recs[i] = (am_record){AM_T_METRIC, s->batch[i].vals};
        /* within the samples' share of the queue: a flood of them never
           makes acknowledged ingest wait or fail */
        if (am_store_submit_samples(s->store, recs, s->n_batch))
            for (size_t i = 0; i < s->n_batch; i++)
                dropped(s, s->batch[i].source, "queue_full", 1);
        am__free(recs);
    }
    for (size_t i = 0; i < s->n_batch; i++)
        kept_free(&s->batch[i]);
    s->n_batch = 0;
}

/* A sample the store would refuse is dropped alone, counted as invalid
   and logged (once a second at most), not left to fail its whole batch. */
static void invalid_sample(am_serve *s, const am_sample *smp)
{
    dropped(s, smp->source ? smp->source : "", "invalid", 1);
    double now = am_unix_time();
    if (now < s->next_invalid_log)
        return;
    s->next_invalid_log = now + 1;
    AM_LOG_WARNING(
        s->o.logger, "agentmon-serve", "a sample was not stored", AM_F_STR("metric", smp->name),
        AM_F_STR("source", smp->source ? smp->source : ""), AM_F_STR("reason", am_errmsg()));
}

/*
** A scraped sample also goes to the alerting window, staged until its
** scrape is complete: the target's `up`, which the scraper delivers after
** the body, ends it. The health series themselves come in with the
** registry (the scraper keeps them there), so they are not staged twice.
*/
static void to_window(am_serve *s, const am_sample *smp)
{
    am_alerting *al = atomic_load(&s->papi.al);
    if (!al || !smp->source || strncmp(smp->source, "scrape:", 7) != 0)
        return;
    int64_t t = (int64_t)llround(smp->timestamp * 1000);
    if (strcmp(smp->name, "up") == 0) {
        am_alerting_scrape_end(al, smp->source, t);
        return;
    }
    if (strcmp(smp->name, "scrape_duration_seconds") == 0 ||
        strcmp(smp->name, "scrape_samples_scraped") == 0)
        return;
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    size_t n = 0, len = smp->labels ? strlen(smp->labels) : 0;
    char stack[2048], *scratch = len < sizeof stack ? stack : am__malloc(len + 1);
    if (scratch && !am__labels_split(smp->labels ? smp->labels : "", scratch, len + 1, names,
                                     values, AM_LABELS_MAX, &n))
        am_alerting_scrape_sample(al, smp->source, smp->name, names, values, n, t, smp->value);
    if (scratch != stack)
        am__free(scratch);
}

static int on_sample(void *ud, const am_sample *smp)
{
    am_serve *s = ud;
    const am_table *t = am_table_get(AM_T_METRIC);
    to_window(s, smp);
    /* scraped series are not in the registry the senders sample */
    if (smp->source && strncmp(smp->source, "scrape:", 7) == 0)
        am__rw_export_sample(s->rwx, smp->name, smp->labels, smp->timestamp, smp->value);
    pthread_mutex_lock(&s->lock);
    if (smp->source && strcmp(smp->source, "statsd") == 0 &&
        ++s->flush_samples > s->o.max_flush_samples) {
        dropped(s, "statsd", "flush_cap", 1);
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    if (s->n_batch == BATCH)
        submit_batch(s);
    kept *k = &s->batch[s->n_batch];
    memset(k, 0, sizeof *k);
    k->name = am__strdup(smp->name);
    k->type = am__strdup(smp->type ? smp->type : "untyped");
    k->labels = am__strdup(smp->labels ? smp->labels : "");
    k->source = am__strdup(smp->source ? smp->source : "");
    if (!k->name || !k->type || !k->labels || !k->source) {
        kept_free(k);
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    snprintf(k->id, sizeof k->id, "s%llx-%llx", (unsigned long long)time(NULL),
             (unsigned long long)++s->seq);
    for (size_t c = 0; c < t->n_cols; c++)
        k->vals[c].is_null = true;
    k->vals[AM_METRIC_ID] = (am_value){.v.s = k->id};
    k->vals[AM_METRIC_TIMESTAMP] =
        (am_value){.v.d = smp->timestamp > 0 ? smp->timestamp : am_unix_time()};
    k->vals[AM_METRIC_NAME] = (am_value){.v.s = k->name};
    k->vals[AM_METRIC_TYPE] = (am_value){.v.s = k->type};
    k->vals[AM_METRIC_LABELS] = (am_value){.v.s = k->labels};
    k->vals[AM_METRIC_SOURCE] = (am_value){.v.s = k->source};
    /* the store refuses NaN in a REAL column: a NaN sample is stored as
       SQL NULL, which the series API answers as "NaN" */
    k->vals[AM_METRIC_VALUE] = (am_value){.is_null = smp->value != smp->value, .v.d = smp->value};
    am_record rec = {AM_T_METRIC, k->vals};
    if (am_store_check(s->store, &rec)) {
        invalid_sample(s, smp);
        kept_free(k);
    } else {
        s->n_batch++;
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* ---- store statistics as metrics ------------------------------------ */

static void collect_row(am_sink *sink, void *ud)
{
    const store_cb *cb = ud;
    am_store_stats st;
    am_store_get_stats(cb->s->store, &st);
    double v = 0;
    switch (cb->row) {
    case S_COMMITTED:
        v = (double)st.committed;
        break;
    case S_BATCHES:
        v = (double)st.batches;
        break;
    case S_FULL:
        v = (double)st.rejected_full;
        break;
    case S_FAILED:
        v = (double)st.failed;
        break;
    case S_DELETED:
        v = (double)st.deleted;
        break;
    case S_DUPLICATES:
        v = (double)st.duplicates;
        break;
    case S_QUEUED:
        v = (double)st.queued;
        break;
    case S_WRITER_CPU:
        v = st.writer_cpu_s;
        break;
    default:
        return;
    }
    am_sink_put(sink, NULL, 0, v);
}

/* agentmon_series and agentmon_series_limit: each budget's source. */
static void collect_series(am_sink *sink, void *ud)
{
    const store_cb *cb = ud;
    am_serve *s = cb->s;
    am_statsd_agg *agg = s->agg;
    bool is_limit = cb->row == S_SERIES_LIMIT;
    am_sink_put(sink, AM_LABELS("all"),
                is_limit ? (double)s->o.max_series : (double)am_registry_series(s->reg));
    am_sink_put(sink, AM_LABELS("statsd"),
                is_limit ? (double)s->o.statsd_max_series
                         : (double)(agg ? am__statsd_agg_n_series(agg) : 0));
    am_sink_put(sink, AM_LABELS("events"),
                is_limit ? (double)s->o.events_max_series
                         : (double)am__event_metrics_n_series(s->em));
}

static am_err store_metrics(am_serve *s)
{
    for (int i = 0; i < N_STORE; i++) {
        if (i == S_DROPPED)
            continue;
        s->cbs[i] = (store_cb){s, i};
        am_metric_opts o = am__def_opts(&STORE[i]);
        am_callback *cb;
        am_err rc = am_callback_new(s->reg, STORE[i].type, &o,
                                    i < S_DROPPED ? collect_row : collect_series, &s->cbs[i], &cb);
        if (rc)
            return rc;
    }
    return am__pack_new(s->reg, &STORE[S_DROPPED], 1, &s->dropped) == AM_OK
               ? AM_OK
               : am__err(AM_ENOMEM, "cannot register agentmon_ingest_dropped_total");
}

/* ---- the sources ------------------------------------------------------ */

static void sample_system(am_serve *s)
{
    am_record rec;
    if (am__sysstat_sample(&s->sys, s->disk_path, am_unix_time(), &rec))
        return;
    if (am_store_submit_samples(s->store, &rec, 1) == AM_OK)
        am__event_metrics_stored(s->em, "system", AM_T_SYSTEM);
    else
        dropped(s, "system", "queue_full", 1);
    am__event_metrics_apply(s->em, &rec);
}

static am_err start_system(am_serve *s)
{
    am__sysstat_init(&s->sys);
    return AM_OK;
}

static am_err reload_cb(void *ud, am_buf *errs)
{
    return am_serve_reload(ud, errs);
}

/* The HTTP server: POST /api/v1/events (an input: routes.c hands the
   bodies to ingest/events.c), the query API and /metrics. */
static am_err start_http(am_serve *s)
{
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.host = s->o.http_host;
    ho.port = s->o.http_port;
    ho.registries = &s->reg;
    ho.n_registries = 1;
    ho.threads = 8; /* queries wait for the database; ingests defer (no wait) */
    ho.tls_cert_file = s->o.tls_cert_file;
    ho.tls_key_file = s->o.tls_key_file;
    ho.max_connections_per_ip = s->o.max_connections_per_ip;
    if (s->o.read_auth)
        ho.builtin_auth = *s->o.read_auth;
    s->routes = (am_routes){s->store,       s->em,           s->o.ack_timeout_s,
                            s->o.read_auth, s->o.write_auth, s->o.retention_s};
    s->papi.reload = reload_cb;
    s->papi.reload_ud = s;
    s->papi.read_auth = s->o.read_auth;
    s->papi.write_auth = s->o.write_auth;
    s->papi.max_window_ms = (int64_t)(s->o.query_max_window_s * 1000);
    s->papi.registries = &s->reg;
    s->papi.n_registries = 1;
    am_err rc = am_http_new(&ho, &s->http);
    if (!rc)
        rc = am__promql_routes_add(s->http, &s->papi);
    if (!rc)
        rc = am__routes_add(s->http, &s->routes);
    s->aapi.store = s->store;
    s->aapi.read_auth = s->o.read_auth;
    s->aapi.write_auth = s->o.write_auth;
    if (!rc)
        rc = am__alert_routes_add(s->http, &s->aapi);
    if (s->o.dashboard)
        s->dash = *s->o.dashboard;
    s->dash.title = "agentmon serve";
    s->dash.read_auth = s->o.read_auth;
    s->dash.write_auth = s->o.write_auth;
    s->dash.has_store = true;
    s->dash.has_logs = true; /* POST and GET /api/v1/logs (api/log_routes.c) */
    s->dash.sample_interval_s = s->o.eval_interval_s > 0 ? s->o.eval_interval_s : 15;
    if (!rc)
        rc = am__dashboard_routes_add(s->http, &s->dash);
    return rc ? rc : am_http_listen(s->http);
}

static void stop_http(am_serve *s)
{
    am_http_free(s->http);
    s->http = NULL;
}

static am_err start_statsd(am_serve *s)
{
    if (!s->agg)
        return AM_OK;
    am_ingest_statsd_opts so = AM_INGEST_STATSD_OPTS_INIT;
    so.has_udp = s->o.statsd_port >= 0;
    so.host = s->o.statsd_host;
    so.port = s->o.statsd_port;
    so.unix_path = s->o.statsd_unix;
    so.registry = s->reg;
    so.agg = s->agg;
    so.logger = s->o.logger;
    return am__ingest_statsd_start(&so, &s->statsd);
}

/* The series StatsD moved since the last flush, as samples. */
static void flush_statsd(am_serve *s)
{
    if (!s->agg)
        return;
    pthread_mutex_lock(&s->lock);
    s->flush_samples = 0;
    pthread_mutex_unlock(&s->lock);
    am__statsd_agg_flush(s->agg, on_sample, s);
}

/* Close the listener and flush what it took. The series are freed by
   am_serve_stop once every source has stopped: the alerting engine, which
   stops later, still walks the registry, whose agentmon_series reads them. */
static void stop_statsd(am_serve *s)
{
    am__ingest_statsd_stop(s->statsd);
    s->statsd = NULL;
    if (s->store)
        flush_statsd(s);
}

static am_err start_scraper(am_serve *s)
{
    if (!s->o.n_scrape)
        return AM_OK;
    am_scrape_opts so = AM_SCRAPE_OPTS_INIT;
    so.registry = s->reg;
    so.sink = on_sample;
    so.sink_ud = s;
    am_err rc = am__scraper_new(&so, &s->scraper);
    for (size_t i = 0; !rc && i < s->o.n_scrape; i++) {
        am_scrape_target t = AM_SCRAPE_TARGET_INIT;
        char spec[4096];
        if ((rc = am__scrape_spec(s->o.scrape[i], spec, sizeof spec, &t)))
            break;
        t.interval_ms = (unsigned)(s->o.scrape_interval_s * 1000);
        if (t.timeout_ms > t.interval_ms)
            t.timeout_ms = t.interval_ms;
        rc = am__scraper_add(s->scraper, &t);
    }
    return rc ? rc : am__scraper_start(s->scraper);
}

static void stop_scraper(am_serve *s)
{
    am__scraper_free(s->scraper);
    s->scraper = NULL;
}

/* The alerting engine: its window is fed from the registry at each tick
   and from scrapes as they complete; the query API reads it. */
static am_err start_alerting(am_serve *s)
{
    am_alerting_opts ao = AM_ALERTING_OPTS_INIT;
    ao.rule_files = s->o.rule_files;
    ao.n_rule_files = s->o.n_rule_files;
    ao.regs = &s->reg;
    ao.n_regs = 1;
    ao.registry = s->reg;
    ao.eval_interval_ms = (int64_t)(s->o.eval_interval_s * 1000);
    ao.window_ms = (int64_t)(s->o.alert_window_s * 1000);
    ao.external_url = s->o.external_url;
    ao.max_samples = (uint64_t)s->o.query_max_samples;
    ao.logger = s->o.logger;
    ao.resend_delay_ms = (int64_t)(s->o.resend_delay_s * 1000);
    ao.outage_tolerance_ms = (int64_t)(s->o.for_outage_tolerance_s * 1000);
    ao.for_grace_period_ms = (int64_t)(s->o.for_grace_period_s * 1000);
    am_err rc = am__alert_state_open(s->store, s->o.logger, &s->astate);
    if (rc)
        return rc;
    ao.persister = am__alert_state_persister(s->astate);
    am_buf errs;
    am_buf_init(&errs, 1u << 20);
    am_notify_config *nc = NULL;
    if (s->o.notify_config)
        rc =
            am__notify_config_load(s->o.notify_config, s->o.notify_config_is_collector, &nc, &errs);
    am_notify_opts no = {s->reg, s->o.logger, s->o.external_url,
                         am__alert_state_notify_store(s->astate)};
    if (!rc)
        rc = am_notify_new(&no, nc, &s->notify);
    ao.notify = am_notify_engine_fn;
    ao.notify_ud = s->notify;
    if (!rc)
        rc = am_alerting_start(&ao, &s->alerting, &errs);
    rc = am__ycfg_fail(rc, &errs); /* every problem, each naming file and line */
    am_buf_free(&errs);
    if (!rc) {
        atomic_store(&s->papi.al, s->alerting);
        atomic_store(&s->aapi.notify, s->notify);
    }
    return rc;
}

/* The engine stops reading first (its feed reads the other sources); what
   the sources write to -- its window (the scraper's samples, queries over
   HTTP), the notifier (alerts posted over HTTP) -- lives until they have
   all stopped: free_alerting(), after the last of them. */
static void stop_alerting(am_serve *s)
{
    am_alerting_halt(s->alerting);
}

static void free_alerting(am_serve *s)
{
    atomic_store(&s->papi.al, NULL);
    atomic_store(&s->aapi.notify, NULL);
    am_alerting_stop(s->alerting);
    s->alerting = NULL;
    am_notify_free(s->notify); /* after the engine: it was the engine's notifier */
    s->notify = NULL;
    am__alert_state_free(s->astate);
    s->astate = NULL;
}

/* remote_write: a sender per endpoint of the config's remote_write: */
static am_err start_remote_write(am_serve *s)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/remote_write", s->disk_path);
    am_rw_export_opts ro = {s->o.remote_write_config,
                            s->reg,
                            s->o.remote_write_interval_s > 0 ? s->o.remote_write_interval_s : 15,
                            s->o.remote_write_dir ? s->o.remote_write_dir : dir,
                            (uint64_t)s->o.remote_write_max_bytes,
                            s->o.logger};
    return am__rw_export_start(&ro, &s->rwx);
}

static am_err start_tail(am_serve *s)
{
    return s->o.n_tail ? am__tail_new(s->o.tail, s->o.n_tail, &s->tail) : AM_OK;
}

static void flush_tail(am_serve *s)
{
    am__tail_poll(s->tail, s->store, s->em, s->o.retention_s);
}

/* What was appended since the last poll, then no more. */
static void stop_tail(am_serve *s)
{
    flush_tail(s);
    am__tail_free(s->tail);
    s->tail = NULL;
}

static void stop_remote_write(am_serve *s)
{
    am__rw_export_stop(s->rwx, AM_SERVE_STOP_S);
    s->rwx = NULL;
}

/*
** Everything that feeds the collector, one row each (STYLE.md rule 23).
** am_serve_start() starts them in this order -- the rows marked
** is_started_first before the others -- and am_serve_stop() stops them in
** this order, so the alerting engine stops reading before anything it
** reads goes, and the HTTP inputs close before the others. A start the
** options leave off starts nothing and returns AM_OK; stop (NULL: none)
** runs on every row however far the start came, so it takes a source
** that never started. flush is the source's periodic work, run by the
** housekeeping thread every `interval` seconds (an option; <= 0 turns it
** off): first one interval after the start, or at once when
** is_flushed_at_start; stop flushes what is left itself.
*/
typedef struct source {
    const char *name;
    am_err (*start)(am_serve *s);
    void (*stop)(am_serve *s);
    void (*flush)(am_serve *s);
    size_t interval; /* offsetof(am_serve_opts, the flush's interval) */
    bool is_flushed_at_start;
    bool is_started_first; /* an output the inputs write to from their start */
} source;

static const source SOURCES[] = {
    /* first: its feed reads the registry's callbacks, which read the other
       sources (StatsD's series count: the aggregator is made before any
       source starts); stopped before they are, it never reads one that is
       stopping (and freed after them: free_alerting) */
    {"alert", start_alerting, stop_alerting, NULL, 0, false},
    {"http", start_http, stop_http, NULL, 0, false},
    {"statsd", start_statsd, stop_statsd, flush_statsd, offsetof(am_serve_opts, flush_interval_s),
     false},
    {"scrape", start_scraper, stop_scraper, NULL, 0, false},
    {"system", start_system, NULL, sample_system, offsetof(am_serve_opts, system_interval_s), true},
    {"tail", start_tail, stop_tail, flush_tail, offsetof(am_serve_opts, tail_interval_s), true},
    /* started first, so that a scrape's samples reach it from the first
       one (the scraper's thread reads s->rwx); stopped after the inputs:
       it sends what they fed until they stopped */
    {"remote_write", start_remote_write, stop_remote_write, NULL, 0, false, true},
};
#define N_SOURCES (sizeof SOURCES / sizeof SOURCES[0])

static double interval_of(const am_serve *s, const source *src)
{
    if (!src->flush)
        return 0;
    double v;
    memcpy(&v, (const char *)&s->o + src->interval, sizeof v);
    return v;
}

/* ---- housekeeping ----------------------------------------------------- */

static void *housekeeping(void *arg)
{
    am_serve *s = arg;
    double next[N_SOURCES];
    double t0 = am_unix_time();
    for (size_t i = 0; i < N_SOURCES; i++)
        next[i] = SOURCES[i].is_flushed_at_start ? t0 : t0 + interval_of(s, &SOURCES[i]);
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&s->wake, &s->lock, &until);
        if (s->stopping)
            break;
        submit_batch(s);
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < N_SOURCES; i++) {
            double now = am_unix_time(), every = interval_of(s, &SOURCES[i]);
            if (every > 0 && now >= next[i]) {
                SOURCES[i].flush(s);
                next[i] = now + every;
            }
        }
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- start and stop --------------------------------------------------- */

/* The directory of a sqlite: store, for the disk gauge (and made here, so
   the default path works in a fresh checkout). */
static am_err store_dir(am_serve *s, const char *uri)
{
    snprintf(s->disk_path, sizeof s->disk_path, ".");
    if (strncmp(uri, "sqlite:", 7) != 0)
        return AM_OK;
    const char *path = uri + 7;
    const char *q = strchr(path, '?');
    size_t n = q ? (size_t)(q - path) : strlen(path);
    const char *slash = memrchr(path, '/', n);
    if (!slash)
        return AM_OK;
    size_t dn = (size_t)(slash - path);
    if (dn == 0 || dn >= sizeof s->disk_path)
        return AM_OK;
    memcpy(s->disk_path, path, dn);
    s->disk_path[dn] = '\0';
    /* mkdir -p */
    for (char *p = s->disk_path + 1;; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(s->disk_path, 0755) != 0 && errno != EEXIST)
                return am__err(AM_EIO, "cannot create the store's directory %s: %s", s->disk_path,
                               strerror(errno));
            *p = c;
        }
        if (!c)
            break;
    }
    return AM_OK;
}

am_err am_serve_start(const am_serve_opts *o, am_serve **out)
{
    if (o->n_scrape > AM_SERVE_MAX_SCRAPE)
        return am__err(AM_EINVAL, "--scrape: at most %d targets", AM_SERVE_MAX_SCRAPE);
    am_serve *s = am__calloc(1, sizeof *s);
    if (!s)
        return am__err(AM_ENOMEM, "out of memory");
    s->o = *o;
    if (s->o.retention_s <= 0)
        s->o.retention_s = AM_SERVE_RETENTION_S;
    if (s->o.scrape_interval_s <= 0)
        s->o.scrape_interval_s = AM_SERVE_SCRAPE_INTERVAL_S;
    if (s->o.tail_interval_s <= 0)
        s->o.tail_interval_s = 1;
    if (s->o.flush_interval_s <= 0)
        s->o.flush_interval_s = AM_SERVE_FLUSH_INTERVAL_S;
    if (s->o.system_interval_s == 0)
        s->o.system_interval_s = AM_SERVE_SYSTEM_INTERVAL_S;
    if (!s->o.max_series)
        s->o.max_series = AM_SERVE_MAX_SERIES;
    if (!s->o.statsd_max_series)
        s->o.statsd_max_series = AM_SERVE_SOURCE_MAX_SERIES;
    if (!s->o.events_max_series)
        s->o.events_max_series = AM_SERVE_SOURCE_MAX_SERIES;
    if (!s->o.max_flush_samples)
        s->o.max_flush_samples = AM_SERVE_MAX_FLUSH_SAMPLES;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->batch = am__calloc(BATCH, sizeof *s->batch);
    const char *uri = o->store_uri ? o->store_uri : AM_STORE_DEFAULT_URI;
    am_store_opts so = AM_STORE_OPTS_INIT;
    so.retention_s = s->o.retention_s;
    so.max_queued = s->o.store_max_queued;
    so.logger = s->o.logger ? s->o.logger : am_log_default();
    am_err rc = s->batch ? AM_OK : am__err(AM_ENOMEM, "out of memory");
    if (!rc && !(rc = am_registry_new(&s->reg)))
        rc = am_registry_enable_process_metrics(s->reg);
    if (!rc)
        rc = am_registry_set_max_series(s->reg, s->o.max_series);
    if (!rc)
        rc = store_dir(s, uri);
    if (!rc)
        rc = am_store_open(uri, &so, &s->store);
    if (!rc)
        rc = am__event_metrics_new(s->reg, s->o.events_max_series, &s->em);
    if (!rc)
        rc = store_metrics(s);
    /* before any source: the alerting feed, started first, reads its
       series count (agentmon_series{source="statsd"}) */
    if (!rc && (s->o.statsd_port >= 0 || s->o.statsd_unix)) {
        am_statsd_agg_opts ao = AM_STATSD_AGG_OPTS_INIT;
        ao.max_series = s->o.statsd_max_series;
        rc = am__statsd_agg_new(s->reg, &ao, &s->agg);
    }
    for (int first = 1; first >= 0 && !rc; first--)
        for (size_t i = 0; i < N_SOURCES && !rc; i++)
            if (SOURCES[i].is_started_first == first)
                rc = SOURCES[i].start(s);
    if (!rc) {
        if (pthread_create(&s->thread, NULL, housekeeping, s) != 0)
            rc = am__err(AM_ENOMEM, "cannot start the collector's housekeeping thread");
        else
            s->thread_started = true;
    }
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", am_errmsg());
        am_serve_stop(s);
        return am__err(rc, "%s", why);
    }
    *out = s;
    return AM_OK;
}

/* The notifiers' file first: a reload that fails changes nothing. */
am_err am_serve_reload(am_serve *s, am_buf *errs)
{
    am_alerting *al = atomic_load(&s->papi.al);
    if (!al || !s->notify)
        return am__err(AM_EIO, "the alerting engine is not running");
    am_notify_config *nc = NULL;
    if (s->o.notify_config) {
        am_err rc =
            am__notify_config_load(s->o.notify_config, s->o.notify_config_is_collector, &nc, errs);
        if (rc)
            return rc;
    }
    am_err rc = am_alerting_reload(al, errs);
    if (rc) {
        am__notify_config_free(nc);
        return rc;
    }
    return am_notify_set_config(s->notify, nc);
}

am_store *am__serve_store(am_serve *s)
{
    return s->store;
}

const am_http *am_serve_http(const am_serve *s)
{
    return s->http;
}

uint16_t am_serve_http_port(const am_serve *s)
{
    return am_http_port(s->http);
}

int am_serve_statsd_port(const am_serve *s)
{
    return s->statsd ? am__ingest_statsd_port(s->statsd) : 0;
}

void am_serve_stop(am_serve *s)
{
    if (!s)
        return;
    /* the periodic flushes end; then the sources, inputs first, each
       flushing what it still holds */
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    /* clients waiting for a commit get their 503 now: stopping the HTTP
       server waits for its handlers, and the store may not answer */
    if (s->store)
        am_store_release_waiters(s->store);
    for (size_t i = 0; i < N_SOURCES; i++)
        if (SOURCES[i].stop)
            SOURCES[i].stop(s);
    free_alerting(s);
    am__statsd_agg_free(s->agg);
    s->agg = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->store)
        submit_batch(s);
    pthread_mutex_unlock(&s->lock);
    /* commits what is queued, within a bound: a database that does not
       answer must not keep the collector from stopping */
    am_store_close_within(s->store, AM_SERVE_STOP_S);
    am__event_metrics_free(s->em);
    am__pack_free(s->dropped);
    am_registry_free(s->reg);
    am__free(s->batch);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    am__free(s);
}
