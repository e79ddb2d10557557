/*
** fuzz_cursor.c: libFuzzer target -- any bytes as a paging cursor of the
** record store (am__store_cursor_decode, src/serve/store.c).
**
** INPUT: the first 8 bytes (zero-padded) are the fingerprint of the query
** the cursor is decoded for; the rest, up to the first NUL, is the cursor.
**
** WHAT IT CHECKS
**   am__store_cursor_decode returns AM_OK or AM_EINVAL and nothing else.
**   Refused: the message starts "cursor:". Accepted: the position is a
**   time in 1970..9999 and a sequence number >= 0, and encoding it again
**   for the same fingerprint gives back exactly the input text -- so a
**   cursor has one spelling and nothing in it was read loosely. The same
**   text decoded for another fingerprint is refused.
** A violation prints what was wrong and traps.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "serve/store/store_backend.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_cursor: " __VA_ARGS__);                                          \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t qhash = 0;
    memcpy(&qhash, data, size < 8 ? size : 8);
    size_t n = size > 8 ? size - 8 : 0;
    char *text = malloc(n + 1);
    if (!text)
        return 0;
    if (n)
        memcpy(text, data + 8, n);
    text[n] = '\0';

    double ts = -1;
    int64_t seq = -1;
    am_err rc = am__store_cursor_decode(text, qhash, &ts, &seq);
    CHECK(rc == AM_OK || rc == AM_EINVAL, "returned %s", am_err_name(rc));
    if (rc) {
        CHECK(strncmp(am_errmsg(), "cursor:", 7) == 0, "message \"%s\"", am_errmsg());
    } else {
        CHECK(ts >= 0 && ts < 253402300800.0 && seq >= 0, "position %.17g/%lld", ts,
              (long long)seq);
        char again[49];
        am__store_cursor_encode(again, qhash, ts, seq);
        CHECK(strcmp(again, text) == 0, "\"%s\" encodes back as \"%s\"", text, again);
        double ts2;
        int64_t seq2;
        CHECK(am__store_cursor_decode(text, qhash ^ 1, &ts2, &seq2) == AM_EINVAL,
              "\"%s\" accepted for another query", text);
    }
    free(text);
    return 0;
}
