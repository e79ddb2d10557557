/*
** test_breaker.c: the circuit breaker -- every transition driven by a fake
** clock, half-open admission, outcomes outside allow(), the transition
** callback (order, no overlap, re-entry), the metrics in the exposition,
** option checking, eight threads at once (run it under TSan), and an
** allocation failing at each point of am_breaker_new() in turn.
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"
#include "fault_alloc.h"
#include "agentmon/breaker.h"
#include "packs/breaker_defs.h"

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

static double fake_clock(void *ud)
{
    return *(double *)ud;
}

#define MAX_SEEN 64

/* What the transition callback saw. */
typedef struct seen {
    am_breaker *b;
    int n;
    am_breaker_state from[MAX_SEEN], to[MAX_SEEN], state_in_cb[MAX_SEEN];
    int depth, max_depth;
    bool fail_on_half_open; /* re-enter: report a failure from the callback */
} seen;

static void on_transition(const char *name, am_breaker_state from, am_breaker_state to, void *ud)
{
    seen *s = ud;
    AM_ASSERT_STR_EQ(name, "llm:openai");
    s->depth++;
    if (s->depth > s->max_depth)
        s->max_depth = s->depth;
    if (s->n < MAX_SEEN) {
        s->from[s->n] = from;
        s->to[s->n] = to;
        /* would deadlock if called under the breaker's lock */
        s->state_in_cb[s->n] = am_breaker_get_state(s->b);
        s->n++;
    }
    if (s->fail_on_half_open && to == AM_BREAKER_HALF_OPEN) {
        s->fail_on_half_open = false;
        int before = s->n;
        am_breaker_failure(s->b);   /* half_open -> open, reported after we return */
        AM_ASSERT_EQ(s->n, before); /* nothing delivered inside this call */
        AM_ASSERT_EQ(am_breaker_get_state(s->b), AM_BREAKER_OPEN);
    }
    s->depth--;
}

typedef struct fixture {
    am_registry *r;
    am_breaker *b;
    double now;
    seen seen;
} fixture;

/* A breaker "llm:openai" in its own registry: N=3 in 10 s, cool-down 5 s,
   M=2, and opts tweaked by the caller through o (may be NULL). */
static void fx_open(fixture *f, const am_breaker_opts *tweak)
{
    memset(f, 0, sizeof *f);
    AM_ASSERT_OK(am_registry_new(&f->r));
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    if (tweak)
        o = *tweak;
    o.name = "llm:openai";
    o.registry = f->r;
    if (!o.failure_threshold)
        o.failure_threshold = 3;
    if (o.window_s == 0)
        o.window_s = 10;
    if (o.cooldown_s == 0)
        o.cooldown_s = 5;
    o.clock = fake_clock;
    o.clock_userdata = &f->now;
    o.on_transition = on_transition;
    o.transition_userdata = &f->seen;
    AM_ASSERT_OK(am_breaker_new(&o, &f->b));
    f->seen.b = f->b;
}

static void fx_close(fixture *f)
{
    am_breaker_free(f->b);
    am_registry_free(f->r);
}

static void expect_seen(const seen *s, int i, am_breaker_state from, am_breaker_state to)
{
    if (i >= s->n)
        fail_msg("transition %d (%s -> %s) was not reported; %d were", i,
                 am_breaker_state_name(from), am_breaker_state_name(to), s->n);
    if (s->from[i] != from || s->to[i] != to)
        fail_msg("transition %d: got %s -> %s, expected %s -> %s", i,
                 am_breaker_state_name(s->from[i]), am_breaker_state_name(s->to[i]),
                 am_breaker_state_name(from), am_breaker_state_name(to));
}

/* The value of one series, read back through the registry. */
static double series(am_registry *r, const char *family, const char *const *vals, size_t n)
{
    am_counter *fam, *c;
    AM_ASSERT_OK(am_counter_find(r, family, &fam));
    AM_ASSERT_OK(am_counter_with(fam, vals, n, &c));
    return am_counter_value(c);
}

static double edge(am_registry *r, const char *name, const char *from, const char *to)
{
    return series(r, "insa_circuit_breaker_transitions_total", AM_LABELS(name, from, to));
}

static double calls(am_registry *r, const char *name, const char *result)
{
    return series(r, "insa_circuit_breaker_calls_total", AM_LABELS(name, result));
}

/* ------------------------------------------------------------------ */
/* State machine                                                       */
/* ------------------------------------------------------------------ */

