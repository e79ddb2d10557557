/*
** log.c: structured log lines -- one JSON object per line, one write(2)
** per line.
**
** DESIGN
** A call goes: level check (one atomic load) -> format the whole line into
** the calling thread's buffer -> one write(). A line is never split. Into
** a file or character device (/dev/null, a tty) there is no lock at all:
** the kernel writes each write(2) whole under its own lock. Into a pipe or
** socket, a line of at most PIPE_BUF bytes (nearly all) is not split
** either (POSIX), so such lines take the logger's rwlock shared and go
** out in parallel; a longer one, which the kernel may split, takes it
** exclusively, as does any line for a write_fn, and the lock covers the
** partial-write loop. So lines from many threads cannot interleave,
** however long, and a path is opened O_APPEND so other processes
** appending to the same file do not tear lines either. A buffered logger
** (AM_LOG_BUFFERED) hands the formatted line to log_buffer.c instead,
** which copies it and writes a batch of lines per write(2).
**
** COST (the target: <= 1 us per line to /dev/null, no malloc per
** line). The buffer is a thread-local am_buf that keeps its memory between
** lines (freed by a pthread key destructor when the thread exits, or after
** a line above 16 KiB so one huge line does not pin memory), so a line
** allocates nothing once the thread has written one as long. The
** timestamp is CLOCK_REALTIME (vDSO) plus a per-thread cache of the
** "YYYY-MM-DDTHH:MM:SS" text of the last second seen, rebuilt with integer
** arithmetic (no gmtime_r, which takes glibc's timezone lock) only when
** the second changes. Trace ids come already in hex from trace.c. Strings
** are checked for UTF-8 with am__utf8_valid and escaped with
** am__buf_json_string (render.c); only a string that is not valid UTF-8
** takes the slower escaper here, which writes U+FFFD for each bad byte.
**
** EVERY LINE PARSES. Keys and values are escaped; invalid UTF-8 becomes
** U+FFFD written as its UTF-8 bytes (not as the escape \ufffd, so that the
** escaped form of a string is a function of its decoded text and two keys
** collide on the line exactly when their bytes do); doubles that JSON
** cannot hold become strings; an extra field's key that is already on the
** line gets "_" prepended until it is unique, compared on the escaped
** bytes actually written. A line over max_line_bytes is formatted again
** with each string cut at a UTF-8 boundary to an equal share of the budget
** (six output bytes per input byte at worst) and "log_truncated":true.
**
** NEVER KILLED BY A LOG. Writing to a pipe whose reader exited raises
** SIGPIPE, whose default action ends the process. For a socket we use
** send(MSG_NOSIGNAL); for a FIFO we block SIGPIPE in this thread around the
** write and, on EPIPE, take the pending signal with sigtimedwait before
** unblocking -- unless the application had already blocked it, in which
** case its handling is left alone. The kind of descriptor is found with
** fstat() when the logger is made. The write fails, is counted in
** am_logger_dropped(), and the call returns AM_EIO.
**
** THE DEFAULT LOGGER is a static object (stdout, no allocation), set up
** once with pthread_once: so it needs no freeing and am_shutdown() (in
** core) knows nothing about logs.
**
** THREADS. The level, the descriptor's kind and the dropped count are
** atomics; the rwlock keeps long lines (into pipes and sockets) and
** write_fn calls apart from everything else. Per-thread: the line buffer,
** the date cache and a busy flag that refuses (AM_EMISUSE) a log call made
** from inside a write_fn, whose line lives in that same buffer. Every
** logger is in log_registry.c's list, which makes the rwlock again in a
** child of fork() (another thread may have held it at that moment).
*/
#define _GNU_SOURCE /* program_invocation_short_name, GNU strerror_r */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agentmon/log.h"
#include "../util/alloc.h"
#include "../util/atomic.h"
#include "../util/buf.h"
#include "../util/civil.h"
#include "../util/error.h"
#include "../util/fmt.h"
#include "../core/hooks.h"
#include "../util/render.h"
#include "../util/validate.h"
#include "log_buffer.h"
#include "log_registry.h"
#include "trace_internal.h"

#define KEEP_BUF 16384 /* a thread keeps at most this much buffer between lines */
#define MIN_MAX_LINE 1024
#define MAX_MAX_LINE (1u << 30)

