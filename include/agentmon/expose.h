/*
** expose.h: turning registries into text for Prometheus, OpenMetrics
** parsers and people.
**
** Three formats: Prometheus text 0.0.4, OpenMetrics 1.0 text (units,
** _created, exemplars, "# EOF") and a JSON snapshot keyed by each family's
** json_name (its dotted alias, such as "messaging.queue_length") or name.
** Families come out sorted by name, series in creation order; the output is
** built in one growing buffer and is either complete or not returned.
*/
#ifndef AGENTMON_EXPOSE_H
#define AGENTMON_EXPOSE_H

#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum am_format {
    AM_FORMAT_PROMETHEUS = 0,
    AM_FORMAT_OPENMETRICS = 1,
    AM_FORMAT_JSON = 2
} am_format;

/*
** am_format_content_type: the HTTP Content-Type of a format, e.g.
** "text/plain; version=0.0.4; charset=utf-8". Static string. Since: 0.1
*/
AM_EXTERN const char *am_format_content_type(am_format f);

/*
** am_registry_encode: encode every family of r (NULL: the default registry).
** out      owned result, NUL-terminated, free with am_free().
** len      set to the length without the NUL; may be NULL.
** Returns AM_OK, AM_EINVAL (unknown format) or AM_ENOMEM (nothing returned).
** Thread-safe; runs concurrently with updates and other encodes. Since: 0.1
*/
AM_EXTERN am_err am_registry_encode(am_registry *r, am_format f, char **out, size_t *len);

/*
** am_encode: as am_registry_encode(), for several registries in one
** exposition (families of all of them, in order). Families of one name in
** several registries are exposed as one when they have the same type, unit
** and buckets (their label names may differ); one of another shape is
** left out. regs borrowed, n >= 1. Since: 0.1
*/
AM_EXTERN am_err am_encode(am_registry *const *regs, size_t n, am_format f, char **out,
                           size_t *len);

/* A label of a sample: its name and value (strings borrowed). */
typedef struct am_label_pair {
    const char *name;
    const char *value;
} am_label_pair;

/*
** The callback of am_encode_samples(): one sample's pairs[0..n), the metric
** name first as "__name__" and then its labels in the family's order, and
** its value. pairs is a fresh copy for each call, which fn may reorder or
** rewrite; the strings are valid during the call only. Return 0 to go on;
** non-zero stops the walk (fn could not keep the sample for want of memory).
*/
typedef int (*am_sample_fn)(void *userdata, am_label_pair *pairs, size_t n, double value);

/*
** am_encode_samples: every sample of regs[0..n) as name, labels and value,
** named as the Prometheus text exposition names it -- counters
** <name>_total, histograms <name>_bucket{le} (le as exposed, "+Inf" last),
** <name>_sum and <name>_count, info <name>_info, statesets one series per
** state labelled <name>=<state> with value 0 or 1, gauges and untyped as
** they are -- for code that forwards samples somewhere other than a text
** exposition (an alerting window, a remote write, a custom backend)
** without parsing the text back.
** regs     borrowed; n may be 0 (fn is not called).
** fn       called once per sample, on the calling thread, with the
**          registries' locks held: it must not call into the same
**          registries. userdata is passed through.
** Returns AM_OK; AM_EINVAL (fn NULL, or regs NULL with n > 0: fn is not
** called); AM_ENOMEM (out of memory, or fn returned non-zero: the walk
** stopped there, after the samples fn already had). Thread-safe as
** am_encode(). Since: 0.3
*/
AM_EXTERN am_err am_encode_samples(am_registry *const *regs, size_t n, am_sample_fn fn,
                                   void *userdata);

/*
** The callback of am_encode_exemplars(): the sample an exemplar is attached
** to, pairs[0..n) as am_sample_fn has them ("__name__" <name>_total, or
** <name>_bucket with le last), and the exemplar: its labels ex[0..n_ex)
** (unescaped), its value, and its time in unix seconds as the OpenMetrics
** text carries it (milliseconds). Everything is valid during the call
** only. Return 0 to go on; non-zero stops the walk.
*/
typedef int (*am_exemplar_fn)(void *userdata, const am_label_pair *pairs, size_t n,
                              const am_label_pair *ex, size_t n_ex, double value, double ts);

/*
** am_encode_exemplars: every exemplar regs[0..n) hold -- the last one of
** each counter series and histogram bucket -- in the order and with the
** values an OpenMetrics exposition (am_encode) would show them, without
** writing or parsing the text: for code that answers exemplar queries.
** regs     borrowed; n may be 0 (fn is not called).
** fn       called once per exemplar on the calling thread, with the
**          registries' locks held: it must not call into the same
**          registries. userdata is passed through.
** Returns AM_OK; AM_EINVAL (fn NULL, or regs NULL with n > 0); AM_ENOMEM
** (out of memory, or fn returned non-zero: the walk stopped there).
** Thread-safe as am_encode(). Since: 0.3
*/
AM_EXTERN am_err am_encode_exemplars(am_registry *const *regs, size_t n, am_exemplar_fn fn,
                                     void *userdata);

#ifdef __cplusplus
}
#endif
#endif
