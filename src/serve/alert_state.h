/*
** alert_state.h: alert state and history in the collector's store -- the
** engine's persister (alert.h's am_alert_persister), so that a restart
** neither forgets a pending `for` nor pages again; the history of state
** changes that GET /api/v1/alerts/history reads; and a small key/value
** of the notifiers' own (their notification log), kept in the same table.
**
** ROWS. alert_state holds one row per alert, id "<group>:<fingerprint>"
** (group: 16 hex digits of the rule file and group name; fingerprint:
** Alertmanager's of the alert's labels), rewritten at every evaluation
** while the alert is pending or firing (its timestamp is then when it was
** last seen, which the restore needs), and once more when it resolves
** or, pending, goes away ("resolved", "inactive"). alert_history gets one
** row per change of state: pending, firing, resolved, inactive.
** Notification-log rows have ids "nflog:<key>" (state "notified").
**
** PRUNING. alert_state rows not rewritten for AM_ALERT_STATE_KEEP_S
** (120 h, Alertmanager's --data.retention) are deleted at start and
** then hourly: a row older than the outage tolerance (1 h) is never
** restored anyway, and a notification log entry outlives any repeat
** interval worth having. alert_history goes with --retention, as the
** other record tables.
**
** Writes go through the store's queue without waiting (the next
** evaluation rewrites what a full queue refused). Thread-safe: one mutex.
*/
#ifndef AM_SERVE_ALERT_STATE_H
#define AM_SERVE_ALERT_STATE_H

#include <stdint.h>

#include "agentmon/log.h"
#include "../alert/alert.h"
#include "../alert/labels.h" /* am_label, complete */
#include "../alert/notify/notify.h"
#include "store/store.h"

#define AM_ALERT_STATE_KEEP_S (120 * 3600.0)

typedef struct am_alert_state_store am_alert_state_store;

/* Read alert_state into memory (and prune it). store borrowed, must
   outlive it. out: owned, free with am__alert_state_free. */
am_err am__alert_state_open(am_store *store, am_logger *log, am_alert_state_store **out);
void am__alert_state_free(am_alert_state_store *as);

/* The persister to give the engine (valid while as is). */
const am_alert_persister *am__alert_state_persister(am_alert_state_store *as);

/*
** A history row for an alert that did not come from a rule (an event made
** into an alert: DLQ growth, a breaker that opened): state "firing" or
** "resolved", labels sorted by name.
*/
void am__alert_state_event(am_alert_state_store *as, const am_label *labels, size_t n,
                           const am_label *annotations, size_t n_ann, const char *state,
                           int64_t t_ms);

/*
** The notification log: text under a key (both copied), with the time it
** was written. get copies the text into out (cap bytes) and returns the
** time (unix ms), or 0 when the key is unknown.
*/
void am__alert_state_log_put(am_alert_state_store *as, const char *key, const char *text,
                             int64_t t_ms);
int64_t am__alert_state_log_get(am_alert_state_store *as, const char *key, char *out, size_t cap);

/*
** The notifier's persistence (notify.h's am_notify_store): the
** notification log above, silences in the silences table (matchers as
** Alertmanager's JSON, [{"name","value","isRegex","isEqual"}]; a silence
** that ended more than 120 h ago is not loaded), and events' history.
*/
am_notify_store am__alert_state_notify_store(am_alert_state_store *as);

#endif