/* FD_FILE: a regular file or a character device (/dev/null, a tty),
   which the kernel writes whole under its own lock whatever the length */
enum fd_kind { FD_PLAIN, FD_FIFO, FD_SOCKET, FD_FILE };

struct am_logger {
    pthread_rwlock_t lock; /* shared: short lines; exclusive: long ones, write_fn */
    int fd;
    bool owns_fd;
    _Atomic int kind; /* enum fd_kind; written lines may change it (dup2) */
    am_log_write_fn write_fn;
    void *userdata;
    _Atomic int level;
    _Atomic uint64_t dropped;
    size_t max_line;
    unsigned flags;
    const char *component; /* owned (am__strdup), except the default logger's */
    am__logbuf *buf;       /* AM_LOG_BUFFERED: the gathered lines (log_buffer.c) */
    am__log_entry entry;   /* in log_registry.c's list, for fork() and exit */
    bool has_env_error;
    char env_error[192];
};

static int write_all(am_logger *lg, const char *p, size_t n);
static am_err write_error(am_logger *lg, int e);

/* How a buffered logger's batches are written. */
static int buf_write(void *lg, const char *p, size_t n)
{
    return write_all(lg, p, n);
}

/* ------------------------------------------------------------------ */
/* Levels                                                              */
/* ------------------------------------------------------------------ */

static const struct {
    am_log_level level;
    const char *lower, *upper;
} LEVELS[] = {
    {AM_LOG_LEVEL_DEBUG, "debug", "DEBUG"},          {AM_LOG_LEVEL_INFO, "info", "INFO"},
    {AM_LOG_LEVEL_WARNING, "warning", "WARNING"},    {AM_LOG_LEVEL_ERROR, "error", "ERROR"},
    {AM_LOG_LEVEL_CRITICAL, "critical", "CRITICAL"},
};
#define N_LEVELS (sizeof LEVELS / sizeof LEVELS[0])

/* ASCII-only case-insensitive equality: strcasecmp follows the locale
   (in a Turkish 8-bit locale 'I' does not lower to 'i'). */
static bool ascii_ieq(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

static bool level_ok(int level)
{
    return level == AM_LOG_LEVEL_DEBUG || level == AM_LOG_LEVEL_INFO ||
           level == AM_LOG_LEVEL_WARNING || level == AM_LOG_LEVEL_ERROR ||
           level == AM_LOG_LEVEL_CRITICAL;
}

const char *am_log_level_name(am_log_level level)
{
    for (size_t i = 0; i < N_LEVELS; i++)
        if (LEVELS[i].level == level)
            return LEVELS[i].upper;
    return "UNKNOWN";
}

am_err am_log_level_parse(const char *s, am_log_level *out)
{
    if (!s || !out)
        return am__err(AM_EINVAL, "level name or out is NULL");
    for (size_t i = 0; i < N_LEVELS; i++) {
        if (ascii_ieq(s, LEVELS[i].lower)) {
            *out = LEVELS[i].level;
            return AM_OK;
        }
    }
    return am__err(AM_EINVAL, "\"%.40s\" is not a level (debug, info, warning, error, critical)",
                   s);
}

/* The level AGENTMON_LOG_LEVEL asks for; a bad value gives info and a reason. */
static am_log_level level_from_env(am_logger *lg)
{
    const char *v = getenv(AM_LOG_ENV_VAR);
    am_log_level level = AM_LOG_LEVEL_INFO;
    if (!v || !*v)
        return level;
    for (size_t i = 0; i < N_LEVELS; i++)
        if (ascii_ieq(v, LEVELS[i].lower))
            return LEVELS[i].level;
    char shown[41];
    size_t n = 0;
    for (; v[n] && n < sizeof shown - 1; n++) /* the library's own text: keep it printable */
        shown[n] = (v[n] >= 0x20 && v[n] < 0x7f && v[n] != '"') ? v[n] : '?';
    shown[n] = '\0';
    snprintf(lg->env_error, sizeof lg->env_error,
             "%s=\"%s%s\" is not a level (debug, info, warning, error, critical); using info",
             AM_LOG_ENV_VAR, shown, v[n] ? "..." : "");
    lg->has_env_error = true;
    return level;
}

/* ------------------------------------------------------------------ */
/* Loggers                                                             */
/* ------------------------------------------------------------------ */

static enum fd_kind fd_kind_of(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return FD_PLAIN;
    if (S_ISFIFO(st.st_mode))
        return FD_FIFO;
    if (S_ISSOCK(st.st_mode))
        return FD_SOCKET;
    if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))
        return FD_FILE;
    return FD_PLAIN;
}

