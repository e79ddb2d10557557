/*
** alloc.h: the library's only way to get memory (STYLE rule 13).
**
** Every allocation goes through the allocator set with am_set_allocator(),
** so a test can fail the k-th one and check that the caller unwinds cleanly.
** None of these abort: NULL means AM_ENOMEM to the caller.
*/
#ifndef AM_CORE_ALLOC_H
#define AM_CORE_ALLOC_H

#include <stddef.h>

void *am__malloc(size_t n);
void *am__calloc(size_t count, size_t size);
void *am__realloc(void *p, size_t n);
void am__free(void *p);
char *am__strdup(const char *s);
char *am__strndup(const char *s, size_t n);
/* Memory aligned to a cache line, released with am__free_aligned(). */
void *am__calloc_aligned(size_t n);
void am__free_aligned(void *p);

#endif
