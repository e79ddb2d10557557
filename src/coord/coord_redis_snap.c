/*
** coord_redis_snap.c: reading every agent of a Redis coordinator at once --
** the snapshot (each_agent), one agent's lengths (stats) and the sweep
** over all of them (recover).
**
** DESIGN
** The scripts keep one line per agent in the hash <prefix>:agents -- its
** six lengths, the time of each queue's head and its next timer
** (lib_lens.lua) -- exact whenever no script runs. So a snapshot is:
**   1. one pipelined round trip: TIME (the clock ages are measured on),
**      audit.lua over the next slice of agents, HGETALL of badkeys, HLEN
**      of agents, and HMGET of the shared counters when the caller wants
**      them;
**   2. the agents hash: up to FULL_MAX agents with one HVALS (a line
**      carries its agent's name, so the values are enough: ~80 bytes an
**      agent, and Redis answers HVALS of 10,000 in a third of HGETALL's
**      time and a sixth of HSCAN's), beyond that in HSCAN pages of
**      SCAN_COUNT, one round trip each, so that no reply grows with the
**      number of agents (100,000 agents: a hundred replies of ~160 KB,
**      never one of 16 MB);
**   3. lens_fix.lua for the few lines that cannot be used as stored: a
**      queue whose new head's time a take did not read ("?"), a line that
**      does not parse (an older version's count, an edit by hand).
** HSCAN may return an agent twice (when the hash is resized between two
** pages), and a hand may write two lines naming one agent, so the names
** delivered are kept in a set.
**
** One broken key breaks nothing else: every reply of the pipeline is
** judged on its own, and a key of the wrong type -- the agents hash
** itself, the counters' hash, one agent's queue -- is reported to the
** sink's bad_key (with what was still known about that agent) while every
** other agent is reported as usual. Keys found broken by anyone's audit
** stay listed in badkeys until an audit reads them fine again, so every
** snapshot reports them, not only the one whose slice met them.
**
** THE AUDIT (audit.lua) counts a slice of AUDIT_SLICE agents from their
** keys per snapshot, from a cursor that goes round the agents hash, and
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
#include "../core/alloc.h"
#include "../core/buf.h"
#include "../core/error.h"
#include "../core/family.h"
#include "coord_redis_conn.h"

#define FULL_MAX 16384    /* agents read with one HVALS (a reply of ~1.3 MB at most) */
#define SCAN_COUNT 1000   /* agents per HSCAN page beyond that */
#define FIX_BATCH 500     /* agents per lens_fix.lua call */
#define AUDIT_SLICE 50    /* agents audit.lua counts per snapshot */
#define RECOVER_BATCH 100 /* agents per recover.lua call */

/* The shared counters' names in <prefix>:totals, in AM__T_* order. */
static const char *const TOTAL_NAMES[AM__N_TOTALS] = {"nacks", "retries",   "permanent", "ok",
                                                      "error", "recovered", "sent",      "dead"};

/* A key name "<prefix>:<what>" into buf. */
static const char *pkey(const am__rbe *b, const char *what, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%s", b->u.prefix, what);
    return buf;
}

/* Whether a field of the agents hash can be an agent's name (coord.c
   makes no other): printable ASCII, no space, 1..AM_COORD_MAX_NAME. */
static bool is_agent_name(const char *s, size_t n)
{
    if (n == 0 || n > AM_COORD_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* ------------------------------------------------------------------ */
/* Names seen (HSCAN may repeat one)                                   */
/* ------------------------------------------------------------------ */

typedef struct seen {
    am_buf names;    /* NUL-terminated, back to back */
    uint32_t *slots; /* offset + 1 into names; 0 = empty */
    uint32_t *hashes;
    size_t cap, n;
    bool oom;
} seen;

static void seen_free(seen *s)
{
    am_buf_free(&s->names);
    am__free(s->slots);
    am__free(s->hashes);
}

static bool seen_grow(seen *s)
{
    size_t cap = s->cap ? s->cap * 2 : 4096;
    uint32_t *slots = am__calloc(cap, sizeof *slots), *hashes = am__calloc(cap, sizeof *hashes);
    if (!slots || !hashes) {
        am__free(slots);
        am__free(hashes);
        return false;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i])
            continue;
        size_t j = s->hashes[i] & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
        hashes[j] = s->hashes[i];
    }
    am__free(s->slots);
    am__free(s->hashes);
    s->slots = slots;
    s->hashes = hashes;
    s->cap = cap;
    return true;
}

/* Add name (NUL-terminated); false when it was there already (or on
   ENOMEM, which s->oom records). */
