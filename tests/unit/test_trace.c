/*
** test_trace.c: W3C Trace Context -- a table of bad traceparent headers,
** each refused with a reason naming the field and never half-used; good
** ones (and future versions) round-tripping; the tracestate grammar and
** its verbatim pass-through; ids random, distinct and never zero, also
** across fork(); child spans; the per-thread current context and its
** isolation between threads; exemplars from the current context.
*/
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "log/trace_internal.h"

#define TP_GOOD "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

static void fill_poison(am_trace_ctx *c)
{
    memset(c, 0xA5, sizeof *c);
}

static bool is_poison(const am_trace_ctx *c)
{
    am_trace_ctx p;
    fill_poison(&p);
    return memcmp(&p, c, sizeof p) == 0;
}

/* ------------------------------------------------------------------ */
/* traceparent                                                         */
/* ------------------------------------------------------------------ */

typedef struct bad_case {
    const char *in;
    size_t len;      /* 0: strlen(in) */
    const char *why; /* a part of the expected am_errmsg() */
} bad_case;

static const bad_case BAD[] = {
    {"", 0, "empty"},
    {"0", 0, "version is 1 characters"},
    {"00", 0, "ends after the version"},
    {"00-", 0, "trace-id is 0 characters"},
    {"000-" TID "-" PID "-01", 0, "version is 3 characters"},
    {"ff-" TID "-" PID "-01", 0, "version ff is invalid"},
    {"0g-" TID "-" PID "-01", 0, "version has 'g' at offset 1"},
    {"0A-" TID "-" PID "-01", 0, "no uppercase"},
    {" 00-" TID "-" PID "-01", 0, "version is 3 characters"},
    {"00_" TID "-" PID "-01", 0, "version is 35 characters"},
    {"00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", 0, "trace-id has 'B' at offset 4"},
    {"00-4bf92f3577b34da6a3ce929d0e0e473G-" PID "-01", 0, "trace-id has 'G' at offset 34"},
    {"00-00000000000000000000000000000000-" PID "-01", 0, "trace-id is all zeros"},
    {"00-4bf92f3577b34da6a3ce929d0e0e473-" PID "-01", 0, "trace-id is 31 characters"},
    {"00-4bf92f3577b34da6a3ce929d0e0e47360-" PID "-01", 0, "trace-id is 33 characters"},
    {"00-" TID, 0, "ends after the trace-id"},
    {"00-" TID "-", 0, "parent-id is 0 characters"},
    {"00-" TID "--" PID "-01", 0, "parent-id is 0 characters"},
    {"00-" TID "-0000000000000000-01", 0, "parent-id is all zeros"},
    {"00-" TID "-00f067aa0ba902b-01", 0, "parent-id is 15 characters"},
    {"00-" TID "-00f067aa0ba902bz-01", 0, "parent-id has 'z' at offset 51"},
    {"00-" TID "-00F067AA0BA902B7-01", 0, "parent-id has 'F' at offset 38"},
    {"00-" TID "-" PID, 0, "ends after the parent-id"},
    {"00-" TID "-" PID "-", 0, "trace-flags is 0 characters"},
    {"00-" TID "-" PID "-1", 0, "trace-flags is 1 characters"},
    {"00-" TID "-" PID "-001", 0, "trace-flags is 3 characters"},
    {"00-" TID "-" PID "-0g", 0, "trace-flags has 'g'"},
    {"00-" TID "-" PID "-0F", 0, "no uppercase"},
    {"00-" TID "-" PID "-01 ", 0, "trace-flags is 3 characters"},
    {"00-" TID "-" PID "-01-", 0, "1 byte(s) after the trace-flags"},
    {"00-" TID "-" PID "-01-what-the-future", 0, "after the trace-flags"},
    {"00-" TID "-" PID "-01\0", 56, "trace-flags is 3 characters"},
    {"00-4bf92f3577b34da6\0"
     "3ce929d0e0e4736-" PID "-01",
     55, "trace-id has 0x00 at offset 19"},
    {"00-4bf92f3577b34da6\xc3\xa9"
     "ce929d0e0e4736-" PID "-01",
     0, "trace-id has 0xc3"},
    {"00-" TID "-" PID "-01\t", 0, "trace-flags is 3 characters"},
    /* future versions: at least 55 bytes, then the end or '-' */
    {"01-" TID "-" PID "-0", 0, "trace-flags is 1 characters"},
    {"cc-" TID "-" PID "-01x", 0, "trace-flags is 3 characters"},
    {"cc-" TID "-" PID "-01.what", 0, "trace-flags is 7 characters"},
    {"fe-" TID "-00000000000000000-01", 0, "parent-id is 17 characters"},
    {"fe-00000000000000000000000000000000-" PID "-01-x", 0, "trace-id is all zeros"},
    {"-" TID "-" PID "-01", 0, "version is 0 characters"},
    {"\xff", 0, "version is 1 characters"},
};

