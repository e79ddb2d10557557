/*
** seriesdesc.h: promtool's series notation, for unit-test input_series.
**
**   series: 'http_requests_total{job="api", code="200"}'   (parser.ParseMetric)
**   values: '0+10x100 _ 3 stale _x5 1e3 -Inf'             (parser.ParseSeriesDesc)
**
** "a+bxn" is n+1 values a, a+b, ...; "axn" is n+1 copies of a; "_" leaves
** one step out and "_xn" n steps; "stale" is a staleness marker. Value i
** lands at i * interval.
*/
#ifndef AM_ALERT_SERIESDESC_H
#define AM_ALERT_SERIESDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/common.h"
#include "arena.h"
#include "labels.h"

typedef struct am_seqval {
    double v;
    bool is_omitted;
} am_seqval;

/*
** Parse a metric (name and/or {labels}) into a label set in arena a.
** Returns AM_EINVAL with a message in err ("1:5: parse error: ...").
*/
am_err am__parse_metric(const char *s, am_arena *a, am_lset **out, char *err, size_t cap);

/*
** Parse a value sequence into an array in a. At most max values
** (expansions included) are accepted: AM_ELIMIT past it.
*/
am_err am__parse_values(const char *s, am_arena *a, size_t max, am_seqval **out, size_t *n,
                        char *err, size_t cap);

#endif
