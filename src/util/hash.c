/*
** hash.c: am__hash64, am__fnv1a64 and am__map (see hash.h).
**
** The map keeps its slots at most half full, so a probe ends within a few
** slots on any input the hash spreads; growth rehashes from the stored
** hashes without rereading keys. Keys are copied into their own
** allocation, values are borrowed.
*/
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "hash.h"

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

void *am__map_find(const am__map *m, uint64_t h, const void *key, size_t klen)
{
    if (!m->cap)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const am__map_slot *s = &m->s[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->klen == klen && !memcmp(s->key, key, klen))
            return s->val;
    }
}

static am_err grow(am__map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    am__map_slot *s = am__calloc(cap, sizeof *s);
    if (!s)
        return am__err(AM_ENOMEM, "out of memory growing a hash map");
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->s[i].key)
            continue;
        size_t j = m->s[i].hash & (cap - 1);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = m->s[i];
    }
    am__free(m->s);
    m->s = s;
    m->cap = cap;
    return AM_OK;
}

am_err am__map_put(am__map *m, uint64_t h, const void *key, size_t klen, void *val)
{
    if ((m->n + 1) * 2 > m->cap && grow(m))
        return AM_ENOMEM;
    char *k = am__malloc(klen ? klen : 1);
    if (!k)
        return am__err(AM_ENOMEM, "out of memory adding to a hash map");
    memcpy(k, key, klen);
    size_t i = h & (m->cap - 1);
    while (m->s[i].key)
        i = (i + 1) & (m->cap - 1);
    m->s[i] = (am__map_slot){h, k, klen, val};
    m->n++;
    return AM_OK;
}

void am__map_clear(am__map *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        am__free(m->s[i].key);
        m->s[i].key = NULL;
    }
    m->n = 0;
}

void am__map_free(am__map *m)
{
    am__map_clear(m);
    am__free(m->s);
    m->s = NULL;
    m->cap = 0;
}
