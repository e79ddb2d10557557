/*
** test_coord_redis.c: the coordinator conformance suite (coord_suite.h)
** against a real redis-server -- once over TCP on 127.0.0.1, once over its
** unix socket -- and then what only Redis can show: scripts reloaded after
** SCRIPT FLUSH, a server killed and restarted under the coordinator,
** poison messages (stored hashes corrupted with redis commands), several
** coordinators and processes sharing one prefix (one queue, totals that
** add up and never go backwards), isolation between prefixes, AUTH and
** database selection, and URIs refused before anything connects; the
** per-agent lengths the scripts keep (exact, repaired when edited by
** hand, migrated from 0.1's layout), keys of the wrong type reported by
** name while every other agent is, and the gauges refreshed in the
** background. Nothing here is timed: how fast is am-bench's business
** (bench_coord_redis.c).
**
** The servers are started by the test itself (redis_fixture.h) and killed
** at exit. Without redis-server on PATH the test says so and exits 77,
** which CTest reports as skipped.
*/
#include "coord_suite.h"
#include "lens_line.h"
#include "redis_fixture.h"

static rf_server g_srv; /* the suite's server */
static char g_exe[512];
static char g_tcp_uri[128], g_unix_uri[160];

static void flush_db(void)
{
    redisReply *r = rf_cmd(&g_srv, "FLUSHALL");
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("FLUSHALL failed");
    freeReplyObject(r);
}

/* Run a redis command on server s that must not fail; the reply freed. */
static void must(const rf_server *s, const char *what, redisReply *r)
{
    (void)s;
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("%s failed: %s", what, r ? r->str : "no connection");
    freeReplyObject(r);
}

static am_coord *open_with(am_registry *r, const char *uri)
{
    am_coord_opts o = suite_opts(r);
    am_coord *c = NULL;
    AM_ASSERT_OK(am_coord_open(uri, &o, &c));
    return c;
}

/* A redis-server of the test's own in s (killed at exit), and a
   coordinator on it with prefix, in a registry of its own (*r). */
static am_coord *open_on_own_server(rf_server *s, const char *prefix, am_registry **r)
{
    if (!rf_start(s, g_exe, 0, NULL))
        fail_msg("cannot start a second redis-server");
    char uri[96];
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/0?prefix=%s", s->port, prefix);
    AM_ASSERT_OK(am_registry_new(r));
    return open_with(*r, uri);
}

static double snap_number(const char *snap, const char *key)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(snap, k);
    if (!p)
        fail_msg("no %s in %s", key, snap);
    return strtod(p + strlen(k), NULL);
}

static double snapshot_total(am_coord *c, const char *key)
{
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    double v = snap_number(snap, key);
    am_free(snap);
    return v;
}

/* The bucket amtest:lens:<n> that holds agent's line, or -1. */
static int bucket_of(const char *agent)
{
    for (int i = 0; i < 64; i++) {
        redisReply *rep = rf_cmd(&g_srv, "HEXISTS amtest:lens:%d %s", i, agent);
        bool here = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
        if (rep)
            freeReplyObject(rep);
        if (here)
            return i;
    }
    return -1;
}

/* agent's line as stored, decoded (lens_line.h); false when none. */
static bool line_of(const char *agent, ll_line *l)
{
    redisReply *rep = rf_cmd(&g_srv, "HGET amtest:lens:%d %s", bucket_of(agent), agent);
    char name[AM_COORD_MAX_NAME + 1];
    bool ok = rep && rep->type == REDIS_REPLY_STRING && ll_decode(rep->str, rep->len, name, l) &&
              strcmp(name, agent) == 0;
    if (rep)
        freeReplyObject(rep);
    return ok;
}

/* Write agent's line by hand: l encoded, or text as it is. */
static void set_line(const char *agent, const ll_line *l, const char *text)
{
    char buf[256];
    size_t n = l ? ll_encode(buf, agent, l) : strlen(text);
    must(&g_srv, "HSET",
         rf_cmd(&g_srv, "HSET amtest:lens:%d %s %b", bucket_of(agent), agent, l ? buf : text, n));
}

/* ------------------------------------------------------------------ */
/* Scripts and connections                                             */
/* ------------------------------------------------------------------ */

static void test_noscript_reload(void **state)
{
    (void)state;
    flush_db();
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord *c = open_with(r, g_tcp_uri);
    must(&g_srv, "SCRIPT FLUSH", rf_cmd(&g_srv, "SCRIPT FLUSH"));
    AM_ASSERT_OK(send_to(c, "coder:1", "n1", 5, "x"));
    must(&g_srv, "SCRIPT FLUSH", rf_cmd(&g_srv, "SCRIPT FLUSH"));
    am_coord_delivery *d = recv_now(c, "coder:1");
    assert_non_null(d);
    AM_ASSERT_STR_EQ(d->id, "n1");
    must(&g_srv, "SCRIPT FLUSH", rf_cmd(&g_srv, "SCRIPT FLUSH"));
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    must(&g_srv, "SCRIPT FLUSH", rf_cmd(&g_srv, "SCRIPT FLUSH"));
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(c, "coder:1", &st));
    AM_ASSERT_EQ(st.queued[1] + st.inflight, 0);
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "messaging_delivered_error_total 0\n");
    am_free(text);
    am_coord_close(c);
    am_registry_free(r);
}

