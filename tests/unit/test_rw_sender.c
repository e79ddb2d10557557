/*
** test_rw_sender.c: the remote_write sender's threads against a real
** victoria-metrics this test starts on 127.0.0.1 and a free port (so that
** the sanitizer builds run the dispatcher, the shards, resharding, retries
** and the log's replay): every sample taken (2xx) is counted sent, a
** receiver frozen with SIGSTOP makes the shards retry and loses nothing,
** and what one sender left in its wal_dir the next one sends. How many
** samples the receiver holds is tests/integration/remote_write.sh's check;
** this one counts what the receiver acknowledged. Skips (77) without
** victoria-metrics.
*/
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "free_port.h"
#include "rw/rw.h"

static pid_t g_vm;
static int g_port;
static char g_dir[64];

static bool up(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)g_port);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void stop_vm(void)
{
    if (g_vm > 0) {
        kill(g_vm, SIGCONT);
        kill(g_vm, SIGKILL);
        waitpid(g_vm, NULL, 0);
        g_vm = 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (g_dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
}

static bool start_vm(void)
{
    const char *exe = "/usr/bin/victoria-metrics";
    if (access(exe, X_OK) != 0)
        return false;
    snprintf(g_dir, sizeof g_dir, "/tmp/am_rw_vm_XXXXXX");
    if (!mkdtemp(g_dir))
        return false;
    g_port = free_port();
    char listen[64], data[128];
    snprintf(listen, sizeof listen, "-httpListenAddr=127.0.0.1:%d", g_port);
    snprintf(data, sizeof data, "-storageDataPath=%s/data", g_dir);
    fflush(NULL);
    g_vm = fork();
    if (g_vm == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execl(exe, "victoria-metrics", listen, data, (char *)NULL);
        _exit(127);
    }
    atexit(stop_vm);
    for (int i = 0; i < 1000 && !up(); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return up();
}

static am_remote_write_opts opts(char *url, size_t cap)
{
    snprintf(url, cap, "http://127.0.0.1:%d/api/v1/write", g_port);
    am_remote_write_opts o = AM_REMOTE_WRITE_OPTS_INIT;
    o.url = url;
    o.max_shards = 4;
    o.shard_update_s = 0.2;
    o.batch_send_deadline_s = 0.1;
    o.max_samples_per_send = 100;
    o.capacity = 300;
    o.min_backoff_s = 0.01;
    o.max_backoff_s = 0.2;
    o.remote_timeout_s = 1;
    return o;
}

static void append_n(am_remote_write *rw, const char *name, int n, int n_series)
{
    int64_t t0 = (int64_t)(am_unix_time() * 1000) - n;
    for (int i = 0; i < n; i++) {
        char sv[16];
        snprintf(sv, sizeof sv, "%d", i % n_series);
        const char *names[] = {"__name__", "series"}, *vals[] = {name, sv};
        AM_ASSERT_OK(am_remote_write_append(rw, names, vals, 2, t0 + i, i));
    }
}

static void test_send(void **state)
{
    (void)state;
    char url[128];
    am_remote_write_opts o = opts(url, sizeof url);
    am_registry *reg;
    AM_ASSERT_OK(am_registry_new(&reg));
    o.self_registry = reg;
    am_registry *regs[] = {reg};
    o.registries = regs; /* its own metrics go out too */
    o.n_registries = 1;
    o.interval_s = 0.1;
    am_remote_write *rw;
    AM_ASSERT_OK(am_remote_write_new(&o, &rw));
    /* from several threads' worth of series */
    append_n(rw, "rw_unit_a", 20000, 50);
    AM_ASSERT_OK(am_remote_write_flush(rw, 120));
    am__rw_stats st;
    am__rw_get_stats(rw, &st);
    assert_true(st.sent >= 20000);
    AM_ASSERT_EQ(st.failed, 0);
    AM_ASSERT_EQ(st.pending, 0);
    /* frozen receiver: requests time out, the shards retry, then deliver */
    kill(g_vm, SIGSTOP);
    append_n(rw, "rw_unit_b", 2000, 10);
    struct timespec ts = {1, 500000000};
    nanosleep(&ts, NULL);
    kill(g_vm, SIGCONT);
    AM_ASSERT_OK(am_remote_write_flush(rw, 120));
    am__rw_get_stats(rw, &st);
    assert_true(st.retried > 0);
    AM_ASSERT_EQ(st.failed, 0);
    AM_ASSERT_EQ(st.pending, 0);
    am_remote_write_free(rw, 5);
    am_buf b;
    am_buf_init(&b, 0);
    AM_ASSERT_OK(am_encode(regs, 1, AM_FORMAT_PROMETHEUS, &b.p, &b.len));
    AM_ASSERT_CONTAINS(b.p, "agentmon_remote_write_samples_total{");
    AM_ASSERT_CONTAINS(b.p, "result=\"success\"");
    am_free(b.p);
    am_registry_free(reg);
}

static void test_replay(void **state)
{
    (void)state;
    char url[128], wal[96];
    snprintf(wal, sizeof wal, "%s/wal", g_dir);
    am_remote_write_opts o = opts(url, sizeof url);
    o.wal_dir = wal;
    o.wal_max_bytes = 1u << 20; /* segments of 64 KiB */
    am_remote_write *rw;
    /* a receiver that does not answer: what is appended ends on disk */
    kill(g_vm, SIGSTOP);
    AM_ASSERT_OK(am_remote_write_new(&o, &rw));
    append_n(rw, "rw_unit_c", 5000, 10);
    am_remote_write_free(rw, 0);
    DIR *d = opendir(wal);
    assert_non_null(d);
    int n_files = 0;
    for (struct dirent *e; (e = readdir(d));)
        n_files += strncmp(e->d_name, "seg-", 4) == 0;
    closedir(d);
    assert_true(n_files > 0);
    kill(g_vm, SIGCONT);
    /* the next sender sends them */
    AM_ASSERT_OK(am_remote_write_new(&o, &rw));
    AM_ASSERT_OK(am_remote_write_flush(rw, 120));
    am__rw_stats st;
    am__rw_get_stats(rw, &st);
    assert_true(st.sent >= 5000);
    AM_ASSERT_EQ(st.pending, 0);
    AM_ASSERT_EQ(st.segments_on_disk, 0);
    am_remote_write_free(rw, 5);
}

int main(void)
{
    if (!start_vm()) {
        puts("SKIP: victoria-metrics is not installed or did not start");
        return 77;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_send), cmocka_unit_test(test_replay)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
