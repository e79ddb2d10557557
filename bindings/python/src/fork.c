/*
** fork.c: what makes the module safe across fork().
**
** THE PROBLEM
** fork() copies the process with only the calling thread. A lock that
** another thread held at that instant stays held in the child for ever, so
** the child deadlocks the first time it takes it.
**
** THE GATE
** libagentmon takes every lock of its metrics core inside its fork gate
** (am_fork_enter, common.h), which a pthread_atfork handler closes: fork()
** waits until none is held, whichever thread holds it -- a Python thread,
** an HTTP server's handler thread, a thread that is exiting. The module
** brackets with the same gate each section it runs without the GIL
** (EXT_NOGIL_BEGIN/END: encodes, pushes, coordinator operations, log
** writes), so the locks outside the core those take (a logger's, a
** connection pool's) are never copied held either.
**
** Lock order: the GIL, then the gate -- never the gate while acquiring the
** GIL. Sections release the GIL before entering the gate and leave the gate
** before taking the GIL back; os.fork() holds the GIL while the prepare
** handler waits, which is fine since sections in the gate never need it.
** Sections are short (blocking receives wait in slices of at most 250 ms,
** see coord.c), so a fork waits at most that long.
**
** Objects that own threads or connections (HTTP servers, coordinators)
** remember the pid that made them: in a child their threads do not exist,
** so they refuse to be used and their destructors only forget them.
*/
#include <unistd.h>

#include "ext.h"

bool ext_forked_since(pid_t owner)
{
    return getpid() != owner;
}