static void test_bad_traceparent(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const bad_case *b = &BAD[i];
        size_t len = b->len ? b->len : strlen(b->in);
        am_trace_ctx c;
        fill_poison(&c);
        am_err rc = am_traceparent_parse(b->in, len, &c);
        if (rc != AM_EINVAL)
            fail_msg("case %zu \"%s\": %s, expected AM_EINVAL", i, b->in, am_err_name(rc));
        if (!strstr(am_errmsg(), b->why))
            fail_msg("case %zu \"%s\": message \"%s\" lacks \"%s\"", i, b->in, am_errmsg(), b->why);
        if (!strstr(am_errmsg(), "traceparent"))
            fail_msg("case %zu: message \"%s\" does not say traceparent", i, am_errmsg());
        if (!is_poison(&c))
            fail_msg("case %zu \"%s\": out was written on error", i, b->in);

        /* am_trace_continue: a new trace, never a mix with the header. */
        if (b->len)
            continue; /* NUL inside: the C-string API sees a different header */
        fill_poison(&c);
        rc = am_trace_continue(b->in, "congo=t61rcWkgMzE", &c);
        if (*b->in == '\0')
            AM_ASSERT_EQ(rc, AM_ENOTFOUND);
        else if (rc != AM_EINVAL)
            fail_msg("continue case %zu: %s", i, am_err_name(rc));
        assert_true(am_trace_ctx_is_valid(&c));
        char th[33];
        am_trace_id_hex(&c, th);
        assert_true(strcmp(th, TID) != 0);
        AM_ASSERT_EQ(c.tracestate_len, 0);
        AM_ASSERT_EQ(c.flags, AM_TRACE_FLAG_SAMPLED);
        for (int k = 0; k < 8; k++)
            AM_ASSERT_EQ(c.parent_span_id[k], 0);
    }
    /* NULL everywhere. */
    am_trace_ctx c;
    AM_ASSERT_ERR(am_traceparent_parse(NULL, 3, &c), AM_EINVAL);
    AM_ASSERT_ERR(am_traceparent_parse(TP_GOOD, 55, NULL), AM_EINVAL);
    AM_ASSERT_ERR(am_trace_continue(NULL, NULL, &c), AM_ENOTFOUND);
    assert_true(am_trace_ctx_is_valid(&c));
}

