/*
** coord_suite.h: the coordinator conformance suite -- one set of tests that
** every backend must pass unchanged. A test program sets g_uri (and, for a
** backend that keeps state across opens, g_reset) and calls
** coord_suite_run().
**
** What it holds a backend to: priority then FIFO order; the fields of a
** message arrive intact (binary payloads, trace context); reservations
** expire and come back with attempt + 1, and a stale token settles nothing;
** transient nacks retry after the backoff and dead-letter when attempts run
** out; permanent nacks dead-letter at once; DLQ list, replay and purge;
** backpressure; refusals that change nothing; duplicate ids; broadcast;
** blocking receive; concurrent producers and consumers with no message lost
** or held twice; metrics read from the backend's state (for a remote
** backend: its last snapshot, so encode_fresh() takes one first); DLQ
** growth events.
*/
#ifndef AM_COORD_SUITE_H
#define AM_COORD_SUITE_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "testutil.h"
#include "agentmon/coord.h"

static const char *g_uri;     /* the backend under test */
static void (*g_reset)(void); /* optional: empty the backend's state */

typedef struct cfix {
    am_registry *r;
    am_coord *c;
} cfix;

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static am_coord_opts suite_opts(am_registry *r)
{
    am_coord_opts o = AM_COORD_OPTS_INIT;
    o.registry = r;
    o.max_queue = 50;
    o.max_attempts = 3;
    o.backoff_base_s = 0.05;
    o.backoff_factor = 2;
    o.backoff_max_s = 0.2;
    o.backoff_jitter = -1; /* none: the tests time retries */
    o.max_payload_bytes = 4096;
    o.visibility_s = 5;
    return o;
}

static int csetup(void **state)
{
    if (g_reset)
        g_reset();
    cfix *f = calloc(1, sizeof *f);
    AM_ASSERT_OK(am_registry_new(&f->r));
    am_coord_opts o = suite_opts(f->r);
    AM_ASSERT_OK(am_coord_open(g_uri, &o, &f->c));
    *state = f;
    return 0;
}

static int cteardown(void **state)
{
    cfix *f = *state;
    am_coord_close(f->c);
    am_registry_free(f->r);
    free(f);
    return 0;
}

static am_err send_to(am_coord *c, const char *to, const char *id, int prio, const char *body)
{
    am_coord_msg m = AM_COORD_MSG_INIT;
    m.from = "planner:1";
    m.to = to;
    m.id = id;
    m.type = "task";
    m.payload = body;
    m.len = body ? strlen(body) : 0;
    m.priority = prio;
    return am_coord_send(c, &m);
}

/*
** The registry's exposition once c's gauges show its state now: a Redis
** coordinator's come from its last snapshot (refreshed in the background
** every second), which am_coord_snapshot() refreshes at once.
*/
static char *encode_fresh(am_coord *c, am_registry *r, am_format fmt)
{
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    am_free(snap);
    return am_test_encode(r, fmt);
}

static am_coord_delivery *recv_now(am_coord *c, const char *agent)
{
    am_coord_delivery *d = NULL;
    am_err rc = am_coord_receive(c, agent, 0, 0, &d);
    if (rc == AM_ETIMEDOUT)
        return NULL;
    AM_ASSERT_OK(rc);
    return d;
}

