/*
** store_sqlite.c: the SQLite backend of the store (see store_backend.h).
**
** URI: sqlite:PATH, or sqlite:PATH?sync=full. The directory of PATH is
** created if missing (the default is ./agentmon-data/agentmon.db).
**
** DURABILITY. The database is in WAL mode. By default synchronous=NORMAL:
** a commit is a write() of its pages to the WAL, without fsync, so once
** COMMIT returns the data is in the kernel's page cache and survives the
** process being killed (kill -9, a crash, OOM), which is what "an
** acknowledged event survives kill -9" asks -- but not a power loss or a
** kernel panic, which may lose the last commits (never corrupt the
** database). sync=full (synchronous=FULL) fsyncs the WAL on every commit,
** so an acknowledgement survives power loss too, at the price of one
** fsync per batch (group commit keeps that to one per batch_window_s).
**
** WRITES. Connections open on the VFS of sqlite_walbuf.c, which hands a
** commit's WAL frames to the kernel in runs of ~30 pages a pwrite()
** instead of two pwrite()s a page, before COMMIT returns (so durability
** is as above): +35-45% acknowledged records/s, A/B in one session.
**
** CONNECTIONS. One writer connection (the store's writer thread, with its
** INSERT and DELETE statements kept prepared, the many-row INSERTs of
** insert_rows among them), one for the checkpoint
** thread (see CHECKPOINT_EVERY_MS), and a pool of reading connections,
** one per concurrent reader, kept for reuse; in WAL mode a reader sees the
** last committed state and never blocks the writer.
**
** ONE WRITER. SQLite would let a second process write too (waiting on
** its lock), so the store takes an exclusive flock() on PATH-lock for as
** long as it is open: a second store of the same database, in this or
** another process, fails at open. (A separate file, because closing any
** descriptor of the database file itself would drop SQLite's own POSIX
** locks held by this process.)
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agentmon/timer.h"
#include "../../util/alloc.h"
#include "../../util/error.h"
#include "sqlite_walbuf.h"
#include "store_backend.h"

#define POOL_MAX 8
#define CACHE_MAX 32
#define BUSY_MS 10000
/* Page cache per connection: the indexes' hot pages of a day of records
   stay in memory instead of being read back from the OS on every batch. */
#define CACHE_KIB 65536
/*
** Checkpoints (copying the WAL into the database, with the fsyncs) would
** run inside the writer's COMMIT every 1000 pages; a thread of the store
** runs them instead, PASSIVE (never blocking the writer), every
** CHECKPOINT_EVERY_MS, so a commit is only the WAL append: measured
** +25-40% acknowledged records/s. The WAL file is cut back to
** WAL_LIMIT_BYTES when it restarts.
**
** But a WAL restarts only at a write transaction that finds every frame
** copied, and a writer that commits more often than a checkpoint
** completes (one-event requests: a commit every few hundred
** microseconds) never does: the WAL grew without bound, 3 GB in 30 s,
** and every commit slowed with it (22.8k -> 13.9k requests/s). So once
** the WAL holds more than WAL_LIMIT_BYTES the checkpointer follows its
** passive pass with a RESTART one: it holds new writers back (at most
** RESTART_WAIT_MS while readers finish with the WAL) for the little the
** passive pass left, and the next commit starts the WAL from its head.
**
** That thread can fall behind: a passive pass over a large WAL on a slow
** or busy disk takes longer while the writer keeps appending, and its
** RESTART can miss the write lock, which the writer takes again at once
** (SQLite's locks are not fair). CI saw the WAL past 192 MiB within 3 s
** (test_wal_bounded). So the writer checks too, after each commit (the
** WAL hook): past WAL_HARD_LIMIT_BYTES it runs the RESTART checkpoint
** itself, waiting for the checkpointer's pass to end first, and ingest
** waits for it -- a disk that cannot keep up slows the writes instead of
** growing the file without bound.
*/
#define CHECKPOINT_EVERY_MS 100
#define WAL_LIMIT_BYTES (64 << 20)
#define WAL_HARD_LIMIT_BYTES (2 * WAL_LIMIT_BYTES)
#define RESTART_WAIT_MS 100

