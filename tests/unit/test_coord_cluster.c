/*
** test_coord_cluster.c: the coordinator on a real Redis Cluster -- three
** masters with a replica each, started by the test (cluster_fixture.h) --
** first the conformance suite (coord_suite.h) unchanged, then what only a
** cluster can show: every key of an agent in its bucket's slot, on the
** master that serves it (and the scripts, run with the "#!lua" shebang,
** refused by Redis if one reached into a second slot); key slots computed
** as Redis computes them and the buckets spread evenly over the masters;
** ids unique across agents whose messages are in different slots (claims
** made, reused, released, taken over when left behind); totals summed
** over the buckets; scripts loaded on nodes that never saw them; MOVED
** and ASK followed while a bucket's slot is migrated to another master;
** and a master killed (kill -9) with its replica promoted: what was
** confirmed before survives, and the coordinator finds the new master.
** Nothing here is timed (am-bench: bench_coord_cluster.c).
**
** Without redis-server on PATH the test says so and exits 77 (skipped).
*/
#include "coord_suite.h"
#include "cluster_fixture.h"
#include "coord/coord_redis.h"

static cl_cluster g_cl;
static char g_cluster_uri[256];

/* FLUSHALL on every master (replicas refuse it, and follow). */
static void flush_cluster(void)
{
    for (int i = 0; i < CL_NODES; i++) {
        if (!g_cl.node[i].pid)
            continue;
        redisReply *r = rf_cmd(&g_cl.node[i], "FLUSHALL");
        if (r)
            freeReplyObject(r);
        r = rf_cmd(&g_cl.node[i], "WAIT 1 1000");
        if (r)
            freeReplyObject(r);
    }
}

/* A command on the node that serves key's slot (following MOVED, as a
   plain cluster client would), reply or NULL. */
