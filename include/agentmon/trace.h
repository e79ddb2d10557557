/*
** trace.h: W3C Trace Context -- trace and span ids, the traceparent and
** tracestate headers, a current context per thread, and exemplars that
** link histogram and counter samples to the trace that produced them.
**
**     am_trace_ctx ctx;                                   a request arrives
**     if (am_trace_continue(hdr_traceparent, hdr_tracestate, &ctx) == AM_EINVAL)
**         AM_LOG_WARNING(NULL, "gateway", "bad traceparent", AM_F_STR("why", am_errmsg()));
**     am_trace_set_current(&ctx);                         logs now carry its ids
**     am_histogram_observe_traced(task_seconds, 0.42);    exemplar {trace_id, span_id}
**     char tp[AM_TRACEPARENT_LEN + 1];
**     am_traceparent_format(&ctx, tp);                    send downstream
**
** Wire format (https://www.w3.org/TR/trace-context/, version 00):
**     00-<32 lowercase hex trace-id>-<16 lowercase hex parent-id>-<2 hex flags>
** An all-zero trace-id or parent-id, version ff, uppercase hex and any other
** length are refused. A later version (01..fe) is read as far as version 00
** defines it when the header is at least 55 bytes and the flags are followed
** by the end or '-'; we always write version 00. Flags are kept as received.
**
** tracestate is carried verbatim when it follows the W3C grammar: at most
** AM_TRACESTATE_MAX (512) bytes of printable ASCII, list members separated by
** commas (optional spaces and tabs around them; empty members allowed), at
** most 32 non-empty members, each key=value with a valid key (lowercase
** simple-key or tenant@system) and value (no ',' or '=', no trailing space).
**
** Ids come from the kernel's random source (getrandom(2)), read 256 bytes at
** a time into a per-thread buffer, so a new id rarely costs a system call.
** The buffer is discarded in the child after fork(), so parent and child
** never hand out the same ids. If getrandom is unavailable the ids come from
** a per-thread generator seeded from the clock, thread and process (unique,
** not unpredictable). Ids are never all zero.
**
** A context is a plain value (no pointers inside): copy it, keep it on the
** stack, send it to another thread. Nothing here allocates or fails for
** lack of memory.
*/
#ifndef AGENTMON_TRACE_H
#define AGENTMON_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AM_TRACE_ID_SIZE 16 /* bytes of a trace id */
#define AM_SPAN_ID_SIZE 8   /* bytes of a span id */
#define AM_TRACE_ID_HEX 32  /* its lowercase hex length */
#define AM_SPAN_ID_HEX 16
#define AM_TRACEPARENT_LEN 55 /* "00-" 32 "-" 16 "-" 2 */
#define AM_TRACESTATE_MAX 512 /* bytes of tracestate kept */
#define AM_TRACESTATE_MAX_MEMBERS 32
#define AM_TRACE_FLAG_SAMPLED 0x01u

/*
** A span's identity. An all-zero trace_id means "no context" (see
** am_trace_ctx_is_valid); AM_TRACE_CTX_INIT is that. parent_span_id is the
** span this one is a child of (all zero for a trace's root, or a context
** read from a header, whose span_id is the remote caller's span).
** tracestate holds tracestate_len bytes, NUL-terminated, verbatim.
*/
typedef struct am_trace_ctx {
    uint8_t trace_id[AM_TRACE_ID_SIZE];
    uint8_t span_id[AM_SPAN_ID_SIZE];
    uint8_t parent_span_id[AM_SPAN_ID_SIZE];
    uint8_t flags; /* trace-flags; AM_TRACE_FLAG_SAMPLED is bit 0 */
    uint16_t tracestate_len;
    char tracestate[AM_TRACESTATE_MAX + 1];
    void *reserved[2];
} am_trace_ctx;

/* clang-format off */
#define AM_TRACE_CTX_INIT {.flags = 0}
/* clang-format on */

/* ------------------------------------------------------------------ */
/* Making contexts                                                     */
/* ------------------------------------------------------------------ */

/*
** am_trace_new: start a new trace: random trace and span ids, no parent,
** flags AM_TRACE_FLAG_SAMPLED, no tracestate.
** out      borrowed; written in full.
** Never fails; usually no system call (see the ids paragraph above).
** Thread-safe. Since: 0.1
*/
AM_EXTERN void am_trace_new(am_trace_ctx *out);

