/*
** log_buffer.c: a buffered logger's gathered lines (AM_LOG_BUFFERED) --
** whole lines copied into memory and written in batches, so that a busy
** agent pays one write(2) per batch instead of one per line.
**
** WHEN A BATCH IS WRITTEN
**   - when the next line would not fit in AM__LOGBUF_CAP bytes;
**   - at once when a line at WARNING or worse is logged (log.c asks with
**     `now`), with every line before it: a problem is never held back, and
**     what led up to it goes out first;
**   - AM__LOGBUF_DELAY_MS after the batch's first line, by the buffer's
**     own thread (started with the first line, so a logger that never logs
**     costs no thread), which sleeps while nothing is gathered;
**   - at am_logger_flush(), am_logger_free() and exit (log_registry.c's
**     destructor: exit() and returning from main() write what is left;
**     _exit() and a crash lose at most the last AM__LOGBUF_DELAY_MS).
**     Not at fork(): see FORK.
** A line longer than half the buffer is not copied: the batch before it is
** written, then the line, in that order.
**
** LOCKS. `mu` guards the gathering buffer; `out` makes writes one at a
** time and in order: a flush takes `out`, swaps the full buffer for the
** empty spare under `mu`, and writes the spare with only `out` held, so
** threads keep gathering lines while a batch is being written. Order:
** out, then mu.
**
** NEVER TORN. Each write(2) holds whole lines. Into a file the kernel
** writes each whole (and O_APPEND keeps other processes' lines apart);
** into a pipe or socket a batch is cut at line ends into writes of at most
** PIPE_BUF bytes (log.c passes chunk), which POSIX does not split.
**
** FORK. A child must neither write its parent's gathered lines again nor
** find a lock held by a thread that did not come with it (log_registry.c
** calls these for every buffer). Before fork() `mu` is taken, so the
** buffer's pointers are whole in the child; `out` is not, as it is held
** across a write(2) that a stalled reader can make last. The child empties
** its buffer (the parent writes those lines) and makes `out` again (any
** batch being written was the parent's). The thread stayed in the parent,
** and the child starts none (creating threads after a multi-threaded fork
** is outside POSIX, and ThreadSanitizer cannot follow it): there each line
** is written at once, as by a logger that is not buffered. A logger made
** in the child buffers.
**
** Threading: every function is thread-safe. Ownership: the buffer is its
** logger's; lines are copied in.
*/
#define _GNU_SOURCE /* memrchr */

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "log_buffer.h"

struct am__logbuf {
    pthread_mutex_t mu;  /* fill, n, first_ns, stop, has_thread */
    pthread_mutex_t out; /* one batch written at a time, in order */
    pthread_cond_t wake; /* the thread: a batch began, or stop */
    char *fill, *spare;  /* AM__LOGBUF_CAP bytes each */
    size_t n;            /* bytes gathered in fill */
    uint64_t first_ns;   /* when fill's first line came (monotonic) */
    bool stop;
    bool has_thread; /* in this process */
    bool forked;     /* in a child of the process that made it */
    pthread_t thread;
    size_t chunk;
    am__logbuf_write_fn write;
    void *ctx;
    _Atomic uint64_t *dropped;
};

/* ------------------------------------------------------------------ */
/* Writing a batch                                                     */
/* ------------------------------------------------------------------ */

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t k = 0;
    for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
        k++;
    return k;
}

/* Write n bytes of whole lines in writes of at most chunk bytes, each
   ending at a line's end (a line longer than chunk goes alone); on a
   failure the lines not yet written are dropped. out held. */
static int write_lines(am__logbuf *b, const char *p, size_t n)
{
    while (n) {
        size_t w = n;
        if (w > b->chunk) {
            const char *nl = memrchr(p, '\n', b->chunk);
            if (!nl)
                nl = memchr(p + b->chunk, '\n', n - b->chunk);
            w = nl ? (size_t)(nl - p) + 1 : n;
        }
        int e = b->write(b->ctx, p, w);
        if (e) {
            atomic_fetch_add_explicit(b->dropped, count_lines(p, n), memory_order_relaxed);
            return e;
        }
        p += w;
        n -= w;
    }
    return 0;
}

/* Write what is gathered. out held. */
static int flush_out_held(am__logbuf *b)
{
    pthread_mutex_lock(&b->mu);
    char *p = b->fill;
    size_t n = b->n;
    b->fill = b->spare;
    b->spare = p;
    b->n = 0;
    pthread_mutex_unlock(&b->mu);
    return write_lines(b, p, n);
}

int am__logbuf_flush(am__logbuf *b)
{
    pthread_mutex_lock(&b->out);
    int e = flush_out_held(b);
    pthread_mutex_unlock(&b->out);
    return e;
}

/* ------------------------------------------------------------------ */
/* The buffer's thread                                                 */
/* ------------------------------------------------------------------ */

