/*
** test_store_migrate.c: the store's schema versions (src/serve/store/
** store_migrate.c), on SQLite and PostgreSQL (store_fixture.h).
**
**   - The SQL of every migration, for both dialects, is the text in
**     tests/unit/golden/migrations.sql: a released migration never
**     changes, so a database of version k is built exactly as version k
**     built it (the text of migrations 1-3 was captured from the code that
**     shipped them, before migrations became functions of their version).
**   - For every version k: a database built at k, filled through the store
**     of version k (every table it has, every column it has), upgraded to
**     the latest, gives every row back -- the columns of k as written, the
**     later ones NULL -- takes rows in every table of the latest version,
**     and its summaries read from rollups equal those read from rows, for
**     every rollup dimension (so migrations that add rollups fill them from
**     the rows stored before).
**   - A database newer than the program is refused.
**   - On SQLite, a filter on a column searches its index (partial ones
**     too) and, where migration 6 dropped it, the time index.
*/
#include <math.h>
#include <sqlite3.h>
#include <unistd.h>

#include "testutil.h"
#include "store_fixture.h"
#include "serve/store/store.h"
#include "serve/store/store_backend.h"

/* ------------------------------------------------------------ the SQL */

static void test_migration_sql(void **state)
{
    (void)state;
    const am_sql_dialect *d[2] = {&am__sql_sqlite, &am__sql_pg};
    am_buf b;
    am_buf_init(&b, 0);
    for (int i = 0; i < 2; i++)
        for (int v = 1; v <= am__store_schema_version(); v++) {
            am_buf_printf(&b, "-- %s migration %d\n", d[i]->name, v);
            am__sql_migration(&b, d[i], v);
        }
    am_test_golden("migrations.sql", b.p);
    am_buf_free(&b);
}

/* ------------------------------------------------------------ plans */

static int on_plan(void *ud, int n, char **vals, char **names)
{
    (void)names;
    am_buf_printf(ud, "%s;", n > 3 && vals[3] ? vals[3] : "");
    return 0;
}

/* The latest schema on SQLite: the row select filtered on a column (what
   the query API and the dashboard send) searches the column's index when
   it has one -- partial ones too, which `col = ?` implies -- and the time
   index when migration 6 dropped it. */
static void test_query_plans(void **state)
{
    (void)state;
    char dir[] = "/tmp/am-plans-XXXXXX", uri[128], path[112];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/agentmon.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    am_store *s;
    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    am_store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (int ti = 0; ti < AM_T__N; ti++) {
        const am_table *t = am_table_get((am_table_id)ti);
        for (size_t c = 2; c < t->n_cols; c++) {
            const am_column *col = &t->cols[c];
            char sql[512], want[160];
            snprintf(sql, sizeof sql,
                     "EXPLAIN QUERY PLAN SELECT * FROM %s WHERE timestamp >= ? AND timestamp < ? "
                     "AND %s = ? ORDER BY timestamp, seq LIMIT 101",
                     t->sql_name, col->name);
            if (col->indexed && !col->unindexed)
                snprintf(want, sizeof want, "USING INDEX %s_%s (%s=?", t->sql_name, col->name,
                         col->name);
            else if (col->indexed)
                snprintf(want, sizeof want, "USING INDEX %s_time", t->sql_name);
            else
                continue;
            am_buf plan;
            am_buf_init(&plan, 0);
            assert_int_equal(sqlite3_exec(db, sql, on_plan, &plan, NULL), SQLITE_OK);
            if (!plan.p || !strstr(plan.p, want))
                fail_msg("%s.%s: the plan is \"%s\", not %s", t->sql_name, col->name,
                         plan.p ? plan.p : "", want);
            am_buf_free(&plan);
        }
    }
    sqlite3_close(db);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    assert_int_equal(system(path), 0);
}

/* ------------------------------------------------------------ rows */

#define ROWS 30
#define T0 1700003600.0 /* a whole hour */

