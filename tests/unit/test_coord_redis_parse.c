/*
** test_coord_redis_parse.c: the Redis coordinator's two parsers
** (src/coord/coord_redis_parse.c), without a server -- the coordinator URI
** against tables of good URIs (every field checked) and bad ones (each
** refused with AM_EINVAL and a message naming the part at fault, never
** quoting the password), the per-agent lengths line the scripts keep in
** <prefix>:lens:<n> against good and malformed lines, and a Redis
** Cluster's topology (CLUSTER SHARDS and CLUSTER SLOTS replies, as Redis
** 7.0 writes them and damaged) and its MOVED / ASK redirections.
*/
#include <hiredis/hiredis.h>

#include "testutil.h"
#include "coord/coord_redis.h"
#include "lens_line.h"

static void test_good_uris(void **state)
{
    (void)state;
    static const struct {
        const char *uri;
        bool is_unix;
        const char *host;
        int port;
        const char *path, *user, *password;
        bool has_password;
        int db;
        const char *prefix;
        int pool;
    } good[] = {
        {"redis://127.0.0.1", false, "127.0.0.1", 6379, "", "", "", false, 0, "ao", 4},
        {"redis://localhost:6380", false, "localhost", 6380, "", "", "", false, 0, "ao", 4},
        {"redis://h:1/", false, "h", 1, "", "", "", false, 0, "ao", 4},
        {"redis://h:65535/15", false, "h", 65535, "", "", "", false, 15, "ao", 4},
        {"redis://h/999999?prefix=x", false, "h", 6379, "", "", "", false, 999999, "x", 4},
        {"redis://:secret@h", false, "h", 6379, "", "", "secret", true, 0, "ao", 4},
        {"redis://:@h", false, "h", 6379, "", "", "", true, 0, "ao", 4},
        {"redis://alice:pw@h:7000/2?prefix=app.v1_x-y&pool=16", false, "h", 7000, "", "alice", "pw",
         true, 2, "app.v1_x-y", 16},
        {"redis://:p%40ss%3Aw%20rd%25@h", false, "h", 6379, "", "", "p@ss:w rd%", true, 0, "ao", 4},
        {"redis://:a:b:c@h", false, "h", 6379, "", "", "a:b:c", true, 0, "ao", 4},
        {"redis://u%2Dx:p@h", false, "h", 6379, "", "u-x", "p", true, 0, "ao", 4},
        {"redis://[::1]", false, "::1", 6379, "", "", "", false, 0, "ao", 4},
        {"redis://[::1]:6390/3", false, "::1", 6390, "", "", "", false, 3, "ao", 4},
        {"redis://[fe80::1:2]:1?pool=64", false, "fe80::1:2", 1, "", "", "", false, 0, "ao", 64},
        {"redis://redis-1.example.org", false, "redis-1.example.org", 6379, "", "", "", false, 0,
         "ao", 4},
        {"unix:///tmp/r.sock", true, "", 6379, "/tmp/r.sock", "", "", false, 0, "ao", 4},
        {"unix:///tmp/r.sock?db=0&prefix=ao", true, "", 6379, "/tmp/r.sock", "", "", false, 0, "ao",
         4},
        {"unix:///var/run/redis/redis.sock?prefix=p&db=7&pool=1", true, "", 6379,
         "/var/run/redis/redis.sock", "", "", false, 7, "p", 1},
        {"unix://:pw@/tmp/a@b.sock", true, "", 6379, "/tmp/a@b.sock", "", "pw", true, 0, "ao", 4},
        {"unix:///tmp/a@b.sock", true, "", 6379, "/tmp/a@b.sock", "", "", false, 0, "ao", 4},
        {"redis+cluster://10.0.0.1:7000", false, "10.0.0.1", 7000, "", "", "", false, 0, "ao", 4},
        {"redis+cluster://:pw@a,b:7001,[::1]:7002?prefix=q&pool=8", false, "a", 6379, "", "", "pw",
         true, 0, "q", 8},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        am__redis_uri u;
        am_err rc = am__redis_uri_parse(good[i].uri, &u);
        if (rc != AM_OK)
            fail_msg("%s refused: %s", good[i].uri, am_errmsg());
        AM_ASSERT_EQ(u.is_unix, good[i].is_unix);
        AM_ASSERT_STR_EQ(u.host, good[i].host);
        AM_ASSERT_EQ(u.port, good[i].port);
        AM_ASSERT_STR_EQ(u.path, good[i].path);
        AM_ASSERT_STR_EQ(u.user, good[i].user);
        AM_ASSERT_STR_EQ(u.password, good[i].password);
        AM_ASSERT_EQ(u.has_password, good[i].has_password);
        AM_ASSERT_EQ(u.db, good[i].db);
        AM_ASSERT_STR_EQ(u.prefix, good[i].prefix);
        AM_ASSERT_EQ(u.pool, good[i].pool);
        AM_ASSERT_EQ(u.is_cluster, strncmp(good[i].uri, "redis+cluster://", 16) == 0);
        AM_ASSERT_EQ(u.n_seeds, good[i].is_unix ? 0 : u.n_seeds);
    }
    /* the nodes of a cluster URI, each with its port */
    am__redis_uri u;
    AM_ASSERT_OK(am__redis_uri_parse("redis+cluster://:pw@a,b:7001,[::1]:7002", &u));
    AM_ASSERT_EQ(u.n_seeds, 3);
    AM_ASSERT_STR_EQ(u.seeds[0].host, "a");
    AM_ASSERT_EQ(u.seeds[0].port, 6379);
    AM_ASSERT_STR_EQ(u.seeds[1].host, "b");
    AM_ASSERT_EQ(u.seeds[1].port, 7001);
    AM_ASSERT_STR_EQ(u.seeds[2].host, "::1");
    AM_ASSERT_EQ(u.seeds[2].port, 7002);
    AM_ASSERT_OK(am__redis_uri_parse("redis://h:7", &u));
    AM_ASSERT_EQ(u.n_seeds, 1);
    AM_ASSERT_EQ(u.seeds[0].port, 7);
    AM_ASSERT_OK(am__redis_uri_parse("redis+cluster://1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", &u));
    AM_ASSERT_EQ(u.n_seeds, 16);
}

