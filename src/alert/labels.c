/*
** labels.c: label sets, builders and maps keyed by label sets (labels.h).
**
** DESIGN
** A set is one allocation -- header, pairs, strings -- so copying one is a
** size computation and a memcpy plus relocation of the pair pointers, and
** freeing one is one call. Sets are small (a handful of pairs), so sorting
** is an insertion sort and lookups are linear scans. The hash is the core's
** am__labels_hash over the interleaved names and values (one hashing
** mechanism in the project); every map verifies a hash hit with a full
** comparison, so a 32-bit hash costs a rare extra compare, never a wrong
** answer.
**
** Ownership: sets made with a NULL arena are the caller's (am__labels_free);
** the others die with their arena. Builders borrow strings until
** am__lb_labels() copies them into a new set.
*/
#include <string.h>

#include "../util/alloc.h"
#include "../util/labels_hash.h"
#include "../util/render.h"
#include "labels.h"
#include "promql_fmt.h"

const am_lset am__labels_empty = {0, 0};

uint32_t am__labels_hash_pairs(const am_label *pairs, size_t n)
{
    enum { CHUNK = 64 };
    const char *s[2 * CHUNK];
    size_t lens[2 * CHUNK];
    uint32_t h = 0x9e3779b9u;
    if (n == 0)
        return 0; /* as am__labels_empty, so every empty set is equal to it */
    /* in chunks of 64 pairs, each chunk's hash folded into the next */
    for (size_t i = 0; i < n || i == 0; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < k; j++) {
            s[2 * j] = pairs[i + j].name;
            s[2 * j + 1] = pairs[i + j].value;
        }
        h = h * 31u + am__labels_hash(s, 2 * k, lens);
        if (n == 0)
            break;
    }
    return h;
}

static void sort_pairs(am_label *p, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        am_label x = p[i];
        size_t j = i;
        while (j > 0 && strcmp(p[j - 1].name, x.name) > 0) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = x;
    }
}

const char *am__labels_dup(am_label *pairs, size_t n)
{
    sort_pairs(pairs, n);
    for (size_t i = 1; i < n; i++)
        if (strcmp(pairs[i - 1].name, pairs[i].name) == 0)
            return pairs[i].name;
    return NULL;
}

/* Sorted pairs in, one block out; duplicates keep the later pair. */
static am_lset *build(am_arena *a, const am_label *p, size_t n)
{
    size_t keep = 0, strs = 0;
    for (size_t i = 0; i < n; i++) {
        if (!p[i].value[0] || (i + 1 < n && strcmp(p[i].name, p[i + 1].name) == 0))
            continue;
        keep++;
        strs += strlen(p[i].name) + strlen(p[i].value) + 2;
    }
    size_t size = sizeof(am_lset) + keep * sizeof(am_label) + strs;
    am_lset *l = a ? am__arena_alloc(a, size) : am__malloc(size);
    if (!l)
        return NULL;
    l->n = (uint32_t)keep;
    char *w = (char *)(l->l + keep);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!p[i].value[0] || (i + 1 < n && strcmp(p[i].name, p[i + 1].name) == 0))
            continue;
        size_t nl = strlen(p[i].name) + 1, vl = strlen(p[i].value) + 1;
        memcpy(w, p[i].name, nl);
        l->l[k].name = w;
        w += nl;
        memcpy(w, p[i].value, vl);
        l->l[k].value = w;
        w += vl;
        k++;
    }
    l->hash = am__labels_hash_pairs(l->l, keep);
    return l;
}

am_lset *am__labels_new(am_arena *a, am_label *pairs, size_t n)
{
    /* stable, so that of two pairs of one name the later one wins */
    sort_pairs(pairs, n);
    return build(a, pairs, n);
}

size_t am__labels_size(const am_lset *l)
{
    size_t size = sizeof(am_lset) + l->n * sizeof(am_label);
    for (uint32_t i = 0; i < l->n; i++)
        size += strlen(l->l[i].name) + strlen(l->l[i].value) + 2;
    return size;
}

am_lset *am__labels_raw(am_arena *a, const am_label *p, size_t n)
{
    size_t size = sizeof(am_lset) + n * sizeof(am_label);
    for (size_t k = 0; k < n; k++)
        size += strlen(p[k].name) + strlen(p[k].value) + 2;
    am_lset *l = a ? am__arena_alloc(a, size) : am__malloc(size);
    if (!l)
        return NULL;
    l->n = (uint32_t)n;
    l->hash = 0;
    char *w = (char *)(l->l + n);
    for (size_t k = 0; k < n; k++) {
        size_t nl = strlen(p[k].name) + 1, vl = strlen(p[k].value) + 1;
        memcpy(w, p[k].name, nl);
        l->l[k].name = w;
        w += nl;
        memcpy(w, p[k].value, vl);
        l->l[k].value = w;
        w += vl;
    }
    return l;
}

static bool name_chars(const char *s, bool colon)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
          (colon && *s == ':')))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
              (*s >= '0' && *s <= '9') || (colon && *s == ':')))
            return false;
    return true;
}

bool am__label_name_ok(const char *s)
{
    return name_chars(s, false);
}

bool am__metric_name_ok(const char *s)
{
    return name_chars(s, true);
}

am_lset *am__labels_copy(am_arena *a, const am_lset *l)
{
    return build(a, l->l, l->n);
}

void am__labels_free(am_lset *l)
{
    if (l && l != &am__labels_empty)
        am__free(l);
}

const char *am__labels_get(const am_lset *l, const char *name)
{
    for (uint32_t i = 0; i < l->n; i++) {
        int c = strcmp(l->l[i].name, name);
        if (c == 0)
            return l->l[i].value;
        if (c > 0)
            break;
    }
    return NULL;
}

