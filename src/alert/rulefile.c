/*
** rulefile.c: Prometheus rule files read and checked (rulefmt.Parse and
** Validate of Prometheus, with promtool's messages).
**
** DESIGN
** The YAML tree (yamltree.c) is walked with the structure Prometheus'
** strict decoder expects: the top level is a mapping with "groups"; a
** group has name, interval, limit, rules; a rule has record or alert,
** expr, for, keep_firing_for, labels, annotations. An unknown key is an
** error, as with yaml.v3's KnownFields. Then every check of rulefmt's
** Validate: group name set and unique in its file; exactly one of record
** and alert; expr set and valid PromQL (our subset: anything outside it is
** refused here); no for/keep_firing_for/annotations on recording rules; a
** valid recording name; valid label names and values; annotation names;
** and every label and annotation template of an alerting rule compiles.
** Every problem is reported, each with file, line and column, group, rule
** number and rule name, in rulefmt's form:
**   FILE: LINE:COL: group "G", rule N, "NAME": what
** A file with any problem adds nothing to the set.
**
** keep_firing_for is accepted (Prometheus >= 2.45); Prometheus 2.42, which
** the tests run against, would refuse it as an unknown field.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "../util/validate.h"
#include "promql_fmt.h"
#include "rules.h"
#include "yamltree.h"

typedef struct rf {
    const char *file;
    am_buf *errs;
    int n_errs;
    am_arena *a;
} rf;

__attribute__((format(printf, 3, 4))) static void rerr(rf *f, const am_ynode *n, const char *fmt,
                                                       ...)
{
    char msg[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (f->errs) {
        if (n)
            am_buf_printf(f->errs, "%s: %d:%d: %s\n", f->file, n->line, n->col, msg);
        else
            am_buf_printf(f->errs, "%s: %s\n", f->file, msg);
    }
    f->n_errs++;
}

static bool is_scalar(const am_ynode *n)
{
    return n && n->kind == AM_Y_SCALAR;
}

/* A scalar as a Go string field takes it; null gives "". */
static const char *str_field(rf *f, const am_ynode *n, const char *type)
{
    if (am__y_is_null(n))
        return "";
    if (!is_scalar(n)) {
        rerr(f, n, "yaml: unmarshal errors: cannot unmarshal !!%s into %s",
             n->kind == AM_Y_MAP ? "map" : "seq", type);
        return NULL;
    }
    return n->str;
}

static bool duration_field(rf *f, const am_ynode *n, int64_t *ms)
{
    *ms = 0;
    const char *s = str_field(f, n, "model.Duration");
    if (!s)
        return false;
    if (!*s)
        return true;
    if (!am__go_parse_duration(s, strlen(s), ms)) {
        rerr(f, n, "not a valid duration string: \"%s\"", s);
        return false;
    }
    return true;
}

/* A map of strings (labels, annotations) into pairs; NULL node: none. */
static bool string_map(rf *f, const am_ynode *n, am_label **out, size_t *count, const char *what)
{
    *out = NULL;
    *count = 0;
    if (am__y_is_null(n))
        return true;
    if (n->kind != AM_Y_MAP) {
        rerr(f, n, "yaml: unmarshal errors: cannot unmarshal !!%s into map[string]string (%s)",
             n->kind == AM_Y_SEQ ? "seq" : "str", what);
        return false;
    }
    am_label *p = am__arena_alloc(f->a, (n->n ? n->n : 1) * sizeof *p);
    bool ok = true;
    size_t m = 0; /* the pairs kept: a refused one leaves no slot behind */
    for (size_t i = 0; i < n->n; i++) {
        const am_ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (!is_scalar(k) || (!is_scalar(v) && !am__y_is_null(v))) {
            rerr(f, k, "yaml: unmarshal errors: %s must map strings to strings", what);
            ok = false;
            continue;
        }
        for (size_t j = 0; j < m; j++)
            if (strcmp(p[j].name, k->str) == 0) {
                rerr(f, k, "yaml: unmarshal errors: mapping key \"%s\" already defined", k->str);
                ok = false;
            }
        p[m].name = k->str;
        p[m].value = am__y_is_null(v) ? "" : v->str;
        m++;
    }
    *out = p;
    *count = m;
    return ok;
}

