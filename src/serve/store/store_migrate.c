/*
** store_migrate.c: the store's schema versions -- a database at version v
** has had migrations 1..v applied, each in its own transaction together
** with its row in schema_version.
**
** DESIGN
** Migration N is a function of N alone (schema.h, VERSIONS): its SQL is
** what schema.c marks with N -- the tables N created (with the columns
** they had then), the columns N added to older tables (ALTER TABLE ADD
** COLUMN), the indexes N made, the rollup tables N created -- so adding a
** column in migration N+1 changes nothing any earlier migration does, and
** a database of any version upgrades to the latest. The history so far:
**   1  the record tables, with id UNIQUE and a (timestamp, seq) index
**   2  an index (column, timestamp) per group_by column, for per-agent
**      (per-model, per-host ...) queries and summaries
**   3  the rollup tables, filled from the rows already stored
**   4  alerting's and the trace view's tables, llm_events.agent_id
**   5  a writer column in the rollup tables' key (AM_ROLLUP_WRITER_SINCE):
**      several collectors may share one PostgreSQL, each keeping rollup
**      rows of its own (the rows stored before become writer '')
**   6  fewer index entries per record (issue 14): the indexes of
**      few-valued columns (statuses, message and metric types) dropped,
**      those of optional columns remade leaving NULL rows out
** Rollups of a dimension that a migration adds (a table's rollups, or a
** group_by column added to a table that has them) are filled from the rows
** already stored, in the migration's transaction, so summaries read from
** rollups and from rows agree on every database however old.
**
** A database of a higher version than this program knows is refused: it
** may hold columns this program would not write.
*/
#include "store_internal.h"

int am__store_schema_version(void)
{
    int v = 0;
    for (int i = 0; i < AM_T__N; i++) {
        const am_table *t = am_table_get((am_table_id)i);
        v = t->since > v ? t->since : v;
        v = t->rollup_since > v ? t->rollup_since : v;
        v = t->rollup_since && AM_ROLLUP_WRITER_SINCE > v ? AM_ROLLUP_WRITER_SINCE : v;
        for (size_t c = 0; c < t->n_cols; c++) {
            v = t->cols[c].since > v ? t->cols[c].since : v;
            v = t->cols[c].indexed > v ? t->cols[c].indexed : v;
            v = t->cols[c].sparse_since > v ? t->cols[c].sparse_since : v;
            v = t->cols[c].unindexed > v ? t->cols[c].unindexed : v;
        }
    }
    return v;
}

static int on_version(void *ud, const am_value *cols)
{
    int *v = ud;
    if (!cols[0].is_null && cols[0].v.i > *v)
        *v = (int)cols[0].v.i;
    return 0;
}

typedef struct backfill {
    am_store *s;
    am_table_id table;
    int version;
    amap m;
    size_t n;
    am_err err;
} backfill;

/* BACKFILL_FLUSH rows at a time, so the map stays small on any table */
#define BACKFILL_FLUSH 50000

static int on_backfill_row(void *ud, const am_value *cols)
{
    backfill *b = ud;
    am_record r = {b->table, (am_value *)cols};
    if (!am__rollup_add(&b->m, &r, b->version, b->version))
        return AM_ENOMEM;
    if (++b->n % BACKFILL_FLUSH == 0) {
        am_err rc = am__rollup_flush(b->s, &b->m);
        am__amap_free(&b->m);
        if (rc) {
            b->err = rc;
            return rc;
        }
    }
    return 0;
}

/* Whether migration v adds a rollup dimension to t. */
static bool adds_dims(const am_table *t, int v)
{
    for (size_t c = 0; c < t->n_cols; c = c ? c + 1 : 2)
        if (am__store_dim_since(t, (int)c) == v)
            return true;
    return false;
}

/* Rollups of the dimensions migration v adds, from the rows stored before. */
static am_err rollup_backfill(am_store *s, int v)
{
    for (int t = 0; t < AM_T__N; t++) {
        const am_table *tb = am_table_get((am_table_id)t);
        if (!adds_dims(tb, v))
            continue;
        size_t n_cols = am_table_cols_at(tb, v);
        am_buf sql;
        am_buf_init(&sql, 0);
        am_buf_puts(&sql, "SELECT ");
        for (size_t i = 0; i < n_cols; i++)
            am_buf_printf(&sql, "%s%s", i ? ", " : "", tb->cols[i].name);
        am_buf_printf(&sql, " FROM %s ORDER BY timestamp, seq", tb->sql_name);
        backfill b = {.s = s, .table = (am_table_id)t, .version = v};
        s->rollup_has_writer = v >= AM_ROLLUP_WRITER_SINCE; /* the tables as v left them */
        am_err rc = am_buf_err(&sql) ? AM_ENOMEM : AM_OK;
        if (!rc) {
            am_store_stmt st = {.sql = sql.p,
                                .col_types = s->param_types[t],
                                .n_cols = n_cols,
                                .on_row = on_backfill_row,
                                .ud = &b};
            rc = s->ops->run(s->be, true, &st, NULL);
        }
        if (!rc)
            rc = am__rollup_flush(s, &b.m);
        am__amap_free(&b.m);
        am_buf_free(&sql);
        if (rc)
            return b.err ? b.err : rc;
    }
    return AM_OK;
}

static am_err migrate(am_store *s, int max_version);

/* Several stores of one database (collectors on a shared PostgreSQL) may
   open at once: one migrates while the others wait for its lock, then
   find the version it made. */
am_err am__store_migrate(am_store *s, int max_version)
{
    if (!s->ops->migration_lock)
        return migrate(s, max_version);
    am_err rc = s->ops->migration_lock(s->be, true);
    if (rc)
        return rc;
    rc = migrate(s, max_version);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", am_errmsg());
    am_err unlock = s->ops->migration_lock(s->be, false);
    if (rc) /* the migration's message, not the unlock's */
        return am__err(rc, "%s", msg);
    return unlock;
}

static am_err migrate(am_store *s, int max_version)
{
    const am_sql_dialect *d = s->ops->dialect;
    am_err rc = s->ops->exec(s->be, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER "
                                    "NOT NULL PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)");
    if (rc)
        return rc;
    int version = 0;
    am_col_type ct = AM_COL_INT;
    am_store_stmt st = {.sql = "SELECT max(version) FROM schema_version",
                        .col_types = &ct,
                        .n_cols = 1,
                        .on_row = on_version,
                        .ud = &version};
    if ((rc = s->ops->run(s->be, true, &st, NULL)))
        return rc;
    if (version > max_version)
        return am__err(AM_EIO,
                       "the database is at schema version %d, newer than this agentmon knows "
                       "(%d): use a newer agentmon",
                       version, max_version);
    s->version = max_version;
    for (int v = version + 1; v <= max_version; v++) {
        am_buf b;
        am_buf_init(&b, 0);
        am_buf_puts(&b, "BEGIN;\n");
        am__sql_migration(&b, d, v);
        am_buf_printf(&b, "INSERT INTO schema_version (version, applied_at) VALUES (%d, %.3f);\n",
                      v, am_unix_time());
        rc = am_buf_err(&b);
        if (!rc)
            rc = s->ops->exec(s->be, b.p);
        if (!rc)
            rc = rollup_backfill(s, v);
        if (!rc)
            rc = s->ops->exec(s->be, "COMMIT");
        am_buf_free(&b);
        if (rc) {
            s->ops->exec(s->be, "ROLLBACK");
            return am__err(AM_EIO, "migration to schema version %d failed: %s", v, am_errmsg());
        }
    }
    return AM_OK;
}