static void test_good_traceparent(void **state)
{
    (void)state;
    static const char *const GOOD[] = {
        TP_GOOD,
        "00-" TID "-" PID "-00",
        "00-" TID "-" PID "-ff",
        "00-" TID "-" PID "-02",
        "00-00000000000000000000000000000001-0000000000000001-01",
        "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-09",
        "00-0123456789abcdef0123456789abcdef-fedcba9876543210-01",
    };
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        am_trace_ctx c;
        AM_ASSERT_OK(am_traceparent_parse(GOOD[i], strlen(GOOD[i]), &c));
        char out[AM_TRACEPARENT_LEN + 1];
        AM_ASSERT_OK(am_traceparent_format(&c, out));
        AM_ASSERT_STR_EQ(out, GOOD[i]);
        for (int k = 0; k < 8; k++)
            AM_ASSERT_EQ(c.parent_span_id[k], 0);
        AM_ASSERT_EQ(c.tracestate_len, 0);
    }
    am_trace_ctx c;
    AM_ASSERT_OK(am_traceparent_parse(TP_GOOD, 55, &c));
    AM_ASSERT_EQ(c.trace_id[0], 0x4b);
    AM_ASSERT_EQ(c.trace_id[15], 0x36);
    AM_ASSERT_EQ(c.span_id[0], 0x00);
    AM_ASSERT_EQ(c.span_id[7], 0xb7);
    AM_ASSERT_EQ(c.flags, 1);
    char h[33];
    am_trace_id_hex(&c, h);
    AM_ASSERT_STR_EQ(h, TID);
    am_span_id_hex(&c, h);
    AM_ASSERT_STR_EQ(h, PID);
    am_parent_span_id_hex(&c, h);
    AM_ASSERT_STR_EQ(h, "0000000000000000");

    /* Future versions: read as version 00, written as version 00. */
    static const char *const FUTURE[] = {
        "01-" TID "-" PID "-01",
        "cc-" TID "-" PID "-01-what-the-future-will-be-like",
        "fe-" TID "-" PID "-01-",
        "fe-" TID "-" PID "-01-\xff\x00",
    };
    for (size_t i = 0; i < sizeof FUTURE / sizeof FUTURE[0]; i++) {
        AM_ASSERT_OK(am_traceparent_parse(FUTURE[i], strlen(FUTURE[i]), &c));
        char out[AM_TRACEPARENT_LEN + 1];
        AM_ASSERT_OK(am_traceparent_format(&c, out));
        AM_ASSERT_STR_EQ(out, TP_GOOD);
    }

    /* continue: a child of the remote span. */
    AM_ASSERT_OK(am_trace_continue(TP_GOOD, NULL, &c));
    am_trace_id_hex(&c, h);
    AM_ASSERT_STR_EQ(h, TID);
    am_parent_span_id_hex(&c, h);
    AM_ASSERT_STR_EQ(h, PID);
    am_span_id_hex(&c, h);
    assert_true(strcmp(h, PID) != 0);
    AM_ASSERT_EQ(c.flags, 1);

    /* Formatting an invalid context refuses and writes "". */
    am_trace_ctx zero = AM_TRACE_CTX_INIT;
    char out[AM_TRACEPARENT_LEN + 1] = "x";
    AM_ASSERT_ERR(am_traceparent_format(&zero, out), AM_EINVAL);
    AM_ASSERT_STR_EQ(out, "");
    AM_ASSERT_ERR(am_traceparent_format(NULL, out), AM_EINVAL);
    assert_false(am_trace_ctx_is_valid(&zero));
    assert_false(am_trace_ctx_is_valid(NULL));
}

/* ------------------------------------------------------------------ */
/* tracestate                                                          */
/* ------------------------------------------------------------------ */

