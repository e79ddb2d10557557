/*
** notify.h: alerts that reach people -- Alertmanager's routing,
** grouping, inhibition, silences and receivers, run inside the collector,
** configured with Alertmanager's own YAML (docs/ALERTING.md).
**
**   engine / events / POST /api/v1/alerts
**        │ am_notify_put()
**        ▼
**   dispatcher (dispatch.c): alerts by fingerprint; the route tree picks
**   aggregation groups (group_by); each group flushes after group_wait,
**   then every group_interval; a flush drops what is silenced
**   (silences.c) or inhibited (inhibit rules), asks the notification log
**   whether anything changed or repeat_interval passed, and queues a job
**        │
**        ▼ one bounded queue and thread per receiver (receiver.c)
**   webhook.c  slack.c  pagerduty.c  email.c       (one file each)
**   retries with exponential backoff honouring Retry-After; success is
**   written to the notification log (persisted: no page twice after a
**   restart); agentmon_notifications_total{receiver,result},
**   agentmon_notification_latency_seconds{receiver}
**
**   beside it, as Prometheus' notifier: every alert also goes to the
**   Alertmanagers of `alerting: alertmanagers:` (amclient.c, API v2).
**
** The parts below are internal to src/alert/notify/ and its callers in
** the collector (serve.c, the demo, the API routes).
*/
#ifndef AM_ALERT_NOTIFY_H
#define AM_ALERT_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/log.h"
#include "agentmon/metrics.h"
#include "../../util/buf.h"
#include "../../util/catalog.h"
#include "../alert.h"
#include "../labels.h"
#include "../regex.h"
#include "../yamltree.h"

/* ================================================================ matchers */

typedef enum am_amatch_op { AM_AM_EQ, AM_AM_NEQ, AM_AM_RE, AM_AM_NRE } am_amatch_op;

/* One of Alertmanager's label matchers (a route's, an inhibit rule's, a
   silence's). Regexes are anchored as Alertmanager anchors them. */
typedef struct am_amatcher {
    char *name;
    char *value;
    am_amatch_op op;
    am_regex *re; /* RE, NRE */
} am_amatcher;

/*
** Parse Alertmanager's matcher syntax (labels.ParseMatchers): one or more
** `name op value` separated by commas, optionally inside braces; op one
** of = != =~ !~; value quoted (Go escapes) or bare. Appends to *m (*n of
** them, growing). AM_EINVAL with the reason in err.
*/
am_err am__amatchers_parse(const char *s, am_amatcher **m, size_t *n, char *err, size_t cap);
/* One matcher from its parts (match:, match_re:, a silence's JSON). */
am_err am__amatcher_make(const char *name, const char *value, am_amatch_op op, am_amatcher *out,
                         char *err, size_t cap);
void am__amatchers_free(am_amatcher *m, size_t n);
/* Whether every matcher accepts l (a missing label is ""). */
bool am__amatchers_ok(const am_amatcher *m, size_t n, const am_lset *l);
/* The matcher as Alertmanager writes it: name="value", name=~"re". */
void am__amatcher_fmt(am_buf *b, const am_amatcher *m);

/* ================================================================ config */

enum { AM_INT_WEBHOOK, AM_INT_SLACK, AM_INT_PAGERDUTY, AM_INT_EMAIL, AM_INT__N };

/* http_config: how a receiver's requests authenticate (secrets owned). */
typedef struct am_httpcfg {
    char *basic_user, *basic_password;
    char *auth_type, *auth_credentials; /* authorization: (Bearer by default) */
    char *ca_file, *cert_file, *key_file, *server_name;
    bool insecure_skip_verify;
    bool follow_redirects; /* true */
    char *proxy_url;
} am_httpcfg;

/*
** The HTTP client fields of mapping m as Prometheus inlines them in a
** remote_write: or scrape config (basic_auth, authorization,
** bearer_token[_file], tls_config, proxy_url, follow_redirects), secrets
** read from their *_file relative to file's directory. Keys are not
** checked here. Each problem is a line "FILE:LINE: what" of errs; returns
** how many. *h is filled (free with am__httpcfg_free) either way.
*/
int am__httpcfg_parse(const char *file, const am_ynode *m, am_httpcfg *h, am_buf *errs);
void am__httpcfg_free(am_httpcfg *h);

/* One integration of a receiver: the union of the four kinds' fields
   that agentmon uses (strings owned; a NULL template is the default). */