static void test_fields_intact(void **state)
{
    cfix *f = *state;
    am_trace_ctx t;
    am_trace_new(&t);
    AM_ASSERT_OK(am_tracestate_set(&t, "vendor=abc", 10));
    const char bin[] = {'a', 0, 'b', '\xff', '\n'};
    am_coord_msg m = AM_COORD_MSG_INIT;
    m.from = "planner:1";
    m.to = "coder:1";
    m.id = "msg-1";
    m.type = "handoff";
    m.payload = bin;
    m.len = sizeof bin;
    m.priority = AM_PRIO_HIGH;
    m.trace = &t;
    double before = am_unix_time();
    AM_ASSERT_OK(am_coord_send(f->c, &m));
    am_coord_delivery *d = recv_now(f->c, "coder:1");
    assert_non_null(d);
    AM_ASSERT_STR_EQ(d->id, "msg-1");
    AM_ASSERT_STR_EQ(d->from, "planner:1");
    AM_ASSERT_STR_EQ(d->to, "coder:1");
    AM_ASSERT_STR_EQ(d->type, "handoff");
    AM_ASSERT_EQ(d->len, sizeof bin);
    assert_memory_equal(d->payload, bin, sizeof bin);
    AM_ASSERT_EQ(d->priority, AM_PRIO_HIGH);
    AM_ASSERT_EQ(d->attempt, 1);
    assert_true(d->enqueued_at >= before - 1 && d->enqueued_at <= am_unix_time() + 1);
    assert_true(am_trace_ctx_is_valid(&d->trace));
    assert_memory_equal(d->trace.trace_id, t.trace_id, AM_TRACE_ID_SIZE);
    assert_memory_equal(d->trace.span_id, t.span_id, AM_SPAN_ID_SIZE);
    AM_ASSERT_STR_EQ(d->trace.tracestate, "vendor=abc");
    AM_ASSERT_OK(am_coord_ack(f->c, d));
    AM_ASSERT_ERR(am_coord_ack(f->c, d), AM_ENOTFOUND); /* settled already */
    am_coord_delivery_free(d);
    assert_null(recv_now(f->c, "coder:1"));

    /* Defaults: a generated id, type "message", NORMAL, the current trace. */
    am_trace_set_current(&t);
    m.id = NULL;
    m.type = NULL;
    m.priority = 0;
    m.trace = NULL;
    AM_ASSERT_OK(am_coord_send(f->c, &m));
    am_trace_clear_current();
    d = recv_now(f->c, "coder:1");
    AM_ASSERT_EQ(strlen(d->id), 32);
    AM_ASSERT_STR_EQ(d->type, "message");
    AM_ASSERT_EQ(d->priority, AM_PRIO_NORMAL);
    assert_memory_equal(d->trace.trace_id, t.trace_id, AM_TRACE_ID_SIZE);
    AM_ASSERT_OK(am_coord_ack(f->c, d));
    am_coord_delivery_free(d);
}

static void test_priority_then_fifo(void **state)
{
    cfix *f = *state;
    static const struct {
        const char *id;
        int prio;
    } sent[] = {{"l1", 1}, {"n1", 5}, {"h1", 9}, {"l2", 1}, {"h2", 9}, {"n2", 5}, {"h3", 9}};
    for (size_t i = 0; i < 7; i++)
        AM_ASSERT_OK(send_to(f->c, "coder:1", sent[i].id, sent[i].prio, "x"));
    const char *want[] = {"h1", "h2", "h3", "n1", "n2", "l1", "l2"};
    for (size_t i = 0; i < 7; i++) {
        am_coord_delivery *d = recv_now(f->c, "coder:1");
        assert_non_null(d);
        AM_ASSERT_STR_EQ(d->id, want[i]);
        AM_ASSERT_OK(am_coord_ack(f->c, d));
        am_coord_delivery_free(d);
    }
    assert_null(recv_now(f->c, "coder:1"));
}

static void test_visibility_expiry(void **state)
{
    cfix *f = *state;
    AM_ASSERT_OK(send_to(f->c, "coder:1", "v1", 5, "x"));
    am_coord_delivery *d1;
    AM_ASSERT_OK(am_coord_receive(f->c, "coder:1", 1.0, 0, &d1));
    assert_null(recv_now(f->c, "coder:1")); /* reserved: nobody else sees it */
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(f->c, "coder:1", &st));
    AM_ASSERT_EQ(st.inflight, 1);
    sleep_s(1.2);
    am_coord_delivery *d2 = recv_now(f->c, "coder:1");
    assert_non_null(d2);
    AM_ASSERT_STR_EQ(d2->id, "v1");
    AM_ASSERT_EQ(d2->attempt, 2);
    /* The first consumer was too late: it settles nothing. */
    AM_ASSERT_ERR(am_coord_ack(f->c, d1), AM_ENOTFOUND);
    AM_ASSERT_ERR(am_coord_nack(f->c, d1, true, "late"), AM_ENOTFOUND);
    AM_ASSERT_OK(am_coord_ack(f->c, d2));
    am_coord_delivery_free(d1);
    am_coord_delivery_free(d2);
    char *text = am_test_encode(f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "messaging_recovered_total 1\n");
    AM_ASSERT_CONTAINS(text, "messaging_delivered_ok_total 1\n");
    am_free(text);
}

