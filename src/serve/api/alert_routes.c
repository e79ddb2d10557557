/*
** alert_routes.c: alert history (see alert_routes.h).
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
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../core/alloc.h"
#include "../../core/buf.h"
#include "../../core/civil.h"
#include "../../core/error.h"
#include "../../core/fmt.h"
#include "../../core/render.h"
#include "agentmon/timer.h"
#include "../store/labels.h"
#include "alert_routes.h"
#include "params.h"
#include "routes.h"

#define MAX_PARAMS 256

static void send_json(am_http_resp *resp, unsigned status, am_buf *b)
{
    if (am_buf_err(b)) {
        am_buf_free(b);
        am_http_resp_error(resp, 500, "internal", "out of memory writing the answer");
        return;
    }
    size_t len;
    char *p = am_buf_take(b, &len);
    am_http_resp_status(resp, status);
    am_http_resp_body_take(resp, "application/json", p ? p : am__strdup(""), p ? len : 0);
}

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
    send_json(resp, 200, &b);
}

am_err am__alert_routes_add(am_http *h, am_alert_api *api)
{
    return am_http_route(h, AM_HTTP_GET, "/api/v1/alerts/history", get_history, api,
                         api->read_auth);
}