static const char *program_name(void)
{
    const char *p = program_invocation_short_name;
    return (p && *p) ? p : "agentmon";
}

static am_logger g_default = {
    .lock = PTHREAD_RWLOCK_INITIALIZER,
    .fd = 1,
    .level = AM_LOG_LEVEL_INFO,
    .max_line = AM_LOG_DEFAULT_MAX_LINE,
};
static pthread_once_t g_default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
    g_default.kind = fd_kind_of(1);
    g_default.component = program_name();
    atomic_store(&g_default.level, level_from_env(&g_default));
    g_default.entry.lock = &g_default.lock;
    am__log_register(&g_default.entry);
}

am_logger *am_log_default(void)
{
    pthread_once(&g_default_once, default_init);
    return &g_default;
}

static am_logger *resolve(am_logger *lg)
{
    return lg ? lg : am_log_default();
}

am_err am_logger_new(const am_log_opts *o, am_logger **out)
{
    static const am_log_opts defaults = AM_LOG_OPTS_INIT;
    if (!out)
        return am__err(AM_EINVAL, "out pointer is NULL");
    if (!o)
        o = &defaults;
    int n_dest = (o->fd >= 0) + (o->path != NULL) + (o->write_fn != NULL);
    if (n_dest > 1)
        return am__err(AM_EINVAL,
                       "log options name %d destinations (fd, path, write_fn); "
                       "give at most one",
                       n_dest);
    if (o->fd < -1)
        return am__err(AM_EINVAL, "log fd %d is negative (use -1 for none)", o->fd);
    if (o->level != AM_LOG_LEVEL_ENV && !level_ok((int)o->level))
        return am__err(AM_EINVAL, "log level %d is not one of 10, 20, 30, 40, 50", (int)o->level);
    if (o->flags & ~(AM_LOG_CLOSE_FD | AM_LOG_NO_TRACE | AM_LOG_BUFFERED))
        return am__err(AM_EINVAL, "unknown log flags 0x%x", o->flags);
    if ((o->flags & AM_LOG_BUFFERED) && o->write_fn)
        return am__err(AM_EINVAL, "AM_LOG_BUFFERED writes to an fd or a path, not a write_fn");
    if ((o->flags & AM_LOG_CLOSE_FD) && o->fd < 0)
        return am__err(AM_EINVAL, "AM_LOG_CLOSE_FD needs an fd");
    if (o->max_line_bytes && (o->max_line_bytes < MIN_MAX_LINE || o->max_line_bytes > MAX_MAX_LINE))
        return am__err(AM_EINVAL, "max_line_bytes %zu is outside %u..%u", o->max_line_bytes,
                       MIN_MAX_LINE, MAX_MAX_LINE);

    am_logger *lg = am__calloc(1, sizeof *lg);
    if (!lg)
        return am__err(AM_ENOMEM, "out of memory creating a logger");
    char *comp = am__strdup(o->component ? o->component : program_name());
    if (!comp) {
        am__free(lg);
        return am__err(AM_ENOMEM, "out of memory creating a logger");
    }
    lg->component = comp;
    lg->fd = 1;
    if (o->fd >= 0) {
        lg->fd = o->fd;
        lg->owns_fd = (o->flags & AM_LOG_CLOSE_FD) != 0;
    } else if (o->path) {
        int fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            int e = errno;
            char eb[128];
            am__free(comp);
            am__free(lg);
            return am__err(AM_EIO, "cannot open log file \"%.120s\": %s", o->path,
                           strerror_r(e, eb, sizeof eb));
        }
        lg->fd = fd;
        lg->owns_fd = true;
    }
    lg->write_fn = o->write_fn;
    lg->userdata = o->userdata;
    lg->kind = o->write_fn ? FD_PLAIN : fd_kind_of(lg->fd);
    lg->flags = o->flags;
    lg->max_line = o->max_line_bytes ? o->max_line_bytes : AM_LOG_DEFAULT_MAX_LINE;
    am_log_level level = o->level == AM_LOG_LEVEL_ENV ? level_from_env(lg) : o->level;
    atomic_init(&lg->level, (int)level);
    atomic_init(&lg->dropped, 0);
    if (o->flags & AM_LOG_BUFFERED) {
        /* into a pipe or socket, writes of whole lines no longer than
           PIPE_BUF, which no other writer's can land inside */
        int kind = atomic_load_explicit(&lg->kind, memory_order_relaxed);
        size_t chunk = kind == FD_FIFO || kind == FD_SOCKET ? PIPE_BUF : 0;
        am_err rc = am__logbuf_new(buf_write, lg, chunk, &lg->dropped, &lg->buf);
        if (rc) {
            if (lg->owns_fd && o->path)
                close(lg->fd); /* ours; an fd given with AM_LOG_CLOSE_FD stays the caller's */
            am__free(comp);
            am__free(lg);
            return rc;
        }
    }
    pthread_rwlock_init(&lg->lock, NULL);
    lg->entry.lock = &lg->lock;
    lg->entry.buf = lg->buf;
    am__log_register(&lg->entry);
    *out = lg;
    return AM_OK;
}

