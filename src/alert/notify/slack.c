/*
** slack.c: a Slack incoming webhook (https://api.slack.com/messaging/
** webhooks): one message with one attachment, as Alertmanager 0.25's
** notify/slack sends it.
**
**   {"channel":..,"username":..,"icon_emoji":..,"icon_url":..,
**    "attachments":[{"title":..,"title_link":..,"pretext":..,"text":..,
**    "fallback":..,"callback_id":"","footer":..,"color":..,
**    "mrkdwn_in":["fallback","pretext","text"]}]}
**
** Defaults are Alertmanager's: the title is its subject, the title links
** back to the collector's alerts page (--external-url), the color is
** danger while firing and good once resolved, the fallback is "title |
** link". The text, when not configured, lists the alerts (labels,
** annotations, source) so the message says what fired without a click.
*/
#include <string.h>

#include "../../util/alloc.h"
#include "../../util/render.h"
#include "dtext.h"
#include "notify.h"

static void field(am_buf *b, const char *name, const char *v, bool omit_empty)
{
    if (omit_empty && (!v || !*v))
        return;
    am_buf_printf(b, "\"%s\":", name);
    am__buf_json_string(b, v ? v : "", v ? strlen(v) : 0);
    am_buf_putc(b, ',');
}

am_err am__slack_build(const am_integration *ig, const am_notification *nt, am_request *rq)
{
    am_buf title, link, text, fallback;
    am_buf_init(&title, 0);
    am_buf_init(&link, 0);
    am_buf_init(&text, 0);
    am_buf_init(&fallback, 0);
    if (ig->title)
        am_buf_puts(&title, ig->title);
    else
        am__subject(&title, nt);
    if (ig->title_link)
        am_buf_puts(&link, ig->title_link);
    else
        am__alerts_url(&link, nt);
    if (ig->text)
        am_buf_puts(&text, ig->text);
    else
        am__text_alert_list(&text, nt->alerts, nt->n_alerts);
    if (ig->fallback)
        am_buf_puts(&fallback, ig->fallback);
    else
        am_buf_printf(&fallback, "%s | %s", title.p ? title.p : "", link.p ? link.p : "");
    am_buf *b = &rq->body;
    am_buf_putc(b, '{');
    field(b, "channel", ig->channel, true);
    field(b, "username", ig->username ? ig->username : "agentmon", true);
    field(b, "icon_emoji", ig->icon_emoji, true);
    field(b, "icon_url", ig->icon_url, true);
    am_buf_puts(b, "\"attachments\":[{");
    field(b, "title", title.p, true);
    field(b, "title_link", link.p, true);
    field(b, "pretext", ig->pretext, true);
    field(b, "text", text.p, false);
    field(b, "fallback", fallback.p, false);
    field(b, "callback_id", "", false);
    field(b, "footer", ig->footer, false);
    field(b, "color", ig->color ? ig->color : nt->n_firing ? "danger" : "good", true);
    am_buf_puts(b, "\"mrkdwn_in\":[\"fallback\",\"pretext\",\"text\"]}]}");
    bool oom =
        am_buf_err(&title) || am_buf_err(&link) || am_buf_err(&text) || am_buf_err(&fallback);
    am_buf_free(&title);
    am_buf_free(&link);
    am_buf_free(&text);
    am_buf_free(&fallback);
    rq->url = am__strdup(ig->url);
    rq->content_type = "application/json";
    return rq->url && !oom && !am_buf_err(b) ? AM_OK : AM_ENOMEM;
}
