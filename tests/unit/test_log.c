/*
** test_log.c: JSON log lines -- every line read back with a strict JSON
** reader (jsoncheck.h); the fixed fields and their order; timestamps
** against gmtime_r; levels, the environment variable and its error;
** escaping of control characters and invalid UTF-8 against a model;
** typed and duplicate fields; error fields; trace ids picked up from the
** current context; long lines; 8 threads writing to a file and to a pipe
** without a torn or interleaved line; two processes appending to one file;
** write errors (a closed pipe must not kill the process); options;
** buffered loggers (fewer writes than lines, flushed by a WARNING, their
** thread, free, exit and fork, threads, a child's own lines, a broken
** pipe); fork() while other threads hold a logger's locks, or are stuck
** in a write to a pipe nobody reads; and out-of-memory at every allocation.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "fault_alloc.h"
#include "jsoncheck.h"
#include "util/fmt.h"
#include "core/hooks.h"

/* ------------------------------------------------------------------ */
/* Capturing lines                                                     */
/* ------------------------------------------------------------------ */

typedef struct capture {
    char *p;
    size_t len, cap;
    size_t calls;
    int fail; /* return this from the write function */
} capture;

static int cap_write(void *ud, const char *line, size_t n)
{
    capture *c = ud;
    c->calls++;
    if (c->fail)
        return c->fail;
    if (c->len + n + 1 > c->cap) {
        c->cap = (c->len + n + 1) * 2;
        c->p = realloc(c->p, c->cap);
        assert_non_null(c->p);
    }
    memcpy(c->p + c->len, line, n);
    c->len += n;
    c->p[c->len] = '\0';
    return 0;
}

static am_logger *cap_logger(capture *c, am_log_level level)
{
    memset(c, 0, sizeof *c);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.write_fn = cap_write;
    o.userdata = c;
    o.level = level;
    o.component = "test";
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    return lg;
}

static void cap_reset(capture *c)
{
    c->len = 0;
    c->calls = 0;
    if (c->p)
        c->p[0] = '\0';
}

/* Parse the one line captured (it must end in '\n' and be the only one). */
static void one_line(const capture *c, jc_obj *o)
{
    assert_true(c->len > 0);
    if (c->p[c->len - 1] != '\n' || memchr(c->p, '\n', c->len - 1))
        fail_msg("expected exactly one line, got:\n%s", c->p);
    char why[200];
    if (!jc_object(c->p, c->len - 1, o, why, sizeof why))
        fail_msg("not JSON: %s\n%s", why, c->p);
}