static bool known_keys(rf *f, const am_ynode *m, const char *const *keys, const char *type)
{
    bool ok = true;
    for (size_t i = 0; i < m->n; i++) {
        const am_ynode *k = m->items[2 * i];
        bool known = false;
        for (const char *const *kk = keys; *kk && !known; kk++)
            known = is_scalar(k) && strcmp(k->str, *kk) == 0;
        if (!known) {
            rerr(f, k, "yaml: unmarshal errors: field %s not found in type %s",
                 is_scalar(k) ? k->str : "?", type);
            ok = false;
        }
        for (size_t j = 0; j < i && known; j++)
            if (is_scalar(m->items[2 * j]) && strcmp(m->items[2 * j]->str, k->str) == 0) {
                rerr(f, k, "yaml: unmarshal errors: mapping key \"%s\" already defined", k->str);
                ok = false;
            }
    }
    return ok;
}

static char *heap_str(const char *s)
{
    return am__strdup(s ? s : "");
}

/* A set of pairs on the heap, in the order given (sorted by name). */
static am_lset *heap_lset(am_label *p, size_t n)
{
    return am__labels_new(NULL, p, n);
}

void am__alert_free(am_alert *a)
{
    if (!a)
        return;
    am__labels_free(a->labels);
    am__labels_free(a->annotations);
    am__free(a);
}

void am__rule_free(am_rule *r)
{
    if (!r)
        return;
    am__free(r->name);
    am__free(r->expr_text);
    am_promql_free(r->expr);
    if (r->label_tmpl)
        for (uint32_t i = 0; i < r->labels->n; i++)
            am__tmpl_free(r->label_tmpl[i]);
    if (r->ann_tmpl)
        for (uint32_t i = 0; i < r->annotations->n; i++)
            am__tmpl_free(r->ann_tmpl[i]);
    am__free(r->label_tmpl);
    am__free(r->ann_tmpl);
    am__labels_free(r->labels);
    am__labels_free(r->annotations);
    for (size_t i = 0; i < r->n_alerts; i++)
        am__alert_free(r->alerts[i]);
    am__free(r->alerts);
    if (r->src)
        am_tsdb_src_free(r->src_db, r->src);
    am__free(r);
}

static void group_free(am_rgroup *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        am__rule_free(g->rules[i]);
    am__free(g->rules);
    am__free(g->name);
    am__free(g->file);
    am__free(g);
}

void am_ruleset_free(am_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        group_free(rs->groups[i]);
    am__free(rs->groups);
    am__free(rs);
}

size_t am_ruleset_n_rules(const am_ruleset *rs)
{
    return rs ? rs->n_rules : 0;
}