static void test_retry_then_dead_letter(void **state)
{
    cfix *f = *state;
    AM_ASSERT_OK(send_to(f->c, "coder:1", "r1", 5, "x"));
    am_coord_delivery *d;
    AM_ASSERT_OK(am_coord_receive(f->c, "coder:1", 0, 0, &d));
    for (unsigned attempt = 1; attempt <= 3; attempt++) {
        AM_ASSERT_STR_EQ(d->id, "r1");
        AM_ASSERT_EQ(d->attempt, attempt);
        am_timer t = am_timer_start();
        AM_ASSERT_OK(am_coord_nack(f->c, d, false, attempt < 3 ? "timeout" : "timeout again"));
        am_coord_delivery_free(d);
        if (attempt == 3)
            break;
        /* invisible until its backoff (0.05 s, then 0.1 s) is due */
        assert_null(recv_now(f->c, "coder:1"));
        am_coord_stats st;
        AM_ASSERT_OK(am_coord_agent_stats(f->c, "coder:1", &st));
        AM_ASSERT_EQ(st.delayed, 1);
        AM_ASSERT_OK(am_coord_receive(f->c, "coder:1", 0, 2.0, &d));
        assert_true(am_timer_seconds(&t) >= 0.045 * attempt);
    }
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(f->c, "coder:1", &st));
    AM_ASSERT_EQ(st.dlq, 1);
    AM_ASSERT_EQ(st.queued[1] + st.delayed + st.inflight, 0);
    am_coord_dlq_entry *e;
    size_t n;
    AM_ASSERT_OK(am_coord_dlq_list(f->c, "coder:1", 10, &e, &n));
    AM_ASSERT_EQ(n, 1);
    AM_ASSERT_STR_EQ(e[0].id, "r1");
    AM_ASSERT_STR_EQ(e[0].reason, "max_attempts");
    AM_ASSERT_STR_EQ(e[0].error, "timeout again");
    AM_ASSERT_EQ(e[0].attempts, 3);
    am_coord_dlq_free(e, n);
    char *text = encode_fresh(f->c, f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "messaging_nacks_total 3\n");
    AM_ASSERT_CONTAINS(text, "messaging_retries_scheduled_total 2\n");
    AM_ASSERT_CONTAINS(text, "messaging_permanent_failures_total 1\n");
    AM_ASSERT_CONTAINS(
        text, "messaging_dead_lettered_total{agent=\"coder:1\",reason=\"max_attempts\"} 1\n");
    AM_ASSERT_CONTAINS(text, "messaging_retries_last_backoff_seconds 0.1\n");
    AM_ASSERT_CONTAINS(text, "messaging_dlq_length{agent=\"coder:1\"} 1\n");
    am_free(text);
}

