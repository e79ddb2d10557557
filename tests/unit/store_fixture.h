/*
** store_fixture.h: one cmocka suite run on both stores -- SQLite (a fresh
** file per database, in a temporary directory) and PostgreSQL (a throwaway
** cluster, pg_fixture.h; emptied for each database).
**
**     sf_fresh_uri(uri, sizeof uri);   a fresh, empty database's URI
**     sf_put(s, recs, n);              submit and wait for the commit
**     if (sf_is_pg) ...                which half is running
**     return sf_run_both("store", SUITE, n);    from main()
**
** Without PostgreSQL's binaries the PostgreSQL half prints SKIP and the
** test passes on the SQLite half alone (it does not exit 77, which would
** hide a SQLite failure); AM_REQUIRE_POSTGRES=1 makes their absence a
** failure.
*/
#ifndef AM_STORE_FIXTURE_H
#define AM_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "pg_fixture.h"
#include "serve/store/store.h"

static char sf_dir[64];
static pf_server sf_pg;
static bool sf_is_pg;
static int sf_n;

static __attribute__((unused)) void sf_fresh_uri(char *uri, size_t cap)
{
    if (sf_is_pg) {
        assert_true(pf_reset(&sf_pg));
        snprintf(uri, cap, "%s", sf_pg.uri);
    } else {
        snprintf(uri, cap, "sqlite:%s/t%d/agentmon.db", sf_dir, ++sf_n);
    }
}

/* Submit n records in one call and wait for their commit. */
static __attribute__((unused)) void sf_put(am_store *s, const am_record *recs, size_t n)
{
    uint64_t ticket;
    AM_ASSERT_OK(am_store_submit(s, recs, n, &ticket));
    AM_ASSERT_OK(am_store_wait(s, ticket, 60));
}

static int sf_run_both(const char *name, const struct CMUnitTest *suite, size_t n)
{
    char group[64];
    snprintf(sf_dir, sizeof sf_dir, "/tmp/am-%.8s-XXXXXX", name);
    if (!mkdtemp(sf_dir))
        return 1;
    snprintf(group, sizeof group, "%s_sqlite", name);
    int failed = _cmocka_run_group_tests(group, suite, n, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sf_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", sf_dir);
    if (!pf_find(&sf_pg)) {
        printf("SKIP: %s_postgres: no PostgreSQL (/usr/lib/postgresql/*/bin/initdb)\n", name);
        return failed ? 1 : getenv("AM_REQUIRE_POSTGRES") ? 1 : 0;
    }
    if (!pf_start(&sf_pg)) {
        fprintf(stderr, "%s_postgres: could not start a PostgreSQL cluster (see %s)\n", name,
                sf_pg.dir);
        return 1;
    }
    sf_is_pg = true;
    snprintf(group, sizeof group, "%s_postgres", name);
    failed += _cmocka_run_group_tests(group, suite, n, NULL, NULL);
    pf_cleanup();
    return failed ? 1 : 0;
}

#endif
