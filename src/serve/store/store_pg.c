/*
** store_pg.c: the PostgreSQL backend of the store (see store_backend.h).
**
** URI: any libpq URI, postgres://user:pw@host:port/db (also
** postgresql://), handed to PQconnectdb as it is.
**
** DURABILITY. A batch is one transaction; COMMIT returns after the WAL
** record is flushed (synchronous_commit is set to on for the writer's
** session, whatever the server's default), so an acknowledged event
** survives a crash of agentmon and of the server.
**
** CONNECTIONS. One writer connection, whose statements with a cached text
** (the INSERT per table, the retention DELETE) are prepared once by name;
** every value travels as a text parameter (PQexecParams /
** PQexecPrepared), never pasted into the SQL. Readers take a connection
** from a small pool for the call. Results are read in text form: integers
** with strtoll, doubles with strtod (which reads PostgreSQL's "Infinity").
**
** BULK INSERTS. The records of a batch go in with COPY, not an INSERT
** each, in the binary format (pg_copy.c: the values as they are, no text
** to escape or parse), per table and chunk in two round trips (the query,
** then the rows once the server asks for them). First straight into the
** table, under a savepoint: one executor run that inserts the rows in
** groups, without the staging table or ON CONFLICT's speculative
** insertion (issue 14: ~35% less server CPU per row, where the server's
** single backend is the bound). A stored id (a resend, or the same event
** sent to two collectors) fails that COPY on the unique index; the query
** that undoes it (ROLLBACK TO SAVEPOINT) then COPYs the chunk into the
** session's TEMP staging table and inserts it with ON CONFLICT (id) DO
** NOTHING, answering which rows went in, for the rollups (store_sql.c,
** am__sql_bulk_insert) -- the same two round trips again. As resends come
** in runs, the next chunks take the staging table straight away.
**
** ROUND TRIPS. A batch of one table's rows costs two per chunk of up to
** 1,000 rows (the COPY query, then its rows) and one for the rollup
** upserts and COMMIT: BEGIN goes in the first COPY's query (pg_exec), and
** the upserts, whose results nobody waits for, are sent in a pipeline that
** the COMMIT closes (pg_run_many). A failure among them is the COMMIT's
** answer and nothing commits, so a batch is still acknowledged only once
** its COMMIT returned (issue 14: the writer's time per batch is the COPY,
** the COMMIT's WAL flush and the rollups; the round trips it spent
** waiting on an idle server are what this takes out).
**
** SHARED DATABASE. Any number of stores (collectors) may write one
** database at once (issue 16): a record's id is UNIQUE, so the same
** event sent to two collectors is stored once -- the second insert waits
** for the first's transaction and is skipped, or goes in if that one
** rolled back -- and each writer keeps its own rows of the rollup tables
** (store_rollup.c). Two advisory locks order what must not run twice at
** once: MIGRATE_KEY, held (waiting for it) while a store migrates, and
** MAINT_KEY, the maintenance lock: the store whose writer session holds
** it runs retention; the others try to take it before each pass, so one
** of them takes over within a second of the holder's session ending. Two
** writers inserting the same ids in opposite orders may deadlock: the
** server aborts one transaction, reported as AM_STORE_RETRY, and store.c
** runs that batch again.
**
** DEADLINES. A server that stops answering (stopped, hung on its disk, a
** network that drops everything) must never hang the collector, so
** nothing here blocks without a bound: connections are non-blocking and
** every statement is sent and its results awaited with poll() against a
** deadline (READ_S for the query API's reads, WRITE_S for the writer's,
** connect_timeout for connecting; TCP keepalives and tcp_user_timeout
** find a dead peer in between). A statement past its deadline fails with
** AM_ETIMEDOUT and its connection is dropped (it is mid-protocol): a
** reader's is closed, the writer's is reconnected by ping().
*/
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../../util/alloc.h"
#include "../../util/error.h"
#include "../../util/fmt.h"
#include "agentmon/timer.h"
#include "pg_copy.h"
#include "store_backend.h"

#define MAINT_KEY 0x616d73746f7265LL /* "amstore": retention's lock */
#define MIGRATE_KEY 0x616d6d696772LL /* "ammigr": one store migrates */
#define READ_S 10.0                  /* a query API read */
#define WRITE_S 30.0                 /* a statement of the writer */
#define CONNECT_S "5"                /* connect_timeout, seconds */
#define POOL_MAX 8
#define CACHE_MAX 32
#define MAX_PARAMS 64
#define PARAM_TEXT AM_FMT_MAX

