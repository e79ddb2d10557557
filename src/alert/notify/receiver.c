/*
** receiver.c: one receiver's queue and thread (see notify.h).
**
** DESIGN
** The dispatcher hands a receiver jobs (one flush of one group: the
** group's key and labels and a copy of its alerts) and never waits: the
** queue is bounded (queue_max; past it the oldest job is dropped and
** counted), and a job for a group that is still waiting replaces the
** waiting one (the newer flush has the newer state). The thread takes one
** job at a time and runs each integration of the receiver in turn:
**
**   dedup   the notification log (Alertmanager's DedupStage): send when
**           nothing was sent for the group before and something fires,
**           when an alert fires that did not at the last send, when all
**           resolved after something fired, when one resolved (with
**           send_resolved), or when repeat_interval has passed
**   send    build the request (webhook.c ...), send it (send.c)
**   retry   a transport error, 429 or 5xx is tried again after 1 s, 2 s,
**           4 s ... (at most retry_max), or after Retry-After when the
**           server says so, until the job's deadline (group_interval, at
**           least 10 s, as Alertmanager's); a newer job for the same group
**           ends the retries (it is sent instead); 4xx is not retried
**   log     a success is written to the notification log (the store:
**           a restart does not send it again)
**
** Every attempt counts in agentmon_notifications_total{receiver,result}
** (success, failure) and its time in agentmon_notification_latency_
** seconds{receiver}; a job given up counts as dropped. The log says which
** integration failed and why (host and status), never a URL or a secret.
**
** THREADING: the queue under the receiver's mutex; the thread is the
** only sender. Stopping ends the wait between retries at once.
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

static const char *const KIND[AM_INT__N] = {"webhook", "slack", "pagerduty", "email"};

static int64_t now_ms(void)
{
    return (int64_t)(am_unix_time() * 1000);
}

void am__njob_free(am_njob *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n_alerts; i++)
        am__nalert_free(j->alerts[i]);
    am__free(j->alerts);
    am__labels_free(j->group_labels);
    am__free(j->group_key);
    am__free(j);
}

/* ---- the notification log entry: "f:fp,fp;r:fp,fp" ------------------------ */

static void fp_list(am_buf *b, const am_njob *j, bool firing, const am_integration *ig)
{
    bool first = true;
    for (size_t i = 0; i < j->n_alerts; i++) {
        bool res = am__nalert_resolved(j->alerts[i], j->now_ms);
        if (res == firing)
            continue;
        (void)ig;
        am_buf_printf(b, "%s%016llx", first ? "" : ",", (unsigned long long)j->alerts[i]->fp);
        first = false;
    }
}

/* Whether every fingerprint in list (of text "a,b,c") is in the set of
   the job's alerts of that state; sub: the job's is a subset of list. */
static bool has_fp(const char *list, size_t len, uint64_t fp)
{
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)fp);
    for (size_t i = 0; i + 16 <= len; i += 17)
        if (memcmp(list + i, want, 16) == 0)
            return true;
    return false;
}

static bool needs_update(const am_njob *j, const char *entry, int64_t entry_ms, bool send_resolved,
                         int64_t now)
{
    size_t nf = 0, nr = 0;
    for (size_t i = 0; i < j->n_alerts; i++)
        if (am__nalert_resolved(j->alerts[i], j->now_ms))
            nr++;
        else
            nf++;
    if (!entry_ms)
        return nf > 0;
    const char *f = strstr(entry, "f:"), *r = strstr(entry, ";r:");
    if (!f || !r)
        return true;
    const char *fl = f + 2, *rl = r + 3;
    size_t flen = (size_t)(r - fl), rlen = strlen(rl);
    /* the job's firing alerts must all have been firing at the last send */
    for (size_t i = 0; i < j->n_alerts; i++)
        if (!am__nalert_resolved(j->alerts[i], j->now_ms) && !has_fp(fl, flen, j->alerts[i]->fp))
            return true;
    if (nf == 0)
        return flen > 0; /* all resolved after something fired */
    if (send_resolved)
        for (size_t i = 0; i < j->n_alerts; i++)
            if (am__nalert_resolved(j->alerts[i], j->now_ms) && !has_fp(rl, rlen, j->alerts[i]->fp))
                return true;
    return entry_ms < now - j->repeat_interval_ms;
}

/* ---- sending one integration ----------------------------------------------- */

static bool superseded(am_rcv *r, const am_njob *j)
{
    bool s = false;
    pthread_mutex_lock(&r->mu);
    for (const am_njob *q = r->head; q && !s; q = q->next)
        s = strcmp(q->group_key, j->group_key) == 0;
    s = s || r->is_stopping;
    pthread_mutex_unlock(&r->mu);
    return s;
}

/* Wait up to ms, or until stopping or a newer job for the group comes. */
static bool pause_or_superseded(am_rcv *r, const am_njob *j, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    for (;;) {
        bool s = r->is_stopping;
        for (const am_njob *q = r->head; q && !s; q = q->next)
            s = strcmp(q->group_key, j->group_key) == 0;
        if (s) {
            pthread_mutex_unlock(&r->mu);
            return true;
        }
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&r->mu);
    return superseded(r, j);
}

static am_err build(const am_integration *ig, const am_notification *nt, am_request *rq)
{
    switch (ig->kind) {
    case AM_INT_WEBHOOK:
        return am__webhook_build(ig, nt, rq);
    case AM_INT_SLACK:
        return am__slack_build(ig, nt, rq);
    case AM_INT_PAGERDUTY:
        return am__pagerduty_build(ig, nt, rq);
    default:
        return am__email_build(ig, nt, rq);
    }
}

