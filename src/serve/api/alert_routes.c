/*
** alert_routes.c: alert history, alerts in, silences (see alert_routes.h).
**
** DESIGN
** The history is the store's alert_history table, read as the other row
** endpoints read theirs: the same parameters (params.c), keyset paging
** with the same cursors and Link header (routes.c). Only the rendering is
** its own: a row's labels (canonical text in the store) and annotations
** (a JSON object) come out as objects, so a reader needs no second
** parser:
**
**   {"status":"success","data":[{"timestamp":"2026-12-05T08:00:00.000Z",
**    "alertname":"X","fingerprint":"..","state":"firing","value":3,
**    "labels":{..},"annotations":{..}},..]}
**
** Alerts and silences are Alertmanager's API v2 JSON (so amtool and a
** Prometheus alerting: block can talk to the collector), parsed with
** jansson and checked as Alertmanager checks them: labels required and
** valid, RFC 3339 times, endsAt after startsAt; a silence needs a matcher
** that does not match the empty string and an end in the future.
*/
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../util/alloc.h"
#include "../../util/buf.h"
#include "../../util/civil.h"
#include "../../util/error.h"
#include "../../util/fmt.h"
#include "../../util/render.h"
#include "../../alert/labels.h"
#include "agentmon/timer.h"
#include "../store/labels.h"
#include "alert_routes.h"
#include "params.h"
#include "routes.h"
#include "reply.h"

#define MAX_PARAMS 256

/* The labels' canonical text as a JSON object. */
static void labels_json(am_buf *b, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    char *scratch = am__malloc(len + 1);
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    size_t n = 0;
    if (!scratch || !text || strcmp(text, "{}") == 0 ||
        am__labels_split(text, scratch, len + 1, names, values, AM_LABELS_MAX, &n))
        n = 0;
    am_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            am_buf_putc(b, ',');
        am__buf_json_string(b, names[i], strlen(names[i]));
        am_buf_putc(b, ':');
        am__buf_json_string(b, values[i], strlen(values[i]));
    }
    am_buf_putc(b, '}');
    am__free(scratch);
}

typedef struct hist_ctx {
    am_buf *b;
    size_t n;
} hist_ctx;

static int on_history(void *ud, const am_table *t, const am_value *v)
{
    (void)t;
    hist_ctx *c = ud;
    am_buf *b = c->b;
    char ts[25];
    am__rfc3339_ms(v[AM_AHIST_TIMESTAMP].v.d, ts);
    am_buf_printf(b, "%s{\"timestamp\":\"%s\",\"alertname\":", c->n++ ? "," : "", ts);
    const char *name = v[AM_AHIST_ALERT_NAME].v.s ? v[AM_AHIST_ALERT_NAME].v.s : "";
    am__buf_json_string(b, name, strlen(name));
    const char *fp = v[AM_AHIST_FINGERPRINT].v.s ? v[AM_AHIST_FINGERPRINT].v.s : "";
    am_buf_puts(b, ",\"fingerprint\":");
    am__buf_json_string(b, fp, strlen(fp));
    const char *st = v[AM_AHIST_STATE].v.s ? v[AM_AHIST_STATE].v.s : "";
    am_buf_puts(b, ",\"state\":");
    am__buf_json_string(b, st, strlen(st));
    if (v[AM_AHIST_VALUE].is_null)
        am_buf_puts(b, ",\"value\":null");
    else if (isinf(v[AM_AHIST_VALUE].v.d))
        am_buf_puts(b, v[AM_AHIST_VALUE].v.d > 0 ? ",\"value\":\"+Inf\"" : ",\"value\":\"-Inf\"");
    else {
        am_buf_puts(b, ",\"value\":");
        am__buf_double(b, v[AM_AHIST_VALUE].v.d);
    }
    am_buf_puts(b, ",\"labels\":");
    labels_json(b, v[AM_AHIST_LABELS].v.s);
    am_buf_puts(b, ",\"annotations\":");
    /* written by alert_state.c as a JSON object */
    am_buf_puts(b, v[AM_AHIST_ANNOTATIONS].is_null ? "{}" : v[AM_AHIST_ANNOTATIONS].v.s);
    am_buf_putc(b, '}');
    return am_buf_err(b) ? AM_ENOMEM : 0;
}

