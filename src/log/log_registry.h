/*
** log_registry.h: every logger of the process, for what must reach them
** all: fork() and exit. Internal to src/log; log.c registers each logger
** it makes (and the default one), log_registry.c keeps the list.
*/
#ifndef AM_LOG_REGISTRY_H
#define AM_LOG_REGISTRY_H

#include <pthread.h>

#include "log_buffer.h"

/* A logger's entry, inside the logger: its lock, its buffer (NULL unless
   AM_LOG_BUFFERED). The registry links it and never frees it. */
typedef struct am__log_entry {
    pthread_rwlock_t *lock;
    am__logbuf *buf;
    struct am__log_entry *prev, *next;
} am__log_entry;

/* Add e (lock and buf set) to the list; any thread. */
void am__log_register(am__log_entry *e);

/* Take e off the list, before its logger is freed; any thread. */
void am__log_unregister(am__log_entry *e);

#endif
