/*
** error.h: setting the thread's error detail on the way out of a call.
**
**     return am__err(AM_EINVAL, "label name \"%s\" is reserved", name);
**
** records the sentence for am_errmsg() and returns the code, so a failure
** and its explanation are one statement.
*/
#ifndef AM_CORE_ERROR_H
#define AM_CORE_ERROR_H

#include "agentmon/common.h"

am_err am__err(am_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