static void test_server_killed_and_restarted(void **state)
{
    (void)state;
    static rf_server s;
    am_registry *r;
    am_coord *c = open_on_own_server(&s, "crash", &r);
    char uri[96];
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/0?prefix=crash", s.port);
    AM_ASSERT_OK(send_to(c, "coder:1", "k1", 5, "x"));
    am_coord_delivery *d = recv_now(c, "coder:1");
    assert_non_null(d);

    rf_stop(&s, SIGKILL);
    AM_ASSERT_ERR(send_to(c, "coder:1", "k2", 5, "x"), AM_EBACKEND);
    AM_ASSERT_CONTAINS(am_errmsg(), "redis at 127.0.0.1:");
    am_coord_delivery *d2;
    AM_ASSERT_ERR(am_coord_receive(c, "coder:1", 0, 0, &d2), AM_EBACKEND);
    AM_ASSERT_ERR(am_coord_receive(c, "coder:1", 0, 0.3, &d2), AM_EBACKEND);
    AM_ASSERT_ERR(am_coord_ack(c, d), AM_EBACKEND);
    AM_ASSERT_ERR(am_coord_nack(c, d, false, "x"), AM_EBACKEND);
    am_coord_stats st;
    AM_ASSERT_ERR(am_coord_agent_stats(c, "coder:1", &st), AM_EBACKEND);
    size_t n;
    AM_ASSERT_ERR(am_coord_recover(c, &n), AM_EBACKEND);
    char *snap;
    size_t len;
    AM_ASSERT_ERR(am_coord_snapshot(c, &snap, &len), AM_EBACKEND);
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "messaging_delivered_error_total 5\n");
    am_free(text);

    /* Back on the same port, empty (no persistence) and with no scripts. */
    if (!rf_start(&s, g_exe, s.port, NULL))
        fail_msg("cannot restart redis-server on port %d", s.port);
    AM_ASSERT_OK(send_to(c, "coder:1", "k3", 9, "y"));
    am_coord_delivery_free(d);
    d = recv_now(c, "coder:1");
    assert_non_null(d);
    AM_ASSERT_STR_EQ(d->id, "k3");
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    /* The errors counted while it was away reach the shared totals too. */
    am_coord_close(c);
    c = open_with(r, uri);
    AM_ASSERT_EQ(snapshot_total(c, "messaging.delivered.error"), 5);
    AM_ASSERT_EQ(snapshot_total(c, "messaging.delivered.ok"), 1);
    am_coord_close(c);
    am_registry_free(r);
    rf_stop(&s, SIGTERM);
}

static void test_open_refused(void **state)
{
    (void)state;
    am_coord *c = NULL;
    char uri[64];
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", free_port());
    AM_ASSERT_ERR(am_coord_open(uri, NULL, &c), AM_EBACKEND);
    AM_ASSERT_CONTAINS(am_errmsg(), "cannot connect");
    assert_null(c);
    AM_ASSERT_ERR(am_coord_open("unix:///nonexistent/r.sock", NULL, &c), AM_EBACKEND);
    AM_ASSERT_CONTAINS(am_errmsg(), "/nonexistent/r.sock");
}

static void test_bad_uris(void **state)
{
    (void)state;
    static const struct {
        const char *uri, *msg;
    } bad[] = {
        {"redis://", "host is empty"},
        {"redis://127.0.0.1:0", "port"},
        {"redis://127.0.0.1:65536", "port"},
        {"redis://127.0.0.1/x", "database"},
        {"redis://127.0.0.1?prefix=a:b", "prefix"},
        {"redis://127.0.0.1?db=1", "path"},
        {"redis://127.0.0.1?pool=0", "pool"},
        {"redis://127.0.0.1?timeout=1", "unknown parameter"},
        {"redis://user@127.0.0.1", "[user]:password"},
        {"unix://relative.sock", "absolute"},
        {"redis://127.0.0.1#frag", "fragment"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        am_coord *c = NULL;
        am_err rc = am_coord_open(bad[i].uri, NULL, &c);
        if (rc != AM_EINVAL)
            fail_msg("%s gave %s (%s)", bad[i].uri, am_err_name(rc), am_errmsg());
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].msg);
        assert_null(c);
    }
    /* A password is never quoted back. */
    am_coord *c = NULL;
    AM_ASSERT_ERR(am_coord_open("redis://:s3cret%zz@127.0.0.1", NULL, &c), AM_EINVAL);
    AM_ASSERT_LACKS(am_errmsg(), "s3cret");
}

/* An ACL user that may not run scripts (a locked-down Redis): the open is
   refused, naming the script it could not load and Redis's reason, and
   leaves nothing open behind. */
static void test_acl_without_scripting(void **state)
{
    (void)state;
    static rf_server s;
    if (!rf_start(&s, g_exe, 0, NULL))
        fail_msg("cannot start a second redis-server");
    redisReply *rep = rf_cmd(&s, "ACL SETUSER bob on >bobpw ~* &* +@all -@scripting");
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        freeReplyObject(rep);
        rf_stop(&s, SIGTERM);
        skip(); /* a server without ACLs */
    }
    freeReplyObject(rep);
    char uri[160];
    snprintf(uri, sizeof uri, "redis://bob:bobpw@127.0.0.1:%d/0?prefix=acl", s.port);
    am_coord *c = NULL;
    AM_ASSERT_ERR(am_coord_open(uri, NULL, &c), AM_EBACKEND);
    assert_null(c);
    AM_ASSERT_CONTAINS(am_errmsg(), "cannot load script");
    AM_ASSERT_CONTAINS(am_errmsg(), "NOPERM");
    AM_ASSERT_LACKS(am_errmsg(), "bobpw");
    rep = rf_cmd(&s, "CLIENT LIST TYPE normal");
    assert_true(rep && rep->type == REDIS_REPLY_STRING);
    AM_ASSERT_LACKS(rep->str, "user=bob"); /* no connection left open */
    freeReplyObject(rep);
    rf_stop(&s, SIGTERM);
}