static void test_tracestate(void **state)
{
    (void)state;
    static const char *const GOOD[] = {
        "",
        "congo=t61rcWkgMzE",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        " a=1 , b=2 ",
        "a=1,,b=2",
        ",",
        "a=1,\tb=2\t",
        "tenant@system=x",
        "0tenant@sys=1",
        "a*b/c_d-e=1",
        "a=x y",
        "a= x",
        "a=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~",
    };
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        am_trace_ctx c = AM_TRACE_CTX_INIT;
        size_t n = strlen(GOOD[i]);
        if (am_tracestate_set(&c, GOOD[i], n) != AM_OK)
            fail_msg("good tracestate %zu \"%s\" refused: %s", i, GOOD[i], am_errmsg());
        AM_ASSERT_EQ(c.tracestate_len, n);
        AM_ASSERT_STR_EQ(c.tracestate, GOOD[i]);
    }

    char k256[300], v256[300], big[600], many[400], toomany[400];
    memset(k256, 'k', 256);
    memcpy(k256 + 256, "=v", 3);
    am_trace_ctx c = AM_TRACE_CTX_INIT;
    AM_ASSERT_OK(am_tracestate_set(&c, k256, strlen(k256)));
    v256[0] = 'k';
    v256[1] = '=';
    memset(v256 + 2, 'v', 256);
    v256[258] = '\0';
    AM_ASSERT_OK(am_tracestate_set(&c, v256, strlen(v256)));

    /* 32 members: accepted; 33: refused, ctx unchanged. */
    size_t o = 0;
    for (int m = 0; m < 32; m++)
        o += (size_t)snprintf(many + o, sizeof many - o, "%sk%02d=v", m ? "," : "", m);
    AM_ASSERT_OK(am_tracestate_set(&c, many, o));
    AM_ASSERT_EQ(c.tracestate_len, o);
    memcpy(toomany, many, o);
    memcpy(toomany + o, ",x=1", 5);
    AM_ASSERT_ERR(am_tracestate_set(&c, toomany, o + 4), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "more than 32 list members");
    AM_ASSERT_STR_EQ(c.tracestate, many);

    /* 512 bytes: accepted; 513: refused. "a=" 255 v "," "b=" 252 v = 512. */
    memset(big, 'v', sizeof big);
    memcpy(big, "a=", 2);
    big[257] = ',';
    memcpy(big + 258, "b=", 2);
    big[512] = '\0';
    AM_ASSERT_OK(am_tracestate_set(&c, big, 512));
    AM_ASSERT_EQ(c.tracestate_len, 512);
    AM_ASSERT_EQ(strlen(c.tracestate), 512);
    big[513] = '\0';
    AM_ASSERT_ERR(am_tracestate_set(&c, big, 513), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "513 bytes");
    AM_ASSERT_EQ(c.tracestate_len, 512);

    static const struct {
        const char *in;
        const char *why;
    } BADS[] = {
        {"a", "member 1 has no '='"},
        {"a=1,b", "member 2 has no '='"},
        {"=1", "empty key"},
        {"A=1", "does not start with a lowercase"},
        {"1a=1", "does not start with a lowercase"},
        {"a.b=1", "a character other than"},
        {"a=", "empty value"},
        {"a=b=c", "'='"},
        {"a=1 =", "'='"},
        {"a=\xc3\xa9", "byte 0xc3 at offset 2"},
        {"a=\x01", "byte 0x01"},
        {"a=\x7f", "byte 0x7f"},
        {"a=1\t2", "not printable ASCII"},
        {"a\t=1", "a character other than"},
        {"a@=1", "system id"},
        {"@b=1", "tenant id"},
        {"a@B=1", "system id that does not start"},
        {"a@abcdefghijklmno=1", "system id"},
        {"_a@b=1", "tenant id that does not start"},
        {"a@b@c=1", "a character other than"},
        {"a=1,b=2,c=\n", "byte 0x0a"},
    };
    for (size_t i = 0; i < sizeof BADS / sizeof BADS[0]; i++) {
        am_trace_ctx d = AM_TRACE_CTX_INIT;
        AM_ASSERT_OK(am_tracestate_set(&d, "keep=me", 7));
        am_err rc = am_tracestate_set(&d, BADS[i].in, strlen(BADS[i].in));
        if (rc != AM_EINVAL)
            fail_msg("bad tracestate %zu \"%s\" accepted", i, BADS[i].in);
        if (!strstr(am_errmsg(), BADS[i].why) || !strstr(am_errmsg(), "tracestate"))
            fail_msg("bad tracestate %zu \"%s\": message \"%s\" lacks \"%s\"", i, BADS[i].in,
                     am_errmsg(), BADS[i].why);
        AM_ASSERT_STR_EQ(d.tracestate, "keep=me");
    }
    memset(k256, 'k', 257);
    memcpy(k256 + 257, "=v", 3);
    AM_ASSERT_ERR(am_tracestate_set(&c, k256, strlen(k256)), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "longer than 256");
    v256[259] = '\0';
    v256[258] = 'v';
    AM_ASSERT_ERR(am_tracestate_set(&c, v256, strlen(v256)), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "longer than 256");
    AM_ASSERT_ERR(am_tracestate_set(NULL, "a=1", 3), AM_EINVAL);
    AM_ASSERT_ERR(am_tracestate_set(&c, NULL, 3), AM_EINVAL);
    AM_ASSERT_OK(am_tracestate_set(&c, NULL, 0)); /* clears */
    AM_ASSERT_EQ(c.tracestate_len, 0);
    AM_ASSERT_STR_EQ(c.tracestate, "");

    /* continue: a good tracestate travels verbatim, a bad one is dropped
       without affecting the trace; children inherit it. */
    AM_ASSERT_OK(am_trace_continue(TP_GOOD, " rojo=00f067aa0ba902b7 ,congo=t61rcWkgMzE", &c));
    AM_ASSERT_STR_EQ(c.tracestate, " rojo=00f067aa0ba902b7 ,congo=t61rcWkgMzE");
    am_trace_ctx child;
    AM_ASSERT_OK(am_trace_child(&c, &child));
    AM_ASSERT_STR_EQ(child.tracestate, c.tracestate);
    AM_ASSERT_OK(am_trace_continue(TP_GOOD, "Bad=1", &c));
    AM_ASSERT_EQ(c.tracestate_len, 0);
    char h[33];
    am_trace_id_hex(&c, h);
    AM_ASSERT_STR_EQ(h, TID);
    memset(big, 'v', 599);
    big[0] = 'a';
    big[1] = '=';
    big[599] = '\0';
    AM_ASSERT_OK(am_trace_continue(TP_GOOD, big, &c));
    AM_ASSERT_EQ(c.tracestate_len, 0);
}

