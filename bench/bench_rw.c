/*
** bench_rw.c: remote_write -- what a sample costs to encode and send, and
** how fast a sender delivers to a real VictoriaMetrics.
**
** WHAT IT MEASURES, AND WHY
**   rw_encode_samples_per_s  records of 5 labels (a pack-like series:
**                            __name__, agent, instance, job, status) read
**                            back from the log and encoded as Prometheus
**                            sends them -- protobuf WriteRequest
**                            (libprotobuf-c) then snappy -- in batches of
**                            500 (max_samples_per_send's default), on one
**                            core: the shard's CPU cost per sample.
**   rw_bytes_per_sample      the compressed request bytes per sample of
**                            those batches: what a sample costs on the wire.
**   rw_append_ns             am_remote_write_append() of one such sample
**                            into the log (a sender whose receiver does not
**                            answer, so nothing is sent meanwhile): the
**                            cost to the agent's thread.
**   rw_vm_samples_per_s      end to end: 1000 series x 300 samples appended
**                            as fast as possible to a sender (min_shards 1,
**                            max_shards 8, shard_update 1 s) posting to a
**                            victoria-metrics this group starts on
**                            127.0.0.1 and a free port, until
**                            am_remote_write_flush() says every sample was
**                            taken (2xx). No peer: the sender Prometheus
**                            has is itself a TSDB with a WAL, not
**                            comparable in one process; VictoriaMetrics'
**                            own ingest rate is the ceiling here.
** Skips the end-to-end figure (an error line) when victoria-metrics is not
** installed.
*/
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "bench.h"
#include "../tests/unit/free_port.h"

#if !AM_HAVE_REMOTE_WRITE
void bench_group_rw(void)
{
    bench_emit_error("remote_write", "built without AM_WITH_REMOTE_WRITE");
}
#else
#include "rw/rw.h"

#define BATCH 500

typedef struct enc_state {
    am__rw_rec recs[BATCH];
    const am__rw_rec *rp[BATCH];
    am_buf log, body;
    size_t bytes;
} enc_state;

static void encode_loop(void *arg, uint64_t n)
{
    enc_state *st = arg;
    for (uint64_t i = 0; i < n; i += BATCH) {
        size_t raw;
        am__rw_encode(st->rp, BATCH, &st->body, &raw);
        st->bytes = st->body.len;
    }
}

typedef struct app_state {
    am_remote_write *rw;
    uint64_t k;
} app_state;

static void append_loop(void *arg, uint64_t n)
{
    app_state *st = arg;
    char v[16];
    for (uint64_t i = 0; i < n; i++) {
        snprintf(v, sizeof v, "%u", (unsigned)(st->k++ % 1000));
        const char *names[] = {"__name__", "agent", "instance", "job", "status"};
        const char *vals[] = {"agentmon_task_completed_total", v, "10.0.0.7:9464", "agents", "ok"};
        am_remote_write_append(st->rw, names, vals, 5, 1700000000000 + (int64_t)st->k, 1);
    }
}