static void test_names(void **state)
{
    (void)state;
    AM_ASSERT_EQ(AM_BREAKER_CLOSED, 0);
    AM_ASSERT_EQ(AM_BREAKER_OPEN, 1);
    AM_ASSERT_EQ(AM_BREAKER_HALF_OPEN, 2);
    AM_ASSERT_STR_EQ(am_breaker_state_name(AM_BREAKER_CLOSED), "closed");
    AM_ASSERT_STR_EQ(am_breaker_state_name(AM_BREAKER_OPEN), "open");
    AM_ASSERT_STR_EQ(am_breaker_state_name(AM_BREAKER_HALF_OPEN), "half_open");
    AM_ASSERT_STR_EQ(am_breaker_state_name((am_breaker_state)7), "unknown");
    /* NULL breakers are inert */
    assert_false(am_breaker_allow(NULL));
    am_breaker_success(NULL);
    am_breaker_failure(NULL);
    AM_ASSERT_EQ(am_breaker_get_state(NULL), AM_BREAKER_CLOSED);
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(NULL, AM_BREAKER_OPEN), 0);
    am_breaker_free(NULL);
}

static void test_closed_to_open(void **state)
{
    (void)state;
    fixture f;
    fx_open(&f, NULL);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    assert_true(am_breaker_allow(f.b));
    am_breaker_failure(f.b);
    f.now = 1;
    am_breaker_success(f.b); /* does not reset the window */
    am_breaker_failure(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    AM_ASSERT_EQ(f.seen.n, 0);
    f.now = 2;
    am_breaker_failure(f.b); /* third within 10 s */
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN);
    AM_ASSERT_EQ(f.seen.n, 1);
    expect_seen(&f.seen, 0, AM_BREAKER_CLOSED, AM_BREAKER_OPEN);
    AM_ASSERT_EQ(f.seen.state_in_cb[0], AM_BREAKER_OPEN);
    assert_false(am_breaker_allow(f.b));
    fx_close(&f);
}

static void test_window_edges(void **state)
{
    (void)state;
    fixture f;
    /* Spread over more than the window: 0, 6, 12 -- the 3rd most recent is
       12 s old when the 3rd comes. */
    fx_open(&f, NULL);
    am_breaker_failure(f.b);
    f.now = 6;
    am_breaker_failure(f.b);
    f.now = 12;
    am_breaker_failure(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    f.now = 30;
    am_breaker_failure(f.b); /* 6, 12, 30 */
    f.now = 35;
    am_breaker_failure(f.b); /* 12, 30, 35: 23 s */
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    f.now = 36;
    am_breaker_failure(f.b); /* 30, 35, 36: within 10 s */
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN);
    fx_close(&f);

    /* Exactly window_s apart still counts (the window is inclusive). */
    fx_open(&f, NULL);
    am_breaker_failure(f.b);
    f.now = 5;
    am_breaker_failure(f.b);
    f.now = 10;
    am_breaker_failure(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN);
    fx_close(&f);

    /* N = 1: the first failure opens it. */
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    o.failure_threshold = 1;
    fx_open(&f, &o);
    am_breaker_failure(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN);
    fx_close(&f);
}

/* Opens f's breaker at time t0 with three failures. */
static void trip(fixture *f, double t0)
{
    f->now = t0;
    for (int i = 0; i < 3; i++)
        am_breaker_failure(f->b);
    AM_ASSERT_EQ(am_breaker_get_state(f->b), AM_BREAKER_OPEN);
}

static void test_cooldown_and_half_open(void **state)
{
    (void)state;
    fixture f;
    fx_open(&f, NULL); /* M = 2, so 2 calls in flight */
    trip(&f, 2);
    f.now = 6.9;
    assert_false(am_breaker_allow(f.b));
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN);
    f.now = 7; /* 2 + 5: the cool-down is over (inclusive) */
    assert_true(am_breaker_allow(f.b));
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_HALF_OPEN);
    expect_seen(&f.seen, 1, AM_BREAKER_OPEN, AM_BREAKER_HALF_OPEN);
    assert_true(am_breaker_allow(f.b));
    assert_false(am_breaker_allow(f.b)); /* both slots taken */
    assert_false(am_breaker_allow(f.b));
    am_breaker_success(f.b); /* 1 of 2; frees a slot */
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_HALF_OPEN);
    assert_true(am_breaker_allow(f.b));
    assert_false(am_breaker_allow(f.b));
    am_breaker_success(f.b); /* 2 of 2 */
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    expect_seen(&f.seen, 2, AM_BREAKER_HALF_OPEN, AM_BREAKER_CLOSED);
    AM_ASSERT_EQ(f.seen.n, 3);
    /* the failures before opening are forgotten: two more do not open it */
    am_breaker_success(f.b); /* the third trial call, finishing in CLOSED */
    am_breaker_failure(f.b);
    am_breaker_failure(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    AM_ASSERT_DBL_EQ(calls(f.r, "llm:openai", "allowed"), 3);
    AM_ASSERT_DBL_EQ(calls(f.r, "llm:openai", "rejected"), 4);
    fx_close(&f);
}