static bool seen_add(seen *s, const char *name)
{
    if ((s->n + 1) * 2 > s->cap && !seen_grow(s)) {
        s->oom = true;
        return false;
    }
    size_t len;
    uint32_t h = am__labels_hash(&name, 1, &len);
    size_t j = h & (s->cap - 1);
    for (; s->slots[j]; j = (j + 1) & (s->cap - 1))
        if (s->hashes[j] == h && strcmp(s->names.p + s->slots[j] - 1, name) == 0)
            return false;
    s->slots[j] = (uint32_t)s->names.len + 1;
    s->hashes[j] = h;
    am_buf_append(&s->names, name, len + 1);
    s->n++;
    if (am_buf_err(&s->names)) {
        s->oom = true;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

typedef struct walk {
    am_coord *c;
    am__rbe *b;
    const am__agent_sink *s;
    double now;
    seen names;       /* HSCAN may repeat one; a hand may write two */
    size_t unparsed;  /* lines of HVALS that did not parse */
    bool second_pass; /* reading the fields of those */
    am_buf fix;       /* names whose line lens_fix.lua must complete */
    struct fixrow {
        am_coord_stats st; /* what its stored line said, if has */
        bool has;
    } * fixes;
    size_t n_fix, fix_cap;
    bool oom;
} walk;

static void bad(walk *w, const char *agent, const char *key, const char *why)
{
    if (w->s->bad_key)
        w->s->bad_key(agent, key, why, w->s->ud);
}

/* A key of the prefix (no one agent's) could not be read. */
static void bad_prefix_key(walk *w, const char *what, const redisReply *r)
{
    char k[AM__REDIS_PREFIX_MAX + 16];
    bad(w, "", pkey(w->b, what, k, sizeof k),
        r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

static void fix_later(walk *w, const char *name, const am_coord_stats *st)
{
    struct fixrow *f = am__grow(w->fixes, &w->fix_cap, w->n_fix + 1, sizeof *f, 64);
    if (!f) {
        w->oom = true;
        return;
    }
    w->fixes = f;
    f[w->n_fix].has = st != NULL;
    if (st)
        f[w->n_fix].st = *st;
    w->n_fix++;
    am_buf_append(&w->fix, name, strlen(name) + 1);
}

/*
** One line of the agents hash, from HVALS (field NULL) or HSCAN (its
** field). A line that parses goes to the sink (or, with a head not known,
** to lens_fix.lua), once per name; one that does not -- or that names
** another agent than its field -- is counted again by lens_fix.lua, which
** needs its field: from HVALS it is only counted (w->unparsed), and the
** fields are read afterwards (second_pass).
*/
static void one_line(walk *w, const redisReply *f, const redisReply *v)
{
    const char *name;
    size_t nlen;
    am_coord_stats st;
    bool unknown;
    if (v->type != REDIS_REPLY_STRING || (f && f->type != REDIS_REPLY_STRING))
        return;
    bool ok = am__redis_lens_parse(v->str, v->len, w->now, &name, &nlen, &st, &unknown) == AM_OK;
    if (ok && f && (nlen != f->len || memcmp(name, f->str, nlen) != 0))
        ok = false;
    if (w->second_pass) {
        if (!ok && f && is_agent_name(f->str, f->len) && seen_add(&w->names, f->str))
            fix_later(w, f->str, NULL);
        return;
    }
    if (!ok && !f) {
        w->unparsed++;
        return;
    }
    if (!ok && !is_agent_name(f->str, f->len)) {
        char k[AM__REDIS_PREFIX_MAX + 16];
        bad(w, "", pkey(w->b, "agents", k, sizeof k),
            "a field that is not an agent name (a space, a control or non-ASCII byte)");
        return;
    }
    char n[AM_COORD_MAX_NAME + 1];
    if (ok) {
        memcpy(n, name, nlen);
        n[nlen] = '\0';
    } else {
        memcpy(n, f->str, f->len + 1);
    }
    if (!seen_add(&w->names, n))
        return; /* HSCAN's repeat, or a second field naming the same agent */
    if (!ok)
        fix_later(w, n, NULL);
    else if (unknown)
        fix_later(w, n, &st);
    else
        w->s->agent(n, &st, w->s->ud);
}

/* One HSCAN page: [cursor, [field, value, ...]]. Returns the next cursor
   (0 at the end), or -1 when the reply is not one. */
static long long page(walk *w, const redisReply *r)
{
    if (!am__is_array(r, 2) || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY || r->element[1]->elements % 2)
        return -1;
    const redisReply *kv = r->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        one_line(w, kv->element[i], kv->element[i + 1]);
    return (long long)am__to_ll(r->element[0]->str);
}

/* The agents hash in HSCAN pages, from the start. */
static am_err scan_agents(walk *w, const char *agents)
{
    char count[16], cur[24] = "0";
    snprintf(count, sizeof count, "%d", SCAN_COUNT);
    for (;;) {
        const char *argv[] = {"HSCAN", agents, cur, "COUNT", count};
        const am__rcmd cmd = {5, argv, NULL, -1};
        redisReply *pg;
        am_err rc = am__redis_pipeline(w->b, &cmd, 1, &pg);
        if (rc)
            return rc;
        if (pg->type == REDIS_REPLY_ERROR) {
            bad_prefix_key(w, "agents", pg); /* e.g. a string where the hash belongs */
            freeReplyObject(pg);
            return AM_OK;
        }
        long long next = page(w, pg);
        freeReplyObject(pg);
        if (next < 0)
            return am__err(AM_EBACKEND, "redis at %s: HSCAN of %s did not answer a page",
                           w->b->where, agents);
        if (next == 0 || w->oom || w->names.oom)
            return AM_OK;
        snprintf(cur, sizeof cur, "%llu", (unsigned long long)next);
    }
}

/* The agents' lines in one HVALS; then, if some did not parse, their
   fields in pages (rare: an older version's lines, an edit by hand). */
static am_err all_agents(walk *w, const char *agents)
{
    const char *argv[] = {"HVALS", agents};
    const am__rcmd cmd = {2, argv, NULL, -1};
    redisReply *r;
    am_err rc = am__redis_pipeline(w->b, &cmd, 1, &r);
    if (rc)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            one_line(w, NULL, r->element[i]);
    else
        bad_prefix_key(w, "agents", r);
    freeReplyObject(r);
    if (!w->unparsed)
        return AM_OK;
    w->second_pass = true;
    return scan_agents(w, agents);
}

/* The names kept by fix_later, through lens_fix.lua, FIX_BATCH at a time. */
static am_err fix_all(walk *w)
{
    const char *p = w->fix.p;
    const char **names = am__malloc(FIX_BATCH * sizeof *names);
    if (!names)
        return am__err(AM_ENOMEM, "out of memory taking a snapshot");
    am_err rc = AM_OK;
    for (size_t done = 0; done < w->n_fix && !rc;) {
        size_t k = 0;
        for (; k < FIX_BATCH && done + k < w->n_fix; k++) {
            names[k] = p;
            p += strlen(p) + 1;
        }
        redisReply *r;
        if ((rc = am__redis_eval(w->b, AM__S_LENS_FIX, (int)k, names, NULL, &r)))
            break;
        if (!am__is_array(r, k) || r->elements != k) {
            rc = am__redis_bad_reply(w->b, AM__S_LENS_FIX, r);
            break;
        }
        for (size_t i = 0; i < k; i++) {
            size_t len;
            const char *line = am__el_str(r, i, &len);
            am_coord_stats st;
            bool unknown;
            if (!line || !len)
                continue; /* gone since the scan */
            if (line[0] == '!') {
                /* "!<key>\t<why>": report the key, and what is known */
                const char *tab = memchr(line, '\t', len);
                char key[AM__REDIS_PREFIX_MAX + AM_COORD_MAX_NAME + 16];
                size_t kl = tab ? (size_t)(tab - line - 1) : len - 1;
                snprintf(key, sizeof key, "%.*s", (int)kl, line + 1);
                bad(w, names[i], key, tab ? tab + 1 : "cannot be read");
                if (w->fixes[done + i].has)
                    w->s->agent(names[i], &w->fixes[done + i].st, w->s->ud);
            } else {
                const char *nm;
                size_t nl;
                if (am__redis_lens_parse(line, len, w->now, &nm, &nl, &st, &unknown) == AM_OK)
                    w->s->agent(names[i], &st, w->s->ud);
            }
        }
        freeReplyObject(r);
        done += k;
    }
    am__free(names);
    return rc;
}

/* audit.lua's reply: {cursor, repaired, ...}: keep the cursor, say what
   was repaired. Anything else (Redis refused the script) is left for the
   next snapshot: the audit never fails one. */
static void audited(walk *w, const redisReply *r)
{
    long long repaired;
    const char *cur = am__is_array(r, 2) ? am__el_str(r, 0, NULL) : NULL;
    if (!cur || !am__el_int(r, 1, &repaired))
        return;
    atomic_store(&w->b->audit_cursor, (uint64_t)am__to_ll(cur));
    if (repaired > 0) {
        atomic_fetch_add(&w->b->repairs, (uint64_t)repaired);
        AM_LOG_WARNING(am__coord_opts(w->c).logger, "coordinator",
                       "agents' lengths disagreed with their keys (changed by hand?) and were "
                       "counted again",
                       AM_F_STR("redis", w->b->where), AM_F_INT("agents", repaired));
    }
}

/* badkeys: {key, "agent\twhy", ...}. */
static void listed_bad(walk *w, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        bad_prefix_key(w, "badkeys", r);
        return;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = am__el_str(r, i, NULL), *v = am__el_str(r, i + 1, NULL);
        if (!k || !v)
            continue;
        const char *tab = strchr(v, '\t');
        char agent[AM_COORD_MAX_NAME + 1];
        size_t al = tab ? (size_t)(tab - v) : 0;
        snprintf(agent, sizeof agent, "%.*s", (int)(al < sizeof agent ? al : 0), v);
        bad(w, agent, k, tab ? tab + 1 : v);
    }
}

/* HMGET totals: the shared counters, plus what this process has not
   flushed yet (under flush_lock, held by the caller). */
static void shared_totals(walk *w, const redisReply *r)
{
    if (!am__is_array(r, AM__N_TOTALS)) {
        bad_prefix_key(w, "totals", r);
        return;
    }
    double cur[AM__N_TOTALS];
    am__coord_local(w->c, cur);
    for (int i = 0; i < AM__N_TOTALS; i++) {
        const char *v = am__el_str(r, (size_t)i, NULL);
        w->s->totals[i] =
            (double)am__to_ll(v) + (cur[i] > w->b->flushed[i] ? cur[i] - w->b->flushed[i] : 0);
    }
}

am_err am__redis_each_agent(am_coord *c, const am__agent_sink *s)
{
    am__rbe *b = c->be;
    walk w = {.c = c, .b = b, .s = s};
    am_buf_init(&w.names.names, 0);
    am_buf_init(&w.fix, 0);

    char agents[AM__REDIS_PREFIX_MAX + 16], badkeys[AM__REDIS_PREFIX_MAX + 16],
        totals[AM__REDIS_PREFIX_MAX + 16], cursor[24], slice[16];
    pkey(b, "agents", agents, sizeof agents);
    pkey(b, "badkeys", badkeys, sizeof badkeys);
    pkey(b, "totals", totals, sizeof totals);
    snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)atomic_load(&b->audit_cursor));
    snprintf(slice, sizeof slice, "%d", AUDIT_SLICE);
    const char *time_argv[] = {"TIME"};
    const char *audit_argv[] = {"EVALSHA", b->sha[AM__S_AUDIT], "0", b->u.prefix, cursor, slice};
    const char *bad_argv[] = {"HGETALL", badkeys};
    const char *hlen_argv[] = {"HLEN", agents};
    const char *tot_argv[2 + AM__N_TOTALS] = {"HMGET", totals};
    for (int i = 0; i < AM__N_TOTALS; i++)
        tot_argv[2 + i] = TOTAL_NAMES[i];
    enum { R_TIME, R_AUDIT, R_BAD, R_HLEN, R_TOTALS, R_N };
    const am__rcmd cmds[R_N] = {{1, time_argv, NULL, -1},
                                {6, audit_argv, NULL, AM__S_AUDIT},
                                {2, bad_argv, NULL, -1},
                                {2, hlen_argv, NULL, -1},
                                {2 + AM__N_TOTALS, tot_argv, NULL, -1}};
    size_t n_cmds = s->totals ? R_N : R_TOTALS;
    redisReply *r[R_N] = {0};
    if (s->totals)
        pthread_mutex_lock(&b->flush_lock); /* totals and flushed[] agree */
    am_err rc = am__redis_pipeline(b, cmds, n_cmds, r);
    if (!rc && s->totals)
        shared_totals(&w, r[R_TOTALS]);
    if (s->totals)
        pthread_mutex_unlock(&b->flush_lock);
    if (rc)
        goto done;
    if (!am__is_array(r[R_TIME], 2) || !am__el_str(r[R_TIME], 0, NULL) ||
        !am__el_str(r[R_TIME], 1, NULL)) {
        rc = am__err(AM_EBACKEND, "redis at %s: TIME did not answer a time", b->where);
        goto done;
    }
    w.now = (double)am__to_ll(r[R_TIME]->element[0]->str) +
            (double)am__to_ll(r[R_TIME]->element[1]->str) / 1e6;
    audited(&w, r[R_AUDIT]);
    listed_bad(&w, r[R_BAD]);

    /* The agents hash: whole, or in pages. */
    if (r[R_HLEN]->type == REDIS_REPLY_INTEGER && r[R_HLEN]->integer > 0 && s->expect)
        s->expect((size_t)r[R_HLEN]->integer, s->ud);
    if (r[R_HLEN]->type != REDIS_REPLY_INTEGER)
        bad_prefix_key(&w, "agents", r[R_HLEN]); /* e.g. a string where the hash belongs */
    else if (r[R_HLEN]->integer <= FULL_MAX)
        rc = all_agents(&w, agents);
    else
        rc = scan_agents(&w, agents);
    if (!rc && (w.oom || w.names.oom || am_buf_err(&w.fix)))
        rc = am__err(AM_ENOMEM, "out of memory taking a snapshot");
    if (!rc && w.n_fix)
        rc = fix_all(&w);
done:
    for (size_t i = 0; i < R_N; i++)
        if (r[i])
            freeReplyObject(r[i]);
    seen_free(&w.names);
    am_buf_free(&w.fix);
    am__free(w.fixes);
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
    am_err rc = am__redis_eval(b, AM__S_STATS, 1, &agent, NULL, &r);
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

/* recover.lua on names[0..k): report its events and broken keys. */
static am_err recover_batch(am_coord *c, const char *maxa, const char **names, size_t k,
                            size_t *total)
{
    am__rbe *b = c->be;
    names[-1] = maxa; /* the caller left room in front */
    redisReply *r;
    am_err rc = am__redis_eval(b, AM__S_RECOVER, (int)k + 1, names - 1, NULL, &r);
    if (rc)
        return rc;
    long long settled, repaired;
    if (!am__is_array(r, 4) || !am__el_int(r, 0, &settled) || !am__el_int(r, 1, &repaired) ||
        r->element[2]->type != REDIS_REPLY_ARRAY || r->element[2]->elements % 4 ||
        r->element[3]->type != REDIS_REPLY_ARRAY || r->element[3]->elements % 3)
        return am__redis_bad_reply(b, AM__S_RECOVER, r);
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
    if (repaired > 0) {
        atomic_fetch_add(&b->repairs, (uint64_t)repaired);
        AM_LOG_WARNING(am__coord_opts(c).logger, "coordinator",
                       "agents' lengths disagreed with their keys (changed by hand?) and were "
                       "counted again",
                       AM_F_STR("redis", b->where), AM_F_INT("agents", repaired));
    }
    *total += (size_t)settled;
    freeReplyObject(r);
    return AM_OK;
}

am_err am__redis_recover(am_coord *c, unsigned max_attempts, size_t *n)
{
    am__rbe *b = c->be;
    char maxa[16], agents[AM__REDIS_PREFIX_MAX + 16], count[16], cur[24] = "0";
    snprintf(maxa, sizeof maxa, "%u", max_attempts);
    snprintf(count, sizeof count, "%d", SCAN_COUNT);
    pkey(b, "agents", agents, sizeof agents);
    const char *slots[RECOVER_BATCH + 1];
    const char **names = slots + 1;
    size_t total = 0;
    am_err rc = AM_OK;
    do {
        const char *argv[] = {"HSCAN", agents, cur, "COUNT", count};
        const am__rcmd cmd = {5, argv, NULL, -1};
        redisReply *pg;
        if ((rc = am__redis_pipeline(b, &cmd, 1, &pg)))
            break;
        if (pg->type == REDIS_REPLY_ERROR) {
            rc = am__err(AM_EBACKEND, "redis at %s: key %s cannot be read: %s", b->where, agents,
                         pg->str);
            freeReplyObject(pg);
            break;
        }
        if (!am__is_array(pg, 2) || !am__el_str(pg, 0, NULL) ||
            pg->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(pg);
            rc = am__err(AM_EBACKEND, "redis at %s: HSCAN of %s did not answer a page", b->where,
                         agents);
            break;
        }
        const redisReply *kv = pg->element[1];
        size_t k = 0;
        for (size_t i = 0; i + 1 < kv->elements && !rc; i += 2) {
            const char *name = am__el_str(kv, i, NULL);
            if (name)
                names[k++] = name;
            if (k == RECOVER_BATCH || (k && i + 3 >= kv->elements)) {
                rc = recover_batch(c, maxa, names, k, &total);
                k = 0;
            }
        }
        snprintf(cur, sizeof cur, "%s", pg->element[0]->str);
        freeReplyObject(pg);
    } while (!rc && strcmp(cur, "0") != 0);
    if (n)
        *n = total;
    return rc;
}
