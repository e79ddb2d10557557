/*
** coord.h: a reliable priority message coordinator for agents, which
** measures itself (the messaging_* metrics of messaging-metrics-spec.md).
**
**     am_coord *c;
**     am_coord_open("memory:", NULL, &c);              or "redis://127.0.0.1:6379/0?prefix=ao"
**     am_coord_msg m = AM_COORD_MSG_INIT;
**     m.from = "planner:1"; m.to = "coder:1"; m.type = "task";
**     m.payload = "{...}"; m.len = 5; m.priority = AM_PRIO_HIGH;
**     am_coord_send(c, &m);                            AM_EFULL when coder:1's queue is full
**
**     am_coord_delivery *d;                            in the coder
**     if (am_coord_receive(c, "coder:1", 30, 1.0, &d) == AM_OK) {
**         ... work, with d->trace as the current trace ...
**         ok ? am_coord_ack(c, d) : am_coord_nack(c, d, false, "timeout");
**         am_coord_delivery_free(d);
**     }
**
** DELIVERY. Per recipient, HIGH (9) before NORMAL (5) before LOW (1), FIFO
** within a priority. receive() reserves a message for a visibility timeout;
** ack() removes it; nack() either retries it -- invisible until an
** exponential backoff is due -- or, when permanent or out of attempts,
** moves it to the recipient's dead-letter queue (DLQ). A reservation that
** expires before ack/nack puts the message back (at-least-once): it is
** never lost, and never held by two consumers at once, because every
** delivery carries a token that only that reservation can settle.
**
** BACKENDS. "memory:" serves agents in one process, with a lock per agent
** (never one for all).
**   redis://[[user]:password@]host[:port][/db][?prefix=ao&pool=4]
**   unix://[[user]:password@]/path/to.sock[?db=0&prefix=ao&pool=4]
** share queues between processes and hosts (Redis >= 6, standalone): every
** operation is one atomic Lua script; pool is the number of connections
** for operations (1..64; blocked receives use connections of their own).
**   redis+cluster://[[user]:password@]host[:port][,host[:port]]...[?prefix=ao&pool=4]
** does the same on a Redis Cluster (Redis >= 7; Since: 0.3): the URI names
** 1..16 of its nodes (the others are learnt from them), pool is per node,
** and there is no database. Each agent's keys are in one slot (hash tags),
** so each operation is still one script on one master; MOVED and ASK are
** followed, the slot map re-read, a master's replica found after a
** failover. What spans agents (snapshots, totals, recover) is read from
** every master at once and summed. An operation whose effect the caller
** acts on (send, ack, nack, replay, purge) returns once a replica has it,
** when its master has one, so a master's death loses nothing answered
** (AM_EBACKEND if no replica confirms within 1 s); while a master is being
** replaced its agents' operations fail with AM_EBACKEND. Ids stay unique
** across agents (a claim in the id's own slot: a send with a caller's id
** costs one more round trip; a generated id does not).
**
** METRICS (in opts.registry; Prometheus names, with the spec's dotted names
** as JSON keys): messaging_queue_length{agent,priority},
** messaging_dlq_length{agent}, messaging_inflight{agent} and
** messaging_oldest_message_age_seconds{agent,priority} are read from a
** memory backend at each scrape; a Redis backend's come from the last
** snapshot, which a thread of the coordinator refreshes every second (as
** does am_coord_snapshot()), so that a scrape never waits for Redis --
** agentmon_coord_snapshot_age_seconds says how old it is,
** agentmon_coord_snapshot_refresh_failures_total counts the refreshes
** that failed and agentmon_coord_key_errors{agent,key} names a key of the
** wrong type; messaging_nacks_total,
** messaging_retries_scheduled_total, messaging_permanent_failures_total,
** messaging_delivered_ok_total, messaging_delivered_error_total,
** messaging_recovered_total, messaging_retries_last_backoff_seconds,
** messaging_sent_total{from_agent,to_agent,message_type},
** messaging_dead_lettered_total{agent,reason},
** messaging_dlq_growth_events_total{agent},
** messaging_queue_wait_seconds{agent,priority} and
** messaging_processing_seconds{agent,outcome} are counted as things happen.
*/
#ifndef AGENTMON_COORD_H
#define AGENTMON_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "log.h"
#include "metrics.h"
#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_coord am_coord;

