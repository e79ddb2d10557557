/*
** config.c: Alertmanager's configuration sections, read as Alertmanager
** 0.25 reads them, and prometheus.yml's `alerting:` block (see notify.h).
**
** DESIGN
** The YAML tree (yamltree.c) is walked with the structure Alertmanager's
** strict decoder expects. Every problem is one line of errs,
** "FILE:LINE: what", and any problem refuses the whole configuration (the
** running one stays on a reload). Checks are Alertmanager's: unknown keys;
** durations; a root route with a receiver and no matchers; every route's
** receiver defined; receiver names unique and set; each integration's
** required field (a webhook's url, Slack's api_url here or in global:, a
** PagerDuty routing or service key, an email's to, from and smarthost);
** matchers that parse and regexes that compile; inhibit rules' matchers.
** Integrations and fields agentmon does not have (opsgenie_configs,
** time_intervals, custom notification templates ...) are refused by
** name rather than ignored, so nothing configured silently does nothing.
**
** Secrets: every secret has Alertmanager's *_file twin (the file's text,
** one trailing newline dropped), and a secret written ${NAME} is read from
** the environment variable NAME (an agentmon extension; unset is an
** error). Secrets live only in the configuration's memory; nothing here
** writes them anywhere.
**
** Notification templates: a field left out, or set to Alertmanager's own
** default ({{ template "slack.default.title" . }} and the like), renders
** Alertmanager's default text (see the integration files). Any other
** template is refused at load: agentmon does not run Alertmanager's
** template language.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../util/alloc.h"
#include "../../util/error.h"
#include "../promql_fmt.h"
#include "../rules.h"
#include "../yamltree.h"
#include "../ycfg.h"
#include "notify.h"

typedef struct cfx {
    am_ycfg y; /* the file, its errors */
    am_notify_config *c;
    /* global: */
    char *slack_api_url, *pagerduty_url, *smtp_from, *smtp_smarthost, *smtp_hello,
        *smtp_auth_username, *smtp_auth_password, *smtp_auth_identity;
    bool smtp_require_tls;
    am_httpcfg http; /* global http_config */
} cfx;

static bool boolean(cfx *f, const am_ynode *m, const char *key, bool def)
{
    const am_ynode *v = am__ycfg_scalar(&f->y, m, key);
    if (!v)
        return def;
    if (strcmp(v->str, "true") == 0)
        return true;
    if (strcmp(v->str, "false") == 0)
        return false;
    am__ycfg_err(&f->y, v, "%s: cannot unmarshal \"%s\" into bool", key, v->str);
    return def;
}

/* A file's text, one trailing newline dropped; a relative path is
   relative to the configuration file's directory, as Alertmanager has it. */
static char *read_secret_file(cfx *f, const am_ynode *v)
{
    char *text;
    size_t len;
    char path[4096];
    const char *slash = strrchr(f->y.file, '/');
    if (v->str[0] != '/' && slash)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - f->y.file), f->y.file, v->str);
    else
        snprintf(path, sizeof path, "%s", v->str);
    if (am__read_file(path, &text, &len)) {
        am__ycfg_err(&f->y, v, "cannot read %s", path);
        return NULL;
    }
    if (len && text[len - 1] == '\n')
        text[--len] = '\0';
    if (len && text[len - 1] == '\r')
        text[--len] = '\0';
    return text;
}

/* A secret: key, or key_file, or ${NAME} from the environment. */
static char *secret(cfx *f, const am_ynode *m, const char *key, const char *key_file)
{
    const am_ynode *v = am__ycfg_scalar(&f->y, m, key),
                   *vf = key_file ? am__ycfg_scalar(&f->y, m, key_file) : NULL;
    if (v && vf) {
        am__ycfg_err(&f->y, vf, "at most one of %s and %s must be configured", key, key_file);
        return NULL;
    }
    if (vf)
        return read_secret_file(f, vf);
    if (!v)
        return NULL;
    if (v->len > 3 && v->str[0] == '$' && v->str[1] == '{' && v->str[v->len - 1] == '}') {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(v->len - 3), v->str + 2);
        const char *e = getenv(name);
        if (!e || !*e) {
            am__ycfg_err(&f->y, v, "%s: the environment variable %s is not set", key, name);
            return NULL;
        }
        return am__strdup(e);
    }
    return am__strdup(v->str);
}

/* ---- templates --------------------------------------------------------------- */

/* Whether t is empty or Alertmanager's default call for the field. */
static bool default_tmpl(const char *t, const char *name)
{
    if (!t)
        return true;
    char want[128];
    const char *p = t;
    while (*p == ' ')
        p++;
    snprintf(want, sizeof want, "{{ template \"%s\" . }}", name);
    if (strncmp(p, want, strlen(want)) == 0)
        return true;
    snprintf(want, sizeof want, "{{ template \"%s\" .}}", name);
    return strncmp(p, want, strlen(want)) == 0;
}

/* A template field: NULL (the default) unless it is plain text; a
   template of its own is refused. */
static char *tmpl_field(cfx *f, const am_ynode *m, const char *key, const char *def_name)
{
    const am_ynode *v = am__ycfg_scalar(&f->y, m, key);
    if (!v)
        return NULL;
    if (def_name && default_tmpl(v->str, def_name))
        return NULL;
    if (strstr(v->str, "{{")) {
        am__ycfg_err(
            &f->y, v,
            "%s: custom notification templates are not supported by agentmon (leave it out for "
            "Alertmanager's default text, or write plain text)",
            key);
        return NULL;
    }
    return am__strdup(v->str);
}

/* ---- http_config --------------------------------------------------------------- */

void am__httpcfg_free(am_httpcfg *h)
{
    am__free(h->basic_user);
    am__free(h->basic_password);
    am__free(h->auth_type);
    am__free(h->auth_credentials);
    am__free(h->ca_file);
    am__free(h->cert_file);
    am__free(h->key_file);
    am__free(h->server_name);
    am__free(h->proxy_url);
    memset(h, 0, sizeof *h);
}

static char *dup_opt(const char *s)
{
    return s ? am__strdup(s) : NULL;
}

