/*
** proc.c: running another program and reading what it prints.
**
** Two groups need a separate process: the Python peer, and the RSS figure,
** which measures in a fresh copy of am-bench so that memory the other
** groups touched is not counted. Both go through bench_run_capture(): fork,
** exec the path (no shell, so no quoting of paths), read the child's stdout
** through a pipe to the end, wait for it. A child that cannot exec exits
** with status 127, as a shell would.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, readlink, barriers in strict C11 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

void bench_sibling(const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    ssize_t n = cap > nlen + 2 ? readlink("/proc/self/exe", out, cap - nlen - 2) : -1;
    out[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(out, '/');
    if (slash) /* the readlink left room for the name */
        memcpy(slash + 1, name, nlen + 1);
    if (n <= 0 || !slash || access(out, X_OK) != 0)
        out[0] = '\0';
}

int bench_run_capture(char *const argv[], char **out, size_t *len, int *status)
{
    int fd[2];
    *out = NULL;
    *len = 0;
    *status = 0;
    if (pipe(fd) != 0)
        return -1;
    fflush(NULL); /* no buffered output of ours duplicated in the child */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fd[0]);
        close(fd[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        if (dup2(fd[1], STDOUT_FILENO) < 0)
            _exit(127);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
                cap *= 2;
            }
        }
        char sink[4096];
        char *at = buf ? buf + n : sink;
        size_t room = buf ? cap - n - 1 : sizeof sink; /* without memory: drain */
        ssize_t r = read(fd[0], at, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (buf)
            n += (size_t)r;
    }
    close(fd[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    if (buf)
        buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
