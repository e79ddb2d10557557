/*
** store_backend.h: what store.c asks of a database (store_sqlite.c,
** store_pg.c), and the SQL text both backends share (store_sql.c).
**
** A backend only connects and runs statements: every statement text is
** made by store_sql.c from schema.h, every value travels as a parameter
** (never pasted into the text), and the policy -- queueing, batching,
** retention, paging, summaries -- is store.c's, once for both.
**
** Statements run either on the writer connection (only the writer thread
** and open/close use it) or on a reading connection the backend takes
** from its pool for the call, so reads run beside the writer and each
** other.
*/
#ifndef AM_SERVE_STORE_BACKEND_H
#define AM_SERVE_STORE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "../../util/buf.h"
#include "schema.h"
#include "store.h"

/* How the two SQL dialects differ; everything else is written once. */
typedef struct am_sql_dialect {
    const char *name;
    bool is_dollar_params; /* $1, $2 (PostgreSQL) rather than ? */
    const char *int_type;  /* 64-bit integer */
    const char *real_type; /* double */
    const char *seq_decl;  /* the storage sequence: a growing integer key */
    const char *strpos_fn; /* position of a substring: instr / strpos */
    const char *blob_type; /* rollup histograms (bytes) */
} am_sql_dialect;

extern const am_sql_dialect am__sql_sqlite;
extern const am_sql_dialect am__sql_pg;

/* A row of a result, one value per requested column (strings borrowed for
   the call). Return non-zero to stop; the run then fails with that code. */
typedef int (*am_store_row_fn)(void *ud, const am_value *cols);

/* The parameters and result shape of one statement. */
typedef struct am_store_stmt {
    const char *sql;
    const am_value *params;
    const am_col_type *param_types;
    size_t n_params;
    const am_col_type *col_types; /* of the result columns */
    size_t n_cols;
    am_store_row_fn on_row; /* NULL when there is no result */
    void *ud;
    bool is_cached; /* sql lives as long as the store: keep it prepared */
} am_store_stmt;

typedef struct am_store_ops {
    unsigned version;
    const char *name;
    const am_sql_dialect *dialect;
    /* Connect the writer. uri borrowed. */
    am_err (*open)(const char *uri, void **be);
    void (*close)(void *be);
    /* Statements without parameters or results (DDL, BEGIN, COMMIT); on
       the writer connection. */
    am_err (*exec)(void *be, const char *sql);
    /* A statement; *changes (may be NULL) gets the rows it changed. */
    am_err (*run)(void *be, bool on_writer, const am_store_stmt *st, int64_t *changes);
    /* Is the writer connection usable (reconnecting if it can)? */
    am_err (*ping)(void *be);
    /* n statements without results on the writer, in order, stopping at
       the first error; changed[i] tells whether statement i changed a row
       (an INSERT that was not skipped as a duplicate). changed NULL: only
       success matters, and the backend may answer before the statements
       ran -- a failure is then the next statement's on the writer (COMMIT
       fails: nothing of the transaction commits). */
    am_err (*run_many)(void *be, const am_store_stmt *sts, size_t n, bool *changed);
    /* Version 2, optional (NULL: store.c runs one am__sql_insert per
       record with run_many). Insert the n records of recs, all of table t
       (never an is_upsert table) with their first n_cols values, on the
       writer, in order, in as few statements as the backend likes;
       changed[k] tells whether record k was stored (false: its id was
       stored before, or came earlier in recs). recs borrowed. */
    am_err (*insert_rows)(void *be, const am_table *t, size_t n_cols, const am_record *recs,
                          size_t n, bool *changed);
    /* Whether this store may run retention now, on the writer between
       batches: one store of a shared database at a time (PostgreSQL: an
       advisory lock, taken when free). NULL: always. */
    bool (*is_maintainer)(void *be);
    /* Take (block, within a bound) or release the lock that lets one store
       at a time migrate a shared database. NULL: no lock needed. */
    am_err (*migration_lock)(void *be, bool is_take);
} am_store_ops;

/* What a backend returns when the database aborted a transaction for
   another's sake (a deadlock): the writer runs the batch again. */
#define AM_STORE_RETRY AM_EBUSY

extern const am_store_ops am__store_sqlite_ops;
extern const am_store_ops am__store_pg_ops;

/* ---- SQL text (store_sql.c); appended to b ---------------------------- */

/* The next parameter marker: "?" or "$<++*n>". */
void am__sql_param(am_buf *b, const am_sql_dialect *d, size_t *n);
/*
** The SQL of migration v (schema.h, VERSIONS): for each table in order,
** its CREATE TABLE (with the columns of v and its time index) if v made
** it, the ALTER TABLE ADD COLUMNs of v, the indexes of v, and the rollup
** table if v made it. The parts, each appending nothing when v made
** nothing of its kind for t:
*/
void am__sql_migration(am_buf *b, const am_sql_dialect *d, int v);
void am__sql_create_table(am_buf *b, const am_sql_dialect *d, const am_table *t, int v);
void am__sql_add_columns(am_buf *b, const am_sql_dialect *d, const am_table *t, int v);
void am__sql_create_indexes(am_buf *b, const am_sql_dialect *d, const am_table *t, int v);
/* The rollup table of t: per level, dimension, bucket and key, the count,
   errors, values and their histogram. */
