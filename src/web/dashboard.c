/*
** dashboard.c: the web dashboard's page, its embedded files, and the
** description of this server the page reads first (dashboard.h).
**
** Design. The page is static: index.html, app.css, app.js, panels.json
** (every panel defined once: title, PromQL, unit, chart type) and Chart.js
** are compiled into the program (cmake/embed_web.cmake, assets.h) and
** served from memory, so the binary works offline and alone. Everything the
** page draws it asks for with the query API that exists anyway; the only
** dynamic route here is GET /api/v1/dashboard, which tells the page what
** this server has (a store with rows: `serve`; a coordinator and a log
** file: `demo`) so that it never asks for what would answer 404, and the
** LLM price table (--llm-price; without one, an empty table marked
** "examples", and the page uses panels.json's example rows).
**
** Threading: handlers run on the HTTP server's pool; they read the assets
** (constant) and the am_dashboard, which is written before the routes are
** added and never after, so no lock is needed. Ownership: the am_dashboard
** is the caller's, borrowed for the server's life.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../serve/api/reply.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/fmt.h"
#include "../util/render.h"
#include "assets.h"
#include "dashboard.h"

const am_web_asset *am__web_asset(const char *name)
{
    for (size_t i = 0; name && i < am__n_web_assets; i++)
        if (strcmp(am__web_assets[i].name, name) == 0)
            return &am__web_assets[i];
    return NULL;
}

static void send_asset(am_http_resp *resp, const am_web_asset *a)
{
    /* the files change only with the program: a browser may keep them a
       while, and revalidates the page itself every time */
    am_http_resp_header(resp, "Cache-Control",
                        strcmp(a->name, "index.html") == 0 ? "no-cache" : "max-age=300");
    am_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    am_http_resp_body(resp, a->type, a->data, a->len);
}

static void get_index(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    const am_web_asset *a = am__web_asset("index.html");
    if (!a) {
        am_http_resp_error(resp, 500, "internal", "the dashboard was not built into this program");
        return;
    }
    am_http_resp_header(resp, "Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
    send_asset(resp, a);
}

static void get_asset(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)ud;
    const am_web_asset *a = am__web_asset(am_http_req_param(req, "name"));
    if (!a) {
        am_http_resp_error(resp, 404, "not_found", "no such file of the dashboard");
        return;
    }
    send_asset(resp, a);
}

static void price_json(am_buf *b, const am_llm_price *p, bool first)
{
    if (!first)
        am_buf_putc(b, ',');
    am_buf_puts(b, "{\"provider\":");
    am__buf_json_string(b, p->provider, strlen(p->provider));
    am_buf_puts(b, ",\"model\":");
    am__buf_json_string(b, p->model, strlen(p->model));
    am_buf_puts(b, ",\"input\":");
    am__buf_double(b, p->input);
    am_buf_puts(b, ",\"output\":");
    am__buf_double(b, p->output);
    am_buf_putc(b, '}');
}

bool am__web_limit(am_http_req *req, am_http_resp *resp, size_t def, size_t max, size_t *out)
{
    const char *l = am_http_req_query(req, "limit");
    *out = def;
    if (!l)
        return true;
    char *end;
    errno = 0;
    long v = strtol(l, &end, 10);
    if (!*l || *end || errno || v < 1 || (unsigned long)v > max) {
        char msg[80];
        snprintf(msg, sizeof msg, "limit: a whole number in 1..%zu", max);
        am_http_resp_error(resp, 400, "bad_data", msg);
        return false;
    }
    *out = (size_t)v;
    return true;
}

