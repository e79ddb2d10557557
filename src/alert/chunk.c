/*
** chunk.c: Gorilla XOR chunks (chunk.h).
**
** Bits are written most significant first into bytes. Timestamp
** delta-of-delta classes, as in Prometheus' chunkenc/xor.go:
**   0                        '0'
**   [-8191, 8192]            '10'   + 14 bits
**   [-65535, 65536]          '110'  + 17 bits
**   [-524287, 524288]        '1110' + 20 bits
**   anything else            '1111' + 64 bits
** Values: '0' when equal to the previous value; '10' + the meaningful bits
** when they fit the previous window of leading/trailing zeros; '11' + 5
** bits of leading zeros + 6 bits of length (64 written as 0) + the bits.
** The first timestamp is a zigzag varint, the second a varint delta.
*/
#include <string.h>

#include "../util/alloc.h"
#include "chunk.h"

am_chunk *am__chunk_new(void)
{
    am_chunk *c = am__malloc(sizeof *c + 64);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c + 64);
    c->cap = 64;
    return c;
}

void am__chunk_free(am_chunk *c)
{
    am__free(c);
}

/* ------------------------------------------------------------ writing */

typedef struct bitw {
    am_chunk *c;
    uint32_t nbits;
} bitw;

static void put_bits(bitw *w, uint64_t v, unsigned n)
{
    while (n > 0) {
        uint32_t byte = w->nbits >> 3, used = w->nbits & 7, room = 8 - used;
        unsigned take = n < room ? n : room;
        uint8_t bits = (uint8_t)((v >> (n - take)) & ((1u << take) - 1));
        w->c->data[byte] |= (uint8_t)(bits << (room - take));
        w->nbits += take;
        n -= take;
    }
}

static void put_uvarint(bitw *w, uint64_t v)
{
    while (v >= 0x80) {
        put_bits(w, (v & 0x7f) | 0x80, 8);
        v >>= 7;
    }
    put_bits(w, v, 8);
}

static void put_value(bitw *w, am_chunk_app *st, uint64_t vbits)
{
    uint64_t delta = vbits ^ st->vbits;
    if (delta == 0) {
        put_bits(w, 0, 1);
        return;
    }
    put_bits(w, 1, 1);
    unsigned leading = (unsigned)__builtin_clzll(delta),
             trailing = (unsigned)__builtin_ctzll(delta);
    if (leading >= 32)
        leading = 31;
    if (st->leading != 0xff && leading >= st->leading && trailing >= st->trailing) {
        put_bits(w, 0, 1);
        put_bits(w, delta >> st->trailing, 64 - st->leading - st->trailing);
        return;
    }
    st->leading = (uint8_t)leading;
    st->trailing = (uint8_t)trailing;
    unsigned sig = 64 - leading - trailing;
    put_bits(w, 1, 1);
    put_bits(w, leading, 5);
    put_bits(w, sig & 63, 6);
    put_bits(w, delta >> trailing, sig);
}

bool am__chunk_append(am_chunk **cp, am_chunk_app *st, int64_t t, double v)
{
    am_chunk *c = *cp;
    /* the worst case for one sample: 4 + 64 + 2 + 5 + 6 + 64 bits, or two
       10-byte varints + 64 bits for the first two; and the head chunk
       keeps 40 bytes of zeros past its data, so that readers of its newest
       samples -- every rule evaluation -- take the word-at-a-time path */
    if (c->cap - (c->nbits + 7) / 8 < 64) {
        uint32_t cap = c->cap + c->cap / 2 + 64;
        am_chunk *nc = am__realloc(c, sizeof *c + cap);
        if (!nc)
            return false;
        memset(nc->data + nc->cap, 0, cap - nc->cap);
        nc->cap = cap;
        *cp = c = nc;
    }
    uint64_t vbits;
    memcpy(&vbits, &v, sizeof vbits);
    bitw w = {c, c->nbits};
    if (c->n == 0) {
        put_uvarint(&w, ((uint64_t)t << 1) ^ (uint64_t)(t >> 63));
        put_bits(&w, vbits, 64);
        st->tdelta = 0;
        st->leading = 0xff;
        st->trailing = 0;
        c->mint = t;
    } else if (c->n == 1) {
        int64_t d = t - st->t;
        put_uvarint(&w, (uint64_t)d);
        put_value(&w, st, vbits);
        st->tdelta = d;
    } else {
        int64_t d = t - st->t, dod = d - st->tdelta;
        if (dod == 0) {
            put_bits(&w, 0, 1);
        } else if (dod >= -8191 && dod <= 8192) {
            put_bits(&w, 2, 2);
            put_bits(&w, (uint64_t)dod, 14);
        } else if (dod >= -65535 && dod <= 65536) {
            put_bits(&w, 6, 3);
            put_bits(&w, (uint64_t)dod, 17);
        } else if (dod >= -524287 && dod <= 524288) {
            put_bits(&w, 14, 4);
            put_bits(&w, (uint64_t)dod, 20);
        } else {
            put_bits(&w, 15, 4);
            put_bits(&w, (uint64_t)dod, 64);
        }
        put_value(&w, st, vbits);
        st->tdelta = d;
    }
    st->t = t;
    st->vbits = vbits;
    c->nbits = w.nbits;
    c->maxt = t;
    c->n++;
    return true;
}

