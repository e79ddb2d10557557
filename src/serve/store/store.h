/*
** store.h: where `agentmon serve` keeps records -- one interface, two
** backends (store_sqlite.c, store_pg.c), chosen by URI:
**
**     sqlite:PATH                 (default sqlite:./agentmon-data/agentmon.db)
**     sqlite:PATH?sync=full       (fsync every commit: survives power loss too)
**     postgres://user:pw@host:port/db   (also postgresql://; any libpq URI)
**
** The tables are those of schema.h, created and upgraded by numbered
** migrations kept in a schema_version table (store.c lists them). A
** database written by a newer agentmon (a higher version) is refused.
** One store writes to a database at a time: a second am_store_open() of
** the same database, in this process or another, fails with AM_EIO
** (SQLite: an flock() on PATH-lock; PostgreSQL: an advisory lock held by
** the writer's session).
**
** WRITES. am_store_submit() queues records for a single writer thread that
** commits them in batches (group commit: a batch takes what is queued, and
** keeps taking what arrives while it is open, until the queue is empty,
** max_batch records or batch_window_s have passed). The submit returns a
** ticket; am_store_wait() returns when that ticket's batch is committed --
** only then does the HTTP ingest answer 2xx, so an acknowledged event
** survives kill -9. The queue is bounded: a submit that does not fit
** returns AM_EFULL at once, and nothing is half-queued (the HTTP ingest
** answers 503 with Retry-After). Ids are unique per table: a record whose
** id is already stored is skipped (so a client that resends after a lost
** answer stores nothing twice) and counted in am_store_stats.duplicates.
**
** READS run on the calling thread with their own connection (SQLite WAL
** readers never block the writer), so several queries run at once.
**
** THREADS. Every function is thread-safe unless said otherwise.
** ERRORS. am_err codes; am_errmsg() names the problem (the SQL error of
** the backend included).
*/
#ifndef AM_SERVE_STORE_H
#define AM_SERVE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/common.h"
#include "../../core/buf.h"
#include "schema.h"

typedef struct am_store am_store;

typedef struct am_store_opts {
    size_t max_queued;       /* records waiting for the writer; 0 = 100000 */
    double batch_window_s;   /* longest a batch stays open; 0 = 0.05 */
    size_t max_batch;        /* records per transaction; 0 = 5000 */
    double retention_s;      /* rows older than this are deleted; 0 = keep all */
    size_t retention_batch;  /* rows per delete statement; 0 = 2000 */
    size_t max_queued_bytes; /* bytes of queued record copies; 0 = 256 MiB */
} am_store_opts;

#define AM_STORE_OPTS_INIT                                                                         \
    {                                                                                              \
        0                                                                                          \
    }

/* Longest TEXT value and id a record may carry, in bytes. */
#define AM_STORE_MAX_TEXT 16384
#define AM_STORE_MAX_ID 256

/* Open (creating the file or tables, running migrations) and start the
   writer. uri: borrowed; NULL means the default. out: owned,
   am_store_close(). AM_EINVAL (bad URI or options), AM_EIO (cannot
   open/connect/migrate, a newer schema, another writer), AM_ENOMEM. */
am_err am_store_open(const char *uri, const am_store_opts *o, am_store **out);

/* Commit what is queued, stop the writer, close. NULL is a no-op. Not
   while other threads still use s. */
void am_store_close(am_store *s);

/* "sqlite" or "postgres". */
const char *am_store_backend(const am_store *s);

/*
** Queue n records (all or none; values copied). *ticket identifies the
** batch to wait for. AM_EFULL when they do not fit now (counted in
** rejected_full); AM_ELIMIT when n is more than the queue can ever hold;
** AM_EINVAL when n is 0 or a record does not match its table (am_errmsg()
** names the record index and column: NaN in a REAL column, a TEXT value
** that is not UTF-8 or longer than AM_STORE_MAX_TEXT, an id that is NULL,
** empty or longer than AM_STORE_MAX_ID, a timestamp that is not a finite
** time in years 1970..9999); AM_EIO while the writer cannot write (its
** last error in am_errmsg()) or after close began.
*/
am_err am_store_submit(am_store *s, const am_record *recs, size_t n, uint64_t *ticket);

/* Wait until ticket is committed (AM_OK) or its batch failed (AM_EIO, with
   the batch's error), at most timeout_s (AM_ETIMEDOUT; <= 0 only looks).
   AM_EINVAL for a ticket submit never gave. */
am_err am_store_wait(am_store *s, uint64_t ticket, double timeout_s);

/* ---- queries ------------------------------------------------------ */

#define AM_STORE_MAX_FILTERS 16
#define AM_STORE_MAX_GROUP 4

typedef struct am_store_filter {
    int col;           /* index in the table's columns */
    const char *value; /* compared as the column's type (TIME: unix */
                       /* seconds); NULL matches SQL NULL; borrowed */
} am_store_filter;