static bool ts_shape_ok(const char *t)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (!t || strlen(t) != 24)
        return false;
    for (int i = 0; i < 24; i++) {
        if (pat[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != pat[i])
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The default logger and the environment (run first: in a child)     */
/* ------------------------------------------------------------------ */

static void test_default_logger_env(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv(AM_LOG_ENV_VAR, "Loud\n", 1);
        dup2(fds[1], 1);
        close(fds[0]);
        am_logger *d = am_log_default();
        int bad = d == NULL || am_log_default() != d || am_logger_level(NULL) != AM_LOG_LEVEL_INFO;
        const char *e = am_logger_env_error(NULL);
        bad |= !e || !strstr(e, "Loud?") || !strstr(e, "using info");
        bad |= AM_LOG_INFO(NULL, NULL, "from the default", AM_F_STR("e", e)) != AM_OK;
        bad |= AM_LOG_DEBUG(NULL, NULL, "filtered") != AM_OK;
        am_logger_free(d); /* a no-op */
        bad |= AM_LOG_WARNING(d, "c", "still there") != AM_OK;
        _exit(bad);
    }
    close(fds[1]);
    char buf[4096];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    AM_ASSERT_EQ(WEXITSTATUS(st), 0);
    char *nl = strchr(buf, '\n');
    assert_non_null(nl);
    jc_obj o;
    char why[200];
    if (!jc_object(buf, (size_t)(nl - buf), &o, why, sizeof why))
        fail_msg("%s: %s", why, buf);
    AM_ASSERT_STR_EQ(jc_str(&o, "component"), "test_log"); /* the program's name */
    AM_ASSERT_STR_EQ(jc_str(&o, "message"), "from the default");
    AM_ASSERT_CONTAINS(jc_str(&o, "e"), "AGENTMON_LOG_LEVEL=\"Loud?\" is not a level");
    jc_free(&o);
    AM_ASSERT_CONTAINS(nl + 1, "\"message\":\"still there\"");
    AM_ASSERT_LACKS(buf, "filtered");
}

static void test_env_levels(void **state)
{
    (void)state;
    static const struct {
        const char *value; /* NULL: unset */
        am_log_level want;
        bool has_error;
    } CASES[] = {
        {NULL, AM_LOG_LEVEL_INFO, false},     {"", AM_LOG_LEVEL_INFO, false},
        {"debug", AM_LOG_LEVEL_DEBUG, false}, {"DEBUG", AM_LOG_LEVEL_DEBUG, false},
        {"Info", AM_LOG_LEVEL_INFO, false},   {"wArNiNg", AM_LOG_LEVEL_WARNING, false},
        {"error", AM_LOG_LEVEL_ERROR, false}, {"CRITICAL", AM_LOG_LEVEL_CRITICAL, false},
        {"warn", AM_LOG_LEVEL_INFO, true},    {"loud", AM_LOG_LEVEL_INFO, true},
        {" info", AM_LOG_LEVEL_INFO, true},   {"20", AM_LOG_LEVEL_INFO, true},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        if (CASES[i].value)
            setenv(AM_LOG_ENV_VAR, CASES[i].value, 1);
        else
            unsetenv(AM_LOG_ENV_VAR);
        am_logger *lg;
        AM_ASSERT_OK(am_logger_new(NULL, &lg));
        if (am_logger_level(lg) != CASES[i].want)
            fail_msg("%s=%s gave level %d", AM_LOG_ENV_VAR, CASES[i].value, am_logger_level(lg));
        const char *e = am_logger_env_error(lg);
        AM_ASSERT_EQ(e != NULL, CASES[i].has_error);
        if (e) {
            AM_ASSERT_CONTAINS(e, CASES[i].value);
            AM_ASSERT_CONTAINS(e, "using info");
        }
        am_logger_free(lg);
    }
    /* An explicit level ignores the environment, bad or not. */
    setenv(AM_LOG_ENV_VAR, "nonsense", 1);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.level = AM_LOG_LEVEL_ERROR;
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    AM_ASSERT_EQ(am_logger_level(lg), AM_LOG_LEVEL_ERROR);
    assert_null(am_logger_env_error(lg));
    am_logger_free(lg);
    /* A very long bad value is cut in the message. */
    char longv[300];
    memset(longv, 'x', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    setenv(AM_LOG_ENV_VAR, longv, 1);
    AM_ASSERT_OK(am_logger_new(NULL, &lg));
    AM_ASSERT_CONTAINS(am_logger_env_error(lg), "...\" is not a level");
    am_logger_free(lg);
    unsetenv(AM_LOG_ENV_VAR);

    am_log_level l = AM_LOG_LEVEL_ENV;
    AM_ASSERT_OK(am_log_level_parse("Critical", &l));
    AM_ASSERT_EQ(l, AM_LOG_LEVEL_CRITICAL);
    AM_ASSERT_ERR(am_log_level_parse("fatal", &l), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "\"fatal\" is not a level");
    AM_ASSERT_EQ(l, AM_LOG_LEVEL_CRITICAL);
    AM_ASSERT_ERR(am_log_level_parse(NULL, &l), AM_EINVAL);
    AM_ASSERT_STR_EQ(am_log_level_name(AM_LOG_LEVEL_WARNING), "WARNING");
    AM_ASSERT_STR_EQ(am_log_level_name((am_log_level)25), "UNKNOWN");
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

static void test_basic_line(void **state)
{
    (void)state;
    capture c;
    am_logger *lg = cap_logger(&c, AM_LOG_LEVEL_DEBUG);
    am_trace_clear_current();
    AM_ASSERT_OK(AM_LOG_INFO(lg, "planner", "task done", AM_F_STR("task_id", "t-17"),
                             AM_F_INT("attempt", 2)));
    jc_obj o;
    one_line(&c, &o);
    static const char *const KEYS[] = {"timestamp", "level",   "component",
                                       "message",   "task_id", "attempt"};
    AM_ASSERT_EQ(o.n, 6);
    for (size_t k = 0; k < 6; k++)
        AM_ASSERT_STR_EQ(jc_key(&o, k), KEYS[k]);
    assert_true(ts_shape_ok(jc_str(&o, "timestamp")));
    AM_ASSERT_STR_EQ(jc_str(&o, "level"), "INFO");
    AM_ASSERT_STR_EQ(jc_str(&o, "component"), "planner");
    AM_ASSERT_STR_EQ(jc_str(&o, "message"), "task done");
    AM_ASSERT_STR_EQ(jc_str(&o, "task_id"), "t-17");
    AM_ASSERT_STR_EQ(jc_raw(&o, "attempt"), "2");
    jc_free(&o);

    /* no fields, default component, NULL message */
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_DEBUG(lg, NULL, "started"));
    one_line(&c, &o);
    AM_ASSERT_EQ(o.n, 4);
    AM_ASSERT_STR_EQ(jc_str(&o, "component"), "test");
    AM_ASSERT_STR_EQ(jc_str(&o, "level"), "DEBUG");
    jc_free(&o);
    cap_reset(&c);
    AM_ASSERT_OK(am_log(lg, AM_LOG_LEVEL_CRITICAL, "x", NULL, NULL, 0));
    one_line(&c, &o);
    AM_ASSERT_STR_EQ(jc_str(&o, "message"), "");
    AM_ASSERT_STR_EQ(jc_str(&o, "level"), "CRITICAL");
    jc_free(&o);
    AM_ASSERT_EQ(am_logger_dropped(lg), 0);
    am_logger_free(lg);
    free(c.p);
}

static double g_fake_time;
static double fake_time(void)
{
    return g_fake_time;
}

static void expect_ts(capture *c, am_logger *lg, double t, const char *want)
{
    g_fake_time = t;
    cap_reset(c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m"));
    jc_obj o;
    one_line(c, &o);
    if (strcmp(jc_str(&o, "timestamp"), want) != 0)
        fail_msg("time %.3f: got %s, want %s", t, jc_str(&o, "timestamp"), want);
    jc_free(&o);
}

static void test_timestamps(void **state)
{
    (void)state;
    capture c;
    am_logger *lg = cap_logger(&c, AM_LOG_LEVEL_INFO);
    am__time_hook = fake_time;
    expect_ts(&c, lg, 1700000000.5, "2023-11-14T22:13:20.500Z");
    expect_ts(&c, lg, 1700000000.999, "2023-11-14T22:13:20.999Z");
    expect_ts(&c, lg, 1700000001.0, "2023-11-14T22:13:21.000Z");
    expect_ts(&c, lg, 0, "1970-01-01T00:00:00.000Z");
    expect_ts(&c, lg, 951782400.25, "2000-02-29T00:00:00.250Z");
    expect_ts(&c, lg, 1709251199.0625, "2024-02-29T23:59:59.062Z");
    expect_ts(&c, lg, 4102444800, "2100-01-01T00:00:00.000Z");
    expect_ts(&c, lg, 1795540817.1235, "2026-11-24T17:20:17.123Z");
    expect_ts(&c, lg, 253402300799.5, "9999-12-31T23:59:59.500Z");
    expect_ts(&c, lg, 1e15, "9999-12-31T23:59:59.000Z"); /* clamped */
    expect_ts(&c, lg, -5, "1970-01-01T00:00:00.000Z");
    expect_ts(&c, lg, NAN, "1970-01-01T00:00:00.000Z");
    /* A sweep against gmtime_r/strftime. */
    uint64_t x = 12345;
    for (int i = 0; i < 3000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        time_t sec = (time_t)((x >> 11) % 253402300800ull);
        unsigned ms = (unsigned)((x >> 3) % 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        char want[40], full[48];
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(full, sizeof full, "%s.%03uZ", want, ms);
        expect_ts(&c, lg, (double)sec + (ms + 0.5) / 1000.0, full);
    }
    am__time_hook = NULL;
    /* Real time: the shape, and close to now. */
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m"));
    jc_obj o;
    one_line(&c, &o);
    const char *t = jc_str(&o, "timestamp");
    assert_true(ts_shape_ok(t));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char year[8];
    strftime(year, sizeof year, "%Y-", &tm);
    assert_true(strncmp(t, year, 5) == 0);
    jc_free(&o);
    am_logger_free(lg);
    free(c.p);
}

static void test_levels(void **state)
{
    (void)state;
    capture c;
    am_logger *lg = cap_logger(&c, AM_LOG_LEVEL_WARNING);
    AM_ASSERT_OK(AM_LOG_DEBUG(lg, "c", "d"));
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "i"));
    AM_ASSERT_EQ(c.calls, 0);
    assert_false(am_log_enabled(lg, AM_LOG_LEVEL_INFO));
    assert_true(am_log_enabled(lg, AM_LOG_LEVEL_WARNING));
    AM_ASSERT_OK(AM_LOG_WARNING(lg, "c", "w"));
    AM_ASSERT_OK(AM_LOG_ERROR(lg, "c", "e"));
    AM_ASSERT_OK(AM_LOG_CRITICAL(lg, "c", "x"));
    AM_ASSERT_EQ(c.calls, 3);
    AM_ASSERT_CONTAINS(c.p, "\"level\":\"WARNING\",\"component\":\"c\",\"message\":\"w\"");
    AM_ASSERT_CONTAINS(c.p, "\"level\":\"ERROR\"");
    AM_ASSERT_CONTAINS(c.p, "\"level\":\"CRITICAL\"");
    AM_ASSERT_OK(am_logger_set_level(lg, AM_LOG_LEVEL_DEBUG));
    AM_ASSERT_EQ(am_logger_level(lg), AM_LOG_LEVEL_DEBUG);
    AM_ASSERT_OK(AM_LOG_DEBUG(lg, "c", "d"));
    AM_ASSERT_EQ(c.calls, 4);
    AM_ASSERT_ERR(am_logger_set_level(lg, (am_log_level)25), AM_EINVAL);
    AM_ASSERT_ERR(am_logger_set_level(lg, AM_LOG_LEVEL_ENV), AM_EINVAL);
    AM_ASSERT_EQ(am_logger_level(lg), AM_LOG_LEVEL_DEBUG);
    AM_ASSERT_ERR(am_log(lg, (am_log_level)25, "c", "m", NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_log(lg, AM_LOG_LEVEL_ENV, "c", "m", NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_log(lg, (am_log_level)60, "c", "m", NULL, 0), AM_EINVAL);
    AM_ASSERT_EQ(c.calls, 4);
    AM_ASSERT_EQ(am_logger_dropped(lg), 0); /* refused calls are not drops */
    am_logger_free(lg);
    free(c.p);
}

/* ------------------------------------------------------------------ */
/* Escaping                                                            */
/* ------------------------------------------------------------------ */

/* The model of what a string must decode to: jc_model_replace (jsoncheck.h). */
static size_t model_decode(const char *in, char *out)
{
    return jc_model_replace(in, strlen(in), out);
}

static void check_round_trip(am_logger *lg, capture *c, const char *s)
{
    cap_reset(c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, s, s, AM_F_STR(s, s)));
    jc_obj o;
    one_line(c, &o);
    char want[4096];
    size_t wl = model_decode(s, want);
    const jc_member *m = jc_get(&o, "message");
    assert_non_null(m);
    if (m->val_len != wl || memcmp(o.arena + m->val_off, want, wl) != 0)
        fail_msg("message decoded differently for input of %zu bytes:\n%s", strlen(s), c->p);
    AM_ASSERT_STR_EQ(jc_str(&o, "component"), want);
    /* the field's key decodes to the model too (or got '_' if it is taken) */
    AM_ASSERT_EQ(o.n, 5);
    const char *k = jc_key(&o, 4);
    while (*k == '_' && strcmp(k, want) != 0)
        k++;
    AM_ASSERT_STR_EQ(k, want);
    AM_ASSERT_STR_EQ(o.arena + o.m[4].val_off, want);
    jc_free(&o);
}

static void test_escaping(void **state)
{
    (void)state;
    capture c;
    am_logger *lg = cap_logger(&c, AM_LOG_LEVEL_INFO);
    char ctl[40];
    for (int i = 1; i < 32; i++)
        ctl[i - 1] = (char)i;
    ctl[31] = '"';
    ctl[32] = '\\';
    ctl[33] = 0x7f;
    ctl[34] = '/';
    ctl[35] = '\0';
    static const char *const CASES[] = {
        "plain",
        "",
        "quote \" backslash \\ slash / newline \n cr \r tab \t bell \a esc \x1b",
        "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xe2\x80\xa8 \xef\xbf\xbd",
        "\xff",
        "\xc3(",
        "a\xc0\xafz",           /* overlong '/' */
        "\xe0\x80\xaf",         /* overlong, 3 bytes */
        "\xed\xa0\x80",         /* surrogate */
        "\xf4\x90\x80\x80",     /* above U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "tail \xe6\x97",        /* truncated at the end */
        "\x80\x80\x80",
        "\xef\xbf\xbd vs \xff", /* a real U+FFFD and a replaced byte */
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        check_round_trip(lg, &c, CASES[i]);
    check_round_trip(lg, &c, ctl);
    /* control characters are escaped, never raw */
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", ctl));
    for (size_t i = 0; i + 1 < c.len; i++)
        assert_true((unsigned char)c.p[i] >= 0x20);
    AM_ASSERT_CONTAINS(c.p, "\\u0001\\u0002");
    AM_ASSERT_CONTAINS(c.p, "\\u0008\\t\\n\\u000b\\u000c\\r");
    AM_ASSERT_CONTAINS(c.p, "\\u001f\\\"\\\\");

    /* random bytes: always JSON, always the model */
    uint64_t x = 99;
    char s[200];
    for (int round = 0; round < 3000; round++) {
        size_t n = 0, want = 1 + (size_t)(round % 60);
        while (n < want) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            unsigned char b = (unsigned char)(x >> 56);
            if (round % 3 == 0 && b < 0x80)
                b |= 0x80; /* mostly high bytes */
            if (b)
                s[n++] = (char)b;
        }
        s[n] = '\0';
        check_round_trip(lg, &c, s);
    }
    am_logger_free(lg);
    free(c.p);
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */
/* ------------------------------------------------------------------ */

static void test_typed_fields(void **state)
{
    (void)state;
    capture c;
    am_logger *lg = cap_logger(&c, AM_LOG_LEVEL_INFO);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_INT("max", INT64_MAX), AM_F_INT("min", INT64_MIN),
                             AM_F_INT("neg", -42), AM_F_INT("zero", 0), AM_F_DOUBLE("tenth", 0.1),
                             AM_F_DOUBLE("mega", 1e6), AM_F_DOUBLE("negzero", -0.0),
                             AM_F_DOUBLE("tiny", 5e-324),
                             AM_F_DOUBLE("huge", 1.7976931348623157e308), AM_F_DOUBLE("nan", NAN),
                             AM_F_DOUBLE("pinf", INFINITY), AM_F_DOUBLE("ninf", -INFINITY),
                             AM_F_BOOL("yes", 5), AM_F_BOOL("no", 0), AM_F_STR("null", NULL)));
    jc_obj o;
    one_line(&c, &o);
    AM_ASSERT_STR_EQ(jc_raw(&o, "max"), "9223372036854775807");
    AM_ASSERT_STR_EQ(jc_raw(&o, "min"), "-9223372036854775808");
    AM_ASSERT_STR_EQ(jc_raw(&o, "neg"), "-42");
    AM_ASSERT_STR_EQ(jc_raw(&o, "zero"), "0");
    static const struct {
        const char *key;
        double v;
    } DBL[] = {{"tenth", 0.1},
               {"mega", 1e6},
               {"negzero", -0.0},
               {"tiny", 5e-324},
               {"huge", 1.7976931348623157e308}};
    for (size_t i = 0; i < 5; i++) {
        const char *raw = jc_raw(&o, DBL[i].key);
        assert_non_null(raw);
        AM_ASSERT_DBL_EQ(strtod(raw, NULL), DBL[i].v);
        AM_ASSERT_EQ(signbit(strtod(raw, NULL)) != 0, signbit(DBL[i].v) != 0);
    }
    AM_ASSERT_STR_EQ(jc_str(&o, "nan"), "NaN");
    AM_ASSERT_STR_EQ(jc_str(&o, "pinf"), "+Inf");
    AM_ASSERT_STR_EQ(jc_str(&o, "ninf"), "-Inf");
    AM_ASSERT_STR_EQ(jc_raw(&o, "yes"), "true");
    AM_ASSERT_STR_EQ(jc_raw(&o, "no"), "false");
    AM_ASSERT_STR_EQ(jc_raw(&o, "null"), "null");
    jc_free(&o);

    /* Keys already on the line get '_' until unique. */
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_STR("level", "a"), AM_F_STR("message", "b"),
                             AM_F_STR("x", "1"), AM_F_STR("x", "2"), AM_F_STR("_x", "3"),
                             AM_F_STR(NULL, "4"), AM_F_STR(NULL, "5"), AM_F_STR("timestamp", "6"),
                             AM_F_STR("\xff", "7"), AM_F_STR("\xfe", "8"),
                             AM_F_STR("\xef\xbf\xbd", "9")));
    one_line(&c, &o);
    static const char *const KEYS[] = {
        "timestamp", "level",      "component",    "message",       "_level",
        "_message",  "x",          "_x",           "__x",           "",
        "_",         "_timestamp", "\xef\xbf\xbd", "_\xef\xbf\xbd", "__\xef\xbf\xbd"};
    AM_ASSERT_EQ(o.n, sizeof KEYS / sizeof KEYS[0]);
    for (size_t k = 0; k < o.n; k++)
        AM_ASSERT_STR_EQ(jc_key(&o, k), KEYS[k]);
    AM_ASSERT_STR_EQ(jc_str(&o, "level"), "INFO");
    AM_ASSERT_STR_EQ(jc_str(&o, "_level"), "a");
    AM_ASSERT_STR_EQ(jc_str(&o, "__x"), "3");
    jc_free(&o);

    /* 64 fields are fine, 65 are refused and counted. */
    am_field many[AM_LOG_MAX_FIELDS + 1];
    char keys[AM_LOG_MAX_FIELDS + 1][8];
    for (int i = 0; i <= AM_LOG_MAX_FIELDS; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        am_field f = AM_F_INT(keys[i], i);
        many[i] = f;
    }
    cap_reset(&c);
    AM_ASSERT_OK(am_log(lg, AM_LOG_LEVEL_INFO, "c", "m", many, AM_LOG_MAX_FIELDS));
    one_line(&c, &o);
    AM_ASSERT_EQ(o.n, 4 + AM_LOG_MAX_FIELDS);
    jc_free(&o);
    AM_ASSERT_ERR(am_log(lg, AM_LOG_LEVEL_INFO, "c", "m", many, AM_LOG_MAX_FIELDS + 1), AM_ELIMIT);
    AM_ASSERT_ERR(am_log(lg, AM_LOG_LEVEL_INFO, "c", "m", NULL, 2), AM_EINVAL);
    AM_ASSERT_EQ(am_logger_dropped(lg), 2);
    /* an unknown field type keeps its key, with null */
    am_field odd = AM_F_INT("odd", 1);
    odd.type = (am_field_type)99;
    cap_reset(&c);
    AM_ASSERT_OK(am_log(lg, AM_LOG_LEVEL_INFO, "c", "m", &odd, 1));
    AM_ASSERT_CONTAINS(c.p, "\"odd\":null}");
    am_logger_free(lg);
    free(c.p);
}

