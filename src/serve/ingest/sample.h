/*
** sample.h: one metric sample on its way into the collector, whatever
** brought it (a StatsD flush, a scrape, a "metric" event), and the sink
** that takes it. The serve glue turns samples into metric_samples rows
** (schema.h) and into series of the collector's own registry.
*/
#ifndef AM_SERVE_SAMPLE_H
#define AM_SERVE_SAMPLE_H

#include <stddef.h>

typedef struct am_sample {
    const char *name;   /* a valid Prometheus metric name, as exposed */
                        /* (counters end in _total; histograms give _bucket, */
                        /* _sum and _count samples) */
    const char *type;   /* "counter", "gauge", "histogram", "summary", */
                        /* "untyped", ... (the family's type) */
    const char *labels; /* canonical label text: {a="1",b="2"} sorted by */
                        /* name, values escaped as in the text format; "" */
                        /* when there are none */
    double value;
    double timestamp;   /* unix seconds */
    const char *source; /* "statsd", "event", "scrape:<target url>" */
} am_sample;

/* Called for each sample; every pointer is borrowed for the call only.
   Returns 0, or non-zero to stop the producer early. */
typedef int (*am_sample_sink)(void *userdata, const am_sample *s);

#endif
