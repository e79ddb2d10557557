/*
** coord_redis_snap.c: reading every agent of a Redis coordinator at once --
** the snapshot (each_agent), one agent's lengths (stats) and the sweep
** over all of them (recover).
**
** DESIGN
** The scripts keep one line per agent -- its name, its six lengths, the
** time of each queue's head and its next timer (lib_lens.lua) -- exact
** whenever no script runs, in 64 hashes <prefix>:lens:0..63 (the bucket a
** hash of the name; on a Redis Cluster <prefix>:{<tag>}:lens, each in its
** bucket's slot, on the master that serves it). So a snapshot is:
**   1. one pipelined round trip: TIME (the clock ages are measured on),
**      audit.lua over the next slice of agents, HGETALL of badkeys,
**      TYPE of the 0.1 layout's hash (migrate.lua moves it, once), and
**      HMGET of the shared counters when the caller wants them;
**   2. one pipelined round trip: HVALS of the 64 buckets. A line carries
**      its agent's name, so the values are enough -- Redis answers HVALS
**      in a third of HGETALL's time and a sixth of HSCAN's -- and no reply
**      grows past 1/64 of the agents: 100,000 agents are 64 replies of
**      ~120 KB, never one of 8 MB (which costs Redis, on a VM where a page
**      fault is ~10 us, 75 ms to write);
**   3. lens_fix.lua for the few lines that cannot be used as stored: a
**      queue whose new head's time a take did not read ("?"), a line that
**      does not parse (a 0.1 count, an edit by hand) -- for which the
**      fields of that bucket are read (HSCAN), since the line cannot name
**      its agent.
**
** ON A CLUSTER each round trip is one per master, all at once
** (am__redis_fanout): every master answers TIME (its lines' ages are
** measured on its own clock, which wrote their times), HVALS of the
** buckets it serves, and the badkeys and totals of each of them -- kept
** per bucket there, since no script may touch two slots -- which are
** merged and summed here; the audit slice is one bucket's. recover()
** sweeps every bucket on its master, lens_fix.lua runs per bucket, and
** there is no 0.1 layout to migrate.
**
** One broken key breaks nothing else: every reply of the pipelines is
** judged on its own, and a key of the wrong type -- a bucket, the
** counters' hash, one agent's queue -- is reported to the sink's bad_key
** (with what was still known about that agent) while every other agent is
** reported as usual. Keys found broken by anyone's audit stay listed in
** badkeys until an audit reads them fine again, so every snapshot reports
** them, not only the one whose slice met them.
**
** THE AUDIT (audit.lua) counts AUDIT_SLICE agents from their keys per
** snapshot, going round the buckets from where the last one stopped, and
** stores the line of any that disagrees: a snapshot costs a little more
** (six Redis calls per agent of the slice, ~0.5 ms), and drift -- which no
** script makes, but an edit by hand or a script that stopped half-way can
** -- and keys of the wrong type are found within (agents / AUDIT_SLICE)
** refreshes: at once with up to 50 agents, within 3.5 minutes with
** 10,000 (the background refresh runs every second).
**
** Threading: any thread; the state is the backend's (am__rbe): the pools,
** flush_lock around reading the counters (see coord_redis.c), and two
** atomics. Ownership: replies are freed here; names handed to the sink
** are borrowed for the call.
*/
#include <stdio.h>
#include <string.h>

#include "agentmon/log.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/validate.h"
#include "coord_redis_conn.h"

#define NB AM__REDIS_BUCKETS
#define SCAN_COUNT 1000   /* fields per HSCAN page (recover, lines to mend) */
#define FIX_BATCH 500     /* agents per lens_fix.lua call */
#define AUDIT_SLICE 50    /* agents audit.lua counts per snapshot */
#define RECOVER_BATCH 100 /* agents per recover.lua call */
#define MIGRATE_BATCH 500 /* agents per migrate.lua call */

