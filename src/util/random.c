/*
** random.c: the per-thread ChaCha8 generator (see random.h).
**
** DESIGN
** A refill runs the ChaCha block function (8 rounds, RFC 8439's layout
** otherwise: constants, 256-bit key, 64-bit block counter, 64-bit nonce
** of zero) over BLOCKS consecutive counters into a 512-byte buffer; the
** first 32 bytes replace the key and are wiped, the rest is handed out
** from its end down, each byte wiped as it goes, so no byte is given
** twice and none outlives its use in memory. Eight rounds: the best
** attacks reach seven, and a generator's output (unlike a cipher's) gives
** an attacker no chosen input -- the margin Go's runtime and several
** CSPRNG designs settled on, at half ChaCha20's cost.
**
** Seeding is lazy, per thread: getrandom(2) with GRND_NONBLOCK for 32
** bytes. A pthread_atfork child handler marks the forking thread's state
** unseeded (it is the only thread the child has), so the child draws a
** fresh key before its first byte.
*/
#define _GNU_SOURCE /* getrandom */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "random.h"

#define BLOCKS 8
#define BUF_BYTES (BLOCKS * 64)
#define KEY_BYTES 32

typedef struct rng {
    uint32_t key[8];
    uint64_t counter;
    unsigned avail; /* unread bytes at the start of buf */
    int is_seeded;
    uint8_t buf[BUF_BYTES];
} rng;

static __thread rng t_rng;
static pthread_once_t g_fork_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t g_fallback_counter;

static void after_fork_child(void)
{
    t_rng.is_seeded = 0;
    t_rng.avail = 0;
}

static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* Four blocks at once, one per lane of a 128-bit vector (GCC's vector
   extension: SSE2 on x86-64, NEON on ARM, plain code elsewhere): four
   counters, one key. */
typedef uint32_t v4u __attribute__((vector_size(16)));

#define ROTV(v, c) (((v) << (c)) | ((v) >> (32 - (c))))
#define QRV(a, b, c, d)                                                                            \
    do {                                                                                           \
        a += b;                                                                                    \
        d = ROTV(d ^ a, 16);                                                                       \
        c += d;                                                                                    \
        b = ROTV(b ^ c, 12);                                                                       \
        a += b;                                                                                    \
        d = ROTV(d ^ a, 8);                                                                        \
        c += d;                                                                                    \
        b = ROTV(b ^ c, 7);                                                                        \
    } while (0)

static void blocks4(const uint32_t k[8], uint64_t ctr, uint8_t *out)
{
    v4u in[16], x[16];
    static const uint32_t sigma[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 4; i++)
        in[i] = (v4u){sigma[i], sigma[i], sigma[i], sigma[i]};
    for (int i = 0; i < 8; i++)
        in[4 + i] = (v4u){k[i], k[i], k[i], k[i]};
    for (int l = 0; l < 4; l++) {
        in[12][l] = (uint32_t)(ctr + (uint64_t)l);
        in[13][l] = (uint32_t)((ctr + (uint64_t)l) >> 32);
    }
    in[14] = in[15] = (v4u){0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        x[i] = in[i];
    for (int r = 0; r < 8; r += 2) {
        QRV(x[0], x[4], x[8], x[12]);
        QRV(x[1], x[5], x[9], x[13]);
        QRV(x[2], x[6], x[10], x[14]);
        QRV(x[3], x[7], x[11], x[15]);
        QRV(x[0], x[5], x[10], x[15]);
        QRV(x[1], x[6], x[11], x[12]);
        QRV(x[2], x[7], x[8], x[13]);
        QRV(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++) {
        v4u v = x[i] + in[i];
        for (int l = 0; l < 4; l++) {
            uint8_t *o = out + 64 * l + 4 * i;
            o[0] = (uint8_t)v[l];
            o[1] = (uint8_t)(v[l] >> 8);
            o[2] = (uint8_t)(v[l] >> 16);
            o[3] = (uint8_t)(v[l] >> 24);
        }
    }
}

void am__chacha8_block(const uint32_t k[8], uint64_t ctr, uint8_t *out)
{
    uint8_t all[64 * 4];
    blocks4(k, ctr, all);
    memcpy(out, all, 64);
}

static void seed(rng *r)
{
    pthread_once(&g_fork_once, register_fork_handler);
    uint8_t k[KEY_BYTES];
    size_t got = 0;
    while (got < sizeof k) {
        ssize_t n = getrandom(k + got, sizeof k - got, GRND_NONBLOCK);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break; /* EAGAIN (pool not ready), ENOSYS */
    }
    if (got < sizeof k) {
        /* unique, not unpredictable: clocks, pid, this thread, a counter */
        struct timespec a, b;
        clock_gettime(CLOCK_REALTIME, &a);
        clock_gettime(CLOCK_MONOTONIC, &b);
        uint64_t w[4] = {(uint64_t)a.tv_sec * 1000000000ull + (uint64_t)a.tv_nsec,
                         (uint64_t)b.tv_sec * 1000000000ull + (uint64_t)b.tv_nsec,
                         ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)r,
                         atomic_fetch_add(&g_fallback_counter, 1)};
        memcpy(k, w, sizeof k);
    }
    memcpy(r->key, k, sizeof k);
    memset(k, 0, sizeof k);
    r->counter = 0;
    r->avail = 0;
    r->is_seeded = 1;
}

static void refill(rng *r)
{
    if (!r->is_seeded)
        seed(r);
    for (int i = 0; i < BLOCKS; i += 4)
        blocks4(r->key, r->counter + (uint64_t)i, r->buf + 64 * i);
    r->counter += BLOCKS;
    memcpy(r->key, r->buf, KEY_BYTES); /* fast key erasure */
    memset(r->buf, 0, KEY_BYTES);
    r->avail = BUF_BYTES - KEY_BYTES; /* buf[KEY_BYTES ..], handed out from its end */
}

void am__random_bytes(void *out, size_t n)
{
    rng *r = &t_rng;
    uint8_t *o = out;
    while (n) {
        if (!r->avail || !r->is_seeded)
            refill(r);
        size_t m = n < r->avail ? n : r->avail;
        r->avail -= (unsigned)m;
        uint8_t *from = r->buf + KEY_BYTES + r->avail;
        memcpy(o, from, m);
        memset(from, 0, m); /* handed out once */
        o += m;
        n -= m;
    }
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

void am__random_id(uint8_t *out, size_t n)
{
    do
        am__random_bytes(out, n);
    while (all_zero(out, n));
}

static const char AM__HEX_DIGITS[] = "0123456789abcdef";

void am__hex(char *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = AM__HEX_DIGITS[in[i] >> 4];
        out[2 * i + 1] = AM__HEX_DIGITS[in[i] & 15];
    }
}

void am__id_hex(char out[33])
{
    uint8_t r[16];
    am__random_id(r, sizeof r);
    am__hex(out, r, sizeof r);
    out[32] = '\0';
}

void am__uuid4(char out[37])
{
    uint8_t r[16];
    am__random_id(r, sizeof r);
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char h[32];
    am__hex(h, r, sizeof r);
    /* 8-4-4-4-12 */
    static const unsigned char cut[5] = {8, 4, 4, 4, 12};
    size_t o = 0, k = 0;
    for (int part = 0; part < 5; part++) {
        if (part)
            out[o++] = '-';
        memcpy(out + o, h + k, cut[part]);
        o += cut[part];
        k += cut[part];
    }
    out[o] = '\0';
}