static void httpcfg_copy(am_httpcfg *d, const am_httpcfg *s)
{
    d->basic_user = dup_opt(s->basic_user);
    d->basic_password = dup_opt(s->basic_password);
    d->auth_type = dup_opt(s->auth_type);
    d->auth_credentials = dup_opt(s->auth_credentials);
    d->ca_file = dup_opt(s->ca_file);
    d->cert_file = dup_opt(s->cert_file);
    d->key_file = dup_opt(s->key_file);
    d->server_name = dup_opt(s->server_name);
    d->proxy_url = dup_opt(s->proxy_url);
    d->insecure_skip_verify = s->insecure_skip_verify;
    d->follow_redirects = s->follow_redirects;
}

static void httpcfg_fields(cfx *f, const am_ynode *hc, am_httpcfg *h);

/* http_config of m (or a copy of the global one when absent). */
static void httpcfg(cfx *f, const am_ynode *m, am_httpcfg *h)
{
    const am_ynode *hc = am__y_get(m, "http_config");
    if (!am__ycfg_is_map(&f->y, hc, "http_config")) {
        httpcfg_copy(h, &f->http);
        return;
    }
    static const char *const KEYS[] = {"basic_auth",       "authorization",
                                       "bearer_token",     "bearer_token_file",
                                       "tls_config",       "proxy_url",
                                       "follow_redirects", "enable_http2",
                                       "oauth2",           NULL};
    static const char *const NO[] = {"oauth2", NULL};
    am__ycfg_keys(&f->y, hc, "http_config", KEYS, NO);
    httpcfg_fields(f, hc, h);
}

/* The fields of an HTTP client configuration in mapping hc (keys checked
   by the caller). */
static void httpcfg_fields(cfx *f, const am_ynode *hc, am_httpcfg *h)
{
    h->follow_redirects = boolean(f, hc, "follow_redirects", true);
    h->proxy_url = am__ycfg_str(&f->y, hc, "proxy_url");
    const am_ynode *ba = am__y_get(hc, "basic_auth");
    if (am__ycfg_is_map(&f->y, ba, "basic_auth")) {
        static const char *const BK[] = {"username", "password", "password_file", NULL};
        am__ycfg_keys(&f->y, ba, "basic_auth", BK, NULL);
        h->basic_user = am__ycfg_str(&f->y, ba, "username");
        h->basic_password = secret(f, ba, "password", "password_file");
    }
    const am_ynode *au = am__y_get(hc, "authorization");
    if (am__ycfg_is_map(&f->y, au, "authorization")) {
        static const char *const AK[] = {"type", "credentials", "credentials_file", NULL};
        am__ycfg_keys(&f->y, au, "authorization", AK, NULL);
        h->auth_type = am__ycfg_str(&f->y, au, "type");
        h->auth_credentials = secret(f, au, "credentials", "credentials_file");
    }
    char *bt = secret(f, hc, "bearer_token", "bearer_token_file");
    if (bt) {
        if (h->auth_credentials || h->basic_user)
            am__ycfg_err(&f->y, hc,
                         "at most one of basic_auth, authorization and bearer_token may be set");
        am__free(h->auth_credentials);
        h->auth_credentials = bt;
    }
    if (h->basic_user && h->auth_credentials)
        am__ycfg_err(&f->y, hc,
                     "at most one of basic_auth, authorization and bearer_token may be set");
    const am_ynode *tc = am__y_get(hc, "tls_config");
    if (am__ycfg_is_map(&f->y, tc, "tls_config")) {
        static const char *const TK[] = {
            "ca_file",     "cert_file", "key_file", "server_name", "insecure_skip_verify",
            "min_version", NULL};
        am__ycfg_keys(&f->y, tc, "tls_config", TK, NULL);
        h->ca_file = am__ycfg_str(&f->y, tc, "ca_file");
        h->cert_file = am__ycfg_str(&f->y, tc, "cert_file");
        h->key_file = am__ycfg_str(&f->y, tc, "key_file");
        h->server_name = am__ycfg_str(&f->y, tc, "server_name");
        h->insecure_skip_verify = boolean(f, tc, "insecure_skip_verify", false);
    }
}

int am__httpcfg_parse(const char *file, const am_ynode *m, am_httpcfg *h, am_buf *errs)
{
    cfx f;
    memset(&f, 0, sizeof f);
    f.y.file = file;
    f.y.errs = errs;
    memset(h, 0, sizeof *h);
    httpcfg_fields(&f, m, h);
    return f.y.n_errs;
}

/* ---- global ----------------------------------------------------------------------- */

static void global(cfx *f, const am_ynode *g)
{
    f->smtp_require_tls = true;
    f->http.follow_redirects = true;
    f->c->resolve_timeout_ms = 5 * 60 * 1000;
    if (!am__ycfg_is_map(&f->y, g, "global"))
        return;
    static const char *const KEYS[] = {"resolve_timeout",
                                       "http_config",
                                       "smtp_from",
                                       "smtp_hello",
                                       "smtp_smarthost",
                                       "smtp_auth_username",
                                       "smtp_auth_password",
                                       "smtp_auth_password_file",
                                       "smtp_auth_secret",
                                       "smtp_auth_identity",
                                       "smtp_require_tls",
                                       "slack_api_url",
                                       "slack_api_url_file",
                                       "pagerduty_url",
                                       "opsgenie_api_url",
                                       "opsgenie_api_key",
                                       "opsgenie_api_key_file",
                                       "wechat_api_url",
                                       "wechat_api_secret",
                                       "wechat_api_corp_id",
                                       "victorops_api_url",
                                       "victorops_api_key",
                                       "victorops_api_key_file",
                                       "telegram_api_url",
                                       "webex_api_url",
                                       NULL};
    am__ycfg_keys(&f->y, g, "global", KEYS, NULL);
    f->c->resolve_timeout_ms = am__ycfg_duration_ms(&f->y, g, "resolve_timeout", 5 * 60 * 1000);
    f->smtp_from = am__ycfg_str(&f->y, g, "smtp_from");
    f->smtp_hello = am__ycfg_str(&f->y, g, "smtp_hello");
    f->smtp_smarthost = am__ycfg_str(&f->y, g, "smtp_smarthost");
    f->smtp_auth_username = am__ycfg_str(&f->y, g, "smtp_auth_username");
    f->smtp_auth_password = secret(f, g, "smtp_auth_password", "smtp_auth_password_file");
    f->smtp_auth_identity = am__ycfg_str(&f->y, g, "smtp_auth_identity");
    f->smtp_require_tls = boolean(f, g, "smtp_require_tls", true);
    f->slack_api_url = secret(f, g, "slack_api_url", "slack_api_url_file");
    f->pagerduty_url = am__ycfg_str(&f->y, g, "pagerduty_url");
    if (am__y_get(g, "http_config"))
        httpcfg(f, g, &f->http);
}

