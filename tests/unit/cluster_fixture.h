/*
** cluster_fixture.h: a real Redis Cluster for a test -- six redis-servers
** (redis_fixture.h: 127.0.0.1, free ports, killed at exit however the test
** ends) made into three masters with a replica each, the way
** `redis-cli --cluster create --cluster-replicas 1` makes them: slots in
** three equal ranges, CLUSTER MEET, CLUSTER REPLICATE; then waited for
** until every node says cluster_state:ok, knows three replicas and every
** replica's link to its master is up (before that, a master killed may
** never be replaced: /work/shared/RECIPES.md).
**
**     cl_cluster cl;
**     if (!cl_start(&cl, exe)) fail;
**     ... "redis+cluster://127.0.0.1:<cl.node[0].port>" ...
**     int m = cl_master_of_slot(&cl, slot);   a master's index
**     int r = cl_failover_kill(&cl, m);       kill -9 it; its replica, promoted
**     cl_restart(&cl, m);                     it comes back as a replica
**     cl_start_n(&cl, exe, false);            three masters, no replicas
**
** Node i < 3 starts as a master with slots [i * 5462, ...), node i + 3 as
** its replica. The cluster bus of each node is a second free port
** (--cluster-port), never port + 10000, which may be past 65535.
*/
#ifndef AM_CLUSTER_FIXTURE_H
#define AM_CLUSTER_FIXTURE_H

#include "redis_fixture.h"

#define CL_NODES 6

typedef struct cl_cluster {
    int n; /* nodes started: CL_NODES, or 3 (cl_start_n without replicas) */
    rf_server node[CL_NODES];
    int bus[CL_NODES];
    char id[CL_NODES][41];
    char exe[512];
} cl_cluster;

static inline void cl_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Start node i (again, on its port and directory). */
static inline bool cl_start_node(cl_cluster *cl, int i)
{
    char bus[16];
    snprintf(bus, sizeof bus, "%d", cl->bus[i]);
    const char *extra[] = {"--cluster-enabled",
                           "yes",
                           "--cluster-port",
                           bus,
                           "--cluster-config-file",
                           "nodes.conf",
                           "--cluster-node-timeout",
                           "2000",
                           "--repl-diskless-sync-delay",
                           "0",
                           NULL};
    return rf_start(&cl->node[i], cl->exe, cl->node[i].port, extra);
}

/* A reply's integer, -1 if none. */
static inline long long cl_int(redisReply *r)
{
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

/* Whether node i's INFO section / CLUSTER INFO text has line. */
static inline bool cl_says(const rf_server *s, const char *cmd, const char *line)
{
    redisReply *r = rf_cmd(s, cmd);
    bool yes = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
               strstr(r->str, line) != NULL;
    if (r)
        freeReplyObject(r);
    return yes;
}

/* How many lines of node i's CLUSTER NODES hold word (and not "fail"). */
static inline int cl_count_nodes(const rf_server *s, const char *word)
{
    redisReply *r = rf_cmd(s, "CLUSTER NODES");
    int n = 0;
    if (r && r->type == REDIS_REPLY_STRING) {
        for (char *line = r->str; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (strstr(line, word) && !strstr(line, "fail"))
                n++;
            line = nl ? nl + 1 : NULL;
        }
    }
    if (r)
        freeReplyObject(r);
    return n;
}

/* Every running node: cluster_state:ok, every replica known, and each
   replica's link to its master up. */
static inline bool cl_ready(cl_cluster *cl)
{
    for (int i = 0; i < cl->n; i++) {
        rf_server *s = &cl->node[i];
        if (!s->pid)
            continue;
        if (!cl_says(s, "CLUSTER INFO", "cluster_state:ok") ||
            cl_count_nodes(s, "slave") != cl->n - 3)
            return false;
        if (!cl_says(s, "INFO replication", "role:master") &&
            !cl_says(s, "INFO replication", "master_link_status:up"))
            return false;
    }
    return true;
}

static inline bool cl_wait_ready(cl_cluster *cl, int seconds)
{
    for (int i = 0; i < seconds * 20; i++) {
        if (cl_ready(cl))
            return true;
        cl_sleep_ms(50);
    }
    return false;
}

/* Three masters with a replica each (with_replicas), or alone. */
static inline bool cl_start_n(cl_cluster *cl, const char *exe, bool with_replicas)
{
    memset(cl, 0, sizeof *cl);
    cl->n = with_replicas ? CL_NODES : 3;
    snprintf(cl->exe, sizeof cl->exe, "%s", exe);
    for (int i = 0; i < cl->n; i++) {
        cl->node[i].port = free_port();
        do
            cl->bus[i] = free_port();
        while (cl->bus[i] == cl->node[i].port);
        if (!cl_start_node(cl, i))
            return false;
        redisReply *r = rf_cmd(&cl->node[i], "CLUSTER MYID");
        if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
            if (r)
                freeReplyObject(r);
            return false;
        }
        memcpy(cl->id[i], r->str, 41);
        freeReplyObject(r);
    }
    for (int i = 0; i < 3; i++) {
        int from = i * 5462, to = i == 2 ? 16383 : (i + 1) * 5462 - 1;
        redisReply *r = rf_cmd(&cl->node[i], "CLUSTER ADDSLOTSRANGE %d %d", from, to);
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
        if (!ok)
            return false;
    }
    for (int i = 1; i < cl->n; i++) {
        redisReply *r =
            rf_cmd(&cl->node[0], "CLUSTER MEET 127.0.0.1 %d %d", cl->node[i].port, cl->bus[i]);
        if (r)
            freeReplyObject(r);
    }
    /* every node knows the others before a replica may follow a master */
    for (int t = 0; t < 200; t++) {
        bool all = true;
        for (int i = 0; i < cl->n && all; i++)
            all = cl_count_nodes(&cl->node[i], "connected") == cl->n;
        if (all)
            break;
        cl_sleep_ms(50);
    }
    for (int i = 3; i < cl->n; i++) {
        for (int t = 0; t < 100; t++) {
            redisReply *r = rf_cmd(&cl->node[i], "CLUSTER REPLICATE %s", cl->id[i - 3]);
            bool ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
            if (ok)
                break;
            cl_sleep_ms(50); /* "Unknown node": not gossiped to it yet */
        }
    }
    return cl_wait_ready(cl, 30);
}

