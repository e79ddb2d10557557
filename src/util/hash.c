/*
** hash.c: am__hash64, am__fnv1a64 and am__map (see hash.h).
**
** The map keeps its slots at most half full, so a probe ends within a few
** slots on any input the hash spreads; growth rehashes from the stored
** hashes without rereading keys. Keys are copied into their own
** allocation (or borrowed, is_key_borrowed), values are borrowed. Removal
** is Knuth's algorithm R (backward shift), so no slot is ever a tombstone.
*/
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "hash.h"

const char am__map_hkey[1] = "";

uint64_t am__hash64(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h ? h : 1;
}

uint64_t am__fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

/* Keys of one or two words (fingerprints, message ids) compare as two
   loads each, overlapping for lengths between, rather than through a call
   to memcmp. */
static inline uint64_t load8(const void *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline bool key_eq(const char *a, const void *b, size_t n)
{
    const char *c = b;
    if (n - 8 <= 8) /* 8 to 16 bytes: one compare for the rest */
        return ((load8(a) ^ load8(c)) | (load8(a + n - 8) ^ load8(c + n - 8))) == 0;
    return !memcmp(a, b, n);
}

/* The index of key's slot, or SIZE_MAX. */
static inline __attribute__((always_inline)) size_t index_of(const am__map *m, uint64_t h,
                                                             const void *key, size_t klen)
{
    if (!m->cap)
        return SIZE_MAX;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const am__map_slot *s = &m->s[i];
        if (!s->key)
            return SIZE_MAX;
        if (s->hash == h && s->klen == klen && key_eq(s->key, key, klen))
            return i;
    }
}

void *am__map_find(const am__map *m, uint64_t h, const void *key, size_t klen)
{
    size_t i = index_of(m, h, key, klen);
    return i == SIZE_MAX ? NULL : m->s[i].val;
}

am__map_slot *am__map_at(const am__map *m, uint64_t h, const void *key, size_t klen)
{
    size_t i = index_of(m, h, key, klen);
    return i == SIZE_MAX ? NULL : &m->s[i];
}

/* Rehash into cap slots, walking the old table in order (so the layout
   follows from the puts alone). */
static am_err grow_to(am__map *m, size_t cap)
{
    /* only the keys need be empty (a slot's other fields are read only
       under a key), so a table is not zeroed whole */
    am__map_slot *s = NULL;
    if (cap <= SIZE_MAX / sizeof *s)
        s = m->alloc ? m->alloc(m->alloc_ud, cap * sizeof *s) : am__malloc(cap * sizeof *s);
    if (!s)
        return am__err(AM_ENOMEM, "out of memory growing a hash map");
    for (size_t i = 0; i < cap; i++)
        s[i].key = NULL;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->s[i].key)
            continue;
        size_t j = m->s[i].hash & (cap - 1);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = m->s[i];
    }
    if (!m->alloc)
        am__free(m->s);
    m->s = s;
    m->cap = cap;
    return AM_OK;
}

am_err am__map_reserve(am__map *m, size_t n)
{
    if (n * 2 <= m->cap)
        return AM_OK;
    size_t cap = m->cap ? m->cap * 2 : m->first_cap ? m->first_cap : 64;
    while (n * 2 > cap)
        cap *= 2;
    return grow_to(m, cap);
}

am_err am__map_put(am__map *m, uint64_t h, const void *key, size_t klen, void *val)
{
    /* one probe finds the key or the empty slot it would take */
    size_t i = SIZE_MAX;
    if (m->cap) {
        for (i = h & (m->cap - 1); m->s[i].key; i = (i + 1) & (m->cap - 1))
            if (m->s[i].hash == h && m->s[i].klen == klen && key_eq(m->s[i].key, key, klen))
                return am__err(AM_EEXIST, "the key is in the hash map already");
    }
    if ((m->n + 1) * 2 > m->cap) {
        if (am__map_reserve(m, m->n + 1))
            return AM_ENOMEM;
        for (i = h & (m->cap - 1); m->s[i].key; i = (i + 1) & (m->cap - 1))
            ;
    }
    const char *k = key;
    if (!m->is_key_borrowed) {
        char *copy = am__malloc(klen ? klen : 1);
        if (!copy)
            return am__err(AM_ENOMEM, "out of memory adding to a hash map");
        memcpy(copy, key, klen);
        k = copy;
    } else if (!k) {
        k = ""; /* an empty key still marks its slot taken */
    }
    m->s[i] = (am__map_slot){h, k, klen, val};
    m->n++;
    return AM_OK;
}

static void key_free(const am__map *m, const char *k)
{
    if (!m->is_key_borrowed && k != am__map_hkey)
        am__free((void *)(uintptr_t)k);
}

void *am__map_del(am__map *m, uint64_t h, const void *key, size_t klen)
{
    size_t i = index_of(m, h, key, klen);
    if (i == SIZE_MAX)
        return NULL;
    void *val = m->s[i].val;
    am__map_remove(m, &m->s[i]);
    return val;
}

void am__map_remove(am__map *m, am__map_slot *at)
{
    size_t i = (size_t)(at - m->s);
    key_free(m, at->key);
    /* Backward shift: an entry after the hole moves into it unless its home
       lies cyclically in (hole, entry], where a probe from it still meets
       it without crossing the hole. */
    size_t mask = m->cap - 1;
    for (size_t j = (i + 1) & mask; m->s[j].key; j = (j + 1) & mask) {
        size_t home = m->s[j].hash & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        m->s[i] = m->s[j];
        i = j;
    }
    m->s[i] = (am__map_slot){0};
    m->n--;
}

am__map_slot *am__map_next(const am__map *m, size_t *i)
{
    for (; *i < m->cap; (*i)++)
        if (m->s[*i].key)
            return &m->s[(*i)++];
    return NULL;
}

/* Free the copied keys (a map of borrowed keys or hash-keyed entries has
   none: no walk). */
static void keys_free(am__map *m)
{
    if (m->is_key_borrowed || !m->n)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->s[i].key)
            key_free(m, m->s[i].key);
}

void am__map_clear(am__map *m)
{
    keys_free(m);
    for (size_t i = 0; i < m->cap; i++)
        m->s[i].key = NULL;
    m->n = 0;
}

void am__map_free(am__map *m)
{
    keys_free(m);
    if (!m->alloc)
        am__free(m->s);
    m->s = NULL;
    m->cap = 0;
    m->n = 0;
}