static void test_permanent_and_dlq_ops(void **state)
{
    cfix *f = *state;
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "p%d", i);
        AM_ASSERT_OK(send_to(f->c, "coder:1", id, 5, "payload"));
        am_coord_delivery *d = recv_now(f->c, "coder:1");
        AM_ASSERT_OK(am_coord_nack(f->c, d, true, "schema error"));
        am_coord_delivery_free(d);
    }
    am_coord_dlq_entry *e;
    size_t n;
    AM_ASSERT_OK(am_coord_dlq_list(f->c, "coder:1", 2, &e, &n));
    AM_ASSERT_EQ(n, 2);
    AM_ASSERT_STR_EQ(e[0].id, "p0");
    AM_ASSERT_STR_EQ(e[0].reason, "permanent");
    AM_ASSERT_STR_EQ(e[0].error, "schema error");
    AM_ASSERT_STR_EQ((char *)e[0].payload, "payload");
    am_coord_dlq_free(e, n);
    AM_ASSERT_ERR(am_coord_dlq_replay(f->c, "coder:1", "nope", &n), AM_ENOTFOUND);
    AM_ASSERT_OK(am_coord_dlq_replay(f->c, "coder:1", "p1", &n));
    AM_ASSERT_EQ(n, 1);
    am_coord_delivery *d = recv_now(f->c, "coder:1");
    AM_ASSERT_STR_EQ(d->id, "p1");
    AM_ASSERT_EQ(d->attempt, 1); /* fresh attempts */
    AM_ASSERT_OK(am_coord_ack(f->c, d));
    am_coord_delivery_free(d);
    /* A replay into a full queue stops there: the rest stay dead-lettered. */
    am_coord_opts o = suite_opts(f->r);
    o.max_queue = 1;
    AM_ASSERT_OK(am_coord_configure(f->c, &o));
    AM_ASSERT_OK(send_to(f->c, "coder:1", "filler", 5, "x"));
    AM_ASSERT_ERR(am_coord_dlq_replay(f->c, "coder:1", NULL, &n), AM_EFULL);
    AM_ASSERT_EQ(n, 0);
    AM_ASSERT_ERR(am_coord_dlq_replay(f->c, "coder:1", "p0", &n), AM_EFULL);
    am_coord_delivery *fd = recv_now(f->c, "coder:1");
    AM_ASSERT_STR_EQ(fd->id, "filler");
    AM_ASSERT_OK(am_coord_ack(f->c, fd));
    am_coord_delivery_free(fd);
    o.max_queue = 50;
    AM_ASSERT_OK(am_coord_configure(f->c, &o));
    am_coord_stats nst;
    AM_ASSERT_ERR(am_coord_agent_stats(f->c, "nobody:1", &nst), AM_ENOTFOUND);
    AM_ASSERT_OK(am_coord_dlq_purge(f->c, "coder:1", &n));
    AM_ASSERT_EQ(n, 2);
    AM_ASSERT_OK(am_coord_dlq_list(f->c, "coder:1", 10, &e, &n));
    AM_ASSERT_EQ(n, 0);
    am_coord_dlq_free(e, n);
    /* A purged id may be sent again. */
    AM_ASSERT_OK(send_to(f->c, "coder:1", "p0", 5, "again"));
    AM_ASSERT_OK(am_coord_dlq_replay(f->c, "coder:1", NULL, &n)); /* nothing dead: fine */
    AM_ASSERT_EQ(n, 0);
}