static void test_auth_and_db(void **state)
{
    (void)state;
    static rf_server s;
    const char *extra[] = {"--requirepass", "p@ss:w rd", "--user", "alice", "on",
                           ">alicepw",      "~*",        "&*",     "+@all", NULL};
    bool has_acl = rf_start(&s, g_exe, 0, extra);
    if (!has_acl) {
        /* without the ACL user (a server that does not take --user) */
        const char *extra2[] = {"--requirepass", "p@ss:w rd", NULL};
        if (!rf_start(&s, g_exe, 0, extra2))
            fail_msg("cannot start redis-server with a password");
    }
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    char uri[160];
    am_coord *c = NULL;
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/3?prefix=auth", s.port);
    AM_ASSERT_ERR(am_coord_open(uri, NULL, &c), AM_EBACKEND);
    AM_ASSERT_CONTAINS(am_errmsg(), "NOAUTH");
    snprintf(uri, sizeof uri, "redis://:wrong@127.0.0.1:%d/3?prefix=auth", s.port);
    AM_ASSERT_ERR(am_coord_open(uri, NULL, &c), AM_EBACKEND);
    AM_ASSERT_CONTAINS(am_errmsg(), "AUTH refused");
    snprintf(uri, sizeof uri, "redis://:p%%40ss%%3Aw%%20rd@127.0.0.1:%d/3?prefix=auth", s.port);
    c = open_with(r, uri);
    AM_ASSERT_OK(send_to(c, "coder:1", "a1", 5, "x"));
    am_coord_close(c);
    /* it went to database 3 */
    redisContext *rc = rf_connect(&s);
    assert_non_null(rc);
    redisReply *rep = redisCommand(rc, "AUTH %s", "p@ss:w rd");
    must(&s, "AUTH", rep);
    rep = redisCommand(rc, "SELECT 3");
    must(&s, "SELECT", rep);
    rep = redisCommand(rc, "EXISTS auth:m:a1");
    assert_true(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1);
    freeReplyObject(rep);
    redisFree(rc);
    snprintf(uri, sizeof uri, "unix://:p%%40ss%%3Aw%%20rd@%s?db=3&prefix=auth", s.sock);
    c = open_with(r, uri);
    am_coord_delivery *d = recv_now(c, "coder:1");
    assert_non_null(d);
    AM_ASSERT_STR_EQ(d->id, "a1");
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    am_coord_close(c);
    /* an ACL user, when the server has one */
    snprintf(uri, sizeof uri, "redis://alice:alicepw@127.0.0.1:%d/3?prefix=auth", s.port);
    if (has_acl) {
        AM_ASSERT_OK(am_coord_open(uri, NULL, &c));
        am_coord_close(c);
        snprintf(uri, sizeof uri, "redis://alice:nope@127.0.0.1:%d/3?prefix=auth", s.port);
        AM_ASSERT_ERR(am_coord_open(uri, NULL, &c), AM_EBACKEND);
        AM_ASSERT_CONTAINS(am_errmsg(), "AUTH refused");
    }
    am_registry_free(r);
    rf_stop(&s, SIGTERM);
}

/* ------------------------------------------------------------------ */
/* Poison                                                              */
/* ------------------------------------------------------------------ */

