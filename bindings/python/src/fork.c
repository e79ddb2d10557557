/*
** fork.c: the fork gate -- what makes the module safe across fork().
**
** THE PROBLEM
** fork() copies the process with only the calling thread. A lock that
** another thread held at that instant stays held in the child for ever, so
** the child deadlocks the first time it takes it. The library's locks (a
** family's mutex, the cells' rwlock, a registry's rwlock, the logger's
** lock) are only held inside library calls; with the GIL held no other
** Python thread is inside one, because every call the module makes with the
** GIL held is finished before the GIL can pass. The exceptions are the
** calls made without the GIL (encodes, pushes, coordinator operations, log
** writes) and the library calls made by HTTP handler threads.
**
** THE GATE
** Each of those sections holds this rwlock shared (EXT_NOGIL_BEGIN/END, and
** the HTTP handlers). A pthread_atfork prepare handler takes it exclusive,
** so fork() waits until no such section is running and lets none start;
** the parent releases it afterwards, the child starts with a fresh one.
** Sections are short (blocking receives wait in slices of at most 250 ms,
** see coord.c), so a fork waits at most that long.
**
** Lock order: the GIL, then the gate -- never the gate while acquiring the
** GIL. Sections release the GIL before entering the gate and leave the gate
** before taking the GIL back; os.fork() holds the GIL while the prepare
** handler waits, which is fine since sections in the gate never need it.
**
** Objects that own threads or connections (HTTP servers, coordinators)
** remember the pid that made them: in a child their threads do not exist,
** so they refuse to be used and their destructors only forget them.
*/
#include <unistd.h>

#include "ext.h"

static pthread_rwlock_t g_gate = PTHREAD_RWLOCK_INITIALIZER;

void ext_gate_enter(void)
{
    pthread_rwlock_rdlock(&g_gate);
}

void ext_gate_leave(void)
{
    pthread_rwlock_unlock(&g_gate);
}

static void prepare(void)
{
    pthread_rwlock_wrlock(&g_gate);
}

static void parent(void)
{
    pthread_rwlock_unlock(&g_gate);
}

static void child(void)
{
    /* Only this thread exists: a fresh lock replaces the one it held. */
    static const pthread_rwlock_t fresh = PTHREAD_RWLOCK_INITIALIZER;
    memcpy(&g_gate, &fresh, sizeof g_gate);
}

bool ext_forked_since(pid_t owner)
{
    return getpid() != owner;
}

int ext_fork_init(PyObject *m)
{
    (void)m;
    if (pthread_atfork(prepare, parent, child) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "pthread_atfork failed");
        return -1;
    }
    return 0;
}
