/*
** fuzz_series.c: libFuzzer target -- any bytes as promtool's series
** notation, the metric half (am__parse_metric) and the values half
** (am__parse_values, "0+10x100 _ stale ..."), src/alert/seriesdesc.c.
**
** WHAT IT CHECKS
**   Refused: AM_EINVAL (or AM_ELIMIT past the sample cap) with a message.
**   Accepted: a label set with unique, sorted names; values within the cap,
**   omitted steps carrying no value.
** Nothing leaks (ASan); a violation traps.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/seriesdesc.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_series: " __VA_ARGS__);                                          \
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
    am_arena a;
    am__arena_init(&a, NULL);
    char err[300];
    am_lset *l;
    am_err rc = am__parse_metric(text, &a, &l, err, sizeof err);
    if (rc == AM_OK) {
        for (uint32_t i = 1; i < l->n; i++)
            CHECK(strcmp(l->l[i - 1].name, l->l[i].name) < 0, "names not sorted/unique");
    } else {
        CHECK(rc == AM_EINVAL || rc == AM_ENOMEM, "metric returned %d", rc);
    }
    am_seqval *v;
    size_t n;
    rc = am__parse_values(text, &a, 100000, &v, &n, err, sizeof err);
    if (rc == AM_OK)
        CHECK(n <= 100000, "%zu values", n);
    else
        CHECK((rc == AM_EINVAL || rc == AM_ELIMIT || rc == AM_ENOMEM) && err[0], "values: %d", rc);
    am__arena_free(&a);
    free(text);
    return 0;
}
