/*
** promql_fmt.h: numbers and strings written and read the way Prometheus'
** Go code does, so that our output compares byte for byte with its own.
**
** am__fmt_go_f   strconv.FormatFloat(v, 'f', -1, 64): the API's sample values
** am__fmt_go_E   strconv.FormatFloat(v, 'E', -1, 64): promtool's %E in test output
** am__fmt_go_prec  fmt's %.<prec><verb> (g, e, f) with Go's NaN/+Inf/-Inf
** am__go_quote   strconv.Quote: label values in labels.String()
** am__go_parse_float  strconv.ParseFloat(s, 64): accepts what Go accepts, no more
** am__go_parse_duration  model.ParseDuration: 1h30m, 5m, 500ms, 2d, 1w, 1y
*/
#ifndef AM_ALERT_PROMQL_FMT_H
#define AM_ALERT_PROMQL_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"

/* Room for any formatted double. */
#define AM_GOFMT_MAX 400

size_t am__fmt_go_f(char *out, double v);
size_t am__fmt_go_E(char *out, double v);
size_t am__fmt_go_prec(char *out, size_t cap, double v, char verb, int prec);

void am__go_quote(am_buf *b, const char *s, size_t n);

/* Whole string s[0..n) as a Go float; false when Go would refuse it. */
bool am__go_parse_float(const char *s, size_t n, double *out);

/* Whole string s[0..n) as a Prometheus duration in ms; false when invalid. */
bool am__go_parse_duration(const char *s, size_t n, int64_t *ms);

/* A duration as model.Duration.String() writes it: 1h30m, 5m, 0s, 1d, 500ms. */
void am__fmt_go_duration(am_buf *b, int64_t ms);

#endif
