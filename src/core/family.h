/*
** family.h: metric families and their children (the series).
**
** A family is a definition (type, name, help, unit, label names, buckets or
** states) plus its children. A child is one label set: its label values, the
** label text pre-rendered for exposition (name="escaped",...), and where its
** value lives: a run of cells for counters and histograms, an atomic word in
** the child for gauges and statesets. Public handles (am_counter *, ...) are
** pointers to children; am_<type>_new() hands out the family's root child.
*/
#ifndef AM_CORE_FAMILY_H
#define AM_CORE_FAMILY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agentmon/metrics.h"
#include "ebr.h"

typedef struct am_family am_family;
typedef struct am_child am_child;
typedef struct am_childtab am_childtab;
typedef struct am_exemplars am_exemplars;

struct am_child {
    am_retired rt; /* EBR node, used once removed */
    am_family *fam;
    uint32_t slot; /* first cell (counter, histogram) */
    uint32_t hash; /* of the label values */
    union {
        _Atomic double g;      /* gauge value */
        _Atomic uint64_t bits; /* stateset: bit i = state i */
    } v;
    am_exemplars *_Atomic ex; /* allocated on the first exemplar */
    double created;           /* unix seconds */
    am_child *next, *prev;    /* family's insertion-order list */
    uint32_t n_values;        /* strings in data: label values (info: name, value pairs) */
    uint32_t values_len;      /* bytes of those NUL-terminated strings */
    uint32_t labels_len;      /* bytes of the rendered labels that follow */
    char data[];
};

/* am_family.flags beyond the public AM_METRIC_* ones: the family's
   children are not counted against the registry's series bound (the
   overflow counter, whose children are bounded by the families) */
#define AM__FAMILY_UNBUDGETED 0x80000000u
/* a sibling: a family of another's name and shape with other label names,
   exposed as part of it (StatsD lines of one name with other tag keys) */
#define AM__FAMILY_SIBLING 0x40000000u
/* siblings may be added to it (public: AM_METRIC_SIBLINGS) */
#define AM__FAMILY_SIBLINGS AM_METRIC_SIBLINGS

struct am_family {
    am_registry *reg;
    am_metric_type type;
    char *name; /* base name: no _total (counter), no _info (info) */
    size_t name_len;
    char *help;
    char *unit;      /* NULL when none */
    char *json_name; /* NULL: use name */
    char **label_names;
    size_t n_labels;
    double *bounds; /* histogram: finite upper bounds */
    char (*le)[32]; /* the bounds as le label text, formatted once */
    size_t n_bounds;
    char **states; /* stateset */
    size_t n_states;
    size_t max_children;
    unsigned flags;
    uint32_t n_cells;      /* cells per child: 0, 2 (counter) or n_bounds + 2 */
    am_collect_fn collect; /* callback families */
    void *collect_ud;

    pthread_mutex_t lock;     /* child creation/removal, and encoders' walks */
    am_childtab *_Atomic tab; /* label values -> child, read lock-free */
    size_t n_children;        /* in tab */
    am_child *head, *tail;    /* exposed children of a labelled family */
    am_child *_Atomic root;   /* the handle am_<type>_new returns */
    am_child *overflow;       /* target of label sets past max_children */
};

#define AM_CHILD(h) ((am_child *)(h))

/* Whether f's exposed series are its listed children (else: its root). */
static inline bool am__family_listed(const am_family *f)
{
    return f->n_labels > 0 || f->type == AM_TYPE_INFO;
}

static inline const char *am__child_labels(const am_child *c)
{
    return c->data + c->values_len;
}

/*
** Build a family from options (validated; names normalised) without
** registering it; collect is non-NULL for callback families.
** Returns AM_OK, AM_EINVAL or AM_ENOMEM.
*/
am_err am__family_new(am_metric_type type, const am_metric_opts *o, am_collect_fn collect,
                      void *collect_ud, am_family **out);

/* Free a family and all its children at once; nothing may still use it. */
void am__family_free(am_family *f);

/* Whether two families have the same definition (type, name, labels, ...). */
bool am__family_same(const am_family *a, const am_family *b);
/* The same but for the label names: one exposed family, series of both
   (siblings, or one name in two registries). */
bool am__family_same_shape(const am_family *a, const am_family *b);
/* The same label names, in the same order. */
bool am__family_same_labels(const am_family *a, const am_family *b);

/* Whether f exposes a sample or family called x (e.g. "foo_total"). */
bool am__family_occupies(const am_family *f, const char *x);

/* The name f is exposed under in Prometheus text (foo_total, foo_info). */
void am__family_expo_name(const am_family *f, char *buf, size_t size);

/* The key of f in the JSON snapshot: json_name, else the exposed name. */
void am__family_json_key(const am_family *f, char *buf, size_t size);

/*
** Resolve label values to a child, creating it if needed; see
** am_counter_with() for the codes. On AM_ELIMIT *out is the overflow child.
*/
am_err am__family_with(am_family *f, const char *const *values, size_t n, am_child **out);

/* The overflow child of labelled family f (made on first use), counted in
   agentmon_cardinality_overflow_total as a label set sent there: for a
   caller's own budget, which the family cannot see. AM_OK, AM_EINVAL (no
   labels) or AM_ENOMEM. Thread-safe. */
am_err am__family_overflow(am_family *f, am_child **out);
am_err am__family_remove(am_family *f, const char *const *values, size_t n);
void am__family_clear(am_family *f);

/* Resolve the family root handle h to its family, checking it is a root of
   the given type; AM_EMISUSE otherwise. */
am_err am__family_of(const void *h, am_metric_type type, am_family **out);

/*
** Build a child holding strings[0..n) (label values, or name/value pairs
** when pairs) rendered against names. Slots are not allocated.
*/
am_child *am__child_build(am_family *f, const char *const *names, const char *const *strings,
                          size_t n, bool pairs);
void am__child_free(am_child *c);

/*
** Whether values (lens[i] = strlen(values[i])) may make a new child of f:
** not the reserved "__overflow__", at most AM_MAX_LABEL_VALUE bytes, valid
** UTF-8. AM_OK or AM_EINVAL naming the label. (The shared-memory registry
** checks its label sets with it too.)
*/
am_err am__values_check(const am_family *f, const char *const *values, const size_t *lens,
                        size_t n);

/* The value every label of an overflow series has. */
#define AM__OVERFLOW_VALUE "__overflow__"

/* am__labels_hash(), the hash of label values stored in am_child.hash:
   util/labels_hash.h. */
#include "../util/labels_hash.h"

#endif
