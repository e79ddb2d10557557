/*
** store.h: where `agentmon serve` keeps records -- one interface, two
** backends (store_sqlite.c, store_pg.c), chosen by URI:
**
**     sqlite:PATH                 (default AM_STORE_DEFAULT_URI)
**     sqlite:PATH?sync=full       (fsync every commit: survives power loss too)
**     postgres://user:pw@host:port/db   (also postgresql://; any libpq URI)
**
** The tables are those of schema.h, created and upgraded by numbered
** migrations kept in a schema_version table (store_migrate.c lists them).
** A database written by a newer agentmon (a higher version) is refused.
** One store writes to a database at a time: a second am_store_open() of
** the same database, in this process or another, fails with AM_EIO
** (SQLite: an flock() on PATH-lock; PostgreSQL: an advisory lock held by
** the writer's session).
**
** WRITES. am_store_submit() queues records for a single writer thread that
** commits them in batches (group commit: a batch takes what is queued, and
** keeps taking what arrives while it is open, until the queue is empty,
** max_batch records or batch_window_s have passed). The submit returns a
** ticket; am_store_wait() returns when that ticket's batch is committed.
** am_store_submit_then() queues the same way but has a callback told
** instead, on the writer's thread after the commit, so that nobody waits:
** the HTTP ingest defers its answer to it (http.h, am_http_req_defer) and
** answers 2xx only then, so an acknowledged event survives kill -9. The
** queue is bounded: a submit that does not fit returns AM_EFULL at once,
** and nothing is half-queued (the HTTP ingest answers 503 with
** Retry-After). Ids are unique per table: a record whose
** id is already stored is skipped (so a client that resends after a lost
** answer stores nothing twice) and counted in am_store_stats.duplicates --
** except in the state tables (is_upsert: alert state, silences), where it
** replaces the row, which keeps its place (seq) in the table. Retention
** deletes rows older than retention_s from every table but those
** (is_kept).
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
#include "agentmon/log.h"
#include "schema.h"

typedef struct am_store am_store;

/* The store a collector opens when it is given none. */
#define AM_STORE_DEFAULT_URI "sqlite:./agentmon-data/agentmon.db"