/* The value row i of table t holds in column c (every column set: the
   dimensions take a few values and sometimes NULL). */
static am_value value_of(const am_table *t, size_t c, int i, char *text, size_t cap)
{
    const am_column *col = &t->cols[c];
    if (c == AM_C_ID) {
        snprintf(text, cap, "%s-%d", t->api_name, i);
        return (am_value){.v.s = text};
    }
    if (c == AM_C_TIMESTAMP)
        return (am_value){.v.d = T0 - 1800 + i * 397.25};
    if (i % 7 == 3 && !col->required)
        return (am_value){.is_null = true};
    switch (col->type) {
    case AM_COL_TEXT:
        if (col->group_by)
            snprintf(text, cap, "%s-%d", col->name, i % 3);
        else
            snprintf(text, cap, "%s \"%d\" \xc3\xa9", col->name, i);
        return (am_value){.v.s = text};
    case AM_COL_INT:
        return (am_value){.v.i = (int64_t)(i * 7 + (int)c) % 5};
    case AM_COL_TIME:
        return (am_value){.v.d = T0 + i};
    case AM_COL_REAL:
    default:
        return (am_value){.v.d = i * 1.5 + (double)c / 8};
    }
}

/* A row as text, column by column, for comparing; columns past n NULL. */
static void row_text(am_buf *b, const am_table *t, const am_value *v, size_t n)
{
    for (size_t c = 0; c < t->n_cols; c++) {
        if (c >= n || v[c].is_null) {
            am_buf_puts(b, "NULL|");
            continue;
        }
        switch (t->cols[c].type) {
        case AM_COL_TEXT:
            am_buf_printf(b, "'%s'|", v[c].v.s);
            break;
        case AM_COL_INT:
            am_buf_printf(b, "%lld|", (long long)v[c].v.i);
            break;
        default:
            am_buf_printf(b, "%.17g|", v[c].v.d);
        }
    }
    am_buf_putc(b, '\n');
}

/* Rows [from, from + ROWS) of every table that version v has, through s;
   the text each should read back as (columns v lacks NULL) into want[t]. */
static void fill(am_store *s, int v, int from, am_buf *want)
{
    for (int ti = 0; ti < AM_T__N; ti++) {
        const am_table *t = am_table_get((am_table_id)ti);
        size_t n = am_table_cols_at(t, v);
        if (!n)
            continue;
        static char text[ROWS][AM_TABLE_MAX_COLS][64];
        static am_value vals[ROWS][AM_TABLE_MAX_COLS];
        am_record recs[ROWS];
        for (int i = 0; i < ROWS; i++) {
            for (size_t c = 0; c < t->n_cols; c++)
                vals[i][c] = value_of(t, c, from + i, text[i][c], sizeof text[i][c]);
            recs[i] = (am_record){t->id, vals[i]};
            row_text(&want[ti], t, vals[i], n);
        }
        sf_put(s, recs, ROWS);
    }
}

static int on_row(void *ud, const am_table *t, const am_value *vals)
{
    row_text(ud, t, vals, t->n_cols);
    return 0;
}

/* Every row of t, oldest first, as text. */
static void read_all(am_store *s, const am_table *t, am_buf *got)
{
    am_store_query q = {.table = t->id, .start = NAN, .end = NAN, .limit = 10000};
    size_t n;
    char next[AM_STORE_CURSOR_MAX];
    AM_ASSERT_OK(am_store_select(s, &q, on_row, got, &n, next));
    AM_ASSERT_STR_EQ(next, "");
}

static int on_point(void *ud, const am_store_point *p)
{
    am_buf *b = ud;
    am_buf_printf(b, "%zu %.17g %llu %.17g %.17g %.17g %.17g\n", p->group, p->t,
                  (unsigned long long)p->count, p->error_rate, p->p50, p->p95, p->p99);
    return 0;
}

