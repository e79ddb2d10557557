/*
** serve.h: `agentmon serve` put together -- the collector's registry, the
** store, the HTTP API (routes.h) and /metrics, the StatsD listener, the
** scraper, the system sampler, and the thread that moves samples (StatsD
** flushes, scrapes) into metric_samples.
**
**   HTTP events ---> events.c ---> store (ack after commit) ---> registry
**   StatsD ---------> statsd_agg --> registry --(flush)--> samples ---> store
**   scrapes --------> expo_parse ------------------------> samples ---> store
**   /proc ----------> sysstat ---> store + agentmon_system_* gauges
**   registry + scrapes ---> the alerting window ---> rules, query API
*/
#ifndef AM_SERVE_SERVE_H
#define AM_SERVE_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "agentmon/http.h"
#include "agentmon/log.h"
#include "agentmon/metrics.h"
#include "agentmon/statsd.h"
#include "../util/catalog.h"
#include "store/store.h"
#include "../web/dashboard.h"

#define AM_SERVE_MAX_SCRAPE 64
#define AM_SERVE_MAX_TAIL 16
#define AM_SERVE_MAX_RULE_FILES 64

/* The defaults of the options that have one (0 in the options means it). */
#define AM_SERVE_RETENTION_S (15 * 86400.0) /* 15 days */
#define AM_SERVE_SCRAPE_INTERVAL_S 15.0
#define AM_SERVE_FLUSH_INTERVAL_S 10.0
#define AM_SERVE_SYSTEM_INTERVAL_S 10.0
#define AM_SERVE_MAX_SERIES 200000        /* the registry's series, every source */
#define AM_SERVE_SOURCE_MAX_SERIES 100000 /* StatsD's, and metric events' */
#define AM_SERVE_MAX_FLUSH_SAMPLES 100000 /* samples stored per StatsD flush */
#define AM_SERVE_STOP_S 10.0              /* longest the store may take to close */

