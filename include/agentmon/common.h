/*
** common.h: what every part of the public API shares: export macros,
** error codes, the allocator hook, owned-memory release and shutdown.
**
** Error codes are append-only and never renumbered; AM_OK is always 0. Every
** code has a name (am_err_name) and an explanation (am_strerror), both
** generated from the one list below. A failing call also leaves a sentence
** naming the problem for the calling thread, read with am_errmsg().
*/
#ifndef AGENTMON_COMMON_H
#define AGENTMON_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define AM_EXTERN __attribute__((visibility("default")))
#define AM_DEPRECATED(since, msg) __attribute__((deprecated("since " since ": " msg)))
#else
#define AM_EXTERN
#define AM_DEPRECATED(since, msg)
#endif

/* AM_STR(9470) is "9470": a numeric macro as a string literal. Since: 0.3 */
#define AM_STR(x) AM__STR(x)
#define AM__STR(x) #x

/* X(name, number, explanation): append only, never renumber. */
#define AM_ERR_LIST(X)                                                                             \
    X(AM_OK, 0, "success")                                                                         \
    X(AM_EINVAL, 1, "invalid argument")                                                            \
    X(AM_ENOMEM, 2, "out of memory")                                                               \
    X(AM_EEXIST, 3, "already exists with a different definition")                                  \
    X(AM_ELIMIT, 4, "limit reached")                                                               \
    X(AM_EIO, 5, "input/output error")                                                             \
    X(AM_ETIMEDOUT, 6, "timed out")                                                                \
    X(AM_EBACKEND, 7, "backend error")                                                             \
    X(AM_EPROTO, 8, "protocol error")                                                              \
    X(AM_EMISUSE, 9, "library used incorrectly")                                                   \
    X(AM_ENOTFOUND, 10, "not found")                                                               \
    X(AM_EFULL, 11, "full")                                                                        \
    X(AM_EBUSY, 12, "busy: the operation is in progress")

typedef enum am_err {
#define AM__ERR_ENUM(name, num, text) name = num,
    AM_ERR_LIST(AM__ERR_ENUM)
#undef AM__ERR_ENUM
} am_err;

/* The highest code so far (for iterating over all of them). */
#define AM_ERR_LAST AM_EBUSY

/*
** am_strerror: a constant English explanation of an error code.
** Never NULL; unknown codes give "unknown error". Thread-safe. Since: 0.1
*/
AM_EXTERN const char *am_strerror(am_err e);

/*
** am_err_name: the symbolic name of a code ("AM_EINVAL"), or "AM_UNKNOWN".
** Thread-safe. Since: 0.1
*/
AM_EXTERN const char *am_err_name(am_err e);

/*
** am_errmsg: the detail of the last error returned to the calling thread
** ("label name \"__x\" is reserved"), or "" when there is none. The string
** is thread-local and valid until the thread's next failing call. Since: 0.1
*/
AM_EXTERN const char *am_errmsg(void);

/*
** am_errmsg_set: make msg the calling thread's am_errmsg() and return code,
** for code layered on libagentmon that returns am_err in its convention (a
** binding, a wrapper, a program with its own parts) so that its callers
** read one detail message: `return am_errmsg_set(AM_EINVAL, "bad port");`.
** msg      copied; its first 255 bytes are kept. NULL is taken as "". It
**          may be am_errmsg() itself.
** Returns code unchanged. Never fails, never allocates. Thread-safe (the
** message is per thread). Since: 0.3
*/
AM_EXTERN am_err am_errmsg_set(am_err code, const char *msg);

/*
** am_version: the version string of the linked library ("0.3.0").
** Thread-safe. Since: 0.1
*/
AM_EXTERN const char *am_version(void);

/* Allocation functions used for every allocation the library makes. */
typedef struct am_allocator {
    void *(*malloc_fn)(size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
} am_allocator;

/*
** am_set_allocator: route all of the library's allocations through a.
** a        copied; NULL restores the C library's malloc/realloc/free.
** Call before any other am_ function and never while other threads use the
** library: memory allocated by one allocator is freed by the one in force.
** Returns AM_EINVAL if a function pointer is NULL. Since: 0.1
*/
AM_EXTERN am_err am_set_allocator(const am_allocator *a);

/*
** am_free: release an owned result the library returned (encoded text,
** snapshots). am_free(NULL) is a no-op. Thread-safe. Since: 0.1
** The block of the last exposition (2 MiB or more) is kept for the next
** encode rather than freed, until am_shutdown(); free encoded text with
** this, never free(), or a later block could be mistaken for it.
*/
AM_EXTERN void am_free(void *p);

/*
** am_fork_enter, am_fork_leave: bracket a section that fork() must not cut.
** fork() waits until no section is open and lets none open; the child
** starts with none. The library's own locks are taken inside such sections,
** so a child may use the metrics core whatever other threads were doing
** (objects that own threads or sockets -- HTTP servers, coordinators,
** senders -- stay the parent's: open new ones in the child). Bracket code
** of your own whose locks a child needs, or a section a child must not see
** half done. Sections nest; never wait inside one for the thread that
** forks, never fork inside one. Thread-safe; never fail. Since: 0.3
*/
AM_EXTERN void am_fork_enter(void);
AM_EXTERN void am_fork_leave(void);

/*
** am_shutdown: free the default registry and the library's process-wide
** state so that leak checkers see a clean exit. Every handle is invalid
** afterwards; call once, when no other thread uses the library. Since: 0.1
*/
AM_EXTERN void am_shutdown(void);

#ifdef __cplusplus
}
#endif
#endif
