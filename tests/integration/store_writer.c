/*
** store_writer.c: the two halves of tests/integration/store_crash.sh.
**
**   store_writer write URI RUN     submit communication records from 4
**                                  threads, wait for each ticket, and print
**                                  every acknowledged id ("RUN-thread-n"),
**                                  one per line, until killed
**   store_writer check URI FILE    every id in FILE must be stored, and
**                                  the rollups must agree with the rows
**                                  (a summary read both ways is the same);
**                                  prints how many ids were checked, exits
**                                  1 naming the first one missing
**
** The writer prints an id only after am_store_wait() said its batch is
** committed, and flushes at once, so whatever the file holds when the
** process is killed with kill -9 was acknowledged.
*/
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmon/agentmon.h"
#include "serve/api/results_json.h"
#include "serve/store/store.h"
#include "serve/store/store_backend.h"

#define BATCH 20

static am_store *g_store;
static const char *g_run;
static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;

static void *writer(void *arg)
{
    int th = (int)(intptr_t)arg;
    const am_table *t = am_table_get(AM_T_COMMUNICATION);
    char ids[BATCH][64];
    am_value vals[BATCH][40];
    am_record recs[BATCH];
    for (long n = 0;; n += BATCH) {
        for (int k = 0; k < BATCH; k++) {
            snprintf(ids[k], sizeof ids[k], "%s-%d-%ld", g_run, th, n + k);
            for (size_t i = 0; i < t->n_cols; i++)
                vals[k][i] = (am_value){.is_null = true};
            vals[k][AM_COMM_ID] = (am_value){.v.s = ids[k]};
            vals[k][AM_COMM_TIMESTAMP] = (am_value){.v.d = (double)time(NULL)};
            vals[k][AM_COMM_SOURCE_AGENT_ID] = (am_value){.v.s = "crash"};
            vals[k][AM_COMM_PROCESSING_TIME] = (am_value){.v.d = (double)k};
            recs[k] = (am_record){AM_T_COMMUNICATION, vals[k]};
        }
        uint64_t ticket;
        am_err rc = am_store_submit(g_store, recs, BATCH, &ticket);
        if (rc == AM_EFULL)
            continue;
        if (!rc)
            rc = am_store_wait(g_store, ticket, 30);
        if (rc) {
            fprintf(stderr, "store_writer: %s: %s\n", am_err_name(rc), am_errmsg());
            exit(1);
        }
        pthread_mutex_lock(&g_out);
        for (int k = 0; k < BATCH; k++)
            fprintf(stdout, "%s\n", ids[k]);
        fflush(stdout);
        pthread_mutex_unlock(&g_out);
    }
    return NULL;
}

static int check(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    char line[128];
    long n = 0;
    int id_col = AM_COMM_ID;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (!len || line[len - 1] != '\n')
            break; /* a line cut by the kill was never complete: not acknowledged */
        line[len - 1] = '\0';
        am_store_query q = {.table = AM_T_COMMUNICATION, .start = NAN, .end = NAN, .limit = 10};
        q.filters[0] = (am_store_filter){id_col, line};
        q.n_filters = 1;
        am_buf b;
        am_buf_init(&b, 0);
        size_t rows = 0;
        char next[128];
        am_err rc = am__json_select(g_store, &q, &b, &rows, next);
        am_buf_free(&b);
        if (rc || rows != 1) {
            fprintf(stderr, "store_writer: acknowledged id %s is %s\n", line,
                    rc ? am_errmsg() : "missing");
            fclose(f);
            return 1;
        }
        n++;
    }
    fclose(f);
    /* the rollups committed with the rows: kill -9 left them consistent */
    am_store_summary q = {.q = {.table = AM_T_COMMUNICATION}, .step = 3600};
    q.q.end = ceil((double)time(NULL) / 3600) * 3600 + 3600;
    q.q.start = q.q.end - 7 * 86400;
    am_buf a, b;
    am_buf_init(&a, 0);
    am_buf_init(&b, 0);
    am_err rc = am__json_summary(g_store, &q, &a);
    am__store_read_rollups(g_store, false);
    if (!rc)
        rc = am__json_summary(g_store, &q, &b);
    int bad = rc || strcmp(a.p, b.p) != 0;
    if (bad)
        fprintf(stderr, "store_writer: rollups and rows disagree (%s):\n%s\n%s\n",
                rc ? am_errmsg() : "", a.p ? a.p : "", b.p ? b.p : "");
    am_buf_free(&a);
    am_buf_free(&b);
    if (bad)
        return 1;
    printf("%ld\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "check") != 0)) {
        fprintf(stderr, "usage: store_writer write URI RUN | check URI FILE\n");
        return 2;
    }
    am_err rc = am_store_open(argv[2], NULL, &g_store);
    if (rc) {
        fprintf(stderr, "store_writer: %s: %s\n", am_err_name(rc), am_errmsg());
        return 1;
    }
    if (strcmp(argv[1], "check") == 0) {
        int r = check(argv[3]);
        am_store_close(g_store);
        return r;
    }
    g_run = argv[3];
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    return 0;
}