typedef struct am_integration {
    int kind;
    int index; /* within its kind, for names: slack[0] */
    int line;
    bool send_resolved;
    char *url; /* webhook url, slack api_url, pagerduty url (secret) */
    am_httpcfg http;
    unsigned max_alerts; /* webhook */
    /* slack */
    char *channel, *username, *color, *title, *title_link, *pretext, *text, *footer, *fallback,
        *icon_emoji, *icon_url;
    /* pagerduty */
    char *routing_key, *service_key, *client, *client_url, *description, *severity, *pd_class,
        *component, *pd_group, *source;
    am_label *details; /* pagerduty details (name, template) */
    size_t n_details;
    /* email */
    char *to, *from, *smarthost, *hello, *auth_username, *auth_password, *auth_identity, *html,
        *email_text;
    bool require_tls;
    am_label *headers; /* extra headers (name, template) */
    size_t n_headers;
} am_integration;

typedef struct am_receiver_cfg {
    char *name;
    am_integration *ints;
    size_t n;
    int line;
} am_receiver_cfg;

typedef struct am_route {
    char *receiver;
    char **group_by;
    size_t n_group_by;
    bool group_by_all; /* group_by: ['...'] */
    am_amatcher *m;
    size_t n_m;
    bool is_continue;
    int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
    struct am_route **routes;
    size_t n_routes;
    char *key; /* its place in the tree, as Alertmanager's route.Key() */
    int line;
} am_route;

typedef struct am_inhibit {
    am_amatcher *src, *tgt;
    size_t n_src, n_tgt;
    char **equal;
    size_t n_equal;
} am_inhibit;

/* alerting: alertmanagers: (prometheus.yml's form) */
typedef struct am_am_target {
    char *base; /* scheme://host:port/path_prefix */
    int64_t timeout_ms;
    am_httpcfg http;
} am_am_target;

typedef struct am_notify_config {
    int64_t resolve_timeout_ms; /* global.resolve_timeout: 5m */
    am_route *root;             /* NULL: no route: section (no receivers run) */
    am_receiver_cfg *receivers;
    size_t n_receivers;
    am_inhibit *inhibit;
    size_t n_inhibit;
    am_am_target *ams;
    size_t n_ams;
    char *file; /* where it came from, for messages */
} am_notify_config;

/*
** Read Alertmanager's sections (global, route, receivers, inhibit_rules,
** templates) and Prometheus' alerting: (alertmanagers) from a YAML file,
** as Alertmanager checks them: an unknown key, a receiver without its
** URL, a route naming an unknown receiver, a matcher or template that does
** not compile, an integration agentmon has not, ... are each one line of
** errs, "FILE:LINE: what". With is_collector, other top-level keys are the
** collector's own (config.c checks them) and are skipped; else they are
** refused. Secrets come from *_file keys, or from a value written
** ${NAME} (an environment variable). *out: owned, am__notify_config_free;
** NULL when the file has none of the sections. AM_EINVAL, AM_EIO, AM_ENOMEM.
*/
am_err am__notify_config_load(const char *path, bool is_collector, am_notify_config **out,
                              am_buf *errs);
void am__notify_config_free(am_notify_config *c);
/* The same from text (tests, fuzzing); file names it in messages. */
am_err am__notify_config_parse(const char *file, const char *text, size_t len, bool is_collector,
                               am_notify_config **out, am_buf *errs);

/* ================================================================ alerts */

/* An alert as the dispatcher holds it (Alertmanager's types.Alert). */
typedef struct am_nalert {
    am_lset *labels;      /* heap, sorted */
    am_lset *annotations; /* heap */
    int64_t starts_at_ms, ends_at_ms, updated_ms;
    char *generator_url;
    uint64_t fp;
    bool has_end; /* ends_at came from the sender, not resolve_timeout */
} am_nalert;

/* One alert handed in: labels and annotations as pairs (any order). */
typedef struct am_nalert_in {
    const am_label *labels;
    size_t n_labels;
    const am_label *annotations;
    size_t n_annotations;
    int64_t starts_at_ms; /* 0: now */
    int64_t ends_at_ms;   /* 0: none (resolve_timeout applies) */
    const char *generator_url;
} am_nalert_in;

/* ================================================================ silences */

typedef struct am_silence {
    char id[40];
    am_amatcher *m;
    size_t n_m;
    int64_t starts_at_ms, ends_at_ms, updated_ms;
    char *created_by, *comment;
} am_silence;

/* "active", "pending" (not started), "expired" at now_ms. */
const char *am__silence_state(const am_silence *s, int64_t now_ms);

/* ================================================================ the notifier */

typedef struct am_notify am_notify;

/* Where the notification log and silences are kept (the store); NULL
   functions: memory only. Called on the notifier's threads. */
