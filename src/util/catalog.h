/*
** catalog.h: metric definitions as data, and the catalogue of all of them.
**
** Every metric agentmon defines itself -- the instrument packs, the
** coordinator, the HTTP server, the library's own, and the collector's --
** is a row of an am_metric_def table next to the code that records it.
** Rows are registered with am__def_register(), and the same rows make the
** catalogue that `agentmon metrics list` prints and docs/METRICS.md is
** generated from, so the documentation cannot drift from the code (STYLE
** rule 19). In util because the library and the program both define
** tables; registering goes through the public constructors only.
*/
#ifndef AM_UTIL_CATALOG_H
#define AM_UTIL_CATALOG_H

#include <stddef.h>

#include "agentmon/metrics.h"
#include "agentmon/packs.h"

typedef struct am_metric_def {
    const char *group; /* "task", "a2a", "messaging", ... */
    am_metric_type type;
    const char *name;      /* as exposed: counters end in _total */
    const char *json_name; /* dotted alias for JSON, or NULL */
    const char *help;
    const char *unit;          /* OpenMetrics unit, or NULL */
    const char *const *labels; /* NULL-terminated, or NULL for none */
    const double *buckets;     /* histograms: NULL = the defaults */
    size_t n_buckets;
    const char *const *states; /* statesets: NULL-terminated */
    const char *source;        /* the document it comes from */
} am_metric_def;

/* Label lists are NULL-terminated arrays: AM_DEF_LABELS("agent", "status"). */
#define AM_DEF_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The number of labels of d. */
size_t am__def_n_labels(const am_metric_def *d);

/* The am_metric_opts of d (pointers into d: valid while d is). */
am_metric_opts am__def_opts(const am_metric_def *d);

/*
** Register d in r (the existing family when it is there already); *out is
** the family's root handle of the type d says (am_counter *, am_gauge *,
** am_histogram *, am_info *, am_stateset *). Returns as am_counter_new().
*/
am_err am__def_register(am_registry *r, const am_metric_def *d, void **out);

/* Register a table of n rows into handles out[0..n). Stops at the first
   failure and returns it. */
am_err am__defs_register(am_registry *r, const am_metric_def *defs, size_t n, void **out);

/* A table of the catalogue: rows, and how many. */
typedef struct am_def_table {
    const am_metric_def *defs;
    size_t n;
} am_def_table;

/* d as the public am_metric_def_info (pointers into d). */
void am__def_info(const am_metric_def *d, am_metric_def_info *out);

#endif
