/*
** config.h: `agentmon serve --config FILE` -- a YAML mapping whose keys are
** the command's option names without the dashes, e.g.
**
**     listen: 127.0.0.1:9470
**     store: postgres://agentmon@127.0.0.1:5432/agentmon
**     retention: 30d
**     scrape:                 # a list, or one URL
**       - http://127.0.0.1:9464/metrics
**
** The file becomes "--name value" pairs put before the command line's own,
** so one parser checks both and the command line wins. Alertmanager's
** sections (global, route, receivers, inhibit_rules, templates,
** time_intervals) and Prometheus' alerting: may be in the same file: they
** are skipped here (has_sections says they are there) and read by the
** notifier (src/alert/notify/notify.h); so is Prometheus' remote_write:
** (has_remote_write), read by src/serve/export/rw_config.c.
*/
#ifndef AM_SERVE_CONFIG_H
#define AM_SERVE_CONFIG_H

#include <stddef.h>

#include "agentmon/common.h"

#define AM_CONFIG_MAX_PAIRS 256
#define AM_CONFIG_MAX_BYTES (1u << 20)

typedef struct am_config {
    const char *names[AM_CONFIG_MAX_PAIRS]; /* "--listen" */
    const char *values[AM_CONFIG_MAX_PAIRS];
    size_t n;
    char *mem;             /* the strings */
    bool has_sections;     /* alerting sections (route:, receivers:, ...): the notifier's */
    bool has_remote_write; /* remote_write: (export/rw_config.c reads it) */
} am_config;

/*
** Parse text[0..len). known: the option names accepted ("--listen", ...),
** n_known of them; list_ok: those that may be a YAML list. AM_EINVAL with
** a message naming the line and the problem (not YAML, not a mapping, an
** unknown key, a key twice, a value that is a mapping, a list where one
** value is wanted, anchors or aliases), AM_ELIMIT beyond the limits,
** AM_ENOMEM. On error *out is empty. Free with am__config_free().
*/
am_err am__config_parse(const char *text, size_t len, const char *const *known, size_t n_known,
                        const char *const *list_ok, size_t n_list_ok, am_config *out);

/* Read path (at most AM_CONFIG_MAX_BYTES) and parse it; AM_EIO when it
   cannot be read. */
am_err am__config_load(const char *path, const char *const *known, size_t n_known,
                       const char *const *list_ok, size_t n_list_ok, am_config *out);

void am__config_free(am_config *c);

#endif