typedef struct pg_be {
    char *uri;
    PGconn *w;
    bool has_lock;                /* w holds the maintenance lock */
    bool is_begin_due;            /* BEGIN asked for, still to send (pg_exec) */
    size_t n_piped;               /* statements in w's open pipeline, unread */
    const char *cache[CACHE_MAX]; /* statement sN prepared on w for cache[N] */
    size_t n_cache;
    pthread_mutex_t pool_mu;
    PGconn *pool[POOL_MAX];
    size_t n_pool;
    /* per table, for n_cols columns: the direct COPY and, after "ROLLBACK
       TO SAVEPOINT", the bulk insert through the staging table (writer) */
    char *bulk[AM_T__N];
    size_t bulk_off[AM_T__N]; /* where the bulk insert's text begins */
    size_t bulk_cols[AM_T__N];
    unsigned n_staged; /* chunks still to go through the staging table */
    /* the writer's COPY data, kept from one chunk to the next rather than
       grown and freed per chunk (a chunk of 1000 rows: ~200 KB) */
    am_buf scratch;
} pg_be;

static am_err conn_err(PGconn *c, const char *what)
{
    const char *m = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return am__err(AM_EIO, "postgres: %s: %.*s", what, (int)n, m);
}

static am_err res_err(PGconn *c, PGresult *r, const char *what)
{
    am_err e = conn_err(c, what);
    PQclear(r);
    return e;
}

static double deadline_in(double s)
{
    return (double)am_now_ns() / 1e9 + s;
}

/* Wait until c's socket is readable (or writable too), at most until
   deadline; false when it passed or the socket failed. */
