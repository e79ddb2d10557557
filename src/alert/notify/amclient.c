/*
** amclient.c: alerts to real Alertmanagers, as Prometheus' notifier sends
** them (`alerting: alertmanagers:` in the configuration): every alert the
** collector has -- the rules', and the events made alerts -- is POSTed to
** each Alertmanager's API v2 (/api/v2/alerts) as a JSON array of
** {labels, annotations, startsAt, endsAt, generatorURL}, and Alertmanager
** routes them on with its own configuration.
**
** DESIGN
** A bounded queue (the oldest alerts go first when it is full, counted as
** dropped) and one thread that sends batches of at most 64 alerts to
** every Alertmanager in turn; a batch one of them refuses is tried again
** after 1 s, 2 s, 4 s (three times in all) while the others get theirs.
** Counted in agentmon_notifications_total{receiver="alertmanager"}.
*/
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../../util/alloc.h"
#include "../../util/error.h"
#include "notify_int.h"
#include "send.h"

#define BATCH 64
#define ATTEMPTS 3

struct am_amclient {
    am_notify *n;
    const am_am_target *t; /* borrowed from the configuration */
    size_t n_t;
    size_t queue_max;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    am_nalert **q; /* a ring */
    size_t head, len, cap;
    bool is_stopping;
};

static void *amc_main(void *arg)
{
    am_amclient *c = arg;
    am_nalert *batch[BATCH];
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->len && !c->is_stopping)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->is_stopping)
            break;
        size_t k = 0;
        while (c->len && k < BATCH) {
            batch[k++] = c->q[c->head];
            c->head = (c->head + 1) % c->cap;
            c->len--;
        }
        pthread_mutex_unlock(&c->mu);
        int64_t now = (int64_t)(am_unix_time() * 1000);
        am_request rq;
        memset(&rq, 0, sizeof rq);
        am_buf_init(&rq.body, 0);
        am_buf_putc(&rq.body, '[');
        for (size_t i = 0; i < k; i++) {
            if (i)
                am_buf_putc(&rq.body, ',');
            am__json_nalert(&rq.body, batch[i], now, false);
        }
        am_buf_putc(&rq.body, ']');
        rq.content_type = "application/json";
        for (size_t t = 0; t < c->n_t && !am_buf_err(&rq.body); t++) {
            am_buf url;
            am_buf_init(&url, 0);
            am_buf_printf(&url, "%s/api/v2/alerts", c->t[t].base);
            rq.url = url.p;
            int64_t backoff = 1000;
            for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                am_send_result res;
                double t0 = am_unix_time();
                am__send(&c->t[t].http, &rq, c->t[t].timeout_ms, &res);
                if (res.ok) {
                    am__notify_count(c->n, "alertmanager", "success", am_unix_time() - t0);
                    break;
                }
                am__notify_count(c->n, "alertmanager", "failure", am_unix_time() - t0);
                am__notify_log(c->n, "alertmanager", "alertmanager", (int)t, res.error);
                if (!res.is_retryable || attempt + 1 == ATTEMPTS) {
                    am__notify_count(c->n, "alertmanager", "dropped", -1);
                    break;
                }
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += backoff / 1000;
                pthread_mutex_lock(&c->mu);
                if (!c->is_stopping)
                    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
                bool stop = c->is_stopping;
                pthread_mutex_unlock(&c->mu);
                if (stop)
                    break;
                backoff *= 2;
            }
            rq.url = NULL;
            am_buf_free(&url);
        }
        am_buf_free(&rq.body);
        for (size_t i = 0; i < k; i++)
            am__nalert_free(batch[i]);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

am_err am__amclient_start(am_notify *n, const am_am_target *t, size_t n_t, size_t queue_max,
                          am_amclient **out)
{
    am_amclient *c = am__calloc(1, sizeof *c);
    if (!c || !(c->q = am__calloc(queue_max, sizeof *c->q))) {
        am__free(c);
        return am__err(AM_ENOMEM, "out of memory");
    }
    c->n = n;
    c->t = t;
    c->n_t = n_t;
    c->cap = c->queue_max = queue_max;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&c->thread, NULL, amc_main, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        am__free(c->q);
        am__free(c);
        return am__err(AM_ENOMEM, "cannot start the Alertmanager client's thread");
    }
    *out = c;
    return AM_OK;
}

void am__amclient_stop(am_amclient *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->is_stopping = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    for (size_t i = 0; i < c->len; i++)
        am__nalert_free(c->q[(c->head + i) % c->cap]);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    am__free(c->q);
    am__free(c);
}

void am__amclient_put(am_amclient *c, am_nalert *const *a, size_t n)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        am_nalert *x = a[i] ? am__nalert_copy(a[i]) : NULL;
        if (!x)
            continue;
        if (c->len == c->cap) { /* full: the oldest goes */
            am__nalert_free(c->q[c->head]);
            c->head = (c->head + 1) % c->cap;
            c->len--;
            am__notify_count(c->n, "alertmanager", "dropped", -1);
        }
        c->q[(c->head + c->len) % c->cap] = x;
        c->len++;
    }
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}
