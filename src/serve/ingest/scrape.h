/*
** scrape.h: the scraper of `agentmon serve` -- pulls Prometheus text
** or OpenMetrics from targets every interval and hands each sample to the
** collector's sample sink, with Prometheus-style health per target.
**
**     am_scrape_opts o = AM_SCRAPE_OPTS_INIT;
**     o.registry = self; o.sink = on_sample; o.sink_ud = ud;
**     am_scraper *s; am__scraper_new(&o, &s);
**     am_scrape_target t = AM_SCRAPE_TARGET_INIT;
**     t.url = "http://127.0.0.1:9464/metrics"; am__scraper_add(s, &t);
**     am__scraper_start(s);  ...  am__scraper_free(s);
**
** One thread drives every transfer through libcurl's multi interface, so
** targets are scraped concurrently and a slow one delays no other's
** transfer. A scrape is taken whole or not at all: the body is checked by
** the parser first, and only a body that parses is delivered.
*/
#ifndef AM_SERVE_INGEST_SCRAPE_H
#define AM_SERVE_INGEST_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/metrics.h"
#include "../../util/catalog.h"
#include "expo_parse.h"
#include "sample.h"

/*
** A target as written on the command line or in the config file:
** "URL" or "JOB=URL" (the job label; "scrape" when not given). Fills t's
** url and job, pointing into buf (cap bytes, which receives a copy of
** spec). AM_EINVAL naming the problem.
*/
typedef struct am_scrape_target am_scrape_target;
am_err am__scrape_spec(const char *spec, char *buf, size_t cap, am_scrape_target *t);

typedef struct am_scrape_target {
    const char *url;          /* http:// or https://; copied */
    const char *job;          /* the job label; NULL = "scrape"; copied */
    unsigned interval_ms;     /* 0 = 15000 */
    unsigned timeout_ms;      /* 0 = 10000 or the interval if shorter; at most the interval */
    const char *bearer_token; /* sent as "Authorization: Bearer ..."; NULL = none; copied */
} am_scrape_target;

#define AM_SCRAPE_TARGET_INIT                                                                      \
    {                                                                                              \
        NULL, NULL, 15000, 10000, NULL                                                             \
    }

typedef struct am_scrape_opts {
    am_registry *registry; /* health metrics go here (borrowed); NULL = none */
    am_sample_sink sink;   /* every scraped sample; NULL = none (health only) */
    void *sink_ud;
    size_t max_body_bytes; /* uncompressed; a larger body fails the scrape; 0 = 64 MiB */
    am_expo_opts parse;    /* the parser's limits */
} am_scrape_opts;

#define AM_SCRAPE_OPTS_INIT                                                                        \
    {                                                                                              \
        NULL, NULL, NULL, 0, AM_EXPO_OPTS_INIT                                                     \
    }

/* What a target's scrapes came to, for tests and the status page. */
typedef struct am_scrape_stats {
    unsigned long n_scrapes; /* finished, good or bad */
    unsigned long n_errors;
    bool is_up;          /* the last scrape's outcome */
    size_t last_samples; /* samples in the last good scrape */
    double last_duration_s;
    char last_error[256]; /* "" after a good scrape */
} am_scrape_stats;

typedef struct am_scraper am_scraper;

/* The health metrics (up, scrape_duration_seconds, scrape_samples_scraped)
   and agentmon_scrape_* counters. */
extern const am_metric_def am__defs_scrape[];
extern const am_def_table am__table_scrape;

/*
** am__scraper_new: a scraper with no targets. o copied (registry borrowed,
** must outlive the scraper). Registers the health families in o->registry.
** out: owned result, free with am__scraper_free(). AM_EINVAL, AM_ENOMEM,
** AM_EEXIST (a family of the same name and another type in the registry).
*/
am_err am__scraper_new(const am_scrape_opts *o, am_scraper **out);

/*
** am__scraper_add: add a target, before am__scraper_start() (AM_EMISUSE
** after). AM_EINVAL for a URL libcurl cannot parse or whose scheme is not
** http(s), a bad job name or timeout > interval; AM_EEXIST for a URL
** already added with the same job.
*/
am_err am__scraper_add(am_scraper *s, const am_scrape_target *t);

/* Start the scraping thread; every target is scraped at once, then every
   interval. AM_EMISUSE if started already, AM_EIO/AM_ENOMEM otherwise. */
am_err am__scraper_start(am_scraper *s);

/* Stop: abort transfers in flight, deliver nothing more, join the thread.
   Idempotent; am__scraper_free() stops too. */
void am__scraper_stop(am_scraper *s);
void am__scraper_free(am_scraper *s);

/* The number of targets, and target i's stats (copied under a lock). */
size_t am__scraper_n_targets(const am_scraper *s);
am_err am__scraper_stats(am_scraper *s, size_t i, am_scrape_stats *out);

#endif
