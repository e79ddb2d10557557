/*
** expo_parse.h: reading exposition text -- Prometheus text format 0.0.4 and
** OpenMetrics 1.0 -- one sample at a time.
**
**     am_expo_parser *p;
**     am__expo_parser_new(AM_EXPO_OPENMETRICS, NULL, &p);
**     while (chunk arrives) am__expo_feed(p, chunk, n, on_sample, ud);
**     am__expo_finish(p, on_sample, ud);
**     am__expo_parser_free(p);
**
** The callback sees each sample as it completes, with its family's name,
** type, help and unit; every string is borrowed for the call. Nothing is
** allocated per sample: a line is copied into one scratch buffer and
** unescaped there in place.
**
** A parse error is returned with am_errmsg() naming the line and the
** problem. Samples before the bad line have already been delivered, so a
** caller that must take a scrape whole or not at all (OpenMetrics says so;
** agentmon does the same for 0.0.4, as Prometheus does) runs the parse
** once without a callback to check it, then again to deliver.
*/
#ifndef AM_SERVE_EXPO_PARSE_H
#define AM_SERVE_EXPO_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/common.h"

typedef enum am_expo_format {
    AM_EXPO_AUTO = 0,    /* one-shot parse only: OpenMetrics iff it ends in # EOF */
    AM_EXPO_PROMETHEUS,  /* text/plain; version=0.0.4 */
    AM_EXPO_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
} am_expo_format;

typedef struct am_expo_opts {
    size_t max_line_bytes;        /* a longer line is refused (AM_ELIMIT) */
    size_t max_labels;            /* pairs on one sample */
    size_t max_label_value_bytes; /* one label value, escaped as sent */
} am_expo_opts;

#define AM_EXPO_OPTS_INIT                                                                          \
    {                                                                                              \
        1u << 20, 64, 16384                                                                        \
    }

typedef struct am_expo_sample {
    const char *family;             /* the family's name: "http_requests" for http_requests_total */
    const char *type;               /* counter, gauge, histogram, summary, untyped (0.0.4), */
                                    /* gaugehistogram, stateset, info, unknown (OpenMetrics) */
    const char *help;               /* unescaped; "" when there is none */
    const char *unit;               /* OpenMetrics UNIT; "" when there is none */
    const char *name;               /* the sample's name, suffix included */
    const char *const *label_names; /* unescaped, in the order sent */
    const char *const *label_values;
    size_t n_labels;
    double value;
    bool has_timestamp;
    double timestamp;  /* unix seconds (0.0.4 milliseconds are divided by 1000) */
    bool has_exemplar; /* OpenMetrics only */
    const char *const *ex_label_names;
    const char *const *ex_label_values;
    size_t ex_n_labels;
    double ex_value;
    bool ex_has_timestamp;
    double ex_timestamp; /* unix seconds */
    size_t line;         /* 1-based line number in the input */
} am_expo_sample;

/* Called per sample; s is borrowed for the call. Return 0 to go on, non-zero
   to stop: the parse then returns AM_OK and delivers nothing more. */
typedef int (*am_expo_cb)(void *ud, const am_expo_sample *s);

typedef struct am_expo_parser am_expo_parser;

/* A parser for format f (not AM_EXPO_AUTO); opts NULL for the defaults.
 *out: owned result, free with am__expo_parser_free(). AM_EINVAL, AM_ENOMEM. */
am_err am__expo_parser_new(am_expo_format f, const am_expo_opts *opts, am_expo_parser **out);
void am__expo_parser_free(am_expo_parser *p);

/* Feed the next n bytes (borrowed; any split, NULs refused). cb may be NULL to
   only check. Returns AM_OK, AM_EPROTO (malformed), AM_ELIMIT (a limit), or
   AM_ENOMEM; after an error every later call returns the same error. */
am_err am__expo_feed(am_expo_parser *p, const char *data, size_t n, am_expo_cb cb, void *ud);

/* The end of the input: the last line without a line feed, and for
   OpenMetrics the check that # EOF was seen. */
am_err am__expo_finish(am_expo_parser *p, am_expo_cb cb, void *ud);

/* Samples delivered (or checked, without a callback) so far. */
size_t am__expo_n_samples(const am_expo_parser *p);

/* The whole text in one call. f may be AM_EXPO_AUTO. *n_samples (optional)
   receives the count. Returns as am__expo_feed(). */
am_err am__expo_parse(const char *text, size_t len, am_expo_format f, const am_expo_opts *opts,
                      am_expo_cb cb, void *ud, size_t *n_samples);

/* The format a Content-Type names: OpenMetrics for application/openmetrics-text,
   0.0.4 for text/plain and anything else. */
am_expo_format am__expo_format_of(const char *content_type);

#endif
