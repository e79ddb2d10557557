/*
** sqlite_walbuf.h: a SQLite VFS that writes a transaction's WAL frames
** with one pwrite() instead of two per page (see sqlite_walbuf.c).
*/
#ifndef AM_SERVE_STORE_SQLITE_WALBUF_H
#define AM_SERVE_STORE_SQLITE_WALBUF_H

#include <stdint.h>

/*
** The VFS's name for sqlite3_open_v2(), registered (not as the default) on
** the first call; NULL when SQLite's default VFS cannot carry it (it lacks
** shared memory) or registering failed -- the caller then opens with the
** default VFS. Thread-safe.
*/
const char *am__sqlite_walbuf_vfs(void);

/* Since the process started: writes SQLite asked of WAL files, and the
   writes that reached the default VFS for them (tests check the ratio).
   Thread-safe. */
void am__sqlite_walbuf_counts(uint64_t *asked, uint64_t *done);

#endif
