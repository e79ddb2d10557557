/*
** statsd_agg.h: StatsD lines folded into the collector's registry.
**
** Each line updates one series of a family named after the line:
**
**   c   counter  <name>_total          += value / sample rate
**   g   gauge    <name>                = value; += value when signed (+/-)
**   ms  histogram <name>_seconds       value / 1000, AM_STATSD_TIMER_BUCKETS
**                (no second suffix when the name already ends in _seconds)
**   h,d histogram <name>               value, AM_STATSD_VALUE_BUCKETS
**   s   gauge    <name>                distinct values since the last flush
**
** Histograms observe a sampled line round(1 / rate) times (at most
** AM_STATSD_MAX_REPEAT). Names and tag keys are mapped as
** am__statsd_map_name() says; tags become labels sorted by key. The first
** line of a name fixes its type: a later line with another type is refused
** (AM_EINVAL) and changes nothing. Lines of one name with other tag keys
** are taken, as statsd_exporter takes them: each key set is a family of its
** own in the registry, a sibling of the first, all exposed as one family
** (at most 8 key sets a name). Names starting "agentmon_", "scrape_" and
** "up" are the collector's own and are refused. A name the registry already
** holds with the same type (a pack's metric, such as
** agent_task_duration_seconds) is fed as defined there -- its buckets, its
** label order -- when the tag keys are its label names; other keys are
** refused, since a pack's labels are its contract.
**
** THREADS: every function takes the aggregator's mutex, so one receive
** thread and a flushing thread may share it; a datagram takes it once.
*/
#ifndef AM_SERVE_STATSD_AGG_H
#define AM_SERVE_STATSD_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "agentmon/metrics.h"
#include "sample.h"
#include "statsd_parse.h"

typedef struct am_statsd_agg am_statsd_agg;

/* Seconds, for ms timers: Prometheus' defaults, stretched to 5 minutes
   because agent steps (LLM calls, tools) take that long. */
#define AM_STATSD_TIMER_BUCKETS_N 15
extern const double AM_STATSD_TIMER_BUCKETS[AM_STATSD_TIMER_BUCKETS_N];
/* Raw units, for h and d: 1-2.5-5 steps from 0.1 to 1e6 (sizes, counts of
   tokens or items, bytes). */
#define AM_STATSD_VALUE_BUCKETS_N 22
extern const double AM_STATSD_VALUE_BUCKETS[AM_STATSD_VALUE_BUCKETS_N];

#define AM_STATSD_MAX_REPEAT 1000        /* observations per sampled line */
#define AM_STATSD_DEFAULT_FAMILIES 10000 /* distinct names */
#define AM_STATSD_DEFAULT_CACHE 65536    /* remembered raw name+tags keys */
#define AM_STATSD_DEFAULT_SERIES 100000  /* series, all names together */
#define AM_STATSD_MAX_SET 65536          /* distinct values per set per flush */

typedef struct am_statsd_agg_opts {
    size_t max_families; /* 0: AM_STATSD_DEFAULT_FAMILIES; past it AM_ELIMIT */
    size_t max_children; /* per family (the registry's guard); 0: its default */
    size_t max_cache;    /* 0: AM_STATSD_DEFAULT_CACHE; the cache is emptied */
                         /* when full (a speed-up only, never a limit) */
    size_t max_series;   /* this source's budget of series, all names together; */
                         /* 0: AM_STATSD_DEFAULT_SERIES. Past it a new label set */
                         /* goes to its family's overflow series (AM_ELIMIT), as */
                         /* at a family's own limit, and is counted there */
} am_statsd_agg_opts;

/* clang-format off */
#define AM_STATSD_AGG_OPTS_INIT {0}
/* clang-format on */

/* What a datagram held. */
typedef struct am_statsd_counts {
    uint64_t n_lines;   /* non-empty lines */
    uint64_t n_invalid; /* lines refused */
} am_statsd_counts;

/* Called for each refused line (borrowed bytes, the code; am_errmsg() has
   the reason) while the aggregator's mutex is held. */
typedef void (*am_statsd_invalid_fn)(void *ud, const char *line, size_t len, am_err rc);

/*
** Create an aggregator writing into r (borrowed; must outlive it).
** o may be NULL. Returns AM_OK or AM_ENOMEM; *out owned, free with
** am__statsd_agg_free().
*/
am_err am__statsd_agg_new(am_registry *r, const am_statsd_agg_opts *o, am_statsd_agg **out);

/* Free the aggregator (not the families it made: they stay in r). NULL is
   a no-op. */
void am__statsd_agg_free(am_statsd_agg *a);

/*
** Apply one parsed line. Returns AM_OK; AM_ELIMIT when a family was at its
** child limit and the line went to its overflow series (recorded all the
** same) or too many names exist (not recorded); AM_EINVAL (type or tag-key
** conflict, a name the registry refuses) or AM_EEXIST (the name belongs to
** another, non-StatsD family) or AM_ENOMEM, with nothing changed and
** am_errmsg() saying why.
*/
am_err am__statsd_agg_line(am_statsd_agg *a, const am_statsd_line *l);

/*
** Whether l would be applied, changing nothing: AM_OK, or the code and
** message am__statsd_agg_line() would give for a line it refuses (a
** negative counter increment, another type or other tag keys than the
** name's, a reserved name or label). A line past a limit is AM_OK: it
** would be recorded (in an overflow series). For a metric event's
** answer: refused there rather than accepted and lost. Thread-safe.
*/
am_err am__statsd_agg_check(am_statsd_agg *a, const am_statsd_line *l);

/*
** Parse and apply every line of a datagram, adding to *counts. A line that
** fails to parse or apply (AM_ELIMIT for a family's overflow excepted) is
** counted invalid and given to on_invalid (may be NULL).
*/
void am__statsd_agg_datagram(am_statsd_agg *a, const char *buf, size_t len,
                             am_statsd_counts *counts, am_statsd_invalid_fn on_invalid, void *ud);

/*
** Give every StatsD-fed series' current value to sink as samples (source
** "statsd", timestamp now; histograms as _bucket/_sum/_count), then start
** a new interval for sets (their gauges go back to 0). A sink returning
** non-zero stops the walk. Returns AM_OK or AM_ENOMEM.
*/
am_err am__statsd_agg_flush(am_statsd_agg *a, am_sample_sink sink, void *ud);

/* Families and series made so far (for tests and the self-metrics; the
   series count takes no lock, so a registry callback may read it). */
size_t am__statsd_agg_n_families(am_statsd_agg *a);
size_t am__statsd_agg_n_series(am_statsd_agg *a);

#endif
