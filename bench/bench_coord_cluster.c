/*
** bench_coord_cluster.c: the Redis coordinator on a Redis Cluster -- three
** masters with a replica each, started by this group on 127.0.0.1 (the
** test's fixture, tests/unit/cluster_fixture.h) -- beside the server's own
** ceiling on the same cluster, in the same run as the standalone figures
** (groups coord_redis and coord_redis_snapshot).
**
** WHAT IT MEASURES, AND WHY
**   coord_cluster_ops_per_s     the workload of coord_redis_ops_per_s (4
**                               producer and 4 consumer threads, each its
**                               own coordinator, agents bench:1..4, whose
**                               buckets are on all three masters) against
**                               the cluster, for 2 s (0.5 s with --quick).
**                               Each operation is what it is on a cluster:
**                               a send claims its id (HSETNX in the id's
**                               slot) then runs send.lua, an ack runs
**                               ack.lua and beside it release.lua on the
**                               id's master -- or, for an id whose slot
**                               is on the agent's master (about a third),
**                               send.lua and ack.lua claim and release it
**                               themselves -- and every write waits for
**                               a replica (WAIT 1), so the figure includes
**                               replication.
**   redis_benchmark_cluster_evalsha_rps
**                               redis-benchmark --cluster -c 8 running
**                               EVALSHA of "return 1" (loaded on every
**                               master) against the same cluster: the
**                               rate at which its masters serve one
**                               trivial script per round trip.
**   coord_cluster_vs_evalsha    ours / theirs; the target is >= 0.5.
**   coord_cluster_ops_per_s_generated_ids
**                               the same workload with ids left to the
**                               coordinator (am_coord_msg.id NULL), which
**                               generates each in its recipient's bucket:
**                               no claim round trip, no release.
**   coord_cluster_snapshot_10k_agents_ms
**                               am_coord_snapshot() with 10,000 agents x 3
**                               priorities on the cluster, best of 5: one
**                               round trip per master for the totals,
**                               badkeys and clocks, one for the 64
**                               buckets' lines, all masters at once.
**   coord_cluster_no_replicas_ops_per_s, redis_benchmark_cluster_no_
**   replicas_evalsha_rps, coord_cluster_no_replicas_vs_evalsha
**                               the same on three masters without
**                               replicas (nothing to WAIT for, nothing
**                               replicated): on these two shared cores a
**                               replica's work is its master's lost time,
**                               which it would not be on separate machines;
**                               these say what the coordinator costs on a
**                               cluster, replication aside.
** The throughput figures are measured twice, alternating, and the best
** of each kept (as bench_coord_redis.c does). Everything shares the
** machine's cores: six redis-servers, the client threads, redis-benchmark.
**
** Without redis-server (or redis-benchmark) on PATH the group says so.
*/
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "../tests/unit/cluster_fixture.h"

static cl_cluster g_cl; /* static: the fixture keeps pointers to its servers */

static void flush_masters(void)
{
    for (int i = 0; i < g_cl.n; i++) {
        redisReply *r = g_cl.node[i].pid ? rf_cmd(&g_cl.node[i], "FLUSHALL") : NULL;
        if (r)
            freeReplyObject(r);
    }
}

static void stop_cluster(void)
{
    for (int i = 0; i < g_cl.n; i++) {
        rf_stop(&g_cl.node[i], SIGTERM);
        rf_rmdir(g_cl.node[i].dir);
    }
}

/* The cluster's URI and redis-benchmark's SHA ("return 1" on every master). */
static void prepare(char *uri, size_t cap, char sha[41])
{
    snprintf(uri, cap, "redis+cluster://127.0.0.1:%d,127.0.0.1:%d?prefix=bench", g_cl.node[0].port,
             g_cl.node[1].port);
    for (int i = 0; i < 3; i++) {
        redisReply *r = rf_cmd(&g_cl.node[i], "SCRIPT LOAD %s", "return 1");
        if (r && r->type == REDIS_REPLY_STRING && r->len == 40)
            memcpy(sha, r->str, 41);
        if (r)
            freeReplyObject(r);
    }
}

/* ours (caller's ids; generated ones too when gen is not NULL) and
   redis-benchmark's, alternating, best of two each; false (err) when ours
   failed. */
static bool measure(const char *uri, const char *benchmark, const char *sha, double *ours,
                    double *gen, double *theirs, char *err, size_t cap, char *their_err,
                    size_t their_cap)
{
    double seconds = g_opts.is_quick ? 0.5 : 2.0;
    *ours = *theirs = -1;
    if (gen)
        *gen = -1;
    bench_coord_ops_per_s(uri, false, 0.2, err, cap); /* warm up: connections, scripts */
    for (int round = 0; round < 2; round++) {
        if (benchmark && sha[0]) {
            double v = bench_redis_benchmark(benchmark, g_cl.node[0].port, true, sha, their_err,
                                             their_cap);
            if (v > *theirs)
                *theirs = v;
        }
        flush_masters();
        double v = bench_coord_ops_per_s(uri, false, seconds, err, cap);
        if (v < 0)
            return false;
        if (v > *ours)
            *ours = v;
        if (gen) {
            flush_masters();
            double g = bench_coord_ops_per_s(uri, true, seconds, err, cap);
            if (g < 0)
                return false;
            if (g > *gen)
                *gen = g;
        }
    }
    return true;
}