/* Summaries of t from rollups and from rows: the same points. */
static void check_summaries(am_store *s, const am_table *t)
{
    static const double steps[] = {60, 3600, 120};
    for (size_t dim = 0; dim < t->n_cols; dim = dim ? dim + 1 : 2) {
        if (dim && !(t->cols[dim].group_by && !t->cols[dim].is_high_cardinality &&
                     t->cols[dim].type == AM_COL_TEXT))
            continue;
        for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
            am_store_summary q = {
                .q = {.table = t->id, .start = T0 - 3600 + 0.5, .end = T0 + 4 * 3600 + 30},
                .step = steps[k]};
            if (dim) {
                q.group_by[0] = (int)dim;
                q.n_group_by = 1;
            }
            am_buf a, b;
            am_buf_init(&a, 0);
            am_buf_init(&b, 0);
            am_store_stats st0, st1;
            am_store_get_stats(s, &st0);
            AM_ASSERT_OK(am_store_summarize(s, &q, on_point, &a));
            am_store_get_stats(s, &st1);
            if (!(st1.rollup_rows_read > st0.rollup_rows_read))
                fail_msg("%s by %s, step %g: no rollups read", t->sql_name,
                         dim ? t->cols[dim].name : "nothing", steps[k]);
            am__store_read_rollups(s, false);
            AM_ASSERT_OK(am_store_summarize(s, &q, on_point, &b));
            am__store_read_rollups(s, true);
            if (strcmp(a.p ? a.p : "", b.p ? b.p : "") != 0)
                fail_msg("%s by %s, step %g: rollups\n%s\nrows\n%s", t->sql_name,
                         dim ? t->cols[dim].name : "nothing", steps[k], a.p, b.p);
            assert_non_null(a.p);
            am_buf_free(&a);
            am_buf_free(&b);
        }
    }
}

static void test_upgrade_every_version(void **state)
{
    (void)state;
    int latest = am__store_schema_version();
    for (int k = 1; k <= latest; k++) {
        char uri[256];
        sf_fresh_uri(uri, sizeof uri);
        am_buf want[AM_T__N];
        for (int t = 0; t < AM_T__N; t++)
            am_buf_init(&want[t], 0);
        am_store *s;
        AM_ASSERT_OK(am__store_open_version(uri, NULL, k, &s));
        fill(s, k, 0, want);
        am_store_close(s);

        AM_ASSERT_OK(am_store_open(uri, NULL, &s));
        fill(s, latest, ROWS, want);
        for (int ti = 0; ti < AM_T__N; ti++) {
            const am_table *t = am_table_get((am_table_id)ti);
            am_buf got;
            am_buf_init(&got, 0);
            read_all(s, t, &got);
            if (strcmp(got.p ? got.p : "", want[ti].p ? want[ti].p : "") != 0)
                fail_msg("from version %d, %s reads back\n%s\nexpected\n%s", k, t->sql_name, got.p,
                         want[ti].p);
            am_buf_free(&got);
            if (t->rollup_since && t->value_col >= 0)
                check_summaries(s, t);
            am_buf_free(&want[ti]);
        }
        am_store_close(s);
    }
}

/* A database is refused by a program older than it. */
static void test_newer_refused(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s;
    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    am_store_close(s);
    AM_ASSERT_ERR(am__store_open_version(uri, NULL, 1, &s), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "newer");
    AM_ASSERT_ERR(am__store_open_version(uri, NULL, 0, &s), AM_EINVAL);
    AM_ASSERT_ERR(am__store_open_version(uri, NULL, am__store_schema_version() + 1, &s), AM_EINVAL);
    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    AM_ASSERT_OK(am__store_exec(s, "INSERT INTO schema_version (version, applied_at) VALUES "
                                   "(999, 0)"));
    am_store_close(s);
    AM_ASSERT_ERR(am_store_open(uri, NULL, &s), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "schema version 999");
}

