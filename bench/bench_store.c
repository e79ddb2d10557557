/*
** bench_store.c: the collector's record store (src/serve/store.h) --
** acknowledged ingest into SQLite and PostgreSQL beside the naive way of
** writing the same rows, and query latency over a million stored rows.
**
** WHAT IT MEASURES, AND WHY
**   store_sqlite_records_per_s   16 threads (an HTTP server's 16 busy
**                                connections), each submitting batches of 50
**                                communication records (what one HTTP
**                                ingest request carries) and waiting for
**                                the ticket before the next, as the HTTP
**                                ingest answers only after the commit;
**                                records acknowledged per second over 2 s
**                                (0.5 s with --quick). Target: 150,000 (issue 14).
**   store_sqlite_naive_records_per_s
**                                the peer, same run, same file settings
**                                (WAL, synchronous=NORMAL), same INSERT
**                                text: one INSERT per record in
**                                autocommit -- a commit per event.
**   store_sqlite_bare_insert_records_per_s
**                                the limit, same run: one thread inserting
**                                the same records with the same INSERT
**                                into a database the store made (same
**                                indexes), all in one transaction -- no
**                                rollups, no queue, no commit to wait for.
**                                What SQLite's B-trees cost on this
**                                machine; the store cannot beat it by
**                                much (it inserts many rows per
**                                statement), so a target above it is one
**                                this machine cannot reach.
**   store_sqlite_vs_naive        ours / the peer's: what group commit gains.
**   store_pg_records_per_s, store_pg_naive_records_per_s, store_pg_vs_naive
**                                the same against a throwaway PostgreSQL
**                                cluster this group starts on 127.0.0.1
**                                (skipped, saying so, without PostgreSQL).
**                                Target: 60,000 (issue 14).
**   store_pg_bare_copy_records_per_s
**                                the limit, same run: one connection
**                                COPYing the same records, encoded as the
**                                store does, straight into the store's
**                                table (same indexes), 1000 a statement,
**                                one transaction -- no rollups, no queue,
**                                no commit to wait for. The store's
**                                writer is one connection, so one server
**                                backend: this is what its CPU allows.
**   store_1m_build_s             1,000,000 communication records (24 h of
**                                timestamps, 20 agents, 5 message types)
**                                submitted through the store at full speed
**                                into a fresh SQLite file.
**   store_select_p50_ms / _p99_ms
**                                am__json_select (rows as the API answers
**                                them): a page of 100 rows of one
**                                source agent over one random hour, 200
**                                queries.
**   store_summary_1h_p50_ms / _p99_ms, store_summary_24h_p50_ms / _p99_ms
**                                am__json_summary: group_by
**                                source_agent_id over the last hour at step
**                                60 s and the whole day at step 3600 s.
**                                Target (p99): 20 ms; the slice asks 100 ms.
** The million-row part is skipped with AM_BENCH_STORE_SKIP_1M=1. With
** AM_BENCH_PG_URI set, store_pg_records_per_s runs against that database
** (one you started with pg_stat_statements, to profile) and no peer.
*/
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "../tests/unit/pg_fixture.h"
#include "agentmon/agentmon.h"
#include "bench.h"
#include "serve/api/results_json.h"
#include "serve/store/store.h"
#include "serve/store/pg_copy.h"
#include "serve/store/store_backend.h"

#define BATCH 50
#define THREADS 16
#define N_AGENTS 20
#define N_TYPES 5

/* ------------------------------------------------------------ records */

typedef struct rec {
    char id[48], session[24], src[16], dst[16], type[16];
    am_value v[40];
    am_record r;
} rec;

