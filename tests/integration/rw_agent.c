/*
** rw_agent.c: an agent that pushes with remote_write (the library side of
** include/agentmon/remote_write.h), driven by tests/integration/remote_write.sh
** and usable by hand:
**
**     rw_agent URL SERIES SAMPLES STEP_MS [WAL_DIR [WAL_MAX_BYTES]]
**
** appends SAMPLES samples to each of SERIES series rw_agent_value{series="i"}
** with values 1..SAMPLES (so each series' sum is SAMPLES*(SAMPLES+1)/2),
** timestamps STEP_MS apart ending now, then waits (up to 10 min) until
** every sample is sent or dropped and prints the sender's counters as one
** JSON object. RW_AGENT_NAME renames the metric; RW_AGENT_CA_FILE is the
** CA to check an https:// receiver with. With RW_AGENT_PAUSE_FILE set, appends wait while that file
** exists. With RW_AGENT_REALTIME set, each round waits STEP_MS and is
** stamped with the time it is appended (a live agent: the test stops the
** receiver meanwhile). Exit 0 when nothing is pending at the end.
*/
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "rw/rw.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: rw_agent URL SERIES SAMPLES STEP_MS [WAL_DIR [WAL_MAX_BYTES]]\n");
        return 2;
    }
    am_remote_write_opts o = AM_REMOTE_WRITE_OPTS_INIT;
    o.url = argv[1];
    long n_series = strtol(argv[2], NULL, 10), n_samples = strtol(argv[3], NULL, 10);
    long step = strtol(argv[4], NULL, 10);
    o.wal_dir = argc > 5 && argv[5][0] ? argv[5] : NULL;
    o.wal_max_bytes = argc > 6 ? strtoull(argv[6], NULL, 10) : 0;
    o.batch_send_deadline_s = 0.2;
    o.max_backoff_s = 1;
    o.max_samples_per_send = 500;
    o.shard_update_s = 2;
    o.ca_file = getenv("RW_AGENT_CA_FILE");
    o.max_shards = 8;
    const char *pause = getenv("RW_AGENT_PAUSE_FILE");
    bool realtime = getenv("RW_AGENT_REALTIME") != NULL;
    const char *metric = getenv("RW_AGENT_NAME") ? getenv("RW_AGENT_NAME") : "rw_agent_value";
    am_remote_write *rw;
    if (am_remote_write_new(&o, &rw)) {
        fprintf(stderr, "rw_agent: %s\n", am_errmsg());
        return 1;
    }
    int64_t now = (int64_t)(am_unix_time() * 1000);
    int64_t t0 = now - (int64_t)n_samples * step;
    for (long k = 1; k <= n_samples; k++) {
        struct stat st;
        while (pause && stat(pause, &st) == 0)
            usleep(20000);
        int64_t t = t0 + k * step;
        if (realtime) {
            usleep((useconds_t)step * 1000);
            t = (int64_t)(am_unix_time() * 1000);
        }
        for (long i = 0; i < n_series; i++) {
            char sv[32];
            snprintf(sv, sizeof sv, "%ld", i);
            const char *names[] = {"__name__", "series"}, *vals[] = {metric, sv};
            if (am_remote_write_append(rw, names, vals, 2, t, (double)k)) {
                fprintf(stderr, "rw_agent: %s\n", am_errmsg());
                return 1;
            }
        }
    }
    am_err rc = am_remote_write_flush(rw, 600);
    am__rw_stats st;
    am__rw_get_stats(rw, &st);
    printf("{\"sent\":%llu,\"failed\":%llu,\"retried\":%llu,\"dropped\":%llu,\"pending\":%llu,"
           "\"bytes\":%llu,\"requests\":%llu,\"shards\":%u,\"spilled\":%llu}\n",
           (unsigned long long)st.sent, (unsigned long long)st.failed,
           (unsigned long long)st.retried, (unsigned long long)st.dropped,
           (unsigned long long)st.pending, (unsigned long long)st.bytes,
           (unsigned long long)st.requests, st.shards, (unsigned long long)st.spilled);
    am_remote_write_free(rw, 5);
    return rc == AM_OK ? 0 : 1;
}