static bool wait_io(PGconn *c, bool also_write, double deadline)
{
    for (;;) {
        double left = deadline - (double)am_now_ns() / 1e9;
        if (left <= 0)
            return false;
        struct pollfd p = {PQsocket(c), (short)(POLLIN | (also_write ? POLLOUT : 0)), 0};
        int n = poll(&p, 1, (int)(left * 1000) + 1);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

static am_err timed_out(PGconn *c, const char *what, double s)
{
    (void)c;
    return am__err(AM_ETIMEDOUT, "postgres: %s: no answer within %g s", what, s);
}

/* Send what a PQsend* queued, within the deadline. */
static am_err flush(PGconn *c, double deadline, double s)
{
    int r;
    while ((r = PQflush(c)) == 1) {
        if (!wait_io(c, true, deadline))
            return timed_out(c, "sending", s);
        if (!PQconsumeInput(c))
            return conn_err(c, "sending");
    }
    return r == 0 ? AM_OK : conn_err(c, "sending");
}

/* The next result of what was sent (NULL at its end), within the deadline;
 *rc says why when NULL comes from a failure. */
static PGresult *next_result(PGconn *c, double deadline, double s, am_err *rc)
{
    *rc = AM_OK;
    while (PQisBusy(c)) {
        if (!wait_io(c, false, deadline)) {
            *rc = timed_out(c, "waiting for the result", s);
            return NULL;
        }
        if (!PQconsumeInput(c)) {
            *rc = conn_err(c, "reading the result");
            return NULL;
        }
    }
    return PQgetResult(c);
}

/* The last result of what was just sent (flushing it first), within s
   seconds; NULL with *rc set on failure or timeout (the connection is then
   mid-protocol: the caller drops it). */
static PGresult *await_last(PGconn *c, double s, am_err *rc)
{
    double deadline = deadline_in(s);
    if ((*rc = flush(c, deadline, s)))
        return NULL;
    PGresult *last = NULL, *r;
    while ((r = next_result(c, deadline, s, rc))) {
        PQclear(last);
        last = r;
    }
    if (*rc) {
        PQclear(last);
        return NULL;
    }
    return last;
}

/* What PQexec / PQexecParams (n_params >= 0) / PQexecPrepared (name set)
   give, without blocking past s seconds. */
static PGresult *exec_within(PGconn *c, double s, const char *sql, const char *name, int n_params,
                             const char *const *vals, am_err *rc)
{
    int sent = name            ? PQsendQueryPrepared(c, name, n_params, vals, NULL, NULL, 0)
               : n_params >= 0 ? PQsendQueryParams(c, sql, n_params, NULL, vals, NULL, NULL, 0)
                               : PQsendQuery(c, sql);
    if (!sent) {
        *rc = conn_err(c, "sending a statement");
        return NULL;
    }
    return await_last(c, s, rc);
}

static am_err connect_db(const char *uri, PGconn **out)
{
    /* the URI's own settings win: dbname (the URI, expanded) comes last */
    const char *const keys[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          NULL};
    const char *const vals[] = {CONNECT_S, "1", "10", "5", "3", "20000", uri, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        am_err e = conn_err(c, "cannot connect");
        PQfinish(c);
        return e;
    }
    am_err rc = PQsetnonblocking(c, 1) == 0 ? AM_OK : conn_err(c, "going non-blocking");
    PGresult *r = rc ? NULL
                     : exec_within(c, WRITE_S,
                                   "SET synchronous_commit = on; SET client_min_messages = warning",
                                   NULL, -1, NULL, &rc);
    if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = res_err(c, r, "setting up the session"), r = NULL;
    PQclear(r);
    if (rc) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return AM_OK;
}

/* Take the advisory lock key on c's session: waiting for it (within
   WRITE_S) when is_blocking, else AM_EBUSY at once when another session
   holds it. */
static am_err take_lock(PGconn *c, long long key, bool is_blocking)
{
    char k[32];
    snprintf(k, sizeof k, "%lld", key);
    const char *p[1] = {k};
    am_err rc;
    PGresult *r = exec_within(c, WRITE_S,
                              is_blocking ? "SELECT true, pg_advisory_lock($1::bigint)"
                                          : "SELECT pg_try_advisory_lock($1::bigint)",
                              NULL, 1, p, &rc);
    if (rc)
        return rc;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return res_err(c, r, "taking an advisory lock");
    /* pg_advisory_lock returns void: the "true" beside it says it returned */
    bool is_ok = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return is_ok ? AM_OK : AM_EBUSY;
}

/* Release the advisory lock key held by c's session, within s seconds
   (on failure the connection is mid-protocol: the caller drops it). */
static am_err unlock(PGconn *c, long long key, double s)
{
    char k[32];
    snprintf(k, sizeof k, "%lld", key);
    const char *p[1] = {k};
    am_err rc;
    PQclear(exec_within(c, s, "SELECT pg_advisory_unlock($1::bigint)", NULL, 1, p, &rc));
    return rc;
}

static void pg_close(void *be)
{
    pg_be *b = be;
    if (!b)
        return;
    for (size_t i = 0; i < b->n_pool; i++)
        PQfinish(b->pool[i]);
    if (b->has_lock && b->w && !b->n_piped && PQstatus(b->w) == CONNECTION_OK) {
        /* release the lock before we return: the server ends a closed
           session a little later, and a store opened right after this
           one should find the lock released (not mid-pipeline: unlock()
           would read the pipeline's results; the session's end ends it) */
        unlock(b->w, MAINT_KEY, 2.0);
    }
    PQfinish(b->w);
    for (size_t i = 0; i < AM_T__N; i++)
        am__free(b->bulk[i]);
    am_buf_free(&b->scratch);
    pthread_mutex_destroy(&b->pool_mu);
    am__free(b->uri);
    am__free(b);
}

static am_err pg_open(const char *uri, void **out)
{
    pg_be *b = am__calloc(1, sizeof *b);
    if (!b)
        return am__err(AM_ENOMEM, "out of memory opening the store");
    pthread_mutex_init(&b->pool_mu, NULL);
    am_buf_init(&b->scratch, 0);
    b->uri = am__strdup(uri);
    if (!b->uri) {
        pg_close(b);
        return am__err(AM_ENOMEM, "out of memory opening the store");
    }
    am_err rc = connect_db(uri, &b->w);
    if (!rc) /* the maintenance lock, unless another holds it (pg_is_maintainer) */
        b->has_lock = take_lock(b->w, MAINT_KEY, false) == AM_OK;
    if (rc) {
        pg_close(b);
        return rc;
    }
    *out = b;
    return AM_OK;
}

/* The writer's connection is mid-protocol after a failure to send or a
   timeout: drop it, for ping() to make a new one. */
static void drop_writer(pg_be *b)
{
    PQfinish(b->w);
    b->w = NULL;
    b->has_lock = false;
    b->n_cache = 0;
    b->is_begin_due = false;
    b->n_piped = 0;
}

static am_err exec_writer(pg_be *b, const char *sql);
static am_err writer_ready(pg_be *b);
static am_err pipeline_end(pg_be *b, size_t n, bool *changed, const char *then_sql);
static am_err stmt_err(PGresult *r, const char *what);

/* Send the BEGIN still due on its own, before a statement that cannot
   carry it (see pg_exec). */
static am_err begin_now(pg_be *b)
{
    if (!b->is_begin_due)
        return AM_OK;
    b->is_begin_due = false;
    return exec_writer(b, "BEGIN");
}

/*
** BEGIN costs a round trip of its own, one per batch, in which the
** server does nothing: it is only noted here, and goes with the batch's
** first statement -- in the same query as the COPY (pg_insert_rows), or
** just before any other (begin_now). A COMMIT or ROLLBACK with nothing
** sent since is an empty transaction: nothing to send.
*/
static am_err pg_exec(void *be, const char *sql)
{
    pg_be *b = be;
    if (!b->w)
        return am__err(AM_EIO, "postgres: the writer's connection is down");
    bool is_end = strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0;
    if (strcmp(sql, "BEGIN") == 0 || (is_end && b->is_begin_due)) {
        b->is_begin_due = !is_end;
        return AM_OK;
    }
    if (b->n_piped && strcmp(sql, "COMMIT") == 0)
        return pipeline_end(b, 0, NULL, sql); /* see pg_run_many */
    am_err rc = writer_ready(b);
    if (rc && strcmp(sql, "ROLLBACK") == 0 && b->w)
        rc = AM_OK; /* a ROLLBACK still goes after the failure it undoes */
    return rc ? rc : exec_writer(b, sql);
}

static am_err exec_writer(pg_be *b, const char *sql)
{
    if (!b->w)
        return am__err(AM_EIO, "postgres: the writer's connection is down");
    am_err rc;
    PGresult *r = exec_within(b->w, WRITE_S, sql, NULL, -1, NULL, &rc);
    if (rc) {
        drop_writer(b);
        return rc;
    }
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return res_err(b->w, r, "statement failed");
    PQclear(r);
    return AM_OK;
}

/* Parameters as text, in one buffer of PARAM_TEXT bytes per number. */
static am_err params_text(const am_store_stmt *s, char (*num)[PARAM_TEXT], const char **vals)
{
    if (s->n_params > MAX_PARAMS)
        return am__err(AM_EINVAL, "postgres: more than %d parameters", MAX_PARAMS);
    for (size_t i = 0; i < s->n_params; i++) {
        const am_value *v = &s->params[i];
        if (v->is_null || (s->param_types[i] == AM_COL_TEXT && !v->v.s)) {
            vals[i] = NULL;
        } else if (s->param_types[i] == AM_COL_TEXT) {
            vals[i] = v->v.s;
        } else if (s->param_types[i] == AM_COL_INT) {
            snprintf(num[i], PARAM_TEXT, "%lld", (long long)v->v.i);
            vals[i] = num[i];
        } else {
            am__fmt_real(num[i], v->v.d, AM_FMT_SQL);
            vals[i] = num[i];
        }
    }
    return AM_OK;
}

static am_err read_rows(PGresult *r, const am_store_stmt *s)
{
    am_value cols[40];
    int nr = PQntuples(r);
    if (s->n_cols > 40 || (size_t)PQnfields(r) < s->n_cols)
        return am__err(AM_EIO, "postgres: the result has %d columns, expected %zu", PQnfields(r),
                       s->n_cols);
    for (int row = 0; row < nr; row++) {
        for (size_t i = 0; i < s->n_cols; i++) {
            bool is_null = PQgetisnull(r, row, (int)i);
            cols[i] = (am_value){.is_null = is_null};
            if (is_null)
                continue;
            const char *t = PQgetvalue(r, row, (int)i);
            if (s->col_types[i] == AM_COL_TEXT)
                cols[i].v.s = t;
            else if (s->col_types[i] == AM_COL_INT)
                cols[i].v.i = strtoll(t, NULL, 10);
            else
                cols[i].v.d = strtod(t, NULL);
        }
        int stop = s->on_row(s->ud, cols);
        if (stop)
            return am__err((am_err)stop, "reading rows failed: %s", am_strerror((am_err)stop));
    }
    return AM_OK;
}

static PGconn *pool_get(pg_be *b, am_err *rc)
{
    PGconn *c = NULL;
    pthread_mutex_lock(&b->pool_mu);
    if (b->n_pool)
        c = b->pool[--b->n_pool];
    pthread_mutex_unlock(&b->pool_mu);
    *rc = AM_OK;
    if (c && PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        c = NULL;
    }
    if (!c)
        *rc = connect_db(b->uri, &c);
    return c;
}

static void pool_put(pg_be *b, PGconn *c)
{
    pthread_mutex_lock(&b->pool_mu);
    if (b->n_pool < POOL_MAX && PQstatus(c) == CONNECTION_OK &&
        PQtransactionStatus(c) == PQTRANS_IDLE) {
        b->pool[b->n_pool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&b->pool_mu);
    PQfinish(c);
}

/* The name of s's statement prepared on the writer (preparing it now);
   its index, -1 when the cache is full, -2 on error (am_errmsg set). */
static int prepared(pg_be *b, const am_store_stmt *s, char name[16])
{
    size_t k = 0;
    while (k < b->n_cache && b->cache[k] != s->sql)
        k++;
    if (k == CACHE_MAX)
        return -1;
    snprintf(name, 16, "s%zu", k);
    if (k == b->n_cache) {
        am_err rc;
        PGresult *p = PQsendPrepare(b->w, name, s->sql, (int)s->n_params, NULL)
                          ? await_last(b->w, WRITE_S, &rc)
                          : (rc = conn_err(b->w, "preparing a statement"), NULL);
        if (rc) {
            drop_writer(b);
            return -2;
        }
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
            res_err(b->w, p, "preparing a statement");
            return -2;
        }
        PQclear(p);
        b->cache[b->n_cache++] = s->sql;
    }
    return (int)k;
}

static am_err pg_run(void *be, bool on_writer, const am_store_stmt *s, int64_t *changes)
{
    pg_be *b = be;
    char num[MAX_PARAMS][PARAM_TEXT];
    const char *vals[MAX_PARAMS];
    am_err rc = params_text(s, num, vals);
    if (rc)
        return rc;
    if (on_writer && !b->w)
        return am__err(AM_EIO, "postgres: the writer's connection is down");
    if (on_writer && (rc = writer_ready(b)))
        return rc;
    PGconn *c = on_writer ? b->w : pool_get(b, &rc);
    if (!c)
        return rc;
    char name[16];
    int k = on_writer && s->is_cached ? prepared(b, s, name) : -1;
    if (k == -2)
        return AM_EIO;
    double limit = on_writer ? WRITE_S : READ_S;
    PGresult *r = exec_within(c, limit, s->sql, k >= 0 ? name : NULL, (int)s->n_params, vals, &rc);
    if (rc) { /* mid-protocol: the connection goes */
        if (on_writer)
            drop_writer(b);
        else
            PQfinish(c);
        return rc;
    }
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = res_err(c, r, "statement failed");
        r = NULL;
    }
    if (!rc && s->on_row)
        rc = read_rows(r, s);
    if (!rc && changes) {
        const char *n = PQcmdTuples(r);
        *changes = *n ? strtoll(n, NULL, 10) : 0;
    }
    PQclear(r);
    if (!on_writer)
        pool_put(b, c);
    return rc;
}

static am_err pg_ping(void *be)
{
    pg_be *b = be;
    if (!b->w || PQstatus(b->w) != CONNECTION_OK) {
        /* a new session: its prepared statements and lock are gone */
        PQfinish(b->w);
        b->w = NULL;
        b->n_cache = 0;
        b->has_lock = false; /* pg_is_maintainer takes it when free */
        b->is_begin_due = false;
        b->n_piped = 0;
        am_err rc = connect_db(b->uri, &b->w);
        if (rc)
            return rc;
    }
    return pg_exec(b, "SELECT 1");
}

/*
** End the writer's pipeline: send then_sql (if any: the COMMIT after
** statements whose results were not asked for) and the sync, and read
** every result up to it. changed[i] (when not NULL) for the first n
** statements; the first failure is the answer (AM_STORE_RETRY for a
** deadlock), and the statements after it were not run.
*/
static am_err pipeline_end(pg_be *b, size_t n, bool *changed, const char *then_sql)
{
    PGconn *c = b->w;
    am_err rc = AM_OK;
    b->n_piped = 0;
    if (then_sql && !PQsendQueryParams(c, then_sql, 0, NULL, NULL, NULL, NULL, 0))
        rc = conn_err(c, "sending a statement");
    if (!PQpipelineSync(c) && !rc)
        rc = conn_err(c, "sending a pipeline sync");
    double deadline = deadline_in(WRITE_S);
    am_err io = flush(c, deadline, WRITE_S);
    size_t got = 0; /* results of statements seen */
    while (!io) {
        PGresult *r = next_result(c, deadline, WRITE_S, &io);
        if (io)
            break;
        if (!r) {
            if (PQstatus(c) != CONNECTION_OK) {
                io = conn_err(c, "reading results");
                break;
            }
            continue; /* the end of one statement's results */
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK && got < n && changed) {
            const char *t = PQcmdTuples(r);
            changed[got] = *t && strtoll(t, NULL, 10) > 0;
        }
        if (st != PGRES_PIPELINE_SYNC)
            got++;
        if (st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_SYNC && st != PGRES_PIPELINE_ABORTED &&
            !rc)
            rc = stmt_err(r, "statement failed");
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC)
            break;
    }
    if (io) { /* mid-protocol: the connection goes, for ping() to renew */
        drop_writer(b);
        return io;
    }
    PQexitPipelineMode(c);
    return rc;
}