static void get_history(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_alert_api *api = ud;
    size_t n = am_http_req_query_count(req);
    if (n > MAX_PARAMS) {
        am_http_resp_error(resp, 400, "bad_data", "more than 256 query parameters");
        return;
    }
    const char *names[MAX_PARAMS], *values[MAX_PARAMS];
    for (size_t i = 0; i < n; i++) {
        names[i] = am_http_req_query_name(req, i);
        values[i] = am_http_req_query_value(req, i);
    }
    am_params p = {names, values, n, am_unix_time()};
    am_store_query q;
    am_params_mem mem;
    if (am__params_select(am_table_get(AM_T_ALERT_HISTORY), &p, &q, &mem)) {
        am_http_resp_error(resp, 400, "bad_data", am_errmsg());
        return;
    }
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":[");
    hist_ctx c = {&b, 0};
    size_t rows;
    char next[AM_STORE_CURSOR_MAX];
    am_err rc = am_store_select(api->store, &q, on_history, &c, &rows, next);
    am__params_free(&mem);
    if (rc) {
        am_buf_free(&b);
        if (rc == AM_EINVAL) {
            am_http_resp_error(resp, 400, "bad_data", am_errmsg());
        } else {
            am_http_resp_header(resp, "Retry-After", "1");
            am_http_resp_error(resp, 503, "unavailable", am_errmsg());
        }
        return;
    }
    am_buf_puts(&b, "]}");
    if (next[0])
        am__routes_next_page(resp, "/api/v1/alerts/history", names, values, n, next);
    am__http_reply_json(resp, 200, &b);
}

/* ---- the notifier's routes ------------------------------------------------- */

static am_notify *notify_or_503(am_alert_api *api, am_http_resp *resp)
{
    am_notify *n = atomic_load(&api->notify);
    if (!n) {
        am_http_resp_header(resp, "Retry-After", "1");
        am_http_resp_error(resp, 503, "unavailable", "the notifier is starting");
    }
    return n;
}

static json_t *body_json(am_http_req *req, am_http_resp *resp)
{
    size_t len;
    const char *body = am_http_req_body(req, &len);
    json_error_t e;
    json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof msg, "the body is not JSON: %s",
                 body && len ? e.text : "there is no body");
        am_http_resp_error(resp, 400, "bad_data", msg);
    }
    return j;
}

static bool time_field(json_t *o, const char *name, int64_t *ms, char *err, size_t cap)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        *ms = 0;
        return true;
    }
    double t;
    const char *s = json_string_value(v);
    if (!s || am__time_parse(s, strlen(s), name, &t)) {
        snprintf(err, cap, "%s: not an RFC 3339 time", name);
        return false;
    }
    *ms = (int64_t)llround(t * 1000);
    return true;
}

/* A JSON object of strings into pairs (borrowed from the JSON). */
static bool pairs(json_t *o, const char *name, am_label **out, size_t *n, bool required, char *err,
                  size_t cap)
{
    json_t *m = json_object_get(o, name);
    *out = NULL;
    *n = 0;
    if (!m || json_is_null(m)) {
        if (required)
            snprintf(err, cap, "%s: missing", name);
        return !required;
    }
    if (!json_is_object(m)) {
        snprintf(err, cap, "%s: not an object of strings", name);
        return false;
    }
    *out = am__calloc(json_object_size(m) + 1, sizeof **out);
    if (!*out) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(err, cap, "%s.%.100s: not a string", name, k);
            return false;
        }
        if (strcmp(name, "labels") == 0 && !am__label_name_ok(k)) {
            snprintf(err, cap, "labels: invalid label name \"%.100s\"", k);
            return false;
        }
        (*out)[(*n)++] = (am_label){k, json_string_value(v)};
    }
    if (required && !*n) {
        snprintf(err, cap, "%s: at least one is needed", name);
        return false;
    }
    return true;
}

