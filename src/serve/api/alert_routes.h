/*
** alert_routes.h: the collector's alerting routes that are not
** Prometheus' query API (promql_routes.h has those):
**
**   GET    /api/v1/alerts/history      what fired when: state changes, oldest
**                                      first, paged (Link / X-Next-Cursor);
**                                      start, end, limit, cursor, and any
**                                      column as a filter (alert_name,
**                                      fingerprint, state, ...)
**   POST   /api/v1/alerts              alerts in, as Alertmanager's API v2
**          /api/v2/alerts              takes them ([{labels, annotations,
**                                      startsAt, endsAt, generatorURL}]):
**                                      agents' events made alerts; a
**                                      Prometheus may send here too
**   GET    /api/v2/alerts              the alerts the notifier holds, with
**                                      their silenced/inhibited status
**   POST   /api/v1/silences            a silence (Alertmanager's JSON); an
**          /api/v2/silences            id replaces that silence
**   GET    /api/v1/silences[/{id}]     silences, newest first
**          /api/v2/silences, /api/v2/silence/{id}
**   DELETE /api/v1/silences/{id}       expire it
**          /api/v2/silence/{id}
**
** Errors are the API's JSON ({"status":"error",...}): 400 naming the
** parameter or field, 404 for an unknown silence, 503 with Retry-After
** when the store or the notifier cannot answer.
*/
#ifndef AM_SERVE_ALERT_ROUTES_H
#define AM_SERVE_ALERT_ROUTES_H

#include <stdatomic.h>

#include "agentmon/http.h"
#include "../../alert/notify/notify.h"
#include "../store/store.h"

typedef struct am_alert_api {
    am_store *store;                /* borrowed; NULL: no history (the demo) */
    _Atomic(am_notify *) notify;    /* NULL until the notifier runs (503) */
    const am_http_auth *read_auth;  /* GET; NULL: open */
    const am_http_auth *write_auth; /* POST, DELETE; NULL: open */
} am_alert_api;

/* Add the routes to h; api must outlive h. */
am_err am__alert_routes_add(am_http *h, am_alert_api *api);

#endif
