/*
** log.h: structured logs, one JSON object per line.
**
**     AM_LOG_INFO(NULL, "planner", "task done",
**                 AM_F_STR("task_id", id), AM_F_INT("attempt", 2));
**
** writes (to stdout, through the default logger) one line:
**
**     {"timestamp":"2026-11-24T17:20:17.123Z","level":"INFO","component":"planner",
**      "message":"task done","trace_id":"4bf9...4736","span_id":"00f0...02b7",
**      "task_id":"t-17","attempt":2}
**
** FIELDS, in this order: timestamp (RFC 3339, UTC, milliseconds), level
** (DEBUG, INFO, WARNING, ERROR or CRITICAL, as Python's logging names them),
** component, message, log_truncated (only when the line had to be
** shortened, see below), trace_id and span_id (from the calling thread's
** current context, see trace.h, unless the call passes AM_F_TRACE(ctx) or
** its own "trace_id"/"span_id" field; absent when there is none), then the
** call's extra fields in the order given: strings, 64-bit integers, doubles
** (shortest round-trip form; NaN and the infinities, which JSON lacks, as
** the strings "NaN", "+Inf", "-Inf") and booleans. A NULL string is null.
** An error carries error_type and error_message, as the monitoring spec's
** log_error does: AM_F_ERROR(type, message), or AM_F_AM_ERR(rc) for an
** am_err and the thread's am_errmsg().
**
** EVERY LINE IS JSON. Strings are escaped as JSON requires (quote,
** backslash, the control characters U+0000..U+001F as \n, \r, \t or
** \u00XX); each byte that is not part of well-formed UTF-8 (RFC 3629: no
** overlongs, surrogates or code points above U+10FFFF) becomes U+FFFD, the
** replacement character (written as its UTF-8 bytes), so a line is always
** valid UTF-8 whatever the input. An extra field whose key is already on the line (one of the fixed
** keys above, or an earlier field) is written with "_" prepended as often
** as needed to make it unique, so no object has a duplicate key.
**
** LONG LINES. A line longer than max_line_bytes (64 KiB by default) is
** written again with every string cut (at a UTF-8 boundary) to a share of
** that budget, and "log_truncated":true; a call with more fields than fit
** even so is refused with AM_ELIMIT and counted as dropped.
**
** WRITING. A line is formatted in a per-thread buffer (no allocation once
** the thread's buffer has grown to its line size) and then written with one
** write(2) under the logger's mutex, so lines from many threads never
** interleave; a file named by path is opened O_APPEND, so lines from
** several processes appending to it do not either. A pipe or socket whose
** reader has gone away makes the write fail (counted as dropped) instead
** of killing the process with SIGPIPE (which kind of descriptor fd is, is
** looked at when the logger is made: do not dup2 a pipe over it later). The
** library itself never prints: nothing is written except the lines you log.
**
** BUFFERED (AM_LOG_BUFFERED): a line is copied into the logger's 64 KiB
** buffer instead, and the lines gathered are written together -- when the
** buffer is full, at once when a line at WARNING or worse is logged (with
** everything before it), 100 ms after the first line of a batch (by a
** thread the logger starts with its first line), at am_logger_flush(),
** am_logger_free() and the process's exit. A call then costs a copy
** instead of a write(2); the price is that _exit() or a crash loses the
** lines of the last 100 ms, and that a write error is counted in
** am_logger_dropped() (every line of the batch) rather than returned by the
** call that logged the line, unless that call wrote the batch (WARNING or
** worse). Each write(2) still holds whole lines, at most PIPE_BUF bytes
** into a pipe or socket, so lines are never torn. After fork(), the child
** never writes its parent's gathered lines (the parent does), and writes
** its own at once: it has no thread to write them later (a logger the
** child makes itself buffers).
**
** FORK. Any logger may be used in a child of fork(), whatever the parent's
** other threads were doing with it at that moment; fork() never waits for
** a logger's write, even one stuck in a pipe nobody reads.
**
** LEVELS. Lines below the logger's level are discarded before formatting.
** A logger's level comes from its options, or from the environment
** variable AGENTMON_LOG_LEVEL (debug, info, warning, error or critical, any
** case; unset or empty means info). A value that is not a level leaves the
** logger at info and is reported by am_logger_env_error(), once per logger,
** since the library may not print it.
**
** Not async-signal-safe: do not log from a signal handler.
*/
#ifndef AGENTMON_LOG_H
#define AGENTMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_logger am_logger;

/* Levels, numbered as Python's logging numbers them. */
typedef enum am_log_level {
    AM_LOG_LEVEL_ENV = 0, /* in am_log_opts: read AGENTMON_LOG_LEVEL */
    AM_LOG_LEVEL_DEBUG = 10,
    AM_LOG_LEVEL_INFO = 20,
    AM_LOG_LEVEL_WARNING = 30,
    AM_LOG_LEVEL_ERROR = 40,
    AM_LOG_LEVEL_CRITICAL = 50
} am_log_level;

