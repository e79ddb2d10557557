/*
** redis_fixture.h: a real redis-server for a unit test -- found on PATH,
** started on 127.0.0.1 and a free port (and a unix socket in a fresh
** directory), waited for until it answers PING, and killed at exit however
** the test ends.
**
**     char exe[512];
**     if (!rf_find(exe, sizeof exe)) { puts("SKIP: ..."); return 77; }
**     rf_server s;
**     rf_start(&s, exe, 0, NULL);      port 0: a free one
**     ... "redis://127.0.0.1:<s.port>", "unix://<s.sock>" ...
**     rf_kill(&s, SIGKILL); rf_start(&s, exe, s.port, NULL);   a crash and restart
**
** Every server started is remembered; an atexit handler kills them and
** removes their directories, and each child asks the kernel to kill it if
** the test process dies first (PR_SET_PDEATHSIG), so no redis-server
** outlives a crashed test.
*/
#ifndef AM_REDIS_FIXTURE_H
#define AM_REDIS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "free_port.h"

typedef struct rf_server {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[64];  /* its working directory (log, socket) */
    char sock[96]; /* dir/r.sock */
    char exe[512];
} rf_server;

#define RF_MAX 16
static rf_server *rf_all[RF_MAX];
static int rf_n;

/* redis-server's path on PATH into exe; false when it is not installed. */
static bool rf_find(char *exe, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        int w = snprintf(exe, cap, "%.*s/redis-server", (int)n, n ? path : ".");
        if (w > 0 && (size_t)w < cap && access(exe, X_OK) == 0)
            return true;
        path += n + (colon ? 1 : 0);
    }
    return false;
}

static void rf_rmdir(const char *dir)
{
    static const char *const files[] = {"r.sock", "redis.log", "dump.rdb", "appendonly.aof",
                                        "nodes.conf"};
    char p[160];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void rf_stop(rf_server *s, int sig)
{
    if (s->pid > 0) {
        kill(s->pid, sig);
        int st;
        while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
            ;
        s->pid = 0;
    }
}

static void rf_cleanup(void)
{
    for (int i = 0; i < rf_n; i++) {
        rf_stop(rf_all[i], SIGKILL);
        rf_rmdir(rf_all[i]->dir);
    }
    rf_n = 0;
}

/* A connection to s over TCP (1 s timeout), or NULL. */
static redisContext *rf_connect(const rf_server *s)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (c && c->err) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

/* Run one command on a fresh connection; its reply (freeReplyObject) or NULL. */
static inline redisReply *rf_vcmd(const rf_server *s, const char *fmt, va_list ap)
{
    redisContext *c = rf_connect(s);
    if (!c)
        return NULL;
    redisReply *r = redisvCommand(c, fmt, ap);
    redisFree(c);
    return r;
}

static redisReply *rf_cmd(const rf_server *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = rf_vcmd(s, fmt, ap);
    va_end(ap);
    return r;
}

/* Whether s answers (PONG, or "authentication required" when it has a password). */
static bool rf_ping(const rf_server *s)
{
    redisReply *r = rf_cmd(s, "PING");
    bool ok = r && ((r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) ||
                    (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0));
    if (r)
        freeReplyObject(r);
    return ok;
}

/*
** Start (or restart) s: exe on 127.0.0.1:port (0: a free port) with a unix
** socket in its directory; extra (NULL-terminated, may be NULL) is added to
** the command line. Waits up to 10 s for PING. Returns false on failure.
*/
static bool rf_start(rf_server *s, const char *exe, int port, const char *const *extra)
{
    if (!s->dir[0]) {
        snprintf(s->dir, sizeof s->dir, "/tmp/am-redis-XXXXXX");
        if (!mkdtemp(s->dir))
            return false;
        snprintf(s->sock, sizeof s->sock, "%s/r.sock", s->dir);
        snprintf(s->exe, sizeof s->exe, "%s", exe);
        if (rf_n == 0)
            atexit(rf_cleanup);
        if (rf_n < RF_MAX)
            rf_all[rf_n++] = s;
    }
    s->port = port ? port : free_port();
    char ports[16], log[96];
    snprintf(ports, sizeof ports, "%d", s->port);
    snprintf(log, sizeof log, "%s/redis.log", s->dir);
    const char *argv[40] = {"redis-server",
                            "--port",
                            ports,
                            "--bind",
                            "127.0.0.1",
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--unixsocket",
                            s->sock,
                            "--unixsocketperm",
                            "700",
                            "--dir",
                            s->dir,
                            "--logfile",
                            log};
    int n = 17;
    for (int i = 0; extra && extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        execv(s->exe, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            return false;
        }
        if (rf_ping(s))
            return true;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    rf_stop(s, SIGKILL);
    return false;
}

#endif