void am_logger_free(am_logger *lg)
{
    if (!lg || lg == &g_default)
        return;
    am__log_unregister(&lg->entry);
    am__logbuf_free(lg->buf); /* writes what is gathered */
    if (lg->owns_fd)
        close(lg->fd);
    pthread_rwlock_destroy(&lg->lock);
    am__free((char *)lg->component);
    am__free(lg);
}

const char *am_logger_env_error(am_logger *lg)
{
    lg = resolve(lg);
    return lg->has_env_error ? lg->env_error : NULL;
}

am_err am_logger_set_level(am_logger *lg, am_log_level level)
{
    if (!level_ok((int)level))
        return am__err(AM_EINVAL, "log level %d is not one of 10, 20, 30, 40, 50", (int)level);
    atomic_store_explicit(&resolve(lg)->level, (int)level, memory_order_relaxed);
    return AM_OK;
}

am_log_level am_logger_level(am_logger *lg)
{
    return (am_log_level)atomic_load_explicit(&resolve(lg)->level, memory_order_relaxed);
}

bool am_log_enabled(am_logger *lg, am_log_level level)
{
    return (int)level >= atomic_load_explicit(&resolve(lg)->level, memory_order_relaxed);
}

am_err am_logger_flush(am_logger *lg)
{
    lg = resolve(lg);
    if (!lg->buf)
        return AM_OK;
    int e = am__logbuf_flush(lg->buf);
    return e ? write_error(lg, e) : AM_OK;
}