static void make_rec(rec *x, const char *run, uint64_t i, double ts)
{
    const am_table *t = am_table_get(AM_T_COMMUNICATION);
    snprintf(x->id, sizeof x->id, "%s-%llu", run, (unsigned long long)i);
    snprintf(x->session, sizeof x->session, "sess-%llu", (unsigned long long)(i / 100));
    snprintf(x->src, sizeof x->src, "agent-%llu", (unsigned long long)(i % N_AGENTS));
    snprintf(x->dst, sizeof x->dst, "agent-%llu", (unsigned long long)((i * 7 + 3) % N_AGENTS));
    snprintf(x->type, sizeof x->type, "type-%llu", (unsigned long long)(i % N_TYPES));
    for (size_t k = 0; k < t->n_cols; k++)
        x->v[k] = (am_value){.is_null = true};
    uint64_t r = i * 0x9e3779b97f4a7c15ULL;
    double u = (double)(r >> 11) / 9007199254740992.0;
    x->v[AM_COMM_ID] = (am_value){.v.s = x->id};
    x->v[AM_COMM_TIMESTAMP] = (am_value){.v.d = ts};
    x->v[AM_COMM_SESSION_ID] = (am_value){.v.s = x->session};
    x->v[AM_COMM_SOURCE_AGENT_ID] = (am_value){.v.s = x->src};
    x->v[AM_COMM_TARGET_AGENT_ID] = (am_value){.v.s = x->dst};
    x->v[AM_COMM_MESSAGE_TYPE] = (am_value){.v.s = x->type};
    x->v[AM_COMM_MESSAGE_SIZE] = (am_value){.v.i = (int64_t)(200 + (r >> 50))};
    x->v[AM_COMM_PROCESSING_TIME] = (am_value){.v.d = 5 + 500 * u * u};
    x->v[AM_COMM_RESPONSE_TIME] = (am_value){.v.d = 10 + 800 * u * u};
    x->v[AM_COMM_ERROR_COUNT] = (am_value){.v.i = (r >> 40) % 50 == 0};
    x->v[AM_COMM_RETRY_COUNT] = (am_value){.v.i = 0};
    x->r = (am_record){AM_T_COMMUNICATION, x->v};
}

static double now_s(void)
{
    return (double)bench_now_ns() / 1e9;
}

/* ------------------------------------------------------------ ours */

typedef struct worker {
    am_store *s;
    int id;
    double until;
    uint64_t done;
    am_err err;
} worker;

static void *ingest_thread(void *arg)
{
    worker *w = arg;
    rec *b = malloc(BATCH * sizeof *b);
    am_record rs[BATCH];
    char run[32];
    snprintf(run, sizeof run, "w%d-%d", w->id, (int)getpid());
    double ts = (double)time(NULL);
    for (uint64_t n = 0; now_s() < w->until; n += BATCH) {
        for (int k = 0; k < BATCH; k++) {
            make_rec(&b[k], run, n + (uint64_t)k, ts);
            rs[k] = b[k].r;
        }
        uint64_t t;
        am_err rc = am_store_submit(w->s, rs, BATCH, &t);
        if (rc == AM_EFULL)
            continue;
        if (!rc)
            rc = am_store_wait(w->s, t, 30);
        if (rc) {
            w->err = rc;
            break;
        }
        w->done += BATCH;
    }
    free(b);
    return NULL;
}

/* Acknowledged records per second into uri; < 0 on error (message in err). */
static double ours(const char *uri, char *err, size_t cap)
{
    am_store *s;
    am_err rc = am_store_open(uri, NULL, &s);
    if (rc) {
        snprintf(err, cap, "%s", am_errmsg());
        return -1;
    }
    worker w[THREADS];
    pthread_t th[THREADS];
    double t0 = now_s(), len = g_opts.is_quick ? 0.5 : 2.0;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){s, i, t0 + len, 0, AM_OK};
        pthread_create(&th[i], NULL, ingest_thread, &w[i]);
    }
    uint64_t total = 0;
    rc = AM_OK;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        total += w[i].done;
        if (w[i].err)
            rc = w[i].err;
    }
    double el = now_s() - t0;
    am_store_stats st;
    am_store_get_stats(s, &st);
    if (getenv("AM_BENCH_STORE_DEBUG"))
        fprintf(stderr, "bench_store: %llu records in %llu batches\n",
                (unsigned long long)st.committed, (unsigned long long)st.batches);
    if (rc)
        snprintf(err, cap, "%s: %s", am_err_name(rc), am_errmsg());
    am_store_close(s);
    return rc ? -1 : (double)total / el;
}