static redisReply *cl_cmd_key(const char *key, const char *fmt, ...)
{
    int slot = am__redis_key_slot(key, strlen(key));
    int m = cl_master_of_slot(&g_cl, slot);
    if (m < 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = rf_vcmd(&g_cl.node[m], fmt, ap);
    va_end(ap);
    return r;
}

static am_coord *open_cluster(am_registry **r)
{
    AM_ASSERT_OK(am_registry_new(r));
    am_coord_opts o = suite_opts(*r);
    am_coord *c = NULL;
    AM_ASSERT_OK(am_coord_open(g_cluster_uri, &o, &c));
    return c;
}

/* The key "amtest:{<tag>}:<what>" in the bucket of name. */
static void bkey(const char *name, const char *what, char *out, size_t cap)
{
    char tag[AM__REDIS_TAG_MAX];
    am__redis_bucket_tag(am__redis_bucket(name, strlen(name)), tag, NULL);
    snprintf(out, cap, "amtest:{%s}:%s", tag, what);
}

/* ------------------------------------------------------------------ */
/* Slots and buckets                                                   */
/* ------------------------------------------------------------------ */

static void test_slots_as_redis_computes_them(void **state)
{
    (void)state;
    AM_ASSERT_EQ(am__redis_crc16("123456789", 9), 0x31C3);
    static const char *const keys[] = {"foo",   "bar",      "{user1000}.following",
                                       "{}x",   "x{}",      "{a}{b}",
                                       "a{b",   "a}b{c}",   "amtest:{0.178}:lens",
                                       "{{x}}", "coder:1",  "ao:{17.139}:m:coder:1:id-9",
                                       "",      "\xff\x01", "a{bc}d{e}"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        redisReply *r = rf_cmd(&g_cl.node[0], "CLUSTER KEYSLOT %b", keys[i], strlen(keys[i]));
        long long want = cl_int(r);
        if (am__redis_key_slot(keys[i], strlen(keys[i])) != want)
            fail_msg("slot of \"%s\": ours %d, redis %lld", keys[i],
                     am__redis_key_slot(keys[i], strlen(keys[i])), want);
    }
    /* each bucket's tag in its 256 slots; 21, 21 and 22 on the masters */
    int per_master[CL_NODES] = {0};
    for (int n = 0; n < AM__REDIS_BUCKETS; n++) {
        char tag[AM__REDIS_TAG_MAX];
        int slot;
        am__redis_bucket_tag(n, tag, &slot);
        AM_ASSERT_EQ(slot / 256, n);
        AM_ASSERT_EQ(am__redis_key_slot(tag, strlen(tag)), slot);
        per_master[cl_master_of_slot(&g_cl, slot)]++;
    }
    AM_ASSERT_EQ(per_master[0], 21);
    AM_ASSERT_EQ(per_master[1], 21);
    AM_ASSERT_EQ(per_master[2], 22);
    /* the bucket of a name, as the scripts compute it (lens_key) */
    AM_ASSERT_EQ(am__redis_bucket("coder:1", 7), am__redis_bucket("coder:1", 7));
    uint64_t h = 0;
    for (const char *p = "planner:42"; *p; p++)
        h = (h * 31 + (unsigned char)*p) % 1000003;
    AM_ASSERT_EQ(am__redis_bucket("planner:42", 10), (int)(h * 2654435761u % 4294967296u >> 26));
}

/* Every key under the prefix, on every master, lies in the slot of the
   bucket its name says, and on the master that serves that slot. */
static void test_every_key_in_its_agents_slot(void **state)
{
    (void)state;
    flush_cluster();
    am_registry *r;
    am_coord *c = open_cluster(&r);
    const char *agents[] = {"coder:1", "coder:2", "reviewer:7", "planner:3", "tester:11"};
    for (int i = 0; i < 5; i++) {
        for (int k = 0; k < 4; k++) {
            char id[32];
            snprintf(id, sizeof id, "k%d-%d", i, k);
            AM_ASSERT_OK(send_to(c, agents[i], id, k % 2 ? 9 : 1, "x"));
        }
        am_coord_delivery *d;
        AM_ASSERT_OK(am_coord_receive(c, agents[i], 0, 0, &d)); /* in flight */
        am_coord_delivery_free(d);
        AM_ASSERT_OK(am_coord_receive(c, agents[i], 0, 0, &d));
        AM_ASSERT_OK(am_coord_nack(c, d, true, "x")); /* a DLQ */
        am_coord_delivery_free(d);
        AM_ASSERT_OK(am_coord_receive(c, agents[i], 0, 0, &d));
        AM_ASSERT_OK(am_coord_nack(c, d, false, "x")); /* delayed */
        am_coord_delivery_free(d);
    }
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    am_free(snap);
    size_t keys = 0;
    for (int m = 0; m < 3; m++) {
        char cur[32] = "0";
        do {
            redisReply *rep = rf_cmd(&g_cl.node[m], "SCAN %s MATCH amtest:* COUNT 1000", cur);
            assert_non_null(rep);
            snprintf(cur, sizeof cur, "%s", rep->element[0]->str);
            for (size_t i = 0; i < rep->element[1]->elements; i++) {
                const char *k = rep->element[1]->element[i]->str;
                keys++;
                /* "amtest:{<n>.<k>}:..." */
                int n = -1;
                const char *open = strchr(k, '{');
                if (open)
                    n = (int)strtol(open + 1, NULL, 10);
                if (!open || n < 0 || n >= AM__REDIS_BUCKETS)
                    fail_msg("key %s carries no bucket tag", k);
                char tag[AM__REDIS_TAG_MAX];
                int slot;
                am__redis_bucket_tag(n, tag, &slot);
                AM_ASSERT_EQ(am__redis_key_slot(k, strlen(k)), slot);
                AM_ASSERT_EQ(cl_master_of_slot(&g_cl, slot), m);
                /* an agent's key is in the agent's bucket */
                const char *agent = NULL;
                for (int a = 0; a < 5 && !agent; a++)
                    if (strstr(k, agents[a]))
                        agent = agents[a];
                if (agent && !strstr(k, ":ids"))
                    AM_ASSERT_EQ(am__redis_bucket(agent, strlen(agent)), n);
            }
            freeReplyObject(rep);
        } while (strcmp(cur, "0") != 0);
    }
    assert_true(keys > 20);
    am_coord_close(c);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Ids across slots                                                    */
/* ------------------------------------------------------------------ */

/* Two agents whose buckets are on different masters. */
static void two_far_agents(char *a, char *b, size_t cap)
{
    snprintf(a, cap, "far:0");
    int ma = cl_master_of_slot(&g_cl, 256 * am__redis_bucket(a, strlen(a)) + 128);
    for (int i = 1; i < 1000; i++) {
        snprintf(b, cap, "far:%d", i);
        int mb = cl_master_of_slot(&g_cl, 256 * am__redis_bucket(b, strlen(b)) + 128);
        if (mb != ma)
            return;
    }
    fail_msg("no two agents on different masters");
}

static void test_ids_unique_across_slots(void **state)
{
    (void)state;
    flush_cluster();
    am_registry *r;
    am_coord *c = open_cluster(&r);
    char a[32], b[32];
    two_far_agents(a, b, sizeof a);
    AM_ASSERT_OK(send_to(c, a, "same", 5, "x"));
    AM_ASSERT_ERR(send_to(c, b, "same", 5, "x"), AM_EEXIST);
    AM_ASSERT_CONTAINS(am_errmsg(), a);
    AM_ASSERT_ERR(send_to(c, a, "same", 5, "x"), AM_EEXIST); /* the same agent: send.lua says */
    /* acked: the claim is released, and the id may go anywhere */
    am_coord_delivery *d;
    AM_ASSERT_OK(am_coord_receive(c, a, 0, 0, &d));
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    char ids_key[96], field[256];
    bkey("same", "ids", ids_key, sizeof ids_key);
    redisReply *rep = cl_cmd_key(ids_key, "HEXISTS %s same", ids_key);
    AM_ASSERT_EQ(cl_int(rep), 0);
    AM_ASSERT_OK(send_to(c, b, "same", 5, "x"));
    AM_ASSERT_ERR(send_to(c, a, "same", 5, "x"), AM_EEXIST);

    /* a claim left behind (its sender killed before send.lua): fresh, it
       is taken to be a send under way; old, it is taken over */
    long long now_ms = (long long)(am_unix_time() * 1000);
    snprintf(field, sizeof field, "%s\tdead.1\t%lld", a, now_ms);
    bkey("orphan", "ids", ids_key, sizeof ids_key);
    rep = cl_cmd_key(ids_key, "HSET %s orphan %s", ids_key, field);
    AM_ASSERT_EQ(cl_int(rep), 1);
    AM_ASSERT_ERR(send_to(c, b, "orphan", 5, "x"), AM_EEXIST);
    AM_ASSERT_CONTAINS(am_errmsg(), "under way");
    snprintf(field, sizeof field, "%s\tdead.1\t%lld", a, now_ms - 120000);
    rep = cl_cmd_key(ids_key, "HSET %s orphan %s", ids_key, field);
    AM_ASSERT_EQ(cl_int(rep), 0);
    AM_ASSERT_OK(send_to(c, b, "orphan", 5, "x"));
    /* ... and one for the same agent is reused at once */
    snprintf(field, sizeof field, "%s\tdead.2\t%lld", a, now_ms);
    rep = cl_cmd_key(ids_key, "HSET %s orphan2 %s", ids_key, field);
    AM_ASSERT_EQ(cl_int(rep), 1);
    AM_ASSERT_OK(send_to(c, a, "orphan2", 5, "x"));
    /* a claim that is not ours to parse (written by hand) is taken over */
    rep = cl_cmd_key(ids_key, "HSET %s junk nonsense", ids_key);
    AM_ASSERT_EQ(cl_int(rep), 1);
    AM_ASSERT_OK(send_to(c, a, "junk", 5, "x"));

    /* a generated id is chosen in its recipient's bucket, and claimed and
       released by the scripts themselves */
    am_coord_msg gm = AM_COORD_MSG_INIT;
    gm.from = "planner:1";
    gm.to = "gen:1";
    AM_ASSERT_OK(am_coord_send(c, &gm));
    AM_ASSERT_OK(am_coord_receive(c, "gen:1", 0, 0, &d));
    AM_ASSERT_EQ(strlen(d->id), 32);
    AM_ASSERT_EQ(am__redis_bucket(d->id, 32), am__redis_bucket("gen:1", 5));
    bkey(d->id, "ids", ids_key, sizeof ids_key);
    rep = cl_cmd_key(ids_key, "HEXISTS %s %s", ids_key, d->id);
    AM_ASSERT_EQ(cl_int(rep), 1);
    AM_ASSERT_ERR(send_to(c, a, d->id, 5, "x"), AM_EEXIST); /* held, from anywhere */
    AM_ASSERT_OK(am_coord_ack(c, d));
    rep = cl_cmd_key(ids_key, "HEXISTS %s %s", ids_key, d->id);
    AM_ASSERT_EQ(cl_int(rep), 0);
    AM_ASSERT_OK(send_to(c, a, d->id, 5, "x")); /* released */
    am_coord_delivery_free(d);
    /* an id of b's bucket held by a: send.lua finds the claim another
       agent's and the send goes the long way (AM_EEXIST) */
    char near[32];
    for (int i = 0;; i++) {
        snprintf(near, sizeof near, "near%d", i);
        if (am__redis_bucket(near, strlen(near)) == am__redis_bucket(b, strlen(b)))
            break;
    }
    AM_ASSERT_OK(send_to(c, a, near, 5, "x"));
    AM_ASSERT_ERR(send_to(c, b, near, 5, "x"), AM_EEXIST);
    AM_ASSERT_CONTAINS(am_errmsg(), a);

    /* a full queue refuses, and releases its claim */
    am_coord_opts o = suite_opts(r);
    o.max_queue = 1;
    AM_ASSERT_OK(am_coord_configure(c, &o));
    AM_ASSERT_ERR(send_to(c, a, "full", 5, "x"), AM_EFULL);
    bkey("full", "ids", ids_key, sizeof ids_key);
    rep = cl_cmd_key(ids_key, "HEXISTS %s full", ids_key);
    AM_ASSERT_EQ(cl_int(rep), 0);
    o.max_queue = 50;
    AM_ASSERT_OK(am_coord_configure(c, &o));

    /* a purged DLQ releases its messages' claims */
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "dead%d", i);
        AM_ASSERT_OK(send_to(c, "purge:1", id, 9, "x"));
        AM_ASSERT_OK(am_coord_receive(c, "purge:1", 0, 0, &d));
        AM_ASSERT_OK(am_coord_nack(c, d, true, "no"));
        am_coord_delivery_free(d);
    }
    AM_ASSERT_ERR(send_to(c, b, "dead1", 5, "x"), AM_EEXIST); /* dead letters keep theirs */
    size_t n;
    AM_ASSERT_OK(am_coord_dlq_purge(c, "purge:1", &n));
    AM_ASSERT_EQ(n, 3);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "dead%d", i);
        AM_ASSERT_OK(send_to(c, b, id, 5, "x"));
    }
    am_coord_close(c);
    am_registry_free(r);
}