/* The rule's checks; returns the rule (heap) or NULL when refused. */
static am_rule *parse_rule(rf *f, const am_ynode *rn, const char *gname, size_t idx)
{
    static const char *const KEYS[] = {"record",          "alert",  "expr",        "for",
                                       "keep_firing_for", "labels", "annotations", NULL};
    if (rn->kind != AM_Y_MAP) {
        rerr(f, rn, "yaml: unmarshal errors: cannot unmarshal !!%s into rulefmt.RuleNode",
             rn->kind == AM_Y_SEQ ? "seq" : "str");
        return NULL;
    }
    int before = f->n_errs;
    known_keys(f, rn, KEYS, "rulefmt.RuleNode");
    const am_ynode *nrec = am__y_get(rn, "record"), *nalert = am__y_get(rn, "alert"),
                   *nexpr = am__y_get(rn, "expr"), *nfor = am__y_get(rn, "for"),
                   *nkeep = am__y_get(rn, "keep_firing_for"), *nlab = am__y_get(rn, "labels"),
                   *nann = am__y_get(rn, "annotations");
    const char *rec = str_field(f, nrec, "string"), *alert = str_field(f, nalert, "string"),
               *expr = str_field(f, nexpr, "string");
    int64_t for_ms = 0, keep_ms = 0;
    duration_field(f, nfor, &for_ms);
    duration_field(f, nkeep, &keep_ms);
    am_label *labels, *anns;
    size_t n_labels, n_anns;
    string_map(f, nlab, &labels, &n_labels, "labels");
    string_map(f, nann, &anns, &n_anns, "annotations");
    if (f->n_errs > before || !rec || !alert || !expr)
        return NULL;

    const char *rname = alert[0] ? alert : rec;
    const am_ynode *rpos = alert[0] ? nalert : nrec;
    char where[400];
    snprintf(where, sizeof where, "group \"%s\", rule %zu, \"%s\"", gname, idx + 1, rname);
#define RERR(node, ...)                                                                            \
    do {                                                                                           \
        char m_[1100];                                                                             \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        rerr(f, (node) ? (node) : rn, "%s: %s", where, m_);                                        \
    } while (0)
    if (rec[0] && alert[0])
        RERR(nrec, "only one of 'record' and 'alert' must be set");
    if (!rec[0] && !alert[0])
        RERR(nrec ? nrec : nalert, "one of 'record' or 'alert' must be set");
    am_promql *q = NULL;
    if (!expr[0]) {
        RERR(nexpr, "field 'expr' must be set in rule");
    } else {
        char perr[500];
        am_err rc = am_promql_parse(expr, &q, perr, sizeof perr);
        if (rc)
            RERR(nexpr, "could not parse expression: %s", perr);
    }
    if (rec[0]) {
        if (n_anns)
            RERR(nrec, "invalid field 'annotations' in recording rule");
        if (for_ms)
            RERR(nrec, "invalid field 'for' in recording rule");
        if (keep_ms)
            RERR(nrec, "invalid field 'keep_firing_for' in recording rule");
        if (!am__metric_name_ok(rec))
            RERR(nrec, "invalid recording rule name: %s", rec);
    }
    for (size_t i = 0; i < n_labels; i++) {
        if (!am__label_name_ok(labels[i].name) || strcmp(labels[i].name, "__name__") == 0)
            RERR(nlab, "invalid label name: %s", labels[i].name);
        if (!am__utf8_valid(labels[i].value, strlen(labels[i].value), NULL))
            RERR(nlab, "invalid label value: %s", labels[i].value);
    }
    for (size_t i = 0; i < n_anns; i++)
        if (!am__label_name_ok(anns[i].name))
            RERR(nann, "invalid annotation name: %s", anns[i].name);

    am_rule *r = am__calloc(1, sizeof *r);
    if (!r) {
        am_promql_free(q);
        rerr(f, rn, "out of memory");
        return NULL;
    }
    r->is_alert = alert[0] != '\0';
    r->name = heap_str(rname);
    r->expr_text = heap_str(expr);
    r->expr = q;
    r->for_ms = for_ms;
    r->keep_firing_for_ms = keep_ms;
    r->line = rpos ? rpos->line : rn->line;
    r->labels = heap_lset(labels, n_labels);
    r->annotations = heap_lset(anns, n_anns);
    if (!r->name || !r->expr_text || !r->labels || !r->annotations) {
        rerr(f, rn, "out of memory");
        am__rule_free(r);
        return NULL;
    }
    if (r->is_alert) {
        /* templates compile, as promtool's testTemplateParsing checks */
        char tname[300];
        snprintf(tname, sizeof tname, "__alert_%s", r->name);
        r->label_tmpl = am__calloc(r->labels->n + 1, sizeof *r->label_tmpl);
        r->ann_tmpl = am__calloc(r->annotations->n + 1, sizeof *r->ann_tmpl);
        if (!r->label_tmpl || !r->ann_tmpl) {
            rerr(f, rn, "out of memory");
            am__rule_free(r);
            return NULL;
        }
        for (int pass = 0; pass < 2; pass++) {
            const am_lset *set = pass ? r->annotations : r->labels;
            am_tmpl **out = pass ? r->ann_tmpl : r->label_tmpl;
            const am_ynode *pos = pass ? nann : nlab;
            for (uint32_t i = 0; i < set->n; i++) {
                char terr[500];
                const am_ynode *vn = am__y_get(pos, set->l[i].name);
                if (am__tmpl_parse(tname, set->l[i].value, &out[i], terr, sizeof terr))
                    RERR(vn ? vn : pos, "%s \"%s\": %s", pass ? "annotation" : "label",
                         set->l[i].name, terr);
            }
        }
    }
#undef RERR
    if (f->n_errs > before) {
        am__rule_free(r);
        return NULL;
    }
    return r;
}

