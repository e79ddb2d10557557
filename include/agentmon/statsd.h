/*
** statsd.h: sending StatsD / DogStatsD metrics to `agentmon serve` (or to
** any StatsD server) from an agent.
**
**     am_statsd *sd;
**     am_statsd_open("127.0.0.1:8125", NULL, &sd);
**     am_statsd_count(sd, "agent.tasks", 1, 1.0, AM_LABELS("agent:planner"));
**     am_statsd_timing(sd, "llm.latency", 320, 0.5, AM_LABELS("provider:openai"));
**     am_statsd_close(sd);                            flushes what is buffered
**
** Lines are buffered and sent in datagrams of at most max_packet_bytes
** (default 1432: one Ethernet frame of UDP over IPv6 without
** fragmentation); a datagram goes out when the next line would not fit,
** on am_statsd_flush(), and when its first line is flush_interval_ms old
** (checked by each call, and by a background thread if you ask for one).
** Sends never block: a datagram the kernel will not take at once (socket
** buffer full, no server on a unix socket, ICMP port unreachable on UDP)
** is dropped and counted (am_statsd_get_stats), which is what StatsD is
** for: an agent must never wait on its metrics.
**
** Tags are DogStatsD "key:value" (or bare "key") strings; the collector
** turns them into labels.
*/
#ifndef AGENTMON_STATSD_H
#define AGENTMON_STATSD_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_statsd am_statsd;

/* The StatsD default target (and the collector's default listener). Since: 0.3 */
#define AM_STATSD_DEFAULT_HOST "127.0.0.1"
#define AM_STATSD_DEFAULT_PORT 8125
#define AM_STATSD_DEFAULT_TARGET AM_STATSD_DEFAULT_HOST ":" AM_STR(AM_STATSD_DEFAULT_PORT)
#define AM_STATSD_DEFAULT_PACKET 1432 /* bytes per datagram */
#define AM_STATSD_DEFAULT_FLUSH_MS 100
#define AM_STATSD_MAX_NAME 200 /* bytes of prefix + name; the collector's limit */
#define AM_STATSD_MAX_TAGS 32  /* per line, constant tags included */

/* Flags for am_statsd_opts.flags. */
#define AM_STATSD_FLUSH_THREAD 0x1u /* start a thread that flushes every */
                                    /* flush_interval_ms even when idle */

typedef struct am_statsd_opts {
    size_t max_packet_bytes;    /* 0: AM_STATSD_DEFAULT_PACKET; 64..65000 */
    unsigned flush_interval_ms; /* 0: AM_STATSD_DEFAULT_FLUSH_MS; at most 60000 */
    const char *prefix;         /* copied; prepended to every name ("myapp.") */
    const char *const *tags;    /* copied; added to every line */
    size_t n_tags;
    unsigned flags; /* AM_STATSD_* */
    void *reserved[4];
} am_statsd_opts;

/* clang-format off */
#define AM_STATSD_OPTS_INIT {0}
/* clang-format on */

/* Counters of a client's life, for am_statsd_get_stats(). */
typedef struct am_statsd_stats {
    uint64_t n_lines;           /* lines accepted into the buffer */
    uint64_t n_sampled_out;     /* calls skipped by their sample rate */
    uint64_t n_packets;         /* datagrams sent */
    uint64_t n_dropped_packets; /* datagrams the kernel refused */
    uint64_t n_dropped_lines;   /* lines in those */
    uint64_t reserved[3];
} am_statsd_stats;