static void test_half_open_limits(void **state)
{
    (void)state;
    fixture f;
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    o.half_open_successes = 3;
    o.half_open_max_calls = 1; /* one trial at a time, three in a row */
    fx_open(&f, &o);
    trip(&f, 0);
    f.now = 5;
    for (int i = 0; i < 3; i++) {
        AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_HALF_OPEN);
        assert_true(am_breaker_allow(f.b));
        assert_false(am_breaker_allow(f.b));
        am_breaker_success(f.b);
    }
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    fx_close(&f);

    /* half_open_max_calls 0 = M */
    o.half_open_max_calls = 0;
    fx_open(&f, &o);
    trip(&f, 0);
    f.now = 5;
    for (int i = 0; i < 3; i++)
        assert_true(am_breaker_allow(f.b));
    assert_false(am_breaker_allow(f.b));
    fx_close(&f);
}

static void test_half_open_failure_reopens(void **state)
{
    (void)state;
    fixture f;
    fx_open(&f, NULL);
    trip(&f, 0);
    f.now = 5;
    assert_true(am_breaker_allow(f.b));
    am_breaker_success(f.b);
    f.now = 8;
    assert_true(am_breaker_allow(f.b));
    am_breaker_failure(f.b); /* back to OPEN; the cool-down restarts at 8 */
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN);
    expect_seen(&f.seen, 2, AM_BREAKER_HALF_OPEN, AM_BREAKER_OPEN);
    f.now = 12.5;
    assert_false(am_breaker_allow(f.b));
    f.now = 13;
    assert_true(am_breaker_allow(f.b));
    /* the earlier success does not carry over: M = 2 more are needed */
    am_breaker_success(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_HALF_OPEN);
    am_breaker_success(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    AM_ASSERT_EQ(f.seen.n, 5);
    expect_seen(&f.seen, 3, AM_BREAKER_OPEN, AM_BREAKER_HALF_OPEN);
    expect_seen(&f.seen, 4, AM_BREAKER_HALF_OPEN, AM_BREAKER_CLOSED);
    AM_ASSERT_EQ(f.seen.max_depth, 1);
    fx_close(&f);
}

static void test_outcomes_without_allow(void **state)
{
    (void)state;
    fixture f;
    fx_open(&f, NULL);
    /* CLOSED: failures count even with no allow() (calls made anyway) */
    trip(&f, 0);
    /* OPEN: late outcomes change nothing, not even the cool-down */
    f.now = 4;
    am_breaker_failure(f.b);
    am_breaker_success(f.b);
    am_breaker_success(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN);
    f.now = 5;
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_HALF_OPEN);
    /* HALF_OPEN: an outcome with no slot taken counts; slots never go below 0 */
    am_breaker_success(f.b);
    assert_true(am_breaker_allow(f.b));
    assert_true(am_breaker_allow(f.b));
    assert_false(am_breaker_allow(f.b));
    am_breaker_success(f.b); /* 2nd success: closed */
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    /* the success() that moved OPEN -> HALF_OPEN after the cool-down counts */
    trip(&f, 20);
    f.now = 25;
    am_breaker_success(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_HALF_OPEN);
    am_breaker_success(f.b);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_CLOSED);
    fx_close(&f);
}

static void test_callback_reentry(void **state)
{
    (void)state;
    fixture f;
    fx_open(&f, NULL);
    trip(&f, 0);
    f.seen.fail_on_half_open = true;
    f.now = 5;
    /* allow() moves to HALF_OPEN; the callback reports a failure, which
       reopens it; that is reported after the first callback returns */
    assert_true(am_breaker_allow(f.b));
    AM_ASSERT_EQ(f.seen.n, 3);
    expect_seen(&f.seen, 1, AM_BREAKER_OPEN, AM_BREAKER_HALF_OPEN);
    expect_seen(&f.seen, 2, AM_BREAKER_HALF_OPEN, AM_BREAKER_OPEN);
    AM_ASSERT_EQ(f.seen.max_depth, 1);
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN);
    AM_ASSERT_EQ(am__breaker_n_dropped(f.b), 0);
    fx_close(&f);
}