/* ------------------------------------------------------------------ */
/* ids                                                                 */
/* ------------------------------------------------------------------ */

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static int cmp8(const void *a, const void *b)
{
    return memcmp(a, b, 8);
}

static void test_ids_random(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint8_t(*tids)[16] = malloc(N * 16);
    uint8_t(*sids)[8] = malloc(N * 8);
    assert_non_null(tids);
    assert_non_null(sids);
    unsigned ones[128] = {0};
    for (int i = 0; i < N; i++) {
        am_trace_ctx c;
        am_trace_new(&c);
        assert_true(am_trace_ctx_is_valid(&c));
        AM_ASSERT_EQ(c.flags, AM_TRACE_FLAG_SAMPLED);
        AM_ASSERT_EQ(c.tracestate_len, 0);
        for (int k = 0; k < 8; k++)
            AM_ASSERT_EQ(c.parent_span_id[k], 0);
        memcpy(tids[i], c.trace_id, 16);
        memcpy(sids[i], c.span_id, 8);
        for (int bit = 0; bit < 128; bit++)
            ones[bit] += (c.trace_id[bit / 8] >> (bit % 8)) & 1;
    }
    qsort(tids, N, 16, cmp16);
    qsort(sids, N, 8, cmp8);
    for (int i = 1; i < N; i++) {
        assert_true(memcmp(tids[i - 1], tids[i], 16) != 0);
        assert_true(memcmp(sids[i - 1], sids[i], 8) != 0);
    }
    /* Every bit is set about half the time (binomial sd ~ 71 of 20000). */
    for (int bit = 0; bit < 128; bit++)
        if (ones[bit] < N / 2 - 1000 || ones[bit] > N / 2 + 1000)
            fail_msg("trace id bit %d set %u times in %d", bit, ones[bit], N);
    free(tids);
    free(sids);
}

/* After fork(), the child must not hand out the ids the parent will. */
static void test_ids_fork(void **state)
{
    (void)state;
    am_trace_ctx warm;
    am_trace_new(&warm); /* the buffer now holds bytes both would inherit */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        am_trace_ctx c;
        am_trace_new(&c);
        ssize_t w = write(fds[1], &c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 1);
    }
    am_trace_ctx mine, theirs;
    am_trace_new(&mine);
    ssize_t r = read(fds[0], &theirs, sizeof theirs);
    int st;
    waitpid(pid, &st, 0);
    AM_ASSERT_EQ(r, (ssize_t)sizeof theirs);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(memcmp(mine.trace_id, theirs.trace_id, 16) != 0);
    assert_true(memcmp(mine.span_id, theirs.span_id, 8) != 0);
    close(fds[0]);
    close(fds[1]);
}

/* ------------------------------------------------------------------ */
/* children and the current context                                    */
/* ------------------------------------------------------------------ */

