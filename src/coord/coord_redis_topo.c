/*
** coord_redis_topo.c: reading a Redis Cluster's topology -- who serves
** which slot -- from CLUSTER SHARDS or CLUSTER SLOTS, and the MOVED and
** ASK redirections a node answers for a slot it does not serve.
**
** DESIGN
** The coordinator on a cluster (coord_redis_cluster.c) keeps a map from
** each of its 64 buckets to the master that serves the bucket's slot. It
** builds the map from CLUSTER SHARDS (Redis >= 7: per shard, its slot
** ranges and its nodes with role and health, so a replica that is down
** is known to be) and, on an older server, from CLUSTER SLOTS (per slot
** range, the master then the replicas the node believes reachable). A
** MOVED reply says a slot has moved for good (the map is stale: it is
** read again), an ASK reply that one command is to be sent, after
** ASKING, to the node importing the slot.
**
** These replies come from the network, so they are read like any input:
** every element's type and range is checked, nothing is trusted to be
** where the documentation puts it (fields of a node are looked up by
** name, in any order, unknown ones skipped), and anything else is
** AM_EPROTO naming what was wrong -- never a crash, a guess or a slot
** mapped to a node that was not named. A master named in several shards
** or ranges is one master. The replicas counted are the ones the
** coordinator can expect to confirm a write (WAIT): online ones.
**
** Threading: none; pure functions. Ownership: nothing is allocated; the
** reply is the caller's.
*/
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "../util/error.h"
#include "coord_redis.h"

/* A string element of r, or NULL. */
static const redisReply *str_el(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i] : NULL;
}

static bool is_str(const redisReply *r, const char *s)
{
    size_t n = strlen(s);
    return r && r->type == REDIS_REPLY_STRING && r->len == n && memcmp(r->str, s, n) == 0;
}

/* Whether h[0..n) can be a host we connect to: 1..255 printable bytes,
   no space. */
static bool host_ok(const char *h, size_t n)
{
    if (n == 0 || n > AM__REDIS_HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)h[i] <= 0x20 || (unsigned char)h[i] >= 0x7f)
            return false;
    return true;
}

/* The index of master host:port in t, adding it; -1 when t is full. */
static int master_index(am__redis_topo *t, const char *host, size_t hn, int port)
{
    for (int i = 0; i < t->n_masters; i++)
        if (t->masters[i].port == port && strlen(t->masters[i].host) == hn &&
            memcmp(t->masters[i].host, host, hn) == 0)
            return i;
    if (t->n_masters == AM__REDIS_MASTERS_MAX)
        return -1;
    int i = t->n_masters++;
    memcpy(t->masters[i].host, host, hn);
    t->masters[i].host[hn] = '\0';
    t->masters[i].port = port;
    t->masters[i].replicas = 0;
    return i;
}

static am_err bad(const char *what)
{
    return am__err(AM_EPROTO, "redis cluster topology: %s", what);
}

