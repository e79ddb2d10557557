/*
** metrics.h: registries and the metric types agents record into.
**
** A registry holds metric families; a family has a name, help, type, label
** names and children, one per distinct set of label values. A handle of a
** metric type (am_counter, am_gauge, ...) names one child, the series that
** operations write to. am_<type>_new() returns the family's root handle:
** for a family without labels that root is its only series; for a labelled
** family it is the handle that am_<type>_with() resolves label values on.
**
**     am_counter *sent, *s;
**     const char *names[] = {"agent", "priority"};
**     am_metric_opts o = AM_METRIC_OPTS_INIT;
**     o.name = "messages_sent_total"; o.help = "Messages sent.";
**     o.label_names = names; o.n_labels = 2;
**     am_counter_new(NULL, &o, &sent);
**     am_counter_with(sent, AM_LABELS("planner:1", "5"), &s);   once
**     am_counter_inc(s);                                         hot path
**
** Hot path: inc/add/set/observe on a child handle take no lock, allocate
** nothing once the calling thread has written to a page of 1024 cells
** (the first write allocates that page, once), make no system call, and
** write only cells private to the calling thread (summed when read), so two
** threads on one series cost what two threads on two series cost.
**
** Lifetime: a child handle stays valid until that child is removed, its
** family cleared or unregistered, or the registry freed. Using a handle
** after that is undefined; looking one up concurrently with removing it is
** the caller's race to avoid.
*/
#ifndef AGENTMON_METRICS_H
#define AGENTMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_registry am_registry;
typedef struct am_counter am_counter;
typedef struct am_gauge am_gauge;
typedef struct am_histogram am_histogram;
typedef struct am_info am_info;
typedef struct am_stateset am_stateset;
typedef struct am_summary am_summary;
typedef struct am_callback am_callback;
typedef struct am_sink am_sink;

typedef enum am_metric_type {
    AM_TYPE_COUNTER = 1,
    AM_TYPE_GAUGE = 2,
    AM_TYPE_HISTOGRAM = 3,
    AM_TYPE_INFO = 4,
    AM_TYPE_STATESET = 5,
    AM_TYPE_UNKNOWN = 6,
    AM_TYPE_SUMMARY = 7 /* Since: 0.2 */
} am_metric_type;

/* Limits the data model needs to stay bounded. */
#define AM_MAX_LABELS 32        /* label names per family */
#define AM_MAX_BUCKETS 512      /* finite histogram bounds */
#define AM_MAX_STATES 64        /* states per stateset */
#define AM_MAX_LABEL_VALUE 4096 /* bytes per label value */
#define AM_MAX_NAME 255         /* bytes per metric name or json_name */
#define AM_DEFAULT_MAX_CHILDREN 10000
#define AM_EXEMPLAR_MAX_RUNES 128 /* OpenMetrics limit on exemplar labels */
#define AM_EXEMPLAR_MAX_BYTES 256 /* and ours on their text once escaped */