static void move_slot(int slot, int src, int dst);

/* The master (index) that serves bucket n's slot. */
static int master_of_bucket(int n)
{
    int slot;
    char tag[AM__REDIS_TAG_MAX];
    am__redis_bucket_tag(n, tag, &slot);
    return cl_master_of_slot(&g_cl, slot);
}

/* Calls of cmd on node m since its last CONFIG RESETSTAT (0: none). */
static long long calls_of(int m, const char *cmd)
{
    redisReply *r = rf_cmd(&g_cl.node[m], "INFO commandstats");
    assert_non_null(r);
    char k[64];
    snprintf(k, sizeof k, "cmdstat_%s:calls=", cmd);
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, k) : NULL;
    long long n = p ? strtoll(p + strlen(k), NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

static void resetstat(int m)
{
    redisReply *r = rf_cmd(&g_cl.node[m], "CONFIG RESETSTAT");
    assert_non_null(r);
    freeReplyObject(r);
}

static void test_ids_claimed_inline_on_the_same_master(void **state)
{
    (void)state;
    flush_cluster();
    am_registry *r;
    am_coord *c = open_cluster(&r);
    const char *agent = "near:1";
    int ab = am__redis_bucket(agent, strlen(agent)), m = master_of_bucket(ab);
    char id[32], ikey[96];
    for (int i = 0;; i++) { /* an id of another bucket on agent's master */
        snprintf(id, sizeof id, "inline%d", i);
        int ib = am__redis_bucket(id, strlen(id));
        if (ib != ab && master_of_bucket(ib) == m)
            break;
    }
    bkey(id, "ids", ikey, sizeof ikey);

    /* claimed by send.lua itself (the long way is an HSETNX first) */
    resetstat(m);
    AM_ASSERT_OK(send_to(c, agent, id, 5, "x"));
    AM_ASSERT_EQ(calls_of(m, "hsetnx"), 0);
    AM_ASSERT_EQ(cl_int(cl_cmd_key(ikey, "HEXISTS %s %s", ikey, id)), 1);
    AM_ASSERT_ERR(send_to(c, "near:2", id, 5, "x"), AM_EEXIST); /* held, from anywhere */
    AM_ASSERT_ERR(send_to(c, agent, id, 5, "x"), AM_EEXIST);
    /* released by ack.lua itself */
    am_coord_delivery *d;
    AM_ASSERT_OK(am_coord_receive(c, agent, 0, 0, &d));
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    AM_ASSERT_EQ(cl_int(cl_cmd_key(ikey, "HEXISTS %s %s", ikey, id)), 0);

    /* The id's slot handed to another master behind the coordinator's
       back (its map still says m, until its next read of the map): the
       master refuses send.lua at the claim, before anything ran, and the
       send goes the long way; so does the ack. */
    int slot = am__redis_key_slot(ikey, strlen(ikey)), dst = (m + 1) % 3;
    move_slot(slot, m, dst);
    AM_ASSERT_OK(send_to(c, agent, id, 5, "y"));
    AM_ASSERT_EQ(cl_int(cl_cmd_key(ikey, "HEXISTS %s %s", ikey, id)), 1);
    AM_ASSERT_ERR(send_to(c, "near:2", id, 5, "x"), AM_EEXIST);
    AM_ASSERT_OK(am_coord_receive(c, agent, 0, 0, &d));
    AM_ASSERT_STR_EQ((char *)d->payload, "y");
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    AM_ASSERT_EQ(cl_int(cl_cmd_key(ikey, "HEXISTS %s %s", ikey, id)), 0);
    AM_ASSERT_OK(send_to(c, "near:2", id, 5, "z")); /* released: it may go anywhere */
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(c, agent, &st));
    AM_ASSERT_EQ(st.queued[1] + st.inflight, 0);
    move_slot(slot, dst, m); /* back, so that the next tests find the usual layout */
    am_coord_close(c);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Totals, scripts, redirections                                       */
/* ------------------------------------------------------------------ */

static double snap_number(am_coord *c, const char *key)
{
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    char k[128];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(snap, k);
    if (!p)
        fail_msg("no %s in %s", key, snap);
    double v = strtod(p + strlen(k), NULL);
    am_free(snap);
    return v;
}

static void test_totals_summed_over_buckets(void **state)
{
    (void)state;
    flush_cluster();
    /* three processes' counters, each in the bucket of its own id */
    am_registry *r[3];
    am_coord *c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = open_cluster(&r[i]);
        for (int k = 0; k <= i; k++)
            AM_ASSERT_OK(send_to(c[i], "sum:1", NULL, 5, "x"));
    }
    for (int i = 0; i < 3; i++)
        am_coord_close(c[i]); /* the last flush */
    am_registry *rr;
    am_coord *reader = open_cluster(&rr);
    AM_ASSERT_DBL_EQ(snap_number(reader, "messaging.sent.total"), 6);
    am_coord_close(reader);
    am_registry_free(rr);
    for (int i = 0; i < 3; i++)
        am_registry_free(r[i]);
}

