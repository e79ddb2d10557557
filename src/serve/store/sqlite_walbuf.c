/*
** sqlite_walbuf.c: a SQLite VFS over the default one that gathers a
** transaction's writes to the WAL into a few pwrite()s, ~30 pages each.
**
** WHY. SQLite appends each WAL frame with two writes -- its 24-byte header,
** then the page -- so a commit of N pages costs 2N system calls, and on
** this kind of virtual machine a system call costs microseconds: profiles
** of the store's writer showed a third of its time in pwrite() under
** batch ingest, and ~22 pwrite() per one-event commit (issue 14).
**
** HOW. Only files opened as a WAL (SQLITE_OPEN_WAL) are buffered; the
** database file, journals and shared memory go straight through. A write
** that continues the buffered run is appended to it (up to BUF_MAX, then
** written in calls of WRITE_MAX, the most the unix VFS takes at once);
** anything else -- a write elsewhere (SQLite rewriting a frame in place),
** a read, sync, truncate, size, lock, file control or close -- first
** writes the run out, so every operation but an append sees the file as
** if nothing were buffered.
**
** WHEN THE RUN IS WRITTEN. SQLite makes a transaction visible by writing
** the WAL index header in shared memory after the frames, with no call
** into the VFS on the WAL file in between. So the run is written as soon
** as the commit frame's page is appended (a frame header whose "database
** size after commit" field is not zero marks the commit frame), inside the
** xWrite() SQLite checks, before the commit can be published: a failure
** fails the commit, as a failed pwrite() would. As a second line, the
** index header's update is fenced by xShmBarrier() on the database file of
** the same thread, which writes out whatever run that thread still holds.
** Durability is unchanged: COMMIT returns only after the frames are in the
** kernel (what synchronous=NORMAL promises, and what kill -9 tests), and
** xSync() writes the run before it syncs (synchronous=FULL).
**
** Threading: SQLite uses a connection's files from one thread at a time;
** the pending run a barrier writes is the calling thread's own.
*/
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "../../util/atomic.h"
#include "sqlite_walbuf.h"

#define VFS_NAME "agentmon-walbuf"
#define BUF_MAX (1u << 20) /* ~250 frames of 4 KiB pages per write */
/* the unix VFS writes at most 0x1ffff bytes a call (seekAndWriteFd) */
#define WRITE_MAX 0x1f000
#define FRAME_HDR 24
#define WAL_HDR 32

typedef struct wb_file {
    sqlite3_file base; /* first: SQLite's view */
    sqlite3_file *real;
    int is_wal;
    int is_commit_next; /* the next page appended ends a transaction */
    int sticky;         /* a run the barrier could not write: every later call fails */
    char *buf;
    size_t len;
    sqlite3_int64 off; /* file offset of buf[0] */
} wb_file;

static sqlite3_vfs *g_root;
static sqlite3_vfs g_vfs;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_ok;
static __thread wb_file *t_pending; /* this thread's unwritten run, if any */
static _Atomic uint64_t g_asked, g_done;

static int flush(wb_file *f)
{
    if (f->sticky)
        return f->sticky;
    if (!f->len)
        return SQLITE_OK;
    int rc = SQLITE_OK;
    for (size_t o = 0; o < f->len && rc == SQLITE_OK; o += WRITE_MAX) {
        size_t n = f->len - o < WRITE_MAX ? f->len - o : WRITE_MAX;
        rc = f->real->pMethods->xWrite(f->real, f->buf + o, (int)n, f->off + (sqlite3_int64)o);
        atomic_fetch_add_explicit(&g_done, 1, am_relaxed);
    }
    f->len = 0;
    if (t_pending == f)
        t_pending = NULL;
    return rc;
}