#define AM_LOG_ENV_VAR "AGENTMON_LOG_LEVEL"
#define AM_LOG_DEFAULT_MAX_LINE 65536 /* bytes per line, newline included */
#define AM_LOG_MAX_FIELDS 64          /* extra fields per call */

/* ------------------------------------------------------------------ */
/* Extra fields                                                        */
/* ------------------------------------------------------------------ */

typedef enum am_field_type {
    AM_FIELD_STR = 1,
    AM_FIELD_INT = 2,
    AM_FIELD_DOUBLE = 3,
    AM_FIELD_BOOL = 4,
    AM_FIELD_TRACE = 5 /* trace_id and span_id of v.trace (key unused) */
} am_field_type;

/*
** One extra field. key (NULL is written as "") and a string value are
** borrowed for the call. Build them with the AM_F_* macros.
*/
typedef struct am_field {
    const char *key;
    am_field_type type;
    union {
        const char *s;
        int64_t i;
        double d;
        bool b;
        const am_trace_ctx *trace;
    } v;
} am_field;

/* clang-format off */
#define AM_F_STR(k, x) {.key = (k), .type = AM_FIELD_STR, .v.s = (x)}
#define AM_F_INT(k, x) {.key = (k), .type = AM_FIELD_INT, .v.i = (int64_t)(x)}
#define AM_F_DOUBLE(k, x) {.key = (k), .type = AM_FIELD_DOUBLE, .v.d = (double)(x)}
#define AM_F_BOOL(k, x) {.key = (k), .type = AM_FIELD_BOOL, .v.b = (x) ? true : false}
/* This context's ids instead of the thread's current ones; NULL or an
   invalid context: no trace_id/span_id on this line. */
#define AM_F_TRACE(ctx) {.key = "", .type = AM_FIELD_TRACE, .v.trace = (ctx)}
/* clang-format on */
/* Two fields: error_type and error_message (the spec's log_error). */
#define AM_F_ERROR(type, msg) AM_F_STR("error_type", (type)), AM_F_STR("error_message", (msg))
/* An am_err as error_type ("AM_EIO") and the thread's am_errmsg(). */
#define AM_F_AM_ERR(rc) AM_F_ERROR(am_err_name(rc), am_errmsg())

/* ------------------------------------------------------------------ */
/* Loggers                                                             */
/* ------------------------------------------------------------------ */

/*
** Called with each complete line (newline included, not NUL-terminated),
** under the logger's mutex, so calls never overlap. Return 0 when the line
** was taken, anything else to count it as dropped. It must not log itself
** (the line it is given lives in the calling thread's log buffer; such a
** call returns AM_EMISUSE).
*/
typedef int (*am_log_write_fn)(void *userdata, const char *line, size_t len);

/* Flags for am_log_opts.flags. */
#define AM_LOG_CLOSE_FD 0x1u /* the logger takes fd and closes it when freed */
#define AM_LOG_NO_TRACE 0x2u /* never add the current context's ids by itself */
/* Gather lines in memory and write them in batches (see BUFFERED above);
   with fd or path only, not write_fn. Since: 0.3 */
#define AM_LOG_BUFFERED 0x4u

/*
** Where a logger writes and what it lets through. Start from
** AM_LOG_OPTS_INIT. At most one destination: fd, path or write_fn; with
** none, standard output (fd 1).
*/
typedef struct am_log_opts {
    int fd;                   /* -1: not this; borrowed unless AM_LOG_CLOSE_FD */
    const char *path;         /* copied; opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, */
                              /* mode 0644, closed by am_logger_free */
    am_log_write_fn write_fn; /* with userdata, borrowed until am_logger_free */
    void *userdata;
    am_log_level level;    /* AM_LOG_LEVEL_ENV: from AGENTMON_LOG_LEVEL */
    const char *component; /* copied; for calls that pass NULL; default: */
                           /* the program's name */
    size_t max_line_bytes; /* 0: AM_LOG_DEFAULT_MAX_LINE; else 1024..2^30 */
    unsigned flags;        /* AM_LOG_* */
    void *reserved[4];
} am_log_opts;

/* clang-format off */
#define AM_LOG_OPTS_INIT {.fd = -1}
/* clang-format on */

/*
** am_logger_new: create a logger.
** o        borrowed; NULL means AM_LOG_OPTS_INIT. Strings are copied.
** out      owned result, free with am_logger_free(); set only on AM_OK.
** Returns AM_OK; AM_EINVAL (two destinations, a negative fd other than -1,
** an unknown level or flag, AM_LOG_CLOSE_FD without fd, max_line_bytes
** outside 1024..2^30); AM_EIO (path could
** not be opened: am_errmsg() has the reason); AM_ENOMEM. A bad
** AGENTMON_LOG_LEVEL is not an error here: see am_logger_env_error().
** Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_logger_new(const am_log_opts *o, am_logger **out);

/*
** am_logger_free: free a logger, closing the file it opened (or fd, with
** AM_LOG_CLOSE_FD). lg takes; NULL and the default logger are no-ops. No
** other thread may be logging through lg. Since: 0.1
*/
AM_EXTERN void am_logger_free(am_logger *lg);