void am__chunk_shrink(am_chunk **cp)
{
    am_chunk *c = *cp;
    uint32_t need = (c->nbits + 7) / 8;
    if (need >= c->cap)
        return;
    am_chunk *nc = am__realloc(c, sizeof *c + (need ? need : 1));
    if (nc) {
        nc->cap = need ? need : 1;
        *cp = nc;
    }
}

/* ------------------------------------------------------------ reading */

/* Up to 64 bits, most significant first: a word load where the chunk has
   eight bytes left past the position, else byte by byte. */
static inline __attribute__((always_inline)) bool get_bits(am_chunk_it *it, unsigned n,
                                                           uint64_t *out)
{
    if ((uint64_t)it->pos + n > it->c->nbits)
        return false;
    uint32_t byte = it->pos >> 3, used = it->pos & 7;
    if (n <= 56 && byte + 8 <= it->c->cap) {
        uint64_t w;
        memcpy(&w, it->c->data + byte, 8);
        w = __builtin_bswap64(w);
        *out = (w << used) >> (64 - n);
        it->pos += n;
        return true;
    }
    uint64_t v = 0;
    while (n > 0) {
        byte = it->pos >> 3;
        used = it->pos & 7;
        unsigned room = 8 - used, take = n < room ? n : room;
        uint8_t b = it->c->data[byte];
        v = (v << take) | ((b >> (room - take)) & ((1u << take) - 1));
        it->pos += take;
        n -= take;
    }
    *out = v;
    return true;
}

