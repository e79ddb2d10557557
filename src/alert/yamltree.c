/*
** yamltree.c: YAML to a tree with positions (yamltree.h), on libyaml's
** document loader.
**
** libyaml resolves anchors and aliases to shared node indexes; the tree
** is built by a recursive copy that counts nodes (and depth) so that an
** alias bomb or a deeply nested document is refused instead of expanded.
** Tags are not interpreted beyond what the readers need: a scalar is its
** text plus whether it was plain.
*/
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "yamltree.h"

#define MAX_NODES 100000
#define MAX_DEPTH 64

typedef struct loader {
    yaml_document_t *doc;
    am_arena *a;
    size_t count;
    char *err;
    size_t cap;
} loader;

static am_ynode *copy(loader *l, yaml_node_t *yn, int depth)
{
    if (++l->count > MAX_NODES) {
        snprintf(l->err, l->cap, "%d:%d: document too large (more than %d nodes, aliases expanded)",
                 (int)yn->start_mark.line + 1, (int)yn->start_mark.column + 1, MAX_NODES);
        return NULL;
    }
    if (depth > MAX_DEPTH) {
        snprintf(l->err, l->cap, "%d:%d: document nested too deeply", (int)yn->start_mark.line + 1,
                 (int)yn->start_mark.column + 1);
        return NULL;
    }
    am_ynode *n = am__arena_zalloc(l->a, sizeof *n);
    if (!n)
        goto oom;
    n->line = (int)yn->start_mark.line + 1;
    n->col = (int)yn->start_mark.column + 1;
    switch (yn->type) {
    case YAML_SCALAR_NODE:
        n->kind = AM_Y_SCALAR;
        n->len = yn->data.scalar.length;
        n->str = am__arena_strndup(l->a, (const char *)yn->data.scalar.value, n->len);
        if (!n->str)
            goto oom;
        n->is_plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return n;
    case YAML_SEQUENCE_NODE: {
        n->kind = AM_Y_SEQ;
        size_t k = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
        n->items = am__arena_alloc(l->a, (k ? k : 1) * sizeof *n->items);
        if (!n->items)
            goto oom;
        for (size_t i = 0; i < k; i++) {
            yaml_node_t *c = yaml_document_get_node(l->doc, yn->data.sequence.items.start[i]);
            if (!c || !(n->items[i] = copy(l, c, depth + 1)))
                return NULL;
        }
        n->n = k;
        return n;
    }
    case YAML_MAPPING_NODE: {
        n->kind = AM_Y_MAP;
        size_t k = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
        n->items = am__arena_alloc(l->a, (k ? 2 * k : 1) * sizeof *n->items);
        if (!n->items)
            goto oom;
        for (size_t i = 0; i < k; i++) {
            yaml_node_pair_t *pr = &yn->data.mapping.pairs.start[i];
            yaml_node_t *kn = yaml_document_get_node(l->doc, pr->key);
            yaml_node_t *vn = yaml_document_get_node(l->doc, pr->value);
            if (!kn || !vn || !(n->items[2 * i] = copy(l, kn, depth + 1)) ||
                !(n->items[2 * i + 1] = copy(l, vn, depth + 1)))
                return NULL;
        }
        n->n = k;
        return n;
    }
    default:
        snprintf(l->err, l->cap, "%d:%d: empty node", n->line, n->col);
        return NULL;
    }
oom:
    snprintf(l->err, l->cap, "out of memory");
    return NULL;
}

am_err am__yaml_load(const char *text, size_t len, am_arena *a, am_ynode **root, char *err,
                     size_t cap)
{
    yaml_parser_t p;
    yaml_document_t doc;
    *root = NULL;
    err[0] = '\0';
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(err, cap, "%d:%d: %s%s%s", (int)p.problem_mark.line + 1,
                 (int)p.problem_mark.column + 1, p.problem ? p.problem : "invalid YAML",
                 p.context ? " " : "", p.context ? p.context : "");
        yaml_parser_delete(&p);
        return AM_EINVAL;
    }
    am_err rc = AM_OK;
    yaml_node_t *top = yaml_document_get_root_node(&doc);
    if (top) {
        loader l = {&doc, a, 0, err, cap};
        *root = copy(&l, top, 0);
        if (!*root)
            rc = strcmp(err, "out of memory") == 0 ? AM_ENOMEM : AM_EINVAL;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

bool am__y_is_null(const am_ynode *n)
{
    if (!n)
        return true;
    return n->kind == AM_Y_SCALAR && n->is_plain &&
           (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
            strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

am_ynode *am__y_get(const am_ynode *m, const char *key)
{
    if (!m || m->kind != AM_Y_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const am_ynode *k = m->items[2 * i];
        if (k->kind == AM_Y_SCALAR && strcmp(k->str, key) == 0)
            return m->items[2 * i + 1];
    }
    return NULL;
}

const char *am__y_kind_name(const am_ynode *n)
{
    if (!n)
        return "null";
    return n->kind == AM_Y_MAP ? "mapping" : n->kind == AM_Y_SEQ ? "sequence" : "scalar";
}
