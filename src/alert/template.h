/*
** template.h: the Go text/template subset Prometheus' alert templates use.
**
** A template is parsed once at load (a template that does not parse
** refuses its rule file, naming the line) and expanded at each evaluation
** with the alert's data: .Labels / $labels, .Value / $value,
** .ExternalLabels / $externalLabels, .ExternalURL / $externalURL, as
** Prometheus prepends "{{$labels := .Labels}}..." to every template.
**
** Supported: text, {{ pipelines }} with '|', variables ($x := / =),
** if / else if / else / end, with, range (over query results and maps),
** comments, trim markers {{- -}}, literals (strings, raw strings,
** numbers, chars, true/false/nil), field chains (.Labels.job,
** $labels.job), parenthesised pipelines; functions: and or not eq ne lt
** le gt ge len index print printf println html urlquery, and Prometheus'
** query first label value strvalue sortByLabel humanize humanize1024
** humanizeDuration humanizePercentage humanizeTimestamp title toUpper
** toLower match reReplaceAll safeHtml stripPort externalURL pathPrefix
** tableLink graphLink parseDuration args. Anything else is refused at
** parse time.
**
** A parsed template is immutable and may be expanded from several
** threads at once.
*/
#ifndef AM_ALERT_TEMPLATE_H
#define AM_ALERT_TEMPLATE_H

#include <stdint.h>

#include "../util/buf.h"
#include "alert.h"
#include "labels.h"

typedef struct am_tmpl am_tmpl;

/*
** Parse text as the template called name ("__alert_HighLoad"), with
** Prometheus' variable definitions in front. On failure returns AM_EINVAL
** with Go's form of the message in err: "template: NAME:LINE: what".
** out: owned result, free with am__tmpl_free.
*/
am_err am__tmpl_parse(const char *name, const char *text, am_tmpl **out, char *err, size_t cap);
void am__tmpl_free(am_tmpl *t);

typedef struct am_tmpl_data {
    const am_lset *labels;          /* the alert's sample labels */
    const am_lset *external_labels; /* may be NULL */
    const char *external_url;       /* may be NULL */
    double value;
    int64_t ts_ms; /* evaluation time, for query */
    am_tsdb *db;   /* for query; NULL refuses it at run time */
    const am_promql_opts *qopts;
} am_tmpl_data;

/*
** Expand t with d, appending to out. On a run-time error (a failing
** query, a bad comparison) returns AM_EINVAL with Go's message in err;
** out then holds what was written before the error.
*/
am_err am__tmpl_expand(const am_tmpl *t, const am_tmpl_data *d, am_buf *out, char *err, size_t cap);

#endif
