/*
** store_sql.c: the SQL text of the store, made from schema.h for either
** dialect (see store_backend.h).
**
** Both backends store a table the same way: the schema.h columns (TEXT,
** a 64-bit integer, a double; timestamps as double unix seconds, which
** keeps ms precision for 280,000 years and lets the same comparisons and
** arithmetic run on both), plus `seq`, a growing integer key that orders
** rows of equal timestamps in the order they were stored (one writer
** assigns them, in commit order) and makes paging a keyset condition.
** `id` is UNIQUE, so a resent record is skipped by ON CONFLICT DO NOTHING,
** which both SQLite (3.24+) and PostgreSQL (9.5+) spell the same.
**
** Only parameter markers differ in the statements themselves (? or $n);
** type names and two functions come from the dialect table.
*/
#include <stdio.h>

#include "store_backend.h"

const am_sql_dialect am__sql_sqlite = {
    "sqlite", false, "INTEGER", "REAL", "seq INTEGER PRIMARY KEY", "instr", "BLOB",
};

const am_sql_dialect am__sql_pg = {
    "postgres",
    true,
    "BIGINT",
    "DOUBLE PRECISION",
    "seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    "strpos",
    "BYTEA",
};

void am__sql_param(am_buf *b, const am_sql_dialect *d, size_t *n)
{
    ++*n;
    if (d->is_dollar_params)
        am_buf_printf(b, "$%zu", *n);
    else
        am_buf_putc(b, '?');
}

static const char *type_name(const am_sql_dialect *d, am_col_type t)
{
    switch (t) {
    case AM_COL_INT:
        return d->int_type;
    case AM_COL_REAL:
    case AM_COL_TIME:
        return d->real_type;
    case AM_COL_TEXT:
    default:
        return "TEXT";
    }
}

void am__sql_create_table(am_buf *b, const am_sql_dialect *d, const am_table *t, int v)
{
    if (t->since != v)
        return;
    size_t n = am_table_cols_at(t, v);
    am_buf_printf(b, "CREATE TABLE %s (%s", t->sql_name, d->seq_decl);
    for (size_t i = 0; i < n; i++) {
        const am_column *c = &t->cols[i];
        am_buf_printf(b, ", %s %s", c->name, type_name(d, c->type));
        if (i == AM_C_ID)
            am_buf_puts(b, " NOT NULL UNIQUE");
        else if (i == AM_C_TIMESTAMP)
            am_buf_puts(b, " NOT NULL");
    }
    am_buf_puts(b, ");\n");
    am_buf_printf(b, "CREATE INDEX %s_time ON %s (timestamp, seq);\n", t->sql_name, t->sql_name);
}

void am__sql_migration(am_buf *b, const am_sql_dialect *d, int v)
{
    for (int i = 0; i < AM_T__N; i++) {
        const am_table *t = am_table_get((am_table_id)i);
        am__sql_create_table(b, d, t, v);
        am__sql_add_columns(b, d, t, v);
        am__sql_create_indexes(b, d, t, v);
        am__sql_create_rollup(b, d, t, v);
    }
}

void am__sql_add_columns(am_buf *b, const am_sql_dialect *d, const am_table *t, int v)
{
    for (size_t i = 0; t->since < v && i < t->n_cols; i++)
        if (t->cols[i].since == v)
            am_buf_printf(b, "ALTER TABLE %s ADD COLUMN %s %s;\n", t->sql_name, t->cols[i].name,
                          type_name(d, t->cols[i].type));
}

static void create_index(am_buf *b, const am_table *t, const am_column *c, bool is_sparse)
{
    am_buf_printf(b, "CREATE INDEX %s_%s ON %s (%s, timestamp)", t->sql_name, c->name, t->sql_name,
                  c->name);
    if (is_sparse)
        am_buf_printf(b, " WHERE %s IS NOT NULL", c->name);
    am_buf_puts(b, ";\n");
}