typedef enum am_priority { AM_PRIO_LOW = 1, AM_PRIO_NORMAL = 5, AM_PRIO_HIGH = 9 } am_priority;

#define AM_COORD_MAX_NAME 128 /* bytes of an agent name, message id or type */

/*
** Called when an agent's DLQ grew by at least dlq_growth_threshold messages
** within dlq_growth_window_s (also logged at WARNING and counted in
** messaging_dlq_growth_events_total{agent}); on the thread that
** dead-lettered the message that crossed the line; then the count starts
** again. Must not call back into the coordinator.
*/
typedef void (*am_dlq_growth_fn)(const char *agent, size_t grown, double window_s, void *userdata);

typedef struct am_coord_opts {
    am_registry *registry;          /* the messaging_* metrics; NULL = default registry */
    size_t max_queue;               /* messages waiting per agent (all priorities) before
                                       send refuses with AM_EFULL; 0 = 10000 */
    unsigned max_attempts;          /* deliveries before a message is dead-lettered; 0 = 5 */
    double backoff_base_s;          /* first retry delay; 0 = 0.5 */
    double backoff_factor;          /* growth per attempt (>= 1); 0 = 2 */
    double backoff_max_s;           /* cap; 0 = 30 */
    double backoff_jitter;          /* +/- fraction of the delay, 0..1; negative = none; 0 = 0.1 */
    size_t max_payload_bytes;       /* 0 = 1 MiB */
    double visibility_s;            /* reservation time when receive passes 0; 0 = 30 */
    unsigned dlq_growth_threshold;  /* N; 0 = 10 */
    double dlq_growth_window_s;     /* W; 0 = 60 */
    am_dlq_growth_fn on_dlq_growth; /* optional */
    void *dlq_growth_userdata;
    am_logger *logger; /* DLQ growth warnings; NULL = the default logger */
    void *reserved[4];
} am_coord_opts;

#define AM_COORD_OPTS_INIT                                                                         \
    {                                                                                              \
        0                                                                                          \
    }

/* A message to send. Strings are copied; payload is any bytes. */
typedef struct am_coord_msg {
    const char *from; /* "type:instance" */
    const char *to;   /* "type:instance" (send) */
    const char *id;   /* unique per message; NULL = generated */
    const char *type; /* "task", "result", ...; NULL = "message" */
    const void *payload;
    size_t len;
    int priority;              /* AM_PRIO_*; 0 = NORMAL */
    const am_trace_ctx *trace; /* NULL = the thread's current context, if any */
    void *reserved[2];
} am_coord_msg;

#define AM_COORD_MSG_INIT                                                                          \
    {                                                                                              \
        0                                                                                          \
    }

/* A received message: owned result, free with am_coord_delivery_free(). */
typedef struct am_coord_delivery {
    char *id, *from, *to, *type;
    void *payload; /* NUL-terminated for convenience */
    size_t len;
    int priority;
    unsigned attempt;   /* 1 on the first delivery */
    double enqueued_at; /* unix seconds, when first sent */
    double ready_at;    /* when it last became deliverable (sent, retry due) */
    double received_at; /* when this reservation was made */
    am_trace_ctx trace; /* the sender's context (invalid if none) */
    char *token;        /* names this reservation; used by ack/nack */
    void *reserved[2];
} am_coord_delivery;

/* The text fields of a dead letter, in the order of am_coord_dlq_entry.lens. */
enum { AM_DLQ_ID, AM_DLQ_FROM, AM_DLQ_TO, AM_DLQ_TYPE, AM_DLQ_REASON, AM_DLQ_ERROR, AM_DLQ_N };