/* Doubles are written as am__fmt_double writes them (shortest round trip),
   whichever path log.c takes; -0 keeps its sign. */
static void test_double_text(void **state)
{
    (void)state;
    capture c;
    am_logger *lg = cap_logger(&c, AM_LOG_LEVEL_INFO);
    uint64_t x = 7;
    for (int i = 0; i < 200000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double v;
        switch (i % 4) {
        case 0: { /* a short decimal: m / 10^k */
            static const double P10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};
            v = (double)((x >> 20) % 100000000) / P10[(x >> 8) % 11];
            break;
        }
        case 1: { /* any double in or near the fast path's range */
            uint64_t bits =
                (x >> 1) % (0x4130000000000000ull - 0x3F00000000000000ull) + 0x3F00000000000000ull;
            memcpy(&v, &bits, sizeof v);
            break;
        }
        case 2: /* its edges */
            v = (i / 4 % 2 ? 1e-4 : 1e6) * (1 + ((double)(x % 2001) - 1000) * 1e-16);
            break;
        default: { /* anything */
            memcpy(&v, &x, sizeof v);
            break;
        }
        }
        if (x & 1)
            v = -v;
        if (v == 0 || isnan(v) || isinf(v))
            continue;
        cap_reset(&c);
        AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_DOUBLE("v", v)));
        char want[AM_FMT_MAX];
        am__fmt_double(want, v);
        const char *got = strstr(c.p, "\"v\":");
        assert_non_null(got);
        got += 4;
        size_t gl = strcspn(got, "}");
        if (gl != strlen(want) || memcmp(got, want, gl) != 0)
            fail_msg("%.17g: wrote %.*s, am__fmt_double %s", v, (int)gl, got, want);
        AM_ASSERT_DBL_EQ(strtod(got, NULL), v);
    }
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_DOUBLE("z", 0.0), AM_F_DOUBLE("nz", -0.0)));
    AM_ASSERT_CONTAINS(c.p, "\"z\":0,\"nz\":-0}");
    am_logger_free(lg);
    free(c.p);
}