typedef struct am_notify_store {
    void *ud;
    int64_t (*log_get)(void *ud, const char *key, char *out, size_t cap);
    void (*log_put)(void *ud, const char *key, const char *text, int64_t t_ms);
    /* a silence changed (written whole), and every silence at start */
    void (*silence_put)(void *ud, const am_silence *s);
    void (*silences_load)(void *ud, void (*fn)(void *ctx, const am_silence *s), void *ctx);
    /* an alert that came from an event changed state ("firing", "resolved") */
    void (*event_state)(void *ud, const am_nalert *a, const char *state, int64_t t_ms);
} am_notify_store;

typedef struct am_notify_opts {
    am_registry *registry; /* agentmon_notifications_* go here; NULL: none */
    am_logger *logger;     /* NULL: the default */
    const char *external_url;
    am_notify_store store; /* copied */
    size_t queue_max;      /* notifications waiting per receiver; 0: 1024 */
    int64_t retry_max_ms;  /* the longest backoff between attempts; 0: 60 s */
} am_notify_opts;

extern const am_def_table am__table_notify;

/* cfg: taken (also on failure). out: owned, am_notify_free. */
am_err am_notify_new(const am_notify_opts *o, am_notify_config *cfg, am_notify **out);
/* Swap the configuration (a reload): alerts are kept and regrouped, the
   notification log stops what was sent from being sent again. Takes cfg. */
am_err am_notify_set_config(am_notify *n, am_notify_config *cfg);
void am_notify_free(am_notify *n);

/* Alerts in (thread-safe); the engine's callback is am_notify_engine_fn. */
void am_notify_put(am_notify *n, const am_nalert_in *alerts, size_t count, bool is_event);
void am_notify_engine_fn(void *ud, const am_alert_out *alerts, size_t n);

/* Silences (thread-safe). put: a new one (id empty: one is made) or a
   replacement; *id gets its id. AM_ENOTFOUND for an id that does not
   exist; AM_EINVAL for a silence that ends before it starts. */
am_err am_notify_silence_put(am_notify *n, am_silence *s, char id[40]);
am_err am_notify_silence_expire(am_notify *n, const char *id);
/* fn once per silence (borrowed for the call), newest first; with id,
   only that one (AM_ENOTFOUND when none). */
am_err am_notify_silences(am_notify *n, const char *id, void (*fn)(void *ud, const am_silence *s),
                          void *ud);

/* The alerts the dispatcher holds, for GET /api/v2/alerts: fn per alert
   with whether it is silenced or inhibited now. */
void am_notify_alerts(am_notify *n,
                      void (*fn)(void *ud, const am_nalert *a, bool silenced, bool inhibited),
                      void *ud);

/* ================================================================ internals */

/* A notification: what one flush of a group sends to one receiver. */
typedef struct am_notification {
    const char *receiver;
    const char *group_key; /* route key + group labels */
    const am_lset *group_labels;
    am_nalert **alerts; /* firing and (when sent) resolved */
    size_t n_alerts;
    size_t n_firing;
    const char *external_url;
    int64_t now_ms;
} am_notification;

/* An integration's request, made by its file, sent by receiver.c. */
typedef struct am_request {
    char *url;
    am_buf body;
    const char *content_type;
    /* email: the SMTP envelope, and the integration's settings (borrowed) */
    bool is_smtp;
    char *mail_from;
    char **rcpt;
    size_t n_rcpt;
    bool require_tls;
    const char *smtp_user, *smtp_password;
} am_request;

void am__request_free(am_request *r);

/* webhook.c, slack.c, pagerduty.c, email.c: build the request of ig for
   a notification. AM_EINVAL for a template that fails (the error in err). */
am_err am__webhook_build(const am_integration *ig, const am_notification *nt, am_request *rq);
am_err am__slack_build(const am_integration *ig, const am_notification *nt, am_request *rq);
am_err am__pagerduty_build(const am_integration *ig, const am_notification *nt, am_request *rq);
am_err am__email_build(const am_integration *ig, const am_notification *nt, am_request *rq);

/* Alertmanager's webhook message (version 4), shared with amclient.c's
   alert shape: the alert as JSON. */
void am__json_nalert(am_buf *b, const am_nalert *a, int64_t now_ms, bool with_status);
/* RFC 3339 with nanoseconds trimmed, as Go writes time.Time. */
void am__json_time(am_buf *b, int64_t ms);
/* The common labels or annotations of the alerts. Arena-free: heap. */
am_lset *am__common(am_nalert *const *a, size_t n, bool annotations);
/* "firing" when any alert of the notification is firing, else "resolved". */
const char *am__nt_status(const am_notification *nt);
bool am__nalert_resolved(const am_nalert *a, int64_t now_ms);

#endif