static bool get_uvarint(am_chunk_it *it, uint64_t *out)
{
    uint64_t v = 0, b;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (!get_bits(it, 8, &b))
            return false;
        v |= (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* As xor.go reads them: the ranges are [-(2^(n-1)-1), 2^(n-1)], so the
   raw value 2^(n-1) is positive and anything above it negative. */
static int64_t sign_extend(uint64_t v, unsigned bits)
{
    if (v > (UINT64_C(1) << (bits - 1)))
        return (int64_t)v - ((int64_t)1 << bits);
    return (int64_t)v;
}

static inline __attribute__((always_inline)) bool get_value(am_chunk_it *it)
{
    uint64_t b;
    if (!get_bits(it, 1, &b))
        return false;
    if (b == 0)
        return true;
    if (!get_bits(it, 1, &b))
        return false;
    if (b == 1) {
        uint64_t lead, sig;
        if (!get_bits(it, 5, &lead) || !get_bits(it, 6, &sig))
            return false;
        if (sig == 0)
            sig = 64;
        if (lead + sig > 64)
            return false;
        it->leading = (uint8_t)lead;
        it->trailing = (uint8_t)(64 - lead - sig);
    } else if (it->leading == 0xff) {
        return false;
    }
    unsigned sig = 64u - it->leading - it->trailing;
    uint64_t bits;
    if (!get_bits(it, sig, &bits))
        return false;
    it->vbits ^= bits << it->trailing;
    return true;
}

void am__chunk_it_init(am_chunk_it *it, const am_chunk *c)
{
    memset(it, 0, sizeof *it);
    it->c = c;
    it->leading = 0xff;
}

/* 64 bits from bit pos: the top 57 at least are valid. The caller makes
   sure eight bytes are there. */
static inline uint64_t peek(const uint8_t *d, uint32_t pos)
{
    uint64_t w;
    memcpy(&w, d + (pos >> 3), 8);
    return __builtin_bswap64(w) << (pos & 7);
}

/* n (1..64) bits from pos, with two peeks when n > 56. */
static inline uint64_t take(const uint8_t *d, uint32_t *pos, unsigned n)
{
    uint64_t v;
    if (n <= 56) {
        v = peek(d, *pos) >> (64 - n);
    } else {
        uint64_t hi = peek(d, *pos) >> (64 - 32), lo = peek(d, *pos + 32) >> (64 - (n - 32));
        v = hi << (n - 32) | lo;
    }
    *pos += n;
    return v;
}

/*
** A sample past the second, far enough from the end of the data that no
** read can leave the buffer (a sample takes at most 4 + 64 + 2 + 11 + 64
** bits): whole words are peeked and the fields cut out with shifts. The
** checks of the slow path (bits left, window valid) hold by construction
** except one, the window before the first '11' value, checked here too.
*/
static inline bool next_fast(am_chunk_it *it)
{
    const uint8_t *d = it->c->data;
    uint32_t pos = it->pos;
    uint64_t w = peek(d, pos);
    int64_t dod = 0;
    if (w >> 63) {
        unsigned ones = ~w ? (unsigned)__builtin_clzll(~w) : 64;
        if (ones > 4)
            ones = 4;
        static const unsigned WIDTH[] = {0, 14, 17, 20, 64};
        unsigned ctrl = ones < 4 ? ones + 1 : 4;
        pos += ctrl;
        uint64_t raw = take(d, &pos, WIDTH[ones]);
        dod = ones == 4 ? (int64_t)raw : sign_extend(raw, WIDTH[ones]);
    } else {
        pos += 1;
    }
    w = peek(d, pos);
    if (w >> 63) {
        if ((w << 1) >> 63) {
            unsigned lead = (unsigned)((w << 2) >> 59), sig = (unsigned)((w << 7) >> 58);
            if (sig == 0)
                sig = 64;
            if (lead + sig > 64)
                return false;
            it->leading = (uint8_t)lead;
            it->trailing = (uint8_t)(64 - lead - sig);
            pos += 13;
        } else {
            if (it->leading == 0xff)
                return false;
            pos += 2;
        }
        unsigned sig = 64u - it->leading - it->trailing;
        it->vbits ^= take(d, &pos, sig) << it->trailing;
    } else {
        pos += 1;
    }
    if (pos > it->c->nbits)
        return false;
    it->pos = pos;
    it->tdelta += dod;
    it->t += it->tdelta;
    return true;
}

bool am__chunk_it_next(am_chunk_it *it, int64_t *t, double *v)
{
    if (it->i >= it->c->n)
        return false;
    if (it->i >= 2 && (it->pos >> 3) + 32 <= it->c->cap) {
        if (!next_fast(it))
            return false;
    } else if (it->i == 0) {
        uint64_t z;
        if (!get_uvarint(it, &z) || !get_bits(it, 64, &it->vbits))
            return false;
        it->t = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    } else if (it->i == 1) {
        uint64_t d;
        if (!get_uvarint(it, &d) || !get_value(it))
            return false;
        it->tdelta = (int64_t)d;
        it->t += it->tdelta;
    } else {
        unsigned ones = 0;
        uint64_t b;
        while (ones < 4) {
            if (!get_bits(it, 1, &b))
                return false;
            if (!b)
                break;
            ones++;
        }
        int64_t dod = 0;
        static const unsigned WIDTH[] = {0, 14, 17, 20, 64};
        if (ones > 0) {
            uint64_t raw;
            if (!get_bits(it, WIDTH[ones], &raw))
                return false;
            dod = ones == 4 ? (int64_t)raw : sign_extend(raw, WIDTH[ones]);
        }
        it->tdelta += dod;
        it->t += it->tdelta;
        if (!get_value(it))
            return false;
    }
    it->i++;
    *t = it->t;
    memcpy(v, &it->vbits, sizeof *v);
    return true;
}
