/*
** rules.h: loaded rule groups, their evaluation and alert state (the
** contract for callers is in alert.h).
**
** A ruleset owns its groups; a group owns its rules; an alerting rule owns
** its active alerts. All of it is changed only by the thread that drives
** the evaluation (the engine's, or a unit test's); readers (the rules/
** alerts listing) take the engine's lock.
*/
#ifndef AM_ALERT_RULES_H
#define AM_ALERT_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "labels.h"
#include "promql.h"
#include "template.h"

#define AM_TIME_ZERO INT64_MIN

typedef struct am_rgroup am_rgroup;

typedef struct am_alert {
    am_lset *labels;      /* heap */
    am_lset *annotations; /* heap */
    am_alert_state state;
    double value;
    int64_t active_at;
    int64_t fired_at;
    int64_t resolved_at;
    int64_t last_sent_at;
    int64_t valid_until;
    int64_t keep_firing_since;
    int64_t restored_fired_at; /* restored from a firing record: the start it keeps */
} am_alert;

typedef struct am_rule {
    am_rgroup *group;
    bool is_alert;
    char *name;
    char *expr_text;
    am_promql *expr;
    int64_t for_ms;
    int64_t keep_firing_for_ms;
    am_lset *labels;      /* as written (alerting: templates) */
    am_tmpl **label_tmpl; /* alerting: one per label */
    am_lset *annotations; /* alerting: as written */
    am_tmpl **ann_tmpl;
    int line;
    /* state */
    am_alert **alerts;
    size_t n_alerts;
    size_t cap_alerts;
    am_tsdb_src *src; /* the staleness scope of its output series */
    am_tsdb *src_db;  /* the window src belongs to */
    bool is_restored;
    int health; /* 0 unknown, 1 ok, 2 err */
    char last_error[256];
    int64_t last_eval;
    double eval_seconds;
} am_rule;

struct am_rgroup {
    char *name;
    char *file;
    int64_t interval_ms; /* 0: the engine's default */
    int limit;
    int line;
    am_rule **rules;
    size_t n;
    /* state */
    int64_t next_eval;
    int64_t last_eval;
    double eval_seconds;
    unsigned n_evals;
};

struct am_ruleset {
    am_rgroup **groups;
    size_t n;
    size_t n_rules;
};

/*
** Parse one rule file's text and append its groups to rs; every problem
** goes to errs as a line "FILE: what". AM_EINVAL: something was refused
** (rs then unchanged).
*/
am_err am__rulefile_parse(const char *file, const char *text, size_t len, am_ruleset *rs,
                          am_buf *errs);
/* Read a file whole (at most 64 MiB): owned result (am__free). */
am_err am__read_file(const char *path, char **out, size_t *len);

void am__rule_free(am_rule *r);
void am__alert_free(am_alert *a);

/* What a group evaluation needs from its driver. */
typedef struct am_rule_ctx {
    am_tsdb *db;
    const am_promql_opts *qopts;
    const am_lset *external_labels;
    const char *external_url;
    int64_t default_interval_ms;
    int64_t resend_delay_ms;
    am_alert_notify_fn notify;
    void *notify_ud;
    bool restore_all; /* promtool: every alerting rule writes ALERTS from the start */
} am_rule_ctx;

/*
** Evaluate g's rules in order at ts: recording rules' samples are written
** to the window before the next rule runs; alerting rules move their
** alerts through pending/firing/resolved, write ALERTS and
** ALERTS_FOR_STATE (once restored), and hand what needs sending to the
** notifier.
*/
void am__group_eval(am_rgroup *g, am_rule_ctx *c, int64_t ts);

/* The alerting part: state transitions for the rule's new result. */
am_err am__alert_rule_eval(am_rule *r, am_rule_ctx *c, const am_vector *res, int64_t ts,
                           am_arena *a, am_vector *out, char *err, size_t cap);
/* Alerts of r that need sending at ts, handed to the notifier. */
void am__alert_rule_send(am_rule *r, am_rule_ctx *c, int64_t ts);
/* Prometheus' restore of `for` state from (active_at, down_at). */
int64_t am__restore_active_at(int64_t active_at, int64_t down_at, int64_t now, int64_t hold,
                              int64_t grace);

#endif
