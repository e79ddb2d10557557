/*
** routes.c: the collector's HTTP API (see routes.h). The handlers only
** translate: bodies go through events.c, parameters through params.c, and
** the store's results through results_json.c.
*/
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agentmon/timer.h"
#include "../../util/alloc.h"
#include "../../util/buf.h"
#include "../../util/error.h"
#include "../../util/render.h"
#include "../../util/gzip.h"
#include "../ingest/events.h"
#include "params.h"
#include "results_json.h"
#include "routes.h"
#include "reply.h"

/* The status for a store error, and the error type Prometheus' API uses. */
static void store_error(am_http_resp *resp, am_err rc)
{
    switch (rc) {
    case AM_EINVAL:
    case AM_ELIMIT:
        am_http_resp_error(resp, 400, "bad_data", am_errmsg());
        break;
    case AM_EFULL:
    case AM_ETIMEDOUT:
    case AM_EIO:
        am_http_resp_header(resp, "Retry-After", "1");
        am_http_resp_error(resp, 503, "unavailable", am_errmsg());
        break;
    default:
        am_http_resp_error(resp, 500, "internal", am_errmsg());
    }
}

/* ---- POST /api/v1/events ------------------------------------------ */

static void reply_ingest(am_http_resp *resp, const am_events *ev)
{
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_printf(&b, "{\"accepted\":%zu,\"rejected\":[", ev->n_recs);
    for (size_t i = 0; i < ev->n_rejects; i++) {
        am_buf_printf(&b, "%s{\"index\":%zu,\"error\":", i ? "," : "", ev->rejects[i].index);
        am__buf_json_string(&b, ev->rejects[i].error, strlen(ev->rejects[i].error));
        am_buf_putc(&b, '}');
    }
    am_buf_puts(&b, "]}");
    /* nothing taken: the request as a whole was bad */
    am__http_reply_json(resp, ev->n_recs ? 200 : 400, &b);
}

#define TRIM_AFTER_BYTES (1u << 20)

/*
** What decoding cannot know: an event older than the retention (deleted
** at once, were it stored) or far ahead of this clock, and a metric event
** the collector could not apply (it would be acknowledged and move
** nothing), are rejected like any bad event.
*/
static am_err admit(am_routes *r, am_events *ev)
{
    double now = am_unix_time();
    for (size_t k = ev->n_recs; k-- > 0;) {
        const am_record *rec = &ev->recs[k];
        double ts = rec->vals[1].v.d; /* every table's column 1 is its timestamp */
        am_err rc = AM_OK;
        if (r->retention_s > 0 && ts < now - r->retention_s)
            rc = am__events_drop(ev, k, "field \"timestamp\" is older than the retention (%g s)",
                                 r->retention_s);
        else if (ts > now + AM_ROUTES_MAX_AHEAD_S)
            rc = am__events_drop(ev, k,
                                 "field \"timestamp\" is %.0f s ahead of the collector's clock "
                                 "(at most %.0f s are allowed)",
                                 ts - now, AM_ROUTES_MAX_AHEAD_S);
        else if (am__event_metrics_check(r->metrics, rec) == AM_EINVAL)
            rc = am__events_drop(ev, k, "cannot be applied: %s", am_errmsg());
        if (rc)
            return rc;
    }
    return AM_OK;
}

/*
** The commit did not come in time: take the events back if the writer has
** not started on them, so that "not acknowledged" means "not stored";
** else say that they may still be stored, and that resending them with
** their ids stores them once.
*/
static am_err gave_up(am_routes *r, uint64_t ticket, double wait_s)
{
    am_err c = am_store_cancel(r->store, ticket);
    if (c == AM_OK)
        return am__err(AM_ETIMEDOUT,
                       "the store did not start writing these events within %g s: none of "
                       "them was stored; send them again",
                       wait_s);
    if (c == AM_EEXIST) /* finished meanwhile: committed, or failed */
        return am_store_wait(r->store, ticket, 0);
    return am__err(AM_ETIMEDOUT,
                   "the store is writing these events but did not commit them within %g s: "
                   "they may yet be stored; send them again with the same ids (an id is "
                   "stored once)",
                   wait_s);
}

/*
** One ingest between its submit and its answer. The HTTP handler does not
** wait for the commit: it submits with am_store_submit_then() and defers
** its answer (am_http_req_defer), which the store's writer gives once the batch
** is committed or failed -- or the server's deadline thread, after
** ack_timeout_s. The job lives until both are done with it (free_job).
*/
typedef struct ingest_job {
    am_store_watch w; /* the submit's; w.ticket for gave_up() */
    am_routes *r;
    am_events ev;   /* its records point into the request's body or inflated */
    char *inflated; /* owned, or NULL */
    size_t len;     /* of the body */
    double wait_s;  /* ack_timeout_s */
    am_http_later *later;
} ingest_job;

static void free_job(void *ud)
{
    ingest_job *j = ud;
    am__events_free(&j->ev);
    am__free(j->inflated);
    /* glibc keeps what a thread freed in that thread's arena, so after a
       large request every thread would sit on its own peak: give the free
       pages back now */
    if (j->len >= TRIM_AFTER_BYTES)
        malloc_trim(0);
    am__free(j);
}

