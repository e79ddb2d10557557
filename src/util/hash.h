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
    size_t cap, n;        /* cap a power of two, or 0 */
    size_t first_cap;     /* the first table's slots (0: 64); a power of two */
    bool is_key_borrowed; /* keys are the caller's, not copied (see above) */
} am__map;

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

/* Empty the map, keeping its table; the values are the caller's. */
void am__map_clear(am__map *m);

/* Empty it and free its table. */
void am__map_free(am__map *m);

#endif