static int count_row(void *ud, const am_table *t, const am_value *vals)
{
    (void)t;
    (void)vals;
    ++*(size_t *)ud;
    return 0;
}

/* An old database is read and written as its version was: a table or
   column it lacks is refused, not half written. */
static void test_old_version_limits(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s;
    int old = am_table_get(AM_T_LOG)->since - 1; /* before alerting's tables */
    AM_ASSERT_OK(am__store_open_version(uri, NULL, old, &s));
    const am_table *llm = am_table_get(AM_T_LLM), *log = am_table_get(AM_T_LOG);
    assert_true(llm->cols[AM_LLM_AGENT_ID].since > old && log->since > old);
    /* a table it lacks */
    am_value lv[AM_LOG__N];
    for (size_t c = 0; c < AM_LOG__N; c++)
        lv[c] = (am_value){.is_null = true};
    lv[AM_LOG_ID] = (am_value){.v.s = "line-1"};
    lv[AM_LOG_TIMESTAMP] = (am_value){.v.d = T0};
    am_record r = {AM_T_LOG, lv};
    uint64_t ticket;
    AM_ASSERT_ERR(am_store_submit(s, &r, 1, &ticket), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "log_lines");
    am_store_query q = {.table = AM_T_LOG, .start = NAN, .end = NAN, .limit = 10};
    size_t n = 0;
    char next[AM_STORE_CURSOR_MAX];
    AM_ASSERT_ERR(am_store_select(s, &q, count_row, &n, &n, next), AM_EINVAL);
    /* a column it lacks: written as NULL (ignored), read as NULL, not
       filtered or grouped by */
    am_value v[AM_LLM__N];
    for (size_t c = 0; c < AM_LLM__N; c++)
        v[c] = (am_value){.is_null = true};
    v[AM_LLM_ID] = (am_value){.v.s = "llm-1"};
    v[AM_LLM_TIMESTAMP] = (am_value){.v.d = T0};
    v[AM_LLM_AGENT_ID] = (am_value){.v.s = "coder"};
    r = (am_record){AM_T_LLM, v};
    sf_put(s, &r, 1);
    am_buf b;
    am_buf_init(&b, 0);
    read_all(s, llm, &b);
    AM_ASSERT_STR_EQ(b.p, "'llm-1'|1700003600|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|"
                          "NULL|\n");
    am_buf_free(&b);
    q = (am_store_query){.table = AM_T_LLM, .start = NAN, .end = NAN, .limit = 10};
    q.filters[0] = (am_store_filter){AM_LLM_AGENT_ID, "coder"};
    q.n_filters = 1;
    AM_ASSERT_ERR(am_store_select(s, &q, count_row, &n, &n, next), AM_EINVAL);
    am_store_summary sq = {.q = {.table = AM_T_LLM, .start = 0, .end = 3600}, .step = 60};
    sq.group_by[0] = AM_LLM_AGENT_ID;
    sq.n_group_by = 1;
    AM_ASSERT_ERR(am_store_summarize(s, &sq, on_point, &b), AM_EINVAL);
    am_store_close(s);
    /* at version 1 there are no rollups: summaries read rows */
    sf_fresh_uri(uri, sizeof uri);
    AM_ASSERT_OK(am__store_open_version(uri, NULL, 1, &s));
    am_store_summary tq = {.q = {.table = AM_T_TASK, .start = 0, .end = 3600}, .step = 60};
    am_buf_init(&b, 0);
    AM_ASSERT_OK(am_store_summarize(s, &tq, on_point, &b));
    am_store_stats st;
    am_store_get_stats(s, &st);
    AM_ASSERT_EQ(st.rollup_rows_read, 0);
    am_buf_free(&b);
    am_store_close(s);
}