/* The shared counters' names in <prefix>:totals, in AM__T_* order. */
static const char *const TOTAL_NAMES[AM__N_TOTALS] = {"nacks", "retries",   "permanent", "ok",
                                                      "error", "recovered", "sent",      "dead"};

typedef char keybuf[AM__REDIS_BKEY_MAX + 24];

/* Bucket i's hash of lines: "<prefix>:lens:<i>", on a cluster
   "<prefix>:{<tag>}:lens". */
static const char *bucket_key(const am__rbe *b, int i, keybuf buf)
{
    if (b->is_cluster)
        return am__redis_bkey(b, i, "lens", buf, sizeof(keybuf));
    snprintf(buf, sizeof(keybuf), "%s:lens:%d", b->u.prefix, i);
    return buf;
}

/* Whether a field can be an agent's name (coord.c makes no other):
   printable ASCII, no space, 1..AM_COORD_MAX_NAME bytes. */
static bool is_agent_name(const char *s, size_t n)
{
    if (n == 0 || n > AM_COORD_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* The fields of hash key (in bucket) in HSCAN pages, to fn (field,
   value); stops at the first error. A reply that is an error (a key of
   the wrong type) goes to on_error and ends the walk with AM_OK. */
static am_err scan_hash(am__rbe *b, int bucket, const char *key,
                        void (*fn)(const redisReply *f, const redisReply *v, void *ud),
                        void (*on_error)(const char *key, const redisReply *r, void *ud), void *ud)
{
    char count[16], cur[24] = "0";
    snprintf(count, sizeof count, "%d", SCAN_COUNT);
    do {
        const char *argv[] = {"HSCAN", key, cur, "COUNT", count};
        const am__rcmd cmd = {5, argv, NULL, -1, bucket, NULL, false};
        redisReply *pg;
        am_err rc = am__redis_fanout(b, &cmd, 1, &pg);
        if (rc)
            return rc;
        if (pg->type == REDIS_REPLY_ERROR) {
            on_error(key, pg, ud);
            freeReplyObject(pg);
            return AM_OK;
        }
        if (!am__is_array(pg, 2) || !am__el_str(pg, 0, NULL) ||
            pg->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(pg);
            return am__err(AM_EBACKEND, "redis at %s: HSCAN of %s did not answer a page", b->where,
                           key);
        }
        const redisReply *kv = pg->element[1];
        for (size_t i = 0; i + 1 < kv->elements; i += 2)
            fn(kv->element[i], kv->element[i + 1], ud);
        snprintf(cur, sizeof cur, "%s", pg->element[0]->str);
        freeReplyObject(pg);
    } while (strcmp(cur, "0") != 0);
    return AM_OK;
}

/* Move the 0.1 layout's agents to the buckets (migrate.lua), if any; a
   standalone server only (0.1 had no cluster). */
static am_err migrate(am__rbe *b)
{
    char batch[16];
    snprintf(batch, sizeof batch, "%d", MIGRATE_BATCH);
    const char *argv[] = {batch};
    for (;;) {
        redisReply *r;
        am_err rc = am__redis_eval(b, AM__S_MIGRATE, 0, 1, argv, NULL, &r);
        if (rc)
            return rc;
        long long left = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
        freeReplyObject(r);
        if (left < 0)
            return am__err(AM_EBACKEND, "redis at %s: unexpected reply from migrate.lua", b->where);
        if (left == 0)
            return AM_OK;
    }
}

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

typedef struct walk {
    am_coord *c;
    am__rbe *b;
    const am__agent_sink *s;
    double now[AM__REDIS_NODES_MAX]; /* each node's clock, by its index */
    bool unparsed[NB];               /* a bucket's HVALS had lines that do not parse */
    am_buf fix;                      /* names whose line lens_fix.lua must complete */
    struct fixrow {
        am_coord_stats st; /* what its stored line said, if has */
        bool has;
        int bucket;
    } * fixes;
    size_t n_fix, fix_cap, n_agents;
    bool oom;
} walk;

static void bad(walk *w, const char *agent, const char *key, const char *why)
{
    if (w->s->bad_key)
        w->s->bad_key(agent, key, why, w->s->ud);
}

/* A key that is no one agent's could not be read. */
static void bad_key_reply(const char *key, const redisReply *r, void *ud)
{
    bad(ud, "", key, r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

/* The clock bucket's lines are measured on: its node's. */
static double now_of(const walk *w, int bucket)
{
    am__rnode *n = am__redis_node_of(w->b, bucket);
    return w->now[n ? n->index : 0];
}

static void fix_later(walk *w, int bucket, const char *name, size_t len, const am_coord_stats *st)
{
    struct fixrow *f = am__grow(w->fixes, &w->fix_cap, w->n_fix + 1, sizeof *f, 64);
    if (!f) {
        w->oom = true;
        return;
    }
    w->fixes = f;
    f[w->n_fix].has = st != NULL;
    f[w->n_fix].bucket = bucket;
    if (st)
        f[w->n_fix].st = *st;
    w->n_fix++;
    am_buf_append(&w->fix, name, len);
    am_buf_putc(&w->fix, '\0');
}

/* One line (a bucket's value): to the sink, or to lens_fix.lua with a
   head not known. false when it does not parse. */
static bool one_line(walk *w, int bucket, const redisReply *v)
{
    const char *name;
    size_t nlen;
    am_coord_stats st;
    bool unknown;
    if (v->type != REDIS_REPLY_STRING || am__redis_lens_parse(v->str, v->len, now_of(w, bucket),
                                                              &name, &nlen, &st, &unknown) != AM_OK)
        return false;
    if (unknown) {
        fix_later(w, bucket, name, nlen, &st);
        return true;
    }
    char n[AM_COORD_MAX_NAME + 1];
    memcpy(n, name, nlen);
    n[nlen] = '\0';
    w->s->agent(n, &st, w->s->ud);
    w->n_agents++;
    return true;
}

/* A field of a bucket whose HVALS had lines that do not parse: those are
   counted from their keys by lens_fix.lua. */
typedef struct mend {
    walk *w;
    int bucket;
} mend;

static void mend_field(const redisReply *f, const redisReply *v, void *ud)
{
    mend *m = ud;
    walk *w = m->w;
    const char *name;
    size_t nlen;
    am_coord_stats st;
    bool unknown;
    if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
        return;
    if (am__redis_lens_parse(v->str, v->len, now_of(w, m->bucket), &name, &nlen, &st, &unknown) ==
            AM_OK &&
        nlen == f->len && memcmp(name, f->str, nlen) == 0)
        return; /* went to the sink already */
    if (is_agent_name(f->str, f->len)) {
        fix_later(w, m->bucket, f->str, f->len, NULL);
    } else {
        keybuf k;
        bad(w, "", bucket_key(w->b, m->bucket, k),
            "a field that is not an agent name (a space, a control or non-ASCII byte)");
    }
}

static void mend_bad(const char *key, const redisReply *r, void *ud)
{
    bad_key_reply(key, r, ((mend *)ud)->w);
}

/* lens_fix.lua's answer for name: its line, "" (gone) or "!<key>\t<why>". */
static void fixed(walk *w, const char *name, const struct fixrow *row, const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING || !v->len)
        return; /* gone since */
    if (v->str[0] == '!') {
        /* "!<key>\t<why>": report the key, and what is known */
        const char *tab = memchr(v->str, '\t', v->len);
        char key[AM__REDIS_BKEY_MAX + AM_COORD_MAX_NAME + 16];
        size_t kl = tab ? (size_t)(tab - v->str - 1) : v->len - 1;
        snprintf(key, sizeof key, "%.*s", (int)kl, v->str + 1);
        bad(w, name, key, tab ? tab + 1 : "cannot be read");
        if (row->has) {
            w->s->agent(name, &row->st, w->s->ud);
            w->n_agents++;
        }
    } else {
        one_line(w, row->bucket, v);
    }
}

/* The names kept by fix_later, through lens_fix.lua: per bucket, at most
   FIX_BATCH a call, every call in one fan-out. */
static am_err fix_all(walk *w)
{
    size_t n = w->n_fix;
    const char **names = am__malloc(n * sizeof *names);
    size_t *order = am__malloc(n * sizeof *order);
    am__rcmd *cmds = am__malloc((n / FIX_BATCH + NB) * sizeof *cmds);
    redisReply **r = am__malloc((n / FIX_BATCH + NB) * sizeof *r);
    const char **argv = am__malloc(n * sizeof *argv);
    am_err rc = AM_OK;
    if (!names || !order || !cmds || !r || !argv) {
        rc = am__err(AM_ENOMEM, "out of memory taking a snapshot");
        goto done;
    }
    const char *p = w->fix.p;
    for (size_t i = 0; i < n; i++) {
        names[i] = p;
        p += strlen(p) + 1;
    }
    size_t k = 0, nc = 0;
    for (int bk = 0; bk < NB; bk++) {
        for (size_t i = 0; i < n; i++) {
            if (w->fixes[i].bucket != bk)
                continue;
            if (nc == 0 || cmds[nc - 1].bucket != bk || cmds[nc - 1].argc == FIX_BATCH)
                cmds[nc++] = (am__rcmd){0, argv + k, NULL, AM__S_LENS_FIX, bk, NULL, false};
            order[k] = i;
            argv[k++] = names[i];
            cmds[nc - 1].argc++;
        }
    }
    if ((rc = am__redis_fanout(w->b, cmds, nc, r)))
        goto done;
    k = 0;
    for (size_t c = 0; c < nc; c++) {
        size_t m = (size_t)cmds[c].argc;
        if (!am__is_array(r[c], m) || r[c]->elements != m) {
            if (!rc)
                rc = am__redis_bad_reply(w->b, AM__S_LENS_FIX, NULL);
        } else {
            for (size_t i = 0; i < m; i++)
                fixed(w, names[order[k + i]], &w->fixes[order[k + i]], r[c]->element[i]);
        }
        k += m;
        freeReplyObject(r[c]);
    }
done:
    am__free(names);
    am__free(order);
    am__free(cmds);
    am__free(r);
    am__free(argv);
    return rc;
}

/* audit.lua's reply: {bucket, cursor, repaired, ...}: keep where it
   stopped, say what it repaired. Anything else (Redis refused the script)
   is left for the next snapshot: the audit never fails one. */
static void audited(walk *w, const redisReply *r)
{
    long long bucket, repaired;
    const char *cur = am__is_array(r, 3) ? am__el_str(r, 1, NULL) : NULL;
    if (!cur || !am__el_int(r, 0, &bucket) || !am__el_int(r, 2, &repaired))
        return;
    uint64_t at = (uint64_t)(bucket & 0xff) << 56 | ((uint64_t)am__to_ll(cur) & ((1ull << 56) - 1));
    atomic_store(&w->b->audit_at, at);
    if (repaired > 0)
        AM_LOG_WARNING(am__coord_opts(w->c).logger, "coordinator",
                       "agents' lengths disagreed with their keys (changed by hand?) and were "
                       "counted again",
                       AM_F_STR("redis", w->b->where), AM_F_INT("agents", repaired));
}

/* badkeys of a bucket (or of all, standalone): {key, "agent\twhy", ...}. */
static void listed_bad(walk *w, const char *key, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        bad_key_reply(key, r, w);
        return;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        size_t kl, vl;
        const char *k = am__el_str(r, i, &kl), *v = am__el_str(r, i + 1, &vl);
        /* what the scripts write is ASCII; anything else was written by
           hand and would only make the snapshot's JSON invalid */
        if (!k || !v || memchr(k, 0, kl) || memchr(v, 0, vl) || !am__utf8_valid(k, kl, NULL) ||
            !am__utf8_valid(v, vl, NULL))
            continue;
        const char *tab = strchr(v, '\t');
        char agent[AM_COORD_MAX_NAME + 1];
        size_t al = tab ? (size_t)(tab - v) : 0;
        snprintf(agent, sizeof agent, "%.*s", (int)(al < sizeof agent ? al : 0), v);
        bad(w, agent, k, tab ? tab + 1 : v);
    }
}

/* HMGET totals of a bucket (or of all): added to sum; false when the key
   cannot be read (reported). */
static void add_totals(walk *w, const char *key, const redisReply *r, double *sum)
{
    if (!am__is_array(r, AM__N_TOTALS)) {
        bad_key_reply(key, r, w);
        return;
    }
    for (int i = 0; i < AM__N_TOTALS; i++)
        sum[i] += (double)am__to_ll(am__el_str(r, (size_t)i, NULL));
}

/* Round trip 1 (see the top): per node TIME; the audit; the badkeys and
   totals of every bucket (standalone: the one of each); the 0.1 layout. */
static am_err first_round(walk *w, bool *legacy)
{
    am__rbe *b = w->b;
    const am__agent_sink *s = w->s;
    /* one set of shared keys: per bucket on a cluster, one standalone */
    int n_shared = b->is_cluster ? NB : 1;
    am__rnode *nodes[NB];
    size_t n_nodes = am__redis_serving(b, nodes);
    size_t max = n_nodes + 2 + 2 * (size_t)n_shared;
    am__rcmd *cmds = am__calloc(max, sizeof *cmds);
    redisReply **r = am__calloc(max, sizeof *r);
    const char **argv = am__calloc(2 + (size_t)n_shared * (4 + AM__N_TOTALS), sizeof *argv);
    keybuf *keys = am__calloc(2 * (size_t)n_shared + 1, sizeof *keys);
    if (!cmds || !r || !argv || !keys) {
        am__free(cmds);
        am__free(r);
        am__free(argv);
        am__free(keys);
        return am__err(AM_ENOMEM, "out of memory taking a snapshot");
    }
    static const char *const time_argv[] = {"TIME"};
    char bucket[8], cursor[24], slice[16];
    uint64_t at = atomic_load(&b->audit_at);
    int audit_bucket = (int)((at >> 56) % NB);
    snprintf(bucket, sizeof bucket, "%d", audit_bucket);
    snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)(at & ((1ull << 56) - 1)));
    snprintf(slice, sizeof slice, "%d", AUDIT_SLICE);
    const char *audit_argv[] = {bucket, cursor, slice};
    size_t nc = 0;
    for (size_t i = 0; i < n_nodes; i++)
        cmds[nc++] = (am__rcmd){1, time_argv, NULL, -1, -1, nodes[i], false};
    size_t r_audit = nc;
    cmds[nc++] = (am__rcmd){3, audit_argv, NULL, AM__S_AUDIT, audit_bucket, NULL, false};
    size_t r_legacy = nc;
    if (!b->is_cluster) {
        argv[0] = "TYPE";
        argv[1] = am__redis_bkey(b, 0, "agents", keys[2 * n_shared], sizeof(keybuf));
        cmds[nc++] = (am__rcmd){2, argv, NULL, -1, 0, NULL, false};
    }
    size_t r_shared = nc;
    for (int i = 0; i < n_shared; i++) {
        const char **a = argv + 2 + (size_t)i * (4 + AM__N_TOTALS);
        a[0] = "HGETALL";
        a[1] = am__redis_bkey(b, i, "badkeys", keys[2 * i], sizeof(keybuf));
        cmds[nc++] = (am__rcmd){2, a, NULL, -1, i, NULL, false};
        if (!s->totals)
            continue;
        const char **t = a + 2;
        t[0] = "HMGET";
        t[1] = am__redis_bkey(b, i, "totals", keys[2 * i + 1], sizeof(keybuf));
        for (int j = 0; j < AM__N_TOTALS; j++)
            t[2 + j] = TOTAL_NAMES[j];
        cmds[nc++] = (am__rcmd){2 + AM__N_TOTALS, t, NULL, -1, i, NULL, false};
    }
    if (s->totals)
        pthread_mutex_lock(&b->flush_lock); /* totals and flushed[] agree */
    am_err rc = am__redis_fanout(b, cmds, nc, r);
    bool got = rc == AM_OK;
    if (!rc && s->totals) {
        double sum[AM__N_TOTALS] = {0}, cur[AM__N_TOTALS];
        for (int i = 0; i < n_shared; i++)
            add_totals(w, keys[2 * i + 1], r[r_shared + 2 * (size_t)i + 1], sum);
        am__coord_local(w->c, cur);
        for (int i = 0; i < AM__N_TOTALS; i++)
            s->totals[i] = sum[i] + (cur[i] > b->flushed[i] ? cur[i] - b->flushed[i] : 0);
    }
    if (s->totals)
        pthread_mutex_unlock(&b->flush_lock);
    for (size_t i = 0; !rc && i < n_nodes; i++) {
        const redisReply *t = r[i];
        if (!am__is_array(t, 2) || !am__el_str(t, 0, NULL) || !am__el_str(t, 1, NULL)) {
            rc = am__err(AM_EBACKEND, "redis at %s: TIME did not answer a time", nodes[i]->addr);
            break;
        }
        w->now[nodes[i]->index] =
            (double)am__to_ll(t->element[0]->str) + (double)am__to_ll(t->element[1]->str) / 1e6;
    }
    if (!rc) {
        audited(w, r[r_audit]);
        for (int i = 0; i < n_shared; i++)
            listed_bad(w, keys[2 * i], r[r_shared + (size_t)i * (s->totals ? 2 : 1)]);
        *legacy = !b->is_cluster && r[r_legacy]->type == REDIS_REPLY_STATUS &&
                  strcmp(r[r_legacy]->str, "hash") == 0;
    }
    for (size_t i = 0; got && i < nc; i++)
        freeReplyObject(r[i]);
    am__free(cmds);
    am__free(r);
    am__free(argv);
    am__free(keys);
    return rc;
}

