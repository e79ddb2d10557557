/*
** log_registry.c: every logger of the process in one list, for the two
** things that must reach them all -- fork() and exit.
**
** FORK. A child has one thread, the one that forked. A lock some other
** thread held at that moment stays held in the child for ever, and the
** child's next line into that logger would hang. So, in the child:
**   - each logger's rwlock is made again. It is held while a line goes
**     into a pipe or socket, or to a write_fn, and it guards nothing but
**     that write, which was the parent's (its line is the parent's too).
**     It is not taken before fork(): a reader that stalls the pipe would
**     then stall fork() as well.
**   - a buffered logger's buffer is emptied and its locks made again
**     (log_buffer.c, am__logbuf_fork_child). Before fork() its `mu` is
**     taken, because `mu` guards the buffer's pointers and length, and is
**     never held across a write(2).
** The list's own lock is taken before fork() and released after, in both
** processes, so the child's copy of the list is whole.
**
** EXIT. A destructor writes what buffered loggers have gathered (exit()
** and returning from main(); _exit() and a crash lose it).
**
** Lock order: the list's lock, then a buffer's out, then its mu.
*/
#include "log_registry.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static am__log_entry *g_list;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&g_lock);
    for (am__log_entry *e = g_list; e; e = e->next)
        if (e->buf)
            am__logbuf_fork_prepare(e->buf);
}

static void after_fork_parent(void)
{
    for (am__log_entry *e = g_list; e; e = e->next)
        if (e->buf)
            am__logbuf_fork_parent(e->buf);
    pthread_mutex_unlock(&g_lock);
}

static void after_fork_child(void)
{
    for (am__log_entry *e = g_list; e; e = e->next) {
        pthread_rwlock_init(e->lock, NULL); /* see FORK above */
        if (e->buf)
            am__logbuf_fork_child(e->buf);
    }
    pthread_mutex_unlock(&g_lock); /* taken by this thread, before fork() */
}

static void register_atfork(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void am__log_register(am__log_entry *e)
{
    pthread_once(&g_atfork_once, register_atfork);
    pthread_mutex_lock(&g_lock);
    e->prev = NULL;
    e->next = g_list;
    if (g_list)
        g_list->prev = e;
    g_list = e;
    pthread_mutex_unlock(&g_lock);
}

void am__log_unregister(am__log_entry *e)
{
    pthread_mutex_lock(&g_lock);
    if (e->prev)
        e->prev->next = e->next;
    else
        g_list = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
    pthread_mutex_unlock(&g_lock);
}

/* At exit (and if the library is unloaded): what is gathered is written. */
__attribute__((destructor)) static void flush_all(void)
{
    pthread_mutex_lock(&g_lock);
    for (am__log_entry *e = g_list; e; e = e->next)
        if (e->buf)
            (void)am__logbuf_flush(e->buf);
    pthread_mutex_unlock(&g_lock);
}