static void test_scripts_loaded_where_missing(void **state)
{
    (void)state;
    flush_cluster();
    am_registry *r;
    am_coord *c = open_cluster(&r);
    for (int i = 0; i < CL_NODES; i++) {
        redisReply *rep = rf_cmd(&g_cl.node[i], "SCRIPT FLUSH");
        if (rep)
            freeReplyObject(rep);
    }
    /* agents on every master: each node answers NOSCRIPT once, and loads */
    for (int i = 0; i < 30; i++) {
        char agent[32];
        snprintf(agent, sizeof agent, "load:%d", i);
        AM_ASSERT_OK(send_to(c, agent, NULL, 5, "x"));
        am_coord_delivery *d;
        AM_ASSERT_OK(am_coord_receive(c, agent, 0, 0, &d));
        AM_ASSERT_OK(am_coord_ack(c, d));
        am_coord_delivery_free(d);
    }
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"load:29\"");
    am_free(snap);
    size_t n;
    AM_ASSERT_OK(am_coord_recover(c, &n));
    am_coord_close(c);
    am_registry_free(r);
}

/* Move every key of slot from node src to node dst with MIGRATE. */
static void migrate_keys(int src, int dst, int slot)
{
    for (;;) {
        redisReply *ks = rf_cmd(&g_cl.node[src], "CLUSTER GETKEYSINSLOT %d 100", slot);
        assert_non_null(ks);
        size_t n = ks->elements;
        for (size_t i = 0; i < n; i++) {
            redisReply *m = rf_cmd(&g_cl.node[src], "MIGRATE 127.0.0.1 %d %s 0 5000",
                                   g_cl.node[dst].port, ks->element[i]->str);
            if (!m || m->type == REDIS_REPLY_ERROR)
                fail_msg("MIGRATE %s: %s", ks->element[i]->str, m ? m->str : "no reply");
            freeReplyObject(m);
        }
        freeReplyObject(ks);
        if (n == 0)
            return;
    }
}

