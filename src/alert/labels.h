/*
** labels.h: label sets, as PromQL sees series: sorted name/value pairs.
**
** A label set is one block: a header, n pairs sorted by name (no empty
** values, no name twice) and, behind them, the strings the pairs point to.
** It is immutable once built and carries a hash of its pairs, so maps keyed
** by label sets (series lookup, aggregation groups, vector matching)
** compare hashes first and pairs only on a hit. Sets are built in an
** arena (a query's temporaries) or on the heap (the window's series,
** alerts) and copied between the two.
*/
#ifndef AM_ALERT_LABELS_H
#define AM_ALERT_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/hash.h"
#include "arena.h"

typedef struct am_label {
    const char *name;
    const char *value;
} am_label;

typedef struct am_lset {
    uint32_t n;
    uint32_t hash;
    am_label l[];
} am_lset;

/* The empty set, {}. */
extern const am_lset am__labels_empty;

/*
** Build a set from pairs[0..n): sorted here (pairs is reordered), pairs with
** an empty value dropped, strings copied. A name given twice keeps the last
** pair given (callers that must refuse duplicates check first with
** am__labels_dup). In arena a, or on the heap when a is NULL (NULL when
** memory runs out; free with am__labels_free).
*/
am_lset *am__labels_new(am_arena *a, am_label *pairs, size_t n);
am_lset *am__labels_copy(am_arena *a, const am_lset *l);
void am__labels_free(am_lset *l);

/* The name that pairs[0..n) hold twice, or NULL. Reorders pairs. */
const char *am__labels_dup(am_label *pairs, size_t n);

/* The value of name, or NULL when the set lacks it. */
const char *am__labels_get(const am_lset *l, const char *name);
/* The value of name, or "" (Go's labels.Get). */
const char *am__labels_val(const am_lset *l, const char *name);

/* Prometheus' labels.Compare: pair by pair, name then value; then length. */
int am__labels_cmp(const am_lset *a, const am_lset *b);
bool am__labels_equal(const am_lset *a, const am_lset *b);

/* The pairs as a JSON object, {"name":"value",...} in their order: the
   shape of labels and annotations in every JSON agentmon writes. */
void am__labels_json_pairs(am_buf *b, const am_label *p, size_t n);
/* A set as that object; NULL is {}. */
void am__labels_json(am_buf *b, const am_lset *l);

/* Bytes the set takes (header, pairs and strings). */
size_t am__labels_size(const am_lset *l);

/* {a="1", b="2"} with Go's strconv.Quote for values (labels.String()). */
void am__labels_fmt(am_buf *b, const am_lset *l);

/*
** A builder: a set being changed (Prometheus' labels.Builder). Pairs are
** borrowed from their source until am__lb_labels() copies them.
*/
typedef struct am_lbuild {
    am_arena *a;
    am_label *p;
    size_t n;
    size_t cap;
} am_lbuild;

void am__lb_init(am_lbuild *b, am_arena *a, const am_lset *from);
void am__lb_reset(am_lbuild *b, const am_lset *from);
/* Set name to value; an empty value deletes. Strings are borrowed. */
void am__lb_set(am_lbuild *b, const char *name, const char *value);
void am__lb_del(am_lbuild *b, const char *name);
/* Keep only the given names. */
void am__lb_keep(am_lbuild *b, char *const *names, size_t n);
am_lset *am__lb_labels(am_lbuild *b);

/*
** A hash map from label sets (borrowed; must outlive the map) to pointers,
** in an arena. am__lmap_put returns the value slot, *found telling
** whether the key was there. An am__map (util/hash.h) whose table and
** entries live in the arena, so it is never freed on its own.
*/
/* hash-keyed by the sets' hashes; values are entries in the arena (its alloc_ud) */
typedef am__map am_lmap;

void am__lmap_init(am_lmap *m, am_arena *a, size_t hint);
void **am__lmap_put(am_lmap *m, const am_lset *k, bool *found);
void *am__lmap_get(const am_lmap *m, const am_lset *k);

/* [a-zA-Z_][a-zA-Z0-9_]*: a label name as PromQL and rule files take it
   (names starting with "__" included), and [a-zA-Z_:][a-zA-Z0-9_:]*: a
   metric name. */
bool am__label_name_ok(const char *s);
bool am__metric_name_ok(const char *s);

/* A set as given -- order kept, empty values kept, no hash: annotations
   and promtool's expected labels. Arena a, or the heap when NULL. */
am_lset *am__labels_raw(am_arena *a, const am_label *pairs, size_t n);

/* The hash of pairs[0..n) (already sorted), as am_lset.hash holds it. */
uint32_t am__labels_hash_pairs(const am_label *pairs, size_t n);

#endif