const char *am__labels_val(const am_lset *l, const char *name)
{
    const char *v = am__labels_get(l, name);
    return v ? v : "";
}

int am__labels_cmp(const am_lset *a, const am_lset *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t i = 0; i < n; i++) {
        int c = strcmp(a->l[i].name, b->l[i].name);
        if (c)
            return c;
        c = strcmp(a->l[i].value, b->l[i].value);
        if (c)
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool am__labels_equal(const am_lset *a, const am_lset *b)
{
    if (a == b)
        return true;
    if (a->hash != b->hash || a->n != b->n)
        return false;
    return am__labels_cmp(a, b) == 0;
}

void am__labels_fmt(am_buf *b, const am_lset *l)
{
    am_buf_putc(b, '{');
    for (uint32_t i = 0; i < l->n; i++) {
        if (i)
            am_buf_append(b, ", ", 2);
        am_buf_puts(b, l->l[i].name);
        am_buf_putc(b, '=');
        am__go_quote(b, l->l[i].value, strlen(l->l[i].value));
    }
    am_buf_putc(b, '}');
}

/* ------------------------------------------------------------ builder */

void am__lb_init(am_lbuild *b, am_arena *a, const am_lset *from)
{
    b->a = a;
    b->p = NULL;
    b->n = 0;
    b->cap = 0;
    am__lb_reset(b, from);
}

void am__lb_reset(am_lbuild *b, const am_lset *from)
{
    b->n = 0;
    if (!from)
        return;
    b->p = am__arena_grow(b->a, b->p, &b->cap, from->n + 4, sizeof *b->p);
    if (!b->p)
        return;
    memcpy(b->p, from->l, from->n * sizeof *b->p);
    b->n = from->n;
}

void am__lb_del(am_lbuild *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->p[i].name, name) == 0) {
            memmove(b->p + i, b->p + i + 1, (b->n - i - 1) * sizeof *b->p);
            b->n--;
            return;
        }
    }
}

void am__lb_set(am_lbuild *b, const char *name, const char *value)
{
    if (!value || !value[0]) {
        am__lb_del(b, name);
        return;
    }
    size_t i = 0;
    for (; i < b->n; i++) {
        int c = strcmp(b->p[i].name, name);
        if (c == 0) {
            b->p[i].value = value;
            return;
        }
        if (c > 0)
            break;
    }
    am_label *p = am__arena_grow(b->a, b->p, &b->cap, b->n + 1, sizeof *b->p);
    if (!p)
        return;
    b->p = p;
    memmove(b->p + i + 1, b->p + i, (b->n - i) * sizeof *b->p);
    b->p[i].name = name;
    b->p[i].value = value;
    b->n++;
}

void am__lb_keep(am_lbuild *b, char *const *names, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        bool keep = false;
        for (size_t k = 0; k < n && !keep; k++)
            keep = strcmp(b->p[i].name, names[k]) == 0;
        if (keep)
            b->p[w++] = b->p[i];
    }
    b->n = w;
}

am_lset *am__lb_labels(am_lbuild *b)
{
    /* the pairs are kept sorted by every operation */
    return build(b->a, b->p, b->n);
}

/* ------------------------------------------------------------ map */

typedef struct lmap_entry {
    const am_lset *k;
    void *v;
} lmap_entry;

static void *lmap_alloc(void *arena, size_t n)
{
    return am__arena_alloc(arena, n);
}

void am__lmap_init(am_lmap *m, am_arena *a, size_t hint)
{
    *m = (am__map){.first_cap = 16, .alloc = lmap_alloc, .alloc_ud = a};
    (void)am__map_reserve(m, hint ? hint : 1); /* else the first put grows it */
}

static lmap_entry *lmap_find(const am_lmap *m, const am_lset *k)
{
    size_t i = AM__MAP_PROBE_START;
    for (am__map_slot *sl; (sl = am__map_probe(m, k->hash, &i));) {
        lmap_entry *e = sl->val;
        if (am__labels_equal(e->k, k))
            return e;
    }
    return NULL;
}

void **am__lmap_put(am_lmap *m, const am_lset *k, bool *found)
{
    *found = false;
    if ((m->n + 1) * 2 > m->cap && am__map_reserve(m, m->n + 1))
        return NULL;
    size_t i = AM__MAP_PROBE_START;
    for (am__map_slot *sl; (sl = am__map_probe(m, k->hash, &i));) {
        lmap_entry *e = sl->val;
        if (am__labels_equal(e->k, k)) {
            *found = true;
            return &e->v;
        }
    }
    lmap_entry *e = am__arena_alloc(m->alloc_ud, sizeof *e);
    if (!e)
        return NULL;
    *e = (lmap_entry){k, NULL};
    am__map_put_at_h(m, i, k->hash, e);
    return &e->v;
}

void *am__lmap_get(const am_lmap *m, const am_lset *k)
{
    lmap_entry *e = lmap_find(m, k);
    return e ? e->v : NULL;
}

void am__labels_json_pairs(am_buf *b, const am_label *p, size_t n)
{
    am_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            am_buf_putc(b, ',');
        am__buf_json_string(b, p[i].name, strlen(p[i].name));
        am_buf_putc(b, ':');
        am__buf_json_string(b, p[i].value, strlen(p[i].value));
    }
    am_buf_putc(b, '}');
}

void am__labels_json(am_buf *b, const am_lset *l)
{
    am__labels_json_pairs(b, l ? l->l : NULL, l ? l->n : 0);
}