/* ------------------------------------------------------------ the peer */

static void bind_rec(sqlite3_stmt *st, const rec *x)
{
    const am_table *t = am_table_get(AM_T_COMMUNICATION);
    for (size_t k = 0; k < t->n_cols; k++) {
        const am_value *v = &x->v[k];
        int i = (int)k + 1;
        if (v->is_null)
            sqlite3_bind_null(st, i);
        else if (t->cols[k].type == AM_COL_TEXT)
            sqlite3_bind_text(st, i, v->v.s, -1, SQLITE_STATIC);
        else if (t->cols[k].type == AM_COL_INT)
            sqlite3_bind_int64(st, i, v->v.i);
        else
            sqlite3_bind_double(st, i, v->v.d);
    }
}

/* One INSERT per record on a database the store created: each its own
   commit (autocommit), or all in one transaction (is_one_tx). */
static double insert_loop(const char *path, bool is_one_tx, char *err, size_t cap)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        snprintf(err, cap, "sqlite3_open: %s", sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536",
                 NULL, NULL, NULL);
    am_buf sql;
    am_buf_init(&sql, 0);
    const am_table *t = am_table_get(AM_T_COMMUNICATION);
    am__sql_insert(&sql, &am__sql_sqlite, t, t->n_cols);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql.p, -1, &st, NULL);
    am_buf_free(&sql);
    if (rc == SQLITE_OK && is_one_tx)
        rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    rec x;
    uint64_t n = 0;
    double t0 = now_s(), len = g_opts.is_quick ? 0.5 : 2.0;
    double ts = (double)time(NULL);
    while (rc == SQLITE_OK && now_s() - t0 < len) {
        make_rec(&x, is_one_tx ? "bare" : "naive", n, ts);
        bind_rec(st, &x);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
        n++;
    }
    if (rc == SQLITE_OK && is_one_tx)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double el = now_s() - t0;
    if (rc != SQLITE_OK)
        snprintf(err, cap, "insert: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK && n ? (double)n / el : -1;
}

/* The limit: the same INSERT in one transaction, one thread, into a
   fresh database of the store's schema. */
static double bare_sqlite(const char *dir, char *err, size_t cap)
{
    char uri[300], path[280];
    snprintf(path, sizeof path, "%s/b/agentmon.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    am_store *s;
    if (am_store_open(uri, NULL, &s) != AM_OK) { /* the schema and its indexes */
        snprintf(err, cap, "%s", am_errmsg());
        return -1;
    }
    am_store_close(s);
    return insert_loop(path, true, err, cap);
}

static double naive_pg(const char *uri, char *err, size_t cap)
{
    PGconn *c = PQconnectdb(uri);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, cap, "connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    const am_table *t = am_table_get(AM_T_COMMUNICATION);
    am_buf sql;
    am_buf_init(&sql, 0);
    am__sql_insert(&sql, &am__sql_pg, t, t->n_cols);
    rec x;
    uint64_t n = 0;
    double t0 = now_s(), len = g_opts.is_quick ? 0.5 : 2.0, el;
    double ts = (double)time(NULL);
    char num[40][32];
    const char *vals[40];
    while ((el = now_s() - t0) < len) {
        make_rec(&x, "naive", n, ts);
        for (size_t k = 0; k < t->n_cols; k++) {
            const am_value *v = &x.v[k];
            vals[k] = num[k];
            if (v->is_null)
                vals[k] = NULL;
            else if (t->cols[k].type == AM_COL_TEXT)
                vals[k] = v->v.s;
            else if (t->cols[k].type == AM_COL_INT)
                snprintf(num[k], 32, "%lld", (long long)v->v.i);
            else
                snprintf(num[k], 32, "%.17g", v->v.d);
        }
        PGresult *r = PQexecParams(c, sql.p, (int)t->n_cols, NULL, vals, NULL, NULL, 0);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            snprintf(err, cap, "insert: %s", PQerrorMessage(c));
            n = 0;
            break;
        }
        n++;
    }
    am_buf_free(&sql);
    PQfinish(c);
    return n ? (double)n / el : -1;
}