/* A migration that fails leaves the database at its version, whole. */
static void test_failed_migration(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    int latest = am_table_get(AM_T_LOG)->since; /* the migration that fails */
    am_buf want[AM_T__N];
    for (int t = 0; t < AM_T__N; t++)
        am_buf_init(&want[t], 0);
    am_store *s;
    AM_ASSERT_OK(am__store_open_version(uri, NULL, latest - 1, &s));
    fill(s, latest - 1, 0, want);
    /* something in the way of the migration that makes log_lines */
    AM_ASSERT_OK(am__store_exec(s, "CREATE TABLE log_lines (x INTEGER)"));
    am_store_close(s);
    AM_ASSERT_ERR(am_store_open(uri, NULL, &s), AM_EIO);
    char why[256];
    snprintf(why, sizeof why, "migration to schema version %d failed", latest);
    AM_ASSERT_CONTAINS(am_errmsg(), why);
    AM_ASSERT_CONTAINS(am_errmsg(), "log_lines");
    /* still the old version, with its rows */
    AM_ASSERT_OK(am__store_open_version(uri, NULL, latest - 1, &s));
    AM_ASSERT_OK(am__store_exec(s, "DROP TABLE log_lines"));
    am_store_close(s);
    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    const am_table *t = am_table_get(AM_T_COMMUNICATION);
    am_buf got;
    am_buf_init(&got, 0);
    read_all(s, t, &got);
    AM_ASSERT_STR_EQ(got.p, want[AM_T_COMMUNICATION].p);
    am_buf_free(&got);
    check_summaries(s, am_table_get(AM_T_LLM)); /* its new dimension, backfilled */
    am_store_close(s);
    for (int i = 0; i < AM_T__N; i++)
        am_buf_free(&want[i]);
}

/* Rollups of more rows than the backfill holds in memory at once (it
   writes them in parts): the same as the rows say. */
static void test_large_backfill(void **state)
{
    (void)state;
    enum { N = 50000 + 1234 };
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s;
    AM_ASSERT_OK(am__store_open_version(uri, NULL, 2, &s));
    static am_value v[1000][AM_TASK__N];
    static char ids[1000][16];
    am_record r[1000];
    static const char *const agents[] = {"planner", "coder", "reviewer"};
    for (int i = 0; i < N;) {
        int k = 0;
        for (; k < 1000 && i < N; k++, i++) {
            snprintf(ids[k], sizeof ids[k], "t-%d", i);
            for (size_t c = 0; c < AM_TASK__N; c++)
                v[k][c] = (am_value){.is_null = true};
            v[k][AM_TASK_ID] = (am_value){.v.s = ids[k]};
            v[k][AM_TASK_TIMESTAMP] = (am_value){.v.d = T0 + (i % 7200) * 1.5};
            v[k][AM_TASK_AGENT_ID] = (am_value){.v.s = agents[i % 3]};
            v[k][AM_TASK_STATUS] = (am_value){.v.s = i % 11 ? "success" : "failure"};
            v[k][AM_TASK_DURATION] = (am_value){.v.d = (i % 1000) / 100.0};
            r[k] = (am_record){AM_T_TASK, v[k]};
        }
        sf_put(s, r, (size_t)k);
    }
    am_store_close(s);
    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    check_summaries(s, am_table_get(AM_T_TASK));
    am_store_close(s);
}

static const struct CMUnitTest DB_SUITE[] = {
    cmocka_unit_test(test_upgrade_every_version), cmocka_unit_test(test_newer_refused),
    cmocka_unit_test(test_old_version_limits),    cmocka_unit_test(test_failed_migration),
    cmocka_unit_test(test_large_backfill),
};

int main(void)
{
    const struct CMUnitTest sql[] = {cmocka_unit_test(test_migration_sql),
                                     cmocka_unit_test(test_query_plans)};
    int failed = cmocka_run_group_tests_name("migration_sql", sql, NULL, NULL);
    return sf_run_both("migrate", DB_SUITE, sizeof DB_SUITE / sizeof *DB_SUITE) || failed;
}