static void test_bad_uris(void **state)
{
    (void)state;
    char long_host[300], long_prefix[100], long_path[130], long_pw[300];
    snprintf(long_host, sizeof long_host, "redis://%0256d", 0);
    snprintf(long_prefix, sizeof long_prefix, "redis://h?prefix=%065d", 0);
    snprintf(long_path, sizeof long_path, "unix:///%0107d", 0);
    snprintf(long_pw, sizeof long_pw, "redis://:%0256d@h", 0);
    static const char *const fixed[][2] = {
        {"", "redis://, unix:// or redis+cluster://"},
        {"memory:", "redis://, unix:// or redis+cluster://"},
        {"REDIS://h", "redis://, unix:// or redis+cluster://"},
        {"rediss://h", "redis://, unix:// or redis+cluster://"},
        {"redis:/h", "redis://, unix:// or redis+cluster://"},
        {"redis+cluster:/h", "redis://, unix:// or redis+cluster://"},
        {"redis+Cluster://h", "redis://, unix:// or redis+cluster://"},
        {"rediss+cluster://h", "redis://, unix:// or redis+cluster://"},
        {"redis+cluster://", "empty node"},
        {"redis+cluster://,h", "empty node"},
        {"redis+cluster://h,", "empty node"},
        {"redis+cluster://h,,g", "empty node"},
        {"redis+cluster://h:1,:2", "host is empty"},
        {"redis+cluster://h:0", "port"},
        {"redis+cluster://h:1,g:65536", "port"},
        {"redis+cluster://h:1;g:2", "port"},
        {"redis+cluster://h;g", "host"},
        {"redis+cluster://h g", "space"},
        {"redis+cluster://h/0", "no database"},
        {"redis+cluster://h/", "no database"},
        {"redis+cluster://h:1/,g", "no database"},
        {"redis+cluster://h?db=0", "no database"},
        {"redis+cluster://h?pool=0", "pool"},
        {"redis+cluster://h?prefix=a:b", "prefix"},
        {"redis+cluster://h?nodes=3", "unknown parameter"},
        {"redis+cluster://[::1,h", "not closed"},
        {"redis+cluster://[::1]x,h", "']'"},
        {"redis+cluster://user@h,g", "[user]:password"},
        {"redis+cluster://h,g#x", "fragment"},
        {"redis+cluster://1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "more than 16 nodes"},
        {"redis://", "host is empty"},
        {"redis://:6379", "host is empty"},
        {"redis:///0", "host is empty"},
        {"redis://h:", "port"},
        {"redis://h:0", "port"},
        {"redis://h:65536", "port"},
        {"redis://h:123456", "port"},
        {"redis://h:+1", "port"},
        {"redis://h:-1", "port"},
        {"redis://h:12a", "port"},
        {"redis://h:1:2", "port"},
        {"redis://h_x", "host"},
        {"redis://-h", "starts with"},
        {"redis://.h", "starts with"},
        {"redis://h/x", "database"},
        {"redis://h/1/2", "database"},
        {"redis://h/-1", "database"},
        {"redis://h/1000000", "database"},
        {"redis://h/0x1", "database"},
        {"redis://[::1", "not closed"},
        {"redis://[]", "IPv6"},
        {"redis://[g::1]", "IPv6"},
        {"redis://[..01]", "IPv6"},
        {"redis://[::1]x", "']'"},
        {"redis://[::1]:", "port"},
        {"redis://h?", "no parameter"},
        {"redis://h?prefix", "'=value'"},
        {"redis://h?prefix=", "empty value"},
        {"redis://h?prefix=a&", "empty parameter"},
        {"redis://h?&prefix=a", "empty parameter"},
        {"redis://h?prefix=a&&pool=2", "empty parameter"},
        {"redis://h?prefix=a&prefix=b", "twice"},
        {"redis://h?prefix=a:b", "prefix"},
        {"redis://h?prefix=a/b", "prefix"},
        {"redis://h?prefix=a%3Ab", "prefix"},
        {"redis://h?pool=0", "pool"},
        {"redis://h?pool=65", "pool"},
        {"redis://h?pool=x", "pool"},
        {"redis://h?db=1", "path"},
        {"redis://h?Prefix=a", "unknown parameter"},
        {"redis://h?timeout=1", "unknown parameter"},
        {"redis://h#x", "fragment"},
        {"redis://h/0#", "fragment"},
        {"redis://h x", "space"},
        {"redis://h\t", "control"},
        {"redis://h\xc3\xa9", "non-ASCII"},
        {"redis://user@h", "[user]:password"},
        {"redis://a:b@c:d@h", "more than one '@'"},
        {"redis://:%4@h", "two hex digits"},
        {"redis://:%@h", "two hex digits"},
        {"redis://:%zz@h", "two hex digits"},
        {"redis://:%00@h", "NUL"},
        {"redis://u/x:p@h", "database"},
        {"redis://u[:p@h", "user"},
        {"redis://:p\"w@h", "password"},
        {"unix://", "absolute"},
        {"unix://tmp/r.sock", "absolute"},
        {"unix://:pw@tmp/r.sock", "absolute"},
        {"unix:///", "directory"},
        {"unix:///tmp/", "directory"},
        {"unix:///tmp/r%20.sock", "percent"},
        {"unix:///tmp/r.sock?db=", "empty value"},
        {"unix:///tmp/r.sock?db=x", "db"},
        {"unix:///tmp/r.sock?db=1000000", "db"},
        {"unix:///tmp/r.sock?db=1&db=2", "twice"},
        {"unix:///tmp/r.sock?host=h", "unknown parameter"},
        {"unix:///tmp/r.sock#x", "fragment"},
    };
    const char *const longs[][2] = {
        {long_host, "longer than 255"},
        {long_prefix, "longer than 64"},
        {long_path, "longer than 107"},
        {long_pw, "longer than 255"},
    };
    size_t nf = sizeof fixed / sizeof *fixed, nl = sizeof longs / sizeof *longs;
    for (size_t i = 0; i < nf + nl; i++) {
        const char *uri = i < nf ? fixed[i][0] : longs[i - nf][0];
        const char *msg = i < nf ? fixed[i][1] : longs[i - nf][1];
        am__redis_uri u;
        am_err rc = am__redis_uri_parse(uri, &u);
        if (rc != AM_EINVAL)
            fail_msg("\"%s\" gave %s, not AM_EINVAL", uri, am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), "redis URI");
        AM_ASSERT_CONTAINS(am_errmsg(), msg);
    }
    /* The password never appears in a message. */
    static const char *const secret[] = {"redis://:hunter2%zz@h", "redis://:hunter2@h:0",
                                         "redis://u:hunter2@h?x=1", "redis://:hunter2\"@h",
                                         "redis+cluster://:hunter2@h,,g"};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) {
        am__redis_uri u;
        AM_ASSERT_ERR(am__redis_uri_parse(secret[i], &u), AM_EINVAL);
        AM_ASSERT_LACKS(am_errmsg(), "hunter2");
    }
    am__redis_uri u;
    AM_ASSERT_ERR(am__redis_uri_parse(NULL, &u), AM_EINVAL);
}

