/*
** dlq.c: the dead-letter queues over HTTP, for the dashboard's messaging
** page (and curl): list, replay, purge -- the coordinator API
** (am_coord_dlq_*) and nothing more, so that what the page does is exactly
** what `agentmon dlq` does.
**
**   GET  /api/v1/dlq/{agent}?limit=N      (read)  {"status":"success","data":[entries]}
**   POST /api/v1/dlq/{agent}/replay?id=ID (write) {"status":"success","data":{"replayed":n}}
**   POST /api/v1/dlq/{agent}/purge        (write) {"status":"success","data":{"purged":n}}
**
** The actions change state, so they are POSTs guarded by the write
** credentials (http_security.h); the page asks for confirmation first.
** Without id, replay moves every dead letter of the agent. An agent name
** is 1..AM_COORD_MAX_NAME bytes (the router has percent-decoded it). A
** dead letter's fields may hold any byte (a poison message edited in
** Redis): they are written as JSON strings with every byte escaped as
** needed, the payload too.
**
** Threading: the coordinator is thread-safe; handlers run on the HTTP
** pool. Ownership: the coordinator is borrowed from the am_dashboard.
*/
#include <string.h>

#include "../serve/api/reply.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/fmt.h"
#include "../util/render.h"
#include "dashboard.h"

#define DLQ_DEFAULT_LIMIT 100
#define DLQ_MAX_LIMIT 1000

static void coord_error(am_http_resp *resp, am_err rc)
{
    unsigned status = rc == AM_EINVAL ? 400 : rc == AM_ENOTFOUND ? 404 : rc == AM_EFULL ? 409 : 503;
    am_http_resp_error(resp, status,
                       status == 400   ? "bad_data"
                       : status == 404 ? "not_found"
                       : status == 409 ? "conflict"
                                       : "unavailable",
                       am_errmsg());
}

/* The {agent} parameter, or NULL after answering 400. */
static const char *agent_of(am_http_req *req, am_http_resp *resp)
{
    const char *a = am_http_req_param(req, "agent");
    if (!a || !*a || strlen(a) > AM_COORD_MAX_NAME) {
        am_http_resp_error(resp, 400, "bad_data", "agent: a name of 1..128 bytes");
        return NULL;
    }
    return a;
}

static void field(am_buf *b, const char *name, const char *s, size_t n)
{
    am_buf_printf(b, ",\"%s\":", name);
    am__buf_json_string(b, s ? s : "", s ? n : 0);
}

static void get_dlq(am_http_req *req, am_http_resp *resp, void *ud)
{
    const am_dashboard *d = ud;
    const char *agent = agent_of(req, resp);
    if (!agent)
        return;
    size_t limit;
    if (!am__web_limit(req, resp, DLQ_DEFAULT_LIMIT, DLQ_MAX_LIMIT, &limit))
        return;
    am_coord_dlq_entry *e = NULL;
    size_t n = 0;
    am_err rc = am_coord_dlq_list(d->coord, agent, limit, &e, &n);
    if (rc) {
        coord_error(resp, rc);
        return;
    }
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        am_buf_puts(&b, i ? ",{\"priority\":" : "{\"priority\":");
        am_buf_printf(&b, "%d,\"attempts\":%u,\"dead_at\":", e[i].priority, e[i].attempts);
        am__buf_double(&b, e[i].dead_at);
        field(&b, "id", e[i].id, e[i].lens[AM_DLQ_ID]);
        field(&b, "from", e[i].from, e[i].lens[AM_DLQ_FROM]);
        field(&b, "to", e[i].to, e[i].lens[AM_DLQ_TO]);
        field(&b, "type", e[i].type, e[i].lens[AM_DLQ_TYPE]);
        field(&b, "reason", e[i].reason, e[i].lens[AM_DLQ_REASON]);
        field(&b, "error", e[i].error, e[i].lens[AM_DLQ_ERROR]);
        field(&b, "payload", e[i].payload, e[i].len);
        am_buf_putc(&b, '}');
    }
    am_buf_puts(&b, "]}");
    am_coord_dlq_free(e, n);
    am__http_reply_json(resp, 200, &b);
}

static void post_replay(am_http_req *req, am_http_resp *resp, void *ud)
{
    const am_dashboard *d = ud;
    const char *agent = agent_of(req, resp);
    if (!agent)
        return;
    const char *id = am_http_req_query(req, "id");
    if (id && (!*id || strlen(id) > 4096)) {
        am_http_resp_error(resp, 400, "bad_data", "id: 1..4096 bytes, or no id for all");
        return;
    }
    size_t n = 0;
    am_err rc = am_coord_dlq_replay(d->coord, agent, id, &n);
    if (rc) {
        coord_error(resp, rc);
        return;
    }
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_printf(&b, "{\"status\":\"success\",\"data\":{\"replayed\":%zu}}", n);
    am__http_reply_json(resp, 200, &b);
}

static void post_purge(am_http_req *req, am_http_resp *resp, void *ud)
{
    const am_dashboard *d = ud;
    const char *agent = agent_of(req, resp);
    if (!agent)
        return;
    size_t n = 0;
    am_err rc = am_coord_dlq_purge(d->coord, agent, &n);
    if (rc) {
        coord_error(resp, rc);
        return;
    }
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_printf(&b, "{\"status\":\"success\",\"data\":{\"purged\":%zu}}", n);
    am__http_reply_json(resp, 200, &b);
}

am_err am__dlq_routes_add(am_http *h, const am_dashboard *d)
{
    void *ud = (void *)d;
    am_err rc;
    if ((rc = am_http_route(h, AM_HTTP_GET, "/api/v1/dlq/{agent}", get_dlq, ud, d->read_auth)) ||
        (rc = am_http_route(h, AM_HTTP_POST, "/api/v1/dlq/{agent}/replay", post_replay, ud,
                            d->write_auth)) ||
        (rc = am_http_route(h, AM_HTTP_POST, "/api/v1/dlq/{agent}/purge", post_purge, ud,
                            d->write_auth)))
        return rc;
    return AM_OK;
}