/*
** insert_rows: records go in as INSERTs of ROWS_MAX, ROWS_MAX/2, ... 1
** rows (one statement per power of two, prepared once per table), so a
** batch costs one statement per ROWS_MAX records rather than one each:
** SQLite's per-statement work (opening and closing a cursor per index,
** the VM's start and halt) was a third of the instructions of an INSERT.
*/
#define ROWS_MAX 64
#define N_SIZES 7 /* 64, 32, 16, 8, 4, 2, 1 rows */

typedef struct cached {
    const char *sql;
    sqlite3_stmt *st;
} cached;

typedef struct sqlite_be {
    char *path;
    bool is_full_sync;
    int lock_fd;
    sqlite3 *w;
    cached cache[CACHE_MAX];
    size_t n_cache;
    sqlite3_stmt *rows_st[AM_T__N][N_SIZES]; /* [table][log2(ROWS_MAX / rows)] */
    size_t rows_cols[AM_T__N];               /* the columns they insert */
    sqlite3_stmt *seq_st[AM_T__N];           /* SELECT seq ... WHERE id = ? */
    pthread_mutex_t pool_mu;
    sqlite3 *pool[POOL_MAX];
    size_t n_pool;
    sqlite3 *ck;   /* the checkpointer's connection */
    int page_size; /* the database's, for the WAL's size in bytes */
    pthread_t ck_thread;
    bool has_ck_thread, is_ck_stopping;
    pthread_mutex_t ck_mu;
    pthread_cond_t ck_cv;
} sqlite_be;