uint64_t am_logger_dropped(am_logger *lg)
{
    return atomic_load_explicit(&resolve(lg)->dropped, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* The per-thread buffer                                               */
/* ------------------------------------------------------------------ */

static __thread am_buf t_line;
static __thread bool t_line_registered;
static __thread bool t_busy;

static pthread_key_t g_key;
static bool g_key_ok;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static void free_line(void *p)
{
    am_buf_free(p);
}

static void make_key(void)
{
    g_key_ok = pthread_key_create(&g_key, free_line) == 0;
}

/* After a line: give big buffers back, and make sure thread exit frees it. */
static void line_done(void)
{
    if (!t_line.p)
        return;
    if (t_line.cap > KEEP_BUF) {
        am_buf_free(&t_line);
        return;
    }
    if (!t_line_registered) {
        pthread_once(&g_key_once, make_key);
        if (!g_key_ok || pthread_setspecific(g_key, &t_line) != 0) {
            am_buf_free(&t_line); /* cannot be freed at exit: do not keep it */
            return;
        }
        t_line_registered = true;
    }
}

/* ------------------------------------------------------------------ */
/* Time                                                                */
/* ------------------------------------------------------------------ */

static __thread int64_t t_date_sec;
static __thread bool t_date_ok;
static __thread char t_date[20]; /* "YYYY-MM-DDTHH:MM:SS" */

#define MAX_SEC AM_CIVIL_MAX_SEC

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (24 bytes). */
static void timestamp(char out[24])
{
    int64_t sec;
    unsigned ms;
    if (am__time_hook) {
        double t = am__time_hook();
        if (!(t >= 0)) { /* negative or NaN */
            sec = 0;
            ms = 0;
        } else if (t >= (double)MAX_SEC + 1) {
            sec = MAX_SEC;
            ms = 0;
        } else {
            double f = floor(t);
            unsigned m = (unsigned)((t - f) * 1000.0);
            sec = (int64_t)f;
            ms = m > 999 ? 999 : m;
        }
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        sec = ts.tv_sec < 0 ? 0 : (ts.tv_sec > MAX_SEC ? MAX_SEC : (int64_t)ts.tv_sec);
        ms = (unsigned)(ts.tv_nsec / 1000000);
    }
    if (!t_date_ok || sec != t_date_sec) {
        am__civil_format(sec, t_date);
        t_date_sec = sec;
        t_date_ok = true;
    }
    memcpy(out, t_date, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    put2(out + 21, ms % 100);
    out[23] = 'Z';
}

/* ------------------------------------------------------------------ */
/* Strings                                                             */
/* ------------------------------------------------------------------ */

/* Bytes of the well-formed UTF-8 sequence at s (avail bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
               : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                              : 0;
    if (!n || n > avail || !am__utf8_valid((const char *)s, n, NULL))
        return 0;
    return n;
}

/* s[0..n) as a JSON string where s is not valid UTF-8: bad bytes -> U+FFFD. */
static void json_string_lossy(am_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    am_buf_putc(b, '"');
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);
            if (k) {
                i += k;
                continue;
            }
            am_buf_append(b, str + run, i - run);
            am_buf_append(b, "\xEF\xBF\xBD", 3);
            run = ++i;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        am_buf_append(b, str + run, i - run);
        am__buf_json_escape(b, c);
        run = ++i;
    }
    am_buf_append(b, str + run, n - run);
    am_buf_putc(b, '"');
}

/*
** The escaped length of s[0..n) as put_string writes it (quotes not
** counted), stopping before the unit that would take it past limit;
** *raw receives the input bytes consumed. A unit is one ASCII byte (1, 2
** or 6 bytes escaped), one well-formed UTF-8 sequence (its own length) or
** one bad byte (3: U+FFFD), so a cut never splits a character.
*/
static size_t escaped_len(const char *str, size_t n, size_t limit, size_t *raw)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, out = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t in = 1, w;
        if (c >= 0x80) {
            in = utf8_seq(s + i, n - i);
            w = in ? in : 3;
            if (!in)
                in = 1;
        } else if (c >= 0x20 && c != '"' && c != '\\') {
            w = 1;
        } else {
            w = (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') ? 2 : 6;
        }
        if (out + w > limit)
            break;
        out += w;
        i += in;
    }
    *raw = i;
    return out;
}

/* s (NULL: null) as a JSON string; with a cap, at most cap escaped bytes. */
static void put_string(am_buf *b, const char *s, size_t cap)
{
    if (!s) {
        am_buf_append(b, "null", 4);
        return;
    }
    size_t n = strlen(s);
    if (AM_UNLIKELY(cap != SIZE_MAX))
        escaped_len(s, n, cap, &n);
    if (am__utf8_valid(s, n, NULL))
        am__buf_json_string(b, s, n);
    else
        json_string_lossy(b, s, n);
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */
/* ------------------------------------------------------------------ */

static void put_int(am_buf *b, int64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--n] = '-';
    am_buf_append(b, tmp + n, sizeof tmp - n);
}

/* A JSON number as core writes numbers; JSON has no NaN or infinities. */
static void put_double(am_buf *b, double v)
{
    if (isnan(v))
        am_buf_append(b, "\"NaN\"", 5);
    else if (isinf(v))
        am_buf_append(b, v > 0 ? "\"+Inf\"" : "\"-Inf\"", 6);
    else if (v == 0 && signbit(v))
        am_buf_append(b, "-0", 2);
    else
        am__buf_double(b, v);
}

/* ------------------------------------------------------------------ */
/* Formatting a line                                                   */
/* ------------------------------------------------------------------ */

/* Where each key of the line was written (offsets: the buffer may move). */
typedef struct keyspan {
    size_t off, len; /* the escaped key, quotes included */
} keyspan;

typedef struct line {
    am_buf *b;
    size_t cap; /* input bytes kept per string */
    keyspan keys[8 + AM_LOG_MAX_FIELDS];
    size_t n_keys;
} line;

