/*
** common.c: the process-wide entries of common.h -- error names and texts,
** the per-thread detail message, the version, the allocator hook, am_free.
**
** Public functions live here, in the library proper, and never in src/util:
** the agentmon program may link libagentmon.so together with its own copy
** of util (agentmon_util), and a public symbol defined in that copy would
** interpose on the library's (an executable's definition wins over a shared
** object's). So there is exactly one definition of each, and the state that
** must be one per process is the library's:
**
** - The thread's detail message (t_msg) is here. util/error.c's am__err()
**   formats and hands the sentence to am_errmsg_set(), so both the library
**   and a program with its own util copy write this one buffer, and
**   am_errmsg() reads whichever failed last on the thread.
** - The allocator hook is util/alloc.c's, one per copy of util. Only the
**   library's copy is set by am_set_allocator(); the program never calls it
**   (scripts/check-src.sh), so both copies allocate with the C library's
**   malloc, and memory that crosses the API ("takes", "owned result") goes
**   back to the same allocator whichever side releases it.
**
** Names and texts come from AM_ERR_LIST in common.h, the single list of
** codes. The detail buffer is thread-local and fixed-size, so recording an
** error never allocates (it must work when memory has run out).
*/
#include <string.h>

#include "agentmon/common.h"
#include "../encode/spare.h"
#include "../util/alloc.h"

static __thread char t_msg[256];

const char *am_strerror(am_err e)
{
    switch (e) {
#define AM__ERR_TEXT(name, num, text)                                                              \
    case name:                                                                                     \
        return text;
        AM_ERR_LIST(AM__ERR_TEXT)
#undef AM__ERR_TEXT
    }
    return "unknown error";
}

const char *am_err_name(am_err e)
{
    switch (e) {
#define AM__ERR_NAME(name, num, text)                                                              \
    case name:                                                                                     \
        return #name;
        AM_ERR_LIST(AM__ERR_NAME)
#undef AM__ERR_NAME
    }
    return "AM_UNKNOWN";
}

const char *am_errmsg(void)
{
    return t_msg;
}

am_err am_errmsg_set(am_err code, const char *msg)
{
    /* through a copy: msg may be t_msg itself (or overlap it) */
    char tmp[sizeof t_msg];
    size_t n = msg ? strnlen(msg, sizeof tmp - 1) : 0;
    if (n)
        memcpy(tmp, msg, n);
    tmp[n] = '\0';
    memcpy(t_msg, tmp, n + 1);
    return code;
}

const char *am_version(void)
{
    return AM_VERSION_STRING;
}

am_err am_set_allocator(const am_allocator *a)
{
    am__spare_drop(); /* the kept block goes back to the allocator that made it */
    return am__alloc_set(a);
}

void am_free(void *p)
{
    /* the last exposition's block is kept for the next encode (spare.c) */
    if (!am__spare_return(p))
        am__free(p);
}