/* ---- receivers -------------------------------------------------------------------- */

static void integration_free(am_integration *ig)
{
    am__httpcfg_free(&ig->http);
    char **s[] = {&ig->url,
                  &ig->channel,
                  &ig->username,
                  &ig->color,
                  &ig->title,
                  &ig->title_link,
                  &ig->pretext,
                  &ig->text,
                  &ig->footer,
                  &ig->fallback,
                  &ig->icon_emoji,
                  &ig->icon_url,
                  &ig->routing_key,
                  &ig->service_key,
                  &ig->client,
                  &ig->client_url,
                  &ig->description,
                  &ig->severity,
                  &ig->pd_class,
                  &ig->component,
                  &ig->pd_group,
                  &ig->source,
                  &ig->to,
                  &ig->from,
                  &ig->smarthost,
                  &ig->hello,
                  &ig->auth_username,
                  &ig->auth_password,
                  &ig->auth_identity,
                  &ig->html,
                  &ig->email_text};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        am__free(*s[i]);
    for (size_t i = 0; i < ig->n_details; i++) {
        am__free((char *)ig->details[i].name);
        am__free((char *)ig->details[i].value);
    }
    am__free(ig->details);
    for (size_t i = 0; i < ig->n_headers; i++) {
        am__free((char *)ig->headers[i].name);
        am__free((char *)ig->headers[i].value);
    }
    am__free(ig->headers);
}

/* A mapping of strings into pairs (details:, headers:). */
static void string_map(cfx *f, const am_ynode *m, const char *key, am_label **out, size_t *n)
{
    const am_ynode *v = am__y_get(m, key);
    if (!am__ycfg_is_map(&f->y, v, key))
        return;
    *out = am__calloc(v->n + 1, sizeof **out);
    if (!*out)
        return;
    for (size_t i = 0; i < v->n; i++) {
        const am_ynode *k = v->items[2 * i], *x = v->items[2 * i + 1];
        if (x->kind != AM_Y_SCALAR) {
            am__ycfg_err(&f->y, x, "%s.%s must be a string", key, am__ycfg_key(k));
            continue;
        }
        if (strstr(x->str, "{{")) {
            am__ycfg_err(&f->y, x,
                         "%s.%s: custom notification templates are not supported by agentmon", key,
                         am__ycfg_key(k));
            continue;
        }
        (*out)[*n].name = am__strdup(am__ycfg_key(k));
        (*out)[*n].value = am__strdup(x->str);
        (*n)++;
    }
}

static void webhook(cfx *f, const am_ynode *m, am_integration *ig)
{
    static const char *const KEYS[] = {"url",         "url_file",   "send_resolved",
                                       "http_config", "max_alerts", NULL};
    am__ycfg_keys(&f->y, m, "webhook_config", KEYS, NULL);
    ig->send_resolved = boolean(f, m, "send_resolved", true);
    ig->url = secret(f, m, "url", "url_file");
    if (!ig->url && !am__y_get(m, "url_file"))
        am__ycfg_err(&f->y, m, "one of url or url_file must be configured");
    const am_ynode *ma = am__ycfg_scalar(&f->y, m, "max_alerts");
    if (ma)
        ig->max_alerts = (unsigned)strtoul(ma->str, NULL, 10);
    httpcfg(f, m, &ig->http);
}

static void slack(cfx *f, const am_ynode *m, am_integration *ig)
{
    static const char *const KEYS[] = {
        "api_url",  "api_url_file", "send_resolved", "http_config", "channel",   "username",
        "color",    "title",        "title_link",    "pretext",     "text",      "footer",
        "fallback", "icon_emoji",   "icon_url",      "link_names",  "mrkdwn_in", "short_fields",
        "fields",   "actions",      "callback_id",   "image_url",   "thumb_url", NULL};
    static const char *const NO[] = {"fields", "actions", NULL};
    am__ycfg_keys(&f->y, m, "slack_config", KEYS, NO);
    ig->send_resolved = boolean(f, m, "send_resolved", false);
    ig->url = secret(f, m, "api_url", "api_url_file");
    if (!ig->url && f->slack_api_url)
        ig->url = am__strdup(f->slack_api_url);
    if (!ig->url)
        am__ycfg_err(&f->y, m, "no global Slack API URL set");
    ig->channel = am__ycfg_str(&f->y, m, "channel");
    ig->username = am__ycfg_str(&f->y, m, "username");
    const am_ynode *color = am__ycfg_scalar(&f->y, m, "color");
    if (color && strstr(color->str, "{{") &&
        strcmp(color->str, "{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}") != 0)
        am__ycfg_err(&f->y, color,
                     "color: custom notification templates are not supported by agentmon");
    else if (color && !strstr(color->str, "{{"))
        ig->color = am__strdup(color->str);
    ig->title = tmpl_field(f, m, "title", "slack.default.title");
    ig->title_link = tmpl_field(f, m, "title_link", "slack.default.titlelink");
    ig->pretext = tmpl_field(f, m, "pretext", "slack.default.pretext");
    ig->text = tmpl_field(f, m, "text", "slack.default.text");
    ig->footer = tmpl_field(f, m, "footer", "slack.default.footer");
    ig->fallback = tmpl_field(f, m, "fallback", "slack.default.fallback");
    ig->icon_emoji = tmpl_field(f, m, "icon_emoji", "slack.default.iconemoji");
    ig->icon_url = tmpl_field(f, m, "icon_url", "slack.default.iconurl");
    httpcfg(f, m, &ig->http);
}