/*
** Per-column indexes: (column, timestamp), made by the migration the
** column's `indexed` names -- for each group_by column that is not
** high-cardinality (per agent, per host, per model, per metric name ...),
** and for lookups such as trace ids. Each index costs every insert a
** B-tree insertion, so session ids (one value per session) are left to
** the time index, and a sparse column's index leaves its NULL rows out.
** Later migrations drop an index (`unindexed`) or remake it leaving the
** NULL rows out (`sparse_since`); the index keeps its name, so the
** statement that drops it is the same whatever made it.
*/
void am__sql_create_indexes(am_buf *b, const am_sql_dialect *d, const am_table *t, int v)
{
    (void)d;
    for (size_t i = 2; i < t->n_cols; i++) {
        const am_column *c = &t->cols[i];
        if (c->indexed == v)
            create_index(b, t, c, c->is_sparse);
        if (c->unindexed == v || c->sparse_since == v) /* after indexed (store.c checks) */
            am_buf_printf(b, "DROP INDEX %s_%s;\n", t->sql_name, c->name);
        if (c->sparse_since == v)
            create_index(b, t, c, true);
    }
}

void am__sql_columns(am_buf *b, const am_table *t, const int *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            am_buf_puts(b, ", ");
        am_buf_puts(b, t->cols[cols[i]].name);
    }
}

void am__sql_insert(am_buf *b, const am_sql_dialect *d, const am_table *t, size_t n_cols)
{
    am_buf_printf(b, "INSERT INTO %s (", t->sql_name);
    for (size_t i = 0; i < n_cols; i++)
        am_buf_printf(b, "%s%s", i ? ", " : "", t->cols[i].name);
    am_buf_puts(b, ") VALUES (");
    size_t n = 0;
    for (size_t i = 0; i < n_cols; i++) {
        if (i)
            am_buf_puts(b, ", ");
        am__sql_param(b, d, &n);
    }
    if (!t->is_upsert) {
        am_buf_puts(b, ") ON CONFLICT (id) DO NOTHING");
        return;
    }
    am_buf_puts(b, ") ON CONFLICT (id) DO UPDATE SET ");
    for (size_t i = 1; i < n_cols; i++)
        am_buf_printf(b, "%s%s = excluded.%s", i > 1 ? ", " : "", t->cols[i].name, t->cols[i].name);
}

void am__sql_bulk_insert(am_buf *b, const am_sql_dialect *d, const am_table *t, size_t n_cols)
{
    char stage[96];
    snprintf(stage, sizeof stage, "am_stage_%s_%zu", t->sql_name, n_cols);
    am_buf_printf(b, "CREATE TEMP TABLE IF NOT EXISTS %s (ord %s", stage, d->int_type);
    for (size_t i = 0; i < n_cols; i++)
        am_buf_printf(b, ", %s %s", t->cols[i].name, type_name(d, t->cols[i].type));
    am_buf_printf(b, ") ON COMMIT DELETE ROWS;\nCOPY %s FROM STDIN (FORMAT binary);\n", stage);
    /* DISTINCT ON keeps the first row of an id; the INSERT takes them in
       arrival order, so seq orders equal timestamps as they came */
    am_buf_printf(b,
                  "WITH s AS (SELECT DISTINCT ON (id) * FROM %s ORDER BY id, ord), i AS "
                  "(INSERT INTO %s (",
                  stage, t->sql_name);
    for (size_t i = 0; i < n_cols; i++)
        am_buf_printf(b, "%s%s", i ? ", " : "", t->cols[i].name);
    am_buf_puts(b, ") SELECT ");
    for (size_t i = 0; i < n_cols; i++)
        am_buf_printf(b, "%s%s", i ? ", " : "", t->cols[i].name);
    am_buf_printf(b,
                  " FROM s ORDER BY ord ON CONFLICT (id) DO NOTHING RETURNING id) SELECT s.ord "
                  "FROM s JOIN i USING (id);\nDELETE FROM %s",
                  stage);
}

