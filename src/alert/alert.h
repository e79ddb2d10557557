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
int64_t am_tsdb_retention(am_tsdb *db);

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

/* ================================================================ PromQL */

typedef struct am_promql am_promql;

/*
** am_promql_parse: parse and type-check a PromQL expression. Anything
** outside agentmon's subset (docs/ALERTING.md) is refused here, never
** evaluated approximately. On failure err (cap bytes) gets Prometheus'
** form of the message, "LINE:COL: parse error: ...".
** text     copied.   out: owned result, free with am_promql_free; it is
** immutable and may be evaluated from several threads at once.
** Returns AM_OK, AM_EINVAL (bad or unsupported) or AM_ENOMEM.
*/
am_err am_promql_parse(const char *text, am_promql **out, char *err, size_t cap);
void am_promql_free(am_promql *q);
const char *am_promql_text(const am_promql *q);

/* The type of q's value: "scalar", "vector", "matrix" (a range vector),
   "string". */
const char *am_promql_type(const am_promql *q);

/* How far back of its evaluation time q reads: the longest range plus
   offset of its selectors (the lookback comes on top). */
int64_t am_promql_reach_ms(const am_promql *q);

typedef struct am_promql_opts {
    int64_t lookback_ms;  /* Prometheus' default: 5 minutes */
    uint64_t max_samples; /* samples one evaluation may hold at once */
} am_promql_opts;

#define AM_PROMQL_OPTS_INIT                                                                        \
    {                                                                                              \
        5 * 60 * 1000, 50000000                                                                    \
    }

typedef struct am_promql_result am_promql_result;

/*
** am_promql_eval: evaluate q over db at t_ms (an instant query). *out:
** owned result, free with am_promql_result_free. Errors, with the reason
** in err: AM_EINVAL for an execution error Prometheus would also report
** (e.g. "vector cannot contain metrics with the same labelset", many-to-
** many matching), AM_ELIMIT when the query would hold more than
** max_samples samples (the API answers 422), AM_ENOMEM.
** Thread-safe (holds db's read lock while it reads).
*/
am_err am_promql_eval(am_tsdb *db, const am_promql *q, int64_t t_ms, const am_promql_opts *o,
                      am_promql_result **out, char *err, size_t cap);

/*
** am_promql_eval_range: evaluate q at start, start + step, ... <= end (a
** range query); the result is a matrix, series sorted by labels. Errors as
** am_promql_eval; AM_EINVAL also for a string expression, step <= 0 or
** more than 11,000 steps (Prometheus' limit).
*/
am_err am_promql_eval_range(am_tsdb *db, const am_promql *q, int64_t start_ms, int64_t end_ms,
                            int64_t step_ms, const am_promql_opts *o, am_promql_result **out,
                            char *err, size_t cap);
void am_promql_result_free(am_promql_result *r);

/*
** The result as the "data" member of Prometheus' query API answer:
** {"resultType":"vector","result":[{"metric":{...},"value":[t,"v"]},...]}
** with values written as Prometheus writes them (FormatFloat 'f', -1)
** and times in seconds with milliseconds.
*/
struct am_buf;
void am_promql_result_json(const am_promql_result *r, struct am_buf *b);

/* ================================================================ rules */

typedef struct am_ruleset am_ruleset;

/*
** am_ruleset_load: read and check Prometheus rule files (groups with
** name, interval, limit, rules; alerting rules with alert, expr, for,
** keep_firing_for, labels, annotations; recording rules with record,
** expr, labels). Every problem found is written to errs, one line each,
** "FILE: LINE:COL: group "g", rule N, "name": what" (YAML that does not
** parse, unknown keys, a group name given twice in a file, bad PromQL or
** PromQL outside the subset, templates that do not compile, ...).
** paths    borrowed; read now.   errs: appended to (may be NULL).
** out: owned result, free with am_ruleset_free; NULL on failure.
** Returns AM_OK, AM_EINVAL (some file refused: nothing is returned),
** AM_EIO (a file could not be read), AM_ENOMEM.
*/
struct am_buf;
am_err am_ruleset_load(const char *const *paths, size_t n, am_ruleset **out, struct am_buf *errs);
void am_ruleset_free(am_ruleset *rs);
size_t am_ruleset_n_rules(const am_ruleset *rs);

/*
** am_rules_check: `agentmon rules check` -- promtool check rules' output
** ("Checking FILE", "  SUCCESS: N rules found" or "  FAILED:" and the
** errors) and exit status (0 all good, 1 some file refused).
*/
int am_rules_check(const char *const *paths, size_t n, FILE *out, FILE *err);

