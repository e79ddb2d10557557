/*
** tail.c: follow files of JSON log lines into the store (see tail.h).
**
** DESIGN
** No thread of its own: the collector's housekeeping thread calls
** am__tail_poll() once a second (a row of serve.c's SOURCES). A poll, per
** file: stat the path; another inode than the one read, or a size below
** the offset, starts again at 0; then pread up to AM_TAIL_MAX_READ bytes
** from the offset, cut after the last newline, decode those whole lines
** (log_lines.c, in place in the read buffer) and submit them with
** am_store_submit_samples(). The offset moves past them only once they
** are queued: a full queue (AM_EFULL) leaves it, and the same bytes are
** read next time. A read of AM_TAIL_MAX_READ bytes without a newline is
** one line too long to take: it is skipped (counted invalid).
**
** Reading from the start again after a restart or a rotation stores no
** line twice: a line's id is the hash of its bytes (log_lines.h).
**
** OWNERSHIP: the am_tail owns its paths and descriptors.
*/
#define _GNU_SOURCE /* memrchr */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentmon/timer.h"
#include "../../util/alloc.h"
#include "../../util/error.h"
#include "log_lines.h"
#include "tail.h"

#define TAIL_SLICE 1024 /* lines per submit */

typedef struct tailed {
    char *path;
    int fd; /* -1: not open */
    dev_t dev;
    ino_t ino;
    off_t off;
} tailed;

struct am_tail {
    tailed *f;
    size_t n;
    char *buf; /* AM_TAIL_MAX_READ + 1 */
};

am_err am__tail_new(const char *const *paths, size_t n, am_tail **out)
{
    am_tail *t = am__calloc(1, sizeof *t);
    if (t)
        t->f = am__calloc(n ? n : 1, sizeof *t->f);
    if (t && t->f)
        t->buf = am__malloc(AM_TAIL_MAX_READ + 1);
    if (!t || !t->f || !t->buf) {
        am__tail_free(t);
        return am__err(AM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        t->f[i].fd = -1;
        t->f[i].path = am__strdup(paths[i]);
        t->n++;
        if (!t->f[i].path) {
            am__tail_free(t);
            return am__err(AM_ENOMEM, "out of memory");
        }
    }
    *out = t;
    return AM_OK;
}

void am__tail_free(am_tail *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->f[i].fd >= 0)
            close(t->f[i].fd);
        am__free(t->f[i].path);
    }
    am__free(t->f);
    am__free(t->buf);
    am__free(t);
}

/* Open f again when the path is another file now, or shrank. false when
   there is nothing to read (no file). */
static bool follow(tailed *f)
{
    struct stat st;
    if (stat(f->path, &st) != 0) {
        return f->fd >= 0; /* removed: read what is left of the old one */
    }
    if (f->fd >= 0 && (st.st_dev != f->dev || st.st_ino != f->ino)) {
        /* rotated: the old file's rest was read at the last poll; a line
           written to it since then is lost, as with tail -F */
        close(f->fd);
        f->fd = -1;
    }
    if (f->fd < 0) {
        f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0)
            return false;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->off = 0;
    } else if (st.st_size < f->off) {
        f->off = 0; /* truncated */
    }
    return true;
}

/* Admit, submit; false when the queue is full (read them again later). */
static bool submit(am_events *ev, am_store *s, am_event_metrics *m, double retention_s)
{
    double now = am_unix_time();
    for (size_t k = ev->n_recs; k-- > 0;)
        if (retention_s > 0 && ev->recs[k].vals[AM_LOG_TIMESTAMP].v.d < now - retention_s &&
            am__events_drop(ev, k, "older than the retention"))
            return true; /* out of memory: drop them all */
    /* in slices, so that a read of many short lines never asks for more
       than the queue can hold at all (AM_ELIMIT); a slice that does not fit
       now leaves the read for the next poll -- the slices queued already
       are skipped then by their ids */
    for (size_t at = 0; at < ev->n_recs; at += TAIL_SLICE) {
        size_t n = ev->n_recs - at < TAIL_SLICE ? ev->n_recs - at : TAIL_SLICE;
        am_err rc = am_store_submit_samples(s, ev->recs + at, n);
        if (rc == AM_EFULL)
            return false;
        for (size_t i = 0; !rc && i < n; i++)
            am__event_metrics_stored(m, "tail", AM_T_LOG);
    }
    return true;
}

static void poll_one(am_tail *t, tailed *f, am_store *s, am_event_metrics *m, double retention_s)
{
    if (!follow(f))
        return;
    for (;;) {
        ssize_t got = pread(f->fd, t->buf, AM_TAIL_MAX_READ, f->off);
        if (got <= 0)
            return;
        char *nl = memrchr(t->buf, '\n', (size_t)got);
        if (!nl) {
            if ((size_t)got == AM_TAIL_MAX_READ) { /* one line too long */
                f->off += got;
                am__event_metrics_received(m, "tail", 1, 1);
            }
            return; /* else a partial line: wait for the rest */
        }
        size_t len = (size_t)(nl - t->buf) + 1;
        am_events ev;
        am_err rc = am__log_lines_decode(t->buf, len, am_unix_time(), &ev);
        bool taken = true;
        if (!rc) {
            am__event_metrics_received(m, "tail", ev.n_events, ev.n_rejects);
            taken = submit(&ev, s, m, retention_s);
        }
        am__events_free(&ev);
        if (!taken)
            return;
        f->off += (off_t)len;
        if ((size_t)got < AM_TAIL_MAX_READ)
            return;
    }
}

void am__tail_poll(am_tail *t, am_store *s, am_event_metrics *m, double retention_s)
{
    for (size_t i = 0; t && i < t->n; i++)
        poll_one(t, &t->f[i], s, m, retention_s);
}
