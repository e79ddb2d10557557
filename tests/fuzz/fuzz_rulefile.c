/*
** fuzz_rulefile.c: libFuzzer target -- any bytes as a Prometheus rule file
** (am__rulefile_parse, src/alert/rulefile.c + yamltree.c), and what loads
** is evaluated.
**
** WHAT IT CHECKS
**   Refused: AM_EINVAL with at least one line naming the file, and the
**   ruleset is left as it was (empty).
**   Accepted: every group has a name and its rules a name, an expression
**   and, for alerting rules, compiled templates; each group is then
**   evaluated at three times over a small window (alerts go pending,
**   templates expand, recording rules write back), which must not crash.
** Nothing leaks (ASan); a violation traps.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/rules.h"
#include "util/alloc.h"
#include "util/buf.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rulefile: " __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                                                 \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_ruleset *rs = am__calloc(1, sizeof *rs);
    if (!rs)
        return 0;
    am_buf errs;
    am_buf_init(&errs, 0);
    am_err rc = am__rulefile_parse("fuzz.yml", (const char *)data, size, rs, &errs);
    if (rc) {
        CHECK(rc == AM_EINVAL || rc == AM_ENOMEM, "returned %d", rc);
        CHECK(rs->n == 0, "refused but %zu groups added", rs->n);
        CHECK(rc == AM_ENOMEM || (errs.p && strstr(errs.p, "fuzz.yml: ")), "no message");
        am_buf_free(&errs);
        am_ruleset_free(rs);
        return 0;
    }
    am_tsdb *db;
    am_tsdb_src *src;
    if (am_tsdb_new(NULL, &db) || am_tsdb_src_new(db, true, &src)) {
        am_buf_free(&errs);
        am_ruleset_free(rs);
        return 0;
    }
    am_promql_opts qo = AM_PROMQL_OPTS_INIT;
    qo.max_samples = 10000;
    am_rule_ctx c = {db, &qo, NULL, "", 60000, 60000, NULL, NULL, true};
    for (int64_t t = 0; t <= 120000; t += 60000) {
        am_tsdb_begin(db, src);
        am_label p[] = {{"__name__", "up"}, {"job", "a"}};
        (void)am_tsdb_append(db, src, p, 2, t, t ? 0 : 1);
        am_tsdb_commit(db, src, t);
        for (size_t g = 0; g < rs->n; g++) {
            CHECK(rs->groups[g]->name && rs->groups[g]->file, "group without name");
            for (size_t i = 0; i < rs->groups[g]->n; i++) {
                am_rule *r = rs->groups[g]->rules[i];
                CHECK(r->name && r->name[0] && r->expr, "rule without name or expression");
                CHECK(!r->is_alert || (r->label_tmpl && r->ann_tmpl), "templates missing");
            }
            am__group_eval(rs->groups[g], &c, t);
        }
    }
    am_ruleset_free(rs);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);
    am_buf_free(&errs);
    return 0;
}