/* Parse agent's line l (encoded by lens_line.h) at now. */
static am_err parse(const char *agent, const ll_line *l, double now, am_coord_stats *st,
                    bool *unknown)
{
    char buf[256];
    size_t n = ll_encode(buf, agent, l);
    const char *a;
    size_t alen;
    am_err rc = am__redis_lens_parse(buf, n, now, &a, &alen, st, unknown);
    if (rc == AM_OK && (alen != strlen(agent) || memcmp(a, agent, alen) != 0))
        fail_msg("the agent name came back wrong");
    return rc;
}

static void test_lens_lines(void **state)
{
    (void)state;
    am_coord_stats st;
    bool unknown;
    ll_line l = {{1, 2, 3, 4, 5, 6}, {99.5, 87.75, LL_NONE}, 120};
    AM_ASSERT_OK(parse("coder:1", &l, 100.0, &st, &unknown));
    assert_false(unknown);
    AM_ASSERT_EQ(st.queued[0], 1);
    AM_ASSERT_EQ(st.queued[1], 2);
    AM_ASSERT_EQ(st.queued[2], 3);
    AM_ASSERT_EQ(st.delayed, 4);
    AM_ASSERT_EQ(st.inflight, 5);
    AM_ASSERT_EQ(st.dlq, 6);
    AM_ASSERT_DBL_EQ(st.oldest_age_s[0], 0.5);
    AM_ASSERT_DBL_EQ(st.oldest_age_s[1], 12.25);
    AM_ASSERT_DBL_EQ(st.oldest_age_s[2], 0); /* none: no head time */
    /* ages to the millisecond; a head in the future or of an empty queue: 0 */
    l = (ll_line){{1, 1, 0, 0, 0, 0}, {99.99951, 100.5, 12}, LL_NONE};
    AM_ASSERT_OK(parse("a:1", &l, 100.0, &st, &unknown));
    AM_ASSERT_DBL_EQ(st.oldest_age_s[0], 0);
    AM_ASSERT_DBL_EQ(st.oldest_age_s[1], 0);
    AM_ASSERT_DBL_EQ(st.oldest_age_s[2], 0);
    l = (ll_line){{1, 1, 0, 0, 0, 0}, {99.9984, LL_UNKNOWN, LL_NONE}, LL_NONE};
    AM_ASSERT_OK(parse("a:1", &l, 100.0, &st, &unknown));
    assert_true(unknown); /* lens_fix.lua looks it up */
    AM_ASSERT_DBL_EQ(st.oldest_age_s[0], 0.002);
    AM_ASSERT_DBL_EQ(st.oldest_age_s[1], 0);
    /* counts up to 2^32 - 1 */
    l = (ll_line){{UINT32_MAX, 0, 0, 0, 0, 7}, {LL_NONE, LL_NONE, LL_NONE}, 5};
    AM_ASSERT_OK(parse("a:1", &l, 1.0, &st, &unknown));
    AM_ASSERT_EQ(st.queued[0], UINT32_MAX);
    AM_ASSERT_EQ(st.dlq, 7);

    /* bad times, each in every place it can be */
    static const double bad_times[] = {-3, -0.5, 1e12, 1e300, -1e300};
    for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
        for (int f = 0; f < 4; f++) {
            l = (ll_line){{1, 1, 1, 0, 0, 0}, {1, 1, 1}, 1};
            if (f < 3)
                l.heads[f] = bad_times[i];
            else
                l.next = bad_times[i];
            if (parse("a:1", &l, 1.0, &st, &unknown) != AM_EPROTO)
                fail_msg("time %g in field %d was accepted", bad_times[i], f);
            AM_ASSERT_CONTAINS(am_errmsg(), "is not a time");
        }
    }
    l = (ll_line){{1, 1, 1, 0, 0, 0}, {1, 1, 1}, LL_UNKNOWN}; /* next is never unknown */
    AM_ASSERT_ERR(parse("a:1", &l, 1.0, &st, &unknown), AM_EPROTO);
    double nan = 0.0 / 0.0;
    l = (ll_line){{1, 1, 1, 0, 0, 0}, {nan, 1, 1}, 1};
    AM_ASSERT_ERR(parse("a:1", &l, 1.0, &st, &unknown), AM_EPROTO);
    l = (ll_line){{1, 1, 1, 0, 0, 0}, {1, 1, 1}, 1.0 / 0.0};
    AM_ASSERT_ERR(parse("a:1", &l, 1.0, &st, &unknown), AM_EPROTO);

    /* bad shapes */
    char good[256];
    l = (ll_line){{0}, {LL_NONE, LL_NONE, LL_NONE}, LL_NONE};
    size_t n = ll_encode(good, "a:1", &l);
    const char *a;
    size_t alen;
    static const struct {
        size_t cut; /* bytes of good kept (0: all) */
        int poke;   /* a byte to change (-1: none) */
        char to;
        const char *msg;
    } bad[] = {
        {1, -1, 0, "no agent name"},     /* "a" */
        {4, -1, 0, "bytes, not 56"},     /* "a:1 " */
        {59, -1, 0, "bytes, not 56"},    /* one byte short */
        {0, 0, ' ', "no agent name"},    /* " :1 ..." */
        {0, 1, '\x01', "control"},       /* "a\x01" */
        {0, 1, (char)0xc3, "non-ASCII"}, /* invalid name byte */
        {0, 3, 'x', "no agent name"},    /* "a:1x...": no space ends a name */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char b[256];
        memcpy(b, good, n);
        size_t len = bad[i].cut ? bad[i].cut : n;
        if (bad[i].poke >= 0)
            b[bad[i].poke] = bad[i].to;
        if (am__redis_lens_parse(b, len, 1.0, &a, &alen, &st, &unknown) != AM_EPROTO)
            fail_msg("bad shape %zu was accepted", i);
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].msg);
    }
    /* one byte too many */
    char longer[256];
    memcpy(longer, good, n);
    longer[n] = 0;
    AM_ASSERT_ERR(am__redis_lens_parse(longer, n + 1, 1.0, &a, &alen, &st, &unknown), AM_EPROTO);
    /* a name of 128 bytes is one; of 129 not */
    char name[AM_COORD_MAX_NAME + 2], line[512];
    memset(name, 'n', AM_COORD_MAX_NAME);
    name[AM_COORD_MAX_NAME] = '\0';
    n = ll_encode(line, name, &l);
    AM_ASSERT_OK(am__redis_lens_parse(line, n, 1.0, &a, &alen, &st, &unknown));
    name[AM_COORD_MAX_NAME] = 'n';
    name[AM_COORD_MAX_NAME + 1] = '\0';
    n = ll_encode(line, name, &l);
    AM_ASSERT_ERR(am__redis_lens_parse(line, n, 1.0, &a, &alen, &st, &unknown), AM_EPROTO);
    AM_ASSERT_ERR(am__redis_lens_parse("", 0, 1.0, &a, &alen, &st, &unknown), AM_EPROTO);
}

