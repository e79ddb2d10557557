/*
** dashboard.h: the web dashboard at "/" of `agentmon serve` and `agentmon
** demo` (docs/DASHBOARD.md), and the routes only it needs:
**
**   GET  /                          the page (web/index.html)
**   GET  /ui/{name}                 its scripts, styles, panels.json, Chart.js
**   GET  /api/v1/dashboard          what this server offers the page: a store,
**                                   a coordinator, log lines, the LLM prices
**   GET  /api/v1/dlq/{agent}        dead letters (coordinator only), ?limit=
**   POST /api/v1/dlq/{agent}/replay ?id= one, or all; write credentials
**   POST /api/v1/dlq/{agent}/purge  every dead letter; write credentials
**   GET  /api/v1/logs               ?trace_id=&limit=: the log file's lines
**                                   (log file only), newest last
**
** Everything else the page draws comes from the query API that is already
** there (PromQL, and the store's rows and summaries in `serve`).
*/
#ifndef AM_WEB_DASHBOARD_H
#define AM_WEB_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/coord.h"
#include "agentmon/http.h"

struct am_buf;

/* An LLM price: money per million tokens, in and out. */
typedef struct am_llm_price {
    char provider[64], model[128];
    double input, output;
} am_llm_price;

#define AM_DASHBOARD_MAX_PRICES 64

typedef struct am_dashboard {
    const char *title;              /* "agentmon demo", "agentmon serve" */
    const am_http_auth *read_auth;  /* NULL: open */
    const am_http_auth *write_auth; /* the DLQ actions; NULL: open */
    bool has_store;                 /* /api/v1/metrics/... answer */
    am_coord *coord;                /* borrowed; NULL: no DLQ routes */
    const char *log_path;           /* JSON log lines to search; NULL: none */
    bool has_logs;                  /* /api/v1/logs is answered elsewhere (serve's store) */
    double sample_interval_s;       /* how often the PromQL window gets samples; 0: 15 */
    const char *currency;           /* of prices; NULL: "USD" */
    am_llm_price prices[AM_DASHBOARD_MAX_PRICES];
    size_t n_prices; /* 0: the documented example prices */
} am_dashboard;

/* Add the routes above to h. d is borrowed and must outlive h. */
am_err am__dashboard_routes_add(am_http *h, const am_dashboard *d);

/*
** Parse one --llm-price value, "PROVIDER/MODEL=INPUT,OUTPUT" (money per
** million tokens), into d's table. AM_EINVAL with a message naming what is
** wrong; AM_ELIMIT when the table is full. d is unchanged on error.
*/
am_err am__dashboard_price_add(am_dashboard *d, const char *spec);

/*
** The log-line search behind /api/v1/logs, on text (a file's tail):
** append to out, as a JSON array, the last max lines that are JSON objects
** and, when trace_id is not NULL, hold "trace_id":"<trace_id>". A partial
** first line is skipped. Lines that are not JSON objects are skipped.
*/
void am__logs_filter(const char *text, size_t len, const char *trace_id, size_t max,
                     struct am_buf *out);

/* The parts of am__dashboard_routes_add(): dlq.c and logs.c. */
am_err am__dlq_routes_add(am_http *h, const am_dashboard *d);
am_err am__logs_routes_add(am_http *h, const am_dashboard *d);

/* The "limit" query parameter: *out = def when absent; false after
   answering 400 when it is not a whole number in 1..max. */
bool am__web_limit(am_http_req *req, am_http_resp *resp, size_t def, size_t max, size_t *out);

/* A trace id as the page may send it: 32 hex digits or a UUID. */
bool am__trace_id_valid(const char *s);

#endif
