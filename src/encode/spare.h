/*
** spare.h: the one exposition block the library keeps between encodes
** (spare.c), so a process's second scrape writes into memory its first
** already faulted in.
*/
#ifndef AM_ENCODE_SPARE_H
#define AM_ENCODE_SPARE_H

#include <stdbool.h>
#include <stddef.h>

/* Blocks smaller than this are left to malloc, which reuses them well. */
#define AM_SPARE_MIN ((size_t)2 << 20)

/*
** p (cap bytes, from am__malloc) is an exposition just handed to a caller:
** when it comes back through am_free(), keep it. Only the last block lent
** is remembered; a smaller than AM_SPARE_MIN one is not.
*/
void am__spare_lend(char *p, size_t cap);

/*
** Called by am_free(): true when p is the block last lent, now kept (or
** freed if the kept one is larger); false when p is not the library's to
** keep, and the caller frees it.
*/
bool am__spare_return(void *p);

/*
** The kept block if it holds at least want bytes (owned result, its
** capacity in *cap), else NULL and the block stays kept.
*/
char *am__spare_take(size_t want, size_t *cap);

/* Free the kept block and forget the lent one: am_shutdown(), and
   am_set_allocator() (a block is freed by the allocator that made it). */
void am__spare_drop(void);

#endif
