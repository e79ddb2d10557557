/*
** rw_config.h: the collector's remote_write: section, in Prometheus' own
** format (a list of endpoints, each url, name, remote_timeout,
** basic_auth, authorization, bearer_token[_file], tls_config,
** write_relabel_configs, queue_config), so that the section of a
** prometheus.yml pastes into `agentmon serve --config` unchanged -- and
** write_relabel_configs applied to samples (keep, drop, replace,
** labelkeep, labeldrop) as Prometheus' relabel.Process does.
*/
#ifndef AM_SERVE_RW_CONFIG_H
#define AM_SERVE_RW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/remote_write.h"
#include "../../alert/notify/notify.h"

typedef enum am_rl_action {
    AM_RL_REPLACE,
    AM_RL_KEEP,
    AM_RL_DROP,
    AM_RL_LABELKEEP,
    AM_RL_LABELDROP
} am_rl_action;

typedef struct am_relabel {
    am_rl_action action;
    char **src; /* source_labels */
    size_t n_src;
    char *sep;         /* separator, ";" */
    am_regex *re;      /* regex, "(.*)", anchored */
    char *target;      /* target_label */
    char *replacement; /* "$1" */
} am_relabel;

/* One endpoint: o's strings point into the fields here. */
typedef struct am_rw_endpoint {
    am_remote_write_opts o;
    char *url, *name;
    am_httpcfg http;
    am_relabel *rules;
    size_t n_rules;
    int line;
} am_rw_endpoint;

typedef struct am_rw_config {
    am_rw_endpoint *eps;
    size_t n;
} am_rw_config;

/*
** Read the remote_write: key of the YAML mapping text[0..len) (other keys
** are not ours and are ignored). *out is NULL when there is none, or an
** empty list. Every problem is a line "FILE:LINE: what" of errs, and any
** refuses the whole section: AM_EINVAL (AM_ENOMEM). Owned result: free
** with am__rw_config_free.
*/
am_err am__rw_config_parse(const char *file, const char *text, size_t len, am_rw_config **out,
                           am_buf *errs);
/* The same from a file (AM_EIO when it cannot be read). */
am_err am__rw_config_load(const char *path, am_rw_config **out, am_buf *errs);
void am__rw_config_free(am_rw_config *c);

/*
** Apply an endpoint's write_relabel_configs (ud: the am_rw_endpoint) to
** pairs[0..*n) (room for cap; rewritten strings go in scratch): false
** when the sample is dropped. An am_remote_write_relabel_fn.
*/
bool am__relabel_apply(void *ud, am_label_pair *pairs, size_t *n, size_t cap, char *scratch,
                       size_t scratch_cap);

#endif