static void emit_ratio(const char *name, double ours, double theirs, const char *note)
{
    if (ours <= 0 || theirs <= 0)
        return;
    bench_fig x = {0};
    x.name = name;
    x.unit = "x";
    x.value = ours / theirs;
    x.has_target = true;
    x.target = 0.5;
    x.is_target_min = true;
    x.note = note;
    bench_emit(&x);
}

void bench_group_coord_cluster(void)
{
    char exe[512], benchmark[512], err[256] = "", their_err[256] = "";
    if (!rf_find(exe, sizeof exe) || !cl_start(&g_cl, exe)) {
        bench_emit_error("coord_cluster_ops_per_s",
                         "skipped: redis-server is not installed or the cluster did not form");
        stop_cluster();
        return;
    }
    bool has_peer = bench_find_exe("redis-benchmark", benchmark, sizeof benchmark);
    char uri[128], sha[41] = "";
    prepare(uri, sizeof uri, sha);
    double best_ours, best_gen, best_theirs;
    if (!measure(uri, has_peer ? benchmark : NULL, sha, &best_ours, &best_gen, &best_theirs, err,
                 sizeof err, their_err, sizeof their_err))
        best_ours = best_gen = -1;
    if (best_ours < 0)
        bench_emit_error("coord_cluster_ops_per_s", err);
    else
        bench_emit(&(bench_fig){
            .name = "coord_cluster_ops_per_s",
            .unit = "ops/s",
            .value = best_ours,
            .note = "3 masters + 3 replicas; 4 producer + 4 consumer threads, each its own "
                    "coordinator, ids chosen by the caller; a send = claim + send.lua, an ack = "
                    "ack.lua + release (send.lua and ack.lua alone when the id's slot is on the "
                    "agent's master), each send and ack confirmed by a replica (WAIT 1); compare "
                    "coord_redis_ops_per_s (standalone), same run"});
    if (best_gen > 0) {
        char note[200];
        snprintf(note, sizeof note,
                 "as coord_cluster_ops_per_s, but the coordinator generates the ids: each in "
                 "its recipient's slot, claimed and released by send.lua and ack.lua (%.2fx)",
                 best_theirs > 0 ? best_gen / best_theirs : 0);
        bench_emit(&(bench_fig){.name = "coord_cluster_ops_per_s_generated_ids",
                                .unit = "ops/s",
                                .value = best_gen,
                                .note = note});
    }
    if (best_theirs > 0) {
        bench_emit(&(bench_fig){.name = "redis_benchmark_cluster_evalsha_rps",
                                .unit = "ops/s",
                                .value = best_theirs,
                                .note = "redis-benchmark --cluster -c 8 EVALSHA of "
                                        "\"return 1\", same cluster, same run"});
        emit_ratio("coord_cluster_vs_evalsha", best_ours, best_theirs,
                   "coord_cluster_ops_per_s / redis_benchmark_cluster_evalsha_rps");
    } else {
        bench_emit_error("redis_benchmark_cluster_evalsha_rps",
                         !has_peer      ? "skipped: redis-benchmark not installed"
                         : their_err[0] ? their_err
                                        : "no SHA");
    }

    flush_masters();
    size_t bytes = 0;
    double ms = bench_coord_snapshot_ms(uri, 10000, 3, &bytes, err, sizeof err);
    if (ms < 0) {
        bench_emit_error("coord_cluster_snapshot_10k_agents_ms", err);
    } else {
        char note[256];
        snprintf(note, sizeof note,
                 "10000 agents x 3 messages on 3 masters, %zu bytes of JSON; compare "
                 "coord_redis_snapshot_10k_agents_ms (standalone), same run",
                 bytes);
        bench_fig f = {0};
        f.name = "coord_cluster_snapshot_10k_agents_ms";
        f.unit = "ms";
        f.value = ms;
        f.has_target = true;
        f.target = 50;
        f.note = note;
        bench_emit(&f);
    }
    stop_cluster();

    /* The same on three masters without replicas: what replication (its
       CPU, on these shared cores, and WAIT) costs. */
    if (!cl_start_n(&g_cl, exe, false)) {
        bench_emit_error("coord_cluster_no_replicas_ops_per_s", "the cluster did not form");
        stop_cluster();
        return;
    }
    prepare(uri, sizeof uri, sha);
    if (!measure(uri, has_peer ? benchmark : NULL, sha, &best_ours, NULL, &best_theirs, err,
                 sizeof err, their_err, sizeof their_err)) {
        bench_emit_error("coord_cluster_no_replicas_ops_per_s", err);
    } else {
        bench_emit(&(bench_fig){.name = "coord_cluster_no_replicas_ops_per_s",
                                .unit = "ops/s",
                                .value = best_ours,
                                .note = "as coord_cluster_ops_per_s on 3 masters without "
                                        "replicas (so no WAIT): what the coordinator costs "
                                        "on a cluster, replication aside"});
        if (best_theirs > 0)
            bench_emit(&(bench_fig){.name = "redis_benchmark_cluster_no_replicas_evalsha_rps",
                                    .unit = "ops/s",
                                    .value = best_theirs,
                                    .note = "redis-benchmark --cluster -c 8 EVALSHA of \"return "
                                            "1\" on those 3 masters"});
        emit_ratio("coord_cluster_no_replicas_vs_evalsha", best_ours, best_theirs,
                   "coord_cluster_no_replicas_ops_per_s / "
                   "redis_benchmark_cluster_no_replicas_evalsha_rps");
    }
    stop_cluster();
}
