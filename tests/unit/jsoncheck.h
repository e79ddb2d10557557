/*
** jsoncheck.h: a small strict JSON reader for checking log lines in tests
** and fuzz targets (header-only; written apart from the library so that it
** does not share the library's mistakes).
**
** Strict means RFC 8259 and nothing more: one value, optional whitespace
** around it; strings with no raw byte below 0x20, only the escapes
** \" \\ \/ \b \f \n \r \t \uXXXX, surrogate escapes only in valid pairs,
** raw bytes well-formed UTF-8 (RFC 3629, decoded here by hand); numbers in
** the JSON grammar (no leading zeros, no NaN, no '+'); true/false/null;
** objects with no duplicate key (compared after decoding); nesting up to
** 64 levels.
**
**     jc_obj o;
**     char why[160];
**     if (!jc_object(line, len, &o, why, sizeof why)) fail(why);
**     const char *msg = jc_str(&o, "message");     decoded, NUL-terminated
**     jc_free(&o);
**
** jc_object() keeps the top-level members of an object: each key decoded,
** each value's type and, for strings, the decoded text (which may hold
** NULs: jc_member.val_len is its length); for other values the raw text.
*/
#ifndef AM_JSONCHECK_H
#define AM_JSONCHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JC_STRING = 1, JC_NUMBER, JC_TRUE, JC_FALSE, JC_NULL, JC_OBJECT, JC_ARRAY };

typedef struct jc_member {
    size_t key_off, key_len;
    int type;
    size_t val_off, val_len; /* decoded string, or the raw text of the value */
} jc_member;

typedef struct jc_obj {
    jc_member *m;
    size_t n, cap;
    char *arena;
    size_t arena_len, arena_cap;
} jc_obj;

typedef struct jc_parser {
    const unsigned char *s;
    size_t n, i;
    char *why;
    size_t whycap;
    bool failed;
    jc_obj *top; /* where decoded text goes */
} jc_parser;

static void jc_fail(jc_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jc_fail(jc_parser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    if (!p->why || !p->whycap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(p->why, p->whycap, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < p->whycap)
        snprintf(p->why + k, p->whycap - (size_t)k, " (at byte %zu)", p->i);
}

static size_t jc_arena_put(jc_obj *o, const void *b, size_t n)
{
    if (o->arena_len + n + 1 > o->arena_cap) {
        size_t cap = o->arena_cap ? o->arena_cap : 1024;
        while (cap < o->arena_len + n + 1)
            cap *= 2;
        char *a = realloc(o->arena, cap);
        if (!a)
            abort();
        o->arena = a;
        o->arena_cap = cap;
    }
    size_t off = o->arena_len;
    memcpy(o->arena + off, b, n);
    o->arena_len += n;
    return off;
}

static void jc_arena_nul(jc_obj *o)
{
    jc_arena_put(o, "", 1);
}

static void jc_ws(jc_parser *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int jc_hex4(jc_parser *p)
{
    if (p->i + 4 > p->n) {
        jc_fail(p, "truncated \\u escape");
        return -1;
    }
    int v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p->s[p->i + (size_t)k];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0) {
            jc_fail(p, "bad hex digit in \\u escape");
            return -1;
        }
        v = v * 16 + d;
    }
    p->i += 4;
    return v;
}

static void jc_put_cp(jc_obj *o, uint32_t cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    jc_arena_put(o, b, n);
}

/* Decode one raw UTF-8 code point at p->i; returns it, or fails. */
static uint32_t jc_utf8(jc_parser *p)
{
    const unsigned char *s = p->s + p->i;
    size_t avail = p->n - p->i;
    unsigned char c = s[0];
    uint32_t cp, min;
    size_t len;
    if (c < 0x80) {
        p->i++;
        return c;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        jc_fail(p, "byte 0x%02x cannot start a UTF-8 sequence", c);
        return 0;
    }
    if (len > avail) {
        jc_fail(p, "truncated UTF-8 sequence");
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            jc_fail(p, "bad UTF-8 continuation byte 0x%02x", s[k]);
            return 0;
        }
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        jc_fail(p, "overlong, surrogate or out-of-range UTF-8 (U+%04X)", (unsigned)cp);
        return 0;
    }
    p->i += len;
    return cp;
}