static void setslot(int node, int slot, const char *how, int other)
{
    redisReply *r = rf_cmd(&g_cl.node[node], "CLUSTER SETSLOT %d %s %s", slot, how, g_cl.id[other]);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("SETSLOT %d %s: %s", slot, how, r ? r->str : "no reply");
    freeReplyObject(r);
}

/* Hand slot from master src to master dst, its keys with it. */
static void move_slot(int slot, int src, int dst)
{
    setslot(dst, slot, "IMPORTING", src);
    setslot(src, slot, "MIGRATING", dst);
    migrate_keys(src, dst, slot);
    for (int i = 0; i < 3; i++)
        setslot(i, slot, "NODE", dst);
}

static void test_moved_and_ask(void **state)
{
    (void)state;
    flush_cluster();
    am_registry *r;
    am_coord *c = open_cluster(&r);
    const char *agent = "mover:1";
    int bucket = am__redis_bucket(agent, strlen(agent)), slot;
    char tag[AM__REDIS_TAG_MAX];
    am__redis_bucket_tag(bucket, tag, &slot);
    int src = cl_master_of_slot(&g_cl, slot), dst = (src + 1) % 3;
    for (int i = 0; i < 5; i++)
        AM_ASSERT_OK(send_to(c, agent, NULL, 5, "before"));

    /* Migrating: every key moved to dst, the slot not yet handed over --
       src answers ASK, and the coordinator asks dst (after ASKING). */
    setslot(dst, slot, "IMPORTING", src);
    setslot(src, slot, "MIGRATING", dst);
    migrate_keys(src, dst, slot);
    am_coord_delivery *d;
    AM_ASSERT_OK(am_coord_receive(c, agent, 0, 0, &d));
    AM_ASSERT_STR_EQ((char *)d->payload, "before");
    AM_ASSERT_OK(am_coord_ack(c, d));
    am_coord_delivery_free(d);
    AM_ASSERT_OK(send_to(c, agent, "during", 5, "during"));
    am_coord_stats st;
    AM_ASSERT_OK(am_coord_agent_stats(c, agent, &st));
    AM_ASSERT_EQ(st.queued[1], 5);
    redisReply *rep = rf_cmd(&g_cl.node[src], "CLUSTER COUNTKEYSINSLOT %d", slot);
    AM_ASSERT_EQ(cl_int(rep), 0); /* nothing went back to src */

    /* Handed over: src answers MOVED, the map is read again. */
    for (int i = 0; i < 3; i++)
        setslot(i, slot, "NODE", dst);
    for (int i = 0; i < 5; i++) {
        AM_ASSERT_OK(am_coord_receive(c, agent, 0, 0, &d));
        AM_ASSERT_OK(am_coord_ack(c, d));
        am_coord_delivery_free(d);
    }
    AM_ASSERT_OK(am_coord_agent_stats(c, agent, &st));
    AM_ASSERT_EQ(st.queued[1], 0);
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"mover:1\"");
    am_free(snap);
    move_slot(slot, dst, src); /* back, so that the next tests find the usual layout */
    AM_ASSERT_OK(send_to(c, agent, NULL, 5, "after"));
    am_coord_close(c);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Failover                                                            */
