/*
** rw_export.h: the collector's remote_write endpoints (rw_export.c), a
** source of serve.c's table: one sender (src/rw) per remote_write: entry
** of the config file, each sampling the collector's registry and taking
** the samples scrapes bring.
*/
#ifndef AM_SERVE_RW_EXPORT_H
#define AM_SERVE_RW_EXPORT_H

#include "agentmon/log.h"
#include "agentmon/metrics.h"

typedef struct am_rw_export am_rw_export;

typedef struct am_rw_export_opts {
    const char *config_path; /* the file with remote_write: (borrowed) */
    am_registry *registry;   /* sampled, and where the senders' metrics go */
    double interval_s;       /* how often it is sampled */
    const char *dir;         /* each endpoint's log goes in dir/<name> */
    uint64_t max_bytes;      /* per endpoint; 0: the default */
    am_logger *logger;
} am_rw_export_opts;

/* Read the section and start a sender per endpoint. AM_EINVAL naming
   every problem of the section (file:line), AM_EIO, AM_ENOMEM. *out is
   NULL when the file has no endpoints. */
am_err am__rw_export_start(const am_rw_export_opts *o, am_rw_export **out);

/* A sample from elsewhere (a scrape): labels rendered a="b",... */
void am__rw_export_sample(am_rw_export *x, const char *name, const char *labels, double ts_s,
                          double v);

/* Stop every sender, sending what is pending within timeout_s (the rest
   stays in their logs on disk). NULL: nothing. */
void am__rw_export_stop(am_rw_export *x, double timeout_s);

#endif
