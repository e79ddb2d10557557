/*
** pagerduty.c: PagerDuty Events API v2 (https://developer.pagerduty.com/
** docs/events-api-v2/trigger-events/), as Alertmanager 0.25's
** notify/pagerduty sends it.
**
**   {"routing_key":..,"dedup_key":..,"event_action":"trigger"|"resolve",
**    "payload":{"summary":..,"source":..,"severity":..,"class":..,
**    "component":..,"group":..,"custom_details":{..}},
**    "client":..,"client_url":..}
**
** The dedup_key is Alertmanager's: the SHA-256 (hex) of the group key,
** so the trigger and the resolve of a group are one incident, and the key
** is the same one Alertmanager would send for that group. The summary is
** the subject, cut to 1024 bytes (PagerDuty's limit); details are
** Alertmanager's defaults (the firing and resolved alerts listed, and
** their counts) unless configured.
*/
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "../../util/alloc.h"
#include "../../util/render.h"
#include "dtext.h"
#include "notify.h"

#define MAX_SUMMARY 1024

void am__pagerduty_dedup_key(const char *group_key, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (!EVP_Digest(group_key, strlen(group_key), md, &n, EVP_sha256(), NULL))
        return;
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void str_member(am_buf *b, const char *name, const char *v, bool comma)
{
    am_buf_printf(b, "%s\"%s\":", comma ? "," : "", name);
    am__buf_json_string(b, v, strlen(v));
}

am_err am__pagerduty_build(const am_integration *ig, const am_notification *nt, am_request *rq)
{
    am_buf *b = &rq->body;
    char key[65];
    am__pagerduty_dedup_key(nt->group_key, key);
    am_buf summary, link;
    am_buf_init(&summary, 0);
    am_buf_init(&link, 0);
    if (ig->description)
        am_buf_puts(&summary, ig->description);
    else
        am__subject(&summary, nt);
    if (summary.len > MAX_SUMMARY) {
        /* at a UTF-8 boundary, as Alertmanager truncates runes */
        size_t n = MAX_SUMMARY;
        while (n > 0 && ((unsigned char)summary.p[n] & 0xC0) == 0x80)
            n--;
        summary.len = n;
        summary.p[n] = '\0';
    }
    if (ig->client_url)
        am_buf_puts(&link, ig->client_url);
    else
        am__alerts_url(&link, nt);
    const char *client = ig->client ? ig->client : "agentmon";
    am_buf_puts(b, "{");
    str_member(b, "routing_key", ig->routing_key ? ig->routing_key : "", false);
    str_member(b, "dedup_key", key, true);
    str_member(b, "event_action", nt->n_firing ? "trigger" : "resolve", true);
    am_buf_puts(b, ",\"payload\":{");
    str_member(b, "summary", summary.p ? summary.p : "", false);
    str_member(b, "source", ig->source ? ig->source : client, true);
    str_member(b, "severity", ig->severity ? ig->severity : "error", true);
    if (ig->pd_class)
        str_member(b, "class", ig->pd_class, true);
    if (ig->component)
        str_member(b, "component", ig->component, true);
    if (ig->pd_group)
        str_member(b, "group", ig->pd_group, true);
    am_buf_puts(b, ",\"custom_details\":{");
    if (ig->n_details) {
        for (size_t i = 0; i < ig->n_details; i++)
            str_member(b, ig->details[i].name, ig->details[i].value, i > 0);
    } else {
        am_nalert **fi, **re;
        size_t nr;
        size_t nf = am__split_firing(nt, &fi, &re, &nr);
        am_buf list;
        am_buf_init(&list, 0);
        am__text_alert_list(&list, fi, nf);
        str_member(b, "firing", list.p ? list.p : "", false);
        list.len = 0;
        if (list.p)
            list.p[0] = '\0';
        am_buf_printf(b, ",\"num_firing\":\"%zu\",\"num_resolved\":\"%zu\"", nf, nr);
        am__text_alert_list(&list, re, nr);
        str_member(b, "resolved", list.p ? list.p : "", true);
        am_buf_free(&list);
        am__free(fi);
        am__free(re);
    }
    am_buf_puts(b, "}}");
    str_member(b, "client", client, true);
    str_member(b, "client_url", link.p ? link.p : "", true);
    am_buf_putc(b, '}');
    bool oom = am_buf_err(&summary) || am_buf_err(&link) || !key[0];
    am_buf_free(&summary);
    am_buf_free(&link);
    rq->url = am__strdup(ig->url);
    rq->content_type = "application/json";
    return rq->url && !oom && !am_buf_err(b) ? AM_OK : AM_ENOMEM;
}