static void test_poison(void **state)
{
    (void)state;
    flush_db();
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord *c = open_with(r, g_tcp_uri);
    const char *ids[] = {"p-prio", "p-attempt", "p-gone", "p-string", "p-from", "p-time", "good"};
    for (int i = 0; i < 7; i++)
        AM_ASSERT_OK(send_to(c, "coder:1", ids[i], 5, "x"));
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:m:p-prio priority 7"));
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:m:p-attempt attempt abc"));
    must(&g_srv, "DEL", rf_cmd(&g_srv, "DEL amtest:m:p-gone"));
    must(&g_srv, "DEL", rf_cmd(&g_srv, "DEL amtest:m:p-string"));
    must(&g_srv, "SET", rf_cmd(&g_srv, "SET amtest:m:p-string garbage"));
    must(&g_srv, "HDEL", rf_cmd(&g_srv, "HDEL amtest:m:p-from from"));
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:m:p-time enqueued_at nan"));

    am_coord_delivery *d = recv_now(c, "coder:1");
    assert_non_null(d);
    AM_ASSERT_STR_EQ(d->id, "good"); /* the six before it were dead-lettered */
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    am_coord_dlq_entry *e;
    size_t n;
    AM_ASSERT_OK(am_coord_dlq_list(c, "coder:1", 100, &e, &n));
    AM_ASSERT_EQ(n, 6);
    static const char *const why[] = {"priority",   "attempt", "missing",
                                      "not a hash", "from",    "time"};
    for (size_t i = 0; i < n; i++) {
        AM_ASSERT_STR_EQ(e[i].id, ids[i]);
        AM_ASSERT_STR_EQ(e[i].reason, "poison");
        AM_ASSERT_CONTAINS(e[i].error, why[i]);
        AM_ASSERT_STR_EQ(e[i].to, "coder:1");
        assert_true(e[i].dead_at > 0);
    }
    am_coord_dlq_free(e, n);
    char *text = encode_fresh(c, r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text,
                       "messaging_dead_lettered_total{agent=\"coder:1\",reason=\"poison\"} 6\n");
    AM_ASSERT_CONTAINS(text, "messaging_permanent_failures_total 0\n");
    AM_ASSERT_CONTAINS(text, "messaging_dlq_length{agent=\"coder:1\"} 6\n");
    am_free(text);

    /* A poisoned dead letter cannot be replayed by id, and stays; replaying
       all skips it. */
    AM_ASSERT_ERR(am_coord_dlq_replay(c, "coder:1", "p-prio", &n), AM_EINVAL);
    AM_ASSERT_OK(am_coord_dlq_replay(c, "coder:1", NULL, &n));
    AM_ASSERT_EQ(n, 3); /* p-attempt, p-from and p-time: their priority decodes */
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(c, "coder:1", &st));
    AM_ASSERT_EQ(st.dlq, 3);
    /* Replay gave p-attempt fresh attempts, which mended it; p-from and
       p-time come straight back as poison when taken. */
    d = recv_now(c, "coder:1");
    assert_non_null(d);
    AM_ASSERT_STR_EQ(d->id, "p-attempt");
    AM_ASSERT_EQ(d->attempt, 1);
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    assert_null(recv_now(c, "coder:1"));
    AM_ASSERT_OK(am_coord_agent_stats(c, "coder:1", &st));
    AM_ASSERT_EQ(st.dlq, 5);
    AM_ASSERT_EQ(st.queued[1], 0);
    AM_ASSERT_OK(am_coord_dlq_purge(c, "coder:1", &n));
    AM_ASSERT_EQ(n, 5);

    /* Poison met while waiting for a retry, and while reserved: the
       reservation comes back when it expires, and is then found out. */
    AM_ASSERT_OK(send_to(c, "coder:2", "q-delayed", 5, "x"));
    AM_ASSERT_OK(send_to(c, "coder:2", "q-reserved", 5, "x"));
    am_coord_delivery *d1 = recv_now(c, "coder:2");
    AM_ASSERT_OK(am_coord_nack(c, d1, false, "later"));
    am_coord_delivery_free(d1);
    am_coord_delivery *d2;
    AM_ASSERT_OK(am_coord_receive(c, "coder:2", 0.05, 0, &d2));
    AM_ASSERT_STR_EQ(d2->id, "q-reserved");
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:m:q-delayed priority x"));
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:m:q-reserved type %s", ""));
    sleep_s(0.1);
    AM_ASSERT_OK(am_coord_recover(c, &n));
    AM_ASSERT_EQ(n, 1); /* the reservation: back in its queue */
    AM_ASSERT_ERR(am_coord_ack(c, d2), AM_ENOTFOUND);
    am_coord_delivery_free(d2);
    assert_null(recv_now(c, "coder:2")); /* both poisoned on the way out */
    AM_ASSERT_OK(am_coord_dlq_list(c, "coder:2", 100, &e, &n));
    AM_ASSERT_EQ(n, 2);
    AM_ASSERT_STR_EQ(e[0].reason, "poison");
    AM_ASSERT_STR_EQ(e[1].reason, "poison");
    AM_ASSERT_CONTAINS(e[0].error, "priority"); /* promoted first, then popped */
    AM_ASSERT_CONTAINS(e[1].error, "type");
    am_coord_dlq_free(e, n);
    /* A reservation that does not decode is poison when it expires. */
    AM_ASSERT_OK(send_to(c, "coder:3", "r-bad", 5, "x"));
    AM_ASSERT_OK(am_coord_receive(c, "coder:3", 0.05, 0, &d2));
    char member[160];
    snprintf(member, sizeof member, "r-bad\t%s", d2->token);
    must(&g_srv, "ZREM", rf_cmd(&g_srv, "ZREM amtest:if:coder:3 %s", member));
    must(&g_srv, "ZADD", rf_cmd(&g_srv, "ZADD amtest:if:coder:3 0 %s", "r-bad\tgarbage"));
    sleep_s(0.1);
    assert_null(recv_now(c, "coder:3"));
    am_coord_stats st3;
    AM_ASSERT_OK(am_coord_agent_stats(c, "coder:3", &st3));
    AM_ASSERT_EQ(st3.dlq, 1);
    AM_ASSERT_OK(am_coord_dlq_list(c, "coder:3", 100, &e, &n));
    AM_ASSERT_EQ(n, 1);
    AM_ASSERT_STR_EQ(e[0].id, "r-bad");
    AM_ASSERT_CONTAINS(e[0].error, "reservation");
    am_coord_dlq_free(e, n);
    am_coord_delivery_free(d2);
    am_coord_close(c);
    am_registry_free(r);
}

/* One key of the wrong type -- someone SETs a string where a list or a
   hash belongs -- is reported by name, by the snapshot and the gauges,
   which carry on for every other agent (before, the snapshot failed and
   the gauges vanished); the operations that meet it name it too. */