/*
** A dead-lettered message, as listed. Every field is what is stored,
** byte for byte: a message edited by hand in Redis (a poison message) may
** hold any byte in any field -- NUL, invalid UTF-8 -- so the text fields
** are NUL-terminated for convenience and lens[] has their lengths.
*/
typedef struct am_coord_dlq_entry {
    char *id, *from, *to, *type;
    void *payload; /* NUL-terminated for convenience */
    size_t len;
    int priority;
    unsigned attempts;
    char *reason;   /* "permanent", "max_attempts" or "poison" */
    char *error;    /* the last nack's error text, or "" */
    double dead_at; /* unix seconds */
    size_t *lens;   /* [AM_DLQ_N]: bytes of id .. error. Since: 0.2 */
    void *reserved[1];
} am_coord_dlq_entry;

/*
** am_coord_open: open a coordinator. uri: "memory:", "redis://...",
** "unix://..." or "redis+cluster://..." (see the top). o copied; NULL =
** defaults.
** out: owned result, close with am_coord_close().
** Returns AM_OK, AM_EINVAL (bad URI or option; am_errmsg() says which),
** AM_EBACKEND (Redis unreachable or refusing: the reason in am_errmsg())
** or AM_ENOMEM. Since: 0.1
*/
AM_EXTERN am_err am_coord_open(const char *uri, const am_coord_opts *o, am_coord **out);

/*
** am_coord_close: flush what is pending (the Redis backend's counter
** deltas), stop background work, free. Messages stay where they are (in
** Redis, or gone with a memory coordinator). With Redis hung, it returns
** within a few seconds (each background read has a 1 s deadline) and logs
** a warning that the last counter deltas were not added. NULL is a no-op.
** No call on c may be in progress. Since: 0.1
*/
AM_EXTERN void am_coord_close(am_coord *c);

/*
** am_coord_configure: change the options of an open coordinator (all but
** the registry). Thread-safe; applies to later operations. Since: 0.1
*/
AM_EXTERN am_err am_coord_configure(am_coord *c, const am_coord_opts *o);

/*
** am_coord_register: make an endpoint known before anything is sent to it:
** it appears in the metrics (its dead-letter and DLQ-growth counters at 0)
** and receives broadcasts. Sending to an agent registers it too. Returns
** AM_OK, AM_EINVAL or a backend error. Since: 0.1
*/
AM_EXTERN am_err am_coord_register(am_coord *c, const char *agent);

/*
** am_coord_send: enqueue m for m->to. Returns AM_OK; AM_EINVAL (names,
** unknown priority, payload over max_payload_bytes -- nothing changed);
** AM_EFULL (the recipient's queue holds max_queue messages: backpressure);
** AM_EEXIST (a message with this id is already in the coordinator);
** AM_EBACKEND; AM_ENOMEM. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_coord_send(am_coord *c, const am_coord_msg *m);

/*
** am_coord_broadcast: send m to every registered agent except the sender,
** or only to agents of type agent_type ("coder" for "coder:*") when not
** NULL; each copy gets the id "<id>/<recipient>". *n_sent (may be NULL)
** counts the copies enqueued; a recipient whose queue is full, or that has
** this copy already, is skipped and reported (AM_EFULL, AM_EEXIST) after
** the others were served, so a broadcast can be repeated safely. Since: 0.1
*/
AM_EXTERN am_err am_coord_broadcast(am_coord *c, const am_coord_msg *m, const char *agent_type,
                                    size_t *n_sent);

/*
** am_coord_receive: reserve the next message for agent for visibility_s
** seconds (0 = the configured default), waiting up to wait_s seconds for
** one (0 = do not wait). out: owned result on AM_OK.
** Returns AM_OK, AM_ETIMEDOUT (nothing arrived in time), AM_EINVAL,
** AM_EBACKEND or AM_ENOMEM. Thread-safe; any number of consumers may
** receive for one agent. Since: 0.1
*/
AM_EXTERN am_err am_coord_receive(am_coord *c, const char *agent, double visibility_s,
                                  double wait_s, am_coord_delivery **out);

