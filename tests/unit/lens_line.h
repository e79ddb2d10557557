/*
** lens_line.h: the per-agent lengths line of the Redis coordinator, as
** the tests write and read it themselves -- independently of the library's
** parser (src/coord/coord_redis_parse.c), from the format that
** src/coord/lua/lib_lens.lua documents: "<agent> " then
** struct.pack(">I4I4I4I4I4I4dddd", q1, q5, q9, delayed, inflight, dlq, h1,
** h5, h9, next), heads and next -1 for none and heads -2 for not known.
** Used by the unit tests (to write damaged lines by hand) and by
** tests/integration/coord_worker.c (the referee that compares every line
** with its keys).
*/
#ifndef AM_TEST_LENS_LINE_H
#define AM_TEST_LENS_LINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LL_BYTES 56
#define LL_NONE (-1.0)
#define LL_UNKNOWN (-2.0)

typedef struct ll_line {
    uint32_t counts[6]; /* q1 q5 q9 delayed inflight dlq */
    double heads[3];    /* enqueued_at of each queue's head, LL_NONE, LL_UNKNOWN */
    double next;        /* LL_NONE or a time */
} ll_line;

/* Write agent's line into out (room for 129 + 1 + LL_BYTES); its length. */
static inline size_t ll_encode(char *out, const char *agent, const ll_line *l)
{
    size_t n = strlen(agent);
    memcpy(out, agent, n);
    unsigned char *p = (unsigned char *)out + n;
    *p++ = ' ';
    for (int i = 0; i < 6; i++, p += 4) {
        p[0] = (unsigned char)(l->counts[i] >> 24);
        p[1] = (unsigned char)(l->counts[i] >> 16);
        p[2] = (unsigned char)(l->counts[i] >> 8);
        p[3] = (unsigned char)l->counts[i];
    }
    const double d[4] = {l->heads[0], l->heads[1], l->heads[2], l->next};
    for (int i = 0; i < 4; i++, p += 8) {
        uint64_t u;
        memcpy(&u, &d[i], 8);
        for (int k = 0; k < 8; k++)
            p[k] = (unsigned char)(u >> (56 - 8 * k));
    }
    return n + 1 + LL_BYTES;
}

/* Read a line (len bytes): its agent into agent (room for 129), the rest
   into l; false when it is not one. */
static inline bool ll_decode(const char *s, size_t len, char *agent, ll_line *l)
{
    const char *sp = memchr(s, ' ', len);
    if (!sp || sp == s || (size_t)(sp - s) > 128 || len - (size_t)(sp - s) - 1 != LL_BYTES)
        return false;
    snprintf(agent, 129, "%.*s", (int)(sp - s), s);
    const unsigned char *p = (const unsigned char *)sp + 1;
    for (int i = 0; i < 6; i++, p += 4)
        l->counts[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    double d[4];
    for (int i = 0; i < 4; i++, p += 8) {
        uint64_t u = 0;
        for (int k = 0; k < 8; k++)
            u = u << 8 | p[k];
        memcpy(&d[i], &u, 8);
    }
    memcpy(l->heads, d, sizeof l->heads);
    l->next = d[3];
    return true;
}

#endif