static void test_error_fields(void **state)
{
    (void)state;
    capture c;
    am_logger *lg = cap_logger(&c, AM_LOG_LEVEL_INFO);
    AM_ASSERT_OK(AM_LOG_ERROR(lg, "coder", "task failed", AM_F_ERROR("TimeoutError", "no reply"),
                              AM_F_STR("task_id", "t-9")));
    jc_obj o;
    one_line(&c, &o);
    AM_ASSERT_STR_EQ(jc_str(&o, "level"), "ERROR");
    AM_ASSERT_STR_EQ(jc_str(&o, "error_type"), "TimeoutError");
    AM_ASSERT_STR_EQ(jc_str(&o, "error_message"), "no reply");
    AM_ASSERT_STR_EQ(jc_key(&o, 4), "error_type");
    AM_ASSERT_STR_EQ(jc_key(&o, 5), "error_message");
    AM_ASSERT_STR_EQ(jc_key(&o, 6), "task_id");
    jc_free(&o);

    am_log_level l;
    am_err rc = am_log_level_parse("loud", &l);
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_ERROR(lg, "cfg", "bad level", AM_F_AM_ERR(rc)));
    one_line(&c, &o);
    AM_ASSERT_STR_EQ(jc_str(&o, "error_type"), "AM_EINVAL");
    AM_ASSERT_CONTAINS(jc_str(&o, "error_message"), "\"loud\" is not a level");
    jc_free(&o);
    am_logger_free(lg);
    free(c.p);
}

/* ------------------------------------------------------------------ */
/* Trace ids                                                           */
/* ------------------------------------------------------------------ */

static void *log_without_context(void *p)
{
    am_logger *lg = p;
    AM_LOG_INFO(lg, "other", "thread");
    return NULL;
}

static void test_trace_fields(void **state)
{
    (void)state;
    capture c;
    am_logger *lg = cap_logger(&c, AM_LOG_LEVEL_INFO);
    jc_obj o;
    am_trace_clear_current();
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m"));
    one_line(&c, &o);
    assert_null(jc_get(&o, "trace_id"));
    assert_null(jc_get(&o, "span_id"));
    jc_free(&o);

    am_trace_ctx ctx, other;
    AM_ASSERT_OK(
        am_trace_continue("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL, &ctx));
    am_trace_set_current(&ctx);
    char th[33], sh[17];
    am_trace_id_hex(&ctx, th);
    am_span_id_hex(&ctx, sh);
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_INT("n", 1)));
    one_line(&c, &o);
    AM_ASSERT_STR_EQ(jc_str(&o, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    AM_ASSERT_STR_EQ(jc_str(&o, "span_id"), sh);
    AM_ASSERT_STR_EQ(jc_key(&o, 4), "trace_id");
    AM_ASSERT_STR_EQ(jc_key(&o, 5), "span_id");
    AM_ASSERT_STR_EQ(jc_key(&o, 6), "n");
    jc_free(&o);

    /* another thread has its own (none) */
    cap_reset(&c);
    pthread_t t;
    pthread_create(&t, NULL, log_without_context, lg);
    pthread_join(t, NULL);
    AM_ASSERT_LACKS(c.p, "trace_id");

    /* explicit context wins */
    am_trace_new(&other);
    char oth[33], osh[17];
    am_trace_id_hex(&other, oth);
    am_span_id_hex(&other, osh);
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_INT("n", 1), AM_F_TRACE(&other)));
    one_line(&c, &o);
    AM_ASSERT_STR_EQ(jc_str(&o, "trace_id"), oth);
    AM_ASSERT_STR_EQ(jc_str(&o, "span_id"), osh);
    AM_ASSERT_EQ(o.n, 7);
    jc_free(&o);
    /* AM_F_TRACE(NULL): none on this line */
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_TRACE(NULL)));
    AM_ASSERT_LACKS(c.p, "trace_id");
    /* a trace_id field of the call's own: no automatic ids */
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_STR("trace_id", "from-upstream")));
    one_line(&c, &o);
    AM_ASSERT_STR_EQ(jc_str(&o, "trace_id"), "from-upstream");
    assert_null(jc_get(&o, "span_id"));
    jc_free(&o);
    /* both: the AM_F_TRACE ids are on the line, the field is renamed */
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_STR("trace_id", "x"), AM_F_TRACE(&other)));
    one_line(&c, &o);
    AM_ASSERT_STR_EQ(jc_str(&o, "trace_id"), oth);
    AM_ASSERT_STR_EQ(jc_str(&o, "_trace_id"), "x");
    jc_free(&o);
    am_logger_free(lg);

    /* AM_LOG_NO_TRACE */
    capture c2;
    memset(&c2, 0, sizeof c2);
    am_log_opts opts = AM_LOG_OPTS_INIT;
    opts.write_fn = cap_write;
    opts.userdata = &c2;
    opts.flags = AM_LOG_NO_TRACE;
    AM_ASSERT_OK(am_logger_new(&opts, &lg));
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m"));
    AM_ASSERT_LACKS(c2.p, "trace_id");
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m", AM_F_TRACE(&other)));
    AM_ASSERT_CONTAINS(c2.p, oth);
    am_logger_free(lg);
    free(c2.p);
    am_trace_clear_current();
    free(c.p);
}

