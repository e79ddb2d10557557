/*
** buf.h: a growing byte buffer with a size cap and a sticky error (STYLE
** rule 17, after curl's dynbuf).
**
** Appends return nothing; once an append fails (out of memory or over the
** cap) every later append is ignored and am_buf_err() reports the first
** failure. Check it once before handing the bytes out, so a failed encode
** never escapes truncated. The content is always NUL-terminated.
*/
#ifndef AM_CORE_BUF_H
#define AM_CORE_BUF_H

#include <stddef.h>
#include <string.h>

#include "agentmon/common.h"

typedef struct am_buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    am_err err;
} am_buf;

/* max 0 means no cap beyond memory. */
void am_buf_init(am_buf *b, size_t max);
void am_buf_free(am_buf *b);
/* Start b (initialised, empty) on block p of cap >= 1 bytes from am__malloc(): takes p. */
void am_buf_adopt(am_buf *b, char *p, size_t cap);
char *am_buf_reserve_slow(am_buf *b, size_t n);
void am_buf_append_slow(am_buf *b, const void *s, size_t n);
void am_buf_printf(am_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Detach the content: owned result, free with am__free(); the buf is reset. */
char *am_buf_take(am_buf *b, size_t *len);

static inline am_err am_buf_err(const am_buf *b)
{
    return b->err;
}

static inline void am_buf_append(am_buf *b, const void *s, size_t n)
{
    if (b->len + n < b->cap && !b->err) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
        return;
    }
    am_buf_append_slow(b, s, n);
}

/* Ensure room for n more bytes; returns a pointer to write at, or NULL.
   Inline: an encoder reserves once per sample. */
static inline char *am_buf_reserve(am_buf *b, size_t n)
{
    if (b->len + n < b->cap && !b->err)
        return b->p + b->len;
    return am_buf_reserve_slow(b, n);
}

static inline void am_buf_puts(am_buf *b, const char *s)
{
    am_buf_append(b, s, strlen(s));
}

static inline void am_buf_putc(am_buf *b, char c)
{
    if (b->len + 1 < b->cap && !b->err) {
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
        return;
    }
    am_buf_append_slow(b, &c, 1);
}

#endif