static bool listening(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void vm_e2e(void)
{
    char exe[4096];
    if (!bench_find_exe("victoria-metrics", exe, sizeof exe)) {
        bench_emit_error("rw_vm_samples_per_s", "victoria-metrics is not installed");
        return;
    }
    char dir[] = "/tmp/am_bench_vm_XXXXXX";
    if (!mkdtemp(dir)) {
        bench_emit_error("rw_vm_samples_per_s", "mkdtemp failed");
        return;
    }
    int port = free_port();
    char listen[64], data[256];
    snprintf(listen, sizeof listen, "-httpListenAddr=127.0.0.1:%d", port);
    snprintf(data, sizeof data, "-storageDataPath=%s/data", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execl(exe, "victoria-metrics", listen, data, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 500 && !listening(port); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/write", port);
    am_remote_write_opts o = AM_REMOTE_WRITE_OPTS_INIT;
    o.url = url;
    o.max_shards = 8;
    o.shard_update_s = 1;
    o.batch_send_deadline_s = 0.5;
    am_remote_write *rw = NULL;
    int rounds = g_opts.is_quick ? 50 : 300, n_series = 1000;
    if (pid > 0 && am_remote_write_new(&o, &rw) == AM_OK) {
        uint64_t t0 = bench_now_ns();
        int64_t ts0 = (int64_t)(am_unix_time() * 1000) - rounds * 1000;
        char v[16];
        for (int r = 0; r < rounds; r++)
            for (int s = 0; s < n_series; s++) {
                snprintf(v, sizeof v, "%d", s);
                const char *names[] = {"__name__", "agent", "instance", "job", "status"};
                const char *vals[] = {"bench_rw_total", v, "10.0.0.7:9464", "agents", "ok"};
                am_remote_write_append(rw, names, vals, 5, ts0 + r * 1000, r);
            }
        am_err rc = am_remote_write_flush(rw, 300);
        double secs = (double)(bench_now_ns() - t0) / 1e9;
        am__rw_stats st;
        am__rw_get_stats(rw, &st);
        am_remote_write_free(rw, 1);
        if (rc || st.sent != (uint64_t)rounds * n_series) {
            bench_emit_error("rw_vm_samples_per_s", "not every sample was taken");
        } else {
            char note[160];
            snprintf(note, sizeof note,
                     "%d samples of %d series to victoria-metrics 1.79 on loopback, %u shards at "
                     "the end, %.1f bytes/sample",
                     rounds * n_series, n_series, st.shards, (double)st.bytes / (double)st.sent);
            bench_fig f = {.name = "rw_vm_samples_per_s",
                           .unit = "samples/s",
                           .value = (double)(rounds * n_series) / secs,
                           .note = note};
            bench_emit(&f);
        }
    } else {
        bench_emit_error("rw_vm_samples_per_s", "victoria-metrics or the sender did not start");
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        bench_emit_error("rw_vm_samples_per_s", "could not remove the data directory");
}

void bench_group_rw(void)
{
    static enc_state st;
    am_buf_init(&st.log, 0);
    am_buf_init(&st.body, 0);
    for (int i = 0; i < BATCH; i++) {
        char v[16];
        snprintf(v, sizeof v, "planner-%d", i % 50);
        am__pair p[] = {{"__name__", "agentmon_task_completed_total"},
                        {"agent", v},
                        {"instance", "10.0.0.7:9464"},
                        {"job", "agents"},
                        {"status", i % 7 ? "ok" : "error"}};
        am__rw_record_put(&st.log, p, 5, 1700000000000 + i * 15000, i * 3.0);
    }
    size_t off = 0;
    for (int i = 0; i < BATCH; i++) {
        am__rw_record_next(st.log.p, st.log.len, &off, &st.recs[i]);
        st.rp[i] = &st.recs[i];
    }
    double ns = bench_best_ns_per_op(encode_loop, &st);
    bench_fig f = {.name = "rw_encode_samples_per_s",
                   .unit = "samples/s",
                   .value = 1e9 / ns,
                   .note = "protobuf-c + snappy, batches of 500 samples of 5 labels, one core"};
    bench_emit(&f);
    bench_fig b = {.name = "rw_bytes_per_sample",
                   .unit = "bytes",
                   .value = (double)st.bytes / BATCH,
                   .note = "compressed request bytes per sample, same batches"};
    bench_emit(&b);
    am_buf_free(&st.log);
    am_buf_free(&st.body);

    am_remote_write_opts o = AM_REMOTE_WRITE_OPTS_INIT;
    o.url = "http://127.0.0.1:1/api/v1/write"; /* nothing answers: nothing is sent */
    o.max_backoff_s = 5;
    app_state as = {0};
    if (am_remote_write_new(&o, &as.rw) == AM_OK) {
        double ans = bench_best_ns_per_op(append_loop, &as);
        am_remote_write_free(as.rw, 0);
        bench_fig a = {.name = "rw_append_ns",
                       .unit = "ns/op",
                       .value = ans,
                       .note = "am_remote_write_append of 5 labels into the log"};
        bench_emit(&a);
    }
    vm_e2e();
}
#endif
