/*
** coord_redis_slot.c: where the Redis coordinator's keys live -- Redis
** Cluster's hash slot of a key, the bucket of an agent's (or a message
** id's) name, and the hash tag that puts a bucket's keys in one slot.
**
** DESIGN
** Every agent belongs to one of 64 buckets, a hash of its name that the
** scripts compute too (common.lua's lens_key: the bytes as a polynomial
** in 31 modulo the prime 1000003, then the top six bits of Knuth's
** multiplicative hash). On a standalone server the bucket only says which
** hash <prefix>:lens:<n> holds the agent's line. On a Redis Cluster it
** also says where all the agent's keys are: each carries the bucket's
** hash tag, "<prefix>:{<tag>}:...", so its queues, delayed set,
** reservations, DLQ, messages, signal list and its line are in one slot,
** and every script, which works on one agent (or on agents of one
** bucket), touches one slot -- which Redis checks: on a cluster the
** scripts carry the "#!lua" shebang, under which a script that reaches
** into a second slot fails.
**
** The tags are chosen, not hashed: bucket n's is "<n>.<k>" for the
** smallest k whose slot lies in [256 n, 256 n + 256). So the 64 buckets
** are 64 evenly spaced slots, and a cluster whose masters hold slot
** ranges in proportion (as redis-cli --cluster create and rebalance make
** them) holds buckets in the same proportion: 21, 21 and 22 of them on
** three masters, where 64 tags hashed at random would give some master
** a third more than another. The search is ~64 CRC16s per bucket, done
** once per process (am__redis_bucket_tag caches nothing: its callers
** keep the result).
**
** CRC16 is XMODEM's (polynomial 0x1021, initial 0), which Redis Cluster
** specifies: CRC16("123456789") = 0x31C3.
**
** Threading: none; pure functions. Ownership: nothing is allocated.
*/
#include <stdio.h>
#include <string.h>

#include "coord_redis.h"

unsigned am__redis_crc16(const char *s, size_t n)
{
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)(unsigned char)s[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? (crc << 1 ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

int am__redis_key_slot(const char *k, size_t n)
{
    const char *open = memchr(k, '{', n);
    if (open) {
        size_t from = (size_t)(open - k) + 1;
        const char *close = memchr(open + 1, '}', n - from);
        if (close && close > open + 1)
            return (int)(am__redis_crc16(open + 1, (size_t)(close - open - 1)) % AM__REDIS_SLOTS);
    }
    return (int)(am__redis_crc16(k, n) % AM__REDIS_SLOTS);
}

uint64_t am__redis_name_hash(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h * 31 + (unsigned char)s[i]) % 1000003;
    return h;
}

int am__redis_hash_bucket(uint64_t h)
{
    return (int)(h * 2654435761u % 4294967296u / 67108864u);
}

int am__redis_bucket(const char *name, size_t n)
{
    return am__redis_hash_bucket(am__redis_name_hash(0, name, n));
}

void am__redis_bucket_tag(int n, char out[AM__REDIS_TAG_MAX], int *slot)
{
    int per = AM__REDIS_SLOTS / AM__REDIS_BUCKETS;
    n = n >= 0 && n < AM__REDIS_BUCKETS ? n : 0;
    for (unsigned k = 0;; k++) {
        int len = snprintf(out, AM__REDIS_TAG_MAX, "%d.%u", n, k);
        int s = am__redis_key_slot(out, (size_t)len);
        if (s / per == n) {
            if (slot)
                *slot = s;
            return;
        }
    }
}