/* The answer, once the store said rc (AM_ETIMEDOUT: nothing in time). */
static void answer_job(am_http_resp *resp, void *ud, am_err rc)
{
    ingest_job *j = ud;
    am_routes *r = j->r;
    if (rc == AM_ETIMEDOUT)
        rc = gave_up(r, j->w.ticket, j->wait_s);
    if (rc == AM_ELIMIT) {
        am_http_resp_error(resp, 413, "bad_data", am_errmsg());
        return;
    }
    if (rc) {
        /* acknowledged means committed: not committed, not acknowledged */
        store_error(resp, rc);
        return;
    }
    for (size_t i = 0; i < j->ev.n_recs; i++) {
        am_err a = am__event_metrics_apply(r->metrics, &j->ev.recs[i]);
        am__event_metrics_stored(r->metrics, "http", j->ev.recs[i].table);
        if (a && a != AM_ELIMIT) /* admit() saw the state before this request */
            am__event_metrics_unapplied(r->metrics, "http", j->ev.recs[i].table);
    }
    reply_ingest(resp, &j->ev);
}

static void stored(void *ud, am_err rc)
{
    ingest_job *j = ud;
    am_http_later_answer(j->later, rc);
}

/* Decode, store and answer (now, or deferred until the commit); body is
   the request's or inflated (taken: freed here or by the job). */
static void ingest(am_routes *r, am_http_req *req, char *body, size_t len, char *inflated,
                   bool ndjson, am_routes_decode_fn decode, am_http_resp *resp)
{
    ingest_job *j = am__calloc(1, sizeof *j);
    if (!j) {
        am__free(inflated);
        am_http_resp_error(resp, 503, "internal", "out of memory");
        return;
    }
    *j = (ingest_job){.r = r,
                      .inflated = inflated,
                      .len = len,
                      .wait_s = r->ack_timeout_s > 0 ? r->ack_timeout_s : 30};
    am_err rc = decode(body, len, ndjson, am_unix_time(), &j->ev);
    if (rc) {
        am__event_metrics_received(r->metrics, "http", 1, 1);
        am_http_resp_error(resp,
                           rc == AM_ELIMIT   ? 413
                           : rc == AM_ENOMEM ? 500
                                             : 400,
                           "bad_data", am_errmsg());
        free_job(j);
        return;
    }
    rc = admit(r, &j->ev);
    am__event_metrics_received(r->metrics, "http", j->ev.n_events, j->ev.n_rejects);
    if (rc || !j->ev.n_recs) {
        if (rc)
            store_error(resp, rc);
        else
            reply_ingest(resp, &j->ev);
        free_job(j);
        return;
    }
    if ((rc = am_http_req_defer(req, j->wait_s, answer_job, free_job, j, &j->later))) {
        am_http_resp_error(resp, rc == AM_ENOMEM ? 503 : 500, "internal", am_errmsg());
        free_job(j);
        return;
    }
    /* from here the job is the token's: stored() or this answers it */
    if ((rc = am_store_submit_then(r->store, j->ev.recs, j->ev.n_recs, &j->w, stored, j)))
        am_http_later_answer(j->later, rc);
}

void am__routes_post(am_http_req *req, am_http_resp *resp, am_routes *r, am_routes_decode_fn decode)
{
    size_t len;
    char *body = am_http_req_body_mut(req, &len);
    char empty[1] = "";
    const char *ct = am_http_req_header(req, "Content-Type");
    bool ndjson = ct && (strncasecmp(ct, "application/x-ndjson", 20) == 0 ||
                         strncasecmp(ct, "application/jsonl", 17) == 0);
    const char *enc = am_http_req_header(req, "Content-Encoding");
    if (!enc || strcasecmp(enc, "identity") == 0) {
        ingest(r, req, body ? body : empty, len, NULL, ndjson, decode, resp);
        return;
    }
    if (strcasecmp(enc, "gzip") != 0) {
        am_http_resp_error(resp, 415, "bad_data", "Content-Encoding must be gzip or identity");
        return;
    }
    char *inflated;
    am_err rc = am__gunzip(body ? body : empty, len, AM_ROUTES_MAX_INFLATED, &inflated, &len);
    if (rc) {
        am_http_resp_error(resp, rc == AM_ELIMIT ? 413 : 400, "bad_data", am_errmsg());
        return;
    }
    ingest(r, req, inflated, len, inflated, ndjson, decode, resp);
}

static void post_events(am_http_req *req, am_http_resp *resp, void *ud)
{
    am__routes_post(req, resp, ud, am__events_decode);
}

/* ---- queries ------------------------------------------------------ */

#define MAX_PARAMS 256

typedef struct req_params {
    const char *names[MAX_PARAMS], *values[MAX_PARAMS];
    am_params p;
} req_params;

