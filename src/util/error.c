/*
** error.c: error names, explanations and the per-thread detail message.
**
** Names and texts come from AM_ERR_LIST in common.h, the single list of
** codes. The detail buffer is thread-local and fixed-size, so recording an
** error never allocates (it must work when memory has run out).
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agentmon/common.h"
#include "error.h"

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

am_err am__err(am_err code, const char *fmt, ...)
{
    /* through a copy: an argument may be am_errmsg() itself, adding context
       to the message of a call that failed below */
    char msg[sizeof t_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(t_msg, msg, sizeof msg);
    return code;
}

const char *am_version(void)
{
    return AM_VERSION_STRING;
}
