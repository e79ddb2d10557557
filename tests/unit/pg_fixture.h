/*
** pg_fixture.h: a throwaway PostgreSQL cluster for a test or a benchmark,
** started and stopped by tests/pg_cluster.sh (the one place that knows how:
** Debian's binaries, initdb into a fresh directory, 127.0.0.1 and a free
** port, the postgres user when we are root), removed at exit however the
** program ends.
**
**     pf_server pg;
**     if (!pf_find(&pg)) { puts("SKIP: ..."); return 77; }
**     if (!pf_start(&pg)) ...
**     ... pg.uri ("postgres://postgres@127.0.0.1:<port>/postgres") ...
**     pf_reset(&pg);   drop every table: a clean database for the next test
**
** AM_SOURCE_DIR (the repository, a compile definition) locates the script.
*/
#ifndef AM_PG_FIXTURE_H
#define AM_PG_FIXTURE_H

#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <libpq-fe.h>

/* not every user calls every helper */
#define PF_FN static __attribute__((unused))

#define PF_SCRIPT AM_SOURCE_DIR "/tests/pg_cluster.sh"

typedef struct pf_server {
    char dir[64]; /* ours; the cluster is dir/pg */
    bool is_running;
    char uri[160];
} pf_server;

static pf_server *pf_current;

/* Whether PostgreSQL's binaries are installed. */
PF_FN bool pf_find(pf_server *s)
{
    memset(s, 0, sizeof *s);
    glob_t g;
    bool ok = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0;
    if (ok)
        globfree(&g);
    return ok;
}

PF_FN void pf_cleanup(void)
{
    pf_server *s = pf_current;
    if (!s || !s->dir[0])
        return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sh %s stop %s/pg; rm -rf %s", PF_SCRIPT, s->dir, s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pg_fixture: could not remove %s\n", s->dir);
    s->is_running = false;
    pf_current = NULL;
}

PF_FN bool pf_start(pf_server *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/am-pg-XXXXXX");
    if (!mkdtemp(s->dir))
        return false;
    pf_current = s;
    atexit(pf_cleanup);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sh %s start %s/pg", PF_SCRIPT, s->dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    if (!fgets(s->uri, sizeof s->uri, p))
        s->uri[0] = '\0';
    s->uri[strcspn(s->uri, "\n")] = '\0';
    int st = pclose(p);
    s->is_running = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && s->uri[0];
    return s->is_running;
}

/* Drop everything in the public schema. */
PF_FN bool pf_reset(const pf_server *s)
{
    PGconn *c = PQconnectdb(s->uri);
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; "
                                "CREATE SCHEMA public");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "pf_reset: %s", PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return ok;
}

#endif