static void test_backpressure_and_refusals(void **state)
{
    cfix *f = *state;
    for (int i = 0; i < 50; i++)
        AM_ASSERT_OK(send_to(f->c, "coder:1", NULL, 5, "x"));
    AM_ASSERT_ERR(send_to(f->c, "coder:1", "over", 5, "x"), AM_EFULL);
    AM_ASSERT_CONTAINS(am_errmsg(), "coder:1");
    AM_ASSERT_ERR(send_to(f->c, "coder:1", "dup", 5, "x"), AM_EFULL);
    AM_ASSERT_OK(send_to(f->c, "coder:2", "dup", 5, "x"));
    AM_ASSERT_ERR(send_to(f->c, "coder:3", "dup", 5, "x"), AM_EEXIST); /* ids are unique */

    am_coord_stats before, after;
    AM_ASSERT_OK(am_coord_agent_stats(f->c, "coder:2", &before));
    char big[5000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    static const struct {
        const char *from, *to, *id, *type;
        int prio;
        const char *msg;
    } bad[] = {
        {"planner:1", "coder:2", "b1", "t", 4, "priority"},
        {"planner:1", "coder:2", "b2", "t", -1, "priority"},
        {"", "coder:2", "b3", "t", 5, "sender"},
        {"planner:1", "", "b4", "t", 5, "recipient"},
        {"planner:1", "coder", "b5", "t", 5, "type:instance"},
        {"planner:1", ":1", "b6", "t", 5, "type:instance"},
        {"planner:1", "coder:1:2", "b7", "t", 5, "type:instance"},
        {"planner:1", "coder:2", "bad id", "t", 5, "message id"},
        {"planner:1", "coder:2", "b8", "t\n", 5, "message type"},
        {"planner 1", "coder:2", "b9", "t", 5, "sender"},
        {"planner:1", "coder:\xc3\xa9", "b10", "t", 5, "recipient"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        am_coord_msg m = AM_COORD_MSG_INIT;
        m.from = bad[i].from;
        m.to = bad[i].to;
        m.id = bad[i].id;
        m.type = bad[i].type;
        m.priority = bad[i].prio;
        am_err rc = am_coord_send(f->c, &m);
        if (rc != AM_EINVAL)
            fail_msg("bad send %zu gave %s", i, am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].msg);
    }
    am_coord_msg m = AM_COORD_MSG_INIT;
    m.from = "planner:1";
    m.to = "coder:2";
    m.payload = big;
    m.len = sizeof big;
    AM_ASSERT_ERR(am_coord_send(f->c, &m), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "max_payload_bytes");
    m.payload = NULL;
    m.len = 3;
    AM_ASSERT_ERR(am_coord_send(f->c, &m), AM_EINVAL);
    AM_ASSERT_ERR(am_coord_send(f->c, NULL), AM_EINVAL);
    AM_ASSERT_OK(am_coord_agent_stats(f->c, "coder:2", &after));
    AM_ASSERT_EQ(after.queued[1], before.queued[1]); /* nothing changed */

    am_coord_delivery *d;
    AM_ASSERT_ERR(am_coord_receive(f->c, "", 0, 0, &d), AM_EINVAL);
    AM_ASSERT_ERR(am_coord_receive(f->c, "coder:2", -1, 0, &d), AM_EINVAL);
    AM_ASSERT_ERR(am_coord_receive(f->c, "coder:2", 0, NAN, &d), AM_EINVAL);
    /* An unknown token settles nothing. */
    am_coord_delivery fake = {0};
    fake.id = "dup";
    fake.to = "coder:2";
    fake.token = "999999999";
    AM_ASSERT_ERR(am_coord_ack(f->c, &fake), AM_ENOTFOUND);
    fake.token = "garbage";
    AM_ASSERT_ERR(am_coord_nack(f->c, &fake, false, NULL), AM_ENOTFOUND);
    fake.token = NULL;
    AM_ASSERT_ERR(am_coord_ack(f->c, &fake), AM_EINVAL);
    AM_ASSERT_OK(am_coord_agent_stats(f->c, "coder:2", &after));
    AM_ASSERT_EQ(after.queued[1], before.queued[1]);

    am_coord *c2;
    AM_ASSERT_ERR(am_coord_open("ftp://x", NULL, &c2), AM_EINVAL);
    am_coord_opts bo = AM_COORD_OPTS_INIT;
    bo.backoff_factor = 0.5;
    AM_ASSERT_ERR(am_coord_open(g_uri, &bo, &c2), AM_EINVAL);
    AM_ASSERT_ERR(am_coord_configure(f->c, &bo), AM_EINVAL);
}

static void test_broadcast(void **state)
{
    cfix *f = *state;
    const char *agents[] = {"coder:1", "coder:2", "reviewer:1", "planner:1"};
    for (int i = 0; i < 4; i++)
        AM_ASSERT_OK(am_coord_register(f->c, agents[i]));
    am_coord_msg m = AM_COORD_MSG_INIT;
    m.from = "planner:1";
    m.id = "b";
    m.type = "shutdown";
    size_t n;
    AM_ASSERT_OK(am_coord_broadcast(f->c, &m, "coder", &n));
    AM_ASSERT_EQ(n, 2);
    /* Again, to everyone: the coders have "b" already, the others get it. */
    AM_ASSERT_ERR(am_coord_broadcast(f->c, &m, NULL, &n), AM_EEXIST);
    AM_ASSERT_EQ(n, 1);
    m.id = "all";
    AM_ASSERT_OK(am_coord_broadcast(f->c, &m, NULL, &n));
    AM_ASSERT_EQ(n, 3); /* everyone but the sender */
    am_coord_delivery *d = recv_now(f->c, "coder:2");
    AM_ASSERT_STR_EQ(d->id, "b/coder:2");
    am_coord_delivery_free(d);
    d = recv_now(f->c, "reviewer:1");
    AM_ASSERT_STR_EQ(d->id, "b/reviewer:1");
    am_coord_delivery_free(d);
    d = recv_now(f->c, "reviewer:1");
    AM_ASSERT_STR_EQ(d->id, "all/reviewer:1");
    am_coord_delivery_free(d);
    assert_null(recv_now(f->c, "planner:1"));
}

typedef struct sender_arg {
    am_coord *c;
    double delay;
} sender_arg;

static void *late_sender(void *p)
{
    sender_arg *a = p;
    sleep_s(a->delay);
    send_to(a->c, "coder:9", "late", 5, "x");
    return NULL;
}

static void test_blocking_receive(void **state)
{
    cfix *f = *state;
    am_coord_delivery *d;
    am_timer t = am_timer_start();
    AM_ASSERT_ERR(am_coord_receive(f->c, "coder:9", 0, 0.2, &d), AM_ETIMEDOUT);
    assert_true(am_timer_seconds(&t) >= 0.19);
    sender_arg a = {f->c, 0.1};
    pthread_t th;
    pthread_create(&th, NULL, late_sender, &a);
    t = am_timer_start();
    AM_ASSERT_OK(am_coord_receive(f->c, "coder:9", 0, 5, &d));
    assert_true(am_timer_seconds(&t) < 4); /* woken by the send, not the timeout */
    AM_ASSERT_STR_EQ(d->id, "late");
    AM_ASSERT_OK(am_coord_ack(f->c, d));
    am_coord_delivery_free(d);
    pthread_join(th, NULL);
}

/* Conservation under concurrency: every message is acked exactly once. */
#define CONC_MSGS 2000
static _Atomic int g_held[CONC_MSGS];
static _Atomic int g_acked[CONC_MSGS];
static _Atomic int g_done;

static void *producer(void *p)
{
    am_coord *c = p;
    for (int i = 0; i < CONC_MSGS; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        while (send_to(c, "worker:1", id, (i % 3) * 4 + 1, "work") == AM_EFULL)
            sleep_s(0.001);
    }
    return NULL;
}

static void *consumer(void *p)
{
    am_coord *c = p;
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    while (atomic_load(&g_done) < CONC_MSGS) {
        am_coord_delivery *d;
        if (am_coord_receive(c, "worker:1", 2, 0.05, &d) != AM_OK)
            continue;
        int i = (int)strtol(d->id + 1, NULL, 10);
        if (atomic_fetch_add(&g_held[i], 1) != 0)
            fail_msg("message %s held by two consumers at once", d->id);
        seed = seed * 1103515245 + 12345;
        bool fail = (seed >> 16) % 4 == 0 && d->attempt < 2;
        atomic_fetch_sub(&g_held[i], 1);
        if (fail) {
            AM_ASSERT_OK(am_coord_nack(c, d, false, "flaky"));
        } else {
            AM_ASSERT_OK(am_coord_ack(c, d));
            if (atomic_fetch_add(&g_acked[i], 1) != 0)
                fail_msg("message %s acked twice", d->id);
            atomic_fetch_add(&g_done, 1);
        }
        am_coord_delivery_free(d);
    }
    return NULL;
}

static void test_concurrent_conservation(void **state)
{
    cfix *f = *state;
    for (int i = 0; i < CONC_MSGS; i++) {
        atomic_store(&g_held[i], 0);
        atomic_store(&g_acked[i], 0);
    }
    atomic_store(&g_done, 0);
    pthread_t p, c[3];
    pthread_create(&p, NULL, producer, f->c);
    for (int i = 0; i < 3; i++)
        pthread_create(&c[i], NULL, consumer, f->c);
    pthread_join(p, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(c[i], NULL);
    for (int i = 0; i < CONC_MSGS; i++)
        if (atomic_load(&g_acked[i]) != 1)
            fail_msg("message c%d acked %d times", i, atomic_load(&g_acked[i]));
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(f->c, "worker:1", &st));
    AM_ASSERT_EQ(st.queued[0] + st.queued[1] + st.queued[2] + st.delayed + st.inflight + st.dlq, 0);
}

static void test_metrics_from_state(void **state)
{
    cfix *f = *state;
    AM_ASSERT_OK(send_to(f->c, "coder:1", "m1", 9, "x"));
    AM_ASSERT_OK(send_to(f->c, "coder:1", "m2", 9, "x"));
    AM_ASSERT_OK(send_to(f->c, "coder:1", "m3", 1, "x"));
    am_coord_delivery *d = recv_now(f->c, "coder:1");
    char *text = encode_fresh(f->c, f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"coder:1\",priority=\"9\"} 1\n");
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"coder:1\",priority=\"1\"} 1\n");
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"coder:1\",priority=\"5\"} 0\n");
    AM_ASSERT_CONTAINS(text, "messaging_inflight{agent=\"coder:1\"} 1\n");
    AM_ASSERT_CONTAINS(text, "messaging_dlq_length{agent=\"coder:1\"} 0\n");
    AM_ASSERT_CONTAINS(text, "messaging_sent_total{from_agent=\"planner:1\",to_agent=\"coder:1\","
                             "message_type=\"task\"} 3\n");
    AM_ASSERT_CONTAINS(text,
                       "messaging_queue_wait_seconds_count{agent=\"coder:1\",priority=\"9\"} 1\n");
    AM_ASSERT_CONTAINS(text,
                       "messaging_oldest_message_age_seconds{agent=\"coder:1\",priority=\"9\"}");
    am_free(text);
    AM_ASSERT_OK(am_coord_ack(f->c, d));
    am_coord_delivery_free(d);
    text = encode_fresh(f->c, f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text,
                       "messaging_processing_seconds_count{agent=\"coder:1\",outcome=\"ok\"} 1\n");
    AM_ASSERT_CONTAINS(text, "messaging_inflight{agent=\"coder:1\"} 0\n");
    am_free(text);

    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(f->c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"messaging.queue_length\":{\"coder:1\":{\"1\":1,\"5\":0,\"9\":1}}");
    AM_ASSERT_CONTAINS(snap, "\"messaging.dlq_length\":{\"coder:1\":0}");
    AM_ASSERT_CONTAINS(snap, "\"messaging.delivered.ok\":1");
    AM_ASSERT_CONTAINS(snap, "\"messaging.nacks.total\":0");
    am_free(snap);
    /* The registry's own JSON snapshot keeps the dotted names too. */
    text = encode_fresh(f->c, f->r, AM_FORMAT_JSON);
    AM_ASSERT_CONTAINS(text, "\"messaging.nacks.total\":{\"name\":\"messaging_nacks_total\"");
    AM_ASSERT_CONTAINS(text, "\"messaging.queue_length\":{");
    am_free(text);
}

