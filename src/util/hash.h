/*
** hash.h: the one hash function and the one hash map of agentmon.
**
** am__hash64 mixes eight bytes at a time with a multiply and a shift (the
** finalizer constants of MurmurHash3 and of David Stafford's "mix13"),
** seeded so that a table keyed by text an attacker sends (StatsD names,
** label values) can be given a per-process seed. Never 0: 0 may mean
** "empty" in a table.
**
** am__fnv1a64 is FNV-1a, 64 bits, byte at a time: slower, but its values
** are fixed by its definition, so it is the hash of whatever outlives the
** process or shows: Alertmanager's label-set fingerprint, alert group keys
** and notification-log keys (stored), query cursors (held by clients), and
** the tables whose walk order reaches an output (rollup rows, alert state).
** Chain it by passing the previous value as h; start from AM_FNV1A64_INIT.
** Nothing else hashes bytes by hand (core/family.c's label hash aside: the
** hot path's own, word at a time with overlapping tail loads).
**
** am__map maps byte strings to pointers: open addressing with linear
** probing, at most half full, keys compared by hash then bytes. Keys are
** copied, or borrowed when the owner sets is_key_borrowed before the first
** put (the key lives in the value, as a message's id does, and stays put
** while the entry is in the map: no allocation per entry). Removal shifts
** the entries after the hole back (no tombstones), so a map that churns
** (messages, reservations) never fills with the dead. The layout -- and so
** the order am__map_next walks -- depends only on the hashes, first_cap and
** the order of puts and removals, never on addresses: with am__fnv1a64 the
** walk is the same in every run, and a table whose walk reaches an output
** may use it. It has no lock: its owner's lock guards it.
**
** Hash-keyed entries (am__map_put_h and the calls ending _h) have no key
** bytes: the 64-bit hash is the key. A map of integers whose hash is a
** bijection of them (a serial times an odd constant, a fingerprint, a set
** of value hashes) needs nothing more, and its hot calls are inline below
** (one compare a probe, no key to load, no allocation). A map whose keys
** are structures (label sets, a sink's values) stores hash-keyed entries
** too, several per hash if need be, and tells them apart itself: it walks
** the entries of one hash with am__map_probe, comparing their values, and
** removes the one it found with am__map_remove. A map holds hash-keyed
** entries or byte keys, never both. With alloc set, tables come from it
** (an arena) and are never freed by the map (a grown map leaves its old
** table to the arena); keys are then borrowed or hash-keyed.
*/
#ifndef AM_UTIL_HASH_H
#define AM_UTIL_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/common.h"

/* A 64-bit hash of p[0..n) under seed; never 0. */
uint64_t am__hash64(uint64_t seed, const void *p, size_t n);

/* FNV-1a 64 of p[0..n) continuing from h (AM_FNV1A64_INIT to start). */
#define AM_FNV1A64_INIT 0xcbf29ce484222325ull
uint64_t am__fnv1a64(uint64_t h, const void *p, size_t n);

typedef struct am__map_slot {
    uint64_t hash;
    const char *key; /* NULL: empty */
    size_t klen;
    void *val;
} am__map_slot;

typedef struct am__map {
    am__map_slot *s;
    size_t cap, n;                      /* cap a power of two, or 0 */
    size_t first_cap;                   /* the first table's slots (0: 64); a power of two */
    bool is_key_borrowed;               /* keys are the caller's, not copied (see above) */
    void *(*alloc)(void *ud, size_t n); /* tables: NULL the heap; else never freed */
    void *alloc_ud;
} am__map;

/* The key of every hash-keyed entry (its klen is 0). */
extern const char am__map_hkey[1];

/* The value of key (hash h, the same function for every call on a map),
   or NULL. */
void *am__map_find(const am__map *m, uint64_t h, const void *key, size_t klen);

/* The slot holding key, or NULL. Its val may be replaced, and a borrowed
   key pointed at other bytes equal to it (the new value's own copy). */
am__map_slot *am__map_at(const am__map *m, uint64_t h, const void *key, size_t klen);

