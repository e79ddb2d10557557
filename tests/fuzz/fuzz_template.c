/*
** fuzz_template.c: libFuzzer target -- any bytes as an alert template
** (am__tmpl_parse and am__tmpl_expand, src/alert/template.c).
**
** WHAT IT CHECKS
**   Refused: AM_EINVAL with Go's "template: NAME:LINE: ..." message.
**   Accepted: it expands with an alert's data and a small window for
**   query, either to text or to a run-time error with a message; the
**   execution limits (depth, steps) keep every input bounded.
** Nothing leaks (ASan); a violation traps.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/template.h"
#include "alert/tsdb.h"
#include "util/buf.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_template: " __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                                                 \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static am_tsdb *g_db;
static am_arena g_a;
static am_lset *g_labels, *g_ext;

static void setup(void)
{
    am_tsdb_new(NULL, &g_db);
    am_tsdb_begin(g_db, NULL);
    for (int i = 0; i < 3; i++) {
        char inst[8];
        snprintf(inst, sizeof inst, "h%d", i);
        am_label p[] = {{"__name__", "up"}, {"instance", inst}};
        (void)am_tsdb_append(g_db, NULL, p, 2, 0, i);
    }
    am_tsdb_commit(g_db, NULL, 0);
    am__arena_init(&g_a, NULL);
    am_label l[] = {{"job", "api"}, {"instance", "h:1"}};
    g_labels = am__labels_new(&g_a, l, 2);
    am_label e[] = {{"cluster", "c1"}};
    g_ext = am__labels_new(&g_a, e, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_db)
        setup();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    am_tmpl *t = NULL;
    char err[600];
    am_err rc = am__tmpl_parse("__alert_F", text, &t, err, sizeof err);
    if (rc) {
        CHECK(rc == AM_EINVAL || rc == AM_ENOMEM, "parse returned %d", rc);
        CHECK(rc == AM_ENOMEM || strncmp(err, "template: __alert_F:", 20) == 0, "message \"%s\"",
              err);
        free(text);
        return 0;
    }
    am_promql_opts qo = AM_PROMQL_OPTS_INIT;
    qo.max_samples = 1000;
    am_tmpl_data d = {g_labels, g_ext, "http://x/p", 1.5, 60000, g_db, &qo};
    am_buf b;
    am_buf_init(&b, 1 << 20);
    err[0] = '\0';
    rc = am__tmpl_expand(t, &d, &b, err, sizeof err);
    CHECK(rc == AM_OK || rc == AM_ENOMEM || (rc == AM_EINVAL && err[0]), "expand returned %d", rc);
    am_buf_free(&b);
    am__tmpl_free(t);
    free(text);
    return 0;
}