static int wb_write(sqlite3_file *file, const void *p, int n, sqlite3_int64 off)
{
    wb_file *f = (wb_file *)file;
    if (!f->is_wal)
        return f->real->pMethods->xWrite(f->real, p, n, off);
    if (f->sticky)
        return f->sticky;
    atomic_fetch_add_explicit(&g_asked, 1, am_relaxed);
    int is_append = f->len && off == f->off + (sqlite3_int64)f->len;
    if (!is_append || f->len + (size_t)n > BUF_MAX) {
        int rc = flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    if ((size_t)n > BUF_MAX || (!f->buf && !(f->buf = sqlite3_malloc(BUF_MAX)))) {
        /* larger than a run, or no room for one: as SQLite would */
        atomic_fetch_add_explicit(&g_done, 1, am_relaxed);
        return f->real->pMethods->xWrite(f->real, p, n, off);
    }
    if (!f->len) {
        f->off = off;
        if (t_pending && t_pending != f) {
            /* one pending run per thread, so the barrier knows them all */
            int rc = flush(t_pending);
            if (rc != SQLITE_OK)
                return rc;
        }
    }
    memcpy(f->buf + f->len, p, (size_t)n);
    f->len += (size_t)n;
    t_pending = f;
    if (n == FRAME_HDR && off >= WAL_HDR) {
        const unsigned char *h = p; /* bytes 4..7: database pages after a commit, else 0 */
        f->is_commit_next = (h[4] | h[5] | h[6] | h[7]) != 0;
        return SQLITE_OK;
    }
    if (!f->is_commit_next)
        return SQLITE_OK;
    f->is_commit_next = 0; /* this was the commit frame's page */
    return flush(f);
}

static int wb_close(sqlite3_file *file)
{
    wb_file *f = (wb_file *)file;
    int rc = flush(f);
    int rc2 = f->real->pMethods->xClose(f->real);
    if (t_pending == f)
        t_pending = NULL;
    sqlite3_free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

/* The forwarding methods: the run is written out first (a no-op unless
   this is a WAL with a pending run), so the call sees the file whole. */
#define FLUSHED(file)                                                                              \
    wb_file *f = (wb_file *)(file);                                                                \
    int frc = flush(f);                                                                            \
    if (frc != SQLITE_OK)                                                                          \
        return frc;

static int wb_read(sqlite3_file *file, void *p, int n, sqlite3_int64 off)
{
    FLUSHED(file);
    return f->real->pMethods->xRead(f->real, p, n, off);
}

static int wb_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    FLUSHED(file);
    return f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *file, int flags)
{
    FLUSHED(file);
    return f->real->pMethods->xSync(f->real, flags);
}

static int wb_size(sqlite3_file *file, sqlite3_int64 *size)
{
    FLUSHED(file);
    return f->real->pMethods->xFileSize(f->real, size);
}

static int wb_lock(sqlite3_file *file, int level)
{
    FLUSHED(file);
    return f->real->pMethods->xLock(f->real, level);
}

static int wb_unlock(sqlite3_file *file, int level)
{
    FLUSHED(file);
    return f->real->pMethods->xUnlock(f->real, level);
}

static int wb_reserved(sqlite3_file *file, int *out)
{
    FLUSHED(file);
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wb_fcntl(sqlite3_file *file, int op, void *arg)
{
    FLUSHED(file);
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wb_sector(sqlite3_file *file)
{
    wb_file *f = (wb_file *)file;
    return f->real->pMethods->xSectorSize(f->real);
}

static int wb_caps(sqlite3_file *file)
{
    wb_file *f = (wb_file *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int wb_shm_map(sqlite3_file *file, int pg, int pgsz, int extend, void volatile **pp)
{
    wb_file *f = (wb_file *)file;
    return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int wb_shm_lock(sqlite3_file *file, int ofst, int n, int flags)
{
    wb_file *f = (wb_file *)file;
    return f->real->pMethods->xShmLock(f->real, ofst, n, flags);
}

/* The fence SQLite puts in the middle of publishing a WAL index header:
   nothing this thread wrote to a WAL may still be in a run past it. The
   commit frame's flush in wb_write() normally left nothing to do here. */
static void wb_shm_barrier(sqlite3_file *file)
{
    wb_file *f = (wb_file *)file, *p = t_pending;
    if (p) {
        int rc = flush(p);
        if (rc != SQLITE_OK)
            p->sticky = rc; /* cannot fail here: the WAL's next call will */
    }
    f->real->pMethods->xShmBarrier(f->real);
}

static int wb_shm_unmap(sqlite3_file *file, int del)
{
    wb_file *f = (wb_file *)file;
    return f->real->pMethods->xShmUnmap(f->real, del);
}

static int wb_fetch(sqlite3_file *file, sqlite3_int64 off, int n, void **pp)
{
    wb_file *f = (wb_file *)file;
    return f->real->pMethods->xFetch(f->real, off, n, pp);
}

static int wb_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
    wb_file *f = (wb_file *)file;
    return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods g_io = {
    3,           wb_close,       wb_read,      wb_write, wb_truncate, wb_sync, wb_size,
    wb_lock,     wb_unlock,      wb_reserved,  wb_fcntl, wb_sector,   wb_caps, wb_shm_map,
    wb_shm_lock, wb_shm_barrier, wb_shm_unmap, wb_fetch, wb_unfetch,
};

/* Where the default VFS's file lives inside ours: after it, aligned. */
#define REAL_AT ((sizeof(wb_file) + 15) & ~(size_t)15)

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
    (void)vfs;
    wb_file *f = (wb_file *)file;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)((char *)f + REAL_AT);
    f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = g_root->xOpen(g_root, name, f->real, flags, out);
    if (f->real->pMethods && f->real->pMethods->iVersion < 3) {
        /* the default VFS changed under us: no shared memory to wrap */
        f->real->pMethods->xClose(f->real);
        return SQLITE_CANTOPEN;
    }
    /* after a failed open SQLite closes the file only if pMethods is set */
    f->base.pMethods = f->real->pMethods ? &g_io : NULL;
    return rc;
}

static int wb_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return g_root->xDelete(g_root, name, sync_dir);
}

static int wb_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return g_root->xAccess(g_root, name, flags, out);
}

static int wb_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return g_root->xFullPathname(g_root, name, n, out);
}

static void *wb_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return g_root->xDlOpen(g_root, name);
}