static inline bool cl_start(cl_cluster *cl, const char *exe)
{
    return cl_start_n(cl, exe, true);
}

/* The index of the node that serves slot now (as node 0 or any that
   answers says), -1 if none. */
static inline int cl_master_of_slot(cl_cluster *cl, int slot)
{
    for (int i = 0; i < CL_NODES; i++) {
        if (!cl->node[i].pid)
            continue;
        redisReply *r = rf_cmd(&cl->node[i], "CLUSTER SLOTS");
        int port = -1;
        for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
            redisReply *e = r->element[k];
            if (e->elements >= 3 && e->element[0]->integer <= slot &&
                slot <= e->element[1]->integer)
                port = (int)e->element[2]->element[1]->integer;
        }
        if (r)
            freeReplyObject(r);
        for (int j = 0; j < CL_NODES; j++)
            if (cl->node[j].port == port)
                return j;
    }
    return -1;
}

/* The index of master m's replica (by what m said it is), -1 if none. */
static inline int cl_replica_of(cl_cluster *cl, int m)
{
    for (int j = 0; j < CL_NODES; j++) {
        if (j == m || !cl->node[j].pid)
            continue;
        char want[64];
        snprintf(want, sizeof want, "master_port:%d", cl->node[m].port);
        if (cl_says(&cl->node[j], "INFO replication", want))
            return j;
    }
    return -1;
}

/* kill -9 master m, and wait until its replica says it is a master (and
   every other running node agrees the cluster is ok). Returns the
   replica's index, or -1 when none took over within 30 s. */
static inline int cl_failover_kill(cl_cluster *cl, int m)
{
    int r = cl_replica_of(cl, m);
    if (r < 0)
        return -1;
    rf_stop(&cl->node[m], SIGKILL);
    for (int t = 0; t < 600; t++) {
        if (cl_says(&cl->node[r], "INFO replication", "role:master")) {
            for (int u = 0; u < 200; u++) {
                bool ok = true;
                for (int i = 0; i < CL_NODES && ok; i++)
                    ok = !cl->node[i].pid ||
                         cl_says(&cl->node[i], "CLUSTER INFO", "cluster_state:ok");
                if (ok)
                    return r;
                cl_sleep_ms(50);
            }
            return r;
        }
        cl_sleep_ms(50);
    }
    return -1;
}

/* Start node i again (after cl_failover_kill: it rejoins as a replica)
   and wait for the cluster to be whole. */
static inline bool cl_restart(cl_cluster *cl, int i)
{
    return cl_start_node(cl, i) && cl_wait_ready(cl, 30);
}

#endif