static void test_wrong_type_keys(void **state)
{
    (void)state;
    flush_db();
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord *c = open_with(r, g_tcp_uri);
    AM_ASSERT_OK(send_to(c, "coder:1", "w1", 5, "x"));
    AM_ASSERT_OK(send_to(c, "coder:2", "w2", 9, "x"));
    AM_ASSERT_OK(send_to(c, "coder:3", "w3", 1, "x"));
    AM_ASSERT_OK(send_to(c, "coder:4", "w4a", 5, "x"));
    AM_ASSERT_OK(send_to(c, "coder:4", "w4b", 5, "x"));
    am_coord_delivery *d = recv_now(c, "coder:4"); /* its new head's time: not known */
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    must(&g_srv, "SET", rf_cmd(&g_srv, "SET amtest:q5:coder:1 oops"));
    must(&g_srv, "SET", rf_cmd(&g_srv, "SET amtest:q5:coder:4 oops"));

    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"coder:2\":{\"1\":0,\"5\":0,\"9\":1}");
    AM_ASSERT_CONTAINS(snap, "\"coder:3\":{\"1\":1,\"5\":0,\"9\":0}");
    AM_ASSERT_CONTAINS(snap, "\"coder:1\":{\"1\":0,\"5\":1,\"9\":0}"); /* as last known */
    AM_ASSERT_CONTAINS(snap, "{\"agent\":\"coder:1\",\"key\":\"amtest:q5:coder:1\","
                             "\"error\":\"WRONGTYPE");
    AM_ASSERT_CONTAINS(snap, "\"key\":\"amtest:q5:coder:4\"");
    am_free(snap);
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS); /* the snapshot refreshed them */
    AM_ASSERT_CONTAINS(
        text, "agentmon_coord_key_errors{agent=\"coder:1\",key=\"amtest:q5:coder:1\"} 1\n");
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"coder:2\",priority=\"9\"} 1\n");
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"coder:3\",priority=\"1\"} 1\n");
    am_free(text);
    am_coord_stats st;
    AM_ASSERT_ERR(am_coord_agent_stats(c, "coder:1", &st), AM_EBACKEND);
    AM_ASSERT_CONTAINS(am_errmsg(), "amtest:q5:coder:1");
    size_t n_rec;
    AM_ASSERT_OK(am_coord_recover(c, &n_rec)); /* skips coder:1 and coder:4, says so */
    AM_ASSERT_OK(am_coord_agent_stats(c, "coder:2", &st));
    AM_ASSERT_EQ(st.queued[2], 1);

    /* Mended (the string deleted: the message w1 is lost with the list):
       the next audit repairs coder:1's line and forgets the key. */
    must(&g_srv, "DEL", rf_cmd(&g_srv, "DEL amtest:q5:coder:1 amtest:q5:coder:4"));
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_LACKS(snap, "\"errors\"");
    AM_ASSERT_CONTAINS(snap, "\"coder:1\":{\"1\":0,\"5\":0,\"9\":0}");
    am_free(snap);

    /* The DLQ's list, the counters' hash, the agents hash itself. */
    must(&g_srv, "SET", rf_cmd(&g_srv, "SET amtest:dlq:coder:3 oops"));
    am_coord_dlq_entry *e;
    size_t n;
    AM_ASSERT_ERR(am_coord_dlq_list(c, "coder:3", 10, &e, &n), AM_EBACKEND);
    AM_ASSERT_CONTAINS(am_errmsg(), "amtest:dlq:coder:3");
    must(&g_srv, "SET", rf_cmd(&g_srv, "SET amtest:totals oops"));
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"key\":\"amtest:totals\"");
    AM_ASSERT_CONTAINS(snap, "\"key\":\"amtest:dlq:coder:3\"");
    AM_ASSERT_CONTAINS(snap, "\"messaging.sent.total\":5"); /* this process's, at least */
    AM_ASSERT_CONTAINS(snap, "\"coder:2\":{\"1\":0,\"5\":0,\"9\":1}");
    am_free(snap);
    /* One of the 64 hashes of lines: its agents are lost to the snapshot
       (until recover or their next operation counts them again), not the
       others. */
    int b2 = bucket_of("coder:2"), b3 = bucket_of("coder:3");
    assert_true(b2 >= 0 && b3 >= 0);
    if (b2 == b3)
        skip(); /* the names were chosen to land apart */
    must(&g_srv, "DEL", rf_cmd(&g_srv, "DEL amtest:lens:%d", b2));
    must(&g_srv, "SET", rf_cmd(&g_srv, "SET amtest:lens:%d oops", b2));
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_LACKS(snap, "\"coder:2\":{");
    AM_ASSERT_CONTAINS(snap, "\"coder:3\":{\"1\":1,\"5\":0,\"9\":0}");
    char want[96];
    snprintf(want, sizeof want, "{\"agent\":\"\",\"key\":\"amtest:lens:%d\",\"error\":\"WRONGTYPE",
             b2);
    AM_ASSERT_CONTAINS(snap, want);
    am_free(snap);
    AM_ASSERT_OK(am_coord_recover(c, &n_rec)); /* skips that hash, says so */
    /* a field that cannot be an agent's name, in a hash of lines */
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:lens:%d %s %s", b3, "not a name", "x y"));
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "a field that is not an agent name");
    AM_ASSERT_CONTAINS(snap, "\"coder:3\":{\"1\":1,\"5\":0,\"9\":0}");
    am_free(snap);
    /* and the legacy hash of 0.1, written over: not ours, not read */
    must(&g_srv, "SET", rf_cmd(&g_srv, "SET amtest:agents oops"));
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    am_free(snap);
    am_coord_close(c);
    am_registry_free(r);
}

/* A Redis that 0.1 used -- its hash agents (agent -> messages waiting)
   and next (agent -> next timer), the same queues and messages -- is
   moved to the lines by the first snapshot (or recover), and nothing is
   lost on the way. */
static void test_migrates_01_layout(void **state)
{
    (void)state;
    flush_db();
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord *c = open_with(r, g_tcp_uri);
    AM_ASSERT_OK(send_to(c, "coder:1", "m1", 5, "x"));
    AM_ASSERT_OK(send_to(c, "coder:1", "m2", 9, "x"));
    AM_ASSERT_OK(send_to(c, "coder:2", "m3", 1, "x"));
    am_coord_delivery *d;
    AM_ASSERT_OK(am_coord_receive(c, "coder:2", 60, 0, &d));
    /* the 0.1 layout, as its scripts left it */
    for (int i = 0; i < 64; i++)
        must(&g_srv, "DEL", rf_cmd(&g_srv, "DEL amtest:lens:%d", i));
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:agents coder:1 2 coder:2 0 idle:1 0"));
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:next coder:2 %.6f", d->received_at + 60));
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"coder:1\":{\"1\":0,\"5\":1,\"9\":1}");
    AM_ASSERT_CONTAINS(snap, "\"coder:2\":{\"1\":0,\"5\":0,\"9\":0}");
    AM_ASSERT_CONTAINS(snap, "\"idle:1\":{\"1\":0,\"5\":0,\"9\":0}");
    AM_ASSERT_CONTAINS(snap, "\"messaging.inflight\":{");
    AM_ASSERT_CONTAINS(snap, "\"coder:2\":1");
    am_free(snap);
    redisReply *rep = rf_cmd(&g_srv, "EXISTS amtest:agents amtest:next");
    assert_true(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0);
    freeReplyObject(rep);
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    d = recv_now(c, "coder:1");
    AM_ASSERT_STR_EQ(d->id, "m2");
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(c, "coder:1", &st));
    AM_ASSERT_EQ(st.queued[1], 1);
    /* recover migrates too */
    must(&g_srv, "HSET", rf_cmd(&g_srv, "HSET amtest:agents late:1 0"));
    size_t n;
    AM_ASSERT_OK(am_coord_recover(c, &n));
    assert_true(bucket_of("late:1") >= 0);
    am_coord_close(c);
    am_registry_free(r);
}

