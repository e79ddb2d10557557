/*
** fuzz_fmt_double.c: libFuzzer target -- any 8 bytes as a double, for the
** shortest round-trip writer of util/fmt.c.
**
** INPUT: the first 8 bytes (fewer: zero-padded) are the double's bits, so
** every NaN, infinity, subnormal and sign reaches the writer; each further
** 8 bytes is one more double.
**
** WHAT IT CHECKS
**   - am__fmt_digits (the integer path and digits_exact, no libc) writes
**     byte for byte the digits and point that am__fmt_digits_printf, the
**     snprintf and strtod way it replaced, writes for |v|; and for v's
**     neighbours (nextafter either side), where rounding decisions flip.
**   - am__fmt_real in both forms fits AM_FMT_MAX, returns its length, and
**     reads back (strtod) as v: -0 as 0, NaN as NaN, infinities as such.
** A violation prints the double and traps.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fmt.h"

#define CHECK(cond, v, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_fmt_double: %a: ", v);                                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static void digits_agree(double v)
{
    v = fabs(v);
    if (!(v > 0) || isinf(v))
        return;
    char a[24], b[24];
    int da, db;
    size_t na = am__fmt_digits(v, a, &da), nb = am__fmt_digits_printf(v, b, &db);
    CHECK(na == nb && da == db && memcmp(a, b, na) == 0, v,
          "%.*s (point %d) vs snprintf's %.*s (%d)", (int)na, a, da, (int)nb, b, db);
}

static void reads_back(double v, am_fmt_form form)
{
    char out[AM_FMT_MAX];
    size_t n = am__fmt_real(out, v, form);
    CHECK(n < AM_FMT_MAX && n == strlen(out), v, "length %zu", n);
    double back = strtod(out, NULL);
    if (isnan(v))
        CHECK(isnan(back), v, "NaN written as %s", out);
    else
        CHECK(back == v, v, "written as %s, reads back as %a", out, back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t off = 0; off == 0 || off < size; off += 8) {
        uint64_t bits = 0;
        memcpy(&bits, data + off, size - off < 8 ? size - off : 8);
        double v;
        memcpy(&v, &bits, sizeof v);
        digits_agree(v);
        digits_agree(nextafter(v, INFINITY));
        digits_agree(nextafter(v, 0));
        reads_back(v, AM_FMT_GO);
        reads_back(v, AM_FMT_SQL);
        if (off + 8 >= size)
            break;
    }
    return 0;
}
