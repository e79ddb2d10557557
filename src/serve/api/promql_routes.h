/*
** promql_routes.h: Prometheus' HTTP API over the alerting window, so that
** what speaks to Prometheus (Grafana's Prometheus data source, promtool,
** curl scripts) speaks to `agentmon serve` and `agentmon demo`.
**
**   GET|POST /api/v1/query           instant query: query, time, timeout
**   GET|POST /api/v1/query_range     range query: query, start, end, step, timeout
**   GET|POST /api/v1/labels          label names: match[], start, end
**   GET      /api/v1/label/{name}/values
**   GET      /api/v1/rules           ?type=alert|record
**   GET      /api/v1/alerts          the rules' pending and firing alerts
**   GET      /api/v1/status/buildinfo, /api/v1/metadata, /api/v1/query_exemplars
**   GET      /-/ready, /-/healthy
**   POST|PUT /-/reload               rule files (and notifiers) again
**
** Answers are Prometheus 2.42's JSON: {"status":"success","data":...} or
** {"status":"error","errorType":...,"error":...} with its statuses: 400
** bad_data (a parameter, a query that does not parse), 422 execution (an
** evaluation error, or more samples than the budget), 503 unavailable
** (the engine not started yet). POST bodies are form-encoded, as
** Prometheus takes them; a body parameter wins over the URL's.
**
** Not here: Prometheus' /api/v1/series. The collector's GET /api/v1/series
** (routes.c, the store's samples) came first and takes the same
** parameters; Grafana, told version 2.42 by buildinfo, lists labels and
** values with match[] instead.
*/
#ifndef AM_SERVE_PROMQL_ROUTES_H
#define AM_SERVE_PROMQL_ROUTES_H

#include <stdatomic.h>

#include "agentmon/http.h"
#include "../../alert/service.h"
#include "../../util/buf.h"

typedef struct am_promql_api {
    _Atomic(am_alerting *) al; /* NULL until the engine runs (answers 503) */
    /* POST /-/reload: reload everything; problems to errs. NULL: 404s. */
    am_err (*reload)(void *ud, am_buf *errs);
    void *reload_ud;
    const am_http_auth *read_auth;  /* NULL: open */
    const am_http_auth *write_auth; /* /-/reload; NULL: open */
    int64_t max_window_ms;          /* queries may widen the window up to this; 0: 24 h */
    /* /api/v1/query_exemplars reads their exemplars (exemplars.h); borrowed */
    am_registry *const *registries;
    size_t n_registries;
} am_promql_api;

/* Add the routes to h; api must outlive h. */
am_err am__promql_routes_add(am_http *h, am_promql_api *api);

#endif