/* Encode r until its text has want (polled: the background refresh runs
   every second); the last text, owned. Fails after ~10 s. */
static char *encode_until(am_registry *r, const char *want)
{
    for (int i = 0; i < 100; i++) {
        char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
        if (strstr(text, want))
            return text;
        am_free(text);
        sleep_s(0.1);
    }
    fail_msg("the gauges never showed %s", want);
    return NULL;
}

/* A scrape never reads Redis: the gauges come from the last snapshot,
   which the coordinator's thread refreshes (the first scrape wakes it);
   while Redis is away they keep their last values, and say how old they
   are and how many refreshes failed. */
static void test_gauges_refreshed_in_background(void **state)
{
    (void)state;
    static rf_server s;
    am_registry *r;
    am_coord *c = open_on_own_server(&s, "bg", &r);
    AM_ASSERT_OK(send_to(c, "coder:1", "g1", 9, "x"));
    char *text = encode_until(r, "messaging_queue_length{agent=\"coder:1\",priority=\"9\"} 1\n");
    AM_ASSERT_CONTAINS(text, "agentmon_coord_snapshot_refresh_failures_total 0\n");
    am_free(text);
    AM_ASSERT_OK(send_to(c, "coder:1", "g2", 9, "x"));
    am_free(encode_until(r, "messaging_queue_length{agent=\"coder:1\",priority=\"9\"} 2\n"));

    rf_stop(&s, SIGKILL);
    text = encode_until(r, "agentmon_coord_snapshot_refresh_failures_total 2\n");
    AM_ASSERT_CONTAINS(text, "messaging_queue_length{agent=\"coder:1\",priority=\"9\"} 2\n");
    const char *age = strstr(text, "\nagentmon_coord_snapshot_age_seconds ");
    assert_non_null(age);
    assert_true(strtod(age + 37, NULL) >= 1); /* two refreshes a second apart went missing */
    am_free(text);
    if (!rf_start(&s, g_exe, s.port, NULL))
        fail_msg("cannot restart redis-server on port %d", s.port);
    /* empty now (no persistence): the agent is gone from the snapshot */
    for (int i = 0; i < 100; i++) {
        text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
        bool gone = !strstr(text, "messaging_queue_length{agent=\"coder:1\"");
        am_free(text);
        if (gone)
            break;
        assert_true(i < 99);
        sleep_s(0.1);
    }
    am_coord_close(c);
    am_registry_free(r);
    rf_stop(&s, SIGTERM);
}

/* The thread's current trace context travels whole, tracestate included
   (the generic layer once handed the backend a dangling tracestate). */
static void test_current_trace_travels(void **state)
{
    (void)state;
    flush_db();
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord *c = open_with(r, g_tcp_uri);
    am_trace_ctx t;
    am_trace_new(&t);
    AM_ASSERT_OK(am_tracestate_set(&t, "vendor=abc,other=x y", 20));
    am_trace_set_current(&t);
    AM_ASSERT_OK(send_to(c, "coder:1", "tr1", 5, "x"));
    am_trace_clear_current();
    am_coord_delivery *d = recv_now(c, "coder:1");
    assert_non_null(d);
    assert_true(am_trace_ctx_is_valid(&d->trace));
    assert_memory_equal(d->trace.trace_id, t.trace_id, AM_TRACE_ID_SIZE);
    AM_ASSERT_STR_EQ(d->trace.tracestate, "vendor=abc,other=x y");
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    am_coord_close(c);
    am_registry_free(r);
}

static long long repairs_recorded(void)
{
    redisReply *rep = rf_cmd(&g_srv, "HGET amtest:totals lens_repairs");
    long long v = rep && rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
    if (rep)
        freeReplyObject(rep);
    return v;
}

/* The lines the scripts keep (lib_lens.lua) are exact, and one damaged by
   hand is found and repaired: by the send it would refuse, by the next
   script that reads it when it does not parse, by the audit of a
   snapshot, and by recover -- never trusted to lose a message. */