/* Before anything else on the writer: the results of statements sent
   without waiting (run_many, changed NULL), then the BEGIN still due. */
static am_err writer_ready(pg_be *b)
{
    if (!b->w)
        return am__err(AM_EIO, "postgres: the writer's connection is down");
    am_err rc = b->n_piped ? pipeline_end(b, 0, NULL, NULL) : AM_OK;
    return rc ? rc : begin_now(b);
}

/*
** Pipeline mode: every statement is sent before any result is read, so n
** statements cost one round trip instead of n. (store.c hands at most 256
** at a time; flush() reads results while it waits to send, so the server
** never blocks writing them.) Without changed (the rollups' upserts,
** just before COMMIT), the results are not awaited at all: the pipeline
** stays open, the server runs the statements as they come, and the next
** statement reads them -- COMMIT in the same pipeline, a round trip less
** per batch; a failure among them fails the COMMIT, and nothing commits.
*/
static am_err pg_run_many(void *be, const am_store_stmt *sts, size_t n, bool *changed)
{
    pg_be *b = be;
    if (!n)
        return AM_OK;
    bool is_known = true; /* every statement prepared: no need to settle */
    for (size_t i = 0; i < n && is_known; i++) {
        size_t k = 0;
        while (k < b->n_cache && b->cache[k] != sts[i].sql)
            k++;
        is_known = k < b->n_cache;
    }
    bool is_adding = b->n_piped && !changed && is_known;
    am_err rc = is_adding ? AM_OK : writer_ready(b);
    if (rc)
        return rc;
    PGconn *c = b->w;
    char name[16];
    for (size_t i = 0; i < n && !is_adding; i++) {
        int k = prepared(b, &sts[i], name);
        if (k == -2)
            return AM_EIO;
        if (k == -1) { /* more distinct statements than the cache: one by one */
            for (size_t j = 0; j < n; j++) {
                int64_t ch = 0;
                rc = pg_run(b, true, &sts[j], &ch);
                if (rc)
                    return rc;
                if (changed)
                    changed[j] = ch > 0;
            }
            return AM_OK;
        }
    }
    if (!is_adding && !PQenterPipelineMode(c))
        return conn_err(c, "entering pipeline mode");
    for (size_t i = 0; i < n && !rc; i++) {
        char num[MAX_PARAMS][PARAM_TEXT];
        const char *vals[MAX_PARAMS];
        rc = params_text(&sts[i], num, vals);
        if (rc)
            break;
        prepared(b, &sts[i], name);
        if (!PQsendQueryPrepared(c, name, (int)sts[i].n_params, vals, NULL, NULL, 0))
            rc = conn_err(c, "sending a statement");
        else
            b->n_piped++;
    }
    if (changed || rc) { /* a failure to send: what went ends here too */
        am_err end = pipeline_end(b, n, changed, NULL);
        return rc ? rc : end;
    }
    rc = flush(c, deadline_in(WRITE_S), WRITE_S); /* the server starts on them */
    if (rc)
        drop_writer(b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Bulk inserts: COPY into a staging table, then one INSERT ... SELECT   */
/* ------------------------------------------------------------------ */

/* The error of a failed result: AM_STORE_RETRY when the server aborted
   the transaction to break a deadlock (or a serialization failure). */
static am_err stmt_err(PGresult *r, const char *what)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    bool is_retry = state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
    const char *m = PQresultErrorMessage(r);
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return am__err(is_retry ? AM_STORE_RETRY : AM_EIO, "postgres: %s: %.*s", what, (int)n, m);
}

/* Queue data for the COPY in progress, sending as the socket takes it. */
static am_err copy_send(PGconn *c, const char *p, size_t len, double deadline)
{
    while (len) {
        int part = len > (1u << 18) ? 1 << 18 : (int)len;
        int r = PQputCopyData(c, p, part);
        if (r < 0)
            return conn_err(c, "sending rows");
        if (r == 0) { /* libpq's buffer is full: let the socket drain it */
            am_err rc = wait_io(c, true, deadline) ? AM_OK : timed_out(c, "sending rows", WRITE_S);
            if (!rc && PQflush(c) < 0)
                rc = conn_err(c, "sending rows");
            if (rc)
                return rc;
            continue;
        }
        p += part;
        len -= (size_t)part;
    }
    int r;
    while ((r = PQputCopyEnd(c, NULL)) == 0)
        if (!wait_io(c, true, deadline) || PQflush(c) < 0)
            return timed_out(c, "sending rows", WRITE_S);
    return r < 0 ? conn_err(c, "ending the copy") : flush(c, deadline, WRITE_S);
}

#define SAVEPOINT "am_copy"
#define UNDO "ROLLBACK TO SAVEPOINT " SAVEPOINT ";\n"
#define BEGIN "BEGIN;\n"

/* t's insert texts for n_cols columns, made once per store, in one
   buffer: BEGIN and the direct COPY (from strlen(BEGIN) on without the
   BEGIN), then UNDO and the bulk insert through the staging table
   (store_sql.c), from b->bulk_off on. */
static const char *bulk_sql(pg_be *b, const am_table *t, size_t n_cols)
{
    if (!b->bulk[t->id] || b->bulk_cols[t->id] != n_cols) {
        am_buf q;
        am_buf_init(&q, 0);
        am_buf_printf(&q, BEGIN "SAVEPOINT %s;\nCOPY %s (", SAVEPOINT, t->sql_name);
        for (size_t i = 0; i < n_cols; i++)
            am_buf_printf(&q, "%s%s", i ? ", " : "", t->cols[i].name);
        am_buf_puts(&q, ") FROM STDIN (FORMAT binary)");
        am_buf_putc(&q, '\0');
        size_t off = q.len;
        am_buf_puts(&q, UNDO);
        am__sql_bulk_insert(&q, &am__sql_pg, t, n_cols);
        am__free(b->bulk[t->id]);
        b->bulk[t->id] = am_buf_take(&q, NULL);
        b->bulk_off[t->id] = off;
        b->bulk_cols[t->id] = n_cols;
    }
    return b->bulk[t->id];
}

/*
** One COPY of data: sql (statements, then the COPY) goes first, and once
** the server asks for the COPY's data, the rows go in one stream; then
** come the results: the ord of each row inserted (the staging table's
** last query) marks changed. Two round trips for any number of rows.
** *is_dup tells that a statement failed on a unique index. On a failure
** to talk (or past the deadline) the writer's connection goes, as in the
** other calls.
*/
static am_err copy_run(pg_be *b, const char *sql, const am_buf *data, size_t n, bool *changed,
                       bool *is_dup)
{
    PGconn *c = b->w;
    double deadline = deadline_in(WRITE_S);
    am_err io = PQsendQuery(c, sql) ? flush(c, deadline, WRITE_S) : conn_err(c, "sending rows");
    am_err rc = AM_OK;
    PGresult *r;
    bool is_copying = false;
    /* the results before the COPY, then the server's call for the rows */
    while (!io && !is_copying && (r = next_result(c, deadline, WRITE_S, &io))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN)
            is_copying = true;
        else if (st != PGRES_COMMAND_OK && !rc)
            rc = stmt_err(r, "insert failed");
        PQclear(r);
    }
    if (!io && is_copying)
        io = copy_send(c, data->p, data->len, deadline);
    while (!io && is_copying && (r = next_result(c, deadline, WRITE_S, &io))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK) {
            for (int i = 0; i < PQntuples(r); i++) {
                long long k = strtoll(PQgetvalue(r, i, 0), NULL, 10);
                if (k >= 0 && (size_t)k < n)
                    changed[k] = true;
            }
        } else if (st != PGRES_COMMAND_OK && !rc) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            *is_dup = state && strcmp(state, "23505") == 0; /* unique_violation */
            rc = stmt_err(r, "insert failed");
        }
        PQclear(r);
    }
    if (io) { /* mid-protocol: the connection goes, for ping() to renew */
        drop_writer(b);
        return io;
    }
    if (!rc && !is_copying)
        rc = am__err(AM_EIO, "postgres: the server did not take the rows");
    return rc;
}

