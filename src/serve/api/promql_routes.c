/*
** promql_routes.c: Prometheus' query API over the alerting window (see
** promql_routes.h).
**
** DESIGN
** The handlers only translate, as routes.c's do: parameters are read as
** Prometheus reads them (r.FormValue: a form body's value first, then the
** URL's), checked in the order Prometheus checks them so the first error
** is the same one, and handed to the engine (alert.h); its results are
** already Prometheus' JSON (am_promql_result_json, am_alert_rules_json).
** Error messages are Prometheus' ("invalid parameter \"query\": ...").
**
** The window keeps what the rules need; a query that reaches further back
** widens it (never beyond max_window_ms) so that the next such query finds
** its samples, as "sized from the longest range any rule or query uses".
**
** THREADING: handlers run on the HTTP pool, concurrently; the window and
** the engine are thread-safe for readers.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agentmon/timer.h"
#include "agentmon/version.h"
#include "../../alert/labels.h"
#include "../../util/alloc.h"
#include "../../util/error.h"
#include "../../util/render.h"
#include "../../util/query.h"
#include "reply.h"
#include "exemplars.h"
#include "promql_routes.h"

#define MAX_POINTS 11000
#define MAX_MATCH 64
#define DEFAULT_MAX_WINDOW_MS (24 * 3600 * 1000LL)

/* ---- answers -------------------------------------------------------------- */

static void bad(am_http_resp *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(am_http_resp *resp, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    am_http_resp_error(resp, 400, "bad_data", msg);
}

static am_alerting *engine_or_503(am_promql_api *api, am_http_resp *resp)
{
    am_alerting *al = atomic_load(&api->al);
    if (!al) {
        am_http_resp_header(resp, "Retry-After", "1");
        am_http_resp_error(resp, 503, "unavailable", "the alerting engine is starting");
    }
    return al;
}

/* ---- parameters: the form body first, then the URL, as Go's FormValue --- */

typedef struct form {
    am_query body;
    am_http_req *req;
} form;

static bool form_init(form *f, am_http_req *req, am_http_resp *resp)
{
    memset(f, 0, sizeof *f);
    f->req = req;
    const char *ct = am_http_req_header(req, "Content-Type");
    size_t len = 0;
    const char *body = am_http_req_body(req, &len);
    if (!body || !len || !ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return true;
    if (am__query_parse(body, len, &f->body)) {
        bad(resp, "invalid form body: %s", am_errmsg());
        return false;
    }
    return true;
}

static void form_free(form *f)
{
    am__query_free(&f->body);
}

static const char *form_get(const form *f, const char *name)
{
    for (size_t i = 0; i < f->body.n; i++)
        if (strcmp(f->body.names[i], name) == 0)
            return f->body.values[i];
    return am_http_req_query(f->req, name);
}

/* All values of a repeated parameter, body's first; -1 past max. */
static int form_all(const form *f, const char *name, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < f->body.n; i++)
        if (strcmp(f->body.names[i], name) == 0) {
            if (n == max)
                return -1;
            out[n++] = f->body.values[i];
        }
    size_t k = am_http_req_query_all(f->req, name, out + n, max - n);
    if (k > max - n)
        return -1;
    return (int)(n + k);
}

/* Prometheus' parseTimeParam: absent means def. */
static bool time_param(const form *f, am_http_resp *resp, const char *name, int64_t def,
                       int64_t *out)
{
    const char *v = form_get(f, name);
    if (!v || !*v) {
        *out = def;
        return true;
    }
    if (!am_promql_parse_time(v, out)) {
        bad(resp, "invalid parameter \"%s\": cannot parse \"%.200s\" to a valid timestamp", name,
            v);
        return false;
    }
    return true;
}

static bool timeout_ok(const form *f, am_http_resp *resp)
{
    const char *v = form_get(f, "timeout");
    int64_t ms;
    if (v && *v && !am_promql_parse_duration_param(v, &ms)) {
        bad(resp, "invalid parameter \"timeout\": cannot parse \"%.200s\" to a valid duration", v);
        return false;
    }
    return true;
}

static int64_t now_ms(void)
{
    return (int64_t)llround(am_unix_time() * 1000);
}

/* Keep what the next such query reads (never more than the cap). */
static void widen(am_promql_api *api, am_tsdb *db, int64_t want)
{
    int64_t cap = api->max_window_ms > 0 ? api->max_window_ms : DEFAULT_MAX_WINDOW_MS;
    if (want > cap)
        want = cap;
    if (want > am_tsdb_retention(db))
        am_tsdb_set_retention(db, want);
}

/* ---- queries ----------------------------------------------------------------- */

static void eval_error(am_http_resp *resp, am_err rc, const char *err)
{
    if (rc == AM_ENOMEM)
        am_http_resp_error(resp, 500, "internal", "out of memory");
    else
        am_http_resp_error(resp, 422, "execution", err);
}

static void answer(am_http_resp *resp, am_promql_result *res)
{
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":");
    am_promql_result_json(res, &b);
    am_buf_putc(&b, '}');
    am_promql_result_free(res);
    am__http_reply_json(resp, 200, &b);
}

