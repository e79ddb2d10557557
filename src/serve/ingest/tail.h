/*
** tail.h: `agentmon serve --tail FILE` -- follow files of JSON log lines
** (agentmon's own, log_lines.h) and store what is appended to them in the
** log_lines table, as `tail -F` would read them.
**
** A file is read from its start (a line already stored is skipped by its
** id), then from where reading stopped; a file that is replaced (another
** inode: rotation) or shrinks (truncation) is read again from its start.
** Only whole lines are taken: a partial last line waits for its newline.
** A line longer than AM_TAIL_MAX_READ is skipped. Lines go to the store
** as samples (nobody waits for them): when its queue is full they are read
** again on the next poll, so none is lost while the file is there.
*/
#ifndef AM_SERVE_TAIL_H
#define AM_SERVE_TAIL_H

#include <stddef.h>

#include "agentmon/common.h"
#include "../store/store.h"
#include "event_metrics.h"

#define AM_TAIL_MAX_READ (1u << 20) /* bytes read from one file per poll */

typedef struct am_tail am_tail;

/* Follow paths[0..n) (copied). A file that does not exist yet is waited
   for. AM_ENOMEM. */
am_err am__tail_new(const char *const *paths, size_t n, am_tail **out);

/*
** Read what was appended to each file since the last poll and submit its
** lines to s; lines older than retention_s (> 0) are left out. Counted in
** m ("tail": lines, invalid, stored by type). Not thread-safe: one poller.
*/
void am__tail_poll(am_tail *t, am_store *s, am_event_metrics *m, double retention_s);

/* NULL is a no-op. */
void am__tail_free(am_tail *t);

#endif