/* A string at p->i (the opening quote); decoded into p->top's arena. */
static bool jc_string(jc_parser *p, size_t *off, size_t *len)
{
    jc_obj *o = p->top;
    p->i++; /* the quote */
    size_t start = o->arena_len;
    for (;;) {
        if (p->i >= p->n) {
            jc_fail(p, "unterminated string");
            return false;
        }
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20) {
            jc_fail(p, "raw control byte 0x%02x in a string", c);
            return false;
        }
        if (c != '\\') {
            size_t at = p->i;
            jc_utf8(p);
            if (p->failed)
                return false;
            jc_arena_put(o, p->s + at, p->i - at);
            continue;
        }
        p->i++;
        if (p->i >= p->n) {
            jc_fail(p, "unterminated escape");
            return false;
        }
        char e = (char)p->s[p->i++];
        const char *simple = NULL;
        switch (e) {
        case '"':
            simple = "\"";
            break;
        case '\\':
            simple = "\\";
            break;
        case '/':
            simple = "/";
            break;
        case 'b':
            simple = "\b";
            break;
        case 'f':
            simple = "\f";
            break;
        case 'n':
            simple = "\n";
            break;
        case 'r':
            simple = "\r";
            break;
        case 't':
            simple = "\t";
            break;
        case 'u': {
            int hi = jc_hex4(p);
            if (hi < 0)
                return false;
            uint32_t cp = (uint32_t)hi;
            if (hi >= 0xDC00 && hi <= 0xDFFF) {
                jc_fail(p, "lone low surrogate \\u%04x", hi);
                return false;
            }
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                if (p->i + 2 > p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
                    jc_fail(p, "high surrogate \\u%04x without a low one", hi);
                    return false;
                }
                p->i += 2;
                int lo = jc_hex4(p);
                if (lo < 0)
                    return false;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    jc_fail(p, "high surrogate followed by \\u%04x", lo);
                    return false;
                }
                cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            }
            jc_put_cp(o, cp);
            continue;
        }
        default:
            jc_fail(p, "unknown escape \\%c", e);
            return false;
        }
        jc_arena_put(o, simple, 1);
    }
    *off = start;
    *len = o->arena_len - start;
    jc_arena_nul(o);
    return true;
}

static bool jc_digits(jc_parser *p)
{
    size_t at = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > at;
}

static bool jc_number(jc_parser *p)
{
    if (p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0') {
        p->i++;
    } else if (!jc_digits(p)) {
        jc_fail(p, "bad number");
        return false;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!jc_digits(p)) {
            jc_fail(p, "no digits after the decimal point");
            return false;
        }
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!jc_digits(p)) {
            jc_fail(p, "no digits in the exponent");
            return false;
        }
    }
    return true;
}

static bool jc_value(jc_parser *p, int depth, int *type);

static bool jc_members(jc_parser *p, int depth, jc_obj *keep)
{
    /* decoded keys of this object, for the duplicate check */
    size_t *koff = NULL, *klen = NULL, nk = 0, capk = 0;
    bool ok = false;
    p->i++; /* '{' */
    jc_ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
        return true;
    }
    for (;;) {
        jc_ws(p);
        if (p->i >= p->n || p->s[p->i] != '"') {
            jc_fail(p, "expected a key");
            goto out;
        }
        size_t ko, kl;
        if (!jc_string(p, &ko, &kl))
            goto out;
        for (size_t k = 0; k < nk; k++) {
            if (klen[k] == kl && memcmp(p->top->arena + koff[k], p->top->arena + ko, kl) == 0) {
                jc_fail(p, "duplicate key \"%.60s\"", p->top->arena + ko);
                goto out;
            }
        }
        if (nk == capk) {
            capk = capk ? capk * 2 : 16;
            koff = realloc(koff, capk * sizeof *koff);
            klen = realloc(klen, capk * sizeof *klen);
            if (!koff || !klen)
                abort();
        }
        koff[nk] = ko;
        klen[nk] = kl;
        nk++;
        jc_ws(p);
        if (p->i >= p->n || p->s[p->i] != ':') {
            jc_fail(p, "expected ':'");
            goto out;
        }
        p->i++;
        jc_ws(p);
        size_t vstart = p->i, arena_before = p->top->arena_len;
        int type;
        if (!jc_value(p, depth + 1, &type))
            goto out;
        if (keep) {
            if (keep->n == keep->cap) {
                keep->cap = keep->cap ? keep->cap * 2 : 16;
                keep->m = realloc(keep->m, keep->cap * sizeof *keep->m);
                if (!keep->m)
                    abort();
            }
            jc_member *m = &keep->m[keep->n++];
            m->key_off = ko;
            m->key_len = kl;
            m->type = type;
            if (type == JC_STRING) {
                m->val_off = arena_before;
                m->val_len = p->top->arena_len - arena_before - 1;
            } else {
                m->val_off = jc_arena_put(p->top, p->s + vstart, p->i - vstart);
                m->val_len = p->i - vstart;
                jc_arena_nul(p->top);
            }
        }
        jc_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == '}') {
            p->i++;
            ok = true;
            goto out;
        }
        jc_fail(p, "expected ',' or '}'");
        goto out;
    }