/*
** am_log_default: the process-wide default logger: standard output, level
** from AGENTMON_LOG_LEVEL (read once, on first use), component the
** program's name. Every function here that takes a logger treats NULL as
** this one. Never NULL, never allocates, not freed. Thread-safe. Since: 0.1
*/
AM_EXTERN am_logger *am_log_default(void);

/*
** am_logger_env_error: why AGENTMON_LOG_LEVEL was not used when lg was
** made ("AGENTMON_LOG_LEVEL=\"loud\" is not a level (debug, info, warning,
** error, critical); using info"), or NULL when it was fine, unset, or not
** consulted (an explicit level). lg borrowed, NULL for the default
** logger. The string is owned by lg and valid while lg is.
** Thread-safe. Since: 0.1
*/
AM_EXTERN const char *am_logger_env_error(am_logger *lg);

/*
** am_logger_set_level / am_logger_level: change or read the level at run
** time (an atomic store/load). set returns AM_EINVAL for a value that is
** not one of the five levels. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_logger_set_level(am_logger *lg, am_log_level level);
AM_EXTERN am_log_level am_logger_level(am_logger *lg);

/*
** am_log_enabled: whether a line at level would pass lg's level (lg
** borrowed, NULL for the default): to skip building costly fields.
** Thread-safe. Since: 0.1
*/
AM_EXTERN bool am_log_enabled(am_logger *lg, am_log_level level);

/*
** am_logger_flush: write the lines a buffered logger (AM_LOG_BUFFERED) has
** gathered, before returning. AM_OK (also for a logger that is not
** buffered: it has nothing gathered), or AM_EIO when a write failed (its
** lines are counted in am_logger_dropped()). lg borrowed, NULL for the
** default. Thread-safe. Since: 0.3
*/
AM_EXTERN am_err am_logger_flush(am_logger *lg);

/*
** am_logger_dropped: lines that were to be written but were not (write
** error, out of memory, too many fields, refused by write_fn). Lines below
** the level are not counted. Thread-safe. Since: 0.1
*/
AM_EXTERN uint64_t am_logger_dropped(am_logger *lg);

/*
** am_log_level_parse: a level from its name, any case ("warning",
** "INFO"); for a --log-level option. s borrowed. Returns AM_OK, or
** AM_EINVAL (*out untouched). Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_log_level_parse(const char *s, am_log_level *out);

/* am_log_level_name: "DEBUG" ... "CRITICAL", or "UNKNOWN"; a static
   string. Thread-safe. Since: 0.1 */
AM_EXTERN const char *am_log_level_name(am_log_level level);

/* ------------------------------------------------------------------ */
/* Writing lines                                                       */
/* ------------------------------------------------------------------ */

/*
** am_log: write one line, if level passes lg's level.
** lg         borrowed; NULL for the default logger.
** component  borrowed; NULL for lg's default component.
** message    borrowed; NULL is written as "".
** fields     borrowed; n_fields of them (at most AM_LOG_MAX_FIELDS).
** Returns AM_OK (written, or below the level); AM_EINVAL (level not one of
** the five); AM_ELIMIT (too many fields, or the line cannot be made to
** fit); AM_ENOMEM; AM_EIO (the write failed: am_errmsg() says why);
** AM_EMISUSE (called from inside a write_fn, on the thread running it).
** Every failure to write a line
** that passed the level adds one to am_logger_dropped(). Thread-safe; no
** allocation once the thread has formatted a line as long before.
** Since: 0.1
*/
AM_EXTERN am_err am_log(am_logger *lg, am_log_level level, const char *component,
                        const char *message, const am_field *fields, size_t n_fields);

/*
** One call per line: AM_LOG_INFO(lg, component, message, fields...), with
** zero or more AM_F_* fields; each returns am_log()'s am_err. The macros
** need no compiler extension (the message is always the first variadic
** argument, and the field list may end in a comma).
*/
#define AM__LOG(lg, lvl, comp, msg, ...)                                                           \
    am_log((lg), (lvl), (comp), (msg), (const am_field[]){{0}, __VA_ARGS__} + 1,                   \
           sizeof((const am_field[]){{0}, __VA_ARGS__}) / sizeof(am_field) - 1)
#define AM_LOG_DEBUG(lg, comp, ...) AM__LOG((lg), AM_LOG_LEVEL_DEBUG, (comp), __VA_ARGS__, )
#define AM_LOG_INFO(lg, comp, ...) AM__LOG((lg), AM_LOG_LEVEL_INFO, (comp), __VA_ARGS__, )
#define AM_LOG_WARNING(lg, comp, ...) AM__LOG((lg), AM_LOG_LEVEL_WARNING, (comp), __VA_ARGS__, )
#define AM_LOG_ERROR(lg, comp, ...) AM__LOG((lg), AM_LOG_LEVEL_ERROR, (comp), __VA_ARGS__, )
#define AM_LOG_CRITICAL(lg, comp, ...) AM__LOG((lg), AM_LOG_LEVEL_CRITICAL, (comp), __VA_ARGS__, )

#ifdef __cplusplus
}
#endif
#endif