/* ------------------------------------------------------------------ */
/* A cluster's topology and redirections                               */
/* ------------------------------------------------------------------ */

/* The reply RESP text s stands for (hiredis's own reader); NULL if none. */
static redisReply *resp(const char *s)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    if (redisReaderFeed(rd, s, strlen(s)) != REDIS_OK || redisReaderGetReply(rd, &r) != REDIS_OK)
        r = NULL;
    redisReaderFree(rd);
    return r;
}

/* A node of CLUSTER SHARDS as Redis 7.0 writes it. */
#define NODE(port, role, health)                                                                   \
    "*14\r\n$2\r\nid\r\n$3\r\nabc\r\n$4\r\nport\r\n:" port "\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"   \
    "$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n" role "\r\n$18\r\nreplication-offset\r\n" \
    ":1274\r\n$6\r\nhealth\r\n" health "\r\n"
#define MASTER "$6\r\nmaster"
#define REPLICA "$7\r\nreplica"
#define ONLINE "$6\r\nonline"
#define FAIL "$4\r\nfail"
#define SLOTS(a, b) "$5\r\nslots\r\n*2\r\n:" a "\r\n:" b "\r\n$5\r\nnodes\r\n"

static int port_of(const am__redis_topo *t, int slot)
{
    int m = t->slot_master[slot];
    return m ? t->masters[m - 1].port : 0;
}