static bool parse_query(const form *f, am_http_resp *resp, am_promql **q)
{
    const char *text = form_get(f, "query");
    char err[600];
    if (am_promql_parse(text ? text : "", q, err, sizeof err)) {
        bad(resp, "invalid parameter \"query\": %s", err);
        return false;
    }
    return true;
}

static void get_query(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_promql_api *api = ud;
    am_alerting *al = engine_or_503(api, resp);
    form f;
    if (!al || !form_init(&f, req, resp))
        return;
    int64_t t;
    am_promql *q = NULL;
    if (time_param(&f, resp, "time", now_ms(), &t) && timeout_ok(&f, resp) &&
        parse_query(&f, resp, &q)) {
        am_promql_opts o = am_alerting_query_opts(al);
        am_tsdb *db = am_alerting_db(al);
        widen(api, db, am_promql_reach_ms(q) + o.lookback_ms);
        am_promql_result *res;
        char err[600] = "";
        am_err rc = am_promql_eval(db, q, t, &o, &res, err, sizeof err);
        if (rc)
            eval_error(resp, rc, err);
        else
            answer(resp, res);
    }
    am_promql_free(q);
    form_free(&f);
}

/* A range query is of a scalar or an instant vector (Prometheus: 400). */
static bool range_type_ok(am_http_resp *resp, const am_promql *q)
{
    const char *t = am_promql_type(q);
    if (strcmp(t, "scalar") == 0 || strcmp(t, "vector") == 0)
        return true;
    bad(resp, "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
        strcmp(t, "matrix") == 0 ? "range vector" : t);
    return false;
}

static void get_query_range(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_promql_api *api = ud;
    am_alerting *al = engine_or_503(api, resp);
    form f;
    if (!al || !form_init(&f, req, resp))
        return;
    int64_t start, end, step = 0;
    am_promql *q = NULL;
    const char *sv = form_get(&f, "start"), *ev = form_get(&f, "end"), *stv = form_get(&f, "step");
    if (!sv || !am_promql_parse_time(sv, &start)) {
        bad(resp, "invalid parameter \"start\": cannot parse \"%.200s\" to a valid timestamp",
            sv ? sv : "");
    } else if (!ev || !am_promql_parse_time(ev, &end)) {
        bad(resp, "invalid parameter \"end\": cannot parse \"%.200s\" to a valid timestamp",
            ev ? ev : "");
    } else if (end < start) {
        bad(resp, "invalid parameter \"end\": end timestamp must not be before start time");
    } else if (!stv || !am_promql_parse_duration_param(stv, &step)) {
        bad(resp, "invalid parameter \"step\": cannot parse \"%.200s\" to a valid duration",
            stv ? stv : "");
    } else if (step <= 0) {
        bad(resp, "invalid parameter \"step\": zero or negative query resolution step widths are "
                  "not accepted. Try a positive integer");
    } else if ((end - start) / step > MAX_POINTS) {
        bad(resp, "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
                  "the query resolution (?step=XX)");
    } else if (timeout_ok(&f, resp) && parse_query(&f, resp, &q) && !range_type_ok(resp, q)) {
        am_promql_free(q);
        q = NULL;
    } else if (q) {
        am_promql_opts o = am_alerting_query_opts(al);
        am_tsdb *db = am_alerting_db(al);
        widen(api, db, now_ms() - start + am_promql_reach_ms(q) + o.lookback_ms);
        am_promql_result *res;
        char err[600] = "";
        am_err rc = am_promql_eval_range(db, q, start, end, step, &o, &res, err, sizeof err);
        if (rc)
            eval_error(resp, rc, err);
        else
            answer(resp, res);
    }
    am_promql_free(q);
    form_free(&f);
}

/* ---- labels and series ---------------------------------------------------------- */

/* A sorted set of strings (names or values), in one array. */
typedef struct strset {
    char **v;
    size_t n, cap;
    bool oom;
} strset;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_add(strset *s, const char *x)
{
    if (s->oom)
        return;
    char **v = am__grow(s->v, &s->cap, s->n + 1, sizeof *v, 32);
    char *d = v ? am__strdup(x) : NULL;
    if (v)
        s->v = v;
    if (!d) {
        s->oom = true;
        return;
    }
    s->v[s->n++] = d;
}

static void set_free(strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        am__free(s->v[i]);
    am__free(s->v);
}