/* POST /api/v1/alerts, /api/v2/alerts: Alertmanager's postable alerts. */
static void post_alerts(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_alert_api *api = ud;
    am_notify *n = notify_or_503(api, resp);
    json_t *j = n ? body_json(req, resp) : NULL;
    if (!j)
        return;
    if (!json_is_array(j)) {
        json_decref(j);
        am_http_resp_error(resp, 400, "bad_data", "the body must be a JSON array of alerts");
        return;
    }
    size_t count = json_array_size(j);
    am_nalert_in *in = am__calloc(count + 1, sizeof *in);
    am_label **mem = am__calloc(2 * count + 1, sizeof *mem);
    char err[300] = "";
    bool ok = in && mem;
    for (size_t i = 0; ok && i < count; i++) {
        json_t *a = json_array_get(j, i);
        char why[240] = "";
        if (!json_is_object(a)) {
            snprintf(why, sizeof why, "not an object");
            ok = false;
        } else {
            ok = pairs(a, "labels", &mem[2 * i], &in[i].n_labels, true, why, sizeof why) &&
                 pairs(a, "annotations", &mem[2 * i + 1], &in[i].n_annotations, false, why,
                       sizeof why) &&
                 time_field(a, "startsAt", &in[i].starts_at_ms, why, sizeof why) &&
                 time_field(a, "endsAt", &in[i].ends_at_ms, why, sizeof why);
            in[i].labels = mem[2 * i];
            in[i].annotations = mem[2 * i + 1];
            json_t *g = json_object_get(a, "generatorURL");
            in[i].generator_url = json_is_string(g) ? json_string_value(g) : NULL;
            if (ok && in[i].starts_at_ms && in[i].ends_at_ms &&
                in[i].ends_at_ms < in[i].starts_at_ms) {
                snprintf(why, sizeof why, "endsAt is before startsAt");
                ok = false;
            }
        }
        if (!ok)
            snprintf(err, sizeof err, "alert %zu: %s", i, why);
    }
    if (ok)
        am_notify_put(n, in, count, true);
    for (size_t i = 0; mem && i < 2 * count; i++)
        am__free(mem[i]);
    am__free(mem);
    am__free(in);
    json_decref(j);
    if (!ok) {
        am_http_resp_error(resp, 400, "bad_data", err[0] ? err : "out of memory");
        return;
    }
    static const char OK[] = "{\"status\":\"success\"}";
    am_http_resp_body(resp, "application/json", OK, sizeof OK - 1);
}

typedef struct list_ctx {
    am_buf *b;
    size_t n;
    int64_t now;
} list_ctx;

static void on_nalert(void *ud, const am_nalert *a, bool is_silenced, bool is_inhibited)
{
    list_ctx *c = ud;
    am_buf *b = c->b;
    am_buf_puts(b, c->n++ ? ",{\"labels\":" : "{\"labels\":");
    am__labels_json(b, a->labels);
    am_buf_puts(b, ",\"annotations\":");
    am__labels_json(b, a->annotations);
    am_buf_puts(b, ",\"startsAt\":");
    am__json_time(b, a->starts_at_ms);
    am_buf_puts(b, ",\"endsAt\":");
    am__json_time(b, a->ends_at_ms);
    am_buf_puts(b, ",\"updatedAt\":");
    am__json_time(b, a->updated_ms);
    am_buf_puts(b, ",\"generatorURL\":");
    am__buf_json_string(b, a->generator_url, strlen(a->generator_url));
    bool resolved = am__nalert_resolved(a, c->now);
    am_buf_printf(b,
                  ",\"fingerprint\":\"%016llx\",\"status\":{\"state\":\"%s\",\"silencedBy\":[],"
                  "\"inhibitedBy\":[]},\"receivers\":[]}",
                  (unsigned long long)a->fp,
                  resolved                      ? "resolved"
                  : is_silenced || is_inhibited ? "suppressed"
                                                : "active");
}

static void get_am_alerts(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    am_notify *n = notify_or_503(ud, resp);
    if (!n)
        return;
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_putc(&b, '[');
    list_ctx c = {&b, 0, (int64_t)(am_unix_time() * 1000)};
    am_notify_alerts(n, on_nalert, &c);
    am_buf_putc(&b, ']');
    am__http_reply_json(resp, 200, &b);
}

/* ---- silences ---------------------------------------------------------------------- */

