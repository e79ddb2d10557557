/*
** rw.h: the remote_write sender's internals (the public face is
** include/agentmon/remote_write.h), shared by its files and their tests.
**
** A sample travels as a RECORD in a segment of the sender's log:
**
**     u32 len (of what follows) | i64 t_ms | f64 v | u8 n_labels |
**     n_labels x (u16 name_len, name, NUL, u16 value_len, value, NUL)
**
** little-endian, labels sorted by name, __name__ among them. The NULs let
** the protobuf encoder point into the record (protobuf-c wants C strings).
** Segments written to wal_dir hold the same bytes after an 8-byte magic;
** a segment read back from disk is checked record by record
** (am__rw_record_next), so a torn or foreign file ends where it goes bad.
*/
#ifndef AM_RW_RW_H
#define AM_RW_RW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/remote_write.h"
#include "../util/buf.h"
#include "../encode/encoder.h"

#define AM_RW_MAX_PAIRS (AM_MAX_LABELS + 1)
#define AM_RW_MAGIC "AMRWSEG1"

/* A record decoded: pointers into the record's bytes. */
typedef struct am__rw_rec {
    int64_t t_ms;
    double v;
    size_t n;
    am__pair l[AM_RW_MAX_PAIRS];
    size_t size; /* bytes of the record, its length field included */
} am__rw_rec;

/*
** Append the record of a sample to b: pairs[0..n) are sorted here (the
** array is reordered). AM_EINVAL (naming the problem) for no __name__, bad
** or duplicate names, oversized values; b is unchanged then.
*/
am_err am__rw_record_put(am_buf *b, am__pair *pairs, size_t n, int64_t t_ms, double v);

/*
** Decode the record at p[*off .. len): 1 and *off moved past it, 0 at the
** end (exactly len), -1 when the bytes there are not a well-formed record
** (length past the end, labels that do not add up, missing NULs).
*/
int am__rw_record_next(const char *p, size_t len, size_t *off, am__rw_rec *out);

/*
** The body of one request: recs[0..n) as a WriteRequest (one TimeSeries
** per sample), snappy-compressed, into out (cleared first). *raw_len gets
** the protobuf's size. AM_ENOMEM.
*/
am_err am__rw_encode(const am__rw_rec *const *recs, size_t n, am_buf *out, size_t *raw_len);

/* The relabel hook of am_remote_write_opts (remote_write.h). */
typedef am_remote_write_relabel_fn am__rw_relabel_fn;

/* am_remote_write_new() with the relabel hook fn (ud borrowed; NULL fn:
   none) in place of o's. */
am_err am__rw_new(const am_remote_write_opts *o, am__rw_relabel_fn fn, void *ud,
                  am_remote_write **out);

/* Append a sample whose pairs the caller lets us reorder (and relabel). */
am_err am__rw_append_pairs(am_remote_write *rw, am__pair *pairs, size_t n, int64_t t_ms, double v);

/* The sender's counters, for tests and the bench. */
typedef struct am__rw_stats {
    uint64_t sent, failed, retried, dropped, invalid, spilled; /* spilled: segments to disk */
    uint64_t pending, bytes, requests;
    unsigned shards;
    uint64_t segments_on_disk;
} am__rw_stats;
void am__rw_get_stats(am_remote_write *rw, am__rw_stats *st);

/* The definitions of the sender's metrics (the catalogue's table). */
#include "../util/catalog.h"
extern const am_def_table am__table_remote_write;

#endif
