/*
** coord_agent.c: an agent of the coordinator's hung-Redis test
** (tests/integration/coord_hung_redis.sh) -- a Redis coordinator and
** am_http serving its registry, as an agent process has them.
**
**   coord_agent URI
**
** Opens the coordinator on URI (its metrics in a registry of its own),
** sends three messages to worker:1 (one per priority), serves /metrics on
** 127.0.0.1 and a free port, and prints "port N". On SIGTERM (or SIGINT)
** it closes the coordinator, then the server, and prints "closed in S s"
** -- the time am_coord_close() took, which must stay bounded when Redis
** hangs.
*/
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agentmon/agentmon.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: coord_agent URI\n");
        return 2;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any thread: sigwait below */

    am_registry *r;
    am_coord *c;
    am_coord_opts o = AM_COORD_OPTS_INIT;
    if (am_registry_new(&r) != AM_OK)
        return 1;
    o.registry = r;
    if (am_coord_open(argv[1], &o, &c) != AM_OK) {
        fprintf(stderr, "coord_agent: %s\n", am_errmsg());
        return 1;
    }
    static const int prios[3] = {AM_PRIO_HIGH, AM_PRIO_NORMAL, AM_PRIO_LOW};
    for (int i = 0; i < 3; i++) {
        am_coord_msg m = AM_COORD_MSG_INIT;
        m.from = "planner:1";
        m.to = "worker:1";
        m.type = "task";
        m.payload = "x";
        m.len = 1;
        m.priority = prios[i];
        if (am_coord_send(c, &m) != AM_OK) {
            fprintf(stderr, "coord_agent: send: %s\n", am_errmsg());
            return 1;
        }
    }
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.port = 0;
    ho.registries = &r;
    ho.n_registries = 1;
    am_http *srv;
    if (am_http_start(&ho, &srv) != AM_OK) {
        fprintf(stderr, "coord_agent: %s\n", am_errmsg());
        return 1;
    }
    printf("port %u\n", am_http_port(srv));
    fflush(stdout);

    int sig;
    sigwait(&stop, &sig);
    am_timer t = am_timer_start();
    am_coord_close(c);
    printf("closed in %.3f s\n", am_timer_seconds(&t));
    fflush(stdout);
    am_http_free(srv);
    am_registry_free(r);
    am_shutdown();
    return 0;
}
