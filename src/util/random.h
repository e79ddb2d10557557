/*
** random.h: unpredictable bytes, fast -- for trace and span ids, UUIDs,
** anything that must neither collide nor be guessed.
**
** Each thread has its own ChaCha8 generator (as Go's runtime uses for its
** random source since 1.22) keyed with 32 bytes from getrandom(2), with
** fast key erasure: every refill's first 32 bytes become the next key, so
** bytes handed out can never be recomputed from the state that remains.
** A fork reseeds the child, so parent and child never share a stream.
** Where getrandom cannot give bytes (very early boot, no such call) the
** key comes from clocks, pid and addresses: ids stay unique, though no
** longer unpredictable.
*/
#ifndef AM_UTIL_RANDOM_H
#define AM_UTIL_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fill out[0..n) with random bytes. Thread-safe (per-thread state),
   never fails, no system call but once per thread (and per fork). */
void am__random_bytes(void *out, size_t n);

/* n random bytes that are not all zero (ids: zero means "none"). */
void am__random_id(uint8_t *out, size_t n);

/* Write n bytes as 2n lowercase hex digits (no NUL). */
void am__hex(char *out, const uint8_t *in, size_t n);

/*
** The ids agentmon makes, one scheme: 16 random bytes (never all zero)
** written as text. am__id_hex: 32 lowercase hex digits and a NUL, the
** shape of a W3C trace id (message ids of the coordinator, the collector's
** own rows). am__uuid4: an RFC 4122 version 4 UUID, lowercase, 36
** characters and a NUL, where the protocol wants one (event ids,
** Alertmanager's silence ids). Thread-safe, never fail.
*/
void am__id_hex(char out[33]);
void am__uuid4(char out[37]);

/* The block function (for its known-answer test): 64 bytes of ChaCha8
   keystream for key k (words of the little-endian key), block counter
   ctr, nonce 0. */
void am__chacha8_block(const uint32_t k[8], uint64_t ctr, uint8_t *out);

#endif
