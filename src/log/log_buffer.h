/*
** log_buffer.h: a buffered logger's gathered lines (AM_LOG_BUFFERED):
** whole lines copied into memory and written in batches. Internal to
** src/log; log.c formats the lines, this keeps and writes them.
*/
#ifndef AM_LOG_BUFFER_H
#define AM_LOG_BUFFER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/common.h"

#define AM__LOGBUF_CAP 65536     /* bytes gathered before a batch is written */
#define AM__LOGBUF_DELAY_MS 100u /* the longest a gathered line waits */

typedef struct am__logbuf am__logbuf;

/* Write all of p (whole lines); 0 or an errno value. Called with no lock
   of the caller's held, one call at a time per buffer. */
typedef int (*am__logbuf_write_fn)(void *ctx, const char *p, size_t n);

/* A buffer writing through write(ctx, ...) in writes of at most chunk
   bytes, each ending at a line's end (PIPE_BUF into a pipe or socket, so no
   other process's write lands inside a line); lines it fails to write are
   added to *dropped. AM_OK or AM_ENOMEM. */
am_err am__logbuf_new(am__logbuf_write_fn write, void *ctx, size_t chunk, _Atomic uint64_t *dropped,
                      am__logbuf **out);

/* Write what is gathered, stop the buffer's thread and free it. */
void am__logbuf_free(am__logbuf *b);

/* Gather one whole line (p, n: it ends in '\n'); with now, write it and
   everything before it before returning. 0, or the errno of a failed
   write of this line's batch (its lines counted in *dropped). Any thread. */
int am__logbuf_put(am__logbuf *b, const char *p, size_t n, bool now);

/* Write what is gathered now; 0 or the errno of a failed write. */
int am__logbuf_flush(am__logbuf *b);

/* fork(), from log_registry.c's handlers for every buffer: prepare before
   it (takes the buffer's mu), parent and child after it, in that process
   (the child's buffer is emptied: its lines are the parent's to write). */
void am__logbuf_fork_prepare(am__logbuf *b);
void am__logbuf_fork_parent(am__logbuf *b);
void am__logbuf_fork_child(am__logbuf *b);

#endif