typedef struct am_store_opts {
    size_t max_queued;       /* records waiting for the writer; 0 = 100000 */
    double batch_window_s;   /* longest a batch stays open; 0 = 0.05 */
    size_t max_batch;        /* records per transaction; 0 = 5000 */
    double retention_s;      /* rows older than this are deleted; 0 = keep all */
    size_t retention_batch;  /* rows per delete statement; 0 = 2000 */
    size_t max_queued_bytes; /* bytes of queued record copies; 0 = 256 MiB */
    am_logger *logger;       /* when the writer stops and starts writing again */
                             /* (disk full, the database gone); NULL: none */
    double samples_share;    /* the part of both that samples (unacknowledged */
                             /* records) may hold, (0, 1]; 0 = 0.5: acknowledged */
                             /* ingest always has the rest */
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

/*
** The same, waiting at most limit_s seconds (<= 0: no limit) for the
** writer: true when closed; false when the database did not answer in
** time -- the writer is left to it and s is not freed (for a process that
** is ending), and the records not committed are logged. Not while other
** threads still use s.
*/
bool am_store_close_within(am_store *s, double limit_s);

/* Make every am_store_wait() return at once (AM_EIO, "stopping"), now and
   from now on: a stopping collector answers its waiting clients. */
void am_store_release_waiters(am_store *s);

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

/*
** Queue records nobody waits for (StatsD flushes, scrapes, /proc samples):
** as am_store_submit(), but they may fill only samples_share of the queue
** (AM_EFULL past it), so a flood of samples never makes acknowledged
** ingest wait or fail. No ticket. Thread-safe.
*/
am_err am_store_submit_samples(am_store *s, const am_record *recs, size_t n);

/*
** Check one record as am_store_submit() would (AM_OK, or AM_EINVAL naming
** the column and why), without queueing it: to drop one bad record of a
** batch rather than have the batch refused. Thread-safe.
*/
am_err am_store_check(am_store *s, const am_record *r);

/*
** Take back the records of ticket if the writer has not taken them yet:
** AM_OK, and they will never be stored (its waiters get AM_EIO); AM_EBUSY
** when the writer is writing them now (they may yet be committed), AM_EEXIST
** when they are finished already (committed or failed), AM_EINVAL for a
** ticket never given. For a waiter that gives up, so "not acknowledged"
** means "not stored" whenever that can be true. Thread-safe.
*/
am_err am_store_cancel(am_store *s, uint64_t ticket);

/*
** Queue n records as am_store_submit() does, and have done(ud, rc) called
** once their batch is finished, instead of anyone waiting for it: rc
** AM_OK when committed; AM_EIO when the batch failed, the ticket was
** cancelled (am_store_cancel), the waiters were released
** (am_store_release_waiters) or the store closed without writing it --
** am_errmsg() on the calling thread then says which. Exactly one call,
** and only when this returns AM_OK (its errors are am_store_submit's;
** after am_store_release_waiters, AM_EIO). done runs on the writer's
** thread, or on the thread of the cancel, release or close that finished
** the ticket; never with a lock of the store held (it may call the
** store), and possibly on another thread before this returns (w->ticket
** is set first). It must not block: the writer's next batch waits for it.
** w: the caller's memory (no allocation per submit), borrowed until done
** is called; w->ticket may be given to am_store_cancel() meanwhile.
*/
typedef void (*am_store_done_fn)(void *ud, am_err rc);
typedef struct am_store_watch {
    struct am_store_watch *next; /* the store's, until done is called */
    uint64_t ticket;             /* set by am_store_submit_then */
    am_store_done_fn done;
    void *ud;
} am_store_watch;
am_err am_store_submit_then(am_store *s, const am_record *recs, size_t n, am_store_watch *w,
                            am_store_done_fn done, void *ud);

/* Wait until ticket is committed (AM_OK) or its batch failed (AM_EIO, with
   the batch's error), at most timeout_s (AM_ETIMEDOUT; <= 0 only looks).
   AM_EINVAL for a ticket submit never gave. */
am_err am_store_wait(am_store *s, uint64_t ticket, double timeout_s);

/* ---- queries: results as values ---------------------------------- */

/*
** The three reads give their results to callbacks, as numbers and strings:
** rows, summary points, series and their samples. Nothing here is HTTP
** or JSON (the query API renders them: api/results_json.c), so alert
** rules, the dashboard and exporters read the same results as they are.
** The contract of all three:
**
**   - The callbacks run on the calling thread, before the read returns.
**   - All a callback is given -- values, strings, arrays -- is borrowed
**     for that call only: copy what you keep.
**   - A callback returns 0 to go on. Any other value stops the walk: no
**     callback is called again, and the read returns that value as it is
**     (so a callback passes its own am_err through, e.g. AM_ENOMEM of the
**     caller's buffer; the store sets no message for it).
**   - Otherwise, when a read returns an error the callbacks were not
**     called at all: a read fetches and checks its whole result before it
**     hands out the first value (STYLE.md rule 5), so a caller never has
**     half a result to undo.
*/

#define AM_STORE_MAX_FILTERS 16
#define AM_STORE_MAX_GROUP 4
#define AM_STORE_CURSOR_MAX 128 /* bytes of a next_cursor, its NUL included */

typedef struct am_store_filter {
    int col;           /* index in the table's columns */
    const char *value; /* compared as the column's type (TIME: unix */
                       /* seconds); NULL matches SQL NULL; borrowed */
} am_store_filter;

/*
** Rows of one table with start <= timestamp < end and every filter column
** == value, oldest first (rows with equal timestamps in the order they
** were stored), at most limit rows (1..10000). Paging: cursor NULL (or "")
** for the first page; the next_cursor of a page for the next. A cursor is
** opaque text the store made: it encodes the last row's timestamp and
** storage sequence number, and a checksum over them and the query (table,
** range, filters -- not limit), so a cursor that was altered or belongs
** to another query is AM_EINVAL.
*/
typedef struct am_store_query {
    am_table_id table;
    double start, end; /* unix seconds; NaN = unbounded; end < start is AM_EINVAL */
    am_store_filter filters[AM_STORE_MAX_FILTERS];
    size_t n_filters;
    size_t limit;
    const char *cursor; /* borrowed */
} am_store_query;

/* One row: vals[t->n_cols], in column order (schema.h's enums index it).
   is_null marks SQL NULL (a NULL TEXT also has v.s NULL); TEXT in v.s,
   INT in v.i, REAL in v.d (infinities possible, never NaN), TIME in v.d
   as unix seconds. */
typedef int (*am_store_on_row)(void *ud, const am_table *t, const am_value *vals);

/* on_row for each row in order; then, on AM_OK, *n_rows and next_cursor
   (NUL-terminated; "" when there are no more rows) are set. */
am_err am_store_select(am_store *s, const am_store_query *q, am_store_on_row on_row, void *ud,
                       size_t *n_rows, char next_cursor[AM_STORE_CURSOR_MAX]);

/*
** Summaries: per group (the values of the group_by columns) per
** step-aligned bucket of [start, end) (buckets start at multiples of step
** since the epoch; only buckets with rows appear): count, error rate and
** p50/p95/p99 of the table's value_col (nearest rank: the value at rank
** ceil(q * n) of the n non-NULL values).
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
** start and end must be finite; AM_ELIMIT beyond 1,000,000 group x
** bucket points.
*/
typedef struct am_store_summary {
    am_store_query q; /* table, range, filters (limit and cursor unused) */
    int group_by[AM_STORE_MAX_GROUP];
    size_t n_group_by;
    double step; /* seconds, > 0; the range must hold at most 10000 steps */
                 /* (AM_EINVAL otherwise) */
} am_store_summary;

/* One point of a summary. Groups come in ascending order of their values
   (SQL NULL first), numbered 0, 1, ... in that order; the points of a group
   come one after another, in time order. */
typedef struct am_store_point {
    size_t group;                  /* the group's number */
    const char *const *group_vals; /* n_group_by values, NULL for SQL NULL */
    double t;                      /* the bucket's start, unix seconds */
    uint64_t count;                /* rows */
    double error_rate;             /* errors / count; NaN: the table has no error column */
    double p50, p95, p99;          /* NaN when no row of the bucket has a value */
} am_store_point;

typedef int (*am_store_on_point)(void *ud, const am_store_point *p);

am_err am_store_summarize(am_store *s, const am_store_summary *q, am_store_on_point on_point,
                          void *ud);

/*
** Series: stored metric samples of one name whose labels contain every
** matcher (label = value), in [start, end], series in label-text order;
** with step > 0, one sample per step from start (the last sample at or
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

/* A series begins: its n labels, sorted by name. Its samples follow, in
   time order (none, when a step found none within the lookback). */
typedef int (*am_store_on_series)(void *ud, const char *const *names, const char *const *values,
                                  size_t n);
/* One sample: t unix seconds, v the value (NaN for a NaN sample). */
typedef int (*am_store_on_sample)(void *ud, double t, double v);

am_err am_store_series_query(am_store *s, const am_store_series *q, am_store_on_series on_series,
                             am_store_on_sample on_sample, void *ud);

/*
** Delete the rows of a state table (is_kept: alert state, silences) whose
** timestamp is before `before` (unix seconds), which retention never does:
** the table's owner says when its rows are old (store_prune.c). On the
** writer connection, between batches, in statements of retention_batch
** rows. *n_deleted (may be NULL) gets the count. AM_EINVAL for a table
** that is not a state table; the backend's error otherwise.
*/
am_err am_store_prune(am_store *s, am_table_id t, double before, uint64_t *n_deleted);

/* ---- for /metrics and tests --------------------------------------- */

typedef struct am_store_stats {
    uint64_t committed;        /* records committed (duplicates included) */
    uint64_t batches;          /* transactions committed */
    uint64_t rejected_full;    /* records refused with AM_EFULL */
    uint64_t deleted;          /* rows removed by retention */
    size_t queued;             /* records waiting now */
    uint64_t duplicates;       /* committed records skipped: id already stored */
    uint64_t failed;           /* records of batches that failed (AM_EIO) */
    uint64_t cancelled;        /* records taken back by am_store_cancel() */
    uint64_t retention_runs;   /* retention delete statements that removed rows */
    uint64_t rollup_rows_read; /* by summaries, from the rollup tables */
    uint64_t raw_rows_read;    /* by summaries, from the record tables */
    double writer_cpu_s;       /* CPU seconds the writer thread used: near one a second, it
                                  is the collector's bottleneck */
} am_store_stats;

void am_store_get_stats(am_store *s, am_store_stats *out);

#endif
