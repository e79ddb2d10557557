/*
** webhook.c: the generic webhook, with Alertmanager's webhook payload
** (version 4), and the JSON pieces the other integrations share: an
** alert, a label set, a time, the common labels of a notification.
**
** The payload is Alertmanager 0.25's notify/webhook Message, field for
** field and in its order: receiver, status, alerts (status, labels,
** annotations, startsAt, endsAt -- Go's zero time for a firing alert --,
** generatorURL, fingerprint), groupLabels, commonLabels,
** commonAnnotations, externalURL, version "4", groupKey,
** truncatedAlerts. max_alerts > 0 keeps the first alerts and says how
** many were left out.
*/
#include <stdio.h>
#include <string.h>

#include "../../util/alloc.h"
#include "../../util/civil.h"
#include "../../util/render.h"
#include "notify.h"

void am__request_free(am_request *r)
{
    am__free(r->url);
    am_buf_free(&r->body);
    am__free(r->mail_from);
    for (size_t i = 0; i < r->n_rcpt; i++)
        am__free(r->rcpt[i]);
    am__free(r->rcpt);
    memset(r, 0, sizeof *r);
}

void am__json_time(am_buf *b, int64_t ms)
{
    am_alert_time_json(b, ms);
}

bool am__nalert_resolved(const am_nalert *a, int64_t now_ms)
{
    return a->ends_at_ms && a->ends_at_ms <= now_ms;
}

void am__json_nalert(am_buf *b, const am_nalert *a, int64_t now_ms, bool with_status)
{
    bool resolved = am__nalert_resolved(a, now_ms);
    am_buf_putc(b, '{');
    if (with_status)
        am_buf_printf(b, "\"status\":\"%s\",", resolved ? "resolved" : "firing");
    am_buf_puts(b, "\"labels\":");
    am__labels_json(b, a->labels);
    am_buf_puts(b, ",\"annotations\":");
    am__labels_json(b, a->annotations);
    am_buf_puts(b, ",\"startsAt\":");
    am__json_time(b, a->starts_at_ms);
    am_buf_puts(b, ",\"endsAt\":");
    am__json_time(b, with_status && !resolved ? 0 : a->ends_at_ms);
    am_buf_puts(b, ",\"generatorURL\":");
    const char *g = a->generator_url ? a->generator_url : "";
    am__buf_json_string(b, g, strlen(g));
    if (with_status)
        am_buf_printf(b, ",\"fingerprint\":\"%016llx\"", (unsigned long long)a->fp);
    am_buf_putc(b, '}');
}

const char *am__nt_status(const am_notification *nt)
{
    return nt->n_firing ? "firing" : "resolved";
}

am_lset *am__common(am_nalert *const *a, size_t n, bool annotations)
{
    if (!n)
        return am__labels_raw(NULL, NULL, 0);
    const am_lset *first = annotations ? a[0]->annotations : a[0]->labels;
    am_label *keep = am__calloc(first->n + 1, sizeof *keep);
    if (!keep)
        return NULL;
    size_t k = 0;
    for (uint32_t i = 0; i < first->n; i++) {
        bool same = true;
        for (size_t j = 1; j < n && same; j++) {
            const am_lset *o = annotations ? a[j]->annotations : a[j]->labels;
            const char *v = am__labels_get(o, first->l[i].name);
            same = v && strcmp(v, first->l[i].value) == 0;
        }
        if (same)
            keep[k++] = first->l[i];
    }
    am_lset *out = am__labels_raw(NULL, keep, k);
    am__free(keep);
    return out;
}

am_err am__webhook_build(const am_integration *ig, const am_notification *nt, am_request *rq)
{
    am_buf *b = &rq->body;
    size_t n = nt->n_alerts, truncated = 0;
    if (ig->max_alerts && n > ig->max_alerts) {
        truncated = n - ig->max_alerts;
        n = ig->max_alerts;
    }
    am_lset *cl = am__common(nt->alerts, nt->n_alerts, false);
    am_lset *ca = am__common(nt->alerts, nt->n_alerts, true);
    if (!cl || !ca) {
        am__labels_free(cl);
        am__labels_free(ca);
        return AM_ENOMEM;
    }
    am_buf_puts(b, "{\"receiver\":");
    am__buf_json_string(b, nt->receiver, strlen(nt->receiver));
    am_buf_printf(b, ",\"status\":\"%s\",\"alerts\":[", am__nt_status(nt));
    for (size_t i = 0; i < n; i++) {
        if (i)
            am_buf_putc(b, ',');
        am__json_nalert(b, nt->alerts[i], nt->now_ms, true);
    }
    am_buf_puts(b, "],\"groupLabels\":");
    am__labels_json(b, nt->group_labels);
    am_buf_puts(b, ",\"commonLabels\":");
    am__labels_json(b, cl);
    am_buf_puts(b, ",\"commonAnnotations\":");
    am__labels_json(b, ca);
    am_buf_puts(b, ",\"externalURL\":");
    const char *eu = nt->external_url ? nt->external_url : "";
    am__buf_json_string(b, eu, strlen(eu));
    am_buf_puts(b, ",\"version\":\"4\",\"groupKey\":");
    am__buf_json_string(b, nt->group_key, strlen(nt->group_key));
    am_buf_printf(b, ",\"truncatedAlerts\":%zu}", truncated);
    am__labels_free(cl);
    am__labels_free(ca);
    rq->url = am__strdup(ig->url);
    rq->content_type = "application/json";
    return rq->url && !am_buf_err(b) ? AM_OK : AM_ENOMEM;
}