static void test_lines_repair(void **state)
{
    (void)state;
    flush_db();
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord *c = open_with(r, g_tcp_uri); /* max_queue 50 */
    AM_ASSERT_OK(send_to(c, "coder:1", "b1", 5, "x"));
    ll_line l;
    assert_true(line_of("coder:1", &l)); /* 0 1 0 0 0 0, b1's time, none, none; none */
    AM_ASSERT_EQ(l.counts[1], 1);
    AM_ASSERT_EQ(l.counts[0] + l.counts[2] + l.counts[3] + l.counts[4] + l.counts[5], 0);
    assert_true(l.heads[1] > 1e9 && l.heads[0] == LL_NONE && l.heads[2] == LL_NONE);
    assert_true(l.next == LL_NONE);
    /* a line that says "full": the lists say otherwise, and are believed */
    l.counts[1] = 999;
    set_line("coder:1", &l, NULL);
    AM_ASSERT_OK(send_to(c, "coder:1", "b2", 5, "x"));
    assert_true(line_of("coder:1", &l) && l.counts[1] == 2);
    /* one that does not parse (0.1's count): counted again */
    set_line("coder:1", NULL, "3");
    AM_ASSERT_OK(send_to(c, "coder:1", "b3", 5, "x"));
    assert_true(line_of("coder:1", &l) && l.counts[1] == 3);
    /* one that says too little: stats reads the keys; a snapshot's audit
       repairs it (and counts the repair) before it reads the lines */
    ll_line zero = {{0}, {LL_NONE, LL_NONE, LL_NONE}, LL_NONE};
    set_line("coder:1", &zero, NULL);
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(c, "coder:1", &st));
    AM_ASSERT_EQ(st.queued[1], 3);
    assert_true(st.oldest_age_s[1] >= 0 && st.oldest_age_s[1] < 60);
    AM_ASSERT_EQ(repairs_recorded(), 0);
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"coder:1\":{\"1\":0,\"5\":3,\"9\":0}");
    am_free(snap);
    AM_ASSERT_EQ(repairs_recorded(), 1);
    /* a lost next timer: take no longer looks for the expiry, recover does */
    am_coord_delivery *d;
    AM_ASSERT_OK(am_coord_receive(c, "coder:1", 0.05, 0, &d));
    assert_true(line_of("coder:1", &l) && l.next > 1e9);
    l.next = LL_NONE;
    set_line("coder:1", &l, NULL);
    sleep_s(0.1);
    am_coord_delivery *d2 = recv_now(c, "coder:1");
    if (repairs_recorded() != 1) {
        /* The background refresh's snapshot audited this bucket too, late
           on a loaded machine, and repaired the line before this take: the
           expiry was seen, as it must be once repaired (or repaired just
           after it). What a lost timer does cannot be observed this time. */
        AM_ASSERT_OK(am_coord_ack(c, d2));
        am_coord_delivery_free(d2);
        am_coord_delivery_free(d);
        am_coord_close(c);
        am_registry_free(r);
        return;
    }
    AM_ASSERT_STR_EQ(d2->id, "b2"); /* not b1: its expiry went unseen */
    AM_ASSERT_OK(am_coord_ack(c, d2));
    am_coord_delivery_free(d2);
    size_t n;
    AM_ASSERT_OK(am_coord_recover(c, &n));
    AM_ASSERT_EQ(n, 1);
    AM_ASSERT_EQ(repairs_recorded(), 2);
    d2 = recv_now(c, "coder:1");
    assert_non_null(d2);
    AM_ASSERT_STR_EQ(d2->id, d->id); /* back at the front */
    AM_ASSERT_EQ(d2->attempt, 2);
    AM_ASSERT_ERR(am_coord_ack(c, d), AM_ENOTFOUND);
    AM_ASSERT_OK(am_coord_ack(c, d2));
    am_coord_delivery_free(d);
    am_coord_delivery_free(d2);
    AM_ASSERT_OK(am_coord_agent_stats(c, "coder:1", &st));
    AM_ASSERT_EQ(st.queued[1] + st.inflight, 1);
    am_coord_close(c);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Many coordinators, many processes                                   */
/* ------------------------------------------------------------------ */

typedef struct waiter {
    am_coord *c;
    am_coord_delivery *d;
    am_err rc;
} waiter;

static void *wait_for_one(void *p)
{
    waiter *w = p;
    w->rc = am_coord_receive(w->c, "shared:1", 0, 5, &w->d);
    return NULL;
}

static void test_two_coordinators_share(void **state)
{
    (void)state;
    flush_db();
    am_registry *r1, *r2;
    AM_ASSERT_OK(am_registry_new(&r1));
    AM_ASSERT_OK(am_registry_new(&r2));
    am_coord *c1 = open_with(r1, g_tcp_uri), *c2 = open_with(r2, g_unix_uri);
    for (int i = 0; i < 10; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        AM_ASSERT_OK(send_to(c1, "shared:1", id, 5, "x"));
    }
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(c2, "shared:1", &st));
    AM_ASSERT_EQ(st.queued[1], 10); /* one queue */
    for (int i = 0; i < 10; i++) {
        am_coord_delivery *d = recv_now(c2, "shared:1");
        assert_non_null(d);
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        AM_ASSERT_STR_EQ(d->id, id);
        AM_ASSERT_OK(am_coord_ack(i % 2 ? c1 : c2, d)); /* either may settle it */
        am_coord_delivery_free(d);
    }
    AM_ASSERT_OK(am_coord_agent_stats(c1, "shared:1", &st));
    AM_ASSERT_EQ(st.queued[1] + st.inflight, 0);

    /* A receiver blocked in one coordinator wakes on a send from another
       (how soon: coord_redis_wake_ms in am-bench). */
    waiter w = {c2, NULL, AM_OK};
    pthread_t th;
    pthread_create(&th, NULL, wait_for_one, &w);
    sleep_s(0.2);
    AM_ASSERT_OK(send_to(c1, "shared:1", "wake", 5, "x"));
    pthread_join(th, NULL);
    AM_ASSERT_OK(w.rc);
    AM_ASSERT_STR_EQ(w.d->id, "wake");
    AM_ASSERT_OK(am_coord_ack(c2, w.d));
    am_coord_delivery_free(w.d);

    /* Totals: each snapshot reports both, flushed or not. */
    AM_ASSERT_EQ(snapshot_total(c1, "messaging.sent.total"), 11);
    double ok1 = snapshot_total(c1, "messaging.delivered.ok");
    assert_true(ok1 >= 5 && ok1 <= 11); /* its own 5, and c2's once flushed */
    sleep_s(1.3);                       /* the flusher runs every second */
    AM_ASSERT_EQ(snapshot_total(c1, "messaging.delivered.ok"), 11);
    AM_ASSERT_EQ(snapshot_total(c2, "messaging.delivered.ok"), 11);
    AM_ASSERT_EQ(snapshot_total(c2, "messaging.sent.total"), 11);
    /* Closing one loses nothing: counters never go backwards. */
    AM_ASSERT_OK(send_to(c2, "shared:1", "last", 5, "x"));
    am_coord_close(c2);
    AM_ASSERT_EQ(snapshot_total(c1, "messaging.sent.total"), 12);
    am_coord_close(c1);
    am_registry_free(r1);
    am_registry_free(r2);
}

