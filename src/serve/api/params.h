/*
** params.h: the query API's parameters -> store queries.
**
**   /api/v1/metrics/{type}          start end (or start_time end_time, the
**                                   slice's names), limit, cursor, filters
**                                   (a JSON object, as the slice's client
**                                   sends), and column=value for any column
**   /api/v1/metrics/{type}/summary  the same, and group_by (columns, comma-
**                                   separated or repeated) and step
**   /api/v1/series                  name, match[] (repeated: {a="b",c="d"},
**                                   a="b", or a=b; a metric name before
**                                   the braces is the name), start, end, step
**
** Times are RFC 3339 or unix seconds; durations seconds or Prometheus
** units (5m). Every refusal is AM_EINVAL with a message that starts with
** the parameter's name, for the 400 the HTTP layer sends.
*/
#ifndef AM_SERVE_PARAMS_H
#define AM_SERVE_PARAMS_H

#include <stddef.h>

#include "agentmon/common.h"
#include "../store/store.h"

#define AM_PARAMS_DEFAULT_LIMIT 1000
#define AM_PARAMS_DEFAULT_RANGE 3600.0 /* summaries and series: the last hour */

/* The parameters of a request, as decoded name/value pairs (borrowed). */
typedef struct am_params {
    const char *const *names;
    const char *const *values;
    size_t n;
    double now; /* the end of a range that gives none */
} am_params;

/* Strings a parsed query points into (filters made from JSON, time
   filters rewritten as unix seconds); free with am__params_free(). */
typedef struct am_params_mem {
    char *blocks[AM_STORE_MAX_FILTERS + 1];
    size_t n;
} am_params_mem;

am_err am__params_select(const am_table *t, const am_params *p, am_store_query *q,
                         am_params_mem *mem);
am_err am__params_summary(const am_table *t, const am_params *p, am_store_summary *q,
                          am_params_mem *mem);
am_err am__params_series(const am_params *p, am_store_series *q, am_params_mem *mem);
void am__params_free(am_params_mem *mem);

#endif
