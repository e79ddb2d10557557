/*
** json.h: a JSON pull reader that allocates nothing.
**
** The caller asks for one token at a time; strings are unescaped in place
** (an unescaped string is never longer than its escaped text) and
** NUL-terminated where their closing quote was, so the text a reader walks
** is modified and a string token stays valid as long as that text does.
** A reader made with AM_JSON_CHECK only checks and never writes, so a body
** can be scanned once (to validate it, count its values and measure them
** before anything is allocated) and then read for real.
**
**     am_json j;
**     am__json_init(&j, body, len, 0);
**     for (am_json_tok t; (t = am__json_next(&j)) > AM_JSON_END;) ...
**     if (t == AM_JSON_ERROR) ... am__json_error(&j) names the problem
**
** The grammar is RFC 8259's, strictly: UTF-8 is checked (an invalid byte,
** a lone surrogate escape, a control character in a string are errors);
** numbers follow its grammar and must be finite as doubles, at most
** AM_NUM_MAX_TEXT characters long; nesting is bounded by AM_JSON_MAX_DEPTH.
** Duplicate member names are the caller's to detect (it knows what a name
** means). Not thread-safe: one reader, one
** thread.
*/
#ifndef AM_UTIL_JSON_H
#define AM_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AM_JSON_MAX_DEPTH 64

typedef enum am_json_tok {
    AM_JSON_ERROR = -1,
    AM_JSON_END = 0,    /* no more values */
    AM_JSON_OBJECT,     /* '{' */
    AM_JSON_OBJECT_END, /* '}' */
    AM_JSON_ARRAY,      /* '[' */
    AM_JSON_ARRAY_END,  /* ']' */
    AM_JSON_KEY,        /* a member name: str, len */
    AM_JSON_STRING,     /* str, len */
    AM_JSON_NUMBER,     /* num */
    AM_JSON_TRUE,
    AM_JSON_FALSE,
    AM_JSON_NULL
} am_json_tok;

/* Flags for am__json_init(). */
#define AM_JSON_SEQUENCE 0x1u /* top-level values one after another ({..}{..}) */
#define AM_JSON_CHECK 0x2u    /* only check: never write into the text */

typedef struct am_json {
    /* the current token's value */
    const char *str; /* KEY, STRING: unescaped, NUL-terminated (not with CHECK) */
    size_t len;      /*   its length in bytes (as unescaped, also with CHECK) */
    double num;      /* NUMBER */
    size_t tok_off;  /* where the current token starts in the text */
    /* private */
    char *p, *end, *base;
    unsigned flags, depth, want;
    uint64_t is_object[AM_JSON_MAX_DEPTH / 64];
    size_t err_off;
    char err[180];
} am_json;

/*
** Start reading text[0..n). text is borrowed and, unless flags has
** AM_JSON_CHECK, written to (strings are unescaped in place); it must
** outlive every token read from it.
*/
void am__json_init(am_json *j, char *text, size_t n, unsigned flags);

/* The next token; AM_JSON_END after the last value (and whitespace);
   AM_JSON_ERROR, then always AM_JSON_ERROR, on bad text. */
am_json_tok am__json_next(am_json *j);

/*
** Skip the value whose first token t was just read (a scalar: nothing to
** do; an object or array: up to its end). Returns t's last token
** (AM_JSON_OBJECT_END, ...) or AM_JSON_ERROR.
*/
am_json_tok am__json_skip(am_json *j, am_json_tok t);

/* Nesting depth after the last token (0 at top level). */
unsigned am__json_depth(const am_json *j);

/* Where reading is, as an offset into the text. */
size_t am__json_offset(const am_json *j);

/*
** After AM_JSON_ERROR: a sentence naming the problem and where it is
** ("invalid escape \q at line 3, column 12"). Borrowed from j.
*/
const char *am__json_error(const am_json *j);

#endif
