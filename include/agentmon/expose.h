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

#ifdef __cplusplus
}
#endif
#endif