static void pagerduty(cfx *f, const am_ynode *m, am_integration *ig)
{
    static const char *const KEYS[] = {
        "routing_key", "routing_key_file", "service_key", "service_key_file",
        "url",         "send_resolved",    "http_config", "client",
        "client_url",  "description",      "details",     "images",
        "links",       "severity",         "class",       "component",
        "group",       "source",           NULL};
    static const char *const NO[] = {"images", "links", NULL};
    am__ycfg_keys(&f->y, m, "pagerduty_config", KEYS, NO);
    ig->send_resolved = boolean(f, m, "send_resolved", true);
    ig->routing_key = secret(f, m, "routing_key", "routing_key_file");
    ig->service_key = secret(f, m, "service_key", "service_key_file");
    if (!ig->routing_key && !ig->service_key)
        am__ycfg_err(&f->y, m, "missing service or routing key in PagerDuty config");
    if (ig->service_key)
        am__ycfg_err(&f->y, m,
                     "service_key (PagerDuty Events API v1) is not supported by agentmon: use "
                     "routing_key (Events API v2)");
    ig->url = am__ycfg_str(&f->y, m, "url");
    if (!ig->url)
        ig->url = am__strdup(f->pagerduty_url ? f->pagerduty_url
                                              : "https://events.pagerduty.com/v2/enqueue");
    ig->client = tmpl_field(f, m, "client", "pagerduty.default.client");
    ig->client_url = tmpl_field(f, m, "client_url", "pagerduty.default.clientURL");
    ig->description = tmpl_field(f, m, "description", "pagerduty.default.description");
    ig->severity = tmpl_field(f, m, "severity", NULL);
    ig->pd_class = tmpl_field(f, m, "class", NULL);
    ig->component = tmpl_field(f, m, "component", NULL);
    ig->pd_group = tmpl_field(f, m, "group", NULL);
    ig->source = tmpl_field(f, m, "source", NULL);
    string_map(f, m, "details", &ig->details, &ig->n_details);
    httpcfg(f, m, &ig->http);
}

static void email(cfx *f, const am_ynode *m, am_integration *ig)
{
    static const char *const KEYS[] = {"to",
                                       "from",
                                       "smarthost",
                                       "hello",
                                       "auth_username",
                                       "auth_password",
                                       "auth_password_file",
                                       "auth_secret",
                                       "auth_identity",
                                       "require_tls",
                                       "tls_config",
                                       "html",
                                       "text",
                                       "headers",
                                       "send_resolved",
                                       NULL};
    static const char *const NO[] = {"auth_secret", NULL};
    am__ycfg_keys(&f->y, m, "email_config", KEYS, NO);
    ig->send_resolved = boolean(f, m, "send_resolved", false);
    ig->to = am__ycfg_str(&f->y, m, "to");
    if (!ig->to)
        am__ycfg_err(&f->y, m, "missing to address in email config");
    ig->from = am__ycfg_str(&f->y, m, "from");
    if (!ig->from && f->smtp_from)
        ig->from = am__strdup(f->smtp_from);
    if (!ig->from)
        am__ycfg_err(&f->y, m, "no global SMTP from set");
    ig->smarthost = am__ycfg_str(&f->y, m, "smarthost");
    if (!ig->smarthost && f->smtp_smarthost)
        ig->smarthost = am__strdup(f->smtp_smarthost);
    if (!ig->smarthost)
        am__ycfg_err(&f->y, m, "no global SMTP smarthost set");
    ig->hello = am__ycfg_str(&f->y, m, "hello");
    if (!ig->hello)
        ig->hello = am__strdup(f->smtp_hello ? f->smtp_hello : "localhost");
    ig->auth_username = am__ycfg_str(&f->y, m, "auth_username");
    if (!ig->auth_username && f->smtp_auth_username)
        ig->auth_username = am__strdup(f->smtp_auth_username);
    ig->auth_password = secret(f, m, "auth_password", "auth_password_file");
    if (!ig->auth_password && f->smtp_auth_password)
        ig->auth_password = am__strdup(f->smtp_auth_password);
    ig->auth_identity = am__ycfg_str(&f->y, m, "auth_identity");
    ig->require_tls = boolean(f, m, "require_tls", f->smtp_require_tls);
    ig->html = tmpl_field(f, m, "html", "email.default.html");
    ig->email_text = tmpl_field(f, m, "text", NULL);
    const am_ynode *hd = am__y_get(m, "headers");
    if (am__ycfg_is_map(&f->y, hd, "headers"))
        for (size_t i = 0; i < hd->n; i++) {
            const am_ynode *k = hd->items[2 * i], *x = hd->items[2 * i + 1];
            bool dflt = strcasecmp(am__ycfg_key(k), "Subject") == 0 && x->kind == AM_Y_SCALAR &&
                        default_tmpl(x->str, "email.default.subject");
            if (dflt)
                continue;
            size_t cap = ig->n_headers;
            am_label *h = am__grow(ig->headers, &cap, ig->n_headers + 1, sizeof *h, 4);
            if (!h)
                continue;
            ig->headers = h;
            if (x->kind != AM_Y_SCALAR || strstr(x->str, "{{")) {
                am__ycfg_err(
                    &f->y, x,
                    "headers.%s: custom notification templates are not supported by agentmon",
                    am__ycfg_key(k));
                continue;
            }
            if (strchr(x->str, '\n') || strchr(x->str, '\r')) {
                am__ycfg_err(&f->y, x, "headers.%s: a header value must be one line",
                             am__ycfg_key(k));
                continue;
            }
            h[ig->n_headers].name = am__strdup(am__ycfg_key(k));
            h[ig->n_headers].value = am__strdup(x->str);
            ig->n_headers++;
        }
    const am_ynode *tc = am__y_get(m, "tls_config");
    if (am__ycfg_is_map(&f->y, tc, "tls_config")) {
        static const char *const TK[] = {
            "ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify", NULL};
        am__ycfg_keys(&f->y, tc, "tls_config", TK, NULL);
        ig->http.ca_file = am__ycfg_str(&f->y, tc, "ca_file");
        ig->http.cert_file = am__ycfg_str(&f->y, tc, "cert_file");
        ig->http.key_file = am__ycfg_str(&f->y, tc, "key_file");
        ig->http.server_name = am__ycfg_str(&f->y, tc, "server_name");
        ig->http.insecure_skip_verify = boolean(f, tc, "insecure_skip_verify", false);
    }
}