/*
** GET /api/v1/metrics/{type}: rows of one table with start <= timestamp <
** end and every filter column == value, oldest first (rows with equal
** timestamps in the order they were stored), at most limit rows
** (1..10000). Paging: cursor NULL for the first page; the result's
** next_cursor (or "" when no more rows) for the next. A cursor is opaque
** text the store made: it encodes the last row's timestamp and storage
** sequence number, and a checksum over them and the query (table, range,
** filters -- not limit), so a cursor that was altered or belongs to
** another query is AM_EINVAL.
*/
typedef struct am_store_query {
    am_table_id table;
    double start, end; /* unix seconds; NaN = unbounded; end < start is AM_EINVAL */
    am_store_filter filters[AM_STORE_MAX_FILTERS];
    size_t n_filters;
    size_t limit;
    const char *cursor; /* borrowed */
} am_store_query;

/*
** The rows as a JSON array of objects (column name -> value: TEXT as a
** string, INT and REAL as numbers (infinities as the strings "+Inf" and
** "-Inf"), timestamp as RFC 3339 UTC with ms, SQL NULL as null), appended
** to out; *n_rows set; next_cursor written (NUL-terminated, at most 128
** bytes) or set to "" when there is no more. On error out is as it was.
*/
am_err am_store_select(am_store *s, const am_store_query *q, am_buf *out, size_t *n_rows,
                       char next_cursor[128]);

/*
** GET /api/v1/metrics/{type}/summary: per group (the values of group_by
** columns) per step-aligned bucket of [start, end) (buckets start at
** multiples of step since the epoch; only buckets with rows appear):
** count, error rate (null when the table has no error column) and
** p50/p95/p99 of the table's value_col (nearest rank: the value at rank
** ceil(q * n) of the n non-NULL values; null when there are none).
** Percentiles come from log-bucketed histograms with at most 1% relative
** error (bucket ceil(log_1.02 |v|), read back as its midpoint). The store
** keeps them, with count and errors, per minute and per hour (rollups)
** for no dimension and for each TEXT group_by column that is not
** high-cardinality, maintained in the transaction of the rows (exact and
** crash-consistent; a resent duplicate is not counted), so a summary over
** a million rows reads a few thousand rollup rows. Whole hours come from
** the hour rollups when step is a multiple of 3600, whole minutes from
** the minute rollups when step is a multiple of 60, and the partial
** minutes at the ends of the range from rows; group_by on two or more
** columns, a filter on a column other than the one grouped by (or more
** than one filter), and steps that are not whole minutes read rows --
** with the same histograms, so both ways give the same numbers.
** Appends {"step":..,"groups":[{"group":{..},"points":[{"t":"RFC 3339",
** "count":..,"error_rate":..,"p50":..,"p95":..,"p99":..}]}]} to out
** (groups in ascending order of their values, NULL first). start and end
** must be finite; AM_ELIMIT beyond 1,000,000 group x bucket points.
*/
typedef struct am_store_summary {
    am_store_query q; /* table, range, filters (limit and cursor unused) */
    int group_by[AM_STORE_MAX_GROUP];
    size_t n_group_by;
    double step; /* seconds, > 0; the range must hold at most 10000 steps */
                 /* (AM_EINVAL otherwise) */
} am_store_summary;

am_err am_store_summarize(am_store *s, const am_store_summary *q, am_buf *out);

/*
** GET /api/v1/series: stored metric samples of one name whose labels
** contain every matcher (label = value), in [start, end], as
** {"series":[{"labels":{..},"points":[[t,v],...]}]} (t unix seconds with
** ms, v a number or "NaN"/"+Inf"/"-Inf"; series in label-text order);
** with step > 0, one point per step from start (the last sample at or
** before it, as Prometheus' range queries do, looking back at most 5
** minutes; at most 10000 steps). start and end must be finite.
*/
typedef struct am_store_series {
    const char *name;
    const char *match_names[AM_STORE_MAX_FILTERS];
    const char *match_values[AM_STORE_MAX_FILTERS];
    size_t n_match;
    double start, end, step;
} am_store_series;

am_err am_store_series_query(am_store *s, const am_store_series *q, am_buf *out);

/* ---- for /metrics and tests --------------------------------------- */

typedef struct am_store_stats {
    uint64_t committed;        /* records committed (duplicates included) */
    uint64_t batches;          /* transactions committed */
    uint64_t rejected_full;    /* records refused with AM_EFULL */
    uint64_t deleted;          /* rows removed by retention */
    size_t queued;             /* records waiting now */
    uint64_t duplicates;       /* committed records skipped: id already stored */
    uint64_t failed;           /* records of batches that failed (AM_EIO) */
    uint64_t retention_runs;   /* retention delete statements that removed rows */
    uint64_t rollup_rows_read; /* by summaries, from the rollup tables */
    uint64_t raw_rows_read;    /* by summaries, from the record tables */
} am_store_stats;

void am_store_get_stats(am_store *s, am_store_stats *out);

#endif