/* ------------------------------------------------------------------ */

static void test_master_killed_replica_promoted(void **state)
{
    (void)state;
    flush_cluster();
    am_registry *r;
    am_coord *c = open_cluster(&r);
    const char *agent = "survivor:1";
    int slot;
    char tag[AM__REDIS_TAG_MAX];
    am__redis_bucket_tag(am__redis_bucket(agent, strlen(agent)), tag, &slot);
    /* every send confirmed by the replica before it returned */
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        AM_ASSERT_OK(send_to(c, agent, id, 5, "x"));
    }
    int m = cl_master_of_slot(&g_cl, slot);
    int promoted = cl_failover_kill(&g_cl, m);
    if (promoted < 0)
        fail_msg("no replica took over from node %d", m);
    /* the coordinator finds the new master (operations fail meanwhile) */
    am_coord_stats st;
    am_err rc = AM_EBACKEND;
    for (int i = 0; i < 200 && rc != AM_OK; i++) {
        rc = am_coord_agent_stats(c, agent, &st);
        if (rc != AM_OK) {
            AM_ASSERT_ERR(rc, AM_EBACKEND);
            cl_sleep_ms(50);
        }
    }
    AM_ASSERT_OK(rc);
    AM_ASSERT_EQ(st.queued[1], 50); /* nothing lost */
    for (int i = 0; i < 50; i++) {
        am_coord_delivery *d;
        AM_ASSERT_OK(am_coord_receive(c, agent, 0, 0, &d)); /* scripts loaded on the new one */
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        AM_ASSERT_STR_EQ(d->id, id);
        AM_ASSERT_OK(am_coord_ack(c, d));
        am_coord_delivery_free(d);
    }
    /* the old master comes back as a replica; writes wait for it again */
    if (!cl_restart(&g_cl, m))
        fail_msg("node %d did not rejoin", m);
    AM_ASSERT_OK(send_to(c, agent, "back", 5, "x"));
    char *snap;
    size_t len;
    AM_ASSERT_OK(am_coord_snapshot(c, &snap, &len));
    AM_ASSERT_CONTAINS(snap, "\"survivor:1\"");
    am_free(snap);
    am_coord_close(c);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Threads sharing a coordinator: their writes confirmed each           */
/* ------------------------------------------------------------------ */

#define GC_THREADS 6
#define GC_SENDS 60