/*
** am_trace_child: a child span of parent: the same trace id, flags and
** tracestate, a new random span id, and parent_span_id = parent->span_id.
** parent   borrowed; may be the same object as out.
** out      borrowed; always written with a valid context.
** Returns AM_OK, or AM_EINVAL when parent is NULL or not valid, in which
** case out is a new trace (am_trace_new). Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_trace_child(const am_trace_ctx *parent, am_trace_ctx *out);

/*
** am_trace_ctx_is_valid: whether ctx names a span: non-NULL, with a
** non-zero trace id and span id. Thread-safe. Since: 0.1
*/
AM_EXTERN bool am_trace_ctx_is_valid(const am_trace_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Headers                                                             */
/* ------------------------------------------------------------------ */

/*
** am_traceparent_parse: read a traceparent header value.
** s        borrowed; len bytes, need not be NUL-terminated (bytes after a
**          NUL count, and make it invalid). No whitespace is trimmed.
** out      borrowed; on AM_OK the remote span: trace_id, span_id = the
**          header's parent-id, flags, no parent, no tracestate. Untouched
**          on error.
** Returns AM_OK, or AM_EINVAL with am_errmsg() naming the field that is
** wrong ("traceparent trace-id is all zeros"). Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_traceparent_parse(const char *s, size_t len, am_trace_ctx *out);

/*
** am_traceparent_format: write ctx as a version-00 traceparent, the value
** to send downstream (its parent-id is ctx's span_id).
** out      borrowed; room for AM_TRACEPARENT_LEN + 1 bytes; NUL-terminated.
** Returns AM_OK, or AM_EINVAL (out set to "") when ctx is not valid.
** For a context parsed from a version-00 header this is the header again,
** byte for byte. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_traceparent_format(const am_trace_ctx *ctx, char *out);

/*
** am_tracestate_set: check a tracestate header value (grammar above) and
** keep it in ctx verbatim.
** s        copied; len bytes. len 0 clears ctx's tracestate.
** Returns AM_OK, or AM_EINVAL with am_errmsg() naming the problem ("list
** member 3 has no '='"), ctx unchanged. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_tracestate_set(am_trace_ctx *ctx, const char *s, size_t len);

/*
** am_trace_continue: the context for work done on behalf of an incoming
** request: a child span of the caller's traceparent, carrying its
** tracestate.
** traceparent  borrowed, NUL-terminated; NULL or "" when the request had
**              none.
** tracestate   borrowed, NUL-terminated; may be NULL. Only read when the
**              traceparent is good (as the W3C spec says); a bad tracestate
**              is dropped without affecting the trace (check it yourself
**              with am_tracestate_set to learn why).
** out          borrowed; always written with a valid context, never a mix
**              of the header and a new trace.
** Returns AM_OK when the trace was continued; AM_EINVAL when traceparent is
** malformed (am_errmsg() says which field) and a new trace was started
** instead; AM_ENOTFOUND when there was no traceparent and a new trace was
** started. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_trace_continue(const char *traceparent, const char *tracestate,
                                   am_trace_ctx *out);

/*
** am_trace_id_hex / am_span_id_hex / am_parent_span_id_hex: an id as
** lowercase hex, NUL-terminated.
** ctx      borrowed. out  borrowed; room for AM_TRACE_ID_HEX + 1 (trace)
**          or AM_SPAN_ID_HEX + 1 (spans) bytes.
** Thread-safe; never fail. Since: 0.1
*/
AM_EXTERN void am_trace_id_hex(const am_trace_ctx *ctx, char *out);
AM_EXTERN void am_span_id_hex(const am_trace_ctx *ctx, char *out);
AM_EXTERN void am_parent_span_id_hex(const am_trace_ctx *ctx, char *out);

/* ------------------------------------------------------------------ */
/* The calling thread's current context                                */
/* ------------------------------------------------------------------ */

/*
** am_trace_set_current: make ctx the calling thread's current context, the
** one logs and *_traced metrics pick up. Each thread has its own; a new
** thread starts with none.
** ctx      copied; NULL or an invalid context clears it.
** Affects the calling thread only; never fails. Since: 0.1
*/
AM_EXTERN void am_trace_set_current(const am_trace_ctx *ctx);

/*
** am_trace_current: copy the calling thread's current context into out.
** out      borrowed; zeroed (AM_TRACE_CTX_INIT) when there is none.
** Returns AM_OK, or AM_ENOTFOUND when the thread has no current context.
** Reads the calling thread's context only. Since: 0.1
*/
AM_EXTERN am_err am_trace_current(am_trace_ctx *out);

/* am_trace_clear_current: the calling thread has no current context.
   Since: 0.1 */
AM_EXTERN void am_trace_clear_current(void);

/*
** am_trace_span_begin: start a child span of the thread's current context
** (or a new trace when there is none) and make it current.
** prev     borrowed; receives the previous current context (zeroed when
**          none), to hand to am_trace_span_end.
** Calling thread only; never fails. Since: 0.1
**
**     am_trace_ctx prev;
**     am_trace_span_begin(&prev);
**     ... work: logs and exemplars carry the child's span id ...
**     am_trace_span_end(&prev);
*/
AM_EXTERN void am_trace_span_begin(am_trace_ctx *prev);

/* am_trace_span_end: make prev current again (clears when prev is not
   valid). prev borrowed. Since: 0.1 */
AM_EXTERN void am_trace_span_end(const am_trace_ctx *prev);

/* ------------------------------------------------------------------ */
/* Exemplars from the current context                                  */
/* ------------------------------------------------------------------ */

/*
** am_histogram_observe_traced: observe v into h; when the calling thread
** has a current context whose sampled flag is set, also record the
** exemplar {trace_id="<32 hex>", span_id="<16 hex>"} for v's bucket
** (am_histogram_observe_exemplar). Without one it is am_histogram_observe.
** h        borrowed; a series handle. v is always observed.
** Returns AM_OK, or AM_ENOMEM when the series' exemplar storage could not
** be allocated (the observation still counts). Lock-free. Since: 0.1
*/
AM_EXTERN am_err am_histogram_observe_traced(am_histogram *h, double v);

/*
** am_counter_add_traced: as am_counter_add, with the current context as
** the counter's exemplar under the same rule as above.
** Returns AM_OK, AM_EINVAL (bad v: nothing added) or AM_ENOMEM (added,
** exemplar dropped). Lock-free. Since: 0.1
*/
AM_EXTERN am_err am_counter_add_traced(am_counter *c, double v);

#ifdef __cplusplus
}
#endif
#endif