/* After a chunk met a stored id, the next ones go through the staging
   table straight away: resends come in runs (a client retrying, every
   event sent to two collectors). */
#define STAGED_AFTER_DUP 16

#define SCRATCH_KEEP (4u << 20) /* bytes; a larger scratch buffer goes */

/* The writer's scratch buffer, empty: kept across calls unless it failed
   (its error is sticky) or grew past SCRATCH_KEEP for an unusual chunk. */
static am_buf *scratch(pg_be *b)
{
    if (am_buf_err(&b->scratch) || b->scratch.cap > SCRATCH_KEEP)
        am_buf_free(&b->scratch); /* and made empty again */
    b->scratch.len = 0;
    return &b->scratch;
}

/*
** The rows go straight into the table by COPY, under a savepoint: one
** executor run that inserts the rows in groups (heap_multi_insert), no
** staging table, no speculative insertion. When an id is already stored
** (or comes twice in recs), the unique index fails the COPY: back to the
** savepoint, and the rows go through the staging table, whose INSERT
** skips stored ids (ON CONFLICT (id) DO NOTHING) and answers which went
** in -- in the same round trips as the undo.
*/
static am_err pg_insert_rows(void *be, const am_table *t, size_t n_cols, const am_record *recs,
                             size_t n, bool *changed)
{
    pg_be *b = be;
    if (!b->w)
        return am__err(AM_EIO, "postgres: the writer's connection is down");
    const char *sql = bulk_sql(b, t, n_cols);
    bool is_direct = b->n_staged == 0;
    am_buf *data = scratch(b);
    if (sql)
        am__pg_copy_data(data, t, n_cols, recs, n, !is_direct);
    if (!sql || am_buf_err(data))
        return am__err(AM_ENOMEM, "out of memory inserting %zu rows", n);
    const char *undo_bulk = sql + b->bulk_off[t->id];
    memset(changed, 0, n * sizeof *changed);
    bool is_dup = false;
    /* the BEGIN due goes in the COPY's query; the staging table's
       statements are sent after it */
    am_err rc = b->n_piped || !is_direct ? writer_ready(b) : AM_OK;
    if (is_direct && !b->is_begin_due)
        sql += strlen(BEGIN);
    b->is_begin_due = false;
    if (!rc)
        rc = copy_run(b, is_direct ? sql : undo_bulk + strlen(UNDO), data, n, changed, &is_dup);
    if (is_direct && !rc) {
        memset(changed, 1, n * sizeof *changed); /* every row went in */
    } else if (is_direct && is_dup && b->w) {
        b->n_staged = STAGED_AFTER_DUP;
        data = scratch(b);
        am__pg_copy_data(data, t, n_cols, recs, n, true);
        rc = am_buf_err(data) ? am__err(AM_ENOMEM, "out of memory inserting %zu rows", n)
                              : copy_run(b, undo_bulk, data, n, changed, &is_dup);
    } else if (!is_direct) {
        b->n_staged--;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Sharing the database: migrations and maintenance                    */
/* ------------------------------------------------------------------ */

/* Whether this store runs retention: the holder of the maintenance lock,
   which a store takes whenever nobody holds it (at open, or when the
   holder is gone: its session ended and the server released it). */
static bool pg_is_maintainer(void *be)
{
    pg_be *b = be;
    if (!b->w || writer_ready(b))
        return false;
    if (!b->has_lock) {
        am_err rc = take_lock(b->w, MAINT_KEY, false);
        if (rc == AM_ETIMEDOUT || (rc && PQstatus(b->w) != CONNECTION_OK))
            drop_writer(b); /* mid-protocol: ping() makes a new one */
        else
            b->has_lock = !rc;
    }
    return b->has_lock;
}

/* One store at a time migrates: the others wait here (blocking lock,
   within WRITE_S), then find the schema at the version it made. */
static am_err pg_migration_lock(void *be, bool is_take)
{
    pg_be *b = be;
    if (!b->w)
        return am__err(AM_EIO, "postgres: the writer's connection is down");
    am_err due = writer_ready(b); /* in the order asked */
    if (due)
        return due;
    if (is_take) {
        am_err rc = take_lock(b->w, MIGRATE_KEY, true);
        if (rc == AM_ETIMEDOUT)
            drop_writer(b);
        return rc;
    }
    am_err rc = unlock(b->w, MIGRATE_KEY, WRITE_S);
    if (rc)
        drop_writer(b);
    return rc;
}

const am_store_ops am__store_pg_ops = {
    2,      "postgres", &am__sql_pg, pg_open,        pg_close,         pg_exec,
    pg_run, pg_ping,    pg_run_many, pg_insert_rows, pg_is_maintainer, pg_migration_lock,
};