static void test_topology(void **state)
{
    (void)state;
    am__redis_topo *t = malloc(sizeof *t);
    /* three shards, a replica each (what redis-cli --cluster create makes) */
    redisReply *r =
        resp("*3\r\n*4\r\n" SLOTS("10923", "16383") "*2\r\n" NODE("7002", MASTER, ONLINE)
                 NODE("7005", REPLICA,
                      ONLINE) "*4\r\n" SLOTS("0", "5460") "*2\r\n" NODE("7000", MASTER, ONLINE)
                     NODE("7003", REPLICA, ONLINE) "*4\r\n" SLOTS("5461", "10922") "*2\r\n" NODE(
                         "7004", REPLICA, "$7\r\nloading") NODE("7001", MASTER, ONLINE));
    assert_non_null(r);
    AM_ASSERT_OK(am__redis_topo_shards(r, t));
    freeReplyObject(r);
    AM_ASSERT_EQ(t->n_masters, 3);
    AM_ASSERT_EQ(port_of(t, 0), 7000);
    AM_ASSERT_EQ(port_of(t, 5460), 7000);
    AM_ASSERT_EQ(port_of(t, 5461), 7001);
    AM_ASSERT_EQ(port_of(t, 16383), 7002);
    AM_ASSERT_STR_EQ(t->masters[t->slot_master[0] - 1].host, "127.0.0.1");
    AM_ASSERT_EQ(t->masters[t->slot_master[0] - 1].replicas, 1);
    AM_ASSERT_EQ(t->masters[t->slot_master[5461] - 1].replicas, 0); /* still loading */
    /* after a failover: the old master failed, alone, with no slots; the
       replica promoted has no replica of its own */
    r = resp("*2\r\n*4\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n" NODE(
        "7000", MASTER, FAIL) "*4\r\n" SLOTS("0", "16383") "*1\r\n" NODE("7003", MASTER, ONLINE));
    AM_ASSERT_OK(am__redis_topo_shards(r, t));
    freeReplyObject(r);
    AM_ASSERT_EQ(port_of(t, 100), 7003);
    AM_ASSERT_EQ(t->masters[t->slot_master[100] - 1].replicas, 0);
    /* an online master is preferred to a failed one of the same shard */
    r = resp("*1\r\n*4\r\n" SLOTS("0", "1") "*2\r\n" NODE("7000", MASTER, FAIL)
                 NODE("7003", MASTER, ONLINE));
    AM_ASSERT_OK(am__redis_topo_shards(r, t));
    freeReplyObject(r);
    AM_ASSERT_EQ(port_of(t, 1), 7003);
    AM_ASSERT_EQ(port_of(t, 2), 0); /* no one */
    /* an endpoint that is not known ("?") falls back to the ip */
    r = resp("*1\r\n*4\r\n" SLOTS(
        "0", "0") "*1\r\n*8\r\n$4\r\nport\r\n:9\r\n$8\r\nendpoint\r\n"
                  "$1\r\n?\r\n$2\r\nip\r\n$8\r\n10.0.0.9\r\n$4\r\nrole\r\n$6\r\nmaster\r\n");
    AM_ASSERT_OK(am__redis_topo_shards(r, t));
    freeReplyObject(r);
    AM_ASSERT_STR_EQ(t->masters[0].host, "10.0.0.9");

    /* CLUSTER SLOTS (older servers), with a Redis 7 metadata map */
    r = resp("*2\r\n*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$3\r\nabc\r\n"
             "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$3\r\ndef\r\n*3\r\n:5461\r\n:16383\r\n*4\r\n"
             "$1\r\n?\r\n:7001\r\n$3\r\nxyz\r\n*2\r\n$2\r\nip\r\n$8\r\n10.0.0.1\r\n");
    AM_ASSERT_OK(am__redis_topo_slots(r, t));
    freeReplyObject(r);
    AM_ASSERT_EQ(port_of(t, 5460), 7000);
    AM_ASSERT_EQ(t->masters[0].replicas, 1);
    AM_ASSERT_EQ(port_of(t, 5461), 7001);
    AM_ASSERT_STR_EQ(t->masters[1].host, "10.0.0.1");
    AM_ASSERT_EQ(t->masters[1].replicas, 0);

    /* bad replies: each refused with AM_EPROTO, never a crash */
    static const struct {
        bool slots; /* CLUSTER SLOTS, else SHARDS */
        const char *resp, *msg;
    } bad[] = {
        {false, "+OK\r\n", "did not answer an array"},
        {false, "-ERR unknown\r\n", "did not answer an array"},
        {false, "*1\r\n:1\r\n", "not an array of names"},
        {false, "*1\r\n*1\r\n$5\r\nslots\r\n", "not an array of names"},
        {false, "*1\r\n*2\r\n:1\r\n:2\r\n", "field name of a shard"},
        {false, "*1\r\n*2\r\n$5\r\nslots\r\n*0\r\n", "no nodes"},
        {false, "*1\r\n*4\r\n$5\r\nslots\r\n*1\r\n:1\r\n$5\r\nnodes\r\n*0\r\n", "no slots"},
        {false, "*1\r\n*4\r\n$5\r\nslots\r\n$1\r\nx\r\n$5\r\nnodes\r\n*0\r\n", "no slots"},
        {false, "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:1\r\n$1\r\n2\r\n$5\r\nnodes\r\n*0\r\n",
         "not an integer"},
        {false, "*1\r\n*4\r\n" SLOTS("5", "4") "*1\r\n" NODE("7000", MASTER, ONLINE),
         "within 0..16383"},
        {false, "*1\r\n*4\r\n" SLOTS("0", "16384") "*1\r\n" NODE("7000", MASTER, ONLINE),
         "within 0..16383"},
        {false, "*1\r\n*4\r\n" SLOTS("-1", "3") "*1\r\n" NODE("7000", MASTER, ONLINE),
         "within 0..16383"},
        {false, "*1\r\n*4\r\n" SLOTS("0", "1") "*1\r\n" NODE("0", MASTER, ONLINE), "port 1..65535"},
        {false, "*1\r\n*4\r\n" SLOTS("0", "1") "*1\r\n" NODE("65536", MASTER, ONLINE),
         "port 1..65535"},
        {false, "*1\r\n*4\r\n" SLOTS("0", "1") "*1\r\n*2\r\n$4\r\nport\r\n$4\r\n7000\r\n",
         "port is not an integer"},
        {false, "*1\r\n*4\r\n" SLOTS("0", "1") "*1\r\n*2\r\n$4\r\nrole\r\n:1\r\n", "not a string"},
        {false, "*1\r\n*4\r\n" SLOTS("0", "1") "*1\r\n*1\r\n$4\r\nrole\r\n", "names and values"},
        {false, "*1\r\n*4\r\n" SLOTS("0", "1") "*1\r\n*2\r\n:4\r\n$1\r\nx\r\n",
         "field name of a node"},
        {false,
         "*1\r\n*4\r\n" SLOTS("0", "1") "*1\r\n*6\r\n$4\r\nport\r\n:1\r\n$2\r\nip\r\n$3\r\na b\r\n"
                                        "$4\r\nrole\r\n$6\r\nmaster\r\n",
         "usable endpoint"},
        {false,
         "*1\r\n*4\r\n" SLOTS("0", "1") "*1\r\n*4\r\n$4\r\nport\r\n:1\r\n$4\r\nrole\r\n"
                                        "$6\r\nmaster\r\n",
         "usable endpoint"},
        {true, "$3\r\nabc\r\n", "did not answer an array"},
        {true, "*1\r\n*2\r\n:0\r\n:1\r\n", "[start, end, master"},
        {true, "*1\r\n*3\r\n$1\r\n0\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n", "[start, end, master"},
        {true, "*1\r\n*3\r\n:0\r\n:1\r\n$1\r\nh\r\n", "usable host"},
        {true, "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n", "usable host"},
        {true, "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:0\r\n", "port 1..65535"},
        {true, "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n:1\r\n:1\r\n", "usable host"},
        {true, "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$0\r\n\r\n:1\r\n", "usable host"},
        {true, "*1\r\n*3\r\n:9\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n", "within 0..16383"},
        {true, "*1\r\n*3\r\n:0\r\n:99999\r\n*2\r\n$1\r\nh\r\n:1\r\n", "within 0..16383"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = resp(bad[i].resp);
        if (!r)
            fail_msg("bad reply %zu is not RESP", i);
        am_err rc = bad[i].slots ? am__redis_topo_slots(r, t) : am__redis_topo_shards(r, t);
        freeReplyObject(r);
        if (rc != AM_EPROTO)
            fail_msg("bad reply %zu gave %s", i, am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].msg);
    }
    AM_ASSERT_ERR(am__redis_topo_shards(NULL, t), AM_EPROTO);
    free(t);
}

