/*
** fuzz_rw_record.c: libFuzzer target -- any bytes as a segment of the
** remote_write sender's log, as it comes back from wal_dir
** (am__rw_record_next in src/rw/record.c), and what it reads encoded as a
** request (src/rw/encode.c).
**
** WHAT IT CHECKS
**   Records are read in order until the end (0) or a bad one (-1); each
**   lies within the bytes, has 1 to AM_RW_MAX_PAIRS labels whose strings
**   end inside it, and the offset only moves forward. The records read
**   encode into a body that snappy and libprotobuf-c decode back with as
**   many series.
** A violation prints what was wrong and traps.
*/
#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "rw/proto/remote.pb-c.h"
#include "rw/rw.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rw_record: " __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                                                 \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

#define MAX_RECS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    static am__rw_rec recs[MAX_RECS];
    const am__rw_rec *rp[MAX_RECS];
    size_t off = 0, n = 0;
    int k;
    while (n < MAX_RECS && (k = am__rw_record_next(p, size, &off, &recs[n])) == 1) {
        CHECK(off <= size, "offset past the end");
        CHECK(recs[n].n >= 1 && recs[n].n <= AM_RW_MAX_PAIRS, "labels");
        for (size_t i = 0; i < recs[n].n; i++) {
            const char *s[2] = {recs[n].l[i].name, recs[n].l[i].value};
            for (int j = 0; j < 2; j++)
                CHECK(s[j] >= p && s[j] + strlen(s[j]) < p + off, "string outside its record");
        }
        rp[n] = &recs[n];
        n++;
    }
    am_buf body;
    am_buf_init(&body, 0);
    size_t raw = 0;
    if (am__rw_encode(rp, n, &body, &raw) == AM_OK) {
        size_t ulen = 0;
        CHECK(snappy_uncompressed_length(body.p, body.len, &ulen) == SNAPPY_OK && ulen == raw,
              "snappy length");
        char *u = malloc(ulen ? ulen : 1);
        CHECK(snappy_uncompress(body.p, body.len, u, &ulen) == SNAPPY_OK, "snappy");
        Prometheus__WriteRequest *wr =
            prometheus__write_request__unpack(NULL, ulen, (const uint8_t *)u);
        /* label strings are any bytes here, and protobuf-c checks UTF-8 */
        if (wr) {
            CHECK(wr->n_timeseries == n, "%zu series for %zu records", wr->n_timeseries, n);
            prometheus__write_request__free_unpacked(wr, NULL);
        }
        free(u);
    }
    am_buf_free(&body);
    return 0;
}