typedef struct gc_job {
    am_coord *c; /* shared by every thread */
    int k, sends;
    int replica; /* the node whose copy is read (-1: none) */
    const char *agent;
    int ok, backend, missing; /* AM_OK; AM_EBACKEND; AM_OK not on the replica */
    int unread;               /* the replica could not be asked */
    am_err other;
} gc_job;

/* Send j->sends messages to j->agent (or to agents gc<k>:0..4) on the
   shared coordinator; after each AM_OK, read the message's hash on the
   replica of its agent's master at once: confirmed means it is there. */
static void *gc_send(void *p)
{
    gc_job *j = p;
    for (int i = 0; i < j->sends; i++) {
        char agent[32], id[32], key[128];
        snprintf(agent, sizeof agent, "gc%d:%d", j->k, i % 5);
        const char *to = j->agent ? j->agent : agent;
        snprintf(id, sizeof id, "g%d-%d", j->k, i);
        am_err rc = send_to(j->c, to, id, 5, "x");
        if (rc == AM_EBACKEND) {
            j->backend++;
            continue;
        }
        if (rc != AM_OK) {
            j->other = rc;
            continue;
        }
        j->ok++;
        int slot;
        char tag[AM__REDIS_TAG_MAX], what[96];
        am__redis_bucket_tag(am__redis_bucket(to, strlen(to)), tag, &slot);
        int m = j->replica >= 0 ? -1 : cl_master_of_slot(&g_cl, slot);
        int rep = j->replica >= 0 ? j->replica : cl_replica_of(&g_cl, m);
        snprintf(what, sizeof what, "m:%s:%s", to, id);
        bkey(to, what, key, sizeof key);
        redisContext *rc_ = rep >= 0 ? rf_connect(&g_cl.node[rep]) : NULL;
        redisReply *a = rc_ ? redisCommand(rc_, "READONLY") : NULL;
        redisReply *e = a ? redisCommand(rc_, "EXISTS %s", key) : NULL;
        if (!e || e->type != REDIS_REPLY_INTEGER)
            j->unread++;
        else if (e->integer != 1)
            j->missing++;
        if (a)
            freeReplyObject(a);
        if (e)
            freeReplyObject(e);
        if (rc_)
            redisFree(rc_);
    }
    return NULL;
}

static void gc_run(gc_job *jobs, int n)
{
    pthread_t t[GC_THREADS];
    for (int k = 0; k < n; k++)
        pthread_create(&t[k], NULL, gc_send, &jobs[k]);
    for (int k = 0; k < n; k++)
        pthread_join(t[k], NULL);
}

/* Threads sharing a coordinator (its pooled connections, several writes
   to a master at once): every send that returned AM_OK is on its master's
   replica already, and with a replica frozen no send to its master
   returns AM_OK -- none is confirmed by a WAIT that did not cover it. */
static void test_shared_coordinator_writes_confirmed(void **state)
{
    (void)state;
    flush_cluster();
    am_registry *r;
    am_coord *c = open_cluster(&r);
    gc_job jobs[GC_THREADS];
    for (int k = 0; k < GC_THREADS; k++)
        jobs[k] = (gc_job){.c = c, .k = k, .sends = GC_SENDS, .replica = -1};
    gc_run(jobs, GC_THREADS);
    for (int k = 0; k < GC_THREADS; k++) {
        AM_ASSERT_EQ(jobs[k].other, AM_OK);
        AM_ASSERT_EQ(jobs[k].backend, 0);
        AM_ASSERT_EQ(jobs[k].ok, GC_SENDS);
        AM_ASSERT_EQ(jobs[k].unread, 0);
        AM_ASSERT_EQ(jobs[k].missing, 0); /* confirmed: on the replica */
    }
    /* freeze the replica of frozen:1's master: a WAIT there cannot be
       answered (each send waits 1 s for it; the cluster's node timeout
       is 2 s), so every concurrent send to it fails -- none rides on a
       batch that did not cover it */
    const char *agent = "frozen:1";
    int slot;
    char tag[AM__REDIS_TAG_MAX];
    am__redis_bucket_tag(am__redis_bucket(agent, strlen(agent)), tag, &slot);
    int m = cl_master_of_slot(&g_cl, slot), rep = m >= 0 ? cl_replica_of(&g_cl, m) : -1;
    if (rep < 0)
        fail_msg("no replica of the master of %s", agent);
    kill(g_cl.node[rep].pid, SIGSTOP);
    for (int k = 0; k < GC_THREADS; k++)
        jobs[k] = (gc_job){.c = c, .k = 100 + k, .sends = 1, .replica = rep, .agent = agent};
    gc_run(jobs, GC_THREADS);
    /* (on a machine so loaded that the sends outlast the node timeout, the
       master may have flagged its replica failing, and the map then says
       it has none: nothing is waited for, by design) */
    bool noticed = cl_says(&g_cl.node[m], "CLUSTER NODES", "fail");
    if (noticed)
        print_message("the master flagged its frozen replica failing: sends not checked\n");
    kill(g_cl.node[rep].pid, SIGCONT);
    for (int k = 0; k < GC_THREADS; k++) {
        AM_ASSERT_EQ(jobs[k].other, AM_OK);
        AM_ASSERT_EQ(jobs[k].ok + jobs[k].backend, 1);
        if (!noticed)
            AM_ASSERT_EQ(jobs[k].ok, 0);
    }
    if (!cl_wait_ready(&g_cl, 30))
        fail_msg("the cluster is not ready after the replica was thawed");
    /* and once it answers, sends work again (not checked on the replica:
       until the cluster sees its link up again, the map may say the master
       has no replica, and then nothing is waited for) */
    am_err rc = AM_EBACKEND;
    for (int i = 0; i < 100 && rc != AM_OK; i++) {
        char id[16];
        snprintf(id, sizeof id, "probe%d", i);
        rc = send_to(c, agent, id, 5, "x");
        if (rc != AM_OK)
            cl_sleep_ms(50);
    }
    AM_ASSERT_OK(rc);
    am_coord_close(c);
    am_registry_free(r);
}