typedef struct am_serve_opts {
    const char *http_host;                   /* "127.0.0.1" */
    uint16_t http_port;                      /* AM_HTTP_DEFAULT_PORT; 0 picks one */
    const char *statsd_host;                 /* "127.0.0.1" (a name, IPv4 or IPv6) */
    int statsd_port;                         /* AM_STATSD_DEFAULT_PORT; 0 picks one; -1: none */
    const char *statsd_unix;                 /* a unix datagram socket path, or NULL */
    const char *store_uri;                   /* NULL: AM_STORE_DEFAULT_URI */
    double retention_s;                      /* 0: AM_SERVE_RETENTION_S */
    const char *scrape[AM_SERVE_MAX_SCRAPE]; /* URLs */
    size_t n_scrape;
    double scrape_interval_s; /* 0: AM_SERVE_SCRAPE_INTERVAL_S */
    double flush_interval_s;  /* StatsD samples into the store; 0: AM_SERVE_FLUSH_INTERVAL_S */
    double system_interval_s; /* the /proc sampler; 0: AM_SERVE_SYSTEM_INTERVAL_S; < 0: off */
    size_t store_max_queued;  /* records the store queues; 0: its default */
    am_logger *logger;        /* borrowed; NULL: the default logger */
    const char *tls_cert_file, *tls_key_file; /* both: HTTPS */
    const am_http_auth *read_auth;            /* GET routes and /metrics; NULL: open (copied) */
    const am_http_auth *write_auth;           /* POST /api/v1/events; NULL: open (copied) */
    size_t max_series;               /* all the collector's series; 0: AM_SERVE_MAX_SERIES */
    size_t statsd_max_series;        /* StatsD's; 0: AM_SERVE_SOURCE_MAX_SERIES */
    size_t events_max_series;        /* metric events'; 0: AM_SERVE_SOURCE_MAX_SERIES */
    size_t max_flush_samples;        /* stored per StatsD flush; 0: AM_SERVE_MAX_FLUSH_SAMPLES */
    double ack_timeout_s;            /* longest an ingest waits for its commit; 0: 30 */
    unsigned max_connections_per_ip; /* am_http_opts': 0 its default */
    /* alerting (docs/ALERTING.md) */
    const char *rule_files[AM_SERVE_MAX_RULE_FILES]; /* Prometheus rule files (globs) */
    size_t n_rule_files;
    double eval_interval_s;        /* groups without interval:; 0: 15 s */
    double alert_window_s;         /* history first kept (rules, queries widen it); 0: 1 h */
    const char *external_url;      /* links in alerts back to this collector; NULL: none */
    double query_max_samples;      /* a query's sample budget; 0: 50,000,000 */
    double query_max_window_s;     /* queries may widen the window to this; 0: 24 h */
    double resend_delay_s;         /* firing alerts sent again after; 0: 1 m */
    double for_outage_tolerance_s; /* state older than this is not restored; 0: 1 h */
    double for_grace_period_s;     /* a restored `for` fires no sooner; 0: 10 m */
    /* notifiers: a YAML file with Alertmanager's route:, receivers:,
       inhibit_rules: (and global:, alerting:); NULL: none (silences and
       POST /api/v1/alerts still work) */
    const char *notify_config;
    bool notify_config_is_collector; /* it is the --config file: other keys are ours */
    /* remote_write (docs/REMOTE_WRITE.md): the file with Prometheus'
       remote_write: section (the --config file); NULL: none */
    const char *remote_write_config;
    const char *remote_write_dir;   /* the endpoints' logs; NULL: <store dir>/remote_write */
    double remote_write_max_bytes;  /* per endpoint; 0: 256 MiB */
    double remote_write_interval_s; /* the registry sampled; 0: 15 s */
    /* the web dashboard at / (src/web/dashboard.h): its price table, copied;
       NULL: the example prices. The rest of it is filled in here. */
    const am_dashboard *dashboard;
    /* files of JSON log lines followed into log_lines (ingest/tail.h) */
    const char *tail[AM_SERVE_MAX_TAIL];
    size_t n_tail;
    double tail_interval_s; /* how often they are read; 0: 1 s */
} am_serve_opts;

/* clang-format off */
#define AM_SERVE_OPTS_INIT                                                                         \
    {AM_HTTP_DEFAULT_HOST, AM_HTTP_DEFAULT_PORT, AM_STATSD_DEFAULT_HOST, AM_STATSD_DEFAULT_PORT}
/* clang-format on */

typedef struct am_serve am_serve;

/* agentmon_store_* and agentmon_ingest_dropped_total. */
extern const am_def_table am__table_store;

/* Start everything (the store first: a store that cannot open is the
   error). out: owned, am_serve_stop(). AM_EINVAL (an option; am_errmsg()
   names it), AM_EIO (a port in use, a store that cannot open), AM_ENOMEM. */
am_err am_serve_start(const am_serve_opts *o, am_serve **out);

/* The store (borrowed; for tests that pause its writer). */
am_store *am__serve_store(am_serve *s);

/* The HTTP server (borrowed: to ask am_http_is_loopback() and the like). */
const am_http *am_serve_http(const am_serve *s);

/* The ports listened on (the chosen ones for port 0); statsd 0 when off. */
uint16_t am_serve_http_port(const am_serve *s);
int am_serve_statsd_port(const am_serve *s);

/*
** Reload the rule files (SIGHUP, POST /-/reload) on the engine's thread.
** A reload that fails keeps what runs; errs (may be NULL) gets the
** problems, each naming file and line. AM_OK, AM_EINVAL, AM_EIO.
*/
struct am_buf;
am_err am_serve_reload(am_serve *s, struct am_buf *errs);

/* Stop accepting, move what is buffered into the store, close it, free.
   NULL is a no-op. */
void am_serve_stop(am_serve *s);

#endif
