/*
** fuzz_traceparent.c: libFuzzer target -- any bytes as a traceparent and a
** tracestate header.
**
** INPUT: the bytes up to the first '\n' are the traceparent, the rest (if
** there is a '\n') the tracestate. Both are given with their lengths, so
** NULs and everything else reach the parsers.
**
** WHAT IT CHECKS
**   - am_traceparent_parse agrees with a reference written here from the
**     spec's fixed positions (version 2 hex != ff, '-' at 2, 35 and 52,
**     32 + 16 + 2 lowercase hex, non-zero ids, exactly 55 bytes for
**     version 00, at least 55 and then the end or '-' for later ones).
**     Accepted: formatting gives the input back byte for byte (version 00)
**     or "00" + its first 55 bytes past the version (later versions); the
**     context's ids are the header's, with no parent and no tracestate.
**     Refused: AM_EINVAL, a message that says "traceparent", out untouched.
**   - am_tracestate_set agrees with a reference of the W3C grammar
**     (printable ASCII, <= 512 bytes, <= 32 non-empty members, key=value).
**     Accepted: kept verbatim. Refused: AM_EINVAL, a message, unchanged.
**   - am_trace_continue on the same bytes as C strings: AM_OK exactly when
**     the traceparent parses, and then a child of it carrying the
**     tracestate if that is valid; otherwise a new valid trace, never a
**     mix. am_trace_child and the current context round-trip.
** A violation prints what was wrong and traps.
*/
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_traceparent: " __VA_ARGS__);                                     \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------ */
/* References                                                          */
/* ------------------------------------------------------------------ */

static bool lhex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool ref_traceparent(const uint8_t *s, size_t n)
{
    if (n < 55)
        return false;
    for (size_t i = 0; i < 55; i++) {
        bool dash = i == 2 || i == 35 || i == 52;
        if (dash ? s[i] != '-' : !lhex(s[i]))
            return false;
    }
    if (s[0] == 'f' && s[1] == 'f')
        return false;
    bool v00 = s[0] == '0' && s[1] == '0';
    if (v00 && n != 55)
        return false;
    if (!v00 && n > 55 && s[55] != '-')
        return false;
    bool zero = true;
    for (size_t i = 3; i < 35; i++)
        zero = zero && s[i] == '0';
    if (zero)
        return false;
    zero = true;
    for (size_t i = 36; i < 52; i++)
        zero = zero && s[i] == '0';
    return !zero;
}

static bool kc(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/';
}

static bool ref_key(const uint8_t *k, size_t n)
{
    size_t at = n;
    for (size_t i = 0; i < n; i++)
        if (k[i] == '@') {
            at = i;
            break;
        }
    if (at == n) {
        if (n < 1 || n > 256 || !(k[0] >= 'a' && k[0] <= 'z'))
            return false;
        for (size_t i = 1; i < n; i++)
            if (!kc(k[i]))
                return false;
        return true;
    }
    size_t tn = at, sn = n - at - 1;
    if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
        return false;
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')))
        return false;
    if (!(k[at + 1] >= 'a' && k[at + 1] <= 'z'))
        return false;
    for (size_t i = 1; i < tn; i++)
        if (!kc(k[i]))
            return false;
    for (size_t i = at + 2; i < n; i++)
        if (!kc(k[i]))
            return false;
    return true;
}

static bool ref_value(const uint8_t *v, size_t n)
{
    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
            return false;
    return true;
}

