/*
** chunk.h: compressed runs of samples, Gorilla style, as Prometheus' TSDB
** stores them (its "XOR" chunk encoding).
**
** A chunk holds up to AM_CHUNK_SAMPLES samples of one series in time order:
** the first timestamp as a varint and value as 64 bits, the second
** timestamp as a varint delta, then delta-of-delta timestamps in 1, 16, 20,
** 24 or 68 bits and each value XORed with the one before it (1 bit when
** unchanged, else the meaningful bits, reusing the previous window of
** leading and trailing zeros when it fits). A regular scrape of a slowly
** moving value costs about 1.3 bytes per sample.
**
** The appender's state (previous timestamp, delta, value bits, window)
** lives beside the chunk in am_chunk_app, held by the series, so a closed
** chunk is just its bytes. Chunks are not thread-safe by themselves: the
** window (tsdb.c) serialises appends against reads.
*/
#ifndef AM_ALERT_CHUNK_H
#define AM_ALERT_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AM_CHUNK_SAMPLES 120

typedef struct am_chunk {
    int64_t mint;
    int64_t maxt;
    uint32_t n;     /* samples */
    uint32_t nbits; /* bits written */
    uint32_t cap;   /* bytes of data allocated */
    uint8_t data[];
} am_chunk;

typedef struct am_chunk_app {
    int64_t t;
    int64_t tdelta;
    uint64_t vbits;
    uint8_t leading; /* 0xff: no window yet */
    uint8_t trailing;
} am_chunk_app;

/* A new empty chunk (heap); NULL when memory runs out. */
am_chunk *am__chunk_new(void);
void am__chunk_free(am_chunk *c);

/*
** Append (t, v) to *c, t greater than the last timestamp. *c may move
** (it grows in place with realloc). false when memory runs out; then *c
** and st are unchanged.
*/
bool am__chunk_append(am_chunk **c, am_chunk_app *st, int64_t t, double v);

/* Give back the unused tail of a chunk that is full. */
void am__chunk_shrink(am_chunk **c);

/* Bytes the chunk takes in memory: header and allocated data. */
static inline size_t am__chunk_mem(const am_chunk *c)
{
    return sizeof *c + c->cap;
}

typedef struct am_chunk_it {
    const am_chunk *c;
    uint32_t pos; /* next bit */
    uint32_t i;   /* samples read */
    int64_t t;
    int64_t tdelta;
    uint64_t vbits;
    uint8_t leading;
    uint8_t trailing;
} am_chunk_it;

void am__chunk_it_init(am_chunk_it *it, const am_chunk *c);
/* The next sample, or false at the end (or on a corrupt chunk). */
bool am__chunk_it_next(am_chunk_it *it, int64_t *t, double *v);

#endif