static void test_clock_backwards(void **state)
{
    (void)state;
    fixture f;
    fx_open(&f, NULL);
    f.now = 10;
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, AM_BREAKER_CLOSED), 10);
    f.now = 4; /* backwards: treated as standing still */
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, AM_BREAKER_CLOSED), 10);
    f.now = NAN;
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, AM_BREAKER_CLOSED), 10);
    f.now = INFINITY;
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, AM_BREAKER_CLOSED), 10);
    f.now = 11;
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, AM_BREAKER_CLOSED), 11);
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, (am_breaker_state)9), 0);
    fx_close(&f);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

#define SERIES(fam, labels) "insa_circuit_breaker_" fam "{agent_type=\"llm:openai\"" labels "}"

static void test_exposition(void **state)
{
    (void)state;
    fixture f;
    fx_open(&f, NULL);
    char *t = am_test_encode(f.r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(t, "# TYPE insa_circuit_breaker_state gauge\n");
    AM_ASSERT_CONTAINS(t, SERIES("state", "") " 0\n");
    AM_ASSERT_CONTAINS(t, "# TYPE insa_circuit_breaker_status stateset\n");
    AM_ASSERT_CONTAINS(t, SERIES("status", ",insa_circuit_breaker_status=\"closed\"") " 1\n");
    AM_ASSERT_CONTAINS(t, SERIES("status", ",insa_circuit_breaker_status=\"open\"") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("status", ",insa_circuit_breaker_status=\"half_open\"") " 0\n");
    /* every possible edge is there from the start, at 0 */
    AM_ASSERT_CONTAINS(t, "# TYPE insa_circuit_breaker_transitions counter\n");
    AM_ASSERT_CONTAINS(t, SERIES("transitions_total", ",from=\"closed\",to=\"open\"") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("transitions_total", ",from=\"open\",to=\"half_open\"") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("transitions_total", ",from=\"half_open\",to=\"closed\"") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("transitions_total", ",from=\"half_open\",to=\"open\"") " 0\n");
    AM_ASSERT_CONTAINS(t, "# UNIT insa_circuit_breaker_time_in_state_seconds seconds\n");
    AM_ASSERT_CONTAINS(t, SERIES("calls_total", ",result=\"allowed\"") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("calls_total", ",result=\"rejected\"") " 0\n");
    am_free(t);

    /* closed 0..2, open 2..7, half-open 7..9, closed 9..12, open from 12 */
    assert_true(am_breaker_allow(f.b));
    trip(&f, 2);
    assert_false(am_breaker_allow(f.b));
    f.now = 7;
    assert_true(am_breaker_allow(f.b));
    f.now = 9;
    am_breaker_success(f.b);
    am_breaker_success(f.b);
    trip(&f, 12);
    f.now = 15;
    AM_ASSERT_EQ(am_breaker_get_state(f.b), AM_BREAKER_OPEN); /* brings time up to 15 */
    t = am_test_encode(f.r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(t, SERIES("state", "") " 1\n");
    AM_ASSERT_CONTAINS(t, SERIES("status", ",insa_circuit_breaker_status=\"closed\"") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("status", ",insa_circuit_breaker_status=\"open\"") " 1\n");
    AM_ASSERT_CONTAINS(t, SERIES("status", ",insa_circuit_breaker_status=\"half_open\"") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("transitions_total", ",from=\"closed\",to=\"open\"") " 2\n");
    AM_ASSERT_CONTAINS(t, SERIES("transitions_total", ",from=\"open\",to=\"half_open\"") " 1\n");
    AM_ASSERT_CONTAINS(t, SERIES("transitions_total", ",from=\"half_open\",to=\"closed\"") " 1\n");
    AM_ASSERT_CONTAINS(t, SERIES("transitions_total", ",from=\"half_open\",to=\"open\"") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("time_in_state_seconds_total", ",state=\"closed\"") " 5\n");
    AM_ASSERT_CONTAINS(t, SERIES("time_in_state_seconds_total", ",state=\"open\"") " 8\n");
    AM_ASSERT_CONTAINS(t, SERIES("time_in_state_seconds_total", ",state=\"half_open\"") " 2\n");
    AM_ASSERT_CONTAINS(t, SERIES("calls_total", ",result=\"allowed\"") " 2\n");
    AM_ASSERT_CONTAINS(t, SERIES("calls_total", ",result=\"rejected\"") " 1\n");
    am_free(t);
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, AM_BREAKER_CLOSED), 5);
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, AM_BREAKER_OPEN), 8);
    AM_ASSERT_DBL_EQ(am_breaker_seconds_in(f.b, AM_BREAKER_HALF_OPEN), 2);

    /* 0.0.4: the stateset is a gauge per state, the state gauge as is */
    t = am_test_encode(f.r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(t, SERIES("state", "") " 1\n");
    AM_ASSERT_CONTAINS(t, SERIES("status", ",insa_circuit_breaker_status=\"open\"") " 1\n");
    am_free(t);

    /* free: time is counted up to now, the series stay */
    f.now = 20;
    am_breaker_free(f.b);
    f.b = NULL;
    AM_ASSERT_DBL_EQ(series(f.r, "insa_circuit_breaker_time_in_state_seconds_total",
                            AM_LABELS("llm:openai", "open")),
                     13);
    t = am_test_encode(f.r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(t, SERIES("state", "") " 1\n");
    am_free(t);

    /* a new breaker of that name continues the counters and starts closed */
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    o.name = "llm:openai";
    o.registry = f.r;
    o.clock = fake_clock;
    o.clock_userdata = &f.now;
    AM_ASSERT_OK(am_breaker_new(&o, &f.b));
    AM_ASSERT_DBL_EQ(edge(f.r, "llm:openai", "closed", "open"), 2);
    t = am_test_encode(f.r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(t, SERIES("state", "") " 0\n");
    AM_ASSERT_CONTAINS(t, SERIES("status", ",insa_circuit_breaker_status=\"closed\"") " 1\n");
    am_free(t);
    fx_close(&f);
}

static void test_two_breakers(void **state)
{
    (void)state;
    am_registry *r, *r2;
    AM_ASSERT_OK(am_registry_new(&r));
    AM_ASSERT_OK(am_registry_new(&r2));
    double now = 0;
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    o.registry = r;
    o.clock = fake_clock;
    o.clock_userdata = &now;
    o.failure_threshold = 1;
    am_breaker *a, *b, *dup, *other;
    o.name = "llm:openai";
    AM_ASSERT_OK(am_breaker_new(&o, &a));
    o.name = "llm:anthropic";
    AM_ASSERT_OK(am_breaker_new(&o, &b));
    /* one name per registry while it lives */
    AM_ASSERT_ERR(am_breaker_new(&o, &dup), AM_EEXIST);
    AM_ASSERT_CONTAINS(am_errmsg(), "llm:anthropic");
    o.registry = r2;
    AM_ASSERT_OK(am_breaker_new(&o, &other));

    am_breaker_failure(a);
    AM_ASSERT_EQ(am_breaker_get_state(a), AM_BREAKER_OPEN);
    AM_ASSERT_EQ(am_breaker_get_state(b), AM_BREAKER_CLOSED);
    char *t = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(t, "insa_circuit_breaker_state{agent_type=\"llm:openai\"} 1\n");
    AM_ASSERT_CONTAINS(t, "insa_circuit_breaker_state{agent_type=\"llm:anthropic\"} 0\n");
    am_free(t);
    am_breaker_free(other);
    am_breaker_free(b);
    am_breaker_free(a);
    am_registry_free(r2);

    /* a name taken by a different definition */
    AM_ASSERT_OK(am_registry_new(&r2));
    am_metric_opts mo = AM_METRIC_OPTS_INIT;
    mo.name = "insa_circuit_breaker_calls_total";
    am_counter *c;
    AM_ASSERT_OK(am_counter_new(r2, &mo, &c));
    o.registry = r2;
    AM_ASSERT_ERR(am_breaker_new(&o, &dup), AM_EEXIST);
    am_registry_free(r2);

    /* a family at its child limit */
    AM_ASSERT_OK(am_registry_new(&r2));
    const char *lab[] = {"agent_type", "state"};
    mo.name = "insa_circuit_breaker_time_in_state_seconds_total";
    mo.unit = "seconds";
    mo.label_names = lab;
    mo.n_labels = 2;
    mo.max_children = 2;
    AM_ASSERT_OK(am_counter_new(r2, &mo, &c));
    o.registry = r2;
    AM_ASSERT_ERR(am_breaker_new(&o, &dup), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "insa_circuit_breaker_time_in_state_seconds_total");
    am_registry_free(r2);
    am_registry_free(r);
}

static void test_default_registry_and_clock(void **state)
{
    (void)state;
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    o.name = "svc:default";
    am_breaker *b;
    AM_ASSERT_OK(am_breaker_new(&o, &b));
    assert_true(am_breaker_allow(b));
    am_breaker_success(b);
    for (int i = 0; i < 4; i++)
        am_breaker_failure(b);
    AM_ASSERT_EQ(am_breaker_get_state(b), AM_BREAKER_CLOSED); /* N = 5 by default */
    am_breaker_failure(b);
    AM_ASSERT_EQ(am_breaker_get_state(b), AM_BREAKER_OPEN);
    assert_false(am_breaker_allow(b)); /* 30 s cool-down */
    double t = am_breaker_seconds_in(b, AM_BREAKER_CLOSED);
    assert_true(t >= 0 && t < 10);
    char *text = am_test_encode(am_registry_default(), AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "insa_circuit_breaker_state{agent_type=\"svc:default\"} 1\n");
    am_free(text);
    am_breaker_free(b);
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void test_bad_options(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    char long_name[AM_BREAKER_MAX_NAME + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    char max_name[AM_BREAKER_MAX_NAME + 1];
    memset(max_name, 'y', sizeof max_name - 1);
    max_name[sizeof max_name - 1] = '\0';
    int dummy;

    static const struct {
        const char *what;
        const char *name;
        unsigned n, m, max_calls;
        double window_s, cooldown_s;
        bool reserved;
        const char *msg;
    } cases[] = {
        {"NULL name", NULL, 0, 0, 0, 0, 0, false, "breaker name is NULL"},
        {"empty name", "", 0, 0, 0, 0, 0, false, "breaker name is empty"},
        {"invalid UTF-8", "llm:\xff", 0, 0, 0, 0, 0, false, "not valid UTF-8"},
        {"overlong UTF-8", "a\xc0\xaf", 0, 0, 0, 0, 0, false, "not valid UTF-8"},
        {"too long", NULL /* long_name */, 0, 0, 0, 0, 0, false, "longer than 128 bytes"},
        {"reserved label value", "__overflow__", 0, 0, 0, 0, 0, false, "__overflow__"},
        {"window_s < 0", "x", 0, 0, 0, -1, 0, false, "window_s is -1"},
        {"window_s NaN", "x", 0, 0, 0, NAN, 0, false, "window_s is nan"},
        {"window_s inf", "x", 0, 0, 0, INFINITY, 0, false, "window_s is inf"},
        {"cooldown_s < 0", "x", 0, 0, 0, 0, -0.5, false, "cooldown_s is -0.5"},
        {"cooldown_s NaN", "x", 0, 0, 0, 0, NAN, false, "cooldown_s is nan"},
        {"cooldown_s inf", "x", 0, 0, 0, 0, INFINITY, false, "cooldown_s is inf"},
        {"N too big", "x", AM_BREAKER_MAX_COUNT + 1, 0, 0, 0, 0, false, "failure_threshold"},
        {"M too big", "x", 0, AM_BREAKER_MAX_COUNT + 1, 0, 0, 0, false, "half_open_successes"},
        {"max calls too big", "x", 0, 0, 4000000000u, 0, 0, false, "half_open_max_calls"},
        {"reserved set", "x", 0, 0, 0, 0, 0, true, "reserved[2]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        am_breaker_opts o = AM_BREAKER_OPTS_INIT;
        o.registry = r;
        o.name = cases[i].name;
        if (strcmp(cases[i].what, "too long") == 0)
            o.name = long_name;
        o.failure_threshold = cases[i].n;
        o.half_open_successes = cases[i].m;
        o.half_open_max_calls = cases[i].max_calls;
        o.window_s = cases[i].window_s;
        o.cooldown_s = cases[i].cooldown_s;
        if (cases[i].reserved)
            o.reserved[2] = &dummy;
        am_breaker *b = (am_breaker *)&dummy;
        am_err rc = am_breaker_new(&o, &b);
        if (rc != AM_EINVAL)
            fail_msg("%s: got %s, expected AM_EINVAL", cases[i].what, am_err_name(rc));
        if (!strstr(am_errmsg(), cases[i].msg))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].what, am_errmsg(), cases[i].msg);
        assert_ptr_equal(b, (am_breaker *)&dummy); /* untouched */
    }
    am_breaker *b;
    AM_ASSERT_ERR(am_breaker_new(NULL, &b), AM_EINVAL);
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    o.name = "x";
    AM_ASSERT_ERR(am_breaker_new(&o, NULL), AM_EINVAL);

    /* the limits themselves are fine */
    o.registry = r;
    o.name = max_name;
    o.failure_threshold = AM_BREAKER_MAX_COUNT;
    o.half_open_successes = AM_BREAKER_MAX_COUNT;
    o.half_open_max_calls = AM_BREAKER_MAX_COUNT;
    o.window_s = 1e-9;
    o.cooldown_s = 1e9;
    AM_ASSERT_OK(am_breaker_new(&o, &b));
    am_breaker_free(b);
    o.name = "llm:\xc3\xa9t\xc3\xa9"; /* UTF-8 is fine */
    AM_ASSERT_OK(am_breaker_new(&o, &b));
    am_breaker_free(b);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

#define N_THREADS 8
#define N_ITER 20000

static atomic_ulong g_ticks;
static atomic_long g_cb_calls;
static atomic_int g_cb_active, g_cb_overlap;

/* Each reading is 10 microseconds after the previous one. */
static double tick_clock(void *ud)
{
    (void)ud;
    return (double)atomic_fetch_add(&g_ticks, 1) * 1e-5;
}

static void count_transition(const char *name, am_breaker_state from, am_breaker_state to, void *ud)
{
    (void)name;
    (void)from;
    (void)to;
    if (atomic_fetch_add(&g_cb_active, 1) != 0)
        atomic_store(&g_cb_overlap, 1);
    am_breaker_state s = am_breaker_get_state(*(am_breaker **)ud);
    if ((unsigned)s > 2)
        atomic_store(&g_cb_overlap, 2);
    atomic_fetch_add(&g_cb_calls, 1);
    atomic_fetch_sub(&g_cb_active, 1);
}

typedef struct worker {
    am_breaker *b;
    unsigned seed;
    long allowed, rejected;
    int bad_state;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < N_ITER; i++) {
        w->seed = w->seed * 1103515245u + 12345u;
        unsigned x = (w->seed >> 16) % 100;
        if (am_breaker_allow(w->b)) {
            w->allowed++;
            if (x < 10)
                am_breaker_failure(w->b);
            else
                am_breaker_success(w->b);
        } else {
            w->rejected++;
        }
        if (x == 7) {
            am_breaker_state s = am_breaker_get_state(w->b);
            if ((unsigned)s > 2)
                w->bad_state = 1;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    static am_breaker *b; /* the callback's userdata points here */
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    o.name = "llm:openai";
    o.registry = r;
    o.failure_threshold = 4;
    o.window_s = 0.001;
    o.cooldown_s = 0.0005;
    o.half_open_successes = 3;
    o.half_open_max_calls = 2;
    o.clock = tick_clock;
    o.on_transition = count_transition;
    o.transition_userdata = &b;
    atomic_store(&g_ticks, 0);
    AM_ASSERT_OK(am_breaker_new(&o, &b));

    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){.b = b, .seed = 17u * (unsigned)i + 1u};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    long allowed = 0, rejected = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        allowed += w[i].allowed;
        rejected += w[i].rejected;
        AM_ASSERT_EQ(w[i].bad_state, 0);
    }
    AM_ASSERT_EQ(allowed + rejected, (long)N_THREADS * N_ITER);
    AM_ASSERT_DBL_EQ(calls(r, "llm:openai", "allowed"), (double)allowed);
    AM_ASSERT_DBL_EQ(calls(r, "llm:openai", "rejected"), (double)rejected);

    /* the transitions form one chain from CLOSED to the state it ended in */
    am_breaker_state end = am_breaker_get_state(b);
    double co = edge(r, "llm:openai", "closed", "open");
    double oh = edge(r, "llm:openai", "open", "half_open");
    double hc = edge(r, "llm:openai", "half_open", "closed");
    double ho = edge(r, "llm:openai", "half_open", "open");
    AM_ASSERT_DBL_EQ(1 + hc - co, end == AM_BREAKER_CLOSED);
    AM_ASSERT_DBL_EQ(co + ho - oh, end == AM_BREAKER_OPEN);
    AM_ASSERT_DBL_EQ(oh - hc - ho, end == AM_BREAKER_HALF_OPEN);
    assert_true(co >= 10 && hc >= 5 && ho >= 1); /* every edge was exercised */
    AM_ASSERT_DBL_EQ((double)(atomic_load(&g_cb_calls) + (long)am__breaker_n_dropped(b)),
                     co + oh + hc + ho);
    AM_ASSERT_EQ(atomic_load(&g_cb_overlap), 0);

    /* the time in the three states adds up to the time the breaker lived:
       from the first clock reading (0) to the last (get_state above) */
    double total = 0;
    for (int s = 0; s < 3; s++)
        total += series(r, "insa_circuit_breaker_time_in_state_seconds_total",
                        AM_LABELS("llm:openai", am_breaker_state_name((am_breaker_state)s)));
    double lived = (double)(atomic_load(&g_ticks) - 1) * 1e-5;
    if (fabs(total - lived) > 1e-6)
        fail_msg("time in states %.9f, lifetime %.9f", total, lived);
    char *t = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    char want[128];
    snprintf(want, sizeof want, SERIES("state", "") " %d\n", (int)end);
    AM_ASSERT_CONTAINS(t, want);
    am_free(t);
    fprintf(stderr, "threads: %ld allowed, %ld rejected, %.0f transitions\n", allowed, rejected,
            co + oh + hc + ho);
    am_breaker_free(b);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Out of memory at each allocation of am_breaker_new()                */
/* ------------------------------------------------------------------ */

/* am_breaker_new() with allocation k failing, in a registry that has the
   breaker families already (has_families) or not. Returns the number of
   allocations it made when nothing failed (k past the end), else 0. */
static long new_with_failure(long k, bool has_families)
{
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    double now = 0;
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    o.registry = r;
    o.clock = fake_clock;
    o.clock_userdata = &now;
    o.failure_threshold = 2;
    am_breaker *first = NULL, *b = NULL;
    if (has_families) {
        o.name = "first";
        AM_ASSERT_OK(am_breaker_new(&o, &first));
    }
    o.name = "llm:openai";
    atomic_store(&g_count, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_fail_at, k);
    am_err rc = am_breaker_new(&o, &b);
    atomic_store(&g_fail_at, 0);
    long made = 0;
    if (atomic_load(&g_failed)) {
        if (rc != AM_ENOMEM)
            fail_msg("fail_at=%ld: am_breaker_new returned %s (%s), expected AM_ENOMEM", k,
                     am_err_name(rc), am_errmsg());
        /* a retry works, in the same registry */
        AM_ASSERT_OK(am_breaker_new(&o, &b));
    } else {
        AM_ASSERT_OK(rc);
        made = atomic_load(&g_count);
    }
    am_breaker_failure(b);
    am_breaker_failure(b);
    AM_ASSERT_EQ(am_breaker_get_state(b), AM_BREAKER_OPEN);
    am_breaker_free(b);
    am_breaker_free(first);
    am_registry_free(r);
    return made;
}

static void test_fault_injection(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        new_with_failure(0, pass); /* warm up: the thread's cells exist */
        long baseline = atomic_load(&g_live);
        long k;
        for (k = 1;; k++) {
            long made = new_with_failure(k, pass);
            if (atomic_load(&g_live) != baseline)
                fail_msg("fail_at=%ld (pass %d) leaked %ld allocation(s)", k, pass,
                         atomic_load(&g_live) - baseline);
            if (made)
                break;
        }
        fprintf(stderr, "fault injection (%s families): %ld allocation sites failed in turn\n",
                pass ? "existing" : "new", k - 1);
        assert_true(k > 3);
    }
}

int main(void)
{
    am_allocator a = {t_malloc, t_realloc, t_free};
    am_set_allocator(&a);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_closed_to_open),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_cooldown_and_half_open),
        cmocka_unit_test(test_half_open_limits),
        cmocka_unit_test(test_half_open_failure_reopens),
        cmocka_unit_test(test_outcomes_without_allow),
        cmocka_unit_test(test_callback_reentry),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_two_breakers),
        cmocka_unit_test(test_default_registry_and_clock),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fault_injection),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    am_shutdown();
    if (atomic_load(&g_live) != 0) {
        fprintf(stderr, "after am_shutdown: %ld allocation(s) still live\n", atomic_load(&g_live));
        rc = 1;
    }
    am_set_allocator(NULL);
    return rc;
}
