/*
** fuzz_log.c: libFuzzer target -- any bytes as the component, message,
** field keys and values of a JSON log line.
**
** INPUT: a flags byte, then up to six parts separated by 0xFF: component,
** message, key 1, value 1, key 2, value 2 (each as a C string, so up to
** its first NUL). Flags: bit 0 a 1024-byte line limit (so long inputs are
** truncated), bit 1 an AM_F_TRACE field, bit 2 a current trace context,
** bit 3 the first value as an integer (its byte count) instead of text.
**
** WHAT IT CHECKS
** The call returns AM_OK and hands over exactly one line: at most the
** limit, ending in its only '\n', which the strict reader (jsoncheck.h:
** RFC 8259, UTF-8 decoded by hand, no duplicate keys) accepts, starting
** with timestamp, level, component, message. Without "log_truncated" each
** string decodes to the model (well-formed UTF-8 kept, each other byte
** U+FFFD) and each key to the model with only '_'s before it; with it,
** the component and message decode to a prefix of the model. trace_id and
** span_id are there exactly when a context applies. A violation prints
** the line and traps.
*/
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "../unit/jsoncheck.h"

typedef struct sink {
    char *p;
    size_t len;
    int calls;
} sink;

static int take(void *ud, const char *line, size_t n)
{
    sink *s = ud;
    s->calls++;
    free(s->p);
    s->p = malloc(n + 1);
    if (!s->p)
        abort();
    memcpy(s->p, line, n);
    s->p[n] = '\0';
    s->len = n;
    return 0;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_log: " __VA_ARGS__);                                             \
            fprintf(stderr, "\n  line: %.2000s\n", out.p ? out.p : "(none)");                      \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* Whether got is model(in) with only '_'s before it (a renamed key). */
static bool key_matches(const char *got, const char *in, char *tmp)
{
    size_t ml = jc_model_replace(in, strlen(in), tmp), gl = strlen(got);
    if (gl < ml || memcmp(got + gl - ml, tmp, ml) != 0)
        return false;
    for (size_t i = 0; i < gl - ml; i++)
        if (got[i] != '_')
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 200000)
        return 0;
    unsigned flags = data[0];
    char *part[6] = {0};
    size_t n_parts = 0, start = 1;
    for (size_t i = 1; i <= size && n_parts < 6; i++) {
        if (i == size || data[i] == 0xFF) {
            size_t n = i - start;
            part[n_parts] = malloc(n + 1);
            if (!part[n_parts])
                abort();
            memcpy(part[n_parts], data + start, n);
            part[n_parts][n] = '\0';
            n_parts++;
            start = i + 1;
        }
    }
    for (size_t i = n_parts; i < 6; i++) {
        part[i] = malloc(1);
        part[i][0] = '\0';
    }
    sink out = {0};
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.write_fn = take;
    o.userdata = &out;
    o.max_line_bytes = (flags & 1) ? 1024 : 0;
    size_t max = (flags & 1) ? 1024 : AM_LOG_DEFAULT_MAX_LINE;
    am_logger *lg;
    if (am_logger_new(&o, &lg) != AM_OK)
        abort();
    am_trace_ctx field_ctx, cur;
    am_trace_new(&field_ctx);
    if (flags & 4) {
        am_trace_new(&cur);
        am_trace_set_current(&cur);
    }
    am_field f[3] = {AM_F_STR(part[2], part[3]), AM_F_STR(part[4], part[5]),
                     AM_F_TRACE(&field_ctx)};
    if (flags & 8) {
        am_field x = AM_F_INT(part[2], (int64_t)strlen(part[3]) - 7);
        f[0] = x;
    }
    size_t nf = (flags & 2) ? 3 : 2;
    am_err rc = am_log(lg, AM_LOG_LEVEL_WARNING, part[0], part[1], f, nf);
    CHECK(rc == AM_OK, "am_log returned %s: %s", am_err_name(rc), am_errmsg());
    CHECK(out.calls == 1, "%d write calls", out.calls);
    CHECK(out.len <= max, "line of %zu bytes over the %zu limit", out.len, max);
    CHECK(out.len > 0 && out.p[out.len - 1] == '\n' && !memchr(out.p, '\n', out.len - 1),
          "not exactly one line");

    jc_obj j;
    char why[200];
    CHECK(jc_object(out.p, out.len - 1, &j, why, sizeof why), "not JSON: %s", why);
    CHECK(j.n >= 4 && strcmp(jc_key(&j, 0), "timestamp") == 0 &&
              strcmp(jc_key(&j, 1), "level") == 0 && strcmp(jc_key(&j, 2), "component") == 0 &&
              strcmp(jc_key(&j, 3), "message") == 0,
          "fixed keys missing");
    CHECK(strcmp(jc_str(&j, "level"), "WARNING") == 0, "level");
    /* the library's marker is the 5th member and true (a user's field of
       that name here is a string or a number) */
    bool truncated =
        j.n > 4 && strcmp(jc_key(&j, 4), "log_truncated") == 0 && j.m[4].type == JC_TRUE;
    size_t biggest = 0;
    for (int i = 0; i < 6; i++) {
        size_t l = strlen(part[i]);
        biggest = l > biggest ? l : biggest;
    }
    char *model = malloc(3 * biggest + 1);
    if (!model)
        abort();
    const jc_member *mm = jc_get(&j, "message"), *mc = jc_get(&j, "component");
    size_t ml = jc_model_replace(part[1], strlen(part[1]), model);
    CHECK(truncated ? mm->val_len <= ml : mm->val_len == ml, "message length");
    CHECK(memcmp(j.arena + mm->val_off, model, mm->val_len) == 0, "message differs from model");
    ml = jc_model_replace(part[0], strlen(part[0]), model);
    CHECK(truncated ? mc->val_len <= ml : mc->val_len == ml, "component length");
    CHECK(memcmp(j.arena + mc->val_off, model, mc->val_len) == 0, "component differs");

    /* trace ids */
    bool explicit_key = false;
    for (int i = 2; i <= 4; i += 2)
        explicit_key |= strcmp(part[i], "trace_id") == 0 || strcmp(part[i], "span_id") == 0;
    char th[AM_TRACE_ID_HEX + 1];
    if (flags & 2) {
        am_trace_id_hex(&field_ctx, th);
        CHECK(jc_str(&j, "trace_id") && strcmp(jc_str(&j, "trace_id"), th) == 0,
              "AM_F_TRACE ids missing");
    } else if ((flags & 4) && !explicit_key) {
        am_trace_id_hex(&cur, th);
        CHECK(jc_str(&j, "trace_id") && strcmp(jc_str(&j, "trace_id"), th) == 0,
              "current context ids missing");
    } else if (!explicit_key) {
        CHECK(!jc_get(&j, "trace_id") && !jc_get(&j, "span_id"), "trace ids from nowhere");
    }

    /* the two fields: the last two members */
    if (!truncated) {
        CHECK(j.n >= 6, "fields missing");
        const jc_member *a = &j.m[j.n - 2], *b = &j.m[j.n - 1];
        CHECK(key_matches(j.arena + a->key_off, part[2], model), "key 1 differs");
        CHECK(key_matches(j.arena + b->key_off, part[4], model), "key 2 differs");
        if (flags & 8) {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)strlen(part[3]) - 7);
            CHECK(a->type == JC_NUMBER && strcmp(j.arena + a->val_off, num) == 0, "int value");
        } else {
            ml = jc_model_replace(part[3], strlen(part[3]), model);
            CHECK(a->type == JC_STRING && a->val_len == ml &&
                      memcmp(j.arena + a->val_off, model, ml) == 0,
                  "value 1 differs");
        }
        ml = jc_model_replace(part[5], strlen(part[5]), model);
        CHECK(b->type == JC_STRING && b->val_len == ml &&
                  memcmp(j.arena + b->val_off, model, ml) == 0,
              "value 2 differs");
    }

    free(model);
    jc_free(&j);
    am_trace_clear_current();
    am_logger_free(lg);
    free(out.p);
    for (int i = 0; i < 6; i++)
        free(part[i]);
    return 0;
}
