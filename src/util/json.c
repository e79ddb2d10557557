/*
** json.c: the JSON pull reader (see json.h).
**
** DESIGN
** A state machine over the text, one token per call, with the nesting in a
** bit stack (object or array per level). `want` says what the grammar
** allows next: a value, a member name or '}', a value or ']', or a ',' /
** closing bracket after a value; at depth 0 after a value the text must
** end, unless the reader takes a sequence of top-level values.
**
** Strings are scanned once: runs of plain ASCII are skipped a byte at a
** time with one compare each, UTF-8 sequences are checked as they come,
** and the first backslash switches to copying, so the unescaped bytes are
** written over the escaped ones behind the read position (never ahead of
** it: an escape is always longer than what it stands for). The closing
** quote becomes the NUL. With AM_JSON_CHECK nothing is written and only
** the unescaped length is computed.
**
** Numbers are checked with the RFC 8259 grammar and converted by
** am__num_parse (number.c), the same conversion every other parser here
** uses.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "number.h"

enum want {
    W_START,        /* nothing read yet */
    W_VALUE,        /* a value (top level, after ':' or an array's ',') */
    W_VALUE_OR_END, /* after '[' */
    W_KEY_OR_END,   /* after '{' */
    W_KEY,          /* after an object's ',' */
    W_AFTER_VALUE,  /* ',' or the container's end */
    W_TOP_DONE,     /* a top-level value is complete */
    W_FAILED
};