static void deadline(struct timespec *ts, uint64_t at_ns)
{
    ts->tv_sec = (time_t)(at_ns / 1000000000u);
    ts->tv_nsec = (long)(at_ns % 1000000000u);
}

/* Sleeps while nothing is gathered; writes a batch once its first line
   has waited AM__LOGBUF_DELAY_MS. */
static void *flusher(void *arg)
{
    am__logbuf *b = arg;
    const uint64_t delay = AM__LOGBUF_DELAY_MS * 1000000ull;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        if (b->n == 0) {
            pthread_cond_wait(&b->wake, &b->mu);
            continue;
        }
        uint64_t due = b->first_ns + delay;
        if (am_now_ns() < due) {
            struct timespec ts;
            deadline(&ts, due);
            pthread_cond_timedwait(&b->wake, &b->mu, &ts);
            continue; /* the batch may have been written meanwhile */
        }
        pthread_mutex_unlock(&b->mu);
        (void)am__logbuf_flush(b); /* failures are counted as dropped */
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Start the thread; it takes no signals (they are the application's).
   mu held. */
static bool start_locked(am__logbuf *b)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    b->has_thread = pthread_create(&b->thread, NULL, flusher, b) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return b->has_thread;
}

/* ------------------------------------------------------------------ */
/* Gathering                                                           */
/* ------------------------------------------------------------------ */

int am__logbuf_put(am__logbuf *b, const char *p, size_t n, bool now)
{
    if (n > AM__LOGBUF_CAP / 2) {
        pthread_mutex_lock(&b->out);
        (void)flush_out_held(b); /* its failures are counted as dropped */
        int e = write_lines(b, p, n);
        pthread_mutex_unlock(&b->out);
        return e;
    }
    pthread_mutex_lock(&b->mu);
    while (b->n + n > AM__LOGBUF_CAP) {
        pthread_mutex_unlock(&b->mu);
        (void)am__logbuf_flush(b);
        pthread_mutex_lock(&b->mu);
    }
    bool first = b->n == 0;
    memcpy(b->fill + b->n, p, n);
    b->n += n;
    if (first)
        b->first_ns = am_now_ns();
    if (!b->has_thread && (b->forked || !start_locked(b)))
        now = true; /* no thread to write it later: written now */
    pthread_mutex_unlock(&b->mu);
    if (first)
        pthread_cond_signal(&b->wake);
    return now ? am__logbuf_flush(b) : 0;
}

/* ------------------------------------------------------------------ */
/* fork() and exit                                                     */
/* ------------------------------------------------------------------ */

void am__logbuf_fork_prepare(am__logbuf *b)
{
    pthread_mutex_lock(&b->mu);
}

void am__logbuf_fork_parent(am__logbuf *b)
{
    pthread_mutex_unlock(&b->mu);
}

static void init_wake(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

void am__logbuf_fork_child(am__logbuf *b)
{
    b->n = 0;              /* the parent's lines: the parent writes them */
    b->has_thread = false; /* it stayed in the parent */
    b->forked = true;
    init_wake(&b->wake);               /* its waiter stayed there too */
    pthread_mutex_init(&b->out, NULL); /* a batch being written was the parent's */
    pthread_mutex_unlock(&b->mu);      /* taken by this thread, before fork() */
}

/* ------------------------------------------------------------------ */
/* Making and freeing                                                  */
/* ------------------------------------------------------------------ */

am_err am__logbuf_new(am__logbuf_write_fn write, void *ctx, size_t chunk, _Atomic uint64_t *dropped,
                      am__logbuf **out)
{
    am__logbuf *b = am__calloc(1, sizeof *b);
    char *fill = am__malloc(AM__LOGBUF_CAP), *spare = am__malloc(AM__LOGBUF_CAP);
    if (!b || !fill || !spare) {
        am__free(b);
        am__free(fill);
        am__free(spare);
        return am__err(AM_ENOMEM, "out of memory creating a log buffer");
    }
    b->fill = fill;
    b->spare = spare;
    b->chunk = chunk ? chunk : AM__LOGBUF_CAP;
    b->write = write;
    b->ctx = ctx;
    b->dropped = dropped;
    /* mu is held for a copy of a line: a thread that finds it taken spins
       a little before sleeping, which spares the two futex calls of each
       hand-off when threads log at once (two threads on one logger: about
       a quarter less time a line, log_line_buffered_devnull_2threads) */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&b->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_mutex_init(&b->out, NULL);
    init_wake(&b->wake);
    *out = b;
    return AM_OK;
}

void am__logbuf_free(am__logbuf *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    bool joined = b->has_thread;
    pthread_mutex_unlock(&b->mu);
    pthread_cond_signal(&b->wake);
    if (joined)
        pthread_join(b->thread, NULL);
    (void)am__logbuf_flush(b);
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->out);
    pthread_mutex_destroy(&b->mu);
    am__free(b->fill);
    am__free(b->spare);
    am__free(b);
}