static void silence_json(void *ud, const am_silence *s)
{
    list_ctx *c = ud;
    am_buf *b = c->b;
    am_buf_printf(b, "%s{\"id\":\"%s\",\"status\":{\"state\":\"%s\"},\"updatedAt\":",
                  c->n++ ? "," : "", s->id, am__silence_state(s, c->now));
    am__json_time(b, s->updated_ms);
    am_buf_puts(b, ",\"matchers\":[");
    for (size_t i = 0; i < s->n_m; i++) {
        const am_amatcher *m = &s->m[i];
        am_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        am__buf_json_string(b, m->name, strlen(m->name));
        am_buf_puts(b, ",\"value\":");
        am__buf_json_string(b, m->value, strlen(m->value));
        am_buf_printf(b, ",\"isRegex\":%s,\"isEqual\":%s}",
                      m->op == AM_AM_RE || m->op == AM_AM_NRE ? "true" : "false",
                      m->op == AM_AM_EQ || m->op == AM_AM_RE ? "true" : "false");
    }
    am_buf_puts(b, "],\"startsAt\":");
    am__json_time(b, s->starts_at_ms);
    am_buf_puts(b, ",\"endsAt\":");
    am__json_time(b, s->ends_at_ms);
    am_buf_puts(b, ",\"createdBy\":");
    am__buf_json_string(b, s->created_by, strlen(s->created_by));
    am_buf_puts(b, ",\"comment\":");
    am__buf_json_string(b, s->comment, strlen(s->comment));
    am_buf_putc(b, '}');
}

static void get_silences(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_notify *n = notify_or_503(ud, resp);
    if (!n)
        return;
    const char *id = am_http_req_param(req, "id");
    am_buf b;
    am_buf_init(&b, 0);
    if (!id)
        am_buf_putc(&b, '[');
    list_ctx c = {&b, 0, (int64_t)(am_unix_time() * 1000)};
    if (am_notify_silences(n, id, silence_json, &c)) {
        am_buf_free(&b);
        am_http_resp_error(resp, 404, "not_found", am_errmsg());
        return;
    }
    if (!id)
        am_buf_putc(&b, ']');
    am__http_reply_json(resp, 200, &b);
}

/* Alertmanager's PostableSilence: matchers, startsAt, endsAt, createdBy,
   comment, and id to replace one. */
static void post_silence(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_alert_api *api = ud;
    am_notify *n = notify_or_503(api, resp);
    json_t *j = n ? body_json(req, resp) : NULL;
    if (!j)
        return;
    char err[300] = "";
    am_silence s;
    memset(&s, 0, sizeof s);
    json_t *ms = json_object_get(j, "matchers");
    size_t nm = json_is_array(ms) ? json_array_size(ms) : 0;
    am_amatcher *m = am__calloc(nm + 1, sizeof *m);
    bool ok = json_is_object(j) && m;
    if (ok && (!nm || nm > 64)) {
        snprintf(err, sizeof err, "matchers: between 1 and 64 are needed");
        ok = false;
    }
    bool matches_empty = true;
    for (size_t i = 0; ok && i < nm; i++) {
        json_t *x = json_array_get(ms, i);
        const char *name = json_string_value(json_object_get(x, "name"));
        const char *value = json_string_value(json_object_get(x, "value"));
        json_t *re = json_object_get(x, "isRegex"), *eq = json_object_get(x, "isEqual");
        if (!name || !value || (re && !json_is_boolean(re)) || (eq && !json_is_boolean(eq))) {
            snprintf(err, sizeof err,
                     "matchers[%zu]: name and value strings, isRegex and isEqual "
                     "booleans",
                     i);
            ok = false;
            break;
        }
        bool is_re = json_is_true(re), is_eq = !eq || json_is_true(eq);
        am_amatch_op op = is_re ? (is_eq ? AM_AM_RE : AM_AM_NRE) : (is_eq ? AM_AM_EQ : AM_AM_NEQ);
        char why[240];
        if (am__amatcher_make(name, value, op, &m[i], why, sizeof why)) {
            snprintf(err, sizeof err, "matchers[%zu]: %s", i, why);
            am__amatchers_free(m, i);
            m = NULL;
            ok = false;
            break;
        }
        s.n_m = i + 1;
        am_lset empty = {0, 0};
        if (am__amatchers_ok(&m[i], 1, &empty) == false)
            matches_empty = false;
    }
    if (ok && matches_empty) {
        snprintf(err, sizeof err, "matchers: at least one matcher must not match the empty string");
        ok = false;
    }
    s.m = m;
    if (ok)
        ok = time_field(j, "startsAt", &s.starts_at_ms, err, sizeof err) &&
             time_field(j, "endsAt", &s.ends_at_ms, err, sizeof err);
    int64_t now = (int64_t)(am_unix_time() * 1000);
    if (ok && !s.ends_at_ms) {
        snprintf(err, sizeof err, "endsAt: missing");
        ok = false;
    }
    if (ok && !s.starts_at_ms)
        s.starts_at_ms = now;
    if (ok && s.ends_at_ms <= s.starts_at_ms) {
        snprintf(err, sizeof err, "endsAt: must be after startsAt");
        ok = false;
    }
    if (ok && s.ends_at_ms <= now) {
        snprintf(err, sizeof err, "endsAt: is in the past");
        ok = false;
    }
    const char *idv = json_string_value(json_object_get(j, "id"));
    if (ok && idv && strlen(idv) >= sizeof s.id) {
        snprintf(err, sizeof err, "id: too long");
        ok = false;
    }
    if (ok && idv)
        snprintf(s.id, sizeof s.id, "%s", idv);
    s.created_by = (char *)json_string_value(json_object_get(j, "createdBy"));
    s.comment = (char *)json_string_value(json_object_get(j, "comment"));
    char id[40];
    am_err rc = ok ? am_notify_silence_put(n, &s, id) : AM_EINVAL;
    am__amatchers_free(m, s.n_m);
    json_decref(j);
    if (!ok) {
        am_http_resp_error(resp, 400, "bad_data", err[0] ? err : "not a silence");
        return;
    }
    if (rc) {
        am_http_resp_error(resp, rc == AM_ENOTFOUND ? 404 : 400,
                           rc == AM_ENOTFOUND ? "not_found" : "bad_data", am_errmsg());
        return;
    }
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_printf(&b, "{\"silenceID\":\"%s\"}", id);
    am__http_reply_json(resp, 200, &b);
}

