/*
** alert_routes.h: the collector's alerting routes that are not
** Prometheus' query API (promql_routes.h has those):
**
**   GET    /api/v1/alerts/history      what fired when: state changes, oldest
**                                      first, paged (Link / X-Next-Cursor);
**                                      start, end, limit, cursor, and any
**                                      column as a filter (alert_name,
**                                      fingerprint, state, ...)
**
** Errors are the API's JSON ({"status":"error",...}): 400 naming the
** parameter, 503 with Retry-After when the store cannot answer.
*/
#ifndef AM_SERVE_ALERT_ROUTES_H
#define AM_SERVE_ALERT_ROUTES_H

#include "agentmon/http.h"
#include "../store/store.h"

typedef struct am_alert_api {
    am_store *store;                /* borrowed */
    const am_http_auth *read_auth;  /* GET; NULL: open */
    const am_http_auth *write_auth; /* POST, DELETE; NULL: open */
} am_alert_api;

/* Add the routes to h; api must outlive h. */
am_err am__alert_routes_add(am_http *h, am_alert_api *api);

#endif