static void test_child(void **state)
{
    (void)state;
    am_trace_ctx root, child, grand;
    am_trace_new(&root);
    AM_ASSERT_OK(am_tracestate_set(&root, "a=1", 3));
    root.flags = 0;
    AM_ASSERT_OK(am_trace_child(&root, &child));
    assert_memory_equal(child.trace_id, root.trace_id, 16);
    assert_memory_equal(child.parent_span_id, root.span_id, 8);
    assert_memory_not_equal(child.span_id, root.span_id, 8);
    AM_ASSERT_EQ(child.flags, 0);
    AM_ASSERT_STR_EQ(child.tracestate, "a=1");
    AM_ASSERT_OK(am_trace_child(&child, &grand));
    assert_memory_equal(grand.trace_id, root.trace_id, 16);
    assert_memory_equal(grand.parent_span_id, child.span_id, 8);

    /* in place */
    am_trace_ctx c = child;
    AM_ASSERT_OK(am_trace_child(&c, &c));
    assert_memory_equal(c.parent_span_id, child.span_id, 8);
    assert_memory_not_equal(c.span_id, child.span_id, 8);

    /* from nothing: a new trace, and a reason */
    am_trace_ctx zero = AM_TRACE_CTX_INIT;
    AM_ASSERT_ERR(am_trace_child(&zero, &c), AM_EINVAL);
    assert_true(am_trace_ctx_is_valid(&c));
    AM_ASSERT_ERR(am_trace_child(NULL, &c), AM_EINVAL);
    assert_true(am_trace_ctx_is_valid(&c));
    AM_ASSERT_CONTAINS(am_errmsg(), "new trace");
}

static void test_current(void **state)
{
    (void)state;
    am_trace_ctx c, got;
    am_trace_clear_current();
    fill_poison(&got);
    AM_ASSERT_ERR(am_trace_current(&got), AM_ENOTFOUND);
    assert_false(am_trace_ctx_is_valid(&got));
    AM_ASSERT_EQ(got.tracestate_len, 0);

    am_trace_new(&c);
    AM_ASSERT_OK(am_tracestate_set(&c, "x=y", 3));
    am_trace_set_current(&c);
    AM_ASSERT_OK(am_trace_current(&got));
    assert_memory_equal(&got, &c, offsetof(am_trace_ctx, tracestate) + 4);
    AM_ASSERT_STR_EQ(got.tracestate, "x=y");

    am_trace_set_current(NULL);
    AM_ASSERT_ERR(am_trace_current(&got), AM_ENOTFOUND);
    am_trace_set_current(&c);
    am_trace_ctx zero = AM_TRACE_CTX_INIT;
    am_trace_set_current(&zero);
    AM_ASSERT_ERR(am_trace_current(&got), AM_ENOTFOUND);
    am_trace_set_current(&c);
    am_trace_clear_current();
    AM_ASSERT_ERR(am_trace_current(&got), AM_ENOTFOUND);

    /* spans: begin from nothing starts a trace; nesting keeps the trace id
       and records the parent; end restores. */
    am_trace_ctx p1, p2, s1, s2;
    am_trace_span_begin(&p1);
    assert_false(am_trace_ctx_is_valid(&p1));
    AM_ASSERT_OK(am_trace_current(&s1));
    am_trace_span_begin(&p2);
    assert_memory_equal(&p2, &s1, sizeof(am_trace_ctx) - sizeof(void *[2]));
    AM_ASSERT_OK(am_trace_current(&s2));
    assert_memory_equal(s2.trace_id, s1.trace_id, 16);
    assert_memory_equal(s2.parent_span_id, s1.span_id, 8);
    am_trace_span_end(&p2);
    AM_ASSERT_OK(am_trace_current(&got));
    assert_memory_equal(got.span_id, s1.span_id, 8);
    am_trace_span_end(&p1);
    AM_ASSERT_ERR(am_trace_current(&got), AM_ENOTFOUND);
}

#define N_THREADS 8

typedef struct iso_arg {
    pthread_barrier_t *bar;
    int failures;
} iso_arg;

static void *iso_thread(void *p)
{
    iso_arg *a = p;
    am_trace_ctx mine, got;
    if (am_trace_current(&got) != AM_ENOTFOUND) /* a new thread has none */
        a->failures++;
    am_trace_new(&mine);
    am_trace_set_current(&mine);
    pthread_barrier_wait(a->bar);
    for (int i = 0; i < 20000; i++) {
        if (am_trace_current(&got) != AM_OK || memcmp(got.span_id, mine.span_id, 8) != 0) {
            a->failures++;
            break;
        }
        if (i % 1000 == 0) { /* change it now and then: others must not see it */
            am_trace_child(&mine, &mine);
            am_trace_set_current(&mine);
        }
    }
    return NULL;
}

