/*
** builtin.c: the routes every agentmon server starts with.
**
**   GET /metrics    Prometheus text, or OpenMetrics when Accept asks for it
**                   (gzip is the server's business, see server.c)
**   GET /health     {"status":"ok","version":"0.3.0","uptime_seconds":12.5}
**   GET /snapshot   the JSON snapshot of the served registries
**
** They are AM_HTTP_INLINE: they run on the event-loop thread that read the
** request, so a handler pool full of slow handlers never delays them. That
** is safe because they never block: encoding takes only read locks, so
** scrapes run in parallel with each other and with the agents' updates.
*/
#include <stdio.h>

#include "agentmon/expose.h"
#include "agentmon/timer.h"
#include "../util/error.h"
#include "negotiate.h"
#include "server.h"

static void encode(am_http_req *req, am_http_resp *resp, am_format f)
{
    am_http *h = req->h;
    char *text;
    size_t len;
    am_err rc = am_encode(h->regs, h->n_regs, f, &text, &len);
    if (rc) {
        am_http_resp_error(resp, 503, "internal", am_errmsg());
        return;
    }
    am_http_resp_body_take(resp, am_format_content_type(f), text, len);
}

static void metrics(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)ud;
    encode(req, resp, am__negotiate_format(am_http_req_header(req, "Accept")));
}

static void snapshot(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)ud;
    encode(req, resp, AM_FORMAT_JSON);
}

static void health(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)ud;
    char body[160];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"ok\",\"version\":\"%s\",\"uptime_seconds\":%.3f}\n",
                     am_version(), am_unix_time() - req->h->started);
    am_http_resp_body(resp, "application/json", body, (size_t)n);
}

am_err am__http_builtin_routes(am_http *h, const am_http_auth *auth)
{
    const unsigned m = AM_HTTP_GET | AM_HTTP_INLINE;
    am_err rc;
    if ((rc = am_http_route(h, m, "/metrics", metrics, NULL, auth)) ||
        (rc = am_http_route(h, m, "/health", health, NULL, auth)) ||
        (rc = am_http_route(h, m, "/snapshot", snapshot, NULL, auth)))
        return rc;
    return AM_OK;
}