static void receivers(cfx *f, const am_ynode *rs)
{
    if (am__y_is_null(rs))
        return;
    if (rs->kind != AM_Y_SEQ) {
        am__ycfg_err(&f->y, rs, "receivers must be a list");
        return;
    }
    f->c->receivers = am__calloc(rs->n + 1, sizeof *f->c->receivers);
    if (!f->c->receivers)
        return;
    static const char *const KEYS[] = {"name",
                                       "webhook_configs",
                                       "slack_configs",
                                       "pagerduty_configs",
                                       "email_configs",
                                       "opsgenie_configs",
                                       "wechat_configs",
                                       "pushover_configs",
                                       "victorops_configs",
                                       "sns_configs",
                                       "telegram_configs",
                                       "webex_configs",
                                       "discord_configs",
                                       "msteams_configs",
                                       NULL};
    static const char *const NO[] = {"opsgenie_configs", "wechat_configs",
                                     "pushover_configs", "victorops_configs",
                                     "sns_configs",      "telegram_configs",
                                     "webex_configs",    "discord_configs",
                                     "msteams_configs",  NULL};
    static const char *const KINDS[AM_INT__N] = {"webhook_configs", "slack_configs",
                                                 "pagerduty_configs", "email_configs"};
    for (size_t i = 0; i < rs->n; i++) {
        const am_ynode *r = rs->items[i];
        if (!am__ycfg_is_map(&f->y, r, "a receiver"))
            continue;
        am__ycfg_keys(&f->y, r, "receiver", KEYS, NO);
        am_receiver_cfg *rc = &f->c->receivers[f->c->n_receivers++];
        rc->line = r->line;
        rc->name = am__ycfg_str(&f->y, r, "name");
        if (!rc->name || !*rc->name)
            am__ycfg_err(&f->y, r, "missing name in receiver");
        for (size_t k = 0; rc->name && k + 1 < f->c->n_receivers; k++)
            if (f->c->receivers[k].name && strcmp(f->c->receivers[k].name, rc->name) == 0)
                am__ycfg_err(&f->y, r, "notification config name \"%s\" is not unique", rc->name);
        size_t total = 0;
        for (int kind = 0; kind < AM_INT__N; kind++) {
            const am_ynode *l = am__y_get(r, KINDS[kind]);
            if (l && l->kind == AM_Y_SEQ)
                total += l->n;
        }
        rc->ints = am__calloc(total + 1, sizeof *rc->ints);
        if (!rc->ints)
            continue;
        for (int kind = 0; kind < AM_INT__N; kind++) {
            const am_ynode *l = am__y_get(r, KINDS[kind]);
            if (am__y_is_null(l))
                continue;
            if (l->kind != AM_Y_SEQ) {
                am__ycfg_err(&f->y, l, "%s must be a list", KINDS[kind]);
                continue;
            }
            for (size_t j = 0; j < l->n; j++) {
                const am_ynode *m = l->items[j];
                if (!am__ycfg_is_map(&f->y, m, KINDS[kind]))
                    continue;
                am_integration *ig = &rc->ints[rc->n++];
                ig->kind = kind;
                ig->index = (int)j;
                ig->line = m->line;
                switch (kind) {
                case AM_INT_WEBHOOK:
                    webhook(f, m, ig);
                    break;
                case AM_INT_SLACK:
                    slack(f, m, ig);
                    break;
                case AM_INT_PAGERDUTY:
                    pagerduty(f, m, ig);
                    break;
                default:
                    email(f, m, ig);
                }
            }
        }
    }
}

/* ---- routes -------------------------------------------------------------------- */

static void route_free(am_route *r)
{
    if (!r)
        return;
    am__free(r->receiver);
    for (size_t i = 0; i < r->n_group_by; i++)
        am__free(r->group_by[i]);
    am__free(r->group_by);
    am__amatchers_free(r->m, r->n_m);
    for (size_t i = 0; i < r->n_routes; i++)
        route_free(r->routes[i]);
    am__free(r->routes);
    am__free(r->key);
    am__free(r);
}

static int cmp_matcher(const void *a, const void *b)
{
    const am_amatcher *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    c = strcmp(x->value, y->value);
    if (c)
        return c;
    return (int)x->op - (int)y->op;
}

static void matcher_map(cfx *f, const am_ynode *r, const char *key, am_amatch_op op, am_route *rt)
{
    const am_ynode *m = am__y_get(r, key);
    if (!am__ycfg_is_map(&f->y, m, key))
        return;
    for (size_t i = 0; i < m->n; i++) {
        const am_ynode *k = m->items[2 * i], *v = m->items[2 * i + 1];
        if (v->kind != AM_Y_SCALAR) {
            am__ycfg_err(&f->y, v, "%s.%s must be a string", key, am__ycfg_key(k));
            continue;
        }
        size_t cap = rt->n_m;
        am_amatcher *nm = am__grow(rt->m, &cap, rt->n_m + 1, sizeof *nm, 4);
        if (!nm)
            return;
        rt->m = nm;
        char err[400];
        if (am__amatcher_make(am__ycfg_key(k), v->str, op, &rt->m[rt->n_m], err, sizeof err))
            am__ycfg_err(&f->y, v, "%s: %s", key, err);
        else
            rt->n_m++;
    }
}

static void matcher_list(cfx *f, const am_ynode *r, const char *key, am_amatcher **m, size_t *n)
{
    const am_ynode *l = am__y_get(r, key);
    if (am__y_is_null(l))
        return;
    if (l->kind != AM_Y_SEQ) {
        am__ycfg_err(&f->y, l, "%s must be a list", key);
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        const am_ynode *s = l->items[i];
        char err[400];
        if (s->kind != AM_Y_SCALAR)
            am__ycfg_err(&f->y, s, "%s must be strings", key);
        else if (am__amatchers_parse(s->str, m, n, err, sizeof err))
            am__ycfg_err(&f->y, s, "%s: %s", key, err);
    }
}

