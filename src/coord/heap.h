/*
** heap.h: a binary min-heap of items keyed by a double, with each item
** remembering its position so it can be removed from the middle.
**
** The memory coordinator keeps two per agent: messages waiting for a
** retry's backoff (keyed by when they are due) and reservations (keyed by
** when they expire). Items embed an am_heap_node.
*/
#ifndef AM_COORD_HEAP_H
#define AM_COORD_HEAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct am_heap_node {
    double key;
    size_t pos; /* index in the heap, (size_t)-1 when not in one */
} am_heap_node;

typedef struct am_heap {
    am_heap_node **v;
    size_t n, cap;
} am_heap;

/* false on ENOMEM (the heap is unchanged). */
bool am__heap_push(am_heap *h, am_heap_node *x);
am_heap_node *am__heap_top(const am_heap *h);
am_heap_node *am__heap_pop(am_heap *h);
void am__heap_remove(am_heap *h, am_heap_node *x);
void am__heap_free(am_heap *h);
/* Make room for n more items, so later pushes cannot fail. */
bool am__heap_reserve(am_heap *h, size_t n);

#endif