/* {"status":"success","data":[...]} of the set, sorted and unique. */
static void send_set(am_http_resp *resp, strset *s)
{
    if (s->oom) {
        set_free(s);
        am_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, cmp_str);
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":[");
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (i && strcmp(s->v[i], s->v[i - 1]) == 0)
            continue;
        if (k++)
            am_buf_putc(&b, ',');
        am__buf_json_string(&b, s->v[i], strlen(s->v[i]));
    }
    am_buf_puts(&b, "]}");
    set_free(s);
    am__http_reply_json(resp, 200, &b);
}

/* match[], start, end: the selectors parsed; false after answering. */
typedef struct selection {
    am_promql *sel[MAX_MATCH];
    size_t n;
    int64_t start, end;
} selection;

static void selection_free(selection *s)
{
    for (size_t i = 0; i < s->n; i++)
        am_promql_free(s->sel[i]);
}

static bool select_params(const form *f, am_http_resp *resp, selection *s)
{
    memset(s, 0, sizeof *s);
    if (!time_param(f, resp, "start", INT64_MIN / 2, &s->start) ||
        !time_param(f, resp, "end", INT64_MAX / 2, &s->end))
        return false;
    const char *m[MAX_MATCH];
    int n = form_all(f, "match[]", m, MAX_MATCH);
    if (n < 0) {
        bad(resp, "invalid parameter \"match[]\": more than %d selectors", MAX_MATCH);
        return false;
    }
    for (int i = 0; i < n; i++) {
        char err[600];
        if (am_promql_selector(m[i], &s->sel[s->n], err, sizeof err)) {
            bad(resp, "invalid parameter \"match[]\": %s", err);
            selection_free(s);
            return false;
        }
        s->n++;
    }
    return true;
}

typedef struct names_ctx {
    strset *set;
    const char *value_of; /* NULL: label names; else that label's values */
} names_ctx;

static void on_series_names(void *ud, const am_label *l, size_t n)
{
    names_ctx *c = ud;
    for (size_t i = 0; i < n; i++)
        if (!c->value_of)
            set_add(c->set, l[i].name);
        else if (strcmp(l[i].name, c->value_of) == 0)
            set_add(c->set, l[i].value);
}

static void on_name(const char *name, void *ud)
{
    set_add(ud, name);
}

static void labels_or_values(am_http_req *req, am_http_resp *resp, am_promql_api *api,
                             const char *value_of)
{
    am_alerting *al = engine_or_503(api, resp);
    form f;
    if (!al || !form_init(&f, req, resp))
        return;
    selection s;
    if (select_params(&f, resp, &s)) {
        strset set = {0};
        am_tsdb *db = am_alerting_db(al);
        if (s.n) {
            names_ctx c = {&set, value_of};
            if (am_tsdb_series_matching(db, (const am_promql *const *)s.sel, s.n, s.start, s.end,
                                        on_series_names, &c))
                set.oom = true;
        } else if (value_of) {
            am_tsdb_label_values(db, value_of, on_name, &set);
        } else {
            am_tsdb_label_names(db, on_name, &set);
        }
        send_set(resp, &set);
        selection_free(&s);
    }
    form_free(&f);
}

static void get_labels(am_http_req *req, am_http_resp *resp, void *ud)
{
    labels_or_values(req, resp, ud, NULL);
}

static void get_label_values(am_http_req *req, am_http_resp *resp, void *ud)
{
    const char *name = am_http_req_param(req, "name");
    bool ok = name && *name && !(*name >= '0' && *name <= '9');
    for (const char *c = name; ok && *c; c++)
        ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
             *c == '_';
    if (!ok) { /* model.LabelNameRE: reserved __names__ too */
        bad(resp, "invalid label name: \"%.200s\"", name ? name : "");
        return;
    }
    labels_or_values(req, resp, ud, name);
}

/* ---- rules and alerts --------------------------------------------------------- */

static void get_rules(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_alerting *al = engine_or_503(ud, resp);
    if (!al)
        return;
    const char *type = am_http_req_query(req, "type");
    unsigned types = AM_RULES_ALERTING | AM_RULES_RECORDING;
    if (type && *type) {
        if (strcasecmp(type, "alert") == 0) {
            types = AM_RULES_ALERTING;
        } else if (strcasecmp(type, "record") == 0) {
            types = AM_RULES_RECORDING;
        } else {
            bad(resp, "not supported value \"%.100s\"", type);
            return;
        }
    }
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":");
    am_alert_rules_json(am_alerting_engine(al), types, &b);
    am_buf_putc(&b, '}');
    am__http_reply_json(resp, 200, &b);
}

static void get_alerts(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    am_alerting *al = engine_or_503(ud, resp);
    if (!al)
        return;
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":");
    am_alert_alerts_json(am_alerting_engine(al), &b);
    am_buf_putc(&b, '}');
    am__http_reply_json(resp, 200, &b);
}