/*
** am_rules_test: `agentmon rules test` -- run promtool's unit-test files
** (rule_files, evaluation_interval, group_eval_order, tests with
** input_series, alert_rule_test, promql_expr_test, external_labels,
** external_url) with promtool's output and exit status (0 all passed,
** 1 a test failed or a file was refused).
*/
int am_rules_test(const char *const *paths, size_t n, FILE *out, FILE *err);

/* ================================================================ engine */

typedef enum am_alert_state {
    AM_ALERT_INACTIVE = 0,
    AM_ALERT_PENDING = 1,
    AM_ALERT_FIRING = 2
} am_alert_state;

/* "inactive", "pending", "firing" */
const char *am_alert_state_name(am_alert_state s);

/*
** One alert as handed to a notifier: Alertmanager's alert shape
** (POST /api/v2/alerts). Everything is borrowed for the call.
** ends_at_ms is the resolve time for a resolved alert, else the time
** until which the alert is valid without a resend (4 x max(resend
** delay, group interval) ahead), as Prometheus sets it.
*/
typedef struct am_alert_out {
    const am_label *labels; /* alertname first among equals: sorted by name */
    size_t n_labels;
    const am_label *annotations;
    size_t n_annotations;
    int64_t starts_at_ms;
    int64_t ends_at_ms;
    const char *generator_url; /* external URL + /graph?g0.expr=...&g0.tab=1 */
    am_alert_state state;      /* FIRING, or INACTIVE for a resolved one */
    const char *group;         /* the rule's group and file, for routing */
    const char *file;
} am_alert_out;

typedef void (*am_alert_notify_fn)(void *ud, const am_alert_out *alerts, size_t n);

/*
** One alert's state, as the persister saves and loads it and the API
** lists it. Times in ms since the epoch, 0 when unset.
*/
typedef struct am_alert_record {
    const char *file; /* the rule's file, group and name: its identity */
    const char *group;
    const char *rule;
    const am_label *labels;
    size_t n_labels;
    const am_label *annotations;
    size_t n_annotations;
    am_alert_state state;
    double value;
    int64_t active_at_ms;
    int64_t fired_at_ms;
    int64_t resolved_at_ms;
    int64_t last_sent_at_ms;
    int64_t keep_firing_since_ms;
} am_alert_record;

/*
** The state persister: where alert state goes so that a restart neither
** forgets a pending `for` nor pages again. After each evaluation of a
** group the engine calls save() with every alert of the group (a full
** snapshot: what is not in it is gone) and the evaluation time. When a
** group's rules are first evaluated after start or reload, the engine
** calls load() for it and restores what it gets as Prometheus restores
** from ALERTS_FOR_STATE: an alert that was pending keeps its progress,
** shifted by the time the engine was down, and fires no sooner than
** for_grace_period after the restart (if its `for` is at least that);
** one that was firing keeps its start time and last send, so it is not
** announced again before the resend delay. Records older than the outage
** tolerance are ignored. Callbacks run on the engine's thread.
*/
typedef struct am_alert_persister {
    unsigned version; /* 1 */
    void *ud;
    am_err (*save)(void *ud, const char *file, const char *group, const am_alert_record *recs,
                   size_t n, int64_t eval_ms);
    /* Call fn once per saved record of the group, with the evaluation time
       of the snapshot it was saved in. Returns AM_OK or AM_ENOTFOUND. */
    am_err (*load)(void *ud, const char *file, const char *group,
                   void (*fn)(void *ctx, const am_alert_record *r, int64_t saved_ms), void *ctx);
} am_alert_persister;

typedef struct am_alert_engine am_alert_engine;

typedef struct am_alert_engine_opts {
    am_tsdb *db; /* borrowed: the window the rules read and write */
    am_promql_opts query;
    const am_label *external_labels; /* copied */
    size_t n_external_labels;
    const char *external_url;    /* copied; "" when unset */
    int64_t default_interval_ms; /* groups without interval: Prometheus' 1m */
    int64_t resend_delay_ms;     /* 1m */
    int64_t outage_tolerance_ms; /* 1h */
    int64_t for_grace_period_ms; /* 10m */
    am_alert_notify_fn notify;   /* may be NULL */
    void *notify_ud;
    const am_alert_persister *persister; /* borrowed; may be NULL */
} am_alert_engine_opts;

#define AM_ALERT_ENGINE_OPTS_INIT                                                                  \
    {                                                                                              \
        NULL, AM_PROMQL_OPTS_INIT, NULL, 0, NULL, 60000, 60000, 3600000, 600000, NULL, NULL, NULL  \
    }