/*
** am_coord_ack: the delivery was handled; the message is gone.
** Returns AM_OK, or AM_ENOTFOUND when the reservation is no longer held
** (it expired and the message went back to the queue, or was settled
** already): the message was not removed. Since: 0.1
*/
AM_EXTERN am_err am_coord_ack(am_coord *c, const am_coord_delivery *d);

/*
** am_coord_nack: the delivery failed. A transient failure (permanent false)
** is retried after the backoff while attempts remain, else dead-lettered
** ("max_attempts"); a permanent one is dead-lettered at once ("permanent").
** error (copied, may be NULL) is kept with the message.
** Returns as am_coord_ack(). Since: 0.1
*/
AM_EXTERN am_err am_coord_nack(am_coord *c, const am_coord_delivery *d, bool permanent,
                               const char *error);

/* am_coord_delivery_free: free a delivery; NULL is a no-op. Since: 0.1 */
AM_EXTERN void am_coord_delivery_free(am_coord_delivery *d);

/*
** am_coord_recover: put every expired reservation (of all agents) back in
** its queue, or dead-letter it if it has used its attempts. receive() does
** this for its own agent anyway; call it to sweep everyone. *n (may be
** NULL) counts them. Since: 0.1
*/
AM_EXTERN am_err am_coord_recover(am_coord *c, size_t *n);

/*
** am_coord_dlq_list: up to max entries of agent's DLQ, oldest first.
** out: owned result, free with am_coord_dlq_free(out, n). Since: 0.1
*/
AM_EXTERN am_err am_coord_dlq_list(am_coord *c, const char *agent, size_t max,
                                   am_coord_dlq_entry **out, size_t *n);
AM_EXTERN void am_coord_dlq_free(am_coord_dlq_entry *e, size_t n);

/*
** am_coord_dlq_replay: move the dead-lettered message id (NULL: all of
** them) back to agent's queue with fresh attempts. id is any id that
** am_coord_dlq_list() returned (it is only compared; up to 4096 bytes --
** since 0.2 longer than AM_COORD_MAX_NAME: a broadcast's copies are
** "<id>/<recipient>"). *n (may be NULL) counts them. Returns AM_OK,
** AM_ENOTFOUND (no such id), AM_EFULL (the queue filled up; the rest stay
** dead-lettered) or a backend error. Since: 0.1
*/
AM_EXTERN am_err am_coord_dlq_replay(am_coord *c, const char *agent, const char *id, size_t *n);

/* am_coord_dlq_purge: delete agent's DLQ; *n (may be NULL) counts. Since: 0.1 */
AM_EXTERN am_err am_coord_dlq_purge(am_coord *c, const char *agent, size_t *n);

/* Lengths as the backend holds them now, for one agent. */
typedef struct am_coord_stats {
    size_t queued[3]; /* by priority: [0] LOW, [1] NORMAL, [2] HIGH */
    size_t delayed;   /* waiting for a retry's backoff */
    size_t inflight;
    size_t dlq;
    double oldest_age_s[3]; /* of the head of each queue; 0 when empty */
    void *reserved[2];
} am_coord_stats;

/*
** am_coord_agent_stats: fill *out (borrowed; meaningful only on AM_OK) with
** agent's queue lengths as the backend holds them now. Returns AM_OK,
** AM_EINVAL or a backend error. Thread-safe. Since: 0.1
*/
AM_EXTERN am_err am_coord_agent_stats(am_coord *c, const char *agent, am_coord_stats *out);

/*
** am_coord_snapshot: the JSON snapshot of the messaging metrics, keyed by
** the spec's dotted names ("messaging.queue_length": {agent: {priority:
** n}}, "messaging.nacks.total": n, ...). With Redis the counters are the
** totals of every process using the same prefix, the lengths are read from
** the per-agent lengths the scripts keep (a few round trips, whatever the
** number of agents), and it refreshes the gauges too. A key that cannot be
** read (a value of the wrong type) does not fail it: it is listed under
** "errors": [{"agent", "key", "error"}], and every other agent is
** reported. out: owned result, free with am_free(). Since: 0.1
*/
AM_EXTERN am_err am_coord_snapshot(am_coord *c, char **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