static _Atomic int g_growth_calls;

static void on_growth(const char *agent, size_t grown, double window_s, void *ud)
{
    (void)window_s;
    (void)ud;
    AM_ASSERT_STR_EQ(agent, "coder:1");
    AM_ASSERT_EQ(grown, 3);
    atomic_fetch_add(&g_growth_calls, 1);
}

static void test_dlq_growth_event(void **state)
{
    cfix *f = *state;
    am_coord_opts o = suite_opts(f->r);
    o.dlq_growth_threshold = 3;
    o.dlq_growth_window_s = 10;
    o.on_dlq_growth = on_growth;
    AM_ASSERT_OK(am_coord_configure(f->c, &o));
    atomic_store(&g_growth_calls, 0);
    for (int i = 0; i < 7; i++) {
        char id[8];
        snprintf(id, sizeof id, "g%d", i);
        AM_ASSERT_OK(send_to(f->c, "coder:1", id, 5, "x"));
        am_coord_delivery *d = recv_now(f->c, "coder:1");
        AM_ASSERT_OK(am_coord_nack(f->c, d, true, "bad"));
        am_coord_delivery_free(d);
    }
    AM_ASSERT_EQ(atomic_load(&g_growth_calls), 2); /* at the 3rd and the 6th */
    char *text = encode_fresh(f->c, f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "messaging_dlq_growth_events_total{agent=\"coder:1\"} 2\n");
    am_free(text);
}