void am__sql_insert_rows_sqlite(am_buf *b, const am_table *t, size_t n_cols, size_t n_rows)
{
    am_buf_printf(b, "INSERT OR IGNORE INTO %s (", t->sql_name);
    for (size_t i = 0; i < n_cols; i++)
        am_buf_printf(b, "%s%s", i ? ", " : "", t->cols[i].name);
    am_buf_puts(b, ") VALUES ");
    for (size_t r = 0; r < n_rows; r++) {
        am_buf_puts(b, r ? ", (" : "(");
        for (size_t i = 0; i < n_cols; i++)
            am_buf_puts(b, i ? ", ?" : "?");
        am_buf_putc(b, ')');
    }
}

void am__sql_seq_of_id(am_buf *b, const am_sql_dialect *d, const am_table *t)
{
    size_t n = 0;
    am_buf_printf(b, "SELECT seq FROM %s WHERE id = ", t->sql_name);
    am__sql_param(b, d, &n);
}

static void add_param(am_value *params, am_col_type *types, size_t *np, am_value v, am_col_type t)
{
    params[*np] = v;
    types[*np] = t;
}

void am__sql_where(am_buf *b, const am_sql_dialect *d, const am_table *t, const am_store_query *q,
                   const am_value *filter_vals, bool has_after, double after_ts, int64_t after_seq,
                   am_value *params, am_col_type *types, size_t *np)
{
    const char *glue = " WHERE ";
    am_value v = {0};
    if (q->start == q->start) {
        am_buf_printf(b, "%stimestamp >= ", glue);
        v.v.d = q->start;
        add_param(params, types, np, v, AM_COL_REAL);
        am__sql_param(b, d, np);
        glue = " AND ";
    }
    if (q->end == q->end) {
        am_buf_printf(b, "%stimestamp < ", glue);
        v.v.d = q->end;
        add_param(params, types, np, v, AM_COL_REAL);
        am__sql_param(b, d, np);
        glue = " AND ";
    }
    for (size_t i = 0; i < q->n_filters; i++) {
        const am_column *c = &t->cols[q->filters[i].col];
        if (filter_vals[i].is_null) {
            am_buf_printf(b, "%s%s IS NULL", glue, c->name);
        } else {
            am_buf_printf(b, "%s%s = ", glue, c->name);
            add_param(params, types, np, filter_vals[i],
                      c->type == AM_COL_TIME ? AM_COL_REAL : c->type);
            am__sql_param(b, d, np);
        }
        glue = " AND ";
    }
    if (has_after) {
        /* (timestamp, seq) > (after_ts, after_seq), spelled so that the
           (timestamp, seq) index serves it on both databases */
        am_buf_printf(b, "%s(timestamp > ", glue);
        v.v.d = after_ts;
        add_param(params, types, np, v, AM_COL_REAL);
        am__sql_param(b, d, np);
        am_buf_puts(b, " OR (timestamp = ");
        add_param(params, types, np, v, AM_COL_REAL);
        am__sql_param(b, d, np);
        am_buf_puts(b, " AND seq > ");
        v.v.i = after_seq;
        add_param(params, types, np, v, AM_COL_INT);
        am__sql_param(b, d, np);
        am_buf_puts(b, "))");
    }
}

