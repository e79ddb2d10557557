/*
** notify_int.h: what the notifier's files share (dispatch.c runs the
** groups, receiver.c the receivers' threads, amclient.c the Alertmanager
** client): jobs, receivers, the notification log, counting and logging.
** Not an interface: notify.h is.
*/
#ifndef AM_ALERT_NOTIFY_INT_H
#define AM_ALERT_NOTIFY_INT_H

#include <pthread.h>

#include "notify.h"

#define AM_NFLOG_MAX 16384 /* bytes of one notification-log entry */

/* One flush of one group for one receiver (copies: the job owns them). */
typedef struct am_njob {
    char *group_key;
    am_lset *group_labels;
    am_nalert **alerts;
    size_t n_alerts;
    int64_t now_ms; /* when the group flushed: resolved means ends <= this */
    int64_t repeat_interval_ms;
    int64_t deadline_ms; /* give up retrying after this */
    struct am_njob *next;
} am_njob;

typedef struct am_rcv {
    am_notify *n;
    const am_receiver_cfg *cfg; /* borrowed from the configuration */
    size_t queue_max;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    am_njob *head, *tail;
    size_t n_queued;
    bool is_stopping;
} am_rcv;

am_err am__rcv_start(am_notify *n, const am_receiver_cfg *cfg, size_t queue_max, am_rcv **out);
void am__rcv_stop(am_rcv *r);
/* Queue j (taken), replacing a waiting job of the same group. */
void am__rcv_put(am_rcv *r, am_njob *j);
void am__njob_free(am_njob *j);

/* Alerts: copies and freeing. */
am_nalert *am__nalert_copy(const am_nalert *a);
void am__nalert_free(am_nalert *a);

/* The notification log (the store's, or memory). key: 16 hex digits of
   receiver, integration and group key. */
void am__nflog_key(const char *receiver, const am_integration *ig, const char *group_key,
                   char out[40]);
int64_t am__nflog_get(am_notify *n, const char *key, char *out, size_t cap);
void am__nflog_put(am_notify *n, const char *key, const char *text, int64_t t_ms);

/* Counting (result: success, failure, dropped; seconds < 0: no latency)
   and logging a failure (never a URL or a secret). */
void am__notify_count(am_notify *n, const char *receiver, const char *result, double seconds);
void am__notify_log(am_notify *n, const char *receiver, const char *kind, int index,
                    const char *why);
const char *am__notify_external_url(am_notify *n);
int64_t am__notify_retry_max(am_notify *n);

/* amclient.c: Prometheus' notifier, to the Alertmanagers of alerting:. */
typedef struct am_amclient am_amclient;
am_err am__amclient_start(am_notify *n, const am_am_target *t, size_t n_t, size_t queue_max,
                          am_amclient **out);
void am__amclient_stop(am_amclient *c);
/* Queue copies of the alerts for every Alertmanager. */
void am__amclient_put(am_amclient *c, am_nalert *const *a, size_t n);

#endif
