/*
** fuzz_expo.c: the exposition text parser (Prometheus 0.0.4 and OpenMetrics),
** which reads whatever a scrape target sends.
**
** Input: a selector byte (format, and the chunk size for a second parse),
** then the text. Invariants checked (a violation traps):
**   - every sample has a valid metric name that starts with its family's
**     name, a known type, valid label names, UTF-8 label values without
**     duplicates, at most max_labels pairs;
**   - fed in chunks of any size, the text gives the same result, the same
**     samples and the same error as in one piece; checking without a
**     callback gives the same result and count;
**   - a refusal is EPROTO or ELIMIT and its message names a line.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "util/validate.h"
#include "serve/ingest/expo_parse.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static const char *const types[] = {"counter",        "gauge",    "histogram", "summary", "untyped",
                                    "gaugehistogram", "stateset", "info",      "unknown"};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
    return mix(h, s, strlen(s) + 1);
}

static int check(void *ud, const am_expo_sample *s)
{
    uint64_t *h = ud;
    CHECK(am__check_metric_name(s->name, "x") == AM_OK || !strncmp(s->name, "__", 2));
    CHECK(!strncmp(s->name, s->family, strlen(s->family)));
    int known = 0;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        known |= !strcmp(types[i], s->type);
    CHECK(known);
    CHECK(s->n_labels <= 64);
    for (size_t i = 0; i < s->n_labels; i++) {
        const char *n = s->label_names[i], *v = s->label_values[i];
        CHECK(am__check_label_name(n, "x") == AM_OK || !strncmp(n, "__", 2));
        CHECK(am__utf8_valid(v, strlen(v), NULL));
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(n, s->label_names[j]));
        *h = mix_str(mix_str(*h, n), v);
    }
    CHECK(am__utf8_valid(s->help, strlen(s->help), NULL));
    *h = mix_str(mix_str(mix_str(mix_str(*h, s->name), s->family), s->type), s->help);
    *h = mix(*h, &s->value, sizeof s->value);
    *h = mix(*h, &s->has_exemplar, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    am_expo_format f = sel & 1 ? AM_EXPO_OPENMETRICS : AM_EXPO_PROMETHEUS;
    if ((sel & 6) == 6)
        f = AM_EXPO_AUTO;

    uint64_t h1 = 14695981039346656037ull;
    size_t n1 = 0;
    am_err rc1 = am__expo_parse(text, n, f, NULL, check, &h1, &n1);
    char msg1[256];
    snprintf(msg1, sizeof msg1, "%s", am_errmsg());
    if (rc1) {
        CHECK(rc1 == AM_EPROTO || rc1 == AM_ELIMIT);
        CHECK(strstr(msg1, " line "));
    }

    size_t n0 = 0;
    CHECK(am__expo_parse(text, n, f, NULL, NULL, NULL, &n0) == rc1);
    CHECK(n0 == n1);

    if (f == AM_EXPO_AUTO)
        return 0;
    size_t step = 1 + (sel >> 3);
    am_expo_parser *p;
    CHECK(am__expo_parser_new(f, NULL, &p) == AM_OK);
    uint64_t h2 = 14695981039346656037ull;
    am_err rc2 = AM_OK;
    for (size_t i = 0; i < n && !rc2; i += step)
        rc2 = am__expo_feed(p, text + i, i + step > n ? n - i : step, check, &h2);
    if (!rc2)
        rc2 = am__expo_finish(p, check, &h2);
    CHECK(rc2 == rc1);
    CHECK(am__expo_n_samples(p) == n1);
    CHECK(h2 == h1);
    if (rc2)
        CHECK(!strcmp(am_errmsg(), msg1));
    am__expo_parser_free(p);
    return 0;
}
