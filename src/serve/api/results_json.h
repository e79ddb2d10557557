/*
** results_json.h: the store's results as the query API's JSON -- the one
** renderer of rows, summaries and series (the store itself returns values,
** store.h). tests/unit/golden/api_*.txt pin its output byte for byte.
**
**   rows      [{"id":..,"timestamp":"RFC 3339 UTC with ms",<column>:..},..]
**             TEXT as strings, INT and REAL as numbers (infinities as the
**             strings "+Inf" and "-Inf"), SQL NULL as null
**   summary   {"step":..,"groups":[{"group":{<column>:..},"points":[{"t":
**             "RFC 3339","count":..,"error_rate":..,"p50":..,"p95":..,
**             "p99":..}]}]} (error_rate null without an error column,
**             percentiles null without values)
**   series    {"series":[{"labels":{..},"points":[[t,v],..]}]} (t unix
**             seconds with ms, v a number or "NaN"/"+Inf"/"-Inf")
**
** Each appends to out and returns the store's error (out then as it was)
** or AM_ENOMEM when out cannot hold the result (out then carries its
** sticky error). Thread-safe as the store is.
*/
#ifndef AM_SERVE_RESULTS_JSON_H
#define AM_SERVE_RESULTS_JSON_H

#include "../../util/buf.h"
#include "../store/store.h"

/* GET /api/v1/metrics/{type}: *n_rows and next_cursor as am_store_select. */
am_err am__json_select(am_store *s, const am_store_query *q, am_buf *out, size_t *n_rows,
                       char next_cursor[AM_STORE_CURSOR_MAX]);
/* GET /api/v1/metrics/{type}/summary */
am_err am__json_summary(am_store *s, const am_store_summary *q, am_buf *out);
/* GET /api/v1/series */
am_err am__json_series(am_store *s, const am_store_series *q, am_buf *out);

#endif