/* The limit: the same records COPYed (binary, as the store encodes them)
   straight into the store's table, chunks of 1000, one transaction, one
   connection -- what the server's single backend costs per row. */
static double bare_pg(const char *uri, char *err, size_t cap)
{
    enum { CHUNK = 1000 };
    PGconn *c = PQconnectdb(uri);
    const am_table *t = am_table_get(AM_T_COMMUNICATION);
    am_buf sql, data;
    am_buf_init(&sql, 0);
    am_buf_init(&data, 0);
    am_buf_printf(&sql, "COPY %s (", t->sql_name);
    for (size_t i = 0; i < t->n_cols; i++)
        am_buf_printf(&sql, "%s%s", i ? ", " : "", t->cols[i].name);
    am_buf_puts(&sql, ") FROM STDIN (FORMAT binary)");
    rec *x = malloc(CHUNK * sizeof *x);
    am_record *rs = malloc(CHUNK * sizeof *rs);
    PGresult *r = PQexec(c, "BEGIN");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && x && rs;
    PQclear(r);
    uint64_t n = 0;
    double t0 = now_s(), len = g_opts.is_quick ? 0.5 : 2.0, el;
    double ts = (double)time(NULL);
    while (ok && now_s() - t0 < len) {
        for (int k = 0; k < CHUNK; k++) {
            make_rec(&x[k], "bare", n + (uint64_t)k, ts);
            rs[k] = x[k].r;
        }
        data.len = 0;
        am__pg_copy_data(&data, t, t->n_cols, rs, CHUNK, false);
        r = PQexec(c, sql.p);
        ok = PQresultStatus(r) == PGRES_COPY_IN;
        PQclear(r);
        ok = ok && PQputCopyData(c, data.p, (int)data.len) == 1 && PQputCopyEnd(c, NULL) == 1;
        while (ok && (r = PQgetResult(c))) {
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        n += CHUNK;
    }
    if (ok) {
        r = PQexec(c, "COMMIT");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    el = now_s() - t0;
    if (!ok)
        snprintf(err, cap, "copy: %s", PQerrorMessage(c));
    free(x);
    free(rs);
    am_buf_free(&sql);
    am_buf_free(&data);
    PQfinish(c);
    return ok && n ? (double)n / el : -1;
}

/* A figure measured beside ours in the same run (records/s, or why not),
   and ours over it as ratio. */
static void emit_beside(const char *name, double value, const char *err, const char *note,
                        const char *ratio, double ours_v, const char *ratio_note)
{
    if (value < 0) {
        bench_emit_error(name, err);
        return;
    }
    bench_fig f = {0};
    f.name = name;
    f.unit = "records/s";
    f.value = value;
    f.note = note;
    bench_emit(&f);
    if (ours_v > 0) {
        f = (bench_fig){0};
        f.name = ratio;
        f.unit = "x";
        f.value = ours_v / value;
        f.note = ratio_note;
        bench_emit(&f);
    }
}

static void emit_pair(const char *backend, double ours_v, const char *our_err, double peer_v,
                      const char *peer_err, double target)
{
    char name[64], pname[64], xname[64];
    snprintf(name, sizeof name, "store_%s_records_per_s", backend);
    snprintf(pname, sizeof pname, "store_%s_naive_records_per_s", backend);
    snprintf(xname, sizeof xname, "store_%s_vs_naive", backend);
    if (ours_v < 0) {
        bench_emit_error(name, our_err);
    } else {
        bench_fig f = {0};
        f.name = name;
        f.unit = "records/s";
        f.value = ours_v;
        f.has_target = target > 0;
        f.target = target; /* issue 14: 150,000 SQLite, 60,000 PostgreSQL */
        f.is_target_min = true;
        f.note = "acknowledged = committed; 16 threads, batches of 50 records, each waiting "
                 "for its ticket (group commit)";
        bench_emit(&f);
    }
    emit_beside(pname, peer_v, peer_err,
                "peer, same run: one INSERT per record, autocommit (a commit per event)", xname,
                ours_v, "store / naive");
}

/* ------------------------------------------------------------ 1M rows */

static void emit_latency(const char *name, double *ms, int n, double target, const char *note)
{
    bench_sort(ms, (size_t)n);
    char nm[80];
    for (int k = 0; k < 2; k++) {
        double q = k ? 0.99 : 0.5;
        int idx = (int)ceil(q * n) - 1;
        snprintf(nm, sizeof nm, "%s_%s_ms", name, k ? "p99" : "p50");
        bench_fig f = {0};
        f.name = nm;
        f.unit = "ms";
        f.value = ms[idx < 0 ? 0 : idx];
        f.has_target = k && target > 0;
        f.target = target;
        f.note = note;
        bench_emit(&f);
    }
}

static void million(const char *dir)
{
    char uri[256];
    snprintf(uri, sizeof uri, "sqlite:%s/m/agentmon.db", dir);
    am_store_opts o = AM_STORE_OPTS_INIT;
    o.max_queued = 200000;
    am_store *s;
    if (am_store_open(uri, &o, &s)) {
        bench_emit_error("store_1m_build_s", am_errmsg());
        return;
    }
    const uint64_t N = 1000000, CHUNK = 5000;
    const double end = floor((double)time(NULL) / 3600) * 3600, start = end - 86400;
    rec *b = malloc(CHUNK * sizeof *b);
    am_record *rs = malloc(CHUNK * sizeof *rs);
    double t0 = now_s();
    uint64_t last = 0;
    am_err rc = AM_OK;
    for (uint64_t i = 0; i < N && !rc; i += CHUNK) {
        for (uint64_t k = 0; k < CHUNK; k++) {
            make_rec(&b[k], "m", i + k, start + 86400.0 * (double)(i + k) / (double)N);
            rs[k] = b[k].r;
        }
        while ((rc = am_store_submit(s, rs, CHUNK, &last)) == AM_EFULL)
            usleep(1000);
    }
    if (!rc)
        rc = am_store_wait(s, last, 600);
    double build = now_s() - t0;
    free(b);
    free(rs);
    if (rc) {
        bench_emit_error("store_1m_build_s", am_errmsg());
        am_store_close(s);
        return;
    }
    bench_fig f = {0};
    f.name = "store_1m_build_s";
    f.unit = "s";
    f.value = build;
    f.note = "1,000,000 communication records over 24 h, 20 agents, 5 types, through the "
             "store (SQLite)";
    bench_emit(&f);

    int src = AM_COMM_SOURCE_AGENT_ID;
    enum { NQ = 200 };
    double ms[NQ];
    uint64_t seed = 42;
    am_buf out;
    am_buf_init(&out, 0);
    char agent[16], next[128];
    for (int i = 0; i < NQ && !rc; i++) {
        snprintf(agent, sizeof agent, "agent-%d", (int)(bench_rand(&seed) % N_AGENTS));
        am_store_query q = {.table = AM_T_COMMUNICATION, .limit = 100};
        q.start = start + (double)(bench_rand(&seed) % 23) * 3600;
        q.end = q.start + 3600;
        q.filters[0] = (am_store_filter){src, agent};
        q.n_filters = 1;
        size_t n;
        out.len = 0;
        double a = now_s();
        rc = am__json_select(s, &q, &out, &n, next);
        ms[i] = (now_s() - a) * 1e3;
    }
    if (rc)
        bench_emit_error("store_select_p50_ms", am_errmsg());
    else
        emit_latency("store_select", ms, NQ, 0,
                     "100 rows of one source agent in a random hour, 1M rows stored");
    for (int day = 0; day < 2 && !rc; day++) {
        int reps = g_opts.is_quick ? 5 : 20;
        for (int i = 0; i < reps && !rc; i++) {
            am_store_summary q = {.q = {.table = AM_T_COMMUNICATION}, .step = day ? 3600 : 60};
            q.q.start = day ? start : end - 3600;
            q.q.end = end;
            q.group_by[0] = src;
            q.n_group_by = 1;
            out.len = 0;
            double a = now_s();
            rc = am__json_summary(s, &q, &out);
            ms[i] = (now_s() - a) * 1e3;
        }
        if (rc)
            bench_emit_error(day ? "store_summary_24h_p50_ms" : "store_summary_1h_p50_ms",
                             am_errmsg());
        else
            emit_latency(day ? "store_summary_24h" : "store_summary_1h", ms, reps, 20,
                         day ? "group_by source_agent_id, step 3600 s, 24 h of 1M rows"
                             : "group_by source_agent_id, step 60 s, the last hour of 1M rows");
    }
    am_buf_free(&out);
    am_store_close(s);
}

/* ------------------------------------------------------------ the group */

void bench_group_store(void)
{
    char dir[] = "/tmp/am-bench-store-XXXXXX";
    if (!mkdtemp(dir)) {
        bench_emit_error("store_sqlite_records_per_s", "no temporary directory");
        return;
    }
    char uri[300], path[256], err[512] = "", perr[512] = "";
    snprintf(path, sizeof path, "%s/a/agentmon.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    double o = ours(uri, err, sizeof err);
    double p = insert_loop(path, false, perr, sizeof perr);
    emit_pair("sqlite", o, err, p, perr, 150000);
    double bare = bare_sqlite(dir, perr, sizeof perr);
    emit_beside("store_sqlite_bare_insert_records_per_s", bare, perr,
                "the limit, same run: one thread, the same INSERT per record into the same "
                "schema and indexes, one transaction; no rollups, no queue, no waiting",
                "store_sqlite_vs_bare_insert", o, "acknowledged store / bare INSERT loop");

    pf_server pg;
    const char *pg_uri = getenv("AM_BENCH_PG_URI"); /* a cluster to profile */
    if (pg_uri) {
        o = ours(pg_uri, err, sizeof err);
        emit_pair("pg", o, err, -1, "skipped: AM_BENCH_PG_URI is set", 60000);
    } else if (!pf_find(&pg)) {
        bench_emit_error("store_pg_records_per_s", "skipped: PostgreSQL is not installed");
    } else if (!pf_start(&pg)) {
        bench_emit_error("store_pg_records_per_s", "cannot start a PostgreSQL cluster");
    } else {
        o = ours(pg.uri, err, sizeof err);
        p = naive_pg(pg.uri, perr, sizeof perr);
        emit_pair("pg", o, err, p, perr, 60000); /* issue 14 */
        bare = bare_pg(pg.uri, perr, sizeof perr);
        emit_beside("store_pg_bare_copy_records_per_s", bare, perr,
                    "the limit, same run: one connection COPYing the same records (binary, as "
                    "the store does, 1000 a statement) into the same table and indexes, one "
                    "transaction; no rollups, no queue, no waiting",
                    "store_pg_vs_bare_copy", o, "acknowledged store / bare COPY");
        pf_cleanup();
    }

    if (getenv("AM_BENCH_STORE_SKIP_1M"))
        bench_emit_error("store_1m_build_s", "skipped: AM_BENCH_STORE_SKIP_1M is set");
    else
        million(dir);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_store: could not remove %s\n", dir);
}