static bool gather(am_http_req *req, am_http_resp *resp, req_params *rp)
{
    size_t n = am_http_req_query_count(req);
    if (n > MAX_PARAMS) {
        am_http_resp_error(resp, 400, "bad_data", "more than 256 query parameters");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        rp->names[i] = am_http_req_query_name(req, i);
        rp->values[i] = am_http_req_query_value(req, i);
    }
    rp->p = (am_params){rp->names, rp->values, n, am_unix_time()};
    return true;
}

static const am_table *table_of(am_http_req *req, am_http_resp *resp)
{
    const char *type = am_http_req_param(req, "type");
    const am_table *t = am_table_by_api_name(type);
    if (!t) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "no metric type \"%.64s\": communication, system, agent, task, llm or metric",
                 type ? type : "");
        am_http_resp_error(resp, 404, "not_found", msg);
    }
    return t;
}

void am__routes_next_page(am_http_resp *resp, const char *path, const char *const *names,
                          const char *const *values, size_t n, const char *next)
{
    am_http_resp_header(resp, "X-Next-Cursor", next);
    am_buf link;
    am_buf_init(&link, 0);
    am_buf_printf(&link, "<%s?", path);
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], "cursor") != 0) {
            am_buf_puts(&link, names[i]);
            am_buf_putc(&link, '=');
            for (const char *s = values[i]; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-_.~", c))
                    am_buf_putc(&link, (char)c);
                else
                    am_buf_printf(&link, "%%%02X", c);
            }
            am_buf_putc(&link, '&');
        }
    am_buf_printf(&link, "cursor=%s>; rel=\"next\"", next);
    if (!am_buf_err(&link))
        am_http_resp_header(resp, "Link", link.p);
    am_buf_free(&link);
}

static void get_rows(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_routes *r = ud;
    const am_table *t = table_of(req, resp);
    req_params rp;
    if (!t || !gather(req, resp, &rp))
        return;
    am_store_query q;
    am_params_mem mem;
    am_err rc = am__params_select(t, &rp.p, &q, &mem);
    if (rc) {
        am_http_resp_error(resp, 400, "bad_data", am_errmsg());
        return;
    }
    am_buf b;
    am_buf_init(&b, 0);
    size_t n;
    char next[AM_STORE_CURSOR_MAX];
    rc = am__json_select(r->store, &q, &b, &n, next);
    am__params_free(&mem);
    if (rc) {
        am_buf_free(&b);
        store_error(resp, rc);
        return;
    }
    if (next[0]) {
        /* the slice's client wants the rows as the body: the next page goes
           in headers, as GitHub's API does it */
        char path[128];
        snprintf(path, sizeof path, "/api/v1/metrics/%s", t->api_name);
        am__routes_next_page(resp, path, rp.names, rp.values, rp.p.n, next);
    }
    am__http_reply_json(resp, 200, &b);
}

/* {"status":"success","data":<what the store wrote>} */
static void wrapped(am_http_resp *resp, am_err rc, am_buf *b)
{
    if (rc) {
        am_buf_free(b);
        store_error(resp, rc);
        return;
    }
    am_buf_puts(b, "}");
    am__http_reply_json(resp, 200, b);
}

static void get_summary(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_routes *r = ud;
    const am_table *t = table_of(req, resp);
    req_params rp;
    if (!t || !gather(req, resp, &rp))
        return;
    if (t->value_col < 0) {
        am_http_resp_error(resp, 404, "not_found", "this type has no summary");
        return;
    }
    am_store_summary q;
    am_params_mem mem;
    if (am__params_summary(t, &rp.p, &q, &mem)) {
        am_http_resp_error(resp, 400, "bad_data", am_errmsg());
        return;
    }
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":");
    am_err rc = am__json_summary(r->store, &q, &b);
    am__params_free(&mem);
    wrapped(resp, rc, &b);
}

static void get_series(am_http_req *req, am_http_resp *resp, void *ud)
{
    am_routes *r = ud;
    req_params rp;
    if (!gather(req, resp, &rp))
        return;
    am_store_series q;
    am_params_mem mem;
    if (am__params_series(&rp.p, &q, &mem)) {
        am_http_resp_error(resp, 400, "bad_data", am_errmsg());
        return;
    }
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":");
    am_err rc = am__json_series(r->store, &q, &b);
    am__params_free(&mem);
    wrapped(resp, rc, &b);
}

am_err am__routes_add(am_http *h, am_routes *r)
{
    am_err rc;
    /* a small body is decoded on the event loop, and the answer deferred
       to the commit (am_http_req_defer): no thread waits for the store */
    if ((rc = am_http_route(h, AM_HTTP_POST | AM_HTTP_LOOP_SMALL, "/api/v1/events", post_events, r,
                            r->write_auth)) ||
        (rc = am_http_route(h, AM_HTTP_GET, "/api/v1/metrics/{type}/summary", get_summary, r,
                            r->read_auth)) ||
        (rc = am_http_route(h, AM_HTTP_GET, "/api/v1/metrics/{type}", get_rows, r, r->read_auth)) ||
        (rc = am_http_route(h, AM_HTTP_GET, "/api/v1/series", get_series, r, r->read_auth)) ||
        (rc = am__log_routes_add(h, r)))
        return rc;
    return AM_OK;
}
