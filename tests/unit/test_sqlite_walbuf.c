/*
** test_sqlite_walbuf.c: the WAL-gathering SQLite VFS (src/serve/store/
** sqlite_walbuf.c) against SQLite itself.
**
** What it must keep: every commit visible to another connection (on the
** default VFS) as soon as COMMIT returns; rollbacks, transactions larger
** than the page cache (frames written before the commit, pages rewritten
** in place), WAL restarts after checkpoints; a database that passes
** integrity_check; and every acknowledged commit still there after the
** writer is killed with SIGKILL. And what it is for: far fewer writes
** reach the file than SQLite asked for. Each test runs with synchronous=NORMAL
** (the store's default) and FULL (its sync=full).
*/
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "testutil.h"
#include "serve/store/sqlite_walbuf.h"

static const char *g_sync = "NORMAL"; /* the store's two modes: NORMAL, FULL (sync=full) */

static sqlite3 *open_db(const char *path, const char *vfs)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
                     SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s", g_sync);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
}

static int64_t int_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void assert_intact(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

static char *temp_db(char dir[64])
{
    snprintf(dir, 64, "/tmp/am-walbuf-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char *path = malloc(96);
    snprintf(path, 96, "%s/t.db", dir);
    return path;
}

static void remove_db(const char *dir, char *path)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(path);
}

/* 300 transactions of 1..400 rows of 100 B..6 KiB, a seventh of them
   rolled back, some rows rewritten in the same transaction, a cache of a
   few hundred KiB (so large transactions write frames before their
   commit and rewrite some in place), a RESTART checkpoint now and then
   (so the WAL starts again at its head): after each, a reader on the
   default VFS sees exactly what was committed. */
static void test_commits_visible(void **state)
{
    g_sync = *state ? *state : "NORMAL";
    const char *vfs = am__sqlite_walbuf_vfs();
    assert_non_null(vfs);
    char dir[64];
    char *path = temp_db(dir);
    sqlite3 *w = open_db(path, vfs), *r = open_db(path, NULL);
    exec(w, "PRAGMA cache_size=-256; PRAGMA wal_autocheckpoint=0;"
            "CREATE TABLE t (id INTEGER PRIMARY KEY, tx INTEGER, b BLOB);"
            "CREATE INDEX t_tx ON t (tx, id)");
    uint64_t asked0, done0;
    am__sqlite_walbuf_counts(&asked0, &done0);
    srand(7);
    int64_t rows = 0, bytes = 0;
    for (int tx = 0; tx < 300; tx++) {
        int n = 1 + rand() % (tx % 10 == 0 ? 400 : 40), size = 100 + rand() % 6000;
        bool is_rollback = tx % 7 == 3;
        char sql[256];
        exec(w, "BEGIN");
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
                 "INSERT INTO t (tx, b) SELECT %d, randomblob(%d) FROM k",
                 n, tx, size);
        exec(w, sql);
        snprintf(sql, sizeof sql, "UPDATE t SET b = zeroblob(%d) WHERE tx = %d AND id %% 3 = 0",
                 size, tx);
        exec(w, sql);
        exec(w, is_rollback ? "ROLLBACK" : "COMMIT");
        if (!is_rollback) {
            rows += n;
            bytes += (int64_t)n * size;
        }
        assert_int_equal(int_of(r, "SELECT count(*) FROM t"), rows);
        assert_int_equal(int_of(r, "SELECT coalesce(sum(length(b)), 0) FROM t"), bytes);
        if (tx % 50 == 49)
            exec(r, "PRAGMA wal_checkpoint(RESTART)");
    }
    uint64_t asked, done;
    am__sqlite_walbuf_counts(&asked, &done);
    asked -= asked0;
    done -= done0;
    /* two writes a frame asked; done, a run of frames a write -- cut short
       where a spilled page is rewritten in place (24,176 asked, 6,893
       done when this was written; without the VFS the two are equal) */
    assert_true(asked > 1000);
    assert_true(done * 3 < asked);
    assert_intact(w);
    assert_intact(r);
    sqlite3_close(w);
    sqlite3_close(r);
    sqlite3 *again = open_db(path, NULL);
    assert_int_equal(int_of(again, "SELECT count(*) FROM t"), rows);
    assert_intact(again);
    sqlite3_close(again);
    remove_db(dir, path);
}

/* A writer on this VFS commits row after row and reports each after
   COMMIT returned; killed with SIGKILL mid-run, every reported row is in
   the database a fresh connection opens. */
static void test_kill9_keeps_commits(void **state)
{
    g_sync = *state ? *state : "NORMAL";
    char dir[64];
    char *path = temp_db(dir);
    sqlite3 *db = open_db(path, NULL);
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)");
    sqlite3_close(db);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        sqlite3 *w = open_db(path, am__sqlite_walbuf_vfs());
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(w, "INSERT INTO t VALUES (?, randomblob(3000))", -1, &st, NULL))
            _exit(2);
        for (int64_t i = 1;; i++) {
            sqlite3_exec(w, "BEGIN", NULL, NULL, NULL);
            for (int k = 0; k < 5; k++) {
                sqlite3_bind_int64(st, 1, i * 5 + k);
                if (sqlite3_step(st) != SQLITE_DONE)
                    _exit(3);
                sqlite3_reset(st);
            }
            if (sqlite3_exec(w, "COMMIT", NULL, NULL, NULL) != SQLITE_OK ||
                write(fd[1], &i, sizeof i) != sizeof i)
                _exit(4);
        }
    }
    close(fd[1]);
    int64_t last = 0, i;
    while (last < 400 && read(fd[0], &i, sizeof i) == sizeof i)
        last = i;
    kill(pid, SIGKILL);
    while (read(fd[0], &i, sizeof i) == sizeof i)
        last = i; /* acknowledged before the kill landed */
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    db = open_db(path, NULL);
    assert_true(int_of(db, "SELECT count(*) FROM t WHERE id < 5") == 0);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM t WHERE id >= 5 AND id < %lld",
             (long long)(last + 1) * 5);
    assert_int_equal(int_of(db, sql), last * 5);
    assert_intact(db);
    sqlite3_close(db);
    remove_db(dir, path);
}

int main(void)
{
    static char full[] = "FULL";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commits_visible),
        cmocka_unit_test(test_kill9_keeps_commits),
        cmocka_unit_test_prestate(test_commits_visible, full),
        cmocka_unit_test_prestate(test_kill9_keeps_commits, full),
    };
    return cmocka_run_group_tests_name("sqlite_walbuf", tests, NULL, NULL);
}