/*
** am_statsd_open: make a client sending to target.
** target   borrowed; "HOST:PORT" (a name, IPv4, or [IPv6]), "HOST" (port
**          8125), "unix:/path" or "/path" (a unix datagram socket), or
**          NULL for AM_STATSD_DEFAULT_TARGET. A name is resolved here,
**          once. Nothing is sent by opening.
** o        borrowed, NULL for the defaults; strings copied.
** out      owned result, free with am_statsd_close(); set only on AM_OK.
** Returns AM_OK; AM_EINVAL (bad target, port, option, prefix or tag:
** am_errmsg() says which); AM_EIO (no socket, or the host does not
** resolve); AM_ENOMEM. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_statsd_open(const char *target, const am_statsd_opts *o, am_statsd **out);

/*
** am_statsd_close: send what is buffered, stop the flush thread and free
** the client. c takes; NULL is a no-op. No other thread may use c.
** Since: 0.1
*/
AM_EXTERN void am_statsd_close(am_statsd *c);

/*
** Record one value. All six share these rules:
** c           borrowed.
** name        borrowed; 1.. bytes with the prefix at most AM_STATSD_MAX_NAME,
**             without ':', '|', '\n', '\r'.
** value       finite; counters >= 0.
** sample_rate in (0, 1]: the call is sent with that probability and marked
**             "|@rate" so the server scales it back (1 for every call).
** tags        borrowed; n_tags strings "key:value" or "key", without '|',
**             ',', '\n', '\r'; AM_LABELS("a:1", "b:2") writes both. NULL/0
**             for none.
** Returns AM_OK (buffered, sampled out, or dropped and counted by a failed
** send); AM_EINVAL (bad name, value, rate or tag; nothing is sent);
** AM_ELIMIT (the line is longer than 65000 bytes). Thread-safe: a short
** critical section per call; the thread that fills a datagram sends it.
** Allocates nothing. Since: 0.1
**
** am_statsd_count:        a counter increment ("|c").
** am_statsd_gauge:        set a gauge ("|g"); negative values are sent as
**                         "0" then the delta, as StatsD requires.
** am_statsd_gauge_add:    change a gauge by delta ("+d|g" / "-d|g").
** am_statsd_timing:       a duration in milliseconds ("|ms").
** am_statsd_histogram:    a value for a histogram ("|h").
** am_statsd_distribution: a value for a distribution ("|d").
*/
AM_EXTERN am_err am_statsd_count(am_statsd *c, const char *name, double value, double sample_rate,
                                 const char *const *tags, size_t n_tags);
AM_EXTERN am_err am_statsd_gauge(am_statsd *c, const char *name, double value, double sample_rate,
                                 const char *const *tags, size_t n_tags);
AM_EXTERN am_err am_statsd_gauge_add(am_statsd *c, const char *name, double delta,
                                     double sample_rate, const char *const *tags, size_t n_tags);
AM_EXTERN am_err am_statsd_timing(am_statsd *c, const char *name, double ms, double sample_rate,
                                  const char *const *tags, size_t n_tags);
AM_EXTERN am_err am_statsd_histogram(am_statsd *c, const char *name, double value,
                                     double sample_rate, const char *const *tags, size_t n_tags);
AM_EXTERN am_err am_statsd_distribution(am_statsd *c, const char *name, double value,
                                        double sample_rate, const char *const *tags, size_t n_tags);

/*
** am_statsd_set: add value (borrowed; 1.. bytes without ':', '|', '\n',
** '\r') to a set ("|s"), whose distinct members the server counts.
** As the calls above otherwise. Since: 0.1
*/
AM_EXTERN am_err am_statsd_set(am_statsd *c, const char *name, const char *value,
                               double sample_rate, const char *const *tags, size_t n_tags);

/*
** am_statsd_flush: send what is buffered now.
** Returns AM_OK (sent, or nothing to send) or AM_EIO when the kernel
** refused the datagram (dropped and counted; am_errmsg() has the reason).
** Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_statsd_flush(am_statsd *c);

/*
** am_statsd_get_stats: the client's counters so far into *out (borrowed).
** Thread-safe. Since: 0.1
*/
AM_EXTERN void am_statsd_get_stats(am_statsd *c, am_statsd_stats *out);

#ifdef __cplusplus
}
#endif
#endif