/* ------------------------------------------------------------------ */
/* Long lines                                                          */
/* ------------------------------------------------------------------ */

static void test_long_lines(void **state)
{
    (void)state;
    capture c;
    memset(&c, 0, sizeof c);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.write_fn = cap_write;
    o.userdata = &c;
    o.max_line_bytes = 4096;
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));

    size_t big_n = 100000;
    char *big = malloc(big_n + 1);
    for (size_t i = 0; i < big_n; i++)
        big[i] = (char)('a' + i % 26);
    big[big_n] = '\0';
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", big, AM_F_STR("k", "small")));
    jc_obj j;
    one_line(&c, &j);
    assert_true(c.len <= 4096);
    AM_ASSERT_STR_EQ(jc_raw(&j, "log_truncated"), "true");
    AM_ASSERT_STR_EQ(jc_key(&j, 4), "log_truncated");
    const char *m = jc_str(&j, "message");
    assert_true(strlen(m) > 200 && strlen(m) < 4096);
    assert_true(strncmp(m, big, strlen(m)) == 0);
    AM_ASSERT_STR_EQ(jc_str(&j, "k"), "small");
    jc_free(&j);

    /* multi-byte text and control characters cut at a boundary */
    for (size_t i = 0; i + 3 <= big_n; i += 3)
        memcpy(big + i, i % 2 ? "\xe6\x97\xa5" : "\x01\x02\x03", 3);
    big[big_n - big_n % 3] = '\0';
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", big, AM_F_STR(big, big)));
    one_line(&c, &j);
    assert_true(c.len <= 4096);
    m = jc_str(&j, "message");
    assert_true(strncmp(m, big, strlen(m)) == 0);
    AM_ASSERT_LACKS(m, "\xef\xbf\xbd");
    jc_free(&j);

    /* a line that fits is left alone */
    big[2000] = '\0';
    memset(big, 'z', 2000);
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", big));
    AM_ASSERT_LACKS(c.p, "log_truncated");

    /* too many fields for the budget: refused, counted */
    am_field f[AM_LOG_MAX_FIELDS];
    for (int i = 0; i < AM_LOG_MAX_FIELDS; i++) {
        am_field x = AM_F_STR("key", big);
        f[i] = x;
    }
    AM_ASSERT_ERR(am_log(lg, AM_LOG_LEVEL_INFO, "c", "m", f, AM_LOG_MAX_FIELDS), AM_ELIMIT);
    AM_ASSERT_EQ(am_logger_dropped(lg), 1);

    /* The thread's buffer is large from a previous line of a roomier
       logger: the smaller logger's limit still holds. */
    capture c2;
    memset(&c2, 0, sizeof c2);
    am_log_opts o2 = AM_LOG_OPTS_INIT;
    o2.write_fn = cap_write;
    o2.userdata = &c2;
    am_logger *roomy;
    AM_ASSERT_OK(am_logger_new(&o2, &roomy));
    memset(big, 'y', 12000);
    big[12000] = '\0';
    AM_ASSERT_OK(AM_LOG_INFO(roomy, "c", big));
    AM_ASSERT_LACKS(c2.p, "log_truncated");
    big[6000] = '\0';
    cap_reset(&c);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", big));
    assert_true(c.len <= 4096);
    AM_ASSERT_CONTAINS(c.p, "\"log_truncated\":true");
    am_logger_free(roomy);
    am_logger_free(lg);
    free(big);
    free(c.p);
    free(c2.p);
}

/* ------------------------------------------------------------------ */
/* Many threads, one file or pipe: no torn lines                        */
/* ------------------------------------------------------------------ */

#define W_THREADS 8
#define W_LINES 3000

typedef struct writer_arg {
    am_logger *lg;
    int id;
    pthread_barrier_t *bar;
    int failures;
} writer_arg;

static char g_long[20001];

static void *writer(void *p)
{
    writer_arg *a = p;
    am_trace_ctx ctx;
    am_trace_new(&ctx);
    am_trace_set_current(&ctx);
    pthread_barrier_wait(a->bar);
    for (int i = 0; i < W_LINES; i++) {
        /* every 50th line is longer than PIPE_BUF */
        const char *msg = i % 50 == 7 ? g_long : "hostile \"\n\x01\xff text";
        if (AM_LOG_INFO(a->lg, "writer", msg, AM_F_INT("thread", a->id), AM_F_INT("seq", i),
                        AM_F_DOUBLE("x", i * 0.5), AM_F_BOOL("odd", i & 1)) != AM_OK)
            a->failures++;
    }
    return NULL;
}

/* Check text: W_THREADS x W_LINES lines, each JSON, each thread's in order. */
static void check_lines(const char *text, size_t len, int n_threads, int n_lines)
{
    int next[W_THREADS * 2] = {0};
    size_t lines = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            fail_msg("last line has no newline");
        jc_obj o;
        char why[200];
        if (!jc_object(p, (size_t)(nl - p), &o, why, sizeof why))
            fail_msg("line %zu is not JSON: %s: %.200s", lines, why, p);
        const char *ts = jc_raw(&o, "thread"), *ss = jc_raw(&o, "seq");
        if (!ts || !ss || !jc_str(&o, "trace_id") || !ts_shape_ok(jc_str(&o, "timestamp")))
            fail_msg("line %zu lacks fields: %.200s", lines, p);
        long th = strtol(ts, NULL, 10), seq = strtol(ss, NULL, 10);
        if (th < 0 || th >= n_threads || seq != next[th])
            fail_msg("line %zu: thread %ld seq %ld, expected seq %d", lines, th, seq, next[th]);
        next[th]++;
        jc_free(&o);
        lines++;
        p = nl + 1;
    }
    AM_ASSERT_EQ(lines, (size_t)n_threads * (size_t)n_lines);
    for (int t = 0; t < n_threads; t++)
        AM_ASSERT_EQ(next[t], n_lines);
}

