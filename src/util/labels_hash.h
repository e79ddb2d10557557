/*
** labels_hash.h: the hash of a label set's values, as core/family.c keys
** its children by it (am_child.hash) and the alerting engine keys series.
**
** Inline here so the hot path (am_counter_with's lookup) keeps it in its
** own translation unit, and so the program's code (src/alert) hashes label
** sets with the same function, giving the same values, without a call into
** the library's internals. Word at a time; the tail is read with
** overlapping loads rather than byte by byte.
*/
#ifndef AM_UTIL_LABELS_HASH_H
#define AM_UTIL_LABELS_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t am__labels_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static inline uint64_t am__labels_load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t am__labels_load4(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* Word-at-a-time; the tail is read with overlapping loads rather than a
   byte-by-byte copy, which the compiler cannot turn into one load. */
static inline uint64_t am__labels_hash_bytes(uint64_t h, const char *s, size_t len)
{
    size_t n = len;
    for (; n > 8; s += 8, n -= 8) {
        h = (h ^ am__labels_load8(s)) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    uint64_t w;
    if (len >= 8)
        w = am__labels_load8(s + n - 8);
    else if (n >= 4)
        w = am__labels_load4(s) | am__labels_load4(s + n - 4) << 32;
    else if (n > 0)
        w = (uint64_t)(uint8_t)s[0] | (uint64_t)(uint8_t)s[n / 2] << 8 |
            (uint64_t)(uint8_t)s[n - 1] << 16;
    else
        w = 0;
    h = (h ^ w ^ ((uint64_t)len << 56)) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 31);
}

static inline uint32_t am__labels_hash(const char *const *values, size_t n, size_t *lens)
{
    uint64_t h = 0x243F6A8885A308D3ULL;
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(values[i]);
        h = am__labels_hash_bytes(h + i, values[i], lens[i]);
    }
    return (uint32_t)am__labels_mix(h);
}

#endif