/* Append a fixed key ("name":) known to be unique. */
static void fixed_key(line *ln, const char *quoted, size_t n)
{
    ln->keys[ln->n_keys].off = ln->b->len; /* the ',' or '{' is written already */
    am_buf_append(ln->b, quoted, n);
    ln->keys[ln->n_keys].len = n - 1; /* without the ':' */
    ln->n_keys++;
}

static bool key_taken(const line *ln, size_t off, size_t len)
{
    for (size_t i = 0; i < ln->n_keys; i++)
        if (ln->keys[i].len == len && memcmp(ln->b->p + ln->keys[i].off, ln->b->p + off, len) == 0)
            return true;
    return false;
}

/* Append ,"key": for an extra field, with '_' prepended until unique. */
static void field_key(line *ln, const char *key)
{
    am_buf *b = ln->b;
    am_buf_putc(b, ',');
    size_t off = b->len;
    put_string(b, key ? key : "", ln->cap);
    if (am_buf_err(b))
        return;
    while (key_taken(ln, off, b->len - off)) {
        char *w = am_buf_reserve(b, 1);
        if (!w)
            return;
        memmove(b->p + off + 2, b->p + off + 1, b->len - off - 1);
        b->p[off + 1] = '_';
        b->len++;
        b->p[b->len] = '\0';
    }
    ln->keys[ln->n_keys].off = off;
    ln->keys[ln->n_keys].len = b->len - off;
    ln->n_keys++;
    am_buf_putc(b, ':');
}

static bool is_trace_key(const char *k)
{
    return k && ((k[0] == 't' && strcmp(k, "trace_id") == 0) ||
                 (k[0] == 's' && strcmp(k, "span_id") == 0));
}

static void put_trace(line *ln, const char *trace_hex, const char *span_hex)
{
    am_buf *b = ln->b;
    am_buf_putc(b, ',');
    fixed_key(ln, "\"trace_id\":", 11);
    am_buf_putc(b, '"');
    am_buf_append(b, trace_hex, AM_TRACE_ID_HEX);
    am_buf_append(b, "\",", 2);
    fixed_key(ln, "\"span_id\":", 10);
    am_buf_putc(b, '"');
    am_buf_append(b, span_hex, AM_SPAN_ID_HEX);
    am_buf_putc(b, '"');
}

