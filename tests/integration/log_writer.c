/*
** log_writer.c: many threads writing hostile JSON log lines -- the C half
** of tests/integration/logs.sh.
**
**     log_writer THREADS LINES [FILE]
**
** Writes through the default logger (standard output, level from
** AGENTMON_LOG_LEVEL) or, with FILE, a logger that appends to FILE. Each of
** THREADS threads writes LINES lines at INFO or above, numbered by "seq"
** and tagged with "thread" and the process id "pid",
** plus a DEBUG line every 7th (field "dbg"), which appear only when the
** level is debug. Even-numbered threads set a current trace context, so
** their lines must carry trace_id and span_id; odd ones must not.
**
** Every line carries hostile text: control characters, quotes,
** backslashes, invalid UTF-8 (bad leads, overlongs, surrogates, truncated
** sequences, bytes above F4), valid multi-byte text, and a key that
** collides with a fixed one ("level"). "h" is such a string and "h_hex"
** its bytes in hex, so the checker can decode the bytes itself (one U+FFFD
** per bad byte) and compare; "m_hex" likewise for the message, except on
** the long lines (every 97th, 10 KB, longer than PIPE_BUF), marked "long".
**
** Standard error gets "env_error: ..." when AGENTMON_LOG_LEVEL was not a
** level, and "failed: N" when N calls did not return AM_OK. Exit status 0
** when every call succeeded, 3 when some failed (a closed pipe, for
** instance: the writer must see errors, not die of SIGPIPE), 2 on bad
** arguments.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmon/agentmon.h"

static const char *const HOSTILE[] = {
    "plain ascii",
    "quote \" backslash \\ slash /",
    "controls \x01\x02\x1f\x7f tab\t nl\n cr\r bell\a",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xe2\x80\xa8",
    "bad lead \xff\xfe",
    "lone continuation \x80\xbf",
    "overlong \xc0\xaf \xe0\x80\xaf",
    "surrogate \xed\xa0\x80",
    "above max \xf4\x90\x80\x80 \xf5\x80",
    "truncated \xe6\x97",
    "\xc3(",
    "{\"json\": [1, 2]}",
    "",
    "real U+FFFD \xef\xbf\xbd vs \xff",
};
#define N_HOSTILE (sizeof HOSTILE / sizeof HOSTILE[0])

static am_logger *g_lg; /* NULL: the default logger */
static long g_lines;
static long g_pid;
static char g_long[10241];

typedef struct worker {
    int id;
    long failed;
} worker;

static void hex(const char *s, char *out)
{
    static const char h[] = "0123456789abcdef";
    size_t i = 0;
    for (; s[i]; i++) {
        out[2 * i] = h[(unsigned char)s[i] >> 4];
        out[2 * i + 1] = h[(unsigned char)s[i] & 15];
    }
    out[2 * i] = '\0';
}

static void *run(void *arg)
{
    worker *w = arg;
    if (w->id % 2 == 0) {
        am_trace_ctx ctx;
        am_trace_new(&ctx);
        am_trace_set_current(&ctx);
    }
    char hh[256], mh[256];
    for (long i = 0; i < g_lines; i++) {
        const char *h = HOSTILE[(size_t)(i + w->id) % N_HOSTILE];
        const char *m = HOSTILE[(size_t)i % N_HOSTILE];
        hex(h, hh);
        hex(m, mh);
        am_err rc;
        if (i % 97 == 13) {
            rc = AM_LOG_WARNING(g_lg, "writer", g_long, AM_F_INT("thread", w->id),
                                AM_F_INT("pid", g_pid), AM_F_INT("seq", i), AM_F_BOOL("long", true),
                                AM_F_STR("h", h), AM_F_STR("h_hex", hh));
        } else if (i % 10 == 3) {
            rc = AM_LOG_ERROR(g_lg, "writer", m, AM_F_INT("thread", w->id), AM_F_INT("pid", g_pid),
                              AM_F_INT("seq", i), AM_F_ERROR("HostileError", h), AM_F_STR("h", h),
                              AM_F_STR("h_hex", hh), AM_F_STR("m_hex", mh));
        } else {
            rc = AM_LOG_INFO(g_lg, "writer", m, AM_F_INT("thread", w->id), AM_F_INT("pid", g_pid),
                             AM_F_INT("seq", i), AM_F_STR("h", h), AM_F_STR("h_hex", hh),
                             AM_F_STR("m_hex", mh), AM_F_STR("level", "shadow"),
                             AM_F_DOUBLE("x", i * 0.25),
                             AM_F_DOUBLE("nan", i % 5 ? 1.5 : 0.0 / 0.0), AM_F_BOOL("odd", i & 1));
        }
        if (rc != AM_OK)
            w->failed++;
        if (i % 7 == 0 && AM_LOG_DEBUG(g_lg, "writer", "debug detail", AM_F_INT("thread", w->id),
                                       AM_F_BOOL("dbg", true)) != AM_OK)
            w->failed++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: log_writer THREADS LINES [FILE]\n");
        return 2;
    }
    int n = (int)strtol(argv[1], NULL, 10);
    g_lines = strtol(argv[2], NULL, 10);
    if (n < 1 || n > 256 || g_lines < 1) {
        fprintf(stderr, "log_writer: bad THREADS or LINES\n");
        return 2;
    }
    memset(g_long, 'L', sizeof g_long - 1);
    g_pid = (long)getpid();
    if (argc == 4) {
        am_log_opts o = AM_LOG_OPTS_INIT;
        o.path = argv[3];
        if (am_logger_new(&o, &g_lg) != AM_OK) {
            fprintf(stderr, "log_writer: %s\n", am_errmsg());
            return 2;
        }
    }
    const char *env = am_logger_env_error(g_lg);
    if (env)
        fprintf(stderr, "env_error: %s\n", env);
    pthread_t th[256];
    worker ws[256];
    for (int i = 0; i < n; i++) {
        ws[i].id = i;
        ws[i].failed = 0;
        pthread_create(&th[i], NULL, run, &ws[i]);
    }
    long failed = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        failed += ws[i].failed;
    }
    if (failed)
        fprintf(stderr, "failed: %ld (dropped %llu)\n", failed,
                (unsigned long long)am_logger_dropped(g_lg));
    am_logger_free(g_lg);
    am_shutdown();
    return failed ? 3 : 0;
}
