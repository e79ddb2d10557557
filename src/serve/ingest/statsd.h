/*
** statsd.h: the StatsD / DogStatsD listener of `agentmon serve`.
**
** A UDP socket (default 127.0.0.1:8125; IPv6 hosts work; port 0 picks a
** free one) and optionally a unix datagram socket, read by one thread in
** recvmmsg batches; each datagram goes through the aggregator
** (statsd_agg.h) into the collector's registry. Lines and refused lines are
** counted in agentmon_ingest_lines_total{protocol="statsd"} and
** agentmon_ingest_invalid_total{protocol="statsd"}; refused lines are
** logged (WARNING) at most once a second, with the number suppressed since
** the last such line.
*/
#ifndef AM_SERVE_INGEST_STATSD_H
#define AM_SERVE_INGEST_STATSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/log.h"
#include "agentmon/metrics.h"
#include "agentmon/statsd.h"
#include "../../util/catalog.h"
#include "statsd_agg.h"

/* The ingest self-metrics, shared by every ingest protocol (label
   protocol="statsd", "http", ...). */
extern const am_metric_def am__defs_ingest[];
extern const size_t am__n_defs_ingest;
extern const am_def_table am__table_ingest;

#define AM_STATSD_DEFAULT_DATAGRAM 65536 /* bytes; a longer one is refused whole */

typedef struct am_ingest_statsd_opts {
    bool has_udp;          /* default true */
    const char *host;      /* copied; NULL: AM_STATSD_DEFAULT_HOST; a name or address */
    int port;              /* default AM_STATSD_DEFAULT_PORT; 0: a free one */
    const char *unix_path; /* copied; NULL: no unix socket. An existing */
                           /* socket file there is replaced; removed at stop */
    am_registry *registry; /* borrowed; the self-metrics go here (NULL: default) */
    am_statsd_agg *agg;    /* borrowed, required; must outlive the listener */
    am_logger *logger;     /* borrowed; NULL: the default logger */
    size_t max_datagram;   /* 0: AM_STATSD_DEFAULT_DATAGRAM; 512..1 MiB */
    int rcvbuf_bytes;      /* SO_RCVBUF; 0: 4 MiB (the kernel may cap it) */
} am_ingest_statsd_opts;

/* clang-format off */
#define AM_INGEST_STATSD_OPTS_INIT {.has_udp = true, .port = AM_STATSD_DEFAULT_PORT}
/* clang-format on */

typedef struct am_ingest_statsd am_ingest_statsd;

/*
** Bind the sockets and start the receive thread. Returns AM_OK; AM_EINVAL
** (no agg, no socket asked for, a bad host, port or size, a unix path too
** long); AM_EIO (bind or socket failed: am_errmsg() has the reason, e.g.
** the port is in use); AM_ENOMEM. *out is owned: stop it with
** am__ingest_statsd_stop().
*/
am_err am__ingest_statsd_start(const am_ingest_statsd_opts *o, am_ingest_statsd **out);

/* The UDP port bound (the chosen one when port 0 was asked), or 0. */
int am__ingest_statsd_port(const am_ingest_statsd *s);

/*
** Stop the thread (it finishes the datagrams it has read, then returns),
** close the sockets, remove the unix socket file and free s. NULL is a
** no-op.
*/
void am__ingest_statsd_stop(am_ingest_statsd *s);

/* Datagrams read so far (for tests). Thread-safe. */
uint64_t am__ingest_statsd_datagrams(const am_ingest_statsd *s);

#endif