static void format_line(line *ln, const am_logger *lg, am_log_level level, const char *component,
                        const char *message, const am_field *f, size_t n, bool truncated)
{
    am_buf *b = ln->b;
    char ts[24];
    timestamp(ts);
    ln->n_keys = 0;
    am_buf_putc(b, '{');
    fixed_key(ln, "\"timestamp\":", 12);
    am_buf_putc(b, '"');
    am_buf_append(b, ts, sizeof ts);
    am_buf_append(b, "\",", 2);
    fixed_key(ln, "\"level\":", 8);
    am_buf_putc(b, '"');
    am_buf_puts(b, am_log_level_name(level));
    am_buf_append(b, "\",", 2);
    fixed_key(ln, "\"component\":", 12);
    put_string(b, component ? component : lg->component, ln->cap);
    am_buf_putc(b, ',');
    fixed_key(ln, "\"message\":", 10);
    put_string(b, message ? message : "", ln->cap);
    if (truncated) {
        am_buf_putc(b, ',');
        fixed_key(ln, "\"log_truncated\":", 16);
        am_buf_append(b, "true", 4);
    }

    /* trace_id/span_id: an AM_F_TRACE field, else none if the call has its
       own trace_id or span_id, else the thread's current context. */
    const am_field *tf = NULL;
    bool explicit_ids = false;
    for (size_t i = 0; i < n; i++) {
        if (f[i].type == AM_FIELD_TRACE) {
            if (!tf)
                tf = &f[i];
        } else if (is_trace_key(f[i].key)) {
            explicit_ids = true;
        }
    }
    if (tf) {
        if (am_trace_ctx_is_valid(tf->v.trace)) {
            char th[AM_TRACE_ID_HEX + 1], sh[AM_SPAN_ID_HEX + 1];
            am_trace_id_hex(tf->v.trace, th);
            am_span_id_hex(tf->v.trace, sh);
            put_trace(ln, th, sh);
        }
    } else if (!explicit_ids && !(lg->flags & AM_LOG_NO_TRACE)) {
        const char *th, *sh;
        if (am__trace_current_hex(&th, &sh))
            put_trace(ln, th, sh);
    }

    for (size_t i = 0; i < n; i++) {
        switch (f[i].type) {
        case AM_FIELD_STR:
            field_key(ln, f[i].key);
            put_string(b, f[i].v.s, ln->cap);
            break;
        case AM_FIELD_INT:
            field_key(ln, f[i].key);
            put_int(b, f[i].v.i);
            break;
        case AM_FIELD_DOUBLE:
            field_key(ln, f[i].key);
            put_double(b, f[i].v.d);
            break;
        case AM_FIELD_BOOL:
            field_key(ln, f[i].key);
            if (f[i].v.b)
                am_buf_append(b, "true", 4);
            else
                am_buf_append(b, "false", 5);
            break;
        case AM_FIELD_TRACE:
            break;
        default: /* an unknown type: keep the key, say so */
            field_key(ln, f[i].key);
            am_buf_append(b, "null", 4);
            break;
        }
    }
    am_buf_append(b, "}\n", 2);
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/* Write all of p. Returns 0 or an errno value. */
static int write_all(am_logger *lg, const char *p, size_t n)
{
    sigset_t pipe_set, old;
    bool blocked = false;
    int kind = atomic_load_explicit(&lg->kind, memory_order_relaxed);
    if (kind == FD_FIFO) {
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        blocked = pthread_sigmask(SIG_BLOCK, &pipe_set, &old) == 0 && !sigismember(&old, SIGPIPE);
    }
    int err = 0;
    while (n) {
        ssize_t w = kind == FD_SOCKET ? send(lg->fd, p, n, MSG_NOSIGNAL) : write(lg->fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == ENOTSOCK && kind == FD_SOCKET) {
            /* fd was replaced (dup2) since: plain writes */
            kind = FD_PLAIN;
            atomic_store_explicit(&lg->kind, FD_PLAIN, memory_order_relaxed);
            continue;
        }
        err = w < 0 ? errno : EIO;
        break;
    }
    if (blocked) {
        if (err == EPIPE) {
            struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    return err;
}

static am_err write_error(am_logger *lg, int e)
{
    char eb[128];
    return am__err(AM_EIO, "writing a log line to fd %d failed: %s", lg->fd,
                   strerror_r(e, eb, sizeof eb));
}

static am_err emit(am_logger *lg, const char *p, size_t n)
{
    int kind = atomic_load_explicit(&lg->kind, memory_order_relaxed);
    if (!lg->write_fn && kind == FD_FILE) {
        /* the kernel writes a file or device whole, under its own lock */
        int e = write_all(lg, p, n);
        return e ? write_error(lg, e) : AM_OK;
    }
    /* into a pipe or socket, a write of at most PIPE_BUF bytes is not
       split (POSIX), so short lines share the lock and only a longer one,
       which could be, shuts the others out */
    bool is_short = !lg->write_fn && n <= PIPE_BUF;
    if (is_short)
        pthread_rwlock_rdlock(&lg->lock);
    else
        pthread_rwlock_wrlock(&lg->lock);
    t_busy = true;
    am_err rc = AM_OK;
    if (lg->write_fn) {
        int r = lg->write_fn(lg->userdata, p, n);
        if (r != 0)
            rc = am__err(AM_EIO, "the log's write_fn refused a line (returned %d)", r);
    } else {
        int e = write_all(lg, p, n);
        if (e)
            rc = write_error(lg, e);
    }
    t_busy = false;
    pthread_rwlock_unlock(&lg->lock);
    return rc;
}

static am_err dropped(am_logger *lg, am_err rc)
{
    atomic_fetch_add_explicit(&lg->dropped, 1, memory_order_relaxed);
    return rc;
}

/*
** The cap (escaped bytes per string) that makes the line fit: max-min fair,
** so strings shorter than their share keep everything and the long ones
** split what is left equally. 0 when even empty strings would not fit.
*/
static size_t share(const am_logger *lg, const char *component, const char *message,
                    const am_field *f, size_t n)
{
    size_t len[2 + 2 * AM_LOG_MAX_FIELDS], k = 0, raw;
    const char *comp = component ? component : lg->component;
    len[k++] = escaped_len(comp, strlen(comp), SIZE_MAX, &raw);
    len[k++] = message ? escaped_len(message, strlen(message), SIZE_MAX, &raw) : 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].type == AM_FIELD_TRACE)
            continue;
        const char *key = f[i].key ? f[i].key : "";
        len[k++] = escaped_len(key, strlen(key), SIZE_MAX, &raw);
        if (f[i].type == AM_FIELD_STR && f[i].v.s)
            len[k++] = escaped_len(f[i].v.s, strlen(f[i].v.s), SIZE_MAX, &raw);
    }
    /* Everything but the strings' contents: the fixed fields, trace ids and
       log_truncated (256), and per field its punctuation, a number or
       literal (at most 32), '_' prefixes (at most one per earlier key). */
    size_t fixed = 256 + 2 * k + n * (2 + 32 + n + 8);
    if (lg->max_line <= fixed)
        return 0;
    size_t budget = lg->max_line - fixed;
    for (size_t i = 1; i < k; i++) { /* insertion sort: k <= 130 */
        size_t v = len[i], j = i;
        for (; j > 0 && len[j - 1] > v; j--)
            len[j] = len[j - 1];
        len[j] = v;
    }
    for (size_t i = 0; i < k; i++) {
        size_t left = k - i;
        if (len[i] * left >= budget)
            return budget / left;
        budget -= len[i];
    }
    return SIZE_MAX; /* it fits uncut (the estimate was the problem) */
}