static void test_processes_share(void **state)
{
    (void)state;
    flush_db();
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord *c = open_with(r, g_tcp_uri);
    for (int i = 0; i < 20; i++)
        AM_ASSERT_OK(send_to(c, "proc:1", NULL, 9, "x"));
    fflush(NULL);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            /* a fresh process (this program again): see child_main */
            execl("/proc/self/exe", "test_coord_redis", "--child", k ? g_unix_uri : g_tcp_uri,
                  (char *)NULL);
            _exit(127);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("child %d failed (status %d)", k, st);
    }
    /* the children closed, so their counts are in Redis now */
    AM_ASSERT_EQ(snapshot_total(c, "messaging.delivered.ok"), 20);
    AM_ASSERT_EQ(snapshot_total(c, "messaging.sent.total"), 20);
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"backend\":\"redis\"");
    AM_ASSERT_CONTAINS(snap, "\"messaging.queue_length\":{\"proc:1\":{\"1\":0,\"5\":0,\"9\":0}}");
    am_free(snap);
    am_coord_close(c);
    am_registry_free(r);
}

static void test_prefixes_are_separate(void **state)
{
    (void)state;
    flush_db();
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    char other[160];
    snprintf(other, sizeof other, "redis://127.0.0.1:%d?prefix=other", g_srv.port);
    am_coord *a = open_with(r, g_tcp_uri), *b = open_with(r, other);
    AM_ASSERT_OK(send_to(a, "coder:1", "same-id", 5, "a"));
    AM_ASSERT_OK(send_to(b, "coder:1", "same-id", 5, "b")); /* ids are per prefix */
    am_coord_delivery *d = recv_now(b, "coder:1");
    assert_non_null(d);
    AM_ASSERT_STR_EQ((char *)d->payload, "b");
    AM_ASSERT_OK(am_coord_ack(b, d));
    am_coord_delivery_free(d);
    assert_null(recv_now(b, "coder:1"));
    d = recv_now(a, "coder:1");
    AM_ASSERT_STR_EQ((char *)d->payload, "a");
    AM_ASSERT_OK(am_coord_ack(a, d));
    am_coord_delivery_free(d);
    am_coord_close(a);
    am_coord_close(b);
    am_registry_free(r);
}

/* The other process of test_processes_share: its own coordinator on uri,
   10 acks, a clean close (which adds its counts to Redis's totals). */
static int child_main(const char *uri)
{
    am_registry *r;
    am_coord *c;
    am_coord_opts o = suite_opts(NULL);
    if (am_registry_new(&r) != AM_OK)
        return 2;
    o.registry = r;
    if (am_coord_open(uri, &o, &c) != AM_OK)
        return 3;
    for (int done = 0; done < 10; done++) {
        am_coord_delivery *d;
        if (am_coord_receive(c, "proc:1", 0, 2, &d) != AM_OK)
            return 4;
        if (am_coord_ack(c, d) != AM_OK)
            return 5;
        am_coord_delivery_free(d);
    }
    am_coord_close(c);
    am_registry_free(r);
    am_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    if (!rf_find(g_exe, sizeof g_exe)) {
        printf("SKIP: redis-server is not installed (apt-get install redis-server)\n");
        return 77;
    }
    if (!rf_start(&g_srv, g_exe, 0, NULL)) {
        printf("FAIL: cannot start %s\n", g_exe);
        return 1;
    }
    snprintf(g_tcp_uri, sizeof g_tcp_uri, "redis://127.0.0.1:%d/0?prefix=amtest", g_srv.port);
    snprintf(g_unix_uri, sizeof g_unix_uri, "unix://%s?db=0&prefix=amtest", g_srv.sock);
    g_reset = flush_db;
    g_uri = g_tcp_uri;
    int rc = coord_suite_run("coordinator conformance: redis over tcp");
    g_uri = g_unix_uri;
    rc |= coord_suite_run("coordinator conformance: redis over a unix socket");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noscript_reload),
        cmocka_unit_test(test_server_killed_and_restarted),
        cmocka_unit_test(test_open_refused),
        cmocka_unit_test(test_bad_uris),
        cmocka_unit_test(test_auth_and_db),
        cmocka_unit_test(test_acl_without_scripting),
        cmocka_unit_test(test_poison),
        cmocka_unit_test(test_lines_repair),
        cmocka_unit_test(test_wrong_type_keys),
        cmocka_unit_test(test_migrates_01_layout),
        cmocka_unit_test(test_gauges_refreshed_in_background),
        cmocka_unit_test(test_current_trace_travels),
        cmocka_unit_test(test_two_coordinators_share),
        cmocka_unit_test(test_processes_share),
        cmocka_unit_test(test_prefixes_are_separate),
    };
    rc |= cmocka_run_group_tests_name("coordinator: redis only", tests, NULL, NULL);
    am_shutdown();
    return rc;
}
