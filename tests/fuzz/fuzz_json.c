/*
** fuzz_json.c: the JSON pull reader (util/json.c) on any bytes.
**
** Invariants checked (a violation traps):
**   - the check-only pass and the writing pass give the same tokens, the
**     same string lengths and numbers, and end the same way;
**   - every string token is well-formed UTF-8 of the length reported, NUL
**     at its end, inside the text; numbers are finite;
**   - nesting never goes below 0 or above AM_JSON_MAX_DEPTH;
**   - jansson, an independent reader, takes the text exactly when we do
**     (except deeper nesting and longer numbers than our limits, and
**     a raw NUL byte, which jansson takes as the end of the text).
*/
#define _GNU_SOURCE /* memmem */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/validate.h"
#include "util/json.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_TOKENS 4096

typedef struct tok {
    am_json_tok t;
    size_t len;
    double num;
} tok;

/* Read text with flags; returns the number of tokens (the last is END or
   ERROR), filling out. */
static size_t read_all(char *text, size_t n, unsigned flags, tok *out, int *deep)
{
    am_json j;
    am__json_init(&j, text, n, flags);
    size_t k = 0;
    for (;;) {
        am_json_tok t = am__json_next(&j);
        CHECK(am__json_depth(&j) <= AM_JSON_MAX_DEPTH);
        CHECK(am__json_offset(&j) <= n);
        if (k < MAX_TOKENS)
            out[k] = (tok){t, 0, 0};
        if (t == AM_JSON_KEY || t == AM_JSON_STRING) {
            if (!(flags & AM_JSON_CHECK)) {
                CHECK(j.str >= text && j.str + j.len <= text + n);
                CHECK(j.str[j.len] == '\0');
                CHECK(am__utf8_valid(j.str, j.len, NULL));
            }
            if (k < MAX_TOKENS)
                out[k].len = j.len;
        }
        if (t == AM_JSON_NUMBER) {
            CHECK(isfinite(j.num));
            if (k < MAX_TOKENS)
                out[k].num = j.num;
        }
        k++;
        if (t == AM_JSON_ERROR) {
            const char *e = am__json_error(&j);
            CHECK(e && *e);
            /* refusals by our own limits, which jansson does not have */
            *deep = strstr(e, "nesting deeper") || strstr(e, "longer than");
            return k;
        }
        if (t == AM_JSON_END)
            return k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tok a[MAX_TOKENS], b[MAX_TOKENS];
    for (unsigned flags = 0; flags <= AM_JSON_SEQUENCE; flags += AM_JSON_SEQUENCE) {
        char *text = malloc(size + 1);
        memcpy(text, data, size);
        text[size] = '\0';
        int deep_a = 0, deep_b = 0;
        size_t na = read_all(text, size, flags | AM_JSON_CHECK, a, &deep_a);
        CHECK(memcmp(text, data, size) == 0); /* check-only wrote nothing */
        size_t nb = read_all(text, size, flags, b, &deep_b);
        CHECK(na == nb);
        for (size_t i = 0; i < na && i < MAX_TOKENS; i++) {
            CHECK(a[i].t == b[i].t);
            CHECK(a[i].len == b[i].len);
            CHECK(a[i].num == b[i].num);
        }
        bool ours = b[(nb - 1) < MAX_TOKENS ? nb - 1 : MAX_TOKENS - 1].t == AM_JSON_END;
        free(text);
        /* jansson reads a raw NUL byte as the end of the text, and refuses
           an object key holding \u0000, which RFC 8259 allows: no verdict */
        if (flags == 0 && !deep_b && !memchr(data, 0, size) && !memmem(data, size, "\\u0000", 6)) {
            json_error_t je;
            json_t *v = json_loadb((const char *)data, size,
                                   JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
            if (nb - 1 < MAX_TOKENS)
                CHECK(ours == (v != NULL));
            json_decref(v);
        }
    }
    return 0;
}