static am_route *route(cfx *f, const am_ynode *r, const am_route *parent, size_t depth)
{
    static const char *const KEYS[] = {"receiver",
                                       "group_by",
                                       "continue",
                                       "match",
                                       "match_re",
                                       "matchers",
                                       "group_wait",
                                       "group_interval",
                                       "repeat_interval",
                                       "routes",
                                       "mute_time_intervals",
                                       "active_time_intervals",
                                       NULL};
    static const char *const NO[] = {"mute_time_intervals", "active_time_intervals", NULL};
    if (depth > 32) {
        am__ycfg_err(&f->y, r, "routes nested more than 32 deep");
        return NULL;
    }
    am_route *rt = am__calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->line = r->line;
    am__ycfg_keys(&f->y, r, "route", KEYS, NO);
    rt->receiver = am__ycfg_str(&f->y, r, "receiver");
    if (!rt->receiver && parent && parent->receiver)
        rt->receiver = am__strdup(parent->receiver);
    const am_ynode *gb = am__y_get(r, "group_by");
    if (!am__y_is_null(gb)) {
        if (gb->kind != AM_Y_SEQ) {
            am__ycfg_err(&f->y, gb, "group_by must be a list");
        } else {
            rt->group_by = am__calloc(gb->n + 1, sizeof *rt->group_by);
            for (size_t i = 0; rt->group_by && i < gb->n; i++) {
                const am_ynode *x = gb->items[i];
                if (x->kind != AM_Y_SCALAR) {
                    am__ycfg_err(&f->y, x, "group_by must be label names");
                } else if (strcmp(x->str, "...") == 0) {
                    rt->group_by_all = true;
                } else if (!am__label_name_ok(x->str)) {
                    am__ycfg_err(&f->y, x, "invalid label name \"%s\" in group_by list", x->str);
                } else {
                    for (size_t k = 0; k < rt->n_group_by; k++)
                        if (strcmp(rt->group_by[k], x->str) == 0)
                            am__ycfg_err(&f->y, x, "duplicated label \"%s\" in group_by", x->str);
                    rt->group_by[rt->n_group_by++] = am__strdup(x->str);
                }
            }
            if (rt->group_by_all && rt->n_group_by)
                am__ycfg_err(&f->y, gb,
                             "cannot have wildcard group_by (`...`) and other other labels at the "
                             "same time");
        }
    } else if (parent) {
        rt->group_by_all = parent->group_by_all;
        rt->group_by = am__calloc(parent->n_group_by + 1, sizeof *rt->group_by);
        for (size_t i = 0; rt->group_by && i < parent->n_group_by; i++)
            rt->group_by[rt->n_group_by++] = am__strdup(parent->group_by[i]);
    }
    rt->is_continue = boolean(f, r, "continue", false);
    matcher_map(f, r, "match", AM_AM_EQ, rt);
    matcher_map(f, r, "match_re", AM_AM_RE, rt);
    matcher_list(f, r, "matchers", &rt->m, &rt->n_m);
    if (rt->n_m)
        qsort(rt->m, rt->n_m, sizeof *rt->m, cmp_matcher);
    rt->group_wait_ms =
        am__ycfg_duration_ms(&f->y, r, "group_wait", parent ? parent->group_wait_ms : 30000);
    rt->group_interval_ms = am__ycfg_duration_ms(&f->y, r, "group_interval",
                                                 parent ? parent->group_interval_ms : 5 * 60000);
    rt->repeat_interval_ms = am__ycfg_duration_ms(
        &f->y, r, "repeat_interval", parent ? parent->repeat_interval_ms : 4 * 3600000);
    if (rt->group_interval_ms <= 0)
        am__ycfg_err(&f->y, r, "group_interval cannot be zero");
    if (rt->repeat_interval_ms <= 0)
        am__ycfg_err(&f->y, r, "repeat_interval cannot be zero");
    /* its key: the parent's, '/', its sorted matchers */
    am_buf k;
    am_buf_init(&k, 0);
    if (parent) {
        am_buf_puts(&k, parent->key ? parent->key : "");
        am_buf_putc(&k, '/');
    }
    am_buf_putc(&k, '{');
    for (size_t i = 0; i < rt->n_m; i++) {
        static const char *const OPS[] = {"=", "!=", "=~", "!~"};
        if (i)
            am_buf_putc(&k, ',');
        am_buf_printf(&k, "%s%s", rt->m[i].name, OPS[rt->m[i].op]);
        am__go_quote(&k, rt->m[i].value, strlen(rt->m[i].value));
    }
    am_buf_putc(&k, '}');
    rt->key = am_buf_take(&k, NULL);
    const am_ynode *sub = am__y_get(r, "routes");
    if (!am__y_is_null(sub)) {
        if (sub->kind != AM_Y_SEQ) {
            am__ycfg_err(&f->y, sub, "routes must be a list");
        } else {
            rt->routes = am__calloc(sub->n + 1, sizeof *rt->routes);
            for (size_t i = 0; rt->routes && i < sub->n; i++) {
                if (!am__ycfg_is_map(&f->y, sub->items[i], "a route"))
                    continue;
                am_route *c = route(f, sub->items[i], rt, depth + 1);
                if (c)
                    rt->routes[rt->n_routes++] = c;
            }
        }
    }
    return rt;
}

/* Every route's receiver exists. */
static void check_receivers(cfx *f, const am_route *r)
{
    bool found = false;
    for (size_t i = 0; r->receiver && i < f->c->n_receivers && !found; i++)
        found = f->c->receivers[i].name && strcmp(f->c->receivers[i].name, r->receiver) == 0;
    if (r->receiver && !found)
        am_buf_printf(f->y.errs, "%s:%d: undefined receiver \"%s\" used in route\n", f->y.file,
                      r->line, r->receiver),
            f->y.n_errs++;
    for (size_t i = 0; i < r->n_routes; i++)
        check_receivers(f, r->routes[i]);
}

/* ---- inhibit_rules ---------------------------------------------------------------- */