static am_json_tok fail(am_json *j, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static am_json_tok fail(am_json *j, const char *at, const char *fmt, ...)
{
    char what[120];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* line and column, counted only now that they are needed */
    j->err_off = (size_t)(at - j->base);
    size_t line = 1, col = 1;
    for (size_t i = 0; i < j->err_off; i++) {
        if (j->base[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(j->err, sizeof j->err, "%s at line %zu, column %zu", what, line, col);
    j->want = W_FAILED;
    return AM_JSON_ERROR;
}

void am__json_init(am_json *j, char *text, size_t n, unsigned flags)
{
    memset(j, 0, sizeof *j);
    j->base = j->p = text;
    j->end = text + n;
    j->flags = flags;
    j->want = W_START;
}

static void skip_ws(am_json *j)
{
    char *p = j->p;
    while (p < j->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    j->p = p;
}

static bool in_object(const am_json *j)
{
    unsigned d = j->depth - 1;
    return (j->is_object[d / 64] >> (d % 64)) & 1u;
}

static am_json_tok open_container(am_json *j, bool is_object)
{
    if (j->depth == AM_JSON_MAX_DEPTH)
        return fail(j, j->p, "nesting deeper than %d levels", AM_JSON_MAX_DEPTH);
    unsigned d = j->depth++;
    uint64_t bit = (uint64_t)1 << (d % 64);
    if (is_object)
        j->is_object[d / 64] |= bit;
    else
        j->is_object[d / 64] &= ~bit;
    j->p++;
    j->want = is_object ? W_KEY_OR_END : W_VALUE_OR_END;
    return is_object ? AM_JSON_OBJECT : AM_JSON_ARRAY;
}

static am_json_tok close_container(am_json *j, am_json_tok t)
{
    j->depth--;
    j->p++;
    j->want = j->depth ? W_AFTER_VALUE : W_TOP_DONE;
    return t;
}

/* The length of the well-formed UTF-8 sequence at p (lead byte >= 0x80),
   or 0: no overlongs, no surrogates, nothing past U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(char *w, unsigned cp, bool write)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12);
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | cp >> 18);
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (write)
        memcpy(w, b, n);
    return n;
}

/* The escape at p ('\\' first); writes its bytes at w; returns the
   escape's length in the text, or 0 after fail(). */
static size_t unescape(am_json *j, const char *p, char *w, bool write, size_t *out_n)
{
    if (j->end - p < 2)
        return fail(j, p, "unterminated string"), 0;
    char c = p[1], v;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        v = c;
        break;
    case 'b':
        v = '\b';
        break;
    case 'f':
        v = '\f';
        break;
    case 'n':
        v = '\n';
        break;
    case 'r':
        v = '\r';
        break;
    case 't':
        v = '\t';
        break;
    case 'u': {
        int u = j->end - p >= 6 ? hex4(p + 2) : -1;
        if (u < 0)
            return fail(j, p, "\\u must be followed by four hex digits"), 0;
        unsigned cp = (unsigned)u;
        size_t used = 6;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail(j, p, "\\u%04x is a low surrogate without a high one", cp), 0;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            int lo = j->end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return fail(j, p, "\\u%04x is a high surrogate without a low one", cp), 0;
            cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
            used = 12;
        }
        *out_n = put_utf8(w, cp, write);
        return used;
    }
    default:
        if ((unsigned char)c < 0x20 || c == 0x7f)
            return fail(j, p, "invalid escape \\ followed by byte 0x%02x", (unsigned char)c), 0;
        return fail(j, p, "invalid escape \\%c", c), 0;
    }
    if (write)
        *w = v;
    *out_n = 1;
    return 2;
}

/* Whether one of the 8 bytes of x is < 0x20, '"', '\\' or >= 0x80 (the
   bit tricks of "Bit Twiddling Hacks": a byte b < n sets the high bit of
   b - n where b's own high bit is clear). */
static inline bool has_special(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    uint64_t low = (x - ones * 0x20) & ~x;
    uint64_t zq = (q - ones) & ~q, zb = (bs - ones) & ~bs;
    return ((low | zq | zb) & highs) || (x & highs);
}

/* A string at j->p (on its opening quote). */
static am_json_tok string(am_json *j, am_json_tok t)
{
    bool write = !(j->flags & AM_JSON_CHECK);
    char *start = j->p + 1, *r = start, *w = start;
    const char *end = j->end;
    bool copying = false;
    for (;;) {
        /* 8 bytes at a time while none needs a look (a quote, a
           backslash, a control character or a byte >= 0x80): most of a
           string, in a fifth of the instructions of a byte loop */
        while (end - r >= 8) {
            uint64_t x;
            memcpy(&x, r, 8);
            if (has_special(x))
                break;
            if (copying && write)
                memmove(w, r, 8);
            r += 8;
            w += 8;
        }
        while (r < end && (unsigned char)*r >= 0x20 && *r != '"' && *r != '\\' &&
               (unsigned char)*r < 0x80) {
            if (copying && write)
                *w = *r;
            r++;
            w++;
        }
        if (r == end)
            return fail(j, j->p, "unterminated string");
        unsigned char c = (unsigned char)*r;
        if (c == '"')
            break;
        if (c == '\\') {
            size_t n = 0;
            size_t used = unescape(j, r, w, write, &n);
            if (!used)
                return AM_JSON_ERROR;
            r += used;
            w += n;
            copying = true;
            continue;
        }
        if (c < 0x20)
            return fail(j, r, "control character 0x%02x in a string (escape it)", c);
        size_t n = utf8_seq((const unsigned char *)r, (const unsigned char *)end);
        if (!n)
            return fail(j, r, "invalid UTF-8 byte 0x%02x in a string", c);
        if (copying && write)
            memmove(w, r, n);
        r += n;
        w += n;
    }
    j->len = (size_t)(w - start);
    if (write) {
        *w = '\0';
        j->str = start;
    } else {
        j->str = NULL;
    }
    j->p = r + 1;
    return t;
}

static am_json_tok number(am_json *j)
{
    size_t n = am__num_json_span(j->p, (size_t)(j->end - j->p));
    if (!n)
        return fail(j, j->p, "invalid number");
    if (!am__num_parse(j->p, n, AM_NUM_JSON | AM_NUM_FINITE, &j->num))
        return fail(j, j->p, "number %.*s is out of range or longer than %d characters",
                    n > 40 ? 40 : (int)n, j->p, AM_NUM_MAX_TEXT);
    j->p += n;
    return AM_JSON_NUMBER;
}

static am_json_tok literal(am_json *j, const char *word, am_json_tok t)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return fail(j, j->p, "unexpected character '%c'", *j->p);
    j->p += n;
    return t;
}

static am_json_tok value(am_json *j)
{
    am_json_tok t;
    switch (*j->p) {
    case '{':
        return open_container(j, true);
    case '[':
        return open_container(j, false);
    case '"':
        t = string(j, AM_JSON_STRING);
        break;
    case 't':
        t = literal(j, "true", AM_JSON_TRUE);
        break;
    case 'f':
        t = literal(j, "false", AM_JSON_FALSE);
        break;
    case 'n':
        t = literal(j, "null", AM_JSON_NULL);
        break;
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            t = number(j);
        else if ((unsigned char)*j->p < 0x20 || (unsigned char)*j->p >= 0x7f)
            return fail(j, j->p, "unexpected byte 0x%02x", (unsigned char)*j->p);
        else
            return fail(j, j->p, "unexpected character '%c'", *j->p);
    }
    if (t != AM_JSON_ERROR)
        j->want = j->depth ? W_AFTER_VALUE : W_TOP_DONE;
    return t;
}

static am_json_tok key(am_json *j)
{
    if (*j->p != '"')
        return fail(j, j->p, "expected a member name in double quotes");
    if (string(j, AM_JSON_KEY) == AM_JSON_ERROR)
        return AM_JSON_ERROR;
    skip_ws(j);
    if (j->p == j->end || *j->p != ':')
        return fail(j, j->p, "expected ':' after a member name");
    j->p++;
    j->want = W_VALUE;
    return AM_JSON_KEY;
}

am_json_tok am__json_next(am_json *j)
{
    if (j->want == W_FAILED)
        return AM_JSON_ERROR;
    skip_ws(j);
    j->tok_off = (size_t)(j->p - j->base);
    if (j->want == W_TOP_DONE) {
        if (j->p == j->end)
            return AM_JSON_END;
        if (!(j->flags & AM_JSON_SEQUENCE))
            return fail(j, j->p, "unexpected text after the JSON value");
        j->want = W_VALUE;
    }
    if (j->p == j->end) {
        if (j->want != W_START)
            return fail(j, j->p, "unexpected end of text");
        if (j->flags & AM_JSON_SEQUENCE)
            return AM_JSON_END; /* an empty sequence */
        return fail(j, j->base, "empty text: no JSON value");
    }
    switch (j->want) {
    case W_START:
    case W_VALUE:
        return value(j);
    case W_VALUE_OR_END:
        return *j->p == ']' ? close_container(j, AM_JSON_ARRAY_END) : value(j);
    case W_KEY_OR_END:
        return *j->p == '}' ? close_container(j, AM_JSON_OBJECT_END) : key(j);
    case W_KEY:
        return key(j);
    case W_AFTER_VALUE:
        if (*j->p == ',') {
            j->p++;
            j->want = in_object(j) ? W_KEY : W_VALUE;
            return am__json_next(j);
        }
        if (*j->p == (in_object(j) ? '}' : ']'))
            return close_container(j, in_object(j) ? AM_JSON_OBJECT_END : AM_JSON_ARRAY_END);
        return fail(j, j->p, "expected ',' or '%c'", in_object(j) ? '}' : ']');
    default:
        return AM_JSON_ERROR;
    }
}

am_json_tok am__json_skip(am_json *j, am_json_tok t)
{
    if (t != AM_JSON_OBJECT && t != AM_JSON_ARRAY)
        return t;
    unsigned depth = j->depth;
    for (;;) {
        am_json_tok n = am__json_next(j);
        if (n == AM_JSON_ERROR || n == AM_JSON_END)
            return AM_JSON_ERROR;
        if ((n == AM_JSON_OBJECT_END || n == AM_JSON_ARRAY_END) && j->depth == depth - 1)
            return n;
    }
}

unsigned am__json_depth(const am_json *j)
{
    return j->depth;
}

size_t am__json_offset(const am_json *j)
{
    return (size_t)(j->p - j->base);
}

const char *am__json_error(const am_json *j)
{
    return j->err[0] ? j->err : "no error";
}
