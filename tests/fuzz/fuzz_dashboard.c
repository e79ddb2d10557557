/*
** fuzz_dashboard.c: libFuzzer target -- the dashboard's two parsers
** (src/web/): the first byte chooses.
**   even: the rest as an --llm-price value (am__dashboard_price_add)
**   odd:  the rest as a log file's tail, searched for every line and for
**         one trace id (am__logs_filter), as GET /api/v1/logs does
**
** WHAT IT CHECKS
**   --llm-price: AM_OK, AM_EINVAL or AM_ELIMIT only; refused leaves the
**   table as it was; accepted adds one row whose provider and model are
**   non-empty, without '"', '\' or control bytes, and whose prices are
**   finite, >= 0 and < 1e6.
**   Logs: the answer is one JSON array (jansson reads it back) of at most
**   max objects, each of them, with a trace id, holding that trace id.
** A violation prints what was wrong and traps.
*/
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "util/buf.h"
#include "web/dashboard.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_dashboard: " __VA_ARGS__);                                       \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static am_dashboard g_d; /* large: not on the stack */

static void price(const char *s)
{
    memset(&g_d, 0, sizeof g_d);
    am__dashboard_price_add(&g_d, "openai/gpt-4o=1,2");
    size_t before = g_d.n_prices;
    am_err rc = am__dashboard_price_add(&g_d, s);
    CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_ELIMIT, "returned %s", am_err_name(rc));
    if (rc) {
        CHECK(g_d.n_prices == before, "a refused price changed the table");
        return;
    }
    CHECK(g_d.n_prices == before + 1, "accepted but not added");
    const am_llm_price *p = &g_d.prices[before];
    CHECK(p->provider[0] && p->model[0], "empty name");
    for (const char *c = p->provider; *c; c++)
        CHECK((unsigned char)*c >= 0x20 && *c != '"' && *c != '\\' && *c != 0x7f, "provider byte");
    for (const char *c = p->model; *c; c++)
        CHECK((unsigned char)*c >= 0x20 && *c != '"' && *c != '\\' && *c != 0x7f, "model byte");
    CHECK(isfinite(p->input) && p->input >= 0 && p->input < 1e6, "input %g", p->input);
    CHECK(isfinite(p->output) && p->output >= 0 && p->output < 1e6, "output %g", p->output);
}

static void logs(const char *text, size_t len, const char *trace, size_t max)
{
    am_buf b;
    am_buf_init(&b, 0);
    am__logs_filter(text, len, trace, max, &b);
    CHECK(!am_buf_err(&b), "buffer error");
    json_error_t e;
    json_t *j = json_loadb(b.p, b.len, 0, &e);
    CHECK(j && json_is_array(j), "not a JSON array: %s", b.p);
    CHECK(json_array_size(j) <= max, "more than %zu lines", max);
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v)
    {
        CHECK(json_is_object(v), "line %zu is not an object", i);
        if (trace) {
            const char *t = json_string_value(json_object_get(v, "trace_id"));
            CHECK(t && strcmp(t, trace) == 0, "line %zu of another trace", i);
        }
    }
    json_decref(j);
    am_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] % 2 == 0) {
        price(s);
    } else {
        logs(s, size - 1, NULL, 1 + data[0] % 7);
        logs(s, size - 1, "0af7651916cd43dd8448eb211c80319c", 1000);
    }
    free(s);
    return 0;
}