static void inhibit_rules(cfx *f, const am_ynode *l)
{
    if (am__y_is_null(l))
        return;
    if (l->kind != AM_Y_SEQ) {
        am__ycfg_err(&f->y, l, "inhibit_rules must be a list");
        return;
    }
    f->c->inhibit = am__calloc(l->n + 1, sizeof *f->c->inhibit);
    if (!f->c->inhibit)
        return;
    static const char *const KEYS[] = {
        "source_match",    "source_match_re", "source_matchers", "target_match",
        "target_match_re", "target_matchers", "equal",           NULL};
    for (size_t i = 0; i < l->n; i++) {
        const am_ynode *r = l->items[i];
        if (!am__ycfg_is_map(&f->y, r, "an inhibit rule"))
            continue;
        am__ycfg_keys(&f->y, r, "inhibit rule", KEYS, NULL);
        am_inhibit *ih = &f->c->inhibit[f->c->n_inhibit++];
        am_route tmp = {0};
        matcher_map(f, r, "source_match", AM_AM_EQ, &tmp);
        matcher_map(f, r, "source_match_re", AM_AM_RE, &tmp);
        matcher_list(f, r, "source_matchers", &tmp.m, &tmp.n_m);
        ih->src = tmp.m;
        ih->n_src = tmp.n_m;
        memset(&tmp, 0, sizeof tmp);
        matcher_map(f, r, "target_match", AM_AM_EQ, &tmp);
        matcher_map(f, r, "target_match_re", AM_AM_RE, &tmp);
        matcher_list(f, r, "target_matchers", &tmp.m, &tmp.n_m);
        ih->tgt = tmp.m;
        ih->n_tgt = tmp.n_m;
        const am_ynode *eq = am__y_get(r, "equal");
        if (!am__y_is_null(eq)) {
            if (eq->kind != AM_Y_SEQ) {
                am__ycfg_err(&f->y, eq, "equal must be a list of label names");
                continue;
            }
            ih->equal = am__calloc(eq->n + 1, sizeof *ih->equal);
            for (size_t k = 0; ih->equal && k < eq->n; k++) {
                const am_ynode *x = eq->items[k];
                if (x->kind != AM_Y_SCALAR || !am__label_name_ok(x->str))
                    am__ycfg_err(&f->y, x, "invalid label name in equal");
                else
                    ih->equal[ih->n_equal++] = am__strdup(x->str);
            }
        }
    }
}

/* ---- alerting: alertmanagers: (prometheus.yml) ------------------------------------- */

static void alerting(cfx *f, const am_ynode *a)
{
    if (!am__ycfg_is_map(&f->y, a, "alerting"))
        return;
    static const char *const KEYS[] = {"alertmanagers", "alert_relabel_configs", NULL};
    static const char *const NO[] = {"alert_relabel_configs", NULL};
    am__ycfg_keys(&f->y, a, "alerting", KEYS, NO);
    const am_ynode *l = am__y_get(a, "alertmanagers");
    if (am__y_is_null(l))
        return;
    if (l->kind != AM_Y_SEQ) {
        am__ycfg_err(&f->y, l, "alertmanagers must be a list");
        return;
    }
    static const char *const AK[] = {"static_configs",
                                     "scheme",
                                     "path_prefix",
                                     "timeout",
                                     "api_version",
                                     "basic_auth",
                                     "authorization",
                                     "bearer_token",
                                     "bearer_token_file",
                                     "tls_config",
                                     "proxy_url",
                                     "follow_redirects",
                                     "enable_http2",
                                     "relabel_configs",
                                     "file_sd_configs",
                                     "dns_sd_configs",
                                     NULL};
    static const char *const ANO[] = {"relabel_configs", "file_sd_configs", "dns_sd_configs", NULL};
    for (size_t i = 0; i < l->n; i++) {
        const am_ynode *m = l->items[i];
        if (!am__ycfg_is_map(&f->y, m, "an alertmanager"))
            continue;
        am__ycfg_keys(&f->y, m, "alertmanager config", AK, ANO);
        const char *scheme = "http", *prefix = "";
        const am_ynode *v;
        if ((v = am__ycfg_scalar(&f->y, m, "scheme")))
            scheme = v->str;
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
            am__ycfg_err(&f->y, v, "scheme must be http or https");
        if ((v = am__ycfg_scalar(&f->y, m, "path_prefix")))
            prefix = v->str;
        if ((v = am__ycfg_scalar(&f->y, m, "api_version")) && strcmp(v->str, "v2") != 0)
            am__ycfg_err(&f->y, v, "api_version %s: agentmon speaks Alertmanager's API v2 only",
                         v->str);
        int64_t timeout = am__ycfg_duration_ms(&f->y, m, "timeout", 10000);
        am_httpcfg h = {0};
        h.follow_redirects = boolean(f, m, "follow_redirects", true);
        /* prometheus.yml puts the HTTP client's fields beside the targets */
        const am_ynode *ba = am__y_get(m, "basic_auth");
        if (am__ycfg_is_map(&f->y, ba, "basic_auth")) {
            h.basic_user = am__ycfg_str(&f->y, ba, "username");
            h.basic_password = secret(f, ba, "password", "password_file");
        }
        const am_ynode *au = am__y_get(m, "authorization");
        if (am__ycfg_is_map(&f->y, au, "authorization")) {
            h.auth_type = am__ycfg_str(&f->y, au, "type");
            h.auth_credentials = secret(f, au, "credentials", "credentials_file");
        }
        if (!h.auth_credentials)
            h.auth_credentials = secret(f, m, "bearer_token", "bearer_token_file");
        const am_ynode *tc = am__y_get(m, "tls_config");
        if (am__ycfg_is_map(&f->y, tc, "tls_config")) {
            h.ca_file = am__ycfg_str(&f->y, tc, "ca_file");
            h.cert_file = am__ycfg_str(&f->y, tc, "cert_file");
            h.key_file = am__ycfg_str(&f->y, tc, "key_file");
            h.server_name = am__ycfg_str(&f->y, tc, "server_name");
            h.insecure_skip_verify = boolean(f, tc, "insecure_skip_verify", false);
        }
        const am_ynode *sc = am__y_get(m, "static_configs");
        size_t n_targets = 0;
        for (size_t k = 0; sc && sc->kind == AM_Y_SEQ && k < sc->n; k++) {
            const am_ynode *t = am__y_get(sc->items[k], "targets");
            if (t && t->kind == AM_Y_SEQ)
                n_targets += t->n;
        }
        if (!n_targets)
            am__ycfg_err(&f->y, m, "an alertmanager needs static_configs with targets");
        am_am_target *nt = am__calloc(f->c->n_ams + n_targets + 1, sizeof *nt);
        if (!nt) {
            am__httpcfg_free(&h);
            continue;
        }
        if (f->c->n_ams)
            memcpy(nt, f->c->ams, f->c->n_ams * sizeof *nt);
        am__free(f->c->ams);
        f->c->ams = nt;
        for (size_t k = 0; sc && sc->kind == AM_Y_SEQ && k < sc->n; k++) {
            const am_ynode *t = am__y_get(sc->items[k], "targets");
            for (size_t j = 0; t && t->kind == AM_Y_SEQ && j < t->n; j++) {
                const am_ynode *x = t->items[j];
                if (x->kind != AM_Y_SCALAR || !strchr(x->str, ':')) {
                    am__ycfg_err(&f->y, x, "a target is host:port");
                    continue;
                }
                am_am_target *at = &f->c->ams[f->c->n_ams++];
                am_buf b;
                am_buf_init(&b, 0);
                am_buf_printf(&b, "%s://%s%s%s", scheme, x->str,
                              *prefix && prefix[0] != '/' ? "/" : "", prefix);
                while (b.len && b.p[b.len - 1] == '/')
                    b.p[--b.len] = '\0';
                at->base = am_buf_take(&b, NULL);
                at->timeout_ms = timeout;
                httpcfg_copy(&at->http, &h);
            }
        }
        am__httpcfg_free(&h);
    }
}