/* ------------------------------------------------------------------ */
/* Refusals                                                            */
/* ------------------------------------------------------------------ */

static void test_open_refusals(void **state)
{
    (void)state;
    am_coord *c;
    /* a standalone server is not a cluster */
    rf_server solo = {0};
    if (!rf_start(&solo, g_cl.exe, 0, NULL))
        fail_msg("cannot start a redis-server");
    char uri[128];
    snprintf(uri, sizeof uri, "redis+cluster://127.0.0.1:%d", solo.port);
    AM_ASSERT_ERR(am_coord_open(uri, NULL, &c), AM_EBACKEND);
    AM_ASSERT_CONTAINS(am_errmsg(), "cluster");
    rf_stop(&solo, SIGTERM);
    /* no seed answers */
    snprintf(uri, sizeof uri, "redis+cluster://127.0.0.1:%d,127.0.0.1:%d", solo.port, free_port());
    AM_ASSERT_ERR(am_coord_open(uri, NULL, &c), AM_EBACKEND);
    /* a seed that is down, then one that answers: fine */
    snprintf(uri, sizeof uri, "redis+cluster://127.0.0.1:%d,127.0.0.1:%d?prefix=amtest", solo.port,
             g_cl.node[1].port);
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord_opts o = suite_opts(r);
    AM_ASSERT_OK(am_coord_open(uri, &o, &c));
    am_coord_close(c);
    am_registry_free(r);
    AM_ASSERT_ERR(am_coord_open("redis+cluster://h/0", NULL, &c), AM_EINVAL);
    AM_ASSERT_ERR(am_coord_open("redis+cluster://h?db=1", NULL, &c), AM_EINVAL);
}

int main(void)
{
    if (!rf_find(g_cl.exe, sizeof g_cl.exe)) {
        printf("SKIP: redis-server is not installed (apt-get install redis-server)\n");
        return 77;
    }
    char exe[512];
    snprintf(exe, sizeof exe, "%s", g_cl.exe);
    if (!cl_start(&g_cl, exe)) {
        printf("FAIL: cannot start a Redis Cluster of 6 nodes with %s\n", exe);
        return 1;
    }
    snprintf(g_cluster_uri, sizeof g_cluster_uri,
             "redis+cluster://127.0.0.1:%d,127.0.0.1:%d?prefix=amtest&pool=2", g_cl.node[0].port,
             g_cl.node[1].port);
    g_reset = flush_cluster;
    g_uri = g_cluster_uri;
    int rc = coord_suite_run("coordinator conformance: redis cluster (3 masters, 3 replicas)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_as_redis_computes_them),
        cmocka_unit_test(test_every_key_in_its_agents_slot),
        cmocka_unit_test(test_ids_unique_across_slots),
        cmocka_unit_test(test_ids_claimed_inline_on_the_same_master),
        cmocka_unit_test(test_totals_summed_over_buckets),
        cmocka_unit_test(test_scripts_loaded_where_missing),
        cmocka_unit_test(test_moved_and_ask),
        cmocka_unit_test(test_open_refusals),
        cmocka_unit_test(test_shared_coordinator_writes_confirmed),
        cmocka_unit_test(test_master_killed_replica_promoted),
    };
    rc |= cmocka_run_group_tests_name("coordinator: redis cluster only", tests, NULL, NULL);
    am_shutdown();
    return rc;
}