am_err am__rulefile_parse(const char *file, const char *text, size_t len, am_ruleset *rs,
                          am_buf *errs)
{
    am_arena a;
    am__arena_init(&a, NULL);
    rf f = {file, errs, 0, &a};
    am_ynode *root;
    char yerr[400];
    am_err rc = am__yaml_load(text, len, &a, &root, yerr, sizeof yerr);
    if (rc) {
        if (errs)
            am_buf_printf(errs, "%s: yaml: %s\n", file, yerr);
        am__arena_free(&a);
        return rc == AM_ENOMEM ? AM_ENOMEM : AM_EINVAL;
    }
    if (!root) { /* an empty file: no groups */
        am__arena_free(&a);
        return AM_OK;
    }
    if (root->kind != AM_Y_MAP) {
        rerr(&f, root, "yaml: unmarshal errors: cannot unmarshal !!%s into rulefmt.RuleGroups",
             root->kind == AM_Y_SEQ ? "seq" : "str");
        am__arena_free(&a);
        return AM_EINVAL;
    }
    static const char *const TOP[] = {"groups", NULL};
    static const char *const GKEYS[] = {"name", "interval", "limit", "rules", NULL};
    known_keys(&f, root, TOP, "rulefmt.RuleGroups");
    const am_ynode *groups = am__y_get(root, "groups");
    am_rgroup **gs = NULL;
    size_t ng = 0;
    if (groups && !am__y_is_null(groups) && groups->kind != AM_Y_SEQ)
        rerr(&f, groups, "yaml: unmarshal errors: cannot unmarshal !!%s into []rulefmt.RuleGroup",
             groups->kind == AM_Y_MAP ? "map" : "str");
    else if (groups && groups->kind == AM_Y_SEQ)
        gs = am__calloc(groups->n + 1, sizeof *gs);
    for (size_t gi = 0; gs && gi < groups->n; gi++) {
        const am_ynode *gn = groups->items[gi];
        if (gn->kind != AM_Y_MAP) {
            rerr(&f, gn, "yaml: unmarshal errors: cannot unmarshal !!%s into rulefmt.RuleGroup",
                 gn->kind == AM_Y_SEQ ? "seq" : "str");
            continue;
        }
        known_keys(&f, gn, GKEYS, "rulefmt.RuleGroup");
        const am_ynode *nname = am__y_get(gn, "name"), *nint = am__y_get(gn, "interval"),
                       *nlim = am__y_get(gn, "limit"), *nrules = am__y_get(gn, "rules");
        const char *name = str_field(&f, nname, "string");
        int64_t interval = 0;
        duration_field(&f, nint, &interval);
        long limit = 0;
        if (nlim && !am__y_is_null(nlim)) {
            char *end;
            errno = 0;
            limit = is_scalar(nlim) ? strtol(nlim->str, &end, 10) : 0;
            if (!is_scalar(nlim) || *end || errno || limit < 0 || limit > 1000000000)
                rerr(&f, nlim, "yaml: unmarshal errors: cannot unmarshal \"%s\" into int",
                     is_scalar(nlim) ? nlim->str : "?");
        }
        if (!name)
            continue;
        if (!name[0])
            rerr(&f, gn, "Groupname must not be empty");
        for (size_t k = 0; k < ng; k++)
            if (strcmp(gs[k]->name, name) == 0)
                rerr(&f, gn, "groupname: \"%s\" is repeated in the same file", name);
        am_rgroup *g = am__calloc(1, sizeof *g);
        if (!g) {
            rerr(&f, gn, "out of memory");
            continue;
        }
        g->name = heap_str(name);
        g->file = heap_str(file);
        g->interval_ms = interval;
        g->limit = (int)limit;
        g->line = gn->line;
        g->next_eval = AM_TIME_ZERO;
        g->last_eval = AM_TIME_ZERO;
        gs[ng++] = g;
        if (nrules && !am__y_is_null(nrules) && nrules->kind != AM_Y_SEQ) {
            rerr(&f, nrules,
                 "yaml: unmarshal errors: cannot unmarshal !!%s into "
                 "[]rulefmt.RuleNode",
                 nrules->kind == AM_Y_MAP ? "map" : "str");
            continue;
        }
        size_t nr = nrules && nrules->kind == AM_Y_SEQ ? nrules->n : 0;
        g->rules = am__calloc(nr + 1, sizeof *g->rules);
        for (size_t ri = 0; g->rules && ri < nr; ri++) {
            am_rule *r = parse_rule(&f, nrules->items[ri], name, ri);
            if (r) {
                r->group = g;
                g->rules[g->n++] = r;
            }
        }
    }
    am__arena_free(&a);
    if (f.n_errs) {
        for (size_t i = 0; i < ng; i++)
            group_free(gs[i]);
        am__free(gs);
        return AM_EINVAL;
    }
    size_t cap = rs->n;
    am_rgroup **v = am__realloc(rs->groups, (rs->n + ng + 1) * sizeof *v);
    (void)cap;
    if (!v) {
        for (size_t i = 0; i < ng; i++)
            group_free(gs[i]);
        am__free(gs);
        return am__err(AM_ENOMEM, "out of memory");
    }
    rs->groups = v;
    for (size_t i = 0; i < ng; i++) {
        rs->groups[rs->n++] = gs[i];
        rs->n_rules += gs[i]->n;
    }
    am__free(gs);
    return AM_OK;
}

