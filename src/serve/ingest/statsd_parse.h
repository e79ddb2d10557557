/*
** statsd_parse.h: one StatsD / DogStatsD line, parsed without allocating,
** and the splitter that cuts a datagram into lines.
**
**     name:value[:value...]|type[|@rate][|#k:v,k2,...][|c:id][|T<unix>][|e:..][|card:..]
**
** Types: c (counter), g (gauge; a leading + or - makes the value a delta),
** ms (timer), h (histogram), d (distribution), s (set: the value is any
** text). The parsed line points into the caller's bytes (slices, not
** strings): it is valid while they are. Names and tag keys are kept raw;
** am__statsd_map_name() gives their Prometheus spelling.
*/
#ifndef AM_SERVE_STATSD_PARSE_H
#define AM_SERVE_STATSD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/common.h"
#include "agentmon/statsd.h" /* AM_STATSD_MAX_NAME, AM_STATSD_MAX_TAGS: one limit both ends */

#define AM_STATSD_MAX_VALUES 64 /* DogStatsD multi-value: name:1:2:3|d */
#define AM_STATSD_MAX_TAG 4096  /* bytes of one tag, = AM_MAX_LABEL_VALUE */
#define AM_STATSD_MAX_LINE 65536

typedef enum am_statsd_type {
    AM_STATSD_COUNTER = 1,
    AM_STATSD_GAUGE,
    AM_STATSD_TIMER,
    AM_STATSD_HISTOGRAM,
    AM_STATSD_DISTRIBUTION,
    AM_STATSD_SET
} am_statsd_type;

/* A slice of the input line; not NUL-terminated. */
typedef struct am_statsd_str {
    const char *p;
    size_t len;
} am_statsd_str;

typedef struct am_statsd_line {
    am_statsd_str name;
    am_statsd_type type;
    size_t n_values;
    double values[AM_STATSD_MAX_VALUES];     /* numeric types */
    am_statsd_str raw[AM_STATSD_MAX_VALUES]; /* each value's text (sets use it) */
    uint64_t delta_mask;                     /* gauges: bit i set when values[i] had a sign */
    double sample_rate;                      /* (0, 1]; 1 when absent */
    size_t n_tags;
    am_statsd_str tag_keys[AM_STATSD_MAX_TAGS];
    am_statsd_str tag_values[AM_STATSD_MAX_TAGS]; /* len 0 for a bare #k */
    am_statsd_str tags; /* the whole tag section, "" when none (a cache key) */
} am_statsd_line;

/*
** Parse one line s[0..len) (no newline). Returns AM_OK with *out filled;
** AM_EPROTO for a DogStatsD event (_e{...}) or service check (_sc|...),
** which are not metrics; AM_EINVAL for anything malformed, with
** am_errmsg() naming the problem. *out is unspecified on error.
** Thread-safe; allocates nothing.
*/
am_err am__statsd_parse(const char *s, size_t len, am_statsd_line *out);

/*
** The next line of a datagram: *pos advances past it. Empty lines (a
** trailing newline, "\n\n") are skipped and the '\r's before a '\n' (or
** the end) are dropped. Returns false when no line is left.
*/
bool am__statsd_next_line(const char *buf, size_t len, size_t *pos, am_statsd_str *line);

/*
** The Prometheus spelling of a StatsD name or tag key, as statsd_exporter
** escapes it: every character (UTF-8 sequence) outside [a-zA-Z0-9_]
** becomes one '_', and a leading digit gets a '_' in front. Writes at most
** cap - 1 bytes and a NUL when cap > 0; returns the full length, so a
** result >= cap means it did not fit.
*/
size_t am__statsd_map_name(const char *s, size_t len, char *out, size_t cap);

/* "c", "g", "ms", "h", "d" or "s". */
const char *am__statsd_type_name(am_statsd_type t);

#endif