static void run_writers(am_logger *lg)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, W_THREADS);
    pthread_t th[W_THREADS];
    writer_arg args[W_THREADS];
    for (int i = 0; i < W_THREADS; i++) {
        args[i] = (writer_arg){lg, i, &bar, 0};
        assert_int_equal(pthread_create(&th[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < W_THREADS; i++) {
        pthread_join(th[i], NULL);
        AM_ASSERT_EQ(args[i].failures, 0);
    }
    pthread_barrier_destroy(&bar);
}

static void test_threads_file(void **state)
{
    (void)state;
    memset(g_long, 'L', sizeof g_long - 1);
    char path[] = "/tmp/am-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.path = path;
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    run_writers(lg);
    AM_ASSERT_EQ(am_logger_dropped(lg), 0);
    am_logger_free(lg);
    char *text = am_test_read_file(path);
    assert_non_null(text);
    check_lines(text, strlen(text), W_THREADS, W_LINES);
    free(text);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    unlink(path);
}

typedef struct drain {
    int fd;
    char *p;
    size_t len, cap;
} drain;

static void *drain_pipe(void *arg)
{
    drain *d = arg;
    for (;;) {
        if (d->len + 65536 > d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1 << 20;
            d->p = realloc(d->p, d->cap);
        }
        ssize_t r = read(d->fd, d->p + d->len, d->cap - d->len - 1);
        if (r <= 0)
            break;
        d->len += (size_t)r;
    }
    d->p[d->len] = '\0'; /* text, for count_nl */
    return NULL;
}

/* A logger (flags) on a pipe whose other end a thread reads into d. */
static am_logger *pipe_logger(unsigned flags, drain *d, pthread_t *reader)
{
    memset(g_long, 'L', sizeof g_long - 1);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    *d = (drain){fds[0], NULL, 0, 0};
    pthread_create(reader, NULL, drain_pipe, d);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.fd = fds[1];
    o.flags = AM_LOG_CLOSE_FD | flags;
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    return lg;
}

/* Free it, closing the write end, and wait for the reader to see EOF
   (children of fork() must have exited: they hold copies of that end). */
static void pipe_logger_free(am_logger *lg, drain *d, pthread_t reader)
{
    am_logger_free(lg);
    pthread_join(reader, NULL);
    close(d->fd);
}

/* W_THREADS writers through a logger (flags) on a pipe, read to the end. */
static void threads_through_pipe(unsigned flags)
{
    drain d;
    pthread_t reader;
    am_logger *lg = pipe_logger(flags, &d, &reader);
    run_writers(lg);
    AM_ASSERT_EQ(am_logger_dropped(lg), 0);
    pipe_logger_free(lg, &d, reader);
    check_lines(d.p, d.len, W_THREADS, W_LINES);
    free(d.p);
}

static void test_threads_pipe(void **state)
{
    (void)state;
    threads_through_pipe(0);
}

/* Two processes appending to one file through their own loggers. */
static void test_two_processes(void **state)
{
    (void)state;
    char path[] = "/tmp/am-test-log2-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            am_log_opts o = AM_LOG_OPTS_INIT;
            o.path = path;
            am_logger *lg;
            if (am_logger_new(&o, &lg) != AM_OK)
                _exit(1);
            am_trace_ctx ctx;
            am_trace_new(&ctx);
            am_trace_set_current(&ctx);
            char msg[3000];
            memset(msg, 'a' + k, sizeof msg - 1);
            msg[sizeof msg - 1] = '\0';
            int bad = 0;
            for (int i = 0; i < 2000; i++)
                bad |= AM_LOG_INFO(lg, "p", i % 3 ? "short" : msg, AM_F_INT("thread", k),
                                   AM_F_INT("seq", i)) != AM_OK;
            am_logger_free(lg);
            _exit(bad);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char *text = am_test_read_file(path);
    check_lines(text, strlen(text), 2, 2000);
    free(text);
    unlink(path);
}

/* ------------------------------------------------------------------ */
/* Buffered loggers (AM_LOG_BUFFERED)                                  */
/* ------------------------------------------------------------------ */

/* write(2) calls this process has made (/proc/self/io's syscw). */
static long writes_made(void)
{
    char io[1024]; /* a /proc file has no size to read it by */
    int fd = open("/proc/self/io", O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, io, sizeof io - 1);
    close(fd);
    assert_true(n > 0);
    io[n] = '\0';
    const char *w = strstr(io, "syscw: ");
    assert_non_null(w);
    return strtol(w + 7, NULL, 10);
}

static size_t count_nl(const char *text)
{
    size_t n = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        n++;
    return n;
}

static am_logger *buffered_file(char *path)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.path = path;
    o.flags = AM_LOG_BUFFERED;
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    return lg;
}

/* Lines are gathered (far fewer writes than lines), written in order by
   am_logger_flush, at once by a WARNING, by the logger's thread when left
   alone, and by am_logger_free. */
static void test_buffered(void **state)
{
    (void)state;
    char path[] = "/tmp/am-test-logbuf-XXXXXX";
    am_logger *lg = buffered_file(path);
    long before = writes_made();
    for (int i = 0; i < 200; i++)
        AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "gathered", AM_F_INT("seq", i)));
    long made = writes_made() - before;
    if (made > 20) /* the logger's thread may write a batch meanwhile, not 200 */
        fail_msg("200 buffered lines took %ld writes", made);
    AM_ASSERT_OK(am_logger_flush(lg));
    char *text = am_test_read_file(path);
    AM_ASSERT_EQ(count_nl(text), 200);
    char want[64];
    for (int i = 0; i < 200; i += 37) {
        snprintf(want, sizeof want, "\"seq\":%d}\n", i);
        assert_non_null(strstr(text, want));
    }
    assert_true(strstr(text, "\"seq\":36}") < strstr(text, "\"seq\":37}"));
    free(text);

    /* a WARNING goes out before the call returns, with what came before */
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "before the warning"));
    AM_ASSERT_OK(AM_LOG_WARNING(lg, "c", "the warning"));
    text = am_test_read_file(path);
    AM_ASSERT_EQ(count_nl(text), 202);
    assert_true(strstr(text, "before the warning") < strstr(text, "the warning\""));
    free(text);

    /* left alone, a line is written by the logger's thread (100 ms; the
       bound here is only for a machine that is very busy) */
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "left alone"));
    size_t n = 0;
    for (int i = 0; i < 1000 && n != 203; i++) {
        text = am_test_read_file(path);
        n = count_nl(text);
        free(text);
        if (n != 203)
            usleep(10000);
    }
    AM_ASSERT_EQ(n, 203);

    /* free writes the rest; a line over half the buffer goes in order */
    static char big[40000];
    memset(big, 'b', sizeof big - 1);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "small, before"));
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", big));
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "small, after"));
    am_logger_free(lg);
    text = am_test_read_file(path);
    AM_ASSERT_EQ(count_nl(text), 206);
    const char *a = strstr(text, "small, before"), *b = strstr(text, "bbbbbbbb"),
               *c = strstr(text, "small, after");
    assert_true(a && b && c && a < b && b < c);
    free(text);
    AM_ASSERT_OK(am_logger_flush(NULL)); /* not buffered: nothing to do */
    unlink(path);
}

/* Eight threads through a buffered logger into a pipe (batches cut into
   writes of PIPE_BUF at line ends; a line longer than that alone): no line
   torn, lost or out of its thread's order. */
static void test_buffered_threads(void **state)
{
    (void)state;
    threads_through_pipe(AM_LOG_BUFFERED);
}

typedef struct busy {
    am_logger *lg;
    const char *msg;
    atomic_bool stop;
    atomic_long lines;
} busy;

static void *busy_logger(void *p)
{
    busy *b = p;
    while (!atomic_load(&b->stop))
        if (AM_LOG_INFO(b->lg, "busy", b->msg, AM_F_INT("seq", b->lines)) == AM_OK)
            b->lines++;
    return NULL;
}

/* n forks while two threads log msg into lg flat out: each child logs a
   line of msg's length into lg itself (a lock held by a parent's thread
   at fork() would hang it: its alarm then kills it) and exits 0. */
