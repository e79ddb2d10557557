/*
** error.c: am__err(), setting the thread's error detail on the way out.
**
** The sentence is formatted here and stored by the library's public
** am_errmsg_set() (src/core/common.c), which owns the one per-thread
** buffer: the library's own copy of util and the agentmon program's copy
** (when it links libagentmon.so) both write there, so am_errmsg() tells a
** caller about the last failure on its thread whichever side it came from.
** Formatting is into a stack buffer of the same size: no allocation, so it
** works when memory has run out.
*/
#include <stdarg.h>
#include <stdio.h>

#include "agentmon/common.h"
#include "error.h"

am_err am__err(am_err code, const char *fmt, ...)
{
    /* through a copy: an argument may be am_errmsg() itself, adding context
       to the message of a call that failed below */
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return am_errmsg_set(code, msg);
}
