/*
** log_routes.c: the collector's log lines, for the dashboard's trace page.
**
**   POST /api/v1/logs   NDJSON of agentmon's JSON log lines (log_lines.h),
**                       as an agent's log shipper sends them: write
**                       credentials, gzip, the limits and 200-after-commit
**                       of POST /api/v1/events (routes.c's am__routes_post)
**   GET  /api/v1/logs   ?trace_id=ID&limit=N (read credentials): the
**                       stored lines of that trace, oldest first -- the
**                       last N of them; without trace_id, the last N lines
**                       of the past LOGS_RECENT_S seconds.
**   {"status":"success","data":[{"timestamp":..,"level":..,"component":..,
**     "message":..,"trace_id":..,"span_id":..,<the line's other fields>}]}
**
** The answer has the shape of `agentmon demo`'s (src/web/logs.c, which
** searches its log file), so the page reads either: each line as it was
** written, its fields back at the top level. The lines of a trace come
** from the log_lines (trace_id, timestamp) index.
**
** DESIGN. The store reads oldest first in pages; "the last N" keeps a
** ring of the N last rendered lines while paging (at most LOGS_MAX_PAGES
** pages of 10,000), so memory is N lines whatever the range holds.
** Threads: a request's own, on the store's reader connection.
*/
#include <math.h>
#include <string.h>

#include "reply.h"
#include "../../util/alloc.h"
#include "../../util/buf.h"
#include "../../util/civil.h"
#include "../../util/error.h"
#include "../../util/render.h"
#include "agentmon/timer.h"
#include "../../web/dashboard.h"
#include "../ingest/log_lines.h"
#include "routes.h"

#define LOGS_DEFAULT_LIMIT 200
#define LOGS_MAX_LIMIT 2000
#define LOGS_RECENT_S 900.0
#define LOGS_PAGE 10000
#define LOGS_MAX_PAGES 20

static am_err decode_logs(char *body, size_t len, bool ndjson, double now, am_events *out)
{
    (void)ndjson; /* always one line per line */
    return am__log_lines_decode(body, len, now, out);
}

static void post_logs(am_http_req *req, am_http_resp *resp, void *ud)
{
    am__routes_post(req, resp, ud, decode_logs);
}

/* The last `cap` lines rendered, oldest at `first`. */
typedef struct ring {
    am_buf *line;
    size_t cap, n, first;
} ring;

static void put_text(am_buf *b, const char *key, const am_value *v)
{
    if (v->is_null || !v->v.s)
        return;
    am_buf_printf(b, ",\"%s\":", key);
    am__buf_json_string(b, v->v.s, strlen(v->v.s));
}

static int on_row(void *ud, const am_table *t, const am_value *vals)
{
    (void)t;
    ring *r = ud;
    am_buf *b = &r->line[(r->first + r->n) % r->cap];
    if (r->n == r->cap)
        r->first = (r->first + 1) % r->cap; /* overwrite the oldest */
    else
        r->n++;
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
    char ts[25];
    am__rfc3339_ms(vals[AM_LOG_TIMESTAMP].v.d, ts);
    am_buf_printf(b, "{\"timestamp\":\"%s\"", ts);
    put_text(b, "level", &vals[AM_LOG_LEVEL]);
    put_text(b, "component", &vals[AM_LOG_COMPONENT]);
    put_text(b, "message", &vals[AM_LOG_MESSAGE]);
    put_text(b, "trace_id", &vals[AM_LOG_TRACE_ID]);
    put_text(b, "span_id", &vals[AM_LOG_SPAN_ID]);
    put_text(b, "agent_id", &vals[AM_LOG_AGENT_ID]);
    const am_value *f = &vals[AM_LOG_FIELDS];
    size_t n = f->is_null || !f->v.s ? 0 : strlen(f->v.s);
    if (n > 2) { /* "{...}": its members join the line's */
        am_buf_putc(b, ',');
        am_buf_append(b, f->v.s + 1, n - 2);
    }
    am_buf_putc(b, '}');
    return am_buf_err(b) ? AM_ENOMEM : 0;
}

/* A trace id as the page sends it, as the store keeps it: 32 lowercase
   hex digits (a UUID's dashes dropped). */
static void normalize(const char *in, char out[33])
{
    size_t j = 0;
    for (size_t i = 0; in[i] && j < 32; i++)
        if (in[i] != '-')
            out[j++] = (char)(in[i] >= 'A' && in[i] <= 'F' ? in[i] - 'A' + 'a' : in[i]);
    out[j] = '\0';
}

static void get_logs(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_routes *rt = ud;
    const char *trace_id = am_http_req_query(req, "trace_id");
    if (trace_id && !am__trace_id_valid(trace_id)) {
        am_http_resp_error(resp, 400, "bad_data",
                           "trace_id: 32 hex digits (W3C traceparent) or a UUID");
        return;
    }
    size_t limit;
    if (!am__web_limit(req, resp, LOGS_DEFAULT_LIMIT, LOGS_MAX_LIMIT, &limit))
        return;
    char hex[33];
    am_store_query q = {.table = AM_T_LOG, .start = NAN, .end = NAN, .limit = LOGS_PAGE};
    if (trace_id) {
        normalize(trace_id, hex);
        q.filters[q.n_filters++] = (am_store_filter){AM_LOG_TRACE_ID, hex};
    } else {
        q.start = am_unix_time() - LOGS_RECENT_S;
    }
    ring r = {am__calloc(limit, sizeof(am_buf)), limit, 0, 0};
    if (!r.line) {
        am_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    for (size_t i = 0; i < limit; i++)
        am_buf_init(&r.line[i], 0);
    char cur[AM_STORE_CURSOR_MAX] = "", next[AM_STORE_CURSOR_MAX];
    am_err rc = AM_OK;
    q.cursor = cur;
    for (int page = 0; page < LOGS_MAX_PAGES && !rc; page++) {
        size_t n_rows;
        rc = am_store_select(rt->store, &q, on_row, &r, &n_rows, next);
        if (rc || !next[0])
            break;
        memcpy(cur, next, sizeof cur);
    }
    if (rc) {
        am_http_resp_error(resp, rc == AM_ENOMEM ? 500 : 503,
                           rc == AM_ENOMEM ? "internal" : "unavailable", am_errmsg());
    } else {
        am_buf b;
        am_buf_init(&b, 0);
        am_buf_puts(&b, "{\"status\":\"success\",\"data\":[");
        for (size_t i = 0; i < r.n; i++) {
            const am_buf *l = &r.line[(r.first + i) % r.cap];
            if (i)
                am_buf_putc(&b, ',');
            am_buf_append(&b, l->p, l->len);
        }
        am_buf_puts(&b, "]}");
        am__http_reply_json(resp, 200, &b);
    }
    for (size_t i = 0; i < limit; i++)
        am_buf_free(&r.line[i]);
    am__free(r.line);
}

am_err am__log_routes_add(am_http *h, am_routes *r)
{
    am_err rc = am_http_route(h, AM_HTTP_POST | AM_HTTP_LOOP_SMALL, "/api/v1/logs", post_logs, r,
                              r->write_auth);
    return rc ? rc : am_http_route(h, AM_HTTP_GET, "/api/v1/logs", get_logs, r, r->read_auth);
}