static void test_thread_isolation(void **state)
{
    (void)state;
    am_trace_ctx main_ctx, got;
    am_trace_new(&main_ctx);
    am_trace_set_current(&main_ctx);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N_THREADS);
    pthread_t th[N_THREADS];
    iso_arg args[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        args[i].bar = &bar;
        args[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, iso_thread, &args[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        AM_ASSERT_EQ(args[i].failures, 0);
    }
    pthread_barrier_destroy(&bar);
    AM_ASSERT_OK(am_trace_current(&got));
    assert_memory_equal(got.span_id, main_ctx.span_id, 8);
    am_trace_clear_current();
}

/* ------------------------------------------------------------------ */
/* exemplars                                                           */
/* ------------------------------------------------------------------ */

static void test_traced_exemplars(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "task_seconds";
    o.help = "Task time.";
    const double b[] = {0.1, 1};
    o.buckets = b;
    o.n_buckets = 2;
    am_histogram *h;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    o.name = "tasks_total";
    am_counter *c;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));

    /* no current context: plain observations */
    am_trace_clear_current();
    AM_ASSERT_OK(am_histogram_observe_traced(h, 0.05));
    AM_ASSERT_OK(am_counter_add_traced(c, 1));
    char *text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_LACKS(text, "trace_id");
    am_free(text);

    /* not sampled: still no exemplar */
    am_trace_ctx ctx;
    AM_ASSERT_OK(am_traceparent_parse("00-" TID "-" PID "-00", 55, &ctx));
    am_trace_set_current(&ctx);
    AM_ASSERT_OK(am_histogram_observe_traced(h, 0.05));
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_LACKS(text, "trace_id");
    am_free(text);

    /* sampled: {trace_id, span_id} on the bucket and the counter */
    AM_ASSERT_OK(am_traceparent_parse(TP_GOOD, 55, &ctx));
    am_trace_set_current(&ctx);
    AM_ASSERT_OK(am_histogram_observe_traced(h, 0.5));
    AM_ASSERT_OK(am_counter_add_traced(c, 2));
    AM_ASSERT_ERR(am_counter_add_traced(c, -1), AM_EINVAL);
    AM_ASSERT_ERR(am_counter_add_traced(c, NAN), AM_EINVAL);
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text, "task_seconds_bucket{le=\"1\"} 3 # {trace_id=\"" TID
                             "\",span_id=\"" PID "\"} 0.5 ");
    AM_ASSERT_CONTAINS(text, "tasks_total 3 # {trace_id=\"" TID "\",span_id=\"" PID "\"} 2 ");
    am_free(text);
    uint64_t count;
    double sum;
    am_histogram_read(h, &count, &sum, NULL);
    AM_ASSERT_EQ(count, 3);
    AM_ASSERT_DBL_EQ(am_counter_value(c), 3);
    am_trace_clear_current();
    am_registry_free(r);
}

/* The two id texts: 32 lowercase hex digits; an RFC 4122 v4 UUID (version
   nibble 4, variant 8..b, dashes at 8-4-4-4-12). 2000 of each, distinct. */
static void test_id_texts(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char hex[N][33], uuid[N][37];
    for (int i = 0; i < N; i++) {
        am__id_hex(hex[i]);
        am__uuid4(uuid[i]);
        AM_ASSERT_EQ(strlen(hex[i]), 32);
        AM_ASSERT_EQ(strspn(hex[i], "0123456789abcdef"), 32);
        AM_ASSERT_EQ(strlen(uuid[i]), 36);
        for (int k = 0; k < 36; k++) {
            bool dash = k == 8 || k == 13 || k == 18 || k == 23;
            assert_true(dash ? uuid[i][k] == '-' : strchr("0123456789abcdef", uuid[i][k]) != NULL);
        }
        AM_ASSERT_EQ(uuid[i][14], '4');
        assert_non_null(strchr("89ab", uuid[i][19]));
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            assert_true(strcmp(hex[i], hex[j]) != 0);
            assert_true(strcmp(uuid[i], uuid[j]) != 0);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_traceparent),  cmocka_unit_test(test_good_traceparent),
        cmocka_unit_test(test_tracestate),       cmocka_unit_test(test_ids_random),
        cmocka_unit_test(test_ids_fork),         cmocka_unit_test(test_child),
        cmocka_unit_test(test_current),          cmocka_unit_test(test_thread_isolation),
        cmocka_unit_test(test_traced_exemplars), cmocka_unit_test(test_id_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