/* ---- status and lifecycle -------------------------------------------------------- */

static void fixed(am_http_resp *resp, const char *json)
{
    am_http_resp_body(resp, "application/json", json, strlen(json));
}

static void get_buildinfo(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    /* the Prometheus API version agentmon answers as (docs/SERVE.md) */
    char json[256];
    snprintf(json, sizeof json,
             "{\"status\":\"success\",\"data\":{\"version\":\"2.42.0\",\"revision\":\"agentmon "
             "%s\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}}",
             am_version());
    fixed(resp, json);
}

static void get_metadata(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    fixed(resp, "{\"status\":\"success\",\"data\":{}}");
}

/* query (PromQL: its selectors pick the series), start, end: the
   exemplars of api->registries (exemplars.c). */
static void get_exemplars(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_promql_api *api = ud;
    form f;
    if (!form_init(&f, req, resp))
        return;
    int64_t start, end;
    const char *text = form_get(&f, "query");
    am_promql *q = NULL;
    char err[600];
    if (!text || !text[0]) {
        bad(resp, "invalid parameter \"query\": it is missing");
    } else if (time_param(&f, resp, "start", INT64_MIN / 2, &start) &&
               time_param(&f, resp, "end", INT64_MAX / 2, &end)) {
        if (end < start) {
            bad(resp, "invalid parameter \"end\": end timestamp must not be before start time");
        } else if (am_promql_parse(text, &q, err, sizeof err)) {
            bad(resp, "invalid parameter \"query\": %s", err);
        } else {
            am_buf b;
            am_buf_init(&b, 0);
            am_buf_puts(&b, "{\"status\":\"success\",\"data\":");
            am_err rc = am__exemplars_find(api->registries, api->n_registries, q,
                                           (double)start / 1000, (double)end / 1000, &b);
            am_buf_putc(&b, '}');
            if (rc) {
                am_buf_free(&b);
                am_http_resp_error(resp, 500, "internal", am_errmsg());
            } else {
                am__http_reply_json(resp, 200, &b);
            }
            am_promql_free(q);
        }
    }
    form_free(&f);
}

static void get_ready(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    am_promql_api *api = ud;
    bool ok = atomic_load(&api->al) != NULL;
    const char *t = ok ? "agentmon is Ready.\n" : "Service Unavailable\n";
    am_http_resp_status(resp, ok ? 200 : 503);
    am_http_resp_body(resp, "text/plain; charset=utf-8", t, strlen(t));
}

static void post_reload(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    am_promql_api *api = ud;
    am_buf errs;
    am_buf_init(&errs, 1u << 20);
    am_err rc = api->reload(api->reload_ud, &errs);
    if (rc) {
        /* as Prometheus: 500 and the reason, in text */
        am_buf msg;
        am_buf_init(&msg, 0);
        am_buf_printf(&msg, "failed to reload config: %s", errs.len ? errs.p : am_errmsg());
        am_http_resp_status(resp, 500);
        if (!am_buf_err(&msg))
            am_http_resp_body(resp, "text/plain; charset=utf-8", msg.p, msg.len);
        am_buf_free(&msg);
    }
    am_buf_free(&errs);
}

am_err am__promql_routes_add(am_http *h, am_promql_api *api)
{
    const am_http_auth *r = api->read_auth;
    static const struct {
        unsigned methods;
        const char *path;
        am_http_handler fn;
    } ROUTES[] = {
        {AM_HTTP_GET | AM_HTTP_POST, "/api/v1/query", get_query},
        {AM_HTTP_GET | AM_HTTP_POST, "/api/v1/query_range", get_query_range},
        {AM_HTTP_GET | AM_HTTP_POST, "/api/v1/labels", get_labels},
        {AM_HTTP_GET, "/api/v1/label/{name}/values", get_label_values},
        {AM_HTTP_GET, "/api/v1/rules", get_rules},
        {AM_HTTP_GET, "/api/v1/alerts", get_alerts},
        {AM_HTTP_GET, "/api/v1/status/buildinfo", get_buildinfo},
        {AM_HTTP_GET | AM_HTTP_POST, "/api/v1/metadata", get_metadata},
        {AM_HTTP_GET | AM_HTTP_POST, "/api/v1/query_exemplars", get_exemplars},
        {AM_HTTP_GET, "/-/ready", get_ready},
        {AM_HTTP_GET, "/-/healthy", get_ready},
    };
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        am_err rc = am_http_route(h, ROUTES[i].methods, ROUTES[i].path, ROUTES[i].fn, api, r);
        if (rc)
            return rc;
    }
    if (api->reload)
        return am_http_route(h, AM_HTTP_POST | AM_HTTP_PUT, "/-/reload", post_reload, api,
                             api->write_auth);
    return AM_OK;
}