static am_err db_err(sqlite3 *db, const char *what)
{
    return am__err(AM_EIO, "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

static am_err mkdirs(const char *path)
{
    char dir[4096];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return am__err(AM_EINVAL, "sqlite: path is too long");
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return AM_OK;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return am__err(AM_EIO, "sqlite: cannot create directory %s: %s", dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return am__err(AM_EIO, "sqlite: cannot create directory %s: %s", dir, strerror(errno));
    return AM_OK;
}

static am_err open_conn(sqlite_be *b, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(b->path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             am__sqlite_walbuf_vfs());
    if (rc != SQLITE_OK) {
        am_err e = am__err(AM_EIO, "sqlite: cannot open %s: %s", b->path,
                           db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return e;
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    char *msg = NULL;
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=%d; "
             "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=%d",
             b->is_full_sync ? "FULL" : "NORMAL", -CACHE_KIB, WAL_LIMIT_BYTES);
    if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        am_err e = am__err(AM_EIO, "sqlite: cannot set WAL mode on %s: %s", b->path,
                           msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_close(db);
        return e;
    }
    *out = db;
    return AM_OK;
}

static void sqlite_close(void *be)
{
    sqlite_be *b = be;
    if (!b)
        return;
    if (b->has_ck_thread) {
        pthread_mutex_lock(&b->ck_mu);
        b->is_ck_stopping = true;
        pthread_cond_signal(&b->ck_cv);
        pthread_mutex_unlock(&b->ck_mu);
        pthread_join(b->ck_thread, NULL);
    }
    sqlite3_close(b->ck);
    pthread_mutex_destroy(&b->ck_mu);
    pthread_cond_destroy(&b->ck_cv);
    for (size_t i = 0; i < b->n_cache; i++)
        sqlite3_finalize(b->cache[i].st);
    for (int t = 0; t < AM_T__N; t++) {
        for (int k = 0; k < N_SIZES; k++)
            sqlite3_finalize(b->rows_st[t][k]);
        sqlite3_finalize(b->seq_st[t]);
    }
    for (size_t i = 0; i < b->n_pool; i++)
        sqlite3_close(b->pool[i]);
    sqlite3_close(b->w);
    if (b->lock_fd >= 0)
        close(b->lock_fd); /* drops the flock */
    pthread_mutex_destroy(&b->pool_mu);
    am__free(b->path);
    am__free(b);
}

static int page_size(sqlite3 *db)
{
    sqlite3_stmt *st;
    int n = 4096; /* SQLite's default, should the question fail */
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

/* The WAL's size in bytes for frames frames (each a page and its header). */
static int64_t wal_bytes(const sqlite_be *b, int frames)
{
    return (int64_t)frames * (b->page_size + 24);
}

/* After each of the writer's commits (sqlite3_wal_hook): see above. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    const sqlite_be *b = arg;
    if (wal_bytes(b, frames) <= WAL_HARD_LIMIT_BYTES)
        return SQLITE_OK;
    /* The checkpointer's pass holds the checkpoint lock (SQLITE_BUSY at
       once, without the busy handler): wait for it to end. A query still
       reading the WAL holds the restart back too: for RESTART_WAIT_MS a
       try. After BUSY_MS in all (by the clock: a try can itself wait),
       give up until the next commit. */
    sqlite3_busy_timeout(db, RESTART_WAIT_MS);
    uint64_t give_up = am_now_ns() + BUSY_MS * 1000000ull;
    while (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL) ==
               SQLITE_BUSY &&
           am_now_ns() < give_up) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    sqlite3_busy_timeout(db, BUSY_MS);
    return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
    sqlite_be *b = arg;
    pthread_mutex_lock(&b->ck_mu);
    while (!b->is_ck_stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += CHECKPOINT_EVERY_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->ck_cv, &b->ck_mu, &ts);
        if (b->is_ck_stopping)
            break;
        pthread_mutex_unlock(&b->ck_mu);
        /* a failure (busy) only means the next round copies more */
        int frames = 0;
        if (sqlite3_wal_checkpoint_v2(b->ck, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, NULL) ==
                SQLITE_OK &&
            wal_bytes(b, frames) > WAL_LIMIT_BYTES)
            sqlite3_wal_checkpoint_v2(b->ck, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        pthread_mutex_lock(&b->ck_mu);
    }
    pthread_mutex_unlock(&b->ck_mu);
    return NULL;
}

static am_err sqlite_open(const char *uri, void **out)
{
    const char *path = uri + strlen("sqlite:");
    const char *q = strchr(path, '?');
    size_t n = q ? (size_t)(q - path) : strlen(path);
    bool is_full = false;
    if (q) {
        if (strcmp(q, "?sync=full") == 0)
            is_full = true;
        else if (strcmp(q, "?sync=normal") != 0)
            return am__err(AM_EINVAL, "store \"%.200s\": the only option is ?sync=full", uri);
    }
    if (n == 0)
        return am__err(AM_EINVAL, "store \"%.200s\": sqlite: needs a file path", uri);
    /* each of the store's connections (the writer, the readers) would see
       a database of its own: rows written would never be read back */
    if ((n == 8 && memcmp(path, ":memory:", 8) == 0) || (n >= 5 && memcmp(path, "file:", 5) == 0))
        return am__err(AM_EINVAL,
                       "store \"%.200s\": an in-memory SQLite database is private to one "
                       "connection, and the store uses several: give a file path",
                       uri);
    sqlite_be *b = am__calloc(1, sizeof *b);
    if (!b)
        return am__err(AM_ENOMEM, "out of memory opening the store");
    b->lock_fd = -1;
    pthread_mutex_init(&b->pool_mu, NULL);
    pthread_mutex_init(&b->ck_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->ck_cv, &ca);
    pthread_condattr_destroy(&ca);
    b->is_full_sync = is_full;
    b->path = am__strndup(path, n);
    char *lock = b->path ? am__malloc(n + 6) : NULL;
    if (!lock) {
        sqlite_close(b);
        return am__err(AM_ENOMEM, "out of memory opening the store");
    }
    memcpy(lock, b->path, n);
    memcpy(lock + n, "-lock", 6);
    am_err rc = mkdirs(b->path);
    if (!rc) {
        b->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (b->lock_fd < 0)
            rc = am__err(AM_EIO, "sqlite: cannot open %s: %s", lock, strerror(errno));
        else if (flock(b->lock_fd, LOCK_EX | LOCK_NB) != 0)
            rc = am__err(AM_EIO, "sqlite: %s is open by another agentmon store (%s is locked)",
                         b->path, lock);
    }
    am__free(lock);
    if (!rc)
        rc = open_conn(b, &b->w);
    if (!rc)
        rc = open_conn(b, &b->ck);
    if (!rc) {
        /* the RESTART checkpoint waits this long for readers, holding writers */
        sqlite3_busy_timeout(b->ck, RESTART_WAIT_MS);
        b->page_size = page_size(b->ck);
        sqlite3_wal_hook(b->w, wal_hook, b);
    }
    if (!rc && pthread_create(&b->ck_thread, NULL, checkpointer, b) != 0)
        rc = am__err(AM_EIO, "sqlite: cannot start the checkpoint thread");
    b->has_ck_thread = !rc;
    if (rc) {
        sqlite_close(b);
        return rc;
    }
    *out = b;
    return AM_OK;
}

static am_err sqlite_exec(void *be, const char *sql)
{
    sqlite_be *b = be;
    char *msg = NULL;
    if (sqlite3_exec(b->w, sql, NULL, NULL, &msg) != SQLITE_OK) {
        am_err e = am__err(AM_EIO, "sqlite: %s", msg ? msg : sqlite3_errmsg(b->w));
        sqlite3_free(msg);
        return e;
    }
    return AM_OK;
}

static int bind_value(sqlite3_stmt *st, int idx, am_col_type type, const am_value *v);

static am_err bind(sqlite3 *db, sqlite3_stmt *st, const am_store_stmt *s)
{
    for (size_t i = 0; i < s->n_params; i++)
        if (bind_value(st, (int)i + 1, s->param_types[i], &s->params[i]) != SQLITE_OK)
            return db_err(db, "binding a parameter");
    return AM_OK;
}

static am_err step_all(sqlite3 *db, sqlite3_stmt *st, const am_store_stmt *s)
{
    am_value cols[40];
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            return AM_OK;
        if (rc != SQLITE_ROW)
            return db_err(db, "running a statement");
        if (!s->on_row)
            continue;
        for (size_t i = 0; i < s->n_cols && i < 40; i++) {
            int ct = sqlite3_column_type(st, (int)i);
            cols[i] = (am_value){.is_null = ct == SQLITE_NULL};
            if (ct == SQLITE_NULL)
                continue;
            switch (s->col_types[i]) {
            case AM_COL_TEXT:
                cols[i].v.s = (const char *)sqlite3_column_text(st, (int)i);
                if (!cols[i].v.s)
                    return db_err(db, "reading a text column");
                break;
            case AM_COL_INT:
                cols[i].v.i = sqlite3_column_int64(st, (int)i);
                break;
            default:
                cols[i].v.d = sqlite3_column_double(st, (int)i);
                break;
            }
        }
        int stop = s->on_row(s->ud, cols);
        if (stop)
            return am__err((am_err)stop, "reading rows failed: %s", am_strerror((am_err)stop));
    }
}

static sqlite3 *pool_get(sqlite_be *b, am_err *rc)
{
    sqlite3 *db = NULL;
    pthread_mutex_lock(&b->pool_mu);
    if (b->n_pool)
        db = b->pool[--b->n_pool];
    pthread_mutex_unlock(&b->pool_mu);
    *rc = AM_OK;
    if (!db)
        *rc = open_conn(b, &db);
    return db;
}

static void pool_put(sqlite_be *b, sqlite3 *db)
{
    pthread_mutex_lock(&b->pool_mu);
    if (b->n_pool < POOL_MAX) {
        b->pool[b->n_pool++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&b->pool_mu);
    sqlite3_close(db);
}

static am_err sqlite_run(void *be, bool on_writer, const am_store_stmt *s, int64_t *changes)
{
    sqlite_be *b = be;
    am_err rc = AM_OK;
    sqlite3 *db = on_writer ? b->w : pool_get(b, &rc);
    if (!db)
        return rc;
    sqlite3_stmt *st = NULL;
    bool is_cached = false;
    if (on_writer && s->is_cached) {
        for (size_t i = 0; i < b->n_cache; i++)
            if (b->cache[i].sql == s->sql) {
                st = b->cache[i].st;
                is_cached = true;
                break;
            }
    }
    if (!st) {
        unsigned flags = on_writer && s->is_cached ? SQLITE_PREPARE_PERSISTENT : 0;
        if (sqlite3_prepare_v3(db, s->sql, -1, flags, &st, NULL) != SQLITE_OK) {
            rc = db_err(db, "preparing a statement");
            goto out;
        }
        if (on_writer && s->is_cached && b->n_cache < CACHE_MAX) {
            b->cache[b->n_cache].sql = s->sql;
            b->cache[b->n_cache++].st = st;
            is_cached = true;
        }
    }
    rc = bind(db, st, s);
    if (!rc)
        rc = step_all(db, st, s);
    if (!rc && changes)
        *changes = sqlite3_changes64(db);
out:
    if (st && is_cached) {
        sqlite3_reset(st);
        /* every parameter is bound again on the next run: no clear_bindings */
    } else {
        sqlite3_finalize(st);
    }
    if (!on_writer)
        pool_put(b, db);
    return rc;
}

static am_err sqlite_ping(void *be)
{
    return sqlite_exec(be, "SELECT 1");
}

/* In process, a statement costs no round trip: one after the other. */
static am_err sqlite_run_many(void *be, const am_store_stmt *sts, size_t n, bool *changed)
{
    for (size_t i = 0; i < n; i++) {
        int64_t c = 0;
        am_err rc = sqlite_run(be, true, &sts[i], &c);
        if (rc)
            return rc;
        if (changed)
            changed[i] = c > 0;
    }
    return AM_OK;
}

/* The writer's statement of sql (owned by b then), prepared once. */
static am_err prepare_kept(sqlite_be *b, am_buf *sql, sqlite3_stmt **st)
{
    if (am_buf_err(sql)) {
        am_buf_free(sql);
        return am__err(AM_ENOMEM, "out of memory preparing an INSERT");
    }
    int rc = sqlite3_prepare_v3(b->w, sql->p, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    am_buf_free(sql);
    return rc == SQLITE_OK ? AM_OK : db_err(b->w, "preparing an INSERT");
}

/* The INSERT of 64 >> si rows of t's first n_cols columns. */
static am_err rows_stmt(sqlite_be *b, const am_table *t, size_t n_cols, int si, sqlite3_stmt **out)
{
    if (b->rows_cols[t->id] != n_cols) {
        for (int k = 0; k < N_SIZES; k++) {
            sqlite3_finalize(b->rows_st[t->id][k]);
            b->rows_st[t->id][k] = NULL;
        }
        b->rows_cols[t->id] = n_cols;
    }
    am_err rc = AM_OK;
    if (!b->rows_st[t->id][si]) {
        am_buf sql;
        am_buf_init(&sql, 0);
        am__sql_insert_rows_sqlite(&sql, t, n_cols, (size_t)ROWS_MAX >> si);
        rc = prepare_kept(b, &sql, &b->rows_st[t->id][si]);
    }
    *out = b->rows_st[t->id][si];
    return rc;
}

static int bind_value(sqlite3_stmt *st, int idx, am_col_type type, const am_value *v)
{
    if (v->is_null || (type == AM_COL_TEXT && !v->v.s))
        return sqlite3_bind_null(st, idx);
    if (type == AM_COL_TEXT)
        return sqlite3_bind_text(st, idx, v->v.s, -1, SQLITE_STATIC);
    if (type == AM_COL_INT)
        return sqlite3_bind_int64(st, idx, v->v.i);
    return sqlite3_bind_double(st, idx, v->v.d); /* REAL, TIME */
}

/*
** Which of the k records a statement that stored only `stored` of them
** stored. SQLite gives a rowid table's new rows max(seq) + 1, one after
** the other, so this statement's rows are those from last_insert_rowid -
** stored + 1 on; a record is one of them when the row of its id is, and
** no earlier record of the same id took it. Rare (resent events): one
** lookup per record.
*/
static am_err which_stored(sqlite_be *b, const am_table *t, const am_record *recs, size_t k,
                           int64_t stored, bool *changed)
{
    int64_t first = sqlite3_last_insert_rowid(b->w) - stored + 1;
    for (size_t r = 0; r < k; r++)
        changed[r] = false;
    if (stored == 0)
        return AM_OK;
    if (!b->seq_st[t->id]) {
        am_buf sql;
        am_buf_init(&sql, 0);
        am__sql_seq_of_id(&sql, &am__sql_sqlite, t);
        am_err rc = prepare_kept(b, &sql, &b->seq_st[t->id]);
        if (rc)
            return rc;
    }
    sqlite3_stmt *st = b->seq_st[t->id];
    for (size_t r = 0; r < k; r++) {
        const char *id = recs[r].vals[0].v.s;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return db_err(b->w, "reading back stored ids");
        if (seq < first)
            continue;
        changed[r] = true;
        for (size_t e = 0; e < r && changed[r]; e++)
            if (changed[e] && strcmp(recs[e].vals[0].v.s, id) == 0)
                changed[r] = false;
    }
    return AM_OK;
}

static am_err sqlite_insert_rows(void *be, const am_table *t, size_t n_cols, const am_record *recs,
                                 size_t n, bool *changed)
{
    sqlite_be *b = be;
    size_t max_rows = (size_t)sqlite3_limit(b->w, SQLITE_LIMIT_VARIABLE_NUMBER, -1) / n_cols;
    for (size_t at = 0; at < n;) {
        int si = 0;
        while ((size_t)ROWS_MAX >> si > n - at || (size_t)ROWS_MAX >> si > max_rows)
            si++;
        size_t k = (size_t)ROWS_MAX >> si;
        sqlite3_stmt *st;
        am_err rc = rows_stmt(b, t, n_cols, si, &st);
        if (rc)
            return rc;
        int idx = 1, brc = SQLITE_OK;
        for (size_t r = 0; r < k; r++)
            for (size_t i = 0; i < n_cols && brc == SQLITE_OK; i++)
                brc = bind_value(st, idx++, t->cols[i].type, &recs[at + r].vals[i]);
        int src = brc == SQLITE_OK ? sqlite3_step(st) : brc;
        sqlite3_reset(st);
        if (src != SQLITE_DONE)
            return db_err(b->w, "inserting rows");
        int64_t stored = sqlite3_changes64(b->w);
        if (stored == (int64_t)k) {
            for (size_t r = 0; r < k; r++)
                changed[at + r] = true;
        } else if ((rc = which_stored(b, t, recs + at, k, stored, changed + at))) {
            return rc;
        }
        at += k;
    }
    return AM_OK;
}

const am_store_ops am__store_sqlite_ops = {
    2,           "sqlite",   &am__sql_sqlite, sqlite_open,     sqlite_close,
    sqlite_exec, sqlite_run, sqlite_ping,     sqlite_run_many, sqlite_insert_rows,
};