/* Label values written inline: am_counter_with(c, AM_LABELS("a", "b"), &s). */
#define AM_LABELS(...)                                                                             \
    (const char *const[]){__VA_ARGS__},                                                            \
        (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Flags for am_metric_opts.flags. */
#define AM_METRIC_NO_CREATED 0x1u /* OpenMetrics: omit the _created series */
/* Other label name sets of this name may be added with am_metric_sibling_new()
   (a bridge from a protocol whose metrics do not fix their label names, such
   as StatsD tags). Since: 0.3 */
#define AM_METRIC_SIBLINGS 0x2u

/*
** Options describing a family. Start from AM_METRIC_OPTS_INIT and set what
** you need; every string and array is copied, so none must outlive the call.
*/
typedef struct am_metric_opts {
    const char *name;      /* required; [a-zA-Z_:][a-zA-Z0-9_:]*, not "__", */
                           /* at most AM_MAX_NAME bytes */
    const char *help;      /* UTF-8; NULL means "" */
    const char *unit;      /* optional OpenMetrics unit; name must end _<unit> */
    const char *json_name; /* optional key in the JSON snapshot, may hold dots; */
                           /* at most AM_MAX_NAME bytes */
    const char *const *label_names;
    size_t n_labels;
    const double *buckets;     /* histogram: strictly increasing finite bounds; */
    size_t n_buckets;          /* NULL/0 = AM_DEFAULT_BUCKETS */
    const char *const *states; /* stateset: the state names */
    size_t n_states;
    size_t max_children; /* cardinality limit; 0 = AM_DEFAULT_MAX_CHILDREN */
    unsigned flags;      /* AM_METRIC_* */
    void *reserved[4];
} am_metric_opts;

#define AM_METRIC_OPTS_INIT                                                                        \
    {                                                                                              \
        0                                                                                          \
    }

/* Label name/value pairs, for exemplars and info metrics. */
typedef struct am_labels {
    const char *const *names;
    const char *const *values;
    size_t n;
} am_labels;

/* ------------------------------------------------------------------ */
/* Registries                                                          */
/* ------------------------------------------------------------------ */

/*
** am_registry_new: create an empty registry.
** out      owned result, free with am_registry_free().
** Returns AM_OK or AM_ENOMEM. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_registry_new(am_registry **out);

/*
** am_registry_free: free a registry, its families and all their handles.
** r        takes; NULL is a no-op. No other thread may use r or its handles.
** Since: 0.1
*/
AM_EXTERN void am_registry_free(am_registry *r);

/*
** am_registry_default: the process-wide default registry, created on first
** use. Every function that takes a registry treats NULL as this one.
** Returns NULL only if it could not be allocated. Thread-safe. Since: 0.1
*/
AM_EXTERN am_registry *am_registry_default(void);

/*
** am_registry_unregister: remove the family named name (as registered, or
** its exposed name such as "x_total") and free it with all its handles.
** Returns AM_OK, AM_ENOTFOUND or AM_EINVAL (NULL name). Thread-safe against
** other registry calls; the family's handles must no longer be in use.
** Since: 0.1
*/
AM_EXTERN am_err am_registry_unregister(am_registry *r, const char *name);

/*
** am_registry_count: the number of families registered. Thread-safe.
** Since: 0.1
*/
AM_EXTERN size_t am_registry_count(am_registry *r);

/*
** am_registry_set_max_series: bound the labelled series of all the
** registry's families together (each family keeps its own max_children
** too). Past the bound, a new label set of any family resolves to that
** family's overflow series, exactly as at the family's own limit
** (AM_ELIMIT, counted in agentmon_cardinality_overflow_total{metric}).
** max 0 removes the bound. Series that exist are kept when the bound is
** lowered below their number; only new ones are refused. Thread-safe.
** Returns AM_OK or AM_EINVAL (r NULL and no default registry). Since: 0.2
*/
AM_EXTERN am_err am_registry_set_max_series(am_registry *r, size_t max);

/*
** am_registry_series: the labelled series the registry holds now (the
** number am_registry_set_max_series() bounds; overflow series and
** families without labels are not counted). Thread-safe. Since: 0.2
*/
AM_EXTERN size_t am_registry_series(am_registry *r);

/*
** am_registry_enable_process_metrics: add the process_* metrics (CPU,
** resident and virtual memory, open and maximum file descriptors, start
** time, threads), read from /proc at exposition time. Idempotent.
** Returns AM_OK, AM_ENOMEM or AM_EEXIST (a name is taken). Since: 0.1
*/
AM_EXTERN am_err am_registry_enable_process_metrics(am_registry *r);

/* ------------------------------------------------------------------ */
/* Bridges: families another protocol defines at run time              */
/* ------------------------------------------------------------------ */

/*
** What a family is, as am_metric_describe() reports it. Strings and arrays
** belong to the family: valid while it is registered.
*/
typedef struct am_metric_desc {
    am_metric_type type;
    const char *name; /* base name (no _total, _info) */
    const char *const *label_names;
    size_t n_labels;
    unsigned flags; /* the AM_METRIC_* it was registered with */
    void *reserved[4];
} am_metric_desc;

/*
** am_metric_describe: the type, name, label names and flags of the family
** whose root handle is root (from am_<type>_new() or am_<type>_find()), for
** code that meets a family it did not define -- a bridge that finds the
** name a line asks for already registered, say, and must check its labels.
** root     borrowed; a family's root handle of any type.
** out      filled on AM_OK.
** Returns AM_OK, AM_EINVAL (NULL argument) or AM_EMISUSE (root is a child
** series, not a family's root). Thread-safe. Since: 0.3
*/
AM_EXTERN am_err am_metric_describe(const void *root, am_metric_desc *out);

/*
** am_metric_sibling_new: register, next to root's family, a family of the
** same name, type, unit and buckets with other label names (o's), exposed
** as one family with it: Prometheus allows the series of one metric to
** carry different label sets, and a bridge (StatsD lines of one name with
** other tag keys) needs that. Returns the sibling already made with o's
** label names when there is one. Siblings go when root's family is
** unregistered.
** root     borrowed; the root handle of a family registered with
**          AM_METRIC_SIBLINGS.
** o        borrowed (copied); o->name, type-related fields, unit and buckets
**          must be root's; o->label_names are the sibling's.
** out      the sibling's root handle (am_counter *, ...), owned by the
**          registry; set only on AM_OK.
** Returns AM_OK; AM_EINVAL (bad options); AM_EMISUSE (root is not a root,
** or its family was not registered with AM_METRIC_SIBLINGS); AM_EEXIST
** (another type, unit or buckets); AM_ENOTFOUND (root's family is no
** longer registered); AM_ENOMEM. Thread-safe. Since: 0.3
*/
AM_EXTERN am_err am_metric_sibling_new(void *root, const am_metric_opts *o, void **out);

/*
** am_metric_overflow: the overflow series of root's family (label values
** all "__overflow__", made on first use), for a caller that keeps its own
** budget of series -- a bridge refusing new label sets past its limit
** records them there, as the family does past max_children. Each call
** counts one label set in agentmon_cardinality_overflow_total{metric}.
** root     borrowed; a labelled family's root handle.
** out      the overflow series (am_counter *, ...), owned by the family.
** Returns AM_OK, AM_EINVAL (NULL argument, or a family without labels),
** AM_EMISUSE (root is not a root) or AM_ENOMEM. Thread-safe. Since: 0.3
*/
AM_EXTERN am_err am_metric_overflow(void *root, void **out);

/* ------------------------------------------------------------------ */
/* Counters: values that only go up                                    */
/* ------------------------------------------------------------------ */

/*
** am_counter_new: register a counter family, or return the existing one when
** one with this name, type, label names and unit is already registered.
** The exposed sample name ends in _total; a name given with _total is the
** same family. r may be NULL for the default registry.
** out      set to the family's root handle, owned by the registry.
** Returns AM_OK, AM_EINVAL (bad name, label name, unit, UTF-8; am_errmsg()
** says which), AM_EEXIST (the name is taken by a different definition) or
** AM_ENOMEM; *out is set only on AM_OK. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_counter_new(am_registry *r, const am_metric_opts *o, am_counter **out);

/*
** am_counter_with: resolve label values to the child series, creating it if
** needed. values: n strings, copied on creation, valid UTF-8 of at most
** AM_MAX_LABEL_VALUE bytes; "__overflow__" is reserved (see AM_ELIMIT).
** Resolve once and keep the handle: this is the only call that hashes
** strings. Lock-free when the child exists.
** Returns AM_OK; AM_ELIMIT when the family is at its child limit: *out is
** then the family's overflow series (label values "__overflow__") and
** agentmon_cardinality_overflow_total{metric} counts the call; AM_EINVAL
** (wrong count, NULL or invalid value), AM_EMISUSE (c is not a family root)
** or AM_ENOMEM, with *out untouched. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_counter_with(am_counter *c, const char *const *values, size_t n,
                                 am_counter **out);

/*
** am_counter_remove: delete the child with these label values; its handle
** becomes invalid and its memory is given back once no lookup can see it.
** Returns AM_OK, AM_ENOTFOUND, AM_EINVAL or AM_EMISUSE. Thread-safe.
** Since: 0.1
*/
AM_EXTERN am_err am_counter_remove(am_counter *c, const char *const *values, size_t n);

/*
** am_counter_clear: delete every labelled child of the family (the family
** itself stays registered). All child handles become invalid. Since: 0.1
*/
AM_EXTERN void am_counter_clear(am_counter *c);

/*
** am_counter_inc: add 1. Lock-free, never fails. Since: 0.1
*/
AM_EXTERN void am_counter_inc(am_counter *c);

/*
** am_counter_add: add v, which must be finite and >= 0.
** Returns AM_OK, or AM_EINVAL for a negative, NaN or infinite v, in which
** case nothing changes. Lock-free. Since: 0.1
*/
AM_EXTERN am_err am_counter_add(am_counter *c, double v);

/*
** am_counter_add_exemplar: am_counter_add() that also records ex (names and
** values copied, at most AM_EXEMPLAR_MAX_RUNES characters in all and
** AM_EXEMPLAR_MAX_BYTES bytes once rendered as name="value",... with
** escapes -- a trace_id and span_id take 70) with the current time as the
** series' exemplar, replacing the previous one.
** Returns AM_OK, or AM_EINVAL/AM_ELIMIT for a bad v or exemplar; a bad
** exemplar does not stop a good v from being added. Lock-free; may allocate
** the series' exemplar storage once. Since: 0.1
*/
AM_EXTERN am_err am_counter_add_exemplar(am_counter *c, double v, const am_labels *ex);

/*
** am_counter_value: the current total, summed over all threads. Takes a read
** lock; for tests and snapshots, not the hot path. Since: 0.1
*/
AM_EXTERN double am_counter_value(am_counter *c);

/*
** am_counter_find: the root handle of the counter family named name.
** Returns AM_OK, AM_ENOTFOUND, or AM_EINVAL when name is another type.
** Since: 0.1
*/
AM_EXTERN am_err am_counter_find(am_registry *r, const char *name, am_counter **out);

/* ------------------------------------------------------------------ */
/* Gauges: values that go up and down                                  */
/* ------------------------------------------------------------------ */

/* As am_counter_new/with/remove/clear/find, for gauges. Since: 0.1 */
AM_EXTERN am_err am_gauge_new(am_registry *r, const am_metric_opts *o, am_gauge **out);
AM_EXTERN am_err am_gauge_with(am_gauge *g, const char *const *values, size_t n, am_gauge **out);
AM_EXTERN am_err am_gauge_remove(am_gauge *g, const char *const *values, size_t n);
AM_EXTERN void am_gauge_clear(am_gauge *g);
AM_EXTERN am_err am_gauge_find(am_registry *r, const char *name, am_gauge **out);

/*
** am_gauge_set / add / inc / dec: change the value. A gauge is one shared
** value: set is a store, add a compare-and-swap, so threads writing the same
** gauge contend for it. Lock-free, never fail. Since: 0.1
*/
AM_EXTERN void am_gauge_set(am_gauge *g, double v);
AM_EXTERN void am_gauge_add(am_gauge *g, double v);
AM_EXTERN void am_gauge_inc(am_gauge *g);
AM_EXTERN void am_gauge_dec(am_gauge *g);

/* am_gauge_set_to_now: set to the current unix time in seconds. Since: 0.1 */
AM_EXTERN void am_gauge_set_to_now(am_gauge *g);

/* am_gauge_value: the current value. Since: 0.1 */
AM_EXTERN double am_gauge_value(am_gauge *g);

/* ------------------------------------------------------------------ */
/* Histograms: distributions in cumulative buckets                     */
/* ------------------------------------------------------------------ */

/* Prometheus' default buckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10. Since: 0.1 */
AM_EXTERN extern const double AM_DEFAULT_BUCKETS[11];
#define AM_DEFAULT_BUCKETS_N 11

/*
** am_buckets_linear / am_buckets_exponential: fill out[0..count) with
** start, start+width, ... or start, start*factor, ...
** Returns AM_EINVAL when count is 0 or above AM_MAX_BUCKETS, width <= 0,
** start <= 0 (exponential), factor <= 1 or a bound is not finite.
** Since: 0.1
*/
AM_EXTERN am_err am_buckets_linear(double start, double width, size_t count, double *out);
AM_EXTERN am_err am_buckets_exponential(double start, double factor, size_t count, double *out);

/*
** As am_counter_new/with/remove/clear/find, for histograms. o->buckets must
** be strictly increasing and finite (+Inf is implicit); "le" is not allowed
** as a label name. Since: 0.1
*/
AM_EXTERN am_err am_histogram_new(am_registry *r, const am_metric_opts *o, am_histogram **out);
AM_EXTERN am_err am_histogram_with(am_histogram *h, const char *const *values, size_t n,
                                   am_histogram **out);
AM_EXTERN am_err am_histogram_remove(am_histogram *h, const char *const *values, size_t n);
AM_EXTERN void am_histogram_clear(am_histogram *h);
AM_EXTERN am_err am_histogram_find(am_registry *r, const char *name, am_histogram **out);

/*
** am_histogram_observe: count v in its bucket and add it to the sum.
** NaN is counted in the +Inf bucket (the sum becomes NaN). Lock-free, never
** fails. Since: 0.1
*/
AM_EXTERN void am_histogram_observe(am_histogram *h, double v);

/*
** am_histogram_observe_exemplar: observe v and record ex as the exemplar of
** v's bucket (the last one per bucket wins). Same rules as
** am_counter_add_exemplar(); v is always observed. Since: 0.1
*/
AM_EXTERN am_err am_histogram_observe_exemplar(am_histogram *h, double v, const am_labels *ex);

/*
** am_histogram_read: the series' count, sum and cumulative bucket counts
** (n_buckets + 1 entries, the last being +Inf) as of now.
** buckets  borrowed; may be NULL; else room for am_histogram_n_buckets()+1.
** Since: 0.1
*/
AM_EXTERN void am_histogram_read(am_histogram *h, uint64_t *count, double *sum, uint64_t *buckets);

/* am_histogram_n_buckets: the number of finite bounds. Since: 0.1 */
AM_EXTERN size_t am_histogram_n_buckets(am_histogram *h);

/*
** am_histogram_bounds: the finite upper bounds, ascending
** (am_histogram_n_buckets() of them). Owned by the family: valid while it
** is registered. Since: 0.2
*/
AM_EXTERN const double *am_histogram_bounds(am_histogram *h);

/* ------------------------------------------------------------------ */
/* Summaries: a count and a sum of observations                        */
/* ------------------------------------------------------------------ */

/*
** A summary as prometheus_client defines one: the number of observations
** and their sum (<name>_count, <name>_sum), no quantiles. For rates and
** averages (rate(x_sum[5m]) / rate(x_count[5m])) at the cost of a counter;
** use a histogram when quantiles matter.
** As am_counter_new/with/remove/clear/find, for summaries; "quantile" is
** not allowed as a label name. Since: 0.2
*/
AM_EXTERN am_err am_summary_new(am_registry *r, const am_metric_opts *o, am_summary **out);
AM_EXTERN am_err am_summary_with(am_summary *s, const char *const *values, size_t n,
                                 am_summary **out);
AM_EXTERN am_err am_summary_remove(am_summary *s, const char *const *values, size_t n);
AM_EXTERN void am_summary_clear(am_summary *s);
AM_EXTERN am_err am_summary_find(am_registry *r, const char *name, am_summary **out);

/*
** am_summary_observe: count v and add it to the sum (any double, NaN
** included: the sum then reads NaN). Lock-free, never fails, writes only
** the calling thread's cells. Since: 0.2
*/
AM_EXTERN void am_summary_observe(am_summary *s, double v);

/*
** am_summary_read: the series' count and sum as of now (either pointer may
** be NULL). Takes a read lock; for tests and snapshots. Since: 0.2
*/
AM_EXTERN void am_summary_read(am_summary *s, uint64_t *count, double *sum);

/* ------------------------------------------------------------------ */
/* Info: constant key/value facts about a service (value 1)            */
/* ------------------------------------------------------------------ */

/*
** am_info_new: register an info family. The exposed sample is <name>_info;
** a name given with _info is the same family. Label names are not allowed
** in o; the pairs are set with am_info_set(). Since: 0.1
*/
AM_EXTERN am_err am_info_new(am_registry *r, const am_metric_opts *o, am_info **out);

/*
** am_info_set: replace the info's key/value pairs (copied; keys are label
** names, values UTF-8). Returns AM_OK, AM_EINVAL or AM_ENOMEM, in which case
** the previous pairs stay. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_info_set(am_info *i, const am_labels *pairs);

/* ------------------------------------------------------------------ */
/* Statesets: which of a fixed list of states are true                 */
/* ------------------------------------------------------------------ */

/*
** As am_counter_new/with/remove/clear, for statesets. o->states names the
** states (1..AM_MAX_STATES label values). OpenMetrics labels each state with
** the family's name, so that name must also be a valid label name (no ':')
** and no other label may share it. Since: 0.1
*/
AM_EXTERN am_err am_stateset_new(am_registry *r, const am_metric_opts *o, am_stateset **out);
AM_EXTERN am_err am_stateset_with(am_stateset *s, const char *const *values, size_t n,
                                  am_stateset **out);
AM_EXTERN am_err am_stateset_remove(am_stateset *s, const char *const *values, size_t n);
AM_EXTERN void am_stateset_clear(am_stateset *s);

/*
** am_stateset_set: set state idx true or false. am_stateset_select: make
** state idx the only true one (an enum such as a breaker's state).
** Returns AM_EINVAL when idx is out of range. Lock-free. Since: 0.1
*/
AM_EXTERN am_err am_stateset_set(am_stateset *s, size_t idx, bool on);
AM_EXTERN am_err am_stateset_select(am_stateset *s, size_t idx);

/* am_stateset_get: whether state idx is true (false when out of range). Since: 0.1 */
AM_EXTERN bool am_stateset_get(am_stateset *s, size_t idx);

/* ------------------------------------------------------------------ */
/* Callback metrics: values computed at exposition time                */
/* ------------------------------------------------------------------ */

/*
** A collect function reports the family's current series by calling
** am_sink_put() once per label set. It runs while the registry is being
** encoded, on the encoding thread, and must not call into the same registry.
*/
typedef void (*am_collect_fn)(am_sink *sink, void *userdata);

/*
** am_callback_new: register a family of type AM_TYPE_GAUGE, AM_TYPE_COUNTER
** or AM_TYPE_UNKNOWN whose series come from fn at each exposition.
** userdata borrowed; must stay valid until the family is unregistered.
** Returns as am_counter_new(); AM_EINVAL for another type or a NULL fn.
** Since: 0.1
*/
AM_EXTERN am_err am_callback_new(am_registry *r, am_metric_type type, const am_metric_opts *o,
                                 am_collect_fn fn, void *userdata, am_callback **out);

/*
** am_sink_put: report one series: label values (n = the family's label
** count, copied) and its value. Counters refuse negative or NaN values.
** Returns AM_OK, AM_EINVAL (the series is skipped) or AM_ENOMEM. Since: 0.1
*/
AM_EXTERN am_err am_sink_put(am_sink *s, const char *const *values, size_t n, double v);

#ifdef __cplusplus
}
#endif
#endif