out:
    free(koff);
    free(klen);
    return ok;
}

static bool jc_value(jc_parser *p, int depth, int *type)
{
    if (depth > 64) {
        jc_fail(p, "nested too deeply");
        return false;
    }
    jc_ws(p);
    if (p->i >= p->n) {
        jc_fail(p, "expected a value");
        return false;
    }
    unsigned char c = p->s[p->i];
    if (c == '{') {
        *type = JC_OBJECT;
        return jc_members(p, depth, NULL);
    }
    if (c == '[') {
        *type = JC_ARRAY;
        p->i++;
        jc_ws(p);
        if (p->i < p->n && p->s[p->i] == ']') {
            p->i++;
            return true;
        }
        for (;;) {
            int t;
            if (!jc_value(p, depth + 1, &t))
                return false;
            jc_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == ']') {
                p->i++;
                return true;
            }
            jc_fail(p, "expected ',' or ']'");
            return false;
        }
    }
    if (c == '"') {
        size_t o, l;
        *type = JC_STRING;
        return jc_string(p, &o, &l);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        *type = JC_NUMBER;
        return jc_number(p);
    }
    static const struct {
        const char *word;
        int type;
    } lits[] = {{"true", JC_TRUE}, {"false", JC_FALSE}, {"null", JC_NULL}};
    for (size_t k = 0; k < 3; k++) {
        size_t wl = strlen(lits[k].word);
        if (p->n - p->i >= wl && memcmp(p->s + p->i, lits[k].word, wl) == 0) {
            p->i += wl;
            *type = lits[k].type;
            return true;
        }
    }
    jc_fail(p, "unexpected byte 0x%02x", c);
    return false;
}

/* Parse s[0..n) as exactly one JSON object; keep its top-level members. */
static bool jc_object(const char *s, size_t n, jc_obj *o, char *why, size_t whycap)
{
    memset(o, 0, sizeof *o);
    jc_parser p = {(const unsigned char *)s, n, 0, why, whycap, false, o};
    if (why && whycap)
        why[0] = '\0';
    jc_ws(&p);
    if (p.i >= n || p.s[p.i] != '{') {
        jc_fail(&p, "not an object");
        return false;
    }
    if (!jc_members(&p, 0, o))
        return false;
    jc_ws(&p);
    if (p.i != n) {
        jc_fail(&p, "trailing bytes after the object");
        return false;
    }
    return true;
}

static void jc_free(jc_obj *o)
{
    free(o->m);
    free(o->arena);
    memset(o, 0, sizeof *o);
}

static __attribute__((unused)) const jc_member *jc_get(const jc_obj *o, const char *key)
{
    size_t kl = strlen(key);
    for (size_t k = 0; k < o->n; k++)
        if (o->m[k].key_len == kl && memcmp(o->arena + o->m[k].key_off, key, kl) == 0)
            return &o->m[k];
    return NULL;
}

/* The decoded string value of key, or NULL when absent or not a string. */
static __attribute__((unused)) const char *jc_str(const jc_obj *o, const char *key)
{
    const jc_member *m = jc_get(o, key);
    return m && m->type == JC_STRING ? o->arena + m->val_off : NULL;
}

/* The raw text of a non-string value (a number: "2"), or NULL. */
static __attribute__((unused)) const char *jc_raw(const jc_obj *o, const char *key)
{
    const jc_member *m = jc_get(o, key);
    return m && m->type != JC_STRING ? o->arena + m->val_off : NULL;
}

/* Key of member k, decoded. */
static __attribute__((unused)) const char *jc_key(const jc_obj *o, size_t k)
{
    return o->arena + o->m[k].key_off;
}

/*
** jc_model_replace: what the library's log escaper must decode to -- the
** well-formed UTF-8 sequences of s[0..n) kept, every other byte replaced by
** U+FFFD (EF BF BD). Written from RFC 3629's table. out needs 3n+1 bytes;
** returns the length written (NUL added).
*/
static __attribute__((unused)) size_t jc_model_replace(const char *in, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            len = 1;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        }
        if (len > 1) {
            bool ok = i + len <= n && s[i + 1] >= lo && s[i + 1] <= hi;
            for (size_t k = 2; ok && k < len; k++)
                ok = s[i + k] >= 0x80 && s[i + k] <= 0xBF;
            if (!ok)
                len = 0;
        }
        if (len) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return o;
}

#endif