/* Mark slots [from, to] as served by master i. */
static am_err claim_slots(am__redis_topo *t, long long from, long long to, int i)
{
    if (from < 0 || to < from || to >= AM__REDIS_SLOTS)
        return bad("a slot range is not within 0..16383");
    for (long long s = from; s <= to; s++)
        t->slot_master[s] = (uint16_t)(i + 1);
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* CLUSTER SHARDS                                                      */
/* ------------------------------------------------------------------ */

/* One node of a shard: a flat array of name, value. */
typedef struct node_info {
    const redisReply *endpoint, *ip, *role, *health;
    long long port;
} node_info;

static am_err read_node(const redisReply *n, node_info *out)
{
    memset(out, 0, sizeof *out);
    if (n->type != REDIS_REPLY_ARRAY || n->elements % 2)
        return bad("a node of CLUSTER SHARDS is not an array of names and values");
    for (size_t i = 0; i < n->elements; i += 2) {
        const redisReply *k = str_el(n, i), *v = n->element[i + 1];
        if (!k)
            return bad("a field name of a node is not a string");
        if (is_str(k, "port")) {
            if (v->type != REDIS_REPLY_INTEGER)
                return bad("a node's port is not an integer");
            out->port = v->integer;
        } else if (is_str(k, "endpoint") || is_str(k, "ip") || is_str(k, "role") ||
                   is_str(k, "health")) {
            if (v->type != REDIS_REPLY_STRING)
                return bad("a node's endpoint, ip, role or health is not a string");
            const redisReply **slot = is_str(k, "endpoint") ? &out->endpoint
                                      : is_str(k, "ip")     ? &out->ip
                                      : is_str(k, "role")   ? &out->role
                                                            : &out->health;
            *slot = v;
        }
    }
    return AM_OK;
}

/* The host to reach a node at: its endpoint, or its ip when that is not
   known ("?" or ""). NULL when neither is usable. */
static const redisReply *node_host(const node_info *ni)
{
    const redisReply *h = ni->endpoint;
    if (!h || h->len == 0 || is_str(h, "?"))
        h = ni->ip;
    return h && host_ok(h->str, h->len) ? h : NULL;
}

static am_err read_shard(const redisReply *sh, am__redis_topo *t)
{
    if (sh->type != REDIS_REPLY_ARRAY || sh->elements % 2)
        return bad("a shard of CLUSTER SHARDS is not an array of names and values");
    const redisReply *slots = NULL, *nodes = NULL;
    for (size_t i = 0; i < sh->elements; i += 2) {
        const redisReply *k = str_el(sh, i);
        if (!k)
            return bad("a field name of a shard is not a string");
        if (is_str(k, "slots"))
            slots = sh->element[i + 1];
        else if (is_str(k, "nodes"))
            nodes = sh->element[i + 1];
    }
    if (!slots || !nodes || slots->type != REDIS_REPLY_ARRAY || slots->elements % 2 ||
        nodes->type != REDIS_REPLY_ARRAY)
        return bad("a shard has no slots (pairs of integers) or no nodes (an array)");
    for (size_t i = 0; i < slots->elements; i++)
        if (slots->element[i]->type != REDIS_REPLY_INTEGER)
            return bad("a shard's slot is not an integer");
    /* the master: an online one if there is one */
    int best = -1, replicas = 0;
    bool best_online = false;
    for (size_t i = 0; i < nodes->elements; i++) {
        node_info ni;
        am_err rc = read_node(nodes->element[i], &ni);
        if (rc)
            return rc;
        bool online = is_str(ni.health, "online");
        if (is_str(ni.role, "replica")) {
            replicas += online;
            continue;
        }
        if (!is_str(ni.role, "master") || (best >= 0 && (best_online || !online)))
            continue;
        const redisReply *h = node_host(&ni);
        if (!h || ni.port < 1 || ni.port > 65535)
            return bad("a master has no usable endpoint or ip, or no port 1..65535");
        best = master_index(t, h->str, h->len, (int)ni.port);
        if (best < 0)
            return bad("more masters than the coordinator follows (256)");
        best_online = online;
    }
    if (best < 0)
        return AM_OK; /* no master (all failed over?): its slots are served by no one */
    if (replicas > t->masters[best].replicas)
        t->masters[best].replicas = replicas;
    for (size_t i = 0; i < slots->elements; i += 2) {
        am_err rc =
            claim_slots(t, slots->element[i]->integer, slots->element[i + 1]->integer, best);
        if (rc)
            return rc;
    }
    return AM_OK;
}

am_err am__redis_topo_shards(const redisReply *r, am__redis_topo *t)
{
    memset(t, 0, sizeof *t);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return bad("CLUSTER SHARDS did not answer an array");
    for (size_t i = 0; i < r->elements; i++) {
        am_err rc = read_shard(r->element[i], t);
        if (rc)
            return rc;
    }
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* CLUSTER SLOTS                                                       */
/* ------------------------------------------------------------------ */

/* The host of a CLUSTER SLOTS node entry: its first element, or, when
   that is "?" or "", the "ip" of its metadata (Redis >= 7). */
static const redisReply *slots_host(const redisReply *n)
{
    const redisReply *h = str_el(n, 0);
    if (h && (h->len == 0 || is_str(h, "?"))) {
        h = NULL;
        const redisReply *meta = n->elements > 3 ? n->element[3] : NULL;
        for (size_t i = 0; meta && meta->type == REDIS_REPLY_ARRAY && i + 1 < meta->elements;
             i += 2)
            if (is_str(meta->element[i], "ip"))
                h = str_el(meta, i + 1);
    }
    return h && host_ok(h->str, h->len) ? h : NULL;
}

am_err am__redis_topo_slots(const redisReply *r, am__redis_topo *t)
{
    memset(t, 0, sizeof *t);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return bad("CLUSTER SLOTS did not answer an array");
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER)
            return bad("a range of CLUSTER SLOTS is not [start, end, master, replicas...]");
        const redisReply *m = e->element[2];
        const redisReply *h =
            m->type == REDIS_REPLY_ARRAY && m->elements >= 2 ? slots_host(m) : NULL;
        if (!h || m->element[1]->type != REDIS_REPLY_INTEGER || m->element[1]->integer < 1 ||
            m->element[1]->integer > 65535)
            return bad("a master of CLUSTER SLOTS has no usable host or no port 1..65535");
        int mi = master_index(t, h->str, h->len, (int)m->element[1]->integer);
        if (mi < 0)
            return bad("more masters than the coordinator follows (256)");
        int replicas = (int)e->elements - 3;
        if (replicas > t->masters[mi].replicas)
            t->masters[mi].replicas = replicas;
        am_err rc = claim_slots(t, e->element[0]->integer, e->element[1]->integer, mi);
        if (rc)
            return rc;
    }
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* MOVED and ASK                                                       */
/* ------------------------------------------------------------------ */

am_err am__redis_redirect_parse(const char *s, size_t n, bool *is_ask, int *slot, char *host,
                                int *port)
{
    size_t word;
    if (n > 6 && memcmp(s, "MOVED ", 6) == 0)
        word = 6;
    else if (n > 4 && memcmp(s, "ASK ", 4) == 0)
        word = 4;
    else
        return am__err(AM_EPROTO, "redis reply: not a MOVED or ASK redirection");
    const char *p = s + word, *end = s + n;
    long v = 0;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 5)
        v = v * 10 + (*p++ - '0');
    if (p == digits || p == end || *p != ' ' || v >= AM__REDIS_SLOTS)
        return am__err(AM_EPROTO, "redis reply: a redirection's slot is not 0..16383");
    const char *addr = p + 1;
    const char *colon = NULL;
    for (const char *q = addr; q < end; q++)
        if (*q == ':')
            colon = q;
    if (!colon)
        return am__err(AM_EPROTO, "redis reply: a redirection's address has no ':port'");
    size_t hn = (size_t)(colon - addr);
    if (hn && !host_ok(addr, hn))
        return am__err(AM_EPROTO, "redis reply: a redirection's host is not a host");
    long pv = 0;
    const char *pd = colon + 1;
    for (p = pd; p < end && *p >= '0' && *p <= '9' && p - pd < 5; p++)
        pv = pv * 10 + (*p - '0');
    if (p == pd || p != end || pv < 1 || pv > 65535)
        return am__err(AM_EPROTO, "redis reply: a redirection's port is not 1..65535");
    *is_ask = word == 4;
    *slot = (int)v;
    memcpy(host, addr, hn);
    host[hn] = '\0';
    *port = (int)pv;
    return AM_OK;
}