am_err am__read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return am__err(AM_EIO, "open %s: %s", path, strerror(errno));
    am_buf b;
    am_buf_init(&b, 64u << 20);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        am_buf_append(&b, chunk, n);
    bool bad = ferror(fp);
    fclose(fp);
    if (bad || am_buf_err(&b)) {
        am_buf_free(&b);
        return am__err(bad ? AM_EIO : AM_ENOMEM, "read %s: %s", path,
                       bad ? "read error" : "too large or out of memory");
    }
    *out = am_buf_take(&b, len);
    if (!*out)
        return am__err(AM_ENOMEM, "out of memory");
    return AM_OK;
}

am_err am_ruleset_load(const char *const *paths, size_t n, am_ruleset **out, struct am_buf *errs)
{
    *out = NULL;
    am_ruleset *rs = am__calloc(1, sizeof *rs);
    if (!rs)
        return am__err(AM_ENOMEM, "out of memory");
    am_err first = AM_OK;
    for (size_t i = 0; i < n; i++) {
        char *text;
        size_t len;
        am_err rc = am__read_file(paths[i], &text, &len);
        if (rc) {
            if (errs)
                am_buf_printf(errs, "%s\n", am_errmsg());
        } else {
            rc = am__rulefile_parse(paths[i], text, len, rs, errs);
            am__free(text);
        }
        if (rc && !first)
            first = rc;
    }
    if (first) {
        am_ruleset_free(rs);
        return am__err(first, "rule files refused");
    }
    *out = rs;
    return AM_OK;
}