static void wb_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    g_root->xDlError(g_root, n, out);
}

static void (*wb_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return g_root->xDlSym(g_root, h, sym);
}

static void wb_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    g_root->xDlClose(g_root, h);
}

static int wb_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return g_root->xRandomness(g_root, n, out);
}

static int wb_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return g_root->xSleep(g_root, us);
}

static int wb_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return g_root->xCurrentTime(g_root, out);
}

static int wb_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return g_root->xGetLastError(g_root, n, out);
}

static int wb_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return g_root->xCurrentTimeInt64(g_root, out);
}

static void init(void)
{
    g_root = sqlite3_vfs_find(NULL);
    if (!g_root || g_root->iVersion < 2 || !g_root->xCurrentTimeInt64)
        return;
    g_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)(REAL_AT + (size_t)g_root->szOsFile),
        .mxPathname = g_root->mxPathname,
        .zName = VFS_NAME,
        .xOpen = wb_open,
        .xDelete = wb_delete,
        .xAccess = wb_access,
        .xFullPathname = wb_fullpath,
        .xDlOpen = wb_dlopen,
        .xDlError = wb_dlerror,
        .xDlSym = wb_dlsym,
        .xDlClose = wb_dlclose,
        .xRandomness = wb_random,
        .xSleep = wb_sleep,
        .xCurrentTime = wb_time,
        .xGetLastError = wb_lasterr,
        .xCurrentTimeInt64 = wb_time64,
    };
    g_ok = sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK;
}

const char *am__sqlite_walbuf_vfs(void)
{
    pthread_once(&g_once, init);
    return g_ok ? VFS_NAME : NULL;
}

void am__sqlite_walbuf_counts(uint64_t *asked, uint64_t *done)
{
    *asked = atomic_load_explicit(&g_asked, am_relaxed);
    *done = atomic_load_explicit(&g_done, am_relaxed);
}
