/*
** trace.c: W3C Trace Context -- ids, traceparent/tracestate, the current
** context of each thread, and exemplars from it.
**
** DESIGN
** A context is a plain value (am_trace_ctx: ids, flags, tracestate bytes),
** so nothing here allocates, nothing can run out of memory, and a context
** can be copied into a thread-local, a message or another thread freely.
**
** Parsing is strict and total: every byte of a traceparent is looked at,
** the first thing wrong is reported by field name through am__err(), and
** the output is written only once the whole header has been accepted, so a
** malformed header is never half-used. The fields are read one after the
** other up to the next '-' with the width each must have, which accepts
** exactly the fixed-position grammar of the spec (hex digits are never
** '-') while letting the error say "trace-id is 31 characters" rather than
** "the header is 54 bytes". Versions 01..fe are read as far as version 00
** defines them (the spec's forward-compatibility rule: at least 55 bytes,
** then the end or '-'); version ff and uppercase hex are refused.
**
** tracestate is validated against the spec's grammar (printable ASCII, at
** most 512 bytes and 32 non-empty list members, each key=value with a
** valid key and value, OWS around commas) and then kept byte for byte: we
** never rewrite another vendor's entries.
**
** IDS come from util/random.c: a per-thread ChaCha8 generator keyed from
** getrandom(2), reseeded after fork, so ids are unpredictable and cost no
** system call. An all-zero id (invalid on the wire) is drawn again.
**
** THE CURRENT CONTEXT is a thread-local copy plus its ids in hex, which is
** what log lines and exemplars need; setting it costs a copy and 48 hex
** digits, reading it nothing. Exemplars are only attached for a sampled
** context (OpenTelemetry's trace-based exemplar filter): an exemplar that
** points at a trace the tracing backend never recorded helps no one.
**
** THREADS: everything here is per-thread or pure.
*/
#include <math.h>
#include <string.h>

#include "agentmon/trace.h"
#include "../util/error.h"
#include "../core/exemplar.h"
#include "trace_internal.h"

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* ------------------------------------------------------------------ */
/* Contexts                                                            */
/* ------------------------------------------------------------------ */

void am_trace_new(am_trace_ctx *out)
{
    /* field by field: zeroing the 512-byte tracestate would cost more than
       the ids; an empty tracestate is its length and a NUL */
    am__random_id(out->trace_id, AM_TRACE_ID_SIZE);
    am__random_id(out->span_id, AM_SPAN_ID_SIZE);
    memset(out->parent_span_id, 0, sizeof out->parent_span_id);
    out->flags = AM_TRACE_FLAG_SAMPLED;
    out->tracestate_len = 0;
    out->tracestate[0] = '\0';
    out->reserved[0] = out->reserved[1] = NULL;
}

bool am_trace_ctx_is_valid(const am_trace_ctx *ctx)
{
    return ctx && !all_zero(ctx->trace_id, AM_TRACE_ID_SIZE) &&
           !all_zero(ctx->span_id, AM_SPAN_ID_SIZE);
}