/* Insert key (copied unless borrowed) -> val: AM_OK; AM_EEXIST when key
   is there already, AM_ENOMEM (nothing changed either way). */
am_err am__map_put(am__map *m, uint64_t h, const void *key, size_t klen, void *val);

/* Make room for n entries in all, so the puts up to n cannot fail. AM_OK
   or AM_ENOMEM (nothing changed). */
am_err am__map_reserve(am__map *m, size_t n);

/* Remove key; its value, or NULL when it was not there. */
void *am__map_del(am__map *m, uint64_t h, const void *key, size_t klen);

/* The occupied slot at or after *i (start from 0), *i moved past it; NULL
   at the end. Puts and removals during a walk may move entries. */
am__map_slot *am__map_next(const am__map *m, size_t *i);

/* Remove the entry at s (a slot am__map_at, am__map_probe or am__map_next
   gave, still in place); its key freed unless borrowed. Entries after it
   may move (backward shift): a walk continues from the index after s,
   as after am__map_del. */
void am__map_remove(am__map *m, am__map_slot *s);

/* Insert a hash-keyed entry h -> val, without looking for another of h
   (a map that keys by h alone looks first: am__map_find_h). AM_OK or
   AM_ENOMEM (nothing changed). */
static inline am_err am__map_put_h(am__map *m, uint64_t h, void *val)
{
    if ((m->n + 1) * 2 > m->cap && am__map_reserve(m, m->n + 1))
        return AM_ENOMEM;
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->s[i].key)
        i = (i + 1) & mask;
    m->s[i] = (am__map_slot){h, am__map_hkey, 0, val};
    m->n++;
    m->is_key_borrowed = true; /* no key of this map is its own to free */
    return AM_OK;
}

/* The next entry of hash h on h's probe path, from *i (start from
   AM__MAP_PROBE_START), *i moved past it; NULL when there is no more, *i
   then the empty slot that ends the path (see am__map_put_at_h). */
#define AM__MAP_PROBE_START SIZE_MAX
static inline am__map_slot *am__map_probe(const am__map *m, uint64_t h, size_t *i)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    size_t j = *i == AM__MAP_PROBE_START ? (size_t)h & mask : *i;
    for (;; j = (j + 1) & mask) {
        am__map_slot *s = &m->s[j];
        if (!s->key) {
            *i = j;
            return NULL;
        }
        if (s->hash == h) {
            *i = (j + 1) & mask;
            return s;
        }
    }
}

/* A hash-keyed entry h -> val in slot i, where a probe for h just ended
   (am__map_probe returned NULL), with room made before it
   (am__map_reserve(m, m->n + 1)): one probe for a look-up and insert. */
static inline void am__map_put_at_h(am__map *m, size_t i, uint64_t h, void *val)
{
    m->s[i] = (am__map_slot){h, am__map_hkey, 0, val};
    m->n++;
    m->is_key_borrowed = true;
}

/* The slot of the hash-keyed entry h (the first, if several), or NULL. */
static inline am__map_slot *am__map_at_h(const am__map *m, uint64_t h)
{
    size_t i = AM__MAP_PROBE_START;
    return am__map_probe(m, h, &i);
}

/* The value of the hash-keyed entry h, or NULL. */
static inline void *am__map_find_h(const am__map *m, uint64_t h)
{
    am__map_slot *s = am__map_at_h(m, h);
    return s ? s->val : NULL;
}

/* Remove the hash-keyed entry h; its value, or NULL when not there. */
static inline void *am__map_del_h(am__map *m, uint64_t h)
{
    am__map_slot *s = am__map_at_h(m, h);
    if (!s)
        return NULL;
    void *val = s->val;
    size_t next = ((size_t)(s - m->s) + 1) & (m->cap - 1);
    if (m->s[next].key) { /* a run goes on after it: shift it back */
        am__map_remove(m, s);
    } else { /* the end of a run (most often at half full): no shift */
        s->key = NULL;
        m->n--;
    }
    return val;
}

/* Empty the map, keeping its table; the values are the caller's. */
void am__map_clear(am__map *m);

/* Empty it and free its table. */
void am__map_free(am__map *m);

#endif