static bool ref_tracestate(const uint8_t *s, size_t n)
{
    if (n > 512)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((s[i] < 0x20 && s[i] != '\t') || s[i] > 0x7e)
            return false;
    size_t members = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        size_t a = start, b = i;
        start = i + 1;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        if (a == b)
            continue;
        if (++members > 32)
            return false;
        size_t eq = a;
        while (eq < b && s[eq] != '=')
            eq++;
        if (eq == b || !ref_key(s + a, eq - a) || !ref_value(s + eq + 1, b - eq - 1))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The target                                                          */
/* ------------------------------------------------------------------ */

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[b[i] >> 4];
        out[2 * i + 1] = h[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tp_len = nl ? (size_t)(nl - data) : size;
    const uint8_t *ts = nl ? nl + 1 : NULL;
    size_t ts_len = nl ? size - tp_len - 1 : 0;

    /* traceparent, by length */
    am_trace_ctx c, poison;
    memset(&poison, 0xA5, sizeof poison);
    c = poison;
    am_err rc = am_traceparent_parse((const char *)data, tp_len, &c);
    bool want = ref_traceparent(data, tp_len);
    CHECK(rc == AM_OK || rc == AM_EINVAL, "parse returned %s", am_err_name(rc));
    CHECK((rc == AM_OK) == want, "parse said %s, the reference %s for %zu bytes", am_err_name(rc),
          want ? "accepts" : "refuses", tp_len);
    if (rc == AM_OK) {
        char out[AM_TRACEPARENT_LEN + 1];
        CHECK(am_traceparent_format(&c, out) == AM_OK, "format refused a parsed context");
        CHECK(strlen(out) == 55 && out[0] == '0' && out[1] == '0', "format wrote %s", out);
        CHECK(memcmp(out + 2, data + 2, 53) == 0, "format does not round-trip: %s", out);
        if (data[0] == '0' && data[1] == '0')
            CHECK(tp_len == 55 && memcmp(out, data, 55) == 0, "version 00 not byte for byte");
        char th[33], sh[17];
        hex(c.trace_id, 16, th);
        hex(c.span_id, 8, sh);
        CHECK(memcmp(th, data + 3, 32) == 0 && memcmp(sh, data + 36, 16) == 0, "ids differ");
        CHECK(all_zero(c.parent_span_id, 8) && c.tracestate_len == 0 && c.tracestate[0] == 0,
              "a parsed context has a parent or tracestate");
    } else {
        CHECK(memcmp(&c, &poison, sizeof c) == 0, "parse wrote out on error");
        CHECK(strstr(am_errmsg(), "traceparent") != NULL, "no reason given");
    }

    /* tracestate, by length */
    bool ts_ok = false;
    if (ts) {
        am_trace_ctx d;
        am_trace_new(&d);
        CHECK(am_tracestate_set(&d, "keep=1", 6) == AM_OK, "keep=1 refused");
        am_err rs = am_tracestate_set(&d, (const char *)ts, ts_len);
        ts_ok = ref_tracestate(ts, ts_len);
        CHECK(rs == AM_OK || rs == AM_EINVAL, "tracestate_set returned %s", am_err_name(rs));
        CHECK((rs == AM_OK) == ts_ok, "tracestate_set said %s, the reference %s (%zu bytes)",
              am_err_name(rs), ts_ok ? "accepts" : "refuses", ts_len);
        if (rs == AM_OK) {
            CHECK(d.tracestate_len == ts_len && memcmp(d.tracestate, ts, ts_len) == 0 &&
                      d.tracestate[ts_len] == '\0',
                  "tracestate not kept verbatim");
        } else {
            CHECK(strcmp(d.tracestate, "keep=1") == 0 && d.tracestate_len == 6,
                  "a refused tracestate changed the context");
            CHECK(strstr(am_errmsg(), "tracestate") != NULL, "no reason given");
        }
    }

    /* am_trace_continue on C strings (up to the first NUL) */
    char *tp_s = malloc(tp_len + 1), *ts_s = ts ? malloc(ts_len + 1) : NULL;
    if (!tp_s || (ts && !ts_s)) {
        free(tp_s);
        free(ts_s);
        return 0;
    }
    memcpy(tp_s, data, tp_len);
    tp_s[tp_len] = '\0';
    if (ts_s) {
        memcpy(ts_s, ts, ts_len);
        ts_s[ts_len] = '\0';
    }
    am_trace_ctx k;
    memset(&k, 0x5A, sizeof k);
    am_err rk = am_trace_continue(tp_s, ts_s, &k);
    size_t tpn = strlen(tp_s);
    bool parse_ok = ref_traceparent((const uint8_t *)tp_s, tpn);
    CHECK(am_trace_ctx_is_valid(&k), "continue left an invalid context");
    if (parse_ok) {
        CHECK(rk == AM_OK, "continue returned %s for a good header", am_err_name(rk));
        char th[33], ph[17];
        hex(k.trace_id, 16, th);
        hex(k.parent_span_id, 8, ph);
        CHECK(memcmp(th, tp_s + 3, 32) == 0, "continue changed the trace id");
        CHECK(memcmp(ph, tp_s + 36, 16) == 0, "continue's parent is not the header's span");
        bool st_ok = ts_s && ref_tracestate((const uint8_t *)ts_s, strlen(ts_s));
        if (st_ok)
            CHECK(strcmp(k.tracestate, ts_s) == 0, "continue dropped a good tracestate");
        else
            CHECK(k.tracestate_len == 0 && k.tracestate[0] == '\0', "continue kept a bad one");
    } else {
        CHECK(rk == (tpn ? AM_EINVAL : AM_ENOTFOUND), "continue returned %s for a bad header",
              am_err_name(rk));
        CHECK(all_zero(k.parent_span_id, 8) && k.tracestate_len == 0,
              "a new trace carries part of the header");
    }

    /* a child of it, through the current context */
    am_trace_set_current(&k);
    am_trace_ctx prev, cur;
    am_trace_span_begin(&prev);
    CHECK(am_trace_current(&cur) == AM_OK, "no current context after span_begin");
    CHECK(memcmp(cur.trace_id, k.trace_id, 16) == 0 &&
              memcmp(cur.parent_span_id, k.span_id, 8) == 0,
          "span_begin did not make a child");
    am_trace_span_end(&prev);
    CHECK(am_trace_current(&cur) == AM_OK && memcmp(cur.span_id, k.span_id, 8) == 0,
          "span_end did not restore");
    am_trace_clear_current();
    free(tp_s);
    free(ts_s);
    return 0;
}