/*
** Rollups of a table: per level (60 or 3600 s), dimension (a column
** index, 0 for none), bucket start and key ("" or "=" + the dimension's
** value): the count, errors, non-NULL values and their histogram as text
** ("index:count,..."; see store.c), keyed so that a summary reads one
** range of the primary key. From AM_ROLLUP_WRITER_SINCE the key ends with
** writer, the store that wrote the row: stores sharing a database each
** keep their own rows (exact, since each is their only writer), and a
** summary adds a key's rows up as it adds buckets.
*/
static void rollup_table(am_buf *b, const am_sql_dialect *d, const char *name, bool has_writer)
{
    am_buf_printf(b,
                  "CREATE TABLE %s (level %s NOT NULL, dim %s NOT NULL, bucket %s NOT NULL, key "
                  "TEXT NOT NULL, g TEXT, n %s NOT NULL, errors %s NOT NULL, n_vals %s NOT NULL, "
                  "hist TEXT NOT NULL%s, PRIMARY KEY (level, dim, bucket, key%s));\n",
                  name, d->int_type, d->int_type, d->real_type, d->int_type, d->int_type,
                  d->int_type, has_writer ? ", writer TEXT NOT NULL" : "",
                  has_writer ? ", writer" : "");
}

void am__sql_create_rollup(am_buf *b, const am_sql_dialect *d, const am_table *t, int v)
{
    char name[96];
    snprintf(name, sizeof name, "%s_rollup", t->sql_name);
    if (t->rollup_since == v) {
        rollup_table(b, d, name, v >= AM_ROLLUP_WRITER_SINCE);
    } else if (t->rollup_since && t->rollup_since < v && v == AM_ROLLUP_WRITER_SINCE) {
        /* the key gains writer: a new table, the rows as writer '' (a
           primary key cannot be altered in SQLite; this reads the same on
           both databases) */
        char next[112];
        snprintf(next, sizeof next, "%s_%d", name, v);
        rollup_table(b, d, next, true);
        am_buf_printf(b,
                      "INSERT INTO %s (level, dim, bucket, key, g, n, errors, n_vals, hist, "
                      "writer) SELECT level, dim, bucket, key, g, n, errors, n_vals, hist, '' "
                      "FROM %s;\nDROP TABLE %s;\nALTER TABLE %s RENAME TO %s;\n",
                      next, name, name, next, name);
    }
}

void am__sql_rollup_get(am_buf *b, const am_sql_dialect *d, const am_table *t, bool has_writer)
{
    size_t n = 0;
    am_buf_printf(b, "SELECT n, errors, n_vals, hist FROM %s_rollup WHERE level = ", t->sql_name);
    am__sql_param(b, d, &n);
    am_buf_puts(b, " AND dim = ");
    am__sql_param(b, d, &n);
    am_buf_puts(b, " AND bucket = ");
    am__sql_param(b, d, &n);
    am_buf_puts(b, " AND key = ");
    am__sql_param(b, d, &n);
    if (has_writer) {
        am_buf_puts(b, " AND writer = ");
        am__sql_param(b, d, &n);
    }
}

void am__sql_rollup_put(am_buf *b, const am_sql_dialect *d, const am_table *t, bool has_writer)
{
    size_t n = 0;
    am_buf_printf(b,
                  "INSERT INTO %s_rollup (level, dim, bucket, key, g, n, errors, n_vals, hist%s) "
                  "VALUES (",
                  t->sql_name, has_writer ? ", writer" : "");
    for (int i = 0; i < 9 + has_writer; i++) {
        if (i)
            am_buf_puts(b, ", ");
        am__sql_param(b, d, &n);
    }
    am_buf_printf(b,
                  ") ON CONFLICT (level, dim, bucket, key%s) DO UPDATE SET n = excluded.n, "
                  "errors = excluded.errors, n_vals = excluded.n_vals, hist = excluded.hist",
                  has_writer ? ", writer" : "");
}

void am__sql_rollup_delete(am_buf *b, const am_sql_dialect *d, const am_table *t)
{
    size_t n = 0;
    am_buf_printf(b, "DELETE FROM %s_rollup WHERE level = ", t->sql_name);
    am__sql_param(b, d, &n);
    am_buf_puts(b, " AND dim = ");
    am__sql_param(b, d, &n);
    am_buf_puts(b, " AND bucket < ");
    am__sql_param(b, d, &n);
}
