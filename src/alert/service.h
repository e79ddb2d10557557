/*
** service.h: the alerting engine run for a collector -- the window, the
** engine, the thread that feeds and evaluates, reloads, and the samples
** that arrive between ticks (scrapes). `agentmon serve` and `agentmon
** demo` both run one; the query API (src/serve/api/promql_routes.c) reads
** its window and its engine.
**
**     am_alerting_opts o = AM_ALERTING_OPTS_INIT;
**     o.rule_files = files; o.n_rule_files = n; o.regs = &reg; o.n_regs = 1;
**     am_alerting *al;
**     if (am_alerting_start(&o, &al, &errs)) ... errs names file and line
**     ...   am_alerting_reload(al, &errs);   (SIGHUP, POST /-/reload)
**     am_alerting_stop(al);
**
** THE THREAD. One engine thread feeds the registries into the window and
** evaluates the rule groups at their slots: it sleeps until the next slot
** due (or the evaluation interval, when no rule is loaded), stamps the
** registries' samples with that slot's time, so the group evaluated at the
** slot sees them, then ticks the engine. Reloads run on it too: the caller
** of am_alerting_reload() waits for the outcome.
**
** SCRAPES. Samples that arrive with their own time (a scrape of a target)
** are staged per source and appended as one batch when the source says
** the scrape is complete (am_alerting_scrape_end), so a series that
** vanished from a target is marked stale then, as Prometheus marks it.
**
** Everything here is thread-safe unless said otherwise.
*/
#ifndef AM_ALERT_SERVICE_H
#define AM_ALERT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/log.h"
#include "agentmon/metrics.h"
#include "alert.h"
#include "labels.h" /* am_label, complete */

struct am_buf;
typedef struct am_alerting am_alerting;

typedef struct am_alerting_opts {
    const char *const *rule_files; /* copied; globs as in rule_files: */
    size_t n_rule_files;
    am_registry *const *regs; /* borrowed: fed into the window at each tick */
    size_t n_regs;
    int64_t eval_interval_ms;  /* groups without interval:, and the feed when no rules; 0: 15 s */
    const char *external_url;  /* copied; "" or NULL: none */
    uint64_t max_samples;      /* a query's sample budget; 0: 50,000,000 */
    size_t max_series;         /* the window's series; 0: 1,000,000 */
    int64_t window_ms;         /* the first retention (rules and queries widen it); 0: 1 h */
    am_alert_notify_fn notify; /* where alerts go (the dispatcher); may be NULL */
    void *notify_ud;
    const am_alert_persister *persister; /* borrowed; may be NULL */
    int64_t resend_delay_ms;             /* 0: 1 m (Prometheus' --rules.alert.resend-delay) */
    int64_t outage_tolerance_ms;         /* 0: 1 h (--rules.alert.for-outage-tolerance) */
    int64_t for_grace_period_ms;         /* 0: 10 m (--rules.alert.for-grace-period) */
    am_logger *logger;                   /* borrowed; NULL: the default logger */
    /* the registries' feed into the window at least this often, between the
       rules' slots too (a live dashboard's charts move with it); 0:
       eval_interval_ms */
    int64_t feed_interval_ms;
    am_registry *registry; /* borrowed: agentmon_alert_window_* go here; NULL: none */
} am_alerting_opts;

#define AM_ALERTING_OPTS_INIT                                                                      \
    {                                                                                              \
        NULL, 0, NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0, NULL, 0, NULL               \
    }

/* The window's own gauges, for the catalogue (docs/METRICS.md). */
extern const struct am_def_table am__table_window;

/*
** am_alerting_start: load the rule files (every problem written to errs,
** one line each, naming file and line), make the window and the engine,
** start the thread. out: owned result, free with am_alerting_stop().
** Returns AM_OK, AM_EINVAL (a rule file refused), AM_EIO (one could not be
** read), AM_ENOMEM.
*/
am_err am_alerting_start(const am_alerting_opts *o, am_alerting **out, struct am_buf *errs);

/*
** am_alerting_reload: read the rule files again (the same paths) on the
** engine's thread and wait for the outcome. A reload that fails keeps the
** rules running and writes the problems to errs. Returns as
** am_alerting_start's load.
*/
am_err am_alerting_reload(am_alerting *al, struct am_buf *errs);

/*
** am_alerting_halt: stop the thread -- no more feeds, evaluations or
** notifications -- and keep the rest: the window stays readable and
** writable (queries, scraped samples) by other threads until
** am_alerting_stop, so a program stops the engine's reading first and frees
** it after the last thread that writes to it. A reload then fails with
** AM_EIO. NULL is a no-op. Not concurrently with itself or stop.
*/
void am_alerting_halt(am_alerting *al);

/* Stop the thread (if not halted) and free everything. No other thread
   may be using al. NULL is a no-op. */
void am_alerting_stop(am_alerting *al);

/* The window and the engine (borrowed, valid until am_alerting_stop). */
am_tsdb *am_alerting_db(am_alerting *al);
am_alert_engine *am_alerting_engine(am_alerting *al);
/* The query options (lookback, max_samples) queries should use. */
am_promql_opts am_alerting_query_opts(const am_alerting *al);
/* When the last reload (or the start) succeeded, unix ms; whether the
   last attempt did. */
int64_t am_alerting_last_reload_ms(am_alerting *al, bool *is_ok);

/*
** Scraped samples: stage one sample of source (a target's name; copied),
** named name with labels names[i]=values[i] (borrowed), at t_ms. Nothing
** reaches the window until am_alerting_scrape_end(source): the staged
** samples are appended in one batch, and what the source appended last
** time and not now is marked stale at t_ms. One thread per source.
*/
void am_alerting_scrape_sample(am_alerting *al, const char *source, const char *name,
                               const char *const *names, const char *const *values, size_t n,
                               int64_t t_ms, double v);
void am_alerting_scrape_end(am_alerting *al, const char *source, int64_t t_ms);

/*
** The alerts of every rule that are pending or firing, for a terminal view:
** fn once per alert (borrowed for the call), in rule order.
*/
void am_alerting_active(am_alerting *al,
                        void (*fn)(void *ud, const am_rule_info *r, const am_alert_record *a),
                        void *ud);

#endif