static void test_recover_sweeps(void **state)
{
    cfix *f = *state;
    AM_ASSERT_OK(send_to(f->c, "coder:1", "s1", 5, "x"));
    AM_ASSERT_OK(send_to(f->c, "coder:2", "s2", 5, "x"));
    am_coord_delivery *d1, *d2;
    /* a second: long enough that a sanitizer on a loaded machine still
       recovers before the reservations expire (0.1 s was not) */
    AM_ASSERT_OK(am_coord_receive(f->c, "coder:1", 1.0, 0, &d1));
    AM_ASSERT_OK(am_coord_receive(f->c, "coder:2", 1.0, 0, &d2));
    size_t n;
    AM_ASSERT_OK(am_coord_recover(f->c, &n));
    AM_ASSERT_EQ(n, 0);
    sleep_s(1.2);
    AM_ASSERT_OK(am_coord_recover(f->c, &n));
    AM_ASSERT_EQ(n, 2);
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(f->c, "coder:2", &st));
    AM_ASSERT_EQ(st.queued[1], 1);
    AM_ASSERT_EQ(st.inflight, 0);
    am_coord_delivery_free(d1);
    am_coord_delivery_free(d2);
}

/* A consumer that takes a message and dies, every time: each lapse of
   its visibility counts as an attempt, and the last one dead-letters it
   as max_attempts -- it does not circle the queue for ever. Recovered by
   am_coord_recover(), as a supervisor runs it. */