/*
** Round trip(s) 2: HVALS of every bucket, PER_TRIP buckets a round trip
** once there are many agents: Redis writes the replies of a pipeline only
** when it has run all its commands, so 64 at once would hold all the lines
** in its output buffer together (8 MB for 100,000 agents: memory it must
** fault in, on a VM ~10 us a page); 8 at a time hold 1 MB. (On a cluster
** a round trip is one per master, at once.)
*/
#define PER_TRIP 8

static am_err all_lines(walk *w)
{
    keybuf keys[NB];
    const char *argv[NB][2];
    am__rcmd cmds[NB];
    redisReply *r[NB];
    for (int i = 0; i < NB; i++) {
        argv[i][0] = "HVALS";
        argv[i][1] = bucket_key(w->b, i, keys[i]);
        cmds[i] = (am__rcmd){2, argv[i], NULL, -1, i, NULL, false};
    }
    int per_trip = atomic_load(&w->b->last_agents) > 16384 ? PER_TRIP : NB;
    am_err rc = AM_OK;
    for (int first = 0; first < NB && !rc; first += per_trip) {
        if ((rc = am__redis_fanout(w->b, cmds + first, (size_t)per_trip, r + first)))
            break;
        for (int i = first; i < first + per_trip; i++) {
            if (r[i]->type != REDIS_REPLY_ARRAY)
                bad_key_reply(keys[i], r[i], w); /* e.g. a string where the hash belongs */
            for (size_t j = 0; r[i]->type == REDIS_REPLY_ARRAY && j < r[i]->elements; j++)
                if (!one_line(w, i, r[i]->element[j]))
                    w->unparsed[i] = true;
            freeReplyObject(r[i]);
        }
    }
    if (rc)
        return rc;
    /* Lines that do not parse cannot name their agent: read the fields. */
    for (int i = 0; i < NB && !rc; i++) {
        mend m = {w, i};
        if (w->unparsed[i])
            rc = scan_hash(w->b, i, keys[i], mend_field, mend_bad, &m);
    }
    return rc;
}

