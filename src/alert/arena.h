/*
** arena.h: bump allocation for work that is freed all at once.
**
** A PromQL expression's syntax tree, and everything one evaluation makes
** (vectors, label sets, scratch), live in an arena: allocation is a pointer
** bump, there is no free per object, and the whole lot goes with one
** am__arena_free(). When memory runs out the arena longjmps to the jmp_buf
** its owner armed (am__arena_init), so code under it need not test every
** allocation; without a jmp_buf it returns NULL.
*/
#ifndef AM_ALERT_ARENA_H
#define AM_ALERT_ARENA_H

#include <setjmp.h>
#include <stddef.h>

typedef struct am_arena_blk am_arena_blk;

typedef struct am_arena {
    am_arena_blk *head;
    jmp_buf *oom; /* where to go when memory runs out; NULL: return NULL */
    size_t total; /* bytes taken from the allocator */
    size_t max;   /* 0, or a cap on total: over it counts as out of memory */
} am_arena;

void am__arena_init(am_arena *a, jmp_buf *oom);
void am__arena_free(am_arena *a);

/* n bytes aligned for any type, uninitialised / zeroed. */
void *am__arena_alloc(am_arena *a, size_t n);
void *am__arena_zalloc(am_arena *a, size_t n);
char *am__arena_strndup(am_arena *a, const char *s, size_t n);
char *am__arena_strdup(am_arena *a, const char *s);

/*
** Room for need elements of elem bytes in v (of *cap): v itself when it has
** room, else a copy twice as large (the old block stays in the arena).
*/
void *am__arena_grow(am_arena *a, void *v, size_t *cap, size_t need, size_t elem);

#endif
