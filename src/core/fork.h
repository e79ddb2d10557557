/*
** fork.h: the fork gate -- fork() never copies a library lock held.
**
** fork() copies only the calling thread: a lock another thread held at that
** instant stays held in the child for ever, and the child deadlocks the
** first time it takes it. So every lock of the metrics core (the cells',
** a registry's, a family's, the reclaimer's, the kept exposition block's)
** is taken inside a section of the gate, a process-wide count of open
** sections, and a pthread_atfork prepare handler closes the gate: fork()
** waits until no section is open and lets none open; the parent reopens
** the gate, the child starts with it open and empty. This holds whichever thread
** holds the lock: an application's, a library thread (HTTP handlers, a
** coordinator's refresher), a thread's exit (its cells are folded).
**
** Sections nest (an encode holds a registry's lock, then each family's);
** only a thread's outermost one touches the gate, and a fork that waits
** never makes a section wait for ever (fork.c). What runs inside must
** never wait for the forking thread, and never fork: no lock here is held
** across a call to the application but those of callback families.
*/
#ifndef AM_CORE_FORK_H
#define AM_CORE_FORK_H

#include <pthread.h>

#include "agentmon/common.h" /* am_fork_enter, am_fork_leave */

/* The core's locks, each taken and released inside the gate. */
static inline void am__lock(pthread_mutex_t *m)
{
    am_fork_enter();
    pthread_mutex_lock(m);
}

static inline void am__unlock(pthread_mutex_t *m)
{
    pthread_mutex_unlock(m);
    am_fork_leave();
}

static inline void am__rdlock(pthread_rwlock_t *l)
{
    am_fork_enter();
    pthread_rwlock_rdlock(l);
}

static inline void am__wrlock(pthread_rwlock_t *l)
{
    am_fork_enter();
    pthread_rwlock_wrlock(l);
}

static inline void am__rwunlock(pthread_rwlock_t *l)
{
    pthread_rwlock_unlock(l);
    am_fork_leave();
}

#endif
