/*
** routes.h: the collector's HTTP API on an am_http server.
**
**   POST /api/v1/events                  ingest (events.h); 200 once stored
**   GET  /api/v1/metrics/{type}          rows, paged (Link / X-Next-Cursor)
**   GET  /api/v1/metrics/{type}/summary  counts, error rate, percentiles
**   GET  /api/v1/series                  stored metric samples
**   POST /api/v1/logs                    JSON log lines (log_lines.h); 200 once stored
**   GET  /api/v1/logs                    ?trace_id=&limit=: the stored lines
**
** Errors are Prometheus API JSON ({"status":"error","errorType":..,
** "error":..}): 400 bad parameter or body (the message names it), 404
** unknown type, 413 too large, 415 unknown Content-Encoding, 503 with
** Retry-After when the store's queue is full or it cannot write.
*/
#ifndef AM_SERVE_ROUTES_H
#define AM_SERVE_ROUTES_H

#include "agentmon/http.h"
#include "../ingest/event_metrics.h"
#include "../ingest/events.h"
#include "../store/store.h"

#define AM_ROUTES_MAX_INFLATED (64u << 20) /* bytes a gzip body may inflate to */

typedef struct am_routes {
    am_store *store;                /* borrowed */
    am_event_metrics *metrics;      /* borrowed */
    double ack_timeout_s;           /* longest an ingest waits for its commit; 0 = 30 */
    const am_http_auth *read_auth;  /* what GET routes need; NULL: open (copied by am_http) */
    const am_http_auth *write_auth; /* what POST /api/v1/events needs; NULL: open */
    double retention_s;             /* events older than this are refused; 0: no bound */
} am_routes;

/* How far ahead of the collector's clock an event's timestamp may be. */
#define AM_ROUTES_MAX_AHEAD_S 3600.0

/* Add the routes above and log_routes.c's to h; r must outlive h. */
am_err am__routes_add(am_http *h, am_routes *r);

/*
** POST ingest: the body (gzip inflated) through decode, the records
** admitted (retention, clock), stored, and answered once committed --
** {"accepted":n,"rejected":[{"index","error"}]} -- as POST /api/v1/events
** is (events.h's decoder; log_routes.c's for log lines).
*/
typedef am_err (*am_routes_decode_fn)(char *body, size_t len, bool ndjson, double now,
                                      am_events *out);
void am__routes_post(am_http_req *req, am_http_resp *resp, am_routes *r,
                     am_routes_decode_fn decode);

/* POST and GET /api/v1/logs (log_routes.c). */
am_err am__log_routes_add(am_http *h, am_routes *r);

/* A page of rows has a next one: X-Next-Cursor and Link: <path?the
   request's parameters but cursor&cursor=next>; rel="next". */
void am__routes_next_page(am_http_resp *resp, const char *path, const char *const *names,
                          const char *const *values, size_t n, const char *next);

#endif