am_err am_log(am_logger *lg, am_log_level level, const char *component, const char *message,
              const am_field *fields, size_t n_fields)
{
    lg = resolve(lg);
    if (!level_ok((int)level))
        return am__err(AM_EINVAL, "log level %d is not one of 10, 20, 30, 40, 50", (int)level);
    if ((int)level < atomic_load_explicit(&lg->level, memory_order_relaxed))
        return AM_OK;
    if (AM_UNLIKELY(t_busy))
        return dropped(lg, am__err(AM_EMISUSE, "am_log called from inside a log write_fn"));
    if (n_fields > AM_LOG_MAX_FIELDS)
        return dropped(lg, am__err(AM_ELIMIT, "a log line has %zu fields; at most %d are allowed",
                                   n_fields, AM_LOG_MAX_FIELDS));
    if (n_fields && !fields)
        return dropped(lg, am__err(AM_EINVAL, "log fields are NULL"));

    am_buf *b = &t_line;
    line ln;
    ln.b = b;
    ln.cap = SIZE_MAX;
    b->max = lg->max_line + 1; /* room for the NUL am_buf keeps */
    b->len = 0;
    b->err = AM_OK;
    if (!b->p)
        am_buf_reserve(b, 511);
    format_line(&ln, lg, level, component, message, fields, n_fields, false);
    if (am_buf_err(b) == AM_ELIMIT || (!am_buf_err(b) && b->len > lg->max_line)) {
        ln.cap = share(lg, component, message, fields, n_fields);
        b->len = 0;
        b->err = ln.cap ? AM_OK : AM_ELIMIT;
        if (ln.cap)
            format_line(&ln, lg, level, component, message, fields, n_fields, true);
    }
    am_err rc = am_buf_err(b);
    if (rc == AM_OK && b->len > lg->max_line)
        rc = AM_ELIMIT; /* the buffer was big from a longer line before */
    if (rc == AM_ENOMEM)
        rc = am__err(AM_ENOMEM, "out of memory formatting a log line");
    else if (rc == AM_ELIMIT)
        rc = am__err(AM_ELIMIT, "a log line with %zu fields cannot fit in %zu bytes", n_fields,
                     lg->max_line);
    else if (rc == AM_OK && lg->buf) {
        /* gathered; written now at WARNING or worse. A batch that fails
           is counted as dropped by the buffer, line by line. */
        int e = am__logbuf_put(lg->buf, b->p, b->len, level >= AM_LOG_LEVEL_WARNING);
        line_done();
        return e ? write_error(lg, e) : AM_OK;
    } else if (rc == AM_OK)
        rc = emit(lg, b->p, b->len);
    line_done();
    return rc == AM_OK ? AM_OK : dropped(lg, rc);
}