/* ---- the whole ----------------------------------------------------------------------- */

void am__notify_config_free(am_notify_config *c)
{
    if (!c)
        return;
    route_free(c->root);
    for (size_t i = 0; i < c->n_receivers; i++) {
        for (size_t k = 0; k < c->receivers[i].n; k++)
            integration_free(&c->receivers[i].ints[k]);
        am__free(c->receivers[i].ints);
        am__free(c->receivers[i].name);
    }
    am__free(c->receivers);
    for (size_t i = 0; i < c->n_inhibit; i++) {
        am__amatchers_free(c->inhibit[i].src, c->inhibit[i].n_src);
        am__amatchers_free(c->inhibit[i].tgt, c->inhibit[i].n_tgt);
        for (size_t k = 0; k < c->inhibit[i].n_equal; k++)
            am__free(c->inhibit[i].equal[k]);
        am__free(c->inhibit[i].equal);
    }
    am__free(c->inhibit);
    for (size_t i = 0; i < c->n_ams; i++) {
        am__free(c->ams[i].base);
        am__httpcfg_free(&c->ams[i].http);
    }
    am__free(c->ams);
    am__free(c->file);
    am__free(c);
}

static void cfx_free(cfx *f)
{
    am__free(f->slack_api_url);
    am__free(f->pagerduty_url);
    am__free(f->smtp_from);
    am__free(f->smtp_smarthost);
    am__free(f->smtp_hello);
    am__free(f->smtp_auth_username);
    am__free(f->smtp_auth_password);
    am__free(f->smtp_auth_identity);
    am__httpcfg_free(&f->http);
}

am_err am__notify_config_parse(const char *file, const char *text, size_t len, bool is_collector,
                               am_notify_config **out, am_buf *errs)
{
    *out = NULL;
    am_arena a;
    am__arena_init(&a, NULL);
    am_ynode *root = NULL;
    am_err rc = am__ycfg_load(file, text, len, &a, &root, errs);
    if (rc)
        return rc;
    if (!root) {
        am__arena_free(&a);
        return AM_OK;
    }
    cfx f = {.y = {file, errs, 0}};
    if (root->kind != AM_Y_MAP) {
        am__ycfg_err(&f.y, root, "the file must be a mapping");
        am__arena_free(&a);
        return am__err(AM_EINVAL, "%s: not a mapping", file);
    }
    static const char *const SECTIONS[] = {
        "global",    "route",    "receivers",      "inhibit_rules",
        "templates", "alerting", "time_intervals", "mute_time_intervals",
        NULL};
    bool any = false;
    for (size_t i = 0; i < root->n; i++) {
        const char *k = am__ycfg_key(root->items[2 * i]);
        bool is_section = false;
        for (size_t j = 0; SECTIONS[j] && !is_section; j++)
            is_section = strcmp(k, SECTIONS[j]) == 0;
        if (is_section)
            any = true;
        else if (!is_collector)
            am__ycfg_err(&f.y, root->items[2 * i],
                         "field %s not found in the alerting configuration", k);
    }
    if (!any && !f.y.n_errs) {
        am__arena_free(&a);
        return AM_OK;
    }
    f.c = am__calloc(1, sizeof *f.c);
    if (!f.c) {
        am__arena_free(&a);
        return am__err(AM_ENOMEM, "out of memory");
    }
    f.c->file = am__strdup(file);
    global(&f, am__y_get(root, "global"));
    const am_ynode *t = am__y_get(root, "templates");
    if (t && t->kind == AM_Y_SEQ && t->n)
        am__ycfg_err(&f.y, t,
                     "templates: notification template files are not supported by agentmon");
    const am_ynode *ti = am__y_get(root, "time_intervals");
    if (!ti)
        ti = am__y_get(root, "mute_time_intervals");
    if (ti && !am__y_is_null(ti) && ti->n)
        am__ycfg_err(&f.y, ti, "time intervals are not supported by agentmon");
    receivers(&f, am__y_get(root, "receivers"));
    const am_ynode *r = am__y_get(root, "route");
    if (am__ycfg_is_map(&f.y, r, "route")) {
        f.c->root = route(&f, r, NULL, 0);
        if (f.c->root) {
            if (!f.c->root->receiver)
                am__ycfg_err(&f.y, r, "root route must specify a default receiver");
            if (f.c->root->n_m)
                am__ycfg_err(&f.y, r, "root route must not have any matchers");
            if (f.c->root->is_continue)
                am__ycfg_err(&f.y, r, "cannot have continue in root route");
            check_receivers(&f, f.c->root);
        }
    } else if (f.c->n_receivers) {
        am__ycfg_err(&f.y, root, "no routes provided");
    }
    inhibit_rules(&f, am__y_get(root, "inhibit_rules"));
    alerting(&f, am__y_get(root, "alerting"));
    cfx_free(&f);
    am__arena_free(&a);
    if (f.y.n_errs) {
        am__notify_config_free(f.c);
        return am__err(AM_EINVAL, "%s: the alerting configuration is refused", file);
    }
    *out = f.c;
    return AM_OK;
}

am_err am__notify_config_load(const char *path, bool is_collector, am_notify_config **out,
                              am_buf *errs)
{
    *out = NULL;
    char *text;
    size_t len;
    am_err rc = am__read_file(path, &text, &len);
    if (rc) {
        if (errs)
            am_buf_printf(errs, "%s\n", am_errmsg());
        return rc;
    }
    rc = am__notify_config_parse(path, text, len, is_collector, out, errs);
    am__free(text);
    return rc;
}