/* out: owned result, free with am_alert_engine_free. AM_EINVAL without db. */
am_err am_alert_engine_new(const am_alert_engine_opts *o, am_alert_engine **out);
void am_alert_engine_free(am_alert_engine *e);

/*
** Replace the rules with those of the files (reload). On failure the rules
** already running keep running and errs says why. Alerts of a rule that
** is in the new files too (same file, group, name and expression) keep
** their state, as Prometheus' reload does. The window's retention is set
** to what the rules need (their longest range, plus the lookback, plus an
** hour for ALERTS_FOR_STATE), never below its current value.
** Thread: the engine's.
*/
am_err am_alert_engine_load(am_alert_engine *e, const char *const *paths, size_t n,
                            struct am_buf *errs);

/* The same with an already loaded set (takes rs, also on failure). */
am_err am_alert_engine_set_rules(am_alert_engine *e, am_ruleset *rs);

/*
** Evaluate every group whose time has come at now_ms (each at its own
** slot: interval-aligned with a per-group offset, as Prometheus staggers
** groups), notify, persist. Returns the time of the next slot due.
** Thread: the engine's.
*/
int64_t am_alert_engine_tick(am_alert_engine *e, int64_t now_ms);

/* Evaluate group i at exactly ts_ms (tests, replays). */
am_err am_alert_engine_eval_group(am_alert_engine *e, size_t i, int64_t ts_ms);
size_t am_alert_engine_n_groups(const am_alert_engine *e);
/* The name of group i (borrowed until the next load), NULL past the end. */
const char *am_alert_engine_group_name(const am_alert_engine *e, size_t i);

/*
** The rules and alerts, for /api/v1/rules and /api/v1/alerts: fn is
** called once per rule with its alerts (records borrowed for the call).
** Thread-safe (a lock the engine holds while it evaluates).
*/
typedef struct am_rule_info {
    const char *file;
    const char *group;
    int64_t group_interval_ms;
    const char *name;
    const char *query; /* the expression as written */
    bool is_alert;
    int64_t for_ms;
    int64_t keep_firing_for_ms;
    const am_label *labels;
    size_t n_labels;
    const am_label *annotations;
    size_t n_annotations;
    const char *health;     /* "unknown", "ok", "err" */
    const char *last_error; /* "" when none */
    int64_t last_eval_ms;
    double eval_seconds;
    const am_alert_record *alerts;
    size_t n_alerts;
} am_rule_info;

void am_alert_engine_rules(am_alert_engine *e, void (*fn)(void *ud, const am_rule_info *r),
                           void *ud);

/* ================================================================ the API */

/*
** The query API's parameters as Prometheus reads them: a time is unix
** seconds (a Go float, rounded to the millisecond) or RFC 3339; a step or
** timeout is seconds (a float) or a Prometheus duration (5m, 1h30m).
** false when s is neither.
*/
bool am_promql_parse_time(const char *s, int64_t *ms);
bool am_promql_parse_duration_param(const char *s, int64_t *ms);

/*
** A series selector (match[] of /api/v1/labels, /series, ...): parsed as
** PromQL and refused unless it is one vector selector. As am_promql_parse.
*/
am_err am_promql_selector(const char *text, am_promql **out, char *err, size_t cap);

/*
** The series that any of sel[0..n) (selectors from am_promql_selector)
** picks and that have samples in [start_ms, end_ms]: fn once per series
** with its label set (sorted, borrowed for the call), under the window's
** read lock (fn must not call back into the window). AM_OK or AM_ENOMEM.
*/
am_err am_tsdb_series_matching(am_tsdb *db, const am_promql *const *sel, size_t n, int64_t start_ms,
                               int64_t end_ms,
                               void (*fn)(void *ud, const am_label *l, size_t n_labels), void *ud);

/*
** The "data" member of /api/v1/rules (types: a mask of the two kinds, for
** ?type=alert|record) and of /api/v1/alerts, as Prometheus 2.42 writes
** them; and a time as Go's RFC3339Nano (0: Go's zero time).
*/
/*
** An alert's identity as Alertmanager computes it (model.LabelSet.
** Fingerprint: FNV-1a 64 over the pairs sorted by name, 0xff after each
** name and value), and as 16 hex digits (its String()). l sorted by name.
*/
uint64_t am_alert_fingerprint(const am_label *l, size_t n);
void am_alert_fingerprint_hex(const am_label *l, size_t n, char out[17]);

#define AM_RULES_ALERTING 1u
#define AM_RULES_RECORDING 2u
void am_alert_rules_json(am_alert_engine *e, unsigned types, struct am_buf *b);
void am_alert_alerts_json(am_alert_engine *e, struct am_buf *b);
void am_alert_time_json(struct am_buf *b, int64_t ms);

#endif