static void test_expiry_until_dead(void **state)
{
    cfix *f = *state;
    AM_ASSERT_OK(send_to(f->c, "coder:1", "e1", 5, "x"));
    for (unsigned attempt = 1; attempt <= 3; attempt++) {
        am_coord_delivery *d;
        AM_ASSERT_OK(am_coord_receive(f->c, "coder:1", 0.3, 0, &d));
        AM_ASSERT_STR_EQ(d->id, "e1");
        AM_ASSERT_EQ(d->attempt, attempt);
        am_coord_delivery_free(d); /* never settled */
        sleep_s(0.4);
        size_t n = 0;
        AM_ASSERT_OK(am_coord_recover(f->c, &n));
        AM_ASSERT_EQ(n, 1);
    }
    assert_null(recv_now(f->c, "coder:1"));
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(f->c, "coder:1", &st));
    AM_ASSERT_EQ(st.dlq, 1);
    AM_ASSERT_EQ(st.queued[1] + st.delayed + st.inflight, 0);
    am_coord_dlq_entry *e;
    size_t n;
    AM_ASSERT_OK(am_coord_dlq_list(f->c, "coder:1", 10, &e, &n));
    AM_ASSERT_EQ(n, 1);
    AM_ASSERT_STR_EQ(e[0].id, "e1");
    AM_ASSERT_STR_EQ(e[0].reason, "max_attempts");
    AM_ASSERT_EQ(e[0].attempts, 3);
    am_coord_dlq_free(e, n);
    char *text = encode_fresh(f->c, f->r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(
        text, "messaging_dead_lettered_total{agent=\"coder:1\",reason=\"max_attempts\"} 1\n");
    am_free(text);
}

/* Past the first sizes of every table a backend keeps (agents, ids):
   150 agents of 20 messages each. Every agent still finds its own queue,
   every id is still known (a duplicate is refused wherever it is sent),
   and each queue gives back its own messages in order. */
static void test_many_agents_and_ids(void **state)
{
    cfix *f = *state;
    enum { AGENTS = 150, PER = 20 };
    char to[32], id[32];
    for (int a = 0; a < AGENTS; a++) {
        snprintf(to, sizeof to, "worker:%d", a);
        for (int k = 0; k < PER; k++) {
            snprintf(id, sizeof id, "m%d.%d", a, k);
            AM_ASSERT_OK(send_to(f->c, to, id, 5, id));
        }
    }
    for (int a = 0; a < AGENTS; a += 7) {
        snprintf(id, sizeof id, "m%d.%d", a, a % PER);
        AM_ASSERT_ERR(send_to(f->c, "worker:0", id, 5, "again"), AM_EEXIST);
        snprintf(to, sizeof to, "worker:%d", a);
        am_coord_stats st;
        AM_ASSERT_OK(am_coord_agent_stats(f->c, to, &st));
        AM_ASSERT_EQ(st.queued[1], PER);
    }
    for (int a = 0; a < AGENTS; a += 37) {
        snprintf(to, sizeof to, "worker:%d", a);
        for (int k = 0; k < PER; k++) {
            am_coord_delivery *d = recv_now(f->c, to);
            assert_non_null(d);
            snprintf(id, sizeof id, "m%d.%d", a, k);
            AM_ASSERT_STR_EQ(d->id, id);
            AM_ASSERT_EQ(d->len, strlen(id));
            assert_memory_equal(d->payload, id, d->len);
            AM_ASSERT_OK(am_coord_ack(f->c, d));
            am_coord_delivery_free(d);
        }
        assert_null(recv_now(f->c, to));
    }
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(f->c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"worker:149\"");
    am_free(snap);
}

static int coord_suite_run(const char *name)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fields_intact, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_priority_then_fifo, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_visibility_expiry, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_retry_then_dead_letter, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_permanent_and_dlq_ops, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_backpressure_and_refusals, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_broadcast, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_blocking_receive, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_concurrent_conservation, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_metrics_from_state, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_dlq_growth_event, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_recover_sweeps, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_expiry_until_dead, csetup, cteardown),
        cmocka_unit_test_setup_teardown(test_many_agents_and_ids, csetup, cteardown),
    };
    return _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}

#endif