static void test_redirects(void **state)
{
    (void)state;
    bool ask;
    int slot, port;
    char host[AM__REDIS_HOST_MAX + 1];
    static const char *const moved = "MOVED 3999 127.0.0.1:6381";
    AM_ASSERT_OK(am__redis_redirect_parse(moved, strlen(moved), &ask, &slot, host, &port));
    assert_false(ask);
    AM_ASSERT_EQ(slot, 3999);
    AM_ASSERT_STR_EQ(host, "127.0.0.1");
    AM_ASSERT_EQ(port, 6381);
    static const char *const asked = "ASK 16383 ::1:7000";
    AM_ASSERT_OK(am__redis_redirect_parse(asked, strlen(asked), &ask, &slot, host, &port));
    assert_true(ask);
    AM_ASSERT_EQ(slot, 16383);
    AM_ASSERT_STR_EQ(host, "::1"); /* IPv6: the port follows the last ':' */
    AM_ASSERT_EQ(port, 7000);
    static const char *const empty = "MOVED 0 :7001"; /* the node asked */
    AM_ASSERT_OK(am__redis_redirect_parse(empty, strlen(empty), &ask, &slot, host, &port));
    AM_ASSERT_STR_EQ(host, "");
    AM_ASSERT_EQ(port, 7001);
    static const char *const bad[] = {
        "",
        "MOVED",
        "MOVED ",
        "MOVED 1",
        "MOVED 1 ",
        "MOVED x h:1",
        "MOVED 16384 h:1",
        "MOVED 123456 h:1",
        "MOVED 1 h",
        "MOVED 1 h:",
        "MOVED 1 h:0",
        "MOVED 1 h:65536",
        "MOVED 1 h:1x",
        "MOVED 1  h:1",
        "MOVED -1 h:1",
        "ASK 1 a b:1",
        "ASKING 1 h:1",
        "moved 1 h:1",
        "TRYAGAIN x",
        "MOVED 1 h\x01:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (am__redis_redirect_parse(bad[i], strlen(bad[i]), &ask, &slot, host, &port) != AM_EPROTO)
            fail_msg("redirection \"%s\" was accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_uris),  cmocka_unit_test(test_bad_uris),
        cmocka_unit_test(test_lens_lines), cmocka_unit_test(test_topology),
        cmocka_unit_test(test_redirects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