static void forks_while_busy(am_logger *lg, const char *msg, int n)
{
    pthread_t th[2];
    busy bz[2];
    for (int i = 0; i < 2; i++) {
        bz[i] = (busy){.lg = lg, .msg = msg};
        pthread_create(&th[i], NULL, busy_logger, &bz[i]);
    }
    /* on until both loggers have logged: on a busy machine they may get no
       core before n forks are done */
    for (int f = 0; f < n || !atomic_load(&bz[0].lines) || !atomic_load(&bz[1].lines); f++) {
        pid_t kid = fork();
        assert_true(kid >= 0);
        if (kid == 0) {
            alarm(20);
            bool ok = AM_LOG_WARNING(lg, "child", msg, AM_F_INT("fork", f)) == AM_OK;
            _exit(ok && am_logger_flush(lg) == AM_OK ? 0 : 1);
        }
        int st;
        waitpid(kid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("child %d: status %d", f, st);
    }
    for (int i = 0; i < 2; i++) {
        atomic_store(&bz[i].stop, true);
        pthread_join(th[i], NULL);
        assert_true(bz[i].lines > 0);
    }
    AM_ASSERT_EQ(am_logger_dropped(lg), 0);
}

/* fork(): a child never writes its parent's gathered lines again, writes
   its own at once (it has no thread to write them later), and cannot find
   the logger's locks held, however busy the parent's threads are; exit()
   writes what is gathered, _exit() not. */
static void test_buffered_fork(void **state)
{
    (void)state;
    char path[] = "/tmp/am-test-logbuf-XXXXXX";
    am_logger *lg = buffered_file(path);
    for (int i = 0; i < 50; i++)
        AM_ASSERT_OK(AM_LOG_INFO(lg, "parent", "before fork", AM_F_INT("seq", i)));
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        alarm(20);
        AM_LOG_INFO(lg, "child", "in the child"); /* written at once: no thread here */
        _exit(0);
    }
    int st;
    waitpid(kid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    AM_ASSERT_OK(am_logger_flush(lg));
    char *text = am_test_read_file(path);
    AM_ASSERT_EQ(count_nl(text), 51);
    assert_non_null(strstr(text, "in the child"));
    free(text);

    am_logger_free(lg);
    unlink(path);

    /* forks while two threads log flat out (into /dev/null: they write
       gigabytes): no child finds the logger's locks held */
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.path = "/dev/null";
    o.flags = AM_LOG_BUFFERED;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    forks_while_busy(lg, "line", 100);
    am_logger_free(lg);

    /* exit() writes the gathered lines (a destructor); _exit() does not */
    for (int use_exit = 0; use_exit < 2; use_exit++) {
        char p2[] = "/tmp/am-test-logbuf-XXXXXX";
        int fd = mkstemp(p2);
        assert_true(fd >= 0);
        close(fd);
        kid = fork();
        assert_true(kid >= 0);
        if (kid == 0) {
            o.path = p2;
            am_logger *k;
            if (am_logger_new(&o, &k) != AM_OK)
                _exit(1);
            AM_LOG_INFO(k, "child", "gathered at exit");
            if (use_exit)
                exit(0);
            _exit(0);
        }
        waitpid(kid, &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        text = am_test_read_file(p2);
        if (use_exit)
            AM_ASSERT_EQ(count_nl(text), 1);
        free(text);
        unlink(p2);
    }
}

/* A logger that is not buffered takes its lock for a line into a pipe
   (exclusively for one longer than PIPE_BUF) and for a write_fn call; a
   thread may hold it when another forks. The child must not find it held. */
static int slow_write(void *ud, const char *line, size_t n)
{
    (void)line;
    (void)n;
    atomic_fetch_add((atomic_long *)ud, 1);
    struct timespec ts = {0, 20000}; /* the lock is held meanwhile */
    nanosleep(&ts, NULL);
    return 0;
}

static void test_fork_locks(void **state)
{
    (void)state;
    drain d;
    pthread_t reader;
    am_logger *lg = pipe_logger(0, &d, &reader);
    /* 30 forks each: a child found a lock held by the second fork or so
       before log_registry.c */
    forks_while_busy(lg, g_long, 30);  /* lines > PIPE_BUF: the lock exclusively */
    forks_while_busy(lg, "short", 30); /* shared */
    pipe_logger_free(lg, &d, reader);
    assert_true(count_nl(d.p) > 120); /* the parent's and each child's */
    free(d.p);

    atomic_long calls = 0;
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.write_fn = slow_write;
    o.userdata = &calls;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    forks_while_busy(lg, "through a write_fn", 30);
    am_logger_free(lg);
    assert_true(atomic_load(&calls) > 0);
}

/* A pipe nobody reads: a buffered logger's batch write blocks, holding the
   buffer's write lock. fork() must not wait for it (it would wait for
   ever), and the child's logger is usable. */
static void *log_into_full_pipe(void *p)
{
    am_logger *lg = p;
    for (int i = 0; i < 20000; i++)
        AM_LOG_INFO(lg, "stuck", "fills the pipe", AM_F_INT("seq", i));
    return NULL;
}

static void test_fork_stalled_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.fd = fds[1];
    o.flags = AM_LOG_BUFFERED;
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    pthread_t th;
    pthread_create(&th, NULL, log_into_full_pipe, lg);
    /* until the pipe is full and a batch write is blocked in it */
    for (int i = 0; i < 500; i++) {
        int queued = 0;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        if (ioctl(fds[1], FIONREAD, &queued) == 0 && queued >= 65536 - 4096)
            break;
    }
    alarm(20); /* a fork() that waits for the write never returns */
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        close(fds[0]);
        /* the pipe is still full here: the child logs through a logger
           of its own, made and freed (the list of loggers is usable; not
           buffered, as its thread would be one started after a
           multi-threaded fork, which ThreadSanitizer refuses) */
        o = (am_log_opts)AM_LOG_OPTS_INIT;
        o.path = "/dev/null";
        am_logger *mine;
        bool ok = am_logger_new(&o, &mine) == AM_OK &&
                  AM_LOG_WARNING(mine, "child", "a logger of its own") == AM_OK;
        am_logger_free(mine);
        _exit(ok ? 0 : 1);
    }
    alarm(0);
    int st;
    waitpid(kid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    drain d = {fds[0], NULL, 0, 0};
    pthread_t reader;
    pthread_create(&reader, NULL, drain_pipe, &d);
    pthread_join(th, NULL);
    am_logger_free(lg);
    close(fds[1]);
    pthread_join(reader, NULL);
    close(fds[0]);
    AM_ASSERT_EQ(count_nl(d.p), 20000);
    free(d.p);
}

/* A batch that cannot be written: each of its lines counted as dropped,
   the error returned by the call that wrote it. */
static void test_buffered_errors(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.fd = fds[1];
    o.flags = AM_LOG_BUFFERED;
    am_logger *lg;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    for (int i = 0; i < 5; i++)
        AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "gathered"));
    AM_ASSERT_ERR(AM_LOG_ERROR(lg, "c", "written now"), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "Broken pipe");
    AM_ASSERT_EQ(am_logger_dropped(lg), 6);
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "gathered"));
    AM_ASSERT_ERR(am_logger_flush(lg), AM_EIO);
    AM_ASSERT_EQ(am_logger_dropped(lg), 7);
    am_logger_free(lg);
    close(fds[1]);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));

    /* only a descriptor or a path: a write_fn sees every line itself */
    capture c;
    memset(&c, 0, sizeof c);
    o = (am_log_opts)AM_LOG_OPTS_INIT;
    o.write_fn = cap_write;
    o.userdata = &c;
    o.flags = AM_LOG_BUFFERED;
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "AM_LOG_BUFFERED");
}

/* ------------------------------------------------------------------ */
/* Options and write errors                                            */
/* ------------------------------------------------------------------ */

static void test_options(void **state)
{
    (void)state;
    am_logger *lg = (am_logger *)1;
    am_log_opts o = AM_LOG_OPTS_INIT;
    AM_ASSERT_ERR(am_logger_new(&o, NULL), AM_EINVAL);
    o.fd = 2;
    o.path = "/tmp/x";
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "2 destinations");
    o.path = NULL;
    o.write_fn = cap_write;
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EINVAL);
    o = (am_log_opts)AM_LOG_OPTS_INIT;
    o.fd = -2;
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EINVAL);
    o.fd = -1;
    o.level = (am_log_level)25;
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EINVAL);
    o.level = AM_LOG_LEVEL_ENV;
    o.flags = 0x100;
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EINVAL);
    o.flags = AM_LOG_CLOSE_FD;
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EINVAL);
    o.flags = 0;
    o.max_line_bytes = 1023;
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EINVAL);
    o.max_line_bytes = 0;
    o.path = "/nonexistent-dir/x.log";
    AM_ASSERT_ERR(am_logger_new(&o, &lg), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "No such file or directory");
    AM_ASSERT_CONTAINS(am_errmsg(), "/nonexistent-dir/x.log");
    assert_ptr_equal(lg, (am_logger *)1); /* untouched on error */

    /* path: created 0644 (less umask), appended to, closed by free */
    char path[] = "/tmp/am-test-log3-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "before\n", 7), 7);
    close(fd);
    o.path = path;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    AM_ASSERT_OK(AM_LOG_WARNING(lg, "c", "after"));
    am_logger_free(lg);
    char *text = am_test_read_file(path);
    assert_true(strncmp(text, "before\n{", 8) == 0);
    free(text);
    unlink(path);
    o.path = path;
    mode_t old = umask(022);
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    AM_ASSERT_EQ(st.st_mode & 0777, 0644);
    am_logger_free(lg);
    unlink(path);

    /* fd borrowed unless AM_LOG_CLOSE_FD */
    fd = open("/dev/null", O_WRONLY);
    o = (am_log_opts)AM_LOG_OPTS_INIT;
    o.fd = fd;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "m"));
    am_logger_free(lg);
    assert_true(fcntl(fd, F_GETFD) >= 0);
    o.flags = AM_LOG_CLOSE_FD;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    am_logger_free(lg);
    assert_true(fcntl(fd, F_GETFD) < 0 && errno == EBADF);

    am_logger_free(NULL);
    am_logger_free(am_log_default());
}

