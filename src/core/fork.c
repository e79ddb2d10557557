/*
** fork.c: the fork gate (fork.h): am_fork_enter() and am_fork_leave()
** (common.h), which the core's lock helpers call too.
**
** THE GATE is one atomic word: the number of open sections, a WAITING bit
** (a fork waits for them to close) and a HELD bit (a fork is under way,
** from the moment none was open until the parent's or child's handler).
** A section opens by a CAS that adds one while HELD is clear; the prepare
** handler's CAS turns "no section open" into HELD. One word, so no section
** can open between the fork seeing none and taking the gate.
**
** NESTING. A thread counts its open sections and only its outermost one
** touches the word, so an encode pays for one entry, not one a family.
**
** A FORK IS NOT STARVED, AND NOTHING DEADLOCKS. A thread about to open a
** section lets a WAITING fork pass first, but only for a while
** (FORK_YIELD_NS): it may hold a lock of its own (a coordinator's agent
** lock, around a counter's first series) that a section already open waits
** for (a scrape-time callback takes it), and the fork waits for that
** section. While HELD, no section is open, so a thread that waits for HELD
** to clear holds nothing a fork needs. An rwlock cannot say both: one that
** prefers readers starves the fork; one that prefers the writer is that
** deadlock.
**
** The pthread_atfork handlers are installed by the first entry: a process
** cannot hold a core lock before it, so no fork can find one held before
** the handlers exist.
*/
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "agentmon/common.h"
#include "agentmon/timer.h"
#include "fork.h"

#define HELD (UINT64_C(1) << 63)
#define WAITING (UINT64_C(1) << 62)
#define FORK_YIELD_NS 20000000 /* 20 ms */

static _Atomic uint64_t g_gate; /* HELD | WAITING | open sections */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static __thread unsigned t_depth; /* this thread's open sections */

/* A wait lasts as long as a section or a fork: yield at first, then
   sleep, so that a long one (an encode of a large registry) costs no core. */
static void pause_a_while(unsigned *spins)
{
    if ((*spins)++ < 64)
        sched_yield();
    else
        nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
}

static void prepare(void)
{
    if (t_depth > 0)
        return; /* forked inside a section (fork.h forbids it): waiting would never end */
    unsigned spins = 0;
    for (;;) {
        uint64_t v = atomic_load(&g_gate);
        if ((v & ~WAITING) == 0) { /* none open, no other fork under way */
            if (atomic_compare_exchange_weak(&g_gate, &v, HELD))
                return;
            continue;
        }
        if (!(v & WAITING))
            atomic_fetch_or(&g_gate, WAITING);
        pause_a_while(&spins);
    }
}

/* In the parent, another thread's fork may be WAITING: keep its bit. */
static void parent(void)
{
    atomic_fetch_and(&g_gate, ~HELD);
}

/* The child has only this thread, and its sections (if it broke the rule). */
static void child(void)
{
    atomic_store(&g_gate, t_depth > 0 ? 1 : 0);
}

static void install(void)
{
    pthread_atfork(prepare, parent, child);
}

void am_fork_enter(void)
{
    if (t_depth++ > 0)
        return;
    pthread_once(&g_once, install);
    uint64_t until = 0;
    unsigned spins = 0;
    for (;;) {
        uint64_t v = atomic_load_explicit(&g_gate, memory_order_relaxed);
        if (!(v & HELD)) {
            bool polite = false;
            if (v & WAITING) {
                uint64_t now = am_now_ns();
                if (until == 0)
                    until = now + FORK_YIELD_NS;
                polite = now < until;
            }
            if (!polite && atomic_compare_exchange_weak(&g_gate, &v, v + 1))
                return;
            if (!polite)
                continue;
        }
        pause_a_while(&spins);
    }
}

void am_fork_leave(void)
{
    if (--t_depth == 0)
        atomic_fetch_sub(&g_gate, 1);
}
