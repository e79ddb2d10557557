/*
** rulecheck.c: `agentmon rules check`, promtool check rules on our loader.
**
** For each file: "Checking FILE", then "  SUCCESS: N rules found", or
** "  FAILED:" and every problem rulefile.c found (on stderr). Like
** promtool's default lint, rules with the same name and the same labels
** (recording or alerting) are reported as "lint error N duplicate rule(s)
** found." without failing the check. Exit status 1 when a file failed.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "rules.h"

typedef struct named {
    const char *metric;
    const am_lset *labels;
} named;

static int named_cmp(const void *x, const void *y)
{
    const named *a = x, *b = y;
    int c = strcmp(a->metric, b->metric);
    return c ? c : am__labels_cmp(a->labels, b->labels);
}

static void lint_duplicates(const am_ruleset *rs, am_buf *b)
{
    size_t n = rs->n_rules, k = 0;
    if (n < 2)
        return;
    named *v = am__calloc(n, sizeof *v);
    named *dup = am__calloc(n, sizeof *dup);
    if (!v || !dup) {
        am__free(v);
        am__free(dup);
        return;
    }
    for (size_t g = 0; g < rs->n; g++)
        for (size_t i = 0; i < rs->groups[g]->n; i++) {
            v[k].metric = rs->groups[g]->rules[i]->name;
            v[k].labels = rs->groups[g]->rules[i]->labels;
            k++;
        }
    qsort(v, k, sizeof *v, named_cmp);
    size_t nd = 0;
    for (size_t i = 1; i < k; i++)
        if (named_cmp(&v[i - 1], &v[i]) == 0 && (nd == 0 || named_cmp(&v[i - 1], &dup[nd - 1])))
            dup[nd++] = v[i];
    if (nd) {
        am_buf_printf(b, "lint error %zu duplicate rule(s) found.\n", nd);
        for (size_t i = 0; i < nd; i++) {
            am_buf_printf(b, "Metric: %s\nLabel(s):\n", dup[i].metric);
            for (uint32_t j = 0; j < dup[i].labels->n; j++)
                am_buf_printf(b, "\t%s: %s\n", dup[i].labels->l[j].name, dup[i].labels->l[j].value);
        }
        am_buf_puts(b, "Might cause inconsistency while recording expressions");
    }
    am__free(v);
    am__free(dup);
}

int am_rules_check(const char *const *paths, size_t n, FILE *out, FILE *err)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "Checking %s\n", paths[i]);
        fflush(out);
        am_buf errs;
        am_buf_init(&errs, 0);
        am_ruleset *rs = NULL;
        if (am_ruleset_load(&paths[i], 1, &rs, &errs)) {
            fprintf(err, "  FAILED:\n%s", errs.p ? errs.p : "");
            fflush(err);
            rc = 1;
        } else {
            am_buf lint;
            am_buf_init(&lint, 0);
            lint_duplicates(rs, &lint);
            if (lint.len) {
                fprintf(err, "  FAILED:\n%s\n", lint.p);
                fflush(err);
            } else {
                fprintf(out, "  SUCCESS: %zu rules found\n", am_ruleset_n_rules(rs));
            }
            am_buf_free(&lint);
        }
        fprintf(out, "\n");
        am_ruleset_free(rs);
        am_buf_free(&errs);
    }
    return rc;
}