void am__sql_create_rollup(am_buf *b, const am_sql_dialect *d, const am_table *t, int v);
/* INSERT of t's first n_cols columns: a row whose id is stored is skipped,
   or replaced when t->is_upsert. */
void am__sql_insert(am_buf *b, const am_sql_dialect *d, const am_table *t, size_t n_cols);
/*
** SQLite only: one INSERT of n_rows rows of t's first n_cols columns,
** "INSERT OR IGNORE ... VALUES (...), (...)": a row whose id is stored is
** skipped. OR IGNORE rather than ON CONFLICT (id) DO NOTHING, because a
** statement that may abort (the NOT NULLs do, under the default ABORT)
** keeps a statement journal, which a many-row INSERT spills to a
** temporary file: measured 6x the writes. Every value was checked before
** (am_store_submit), so no NOT NULL can fail and the two mean the same.
*/
void am__sql_insert_rows_sqlite(am_buf *b, const am_table *t, size_t n_cols, size_t n_rows);
/* SELECT seq FROM t WHERE id = ? */
void am__sql_seq_of_id(am_buf *b, const am_sql_dialect *d, const am_table *t);
/* The statements of the rollup table: read one key (level, dim, bucket,
   key), write it (upsert of 9 values), delete a level's and dimension's
   buckets before a time. has_writer: the table of AM_ROLLUP_WRITER_SINCE
   on, whose key ends with writer: one more parameter, last. */
void am__sql_rollup_get(am_buf *b, const am_sql_dialect *d, const am_table *t, bool has_writer);
void am__sql_rollup_put(am_buf *b, const am_sql_dialect *d, const am_table *t, bool has_writer);
void am__sql_rollup_delete(am_buf *b, const am_sql_dialect *d, const am_table *t);
/*
** The bulk insert of t's first n_cols columns (PostgreSQL): one simple
** query of four statements -- make the session's staging table (a TEMP
** table, emptied at each commit), COPY the rows into it (binary: ord,
** then the columns), insert them (the first of each id, in ord order)
** skipping stored ids, and answer the ord of every row inserted; then
** empty the staging table for the next chunk of the transaction.
*/
void am__sql_bulk_insert(am_buf *b, const am_sql_dialect *d, const am_table *t, size_t n_cols);
/* Comma-separated names of the columns in cols[0..n) of t. */
void am__sql_columns(am_buf *b, const am_table *t, const int *cols, size_t n);

/*
** WHERE clause of a query: range, filters and (has_after) the keyset
** condition "after (after_ts, after_seq)". Parameters are appended to
** params/types (room for AM_STORE_MAX_FILTERS + 5); *np counts them. The
** filter values must have been checked (am__store_filter_value).
*/
void am__sql_where(am_buf *b, const am_sql_dialect *d, const am_table *t, const am_store_query *q,
                   const am_value *filter_vals, bool has_after, double after_ts, int64_t after_seq,
                   am_value *params, am_col_type *types, size_t *np);

/* ---- shared by store.c and the tests ------------------------------------- */

/* Cursor text (48 lowercase hex digits) for the row (ts, seq) of the query
   whose fingerprint is qhash; NUL-terminated into out[49]. */
void am__store_cursor_encode(char out[49], uint64_t qhash, double ts, int64_t seq);
/* Parse a cursor of the query qhash; AM_EINVAL (with a message) unless it
   is exactly what am__store_cursor_encode made for qhash. */
am_err am__store_cursor_decode(const char *text, uint64_t qhash, double *ts, int64_t *seq);
/* The fingerprint of a query: table, range and filters (not limit). */
uint64_t am__store_query_hash(const am_store_query *q);

/* The latest schema version: the highest migration number schema.c
   names. am__store_open_version() opens applying at most max_version
   migrations, and then reads and writes as a program of that version did
   (only the columns, tables and rollups it had): tests make and fill the
   databases of older versions this way. */
int am__store_schema_version(void);
am_err am__store_open_version(const char *uri, const am_store_opts *o, int max_version,
                              am_store **out);
/* Hold the writer (no batch begins while paused), so tests can fill the
   queue; close still commits what is queued. */
void am__store_pause(am_store *s, bool is_paused);
/* Whether summaries may read rollups (on by default; tests compare both
   ways). Not while summaries run. */
void am__store_read_rollups(am_store *s, bool is_on);
/* Run SQL on the writer connection between batches (tests only). */
am_err am__store_exec(am_store *s, const char *sql);

#endif
