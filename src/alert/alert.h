/*
** alert.h: the alerting engine's contract with the collector (`agentmon
** serve`), the demo and the `agentmon rules` command.
**
** Four parts, each usable alone:
**
**   the window   am_tsdb: series in memory, Gorilla-compressed, indexed by
**                label, kept for a retention; fed from registries at each
**                tick (am_alert_feed), with Prometheus' staleness markers.
**   PromQL       am_promql_*: parse once (refusing anything outside the
**                supported subset, with line and column), evaluate at an
**                instant or over a range, results as Prometheus' API gives
**                them.
**   rules        am_ruleset_*: Prometheus rule files, loaded and checked.
**   the engine   am_alert_engine_*: groups evaluated at their interval,
**                recording rules written back, alerts through inactive ->
**                pending -> firing -> resolved, ALERTS and
**                ALERTS_FOR_STATE series, a notifier callback with
**                Alertmanager's alert shape, a persister for restarts.
**
** THREADING
** One thread appends to a window (the feeder, rule outputs): appends are
** grouped in a batch between am_tsdb_begin() and am_tsdb_commit(), which
** hold the window's write lock. Queries may run on any number of threads;
** each evaluation holds the read lock while it reads. The engine is
** driven by one thread (am_alert_engine_tick); its rule and alert
** listings (am_alert_engine_rules/alerts) may be called from other threads.
**
** ERRORS
** Every call returns an am_err; the sentence is in am_errmsg(), or in the
** caller's errbuf where a call can report several problems (rule files).
** Bad input never changes what is already loaded.
*/
#ifndef AM_ALERT_ALERT_H
#define AM_ALERT_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agentmon/common.h"
#include "agentmon/metrics.h"

/* ================================================================ window */

typedef struct am_tsdb am_tsdb;
typedef struct am_tsdb_src am_tsdb_src;

typedef struct am_tsdb_opts {
    int64_t retention_ms; /* samples older than newest - retention are dropped */
    size_t max_series;    /* 0: no limit; past it new series are refused (AM_ELIMIT) */
} am_tsdb_opts;

#define AM_TSDB_OPTS_INIT                                                                          \
    {                                                                                              \
        15 * 60 * 1000, 0                                                                          \
    }

/*
** am_tsdb_new: an empty window. out: owned result, free with am_tsdb_free.
** Returns AM_OK or AM_ENOMEM.
*/
am_err am_tsdb_new(const am_tsdb_opts *o, am_tsdb **out);
void am_tsdb_free(am_tsdb *db);

/* Change the retention (the engine sizes it from its rules). Thread-safe. */
void am_tsdb_set_retention(am_tsdb *db, int64_t retention_ms);

/*
** A source: one writer's set of series, for staleness. With has_staleness,
** a series the source appended in its previous batch but not in this one
** gets Prometheus' staleness marker at the commit's timestamp, as
** Prometheus marks series that vanish from a scrape or a rule's output.
** out: owned result, free with am_tsdb_src_free (on the appending thread).
*/
am_err am_tsdb_src_new(am_tsdb *db, bool has_staleness, am_tsdb_src **out);
void am_tsdb_src_free(am_tsdb *db, am_tsdb_src *src);

/*
** A batch of appends from src: am_tsdb_begin() takes the write lock,
** am_tsdb_commit() writes the staleness markers (at stale_ms) and
** releases it. Between them, am_tsdb_append() adds one sample:
**   pairs  borrowed, reordered; names and values are copied. Pairs with an
**          empty value are dropped (as Prometheus treats them); the
**          metric name is the pair named "__name__".
**   t_ms   must be greater than the series' last timestamp (equal with
**          the same value is accepted and ignored).
** Returns AM_OK; AM_EINVAL (a name given twice, out of order, a different
** value at the same timestamp: the sample is dropped and counted);
** AM_ELIMIT (max_series reached); AM_ENOMEM.
*/
void am_tsdb_begin(am_tsdb *db, am_tsdb_src *src);
typedef struct am_label am_label;
am_err am_tsdb_append(am_tsdb *db, am_tsdb_src *src, am_label *pairs, size_t n, int64_t t_ms,
                      double v);
void am_tsdb_commit(am_tsdb *db, am_tsdb_src *src, int64_t stale_ms);

typedef struct am_tsdb_stats {
    size_t n_series;
    size_t n_samples;    /* in chunks, staleness markers included */
    size_t data_bytes;   /* encoded sample bytes */
    size_t chunk_bytes;  /* chunk memory: headers, data, slack */
    size_t series_bytes; /* series headers and label sets */
    size_t index_bytes;  /* hash table and postings */
    uint64_t n_rejected; /* appends refused (order, duplicates, limit) */
} am_tsdb_stats;

void am_tsdb_stats_get(am_tsdb *db, am_tsdb_stats *out);

/*
** The label names in use, sorted, or the values of one name, sorted:
** fn is called once each with a borrowed string, under the read lock (it
** must not call back into the window).
*/
void am_tsdb_label_names(am_tsdb *db, void (*fn)(const char *name, void *ud), void *ud);
void am_tsdb_label_values(am_tsdb *db, const char *name, void (*fn)(const char *value, void *ud),
                          void *ud);

/*
** am_alert_feed: append every sample of regs[0..n) at t_ms from src, named
** as Prometheus' text exposition names them (counters x_total, histograms
** x_bucket{le}/x_sum/x_count, info x_info, statesets one 0/1 series per
** state), in one batch, and mark stale what src appended last time and
** not now. Returns AM_OK or the first append error (the rest still go in).
*/
am_err am_alert_feed(am_tsdb *db, am_tsdb_src *src, am_registry *const *regs, size_t n,
                     int64_t t_ms);

#endif