static void run_integration(am_rcv *r, const am_njob *j, const am_integration *ig)
{
    am_notify *n = r->n;
    char key[40], entry[AM_NFLOG_MAX];
    am__nflog_key(r->cfg->name, ig, j->group_key, key);
    int64_t now = now_ms();
    int64_t at = am__nflog_get(n, key, entry, sizeof entry);
    if (!needs_update(j, entry, at, ig->send_resolved, now))
        return;
    /* what this integration is sent: resolved ones only with send_resolved */
    am_nalert **list = am__calloc(j->n_alerts + 1, sizeof *list);
    if (!list)
        return;
    size_t k = 0, nf = 0;
    for (size_t i = 0; i < j->n_alerts; i++) {
        bool res = am__nalert_resolved(j->alerts[i], j->now_ms);
        if (res && !ig->send_resolved)
            continue;
        list[k++] = j->alerts[i];
        nf += !res;
    }
    am_buf log;
    am_buf_init(&log, 0);
    am_buf_puts(&log, "f:");
    fp_list(&log, j, true, ig);
    am_buf_puts(&log, ";r:");
    fp_list(&log, j, false, ig);
    if (!k) { /* nothing to send it (only resolved, no send_resolved): logged */
        if (!am_buf_err(&log))
            am__nflog_put(n, key, log.p, now);
        am_buf_free(&log);
        am__free(list);
        return;
    }
    am_notification nt = {
        r->cfg->name, j->group_key, j->group_labels, list, k, nf, am__notify_external_url(n),
        j->now_ms};
    am_request rq;
    memset(&rq, 0, sizeof rq);
    am_buf_init(&rq.body, 0);
    am_err rc = build(ig, &nt, &rq);
    if (rc) {
        am__notify_count(n, r->cfg->name, "dropped", -1);
        am__notify_log(n, r->cfg->name, KIND[ig->kind], ig->index, "could not build the request");
        am__request_free(&rq);
        am_buf_free(&log);
        am__free(list);
        return;
    }
    int64_t backoff = 1000;
    int64_t timeout = j->deadline_ms - now_ms();
    for (;;) {
        if (timeout < 1000)
            timeout = 1000;
        am_send_result res;
        double t0 = am_unix_time();
        am__send(&ig->http, &rq, timeout > 30000 ? 30000 : timeout, &res);
        double dt = am_unix_time() - t0;
        if (res.ok) {
            am__notify_count(n, r->cfg->name, "success", dt);
            if (!am_buf_err(&log))
                am__nflog_put(n, key, log.p, now_ms());
            break;
        }
        am__notify_count(n, r->cfg->name, "failure", dt);
        am__notify_log(n, r->cfg->name, KIND[ig->kind], ig->index, res.error);
        int64_t wait = backoff;
        if (res.retry_after_ms > wait)
            wait = res.retry_after_ms;
        int64_t max = am__notify_retry_max(n);
        if (wait > max && res.retry_after_ms < 0)
            wait = max;
        if (!res.is_retryable || now_ms() + wait > j->deadline_ms) {
            am__notify_count(n, r->cfg->name, "dropped", -1);
            break;
        }
        if (pause_or_superseded(r, j, wait))
            break; /* a newer flush of the group is waiting: it goes instead */
        backoff = backoff * 2 > max ? max : backoff * 2;
        timeout = j->deadline_ms - now_ms();
    }
    am__request_free(&rq);
    am_buf_free(&log);
    am__free(list);
}

/* ---- the thread and the queue ------------------------------------------------- */

static void *rcv_main(void *arg)
{
    am_rcv *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->head && !r->is_stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->is_stopping)
            break;
        am_njob *j = r->head;
        r->head = j->next;
        if (!r->head)
            r->tail = NULL;
        r->n_queued--;
        pthread_mutex_unlock(&r->mu);
        for (size_t i = 0; i < r->cfg->n && !superseded(r, j); i++)
            run_integration(r, j, &r->cfg->ints[i]);
        am__njob_free(j);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

am_err am__rcv_start(am_notify *n, const am_receiver_cfg *cfg, size_t queue_max, am_rcv **out)
{
    am_rcv *r = am__calloc(1, sizeof *r);
    if (!r)
        return am__err(AM_ENOMEM, "out of memory");
    r->n = n;
    r->cfg = cfg;
    r->queue_max = queue_max;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, rcv_main, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        am__free(r);
        return am__err(AM_ENOMEM, "cannot start receiver %s's thread", cfg->name);
    }
    *out = r;
    return AM_OK;
}

void am__rcv_stop(am_rcv *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->is_stopping = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    for (am_njob *j = r->head, *next; j; j = next) {
        next = j->next;
        am__njob_free(j);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    am__free(r);
}

void am__rcv_put(am_rcv *r, am_njob *j)
{
    pthread_mutex_lock(&r->mu);
    am_njob **pp = &r->head, *prev = NULL;
    bool replaced = false;
    for (; *pp; prev = *pp, pp = &(*pp)->next) {
        if (strcmp((*pp)->group_key, j->group_key) != 0)
            continue;
        j->next = (*pp)->next;
        if (r->tail == *pp)
            r->tail = j;
        am__njob_free(*pp);
        *pp = j;
        replaced = true;
        break;
    }
    (void)prev;
    if (!replaced) {
        j->next = NULL;
        if (r->tail)
            r->tail->next = j;
        else
            r->head = j;
        r->tail = j;
        r->n_queued++;
        if (r->n_queued > r->queue_max) {
            am_njob *old = r->head;
            r->head = old->next;
            if (!r->head)
                r->tail = NULL;
            r->n_queued--;
            am__njob_free(old);
            am__notify_count(r->n, r->cfg->name, "dropped", -1);
        }
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}