am_err am__redis_each_agent(am_coord *c, const am__agent_sink *s)
{
    am__rbe *b = c->be;
    walk *w = am__calloc(1, sizeof *w);
    if (!w)
        return am__err(AM_ENOMEM, "out of memory taking a snapshot");
    w->c = c;
    w->b = b;
    w->s = s;
    am_buf_init(&w->fix, 0);
    if (s->expect && atomic_load(&b->last_agents))
        s->expect(atomic_load(&b->last_agents), s->ud);
    bool legacy = false;
    am_err rc = first_round(w, &legacy);
    if (!rc && legacy)
        rc = migrate(b);
    if (!rc)
        rc = all_lines(w);
    if (!rc && (w->oom || am_buf_err(&w->fix)))
        rc = am__err(AM_ENOMEM, "out of memory taking a snapshot");
    if (!rc && w->n_fix)
        rc = fix_all(w);
    if (!rc)
        atomic_store(&b->last_agents, w->n_agents);
    am_buf_free(&w->fix);
    am__free(w->fixes);
    am__free(w);
    return rc;
}

/* ------------------------------------------------------------------ */
/* One agent                                                           */
/* ------------------------------------------------------------------ */

am_err am__redis_stats(am_coord *c, const char *agent, am_coord_stats *out)
{
    am__rbe *b = c->be;
    memset(out, 0, sizeof *out);
    redisReply *r;
    am_err rc =
        am__redis_eval(b, AM__S_STATS, am__redis_bucket(agent, strlen(agent)), 1, &agent, NULL, &r);
    if (rc)
        return rc;
    long long code;
    if (!am__is_array(r, 1) || !am__el_int(r, 0, &code))
        return am__redis_bad_reply(b, AM__S_STATS, r);
    if (code == 1) {
        freeReplyObject(r);
        return am__err(AM_ENOTFOUND, "no agent \"%s\"", agent);
    }
    if (code == 2) {
        const char *k = am__el_str(r, 1, NULL), *why = am__el_str(r, 2, NULL);
        rc = am__err(AM_EBACKEND, "redis at %s: key %s of agent \"%s\" cannot be read: %s",
                     b->where, k ? k : "?", agent, why ? why : "?");
        freeReplyObject(r);
        return rc;
    }
    size_t len, nl;
    const char *now = am__el_str(r, 1, NULL), *line = am__el_str(r, 2, &len), *nm;
    bool unknown;
    if (!now || !line ||
        am__redis_lens_parse(line, len, am__to_double(now), &nm, &nl, out, &unknown))
        return am__redis_bad_reply(b, AM__S_STATS, r);
    freeReplyObject(r);
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Recover                                                             */
/* ------------------------------------------------------------------ */

typedef struct sweep {
    am_coord *c;
    char maxa[16];
    const char *slots[RECOVER_BATCH + 1]; /* [0]: max_attempts, then names */
    am_buf names;                         /* the names of the batch */
    size_t k, total;
    int bucket; /* of the batch's agents */
    am_err rc;
} sweep;

/* recover.lua on the batch: report its events and broken keys. */
static void recover_batch(sweep *sw)
{
    if (!sw->k || sw->rc)
        return;
    am_coord *c = sw->c;
    am__rbe *b = c->be;
    const char *p = sw->names.p;
    sw->slots[0] = sw->maxa;
    for (size_t i = 0; i < sw->k; i++) {
        sw->slots[1 + i] = p;
        p += strlen(p) + 1;
    }
    redisReply *r;
    long long settled, repaired;
    sw->rc = am__redis_eval(b, AM__S_RECOVER, sw->bucket, (int)sw->k + 1, sw->slots, NULL, &r);
    sw->k = 0;
    sw->names.len = 0; /* the next batch reuses the buffer */
    if (sw->rc)
        return;
    if (!am__is_array(r, 4) || !am__el_int(r, 0, &settled) || !am__el_int(r, 1, &repaired) ||
        r->element[2]->type != REDIS_REPLY_ARRAY || r->element[2]->elements % 4 ||
        r->element[3]->type != REDIS_REPLY_ARRAY || r->element[3]->elements % 3) {
        sw->rc = am__redis_bad_reply(b, AM__S_RECOVER, r);
        return;
    }
    const redisReply *g = r->element[2], *bk = r->element[3];
    for (size_t i = 0; i + 3 < g->elements; i += 4) {
        const char *agent = am__el_str(g, i, NULL);
        long long nrec = 0, ndead = 0, npois = 0;
        if (!agent || !am__el_int(g, i + 1, &nrec) || !am__el_int(g, i + 2, &ndead) ||
            !am__el_int(g, i + 3, &npois))
            continue;
        am__redis_events(c, agent, AM__EV_RECOVERED, nrec);
        am__redis_events(c, agent, AM__EV_DEAD_ATTEMPTS, ndead);
        am__redis_events(c, agent, AM__EV_DEAD_POISON, npois);
    }
    for (size_t i = 0; i + 2 < bk->elements; i += 3) {
        const char *key = am__el_str(bk, i, NULL), *agent = am__el_str(bk, i + 1, NULL),
                   *why = am__el_str(bk, i + 2, NULL);
        AM_LOG_WARNING(am__coord_opts(c).logger, "coordinator",
                       "recover skipped an agent: one of its keys cannot be read",
                       AM_F_STR("agent", agent ? agent : ""), AM_F_STR("key", key ? key : ""),
                       AM_F_STR("error", why ? why : ""));
    }
    if (repaired > 0)
        AM_LOG_WARNING(am__coord_opts(c).logger, "coordinator",
                       "agents' lengths disagreed with their keys (changed by hand?) and were "
                       "counted again",
                       AM_F_STR("redis", b->where), AM_F_INT("agents", repaired));
    sw->total += (size_t)settled;
    freeReplyObject(r);
}

static void sweep_bad_bucket(const char *key, const redisReply *r, void *ud)
{
    sweep *sw = ud;
    AM_LOG_WARNING(am__coord_opts(sw->c).logger, "coordinator",
                   "recover skipped a hash of lengths: it cannot be read", AM_F_STR("key", key),
                   AM_F_STR("error", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
}

static void sweep_field(const redisReply *f, const redisReply *v, void *ud)
{
    (void)v;
    sweep *sw = ud;
    if (f->type != REDIS_REPLY_STRING || sw->rc)
        return;
    am_buf_append(&sw->names, f->str, f->len + 1);
    if (++sw->k == RECOVER_BATCH)
        recover_batch(sw);
}

am_err am__redis_recover(am_coord *c, unsigned max_attempts, size_t *n)
{
    am__rbe *b = c->be;
    sweep sw = {.c = c};
    snprintf(sw.maxa, sizeof sw.maxa, "%u", max_attempts);
    am_buf_init(&sw.names, 0);
    am_err rc = AM_OK;
    if (!b->is_cluster) {
        keybuf legacy;
        redisReply *r;
        const char *argv[] = {"TYPE", am__redis_bkey(b, 0, "agents", legacy, sizeof legacy)};
        const am__rcmd cmd = {2, argv, NULL, -1, 0, NULL, false};
        rc = am__redis_fanout(b, &cmd, 1, &r);
        if (!rc) {
            bool has_legacy = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "hash") == 0;
            freeReplyObject(r);
            if (has_legacy)
                rc = migrate(b);
        }
    }
    for (int i = 0; i < NB && !rc && !sw.rc; i++) {
        keybuf k;
        sw.bucket = i; /* a batch is one bucket's (one slot, on a cluster) */
        rc = scan_hash(b, i, bucket_key(b, i, k), sweep_field, sweep_bad_bucket, &sw);
        recover_batch(&sw);
    }
    if (!rc && !sw.rc && am_buf_err(&sw.names))
        rc = am__err(AM_ENOMEM, "out of memory recovering");
    am_buf_free(&sw.names);
    if (n)
        *n = sw.total;
    return rc ? rc : sw.rc;
}