static void delete_silence(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_notify *n = notify_or_503(ud, resp);
    if (!n)
        return;
    const char *id = am_http_req_param(req, "id");
    am_err rc = am_notify_silence_expire(n, id ? id : "");
    if (rc) {
        am_http_resp_error(resp, rc == AM_ENOTFOUND ? 404 : 400,
                           rc == AM_ENOTFOUND ? "not_found" : "bad_data", am_errmsg());
        return;
    }
    static const char OK[] = "{\"status\":\"success\"}";
    am_http_resp_body(resp, "application/json", OK, sizeof OK - 1);
}

am_err am__alert_routes_add(am_http *h, am_alert_api *api)
{
    const am_http_auth *r = api->read_auth, *w = api->write_auth;
    const struct {
        unsigned methods;
        const char *path;
        am_http_handler fn;
        const am_http_auth *auth;
    } ROUTES[] = {
        {AM_HTTP_GET, "/api/v1/alerts/history", get_history, r},
        {AM_HTTP_POST, "/api/v1/alerts", post_alerts, w},
        {AM_HTTP_POST, "/api/v2/alerts", post_alerts, w},
        {AM_HTTP_GET, "/api/v2/alerts", get_am_alerts, r},
        {AM_HTTP_GET, "/api/v1/silences", get_silences, r},
        {AM_HTTP_GET, "/api/v2/silences", get_silences, r},
        {AM_HTTP_GET, "/api/v1/silences/{id}", get_silences, r},
        {AM_HTTP_GET, "/api/v2/silence/{id}", get_silences, r},
        {AM_HTTP_POST, "/api/v1/silences", post_silence, w},
        {AM_HTTP_POST, "/api/v2/silences", post_silence, w},
        {AM_HTTP_DELETE, "/api/v1/silences/{id}", delete_silence, w},
        {AM_HTTP_DELETE, "/api/v2/silence/{id}", delete_silence, w},
    };
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        if (ROUTES[i].fn == get_history && !api->store)
            continue;
        am_err rc =
            am_http_route(h, ROUTES[i].methods, ROUTES[i].path, ROUTES[i].fn, api, ROUTES[i].auth);
        if (rc)
            return rc;
    }
    return AM_OK;
}
