/*
** fuzz_hist.c: libFuzzer target -- any bytes as the histogram text of a
** rollup row read back from the database (am__hist_merge_text,
** src/serve/store/store_rollup.c).
**
** WHAT IT CHECKS
**   Accepted: the bins are in strictly increasing index order within
**   [-H_INF, H_INF]; written out and read again they give the same text
**   (one spelling); every quantile is a value in order (p50 <= p99).
**   Refused or accepted, nothing leaks and nothing is read past the end.
** A violation prints what was wrong and traps.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "serve/store/store_internal.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_hist: " __VA_ARGS__);                                            \
            fprintf(stderr, "\n");                                                                 \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    hist h = {0};
    if (am__hist_merge_text(&h, text)) {
        uint64_t total = 0;
        for (size_t i = 0; i < h.n; i++) {
            CHECK(h.b[i].idx >= -H_INF && h.b[i].idx <= H_INF, "index %d", (int)h.b[i].idx);
            CHECK(i == 0 || h.b[i].idx > h.b[i - 1].idx, "bins out of order");
            total += h.b[i].n;
        }
        am_buf a, b;
        am_buf_init(&a, 0);
        am_buf_init(&b, 0);
        am__hist_text(&a, &h);
        hist again = {0};
        CHECK(am__hist_merge_text(&again, a.p ? a.p : ""), "our text refused: %s", a.p);
        am__hist_text(&b, &again);
        CHECK(strcmp(a.p ? a.p : "", b.p ? b.p : "") == 0, "two spellings");
        if (total) {
            double p50 = am__hist_quantile(&h, total, 0.5),
                   p99 = am__hist_quantile(&h, total, 0.99);
            CHECK(p50 <= p99, "p50 %g > p99 %g", p50, p99);
        }
        am_buf_free(&a);
        am_buf_free(&b);
        am__free(again.b);
    }
    am__free(h.b);
    free(text);
    return 0;
}
