/*
** trace_internal.h: what log.c needs from trace.c, not part of the API.
**
** The calling thread's current context is kept with its ids already in hex,
** so a log line or an exemplar copies 48 bytes instead of formatting them.
*/
#ifndef AM_LOG_TRACE_INTERNAL_H
#define AM_LOG_TRACE_INTERNAL_H

#include <stdbool.h>

#include "agentmon/trace.h"
#include "../util/random.h"

/*
** Whether the calling thread has a current context; if so *trace_hex and
** *span_hex point at its ids in lowercase hex (32 and 16 characters,
** NUL-terminated), valid until this thread changes its current context.
*/
bool am__trace_current_hex(const char **trace_hex, const char **span_hex);

/*
** The exemplar text trace_id="...",span_id="..." of ctx, or of the calling
** thread's current context when ctx is NULL, into out (room for
** AM__TRACE_EXEMPLAR_MAX); returns its length, or 0 when there is no
** context or it is not sampled (exemplars follow sampling).
*/
#define AM__TRACE_EXEMPLAR_MAX 80
size_t am__trace_exemplar(const am_trace_ctx *ctx, char *out);

/* am__random_id(), am__hex(), am__id_hex(), am__uuid4(): util/random.h. */

#endif