static int reentrant_write(void *ud, const char *line, size_t n)
{
    (void)line;
    (void)n;
    am_logger *self = *(am_logger **)ud;
    am_err rc = AM_LOG_INFO(self, "inner", "m");
    ((am_err *)ud)[2] = rc; /* reported to the test through userdata */
    return 0;
}

static void test_write_errors(void **state)
{
    (void)state;
    am_log_opts o = AM_LOG_OPTS_INIT;
    am_logger *lg;

    /* a closed descriptor */
    int fd = open("/dev/null", O_WRONLY);
    close(fd);
    o.fd = fd;
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    AM_ASSERT_ERR(AM_LOG_INFO(lg, "c", "m"), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "Bad file descriptor");
    AM_ASSERT_EQ(am_logger_dropped(lg), 1);
    am_logger_free(lg);

    /* a pipe whose reader is gone: EIO, and this process is still alive
       (SIGPIPE's default action would have ended it) */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    o.fd = fds[1];
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    for (int i = 0; i < 3; i++)
        AM_ASSERT_ERR(AM_LOG_INFO(lg, "c", "m"), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "Broken pipe");
    AM_ASSERT_EQ(am_logger_dropped(lg), 3);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE)); /* nothing left behind */
    am_logger_free(lg);
    close(fds[1]);

    /* the same when the application blocks SIGPIPE itself: left pending */
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    o.fd = fds[1];
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    AM_ASSERT_ERR(AM_LOG_INFO(lg, "c", "m"), AM_EIO);
    sigpending(&pending);
    assert_true(sigismember(&pending, SIGPIPE));
    struct timespec zero = {0, 0};
    sigtimedwait(&set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    am_logger_free(lg);
    close(fds[1]);

    /* a socket whose peer is gone */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    o.fd = sv[0];
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    AM_ASSERT_ERR(AM_LOG_INFO(lg, "c", "m"), AM_EIO);
    am_logger_free(lg);
    close(sv[0]);
    /* and one that works */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    o.fd = sv[0];
    AM_ASSERT_OK(am_logger_new(&o, &lg));
    AM_ASSERT_OK(AM_LOG_INFO(lg, "c", "over a socket"));
    char buf[512];
    ssize_t r = read(sv[1], buf, sizeof buf - 1);
    assert_true(r > 0 && buf[r - 1] == '\n');
    am_logger_free(lg);
    close(sv[0]);
    close(sv[1]);

    /* write_fn refusing */
    capture c;
    lg = cap_logger(&c, AM_LOG_LEVEL_INFO);
    c.fail = -1;
    AM_ASSERT_ERR(AM_LOG_INFO(lg, "c", "m"), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "write_fn");
    AM_ASSERT_EQ(am_logger_dropped(lg), 1);
    am_logger_free(lg);

    /* logging from inside write_fn: refused, not a deadlock */
    am_err box[4] = {0};
    am_logger *self = NULL;
    o = (am_log_opts)AM_LOG_OPTS_INIT;
    o.write_fn = reentrant_write;
    o.userdata = box;
    AM_ASSERT_OK(am_logger_new(&o, &self));
    memcpy(box, &self, sizeof self);
    AM_ASSERT_OK(AM_LOG_INFO(self, "outer", "m"));
    AM_ASSERT_EQ(box[2], AM_EMISUSE);
    AM_ASSERT_EQ(am_logger_dropped(self), 1);
    am_logger_free(self);
}

/* ------------------------------------------------------------------ */
/* Out of memory                                                       */
/* ------------------------------------------------------------------ */

#define STEP(call)                                                                                 \
    do {                                                                                           \
        am_err rc_ = (call);                                                                       \
        if (rc_ == AM_ENOMEM)                                                                      \
            goto out;                                                                              \
        if (rc_ != AM_OK)                                                                          \
            fail_msg("%s returned %s at fail_at=%ld: %s", #call, am_err_name(rc_), g_fail_at,      \
                     am_errmsg());                                                                 \
    } while (0)

static void *fault_scenario(void *arg)
{
    am_err *result = arg;
    *result = AM_ENOMEM;
    capture c;
    memset(&c, 0, sizeof c);
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.write_fn = cap_write;
    o.userdata = &c;
    o.component = "fault";
    am_logger *lg = NULL, *file = NULL, *buffered = NULL;
    STEP(am_logger_new(&o, &lg));
    STEP(AM_LOG_INFO(lg, NULL, "one", AM_F_STR("k", "v")));
    static char longmsg[40000];
    memset(longmsg, 'q', sizeof longmsg - 1);
    STEP(AM_LOG_INFO(lg, NULL, longmsg)); /* grows the buffer, then gives it back */
    STEP(AM_LOG_INFO(lg, NULL, "three"));
    o = (am_log_opts)AM_LOG_OPTS_INIT;
    o.path = "/dev/null";
    STEP(am_logger_new(&o, &file));
    STEP(AM_LOG_ERROR(file, "c", "m", AM_F_ERROR("E", "x")));
    o.flags = AM_LOG_BUFFERED;
    STEP(am_logger_new(&o, &buffered));
    STEP(AM_LOG_INFO(buffered, "c", "gathered"));
    STEP(am_logger_flush(buffered));
    *result = AM_OK;
out:
    am_logger_free(lg);
    am_logger_free(file);
    am_logger_free(buffered);
    free(c.p);
    return NULL; /* thread exit frees the line buffer */
}

static void test_fault(void **state)
{
    (void)state;
    am_allocator a = {t_malloc, t_realloc, t_free};
    for (g_fail_at = 1;; g_fail_at++) {
        g_count = 0;
        g_failed = 0;
        g_live = 0;
        AM_ASSERT_OK(am_set_allocator(&a));
        am_err result;
        pthread_t t;
        pthread_create(&t, NULL, fault_scenario, &result);
        pthread_join(t, NULL);
        am_set_allocator(NULL);
        if (g_live != 0)
            fail_msg("%ld allocations leaked at fail_at=%ld", g_live, g_fail_at);
        if (!g_failed) {
            AM_ASSERT_EQ(result, AM_OK);
            break;
        }
        AM_ASSERT_EQ(result, AM_ENOMEM);
    }
    assert_true(g_fail_at > 4); /* the scenario did allocate */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_logger_env), /* first: nothing has used the default */
        cmocka_unit_test(test_env_levels),         cmocka_unit_test(test_basic_line),
        cmocka_unit_test(test_timestamps),         cmocka_unit_test(test_levels),
        cmocka_unit_test(test_escaping),           cmocka_unit_test(test_typed_fields),
        cmocka_unit_test(test_double_text),        cmocka_unit_test(test_error_fields),
        cmocka_unit_test(test_trace_fields),       cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_threads_file),       cmocka_unit_test(test_threads_pipe),
        cmocka_unit_test(test_two_processes),      cmocka_unit_test(test_options),
        cmocka_unit_test(test_write_errors),       cmocka_unit_test(test_buffered),
        cmocka_unit_test(test_buffered_threads),   cmocka_unit_test(test_buffered_fork),
        cmocka_unit_test(test_fork_locks),         cmocka_unit_test(test_fork_stalled_pipe),
        cmocka_unit_test(test_buffered_errors),    cmocka_unit_test(test_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