static void get_config(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    const am_dashboard *d = ud;
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":{\"title\":");
    const char *title = d->title ? d->title : "agentmon";
    am__buf_json_string(&b, title, strlen(title));
    am_buf_printf(&b, ",\"store\":%s,\"coordinator\":%s,\"logs\":%s,\"currency\":",
                  d->has_store ? "true" : "false", d->coord ? "true" : "false",
                  d->log_path || d->has_logs ? "true" : "false");
    const char *cur = d->currency ? d->currency : "USD";
    am__buf_json_string(&b, cur, strlen(cur));
    am_buf_puts(&b, ",\"sample_interval_s\":");
    am__buf_double(&b, d->sample_interval_s > 0 ? d->sample_interval_s : 15);
    /* none configured: the page takes the example rows of panels.json,
       their one home, and says they are examples */
    am_buf_printf(&b, ",\"prices_are_examples\":%s,\"prices\":[", d->n_prices ? "false" : "true");
    for (size_t i = 0; i < d->n_prices; i++)
        price_json(&b, &d->prices[i], i == 0);
    am_buf_puts(&b, "]}}");
    am__http_reply_json(resp, 200, &b);
}

/* A price: a finite number >= 0 and below a million, the whole of s. */
static am_err price_number(const char *s, const char *end, const char *what, double *out)
{
    char tmp[64];
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= sizeof tmp)
        return am__err(AM_EINVAL, "--llm-price: the %s price must be a number", what);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *e;
    errno = 0;
    double v = strtod(tmp, &e);
    if (*e || errno || !(v >= 0 && v < 1e6))
        return am__err(AM_EINVAL,
                       "--llm-price: the %s price \"%s\" is not a number in 0..1000000 (money per "
                       "million tokens)",
                       what, tmp);
    *out = v;
    return AM_OK;
}

am_err am__dashboard_price_add(am_dashboard *d, const char *spec)
{
    const char *slash = spec ? strchr(spec, '/') : NULL;
    const char *eq = slash ? strchr(slash, '=') : NULL;
    const char *comma = eq ? strchr(eq, ',') : NULL;
    if (!comma)
        return am__err(AM_EINVAL,
                       "--llm-price \"%.100s\": want PROVIDER/MODEL=INPUT,OUTPUT "
                       "(money per million tokens, e.g. openai/gpt-4o=2.5,10)",
                       spec ? spec : "");
    am_llm_price p;
    memset(&p, 0, sizeof p);
    size_t np = (size_t)(slash - spec), nm = (size_t)(eq - slash - 1);
    if (np == 0 || np >= sizeof p.provider || nm == 0 || nm >= sizeof p.model)
        return am__err(AM_EINVAL,
                       "--llm-price \"%.100s\": the provider (1..63 bytes) and the model "
                       "(1..127 bytes) must not be empty",
                       spec);
    for (const char *c = spec; c < eq; c++)
        if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\' || *c == 0x7f)
            return am__err(AM_EINVAL,
                           "--llm-price \"%.100s\": a control character, '\"' or "
                           "'\\' in the provider or model",
                           spec);
    memcpy(p.provider, spec, np);
    memcpy(p.model, slash + 1, nm);
    am_err rc = price_number(eq + 1, comma, "input", &p.input);
    if (!rc)
        rc = price_number(comma + 1, comma + 1 + strlen(comma + 1), "output", &p.output);
    if (rc)
        return rc;
    for (size_t i = 0; i < d->n_prices; i++)
        if (strcmp(d->prices[i].provider, p.provider) == 0 &&
            strcmp(d->prices[i].model, p.model) == 0)
            return am__err(AM_EINVAL, "--llm-price: %s/%s is given twice", p.provider, p.model);
    if (d->n_prices == AM_DASHBOARD_MAX_PRICES)
        return am__err(AM_ELIMIT, "--llm-price: at most %d prices", AM_DASHBOARD_MAX_PRICES);
    d->prices[d->n_prices++] = p;
    return AM_OK;
}

am_err am__dashboard_routes_add(am_http *h, const am_dashboard *d)
{
    am_err rc;
    if ((rc = am_http_route(h, AM_HTTP_GET, "/", get_index, (void *)d, d->read_auth)) ||
        (rc = am_http_route(h, AM_HTTP_GET, "/ui/{name}", get_asset, (void *)d, d->read_auth)) ||
        (rc = am_http_route(h, AM_HTTP_GET, "/api/v1/dashboard", get_config, (void *)d,
                            d->read_auth)))
        return rc;
    if (d->coord && (rc = am__dlq_routes_add(h, d)))
        return rc;
    if (d->log_path && (rc = am__logs_routes_add(h, d)))
        return rc;
    return AM_OK;
}