am_err am_trace_child(const am_trace_ctx *parent, am_trace_ctx *out)
{
    if (!am_trace_ctx_is_valid(parent)) {
        am_trace_new(out);
        return am__err(AM_EINVAL, "parent context is %s; started a new trace",
                       parent ? "not valid" : "NULL");
    }
    uint8_t parent_span[AM_SPAN_ID_SIZE];
    memcpy(parent_span, parent->span_id, sizeof parent_span);
    if (out != parent)
        *out = *parent;
    memcpy(out->parent_span_id, parent_span, sizeof parent_span);
    am__random_id(out->span_id, AM_SPAN_ID_SIZE);
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Hex                                                                 */
/* ------------------------------------------------------------------ */

static const char HEX[] = "0123456789abcdef";

void am_trace_id_hex(const am_trace_ctx *ctx, char *out)
{
    am__hex(out, ctx->trace_id, AM_TRACE_ID_SIZE);
    out[AM_TRACE_ID_HEX] = '\0';
}

void am_span_id_hex(const am_trace_ctx *ctx, char *out)
{
    am__hex(out, ctx->span_id, AM_SPAN_ID_SIZE);
    out[AM_SPAN_ID_HEX] = '\0';
}

void am_parent_span_id_hex(const am_trace_ctx *ctx, char *out)
{
    am__hex(out, ctx->parent_span_id, AM_SPAN_ID_SIZE);
    out[AM_SPAN_ID_HEX] = '\0';
}

/* ------------------------------------------------------------------ */
/* traceparent                                                         */
/* ------------------------------------------------------------------ */

/* A byte for an error message: 'c' when printable, else 0xNN. */
static const char *show(unsigned char c, char buf[8])
{
    if (c >= 0x21 && c <= 0x7e && c != '\'') {
        buf[0] = '\'';
        buf[1] = (char)c;
        buf[2] = '\'';
        buf[3] = '\0';
    } else {
        buf[0] = '0';
        buf[1] = 'x';
        buf[2] = HEX[c >> 4];
        buf[3] = HEX[c & 15];
        buf[4] = '\0';
    }
    return buf;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/*
** Read the field that starts at *pos: up to the next '-' or the end, which
** must be exactly width hex digits. On success *pos is just past it.
*/
static am_err read_field(const char *s, size_t len, size_t *pos, size_t width, const char *name,
                         uint8_t *out)
{
    size_t p = *pos, e = p;
    while (e < len && s[e] != '-')
        e++;
    if (e - p != width)
        return am__err(AM_EINVAL, "traceparent %s is %zu characters; it must be %zu lowercase hex",
                       name, e - p, width);
    for (size_t i = 0; i < width; i += 2) {
        int hi = hexval((unsigned char)s[p + i]), lo = hexval((unsigned char)s[p + i + 1]);
        if (hi < 0 || lo < 0) {
            size_t at = p + i + (hi < 0 ? 0 : 1);
            unsigned char c = (unsigned char)s[at];
            char b[8];
            return am__err(AM_EINVAL, "traceparent %s has %s at offset %zu; only %s are allowed",
                           name, show(c, b), at,
                           (c >= 'A' && c <= 'F') ? "lowercase hex digits (no uppercase)"
                                                  : "lowercase hex digits");
        }
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *pos = e;
    return AM_OK;
}

/* The '-' after a field, at *pos (which read_field left at a '-' or the end). */
static am_err read_dash(size_t len, size_t *pos, const char *after)
{
    if (*pos >= len)
        return am__err(AM_EINVAL, "traceparent ends after the %s; more fields must follow", after);
    (*pos)++;
    return AM_OK;
}

am_err am_traceparent_parse(const char *s, size_t len, am_trace_ctx *out)
{
    if (!s || !out)
        return am__err(AM_EINVAL, "traceparent or out is NULL");
    if (len == 0)
        return am__err(AM_EINVAL, "traceparent is empty");
    uint8_t version, flags;
    am_trace_ctx c;
    memset(&c, 0, sizeof c);
    size_t pos = 0;
    am_err rc = read_field(s, len, &pos, 2, "version", &version);
    if (rc)
        return rc;
    if (version == 0xff)
        return am__err(AM_EINVAL, "traceparent version ff is invalid");
    if ((rc = read_dash(len, &pos, "version")) != AM_OK ||
        (rc = read_field(s, len, &pos, 32, "trace-id", c.trace_id)) != AM_OK ||
        (rc = read_dash(len, &pos, "trace-id")) != AM_OK ||
        (rc = read_field(s, len, &pos, 16, "parent-id", c.span_id)) != AM_OK ||
        (rc = read_dash(len, &pos, "parent-id")) != AM_OK ||
        (rc = read_field(s, len, &pos, 2, "trace-flags", &flags)) != AM_OK)
        return rc;
    /* pos == 55: the end, or (read_field stopped there) a '-'. */
    if (pos != len && version == 0)
        return am__err(AM_EINVAL,
                       "traceparent has %zu byte(s) after the trace-flags; version 00 is exactly "
                       "55 bytes",
                       len - pos);
    if (all_zero(c.trace_id, AM_TRACE_ID_SIZE))
        return am__err(AM_EINVAL, "traceparent trace-id is all zeros");
    if (all_zero(c.span_id, AM_SPAN_ID_SIZE))
        return am__err(AM_EINVAL, "traceparent parent-id is all zeros");
    c.flags = flags;
    *out = c;
    return AM_OK;
}

am_err am_traceparent_format(const am_trace_ctx *ctx, char *out)
{
    if (!am_trace_ctx_is_valid(ctx)) {
        out[0] = '\0';
        return am__err(AM_EINVAL, "cannot format a traceparent from a context that is not valid");
    }
    char *p = out;
    *p++ = '0';
    *p++ = '0';
    *p++ = '-';
    am__hex(p, ctx->trace_id, AM_TRACE_ID_SIZE);
    p += AM_TRACE_ID_HEX;
    *p++ = '-';
    am__hex(p, ctx->span_id, AM_SPAN_ID_SIZE);
    p += AM_SPAN_ID_HEX;
    *p++ = '-';
    am__hex(p, &ctx->flags, 1);
    p += 2;
    *p = '\0';
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* tracestate                                                          */
/* ------------------------------------------------------------------ */

static bool is_lc(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_dig(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_keychar(char c)
{
    return is_lc(c) || is_dig(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

/* simple-key = lcalpha 0*255(keychar); multi-tenant-key = tenant-id "@" system-id,
   tenant-id = (lcalpha / DIGIT) 0*240(keychar), system-id = lcalpha 0*13(keychar). */
static const char *key_problem(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    if (!at) {
        if (n == 0)
            return "an empty key";
        if (n > 256)
            return "a key longer than 256 characters";
        if (!is_lc(k[0]))
            return "a key that does not start with a lowercase letter";
        for (size_t i = 1; i < n; i++)
            if (!is_keychar(k[i]))
                return "a key with a character other than a-z 0-9 _ - * /";
        return NULL;
    }
    size_t tn = (size_t)(at - k), sn = n - tn - 1;
    if (tn == 0 || tn > 241)
        return "a tenant id (before '@') of 0 or more than 241 characters";
    if (sn == 0 || sn > 14)
        return "a system id (after '@') of 0 or more than 14 characters";
    if (!is_lc(k[0]) && !is_dig(k[0]))
        return "a tenant id that does not start with a-z or 0-9";
    if (!is_lc(at[1]))
        return "a system id that does not start with a lowercase letter";
    for (size_t i = 1; i < n; i++)
        if (k + i != at && !is_keychar(k[i]))
            return "a key with a character other than a-z 0-9 _ - * / (and one '@')";
    return NULL;
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = printable but ',' '='. */
static const char *value_problem(const char *v, size_t n)
{
    if (n == 0)
        return "an empty value";
    if (n > 256)
        return "a value longer than 256 characters";
    if (v[n - 1] == ' ')
        return "a value ending in a space";
    for (size_t i = 0; i < n; i++)
        if (v[i] == '=' || v[i] < 0x20 || v[i] > 0x7e)
            return "a value with '=' or a character that is not printable ASCII";
    return NULL;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static am_err tracestate_check(const char *s, size_t len)
{
    if (len > AM_TRACESTATE_MAX)
        return am__err(AM_EINVAL, "tracestate is %zu bytes; at most %d are allowed", len,
                       AM_TRACESTATE_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c > 0x7e)
            return am__err(AM_EINVAL,
                           "tracestate has byte 0x%02x at offset %zu; only printable ASCII is "
                           "allowed",
                           c, i);
    }
    size_t members = 0, idx = 0;
    for (size_t p = 0; p <= len; idx++) {
        size_t e = p;
        while (e < len && s[e] != ',')
            e++;
        size_t a = p, b = e;
        while (a < b && is_ows(s[a]))
            a++;
        while (b > a && is_ows(s[b - 1]))
            b--;
        if (a < b) {
            if (++members > AM_TRACESTATE_MAX_MEMBERS)
                return am__err(AM_EINVAL, "tracestate has more than %d list members",
                               AM_TRACESTATE_MAX_MEMBERS);
            const char *eq = memchr(s + a, '=', b - a);
            if (!eq)
                return am__err(AM_EINVAL, "tracestate list member %zu has no '='", idx + 1);
            const char *why = key_problem(s + a, (size_t)(eq - (s + a)));
            if (!why)
                why = value_problem(eq + 1, (size_t)(s + b - eq - 1));
            if (why)
                return am__err(AM_EINVAL, "tracestate list member %zu has %s", idx + 1, why);
        }
        p = e + 1;
    }
    return AM_OK;
}

am_err am_tracestate_set(am_trace_ctx *ctx, const char *s, size_t len)
{
    if (!ctx || (!s && len))
        return am__err(AM_EINVAL, "context or tracestate is NULL");
    am_err rc = tracestate_check(s, len);
    if (rc)
        return rc;
    if (len)
        memcpy(ctx->tracestate, s, len);
    ctx->tracestate[len] = '\0';
    ctx->tracestate_len = (uint16_t)len;
    return AM_OK;
}

am_err am_trace_continue(const char *traceparent, const char *tracestate, am_trace_ctx *out)
{
    if (!traceparent || !*traceparent) {
        am_trace_new(out);
        return am__err(AM_ENOTFOUND, "no traceparent; started a new trace");
    }
    am_trace_ctx remote;
    am_err rc = am_traceparent_parse(traceparent, strlen(traceparent), &remote);
    if (rc) {
        am_trace_new(out);
        return rc; /* am_errmsg() names the field */
    }
    if (tracestate) {
        /* A bad tracestate is dropped (the spec allows discarding it) and the
           trace is continued all the same. */
        size_t n = strnlen(tracestate, AM_TRACESTATE_MAX + 1);
        if (n <= AM_TRACESTATE_MAX && tracestate_check(tracestate, n) == AM_OK) {
            memcpy(remote.tracestate, tracestate, n);
            remote.tracestate[n] = '\0';
            remote.tracestate_len = (uint16_t)n;
        }
    }
    return am_trace_child(&remote, out);
}

/* ------------------------------------------------------------------ */
/* The current context                                                 */
/* ------------------------------------------------------------------ */

typedef struct current {
    bool has;
    char trace_hex[AM_TRACE_ID_HEX + 1];
    char span_hex[AM_SPAN_ID_HEX + 1];
    am_trace_ctx ctx;
} current;

static __thread current t_cur;

void am_trace_set_current(const am_trace_ctx *ctx)
{
    if (!am_trace_ctx_is_valid(ctx)) {
        t_cur.has = false;
        return;
    }
    if (ctx != &t_cur.ctx)
        t_cur.ctx = *ctx;
    am_trace_id_hex(ctx, t_cur.trace_hex);
    am_span_id_hex(ctx, t_cur.span_hex);
    t_cur.has = true;
}

am_err am_trace_current(am_trace_ctx *out)
{
    if (!t_cur.has) {
        memset(out, 0, sizeof *out);
        return am__err(AM_ENOTFOUND, "this thread has no current trace context");
    }
    *out = t_cur.ctx;
    return AM_OK;
}

void am_trace_clear_current(void)
{
    t_cur.has = false;
}

void am_trace_span_begin(am_trace_ctx *prev)
{
    am_trace_ctx child;
    if (t_cur.has) {
        *prev = t_cur.ctx;
        am_trace_child(prev, &child);
    } else {
        memset(prev, 0, sizeof *prev);
        am_trace_new(&child);
    }
    am_trace_set_current(&child);
}

void am_trace_span_end(const am_trace_ctx *prev)
{
    am_trace_set_current(prev);
}

bool am__trace_current_hex(const char **trace_hex, const char **span_hex)
{
    if (!t_cur.has)
        return false;
    *trace_hex = t_cur.trace_hex;
    *span_hex = t_cur.span_hex;
    return true;
}

/* ------------------------------------------------------------------ */
/* Exemplars                                                           */
/* ------------------------------------------------------------------ */

size_t am__trace_exemplar(const am_trace_ctx *ctx, char *out)
{
    char th[AM_TRACE_ID_HEX], sh[AM_SPAN_ID_HEX];
    const char *tp, *sp;
    if (ctx) {
        if (!am_trace_ctx_is_valid(ctx) || !(ctx->flags & AM_TRACE_FLAG_SAMPLED))
            return 0;
        am__hex(th, ctx->trace_id, AM_TRACE_ID_SIZE);
        am__hex(sh, ctx->span_id, AM_SPAN_ID_SIZE);
        tp = th;
        sp = sh;
    } else {
        if (!t_cur.has || !(t_cur.ctx.flags & AM_TRACE_FLAG_SAMPLED))
            return 0;
        tp = t_cur.trace_hex;
        sp = t_cur.span_hex;
    }
    /* trace_id="<32 hex>",span_id="<16 hex>": hex needs no escaping */
    size_t o = 0;
    memcpy(out + o, "trace_id=\"", 10);
    o += 10;
    memcpy(out + o, tp, AM_TRACE_ID_HEX);
    o += AM_TRACE_ID_HEX;
    memcpy(out + o, "\",span_id=\"", 11);
    o += 11;
    memcpy(out + o, sp, AM_SPAN_ID_HEX);
    o += AM_SPAN_ID_HEX;
    out[o++] = '"';
    return o;
}

am_err am_histogram_observe_traced(am_histogram *h, double v)
{
    char ex[AM__TRACE_EXEMPLAR_MAX];
    size_t n = am__trace_exemplar(NULL, ex);
    if (n)
        am__histogram_observe_text((am_child *)h, v, ex, n);
    else
        am_histogram_observe(h, v);
    return AM_OK;
}

am_err am_counter_add_traced(am_counter *c, double v)
{
    char ex[AM__TRACE_EXEMPLAR_MAX];
    size_t n = am__trace_exemplar(NULL, ex);
    if (!n)
        return am_counter_add(c, v);
    if (!(v >= 0) || isinf(v))
        return am_counter_add(c, v); /* refused there, with the message */
    am__counter_add_text((am_child *)c, v, ex, n);
    return AM_OK;
}
