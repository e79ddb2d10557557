/*
** coord.h: the coordinator's insides -- the backend interface and the state
** the generic layer keeps around it.
**
** The generic layer (coord.c) owns every decision: validation, ids, retry
** or dead-letter, backoff, metrics, DLQ growth events, the snapshot. A
** backend only keeps messages and performs each operation atomically:
** the memory backend under one agent's lock, the Redis backend as one Lua
** script. Backends report what happened on their own initiative (an expired
** reservation recovered or dead-lettered) through am__coord_event().
**
** A backend whose state is remote (is_remote: Redis) is never read while
** Prometheus scrapes: its gauges show the last snapshot of every agent's
** lengths (am__snap), which the backend's own thread refreshes with
** am__coord_refresh() every second, and am_coord_snapshot() refreshes too.
*/
#ifndef AM_COORD_COORD_H
#define AM_COORD_COORD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "agentmon/coord.h"
#include "agentmon/trace.h"

/* A message on its way in, as the generic layer hands it to a backend. */
typedef struct am__msg {
    const char *id, *from, *to, *type;
    const void *payload;
    size_t len;
    int priority;
    char traceparent[AM_TRACEPARENT_LEN + 1]; /* "" when none */
    const char *tracestate;                   /* "" when none */
} am__msg;

/* What a backend did on its own, reported to the generic layer. */
typedef enum am__event {
    AM__EV_RECOVERED,     /* an expired reservation went back to its queue */
    AM__EV_DEAD_ATTEMPTS, /* ... or to the DLQ, its attempts used up */
    AM__EV_DEAD_POISON    /* a stored message could not be decoded */
} am__event;

/* Where a queue's index is: priority 1, 5, 9 -> 0, 1, 2. */
static inline int am__prio_index(int priority)
{
    return priority >= 9 ? 2 : priority >= 5 ? 1 : 0;
}

/*
** Where a backend reports every agent's lengths (each_agent): agent is
** called once per agent (never twice for one name); bad_key, when not
** NULL, for each key that could not be read (a value of the wrong type),
** agent being "" when the key is no one agent's; totals, when not NULL,
** wants the AM__N_TOTALS counters summed over every process (a backend
** that has no shared counters leaves the caller's local ones there).
*/
typedef struct am__agent_sink {
    void (*agent)(const char *agent, const am_coord_stats *st, void *ud);
    void (*bad_key)(const char *agent, const char *key, const char *why, void *ud);
    void *ud;
    double *totals;
    void (*expect)(size_t n_agents, void *ud); /* optional: about how many will come */
} am__agent_sink;

typedef struct am_coord_ops {
    unsigned version;
    const char *name;
    bool is_remote; /* gauges from the last snapshot, refreshed in the background */
    am_err (*open)(am_coord *c, const char *uri);
    void (*close)(am_coord *c);
    am_err (*add_agent)(am_coord *c, const char *agent);
    /* Enqueue; AM_EFULL at max_queue, AM_EEXIST for a known id. */
    am_err (*send)(am_coord *c, const am__msg *m, size_t max_queue);
    /*
    ** Reserve the next visible message of agent for visibility_s, first
    ** settling its expired reservations (max_attempts decides between queue
    ** and DLQ). AM_ETIMEDOUT when there is none. *out: owned delivery.
    */
    am_err (*take)(am_coord *c, const char *agent, double visibility_s, unsigned max_attempts,
                   am_coord_delivery **out);
    /* Block until agent may have a message, or until deadline_ns (monotonic). */
    void (*wait)(am_coord *c, const char *agent, uint64_t deadline_ns);
    /* Settle d's reservation: AM_ENOTFOUND when it is no longer held. */
    am_err (*ack)(am_coord *c, const am_coord_delivery *d);
    am_err (*retry)(am_coord *c, const am_coord_delivery *d, double delay_s, const char *error);
    am_err (*dead)(am_coord *c, const am_coord_delivery *d, const char *reason, const char *error);
    am_err (*recover)(am_coord *c, unsigned max_attempts, size_t *n);
    am_err (*dlq_list)(am_coord *c, const char *agent, size_t max, am_coord_dlq_entry **out,
                       size_t *n);
    am_err (*dlq_replay)(am_coord *c, const char *agent, const char *id, size_t max_queue,
                         size_t *n);
    am_err (*dlq_purge)(am_coord *c, const char *agent, size_t *n);
    am_err (*stats)(am_coord *c, const char *agent, am_coord_stats *out);
    /* Report every known agent's lengths to s (see am__agent_sink). */
    am_err (*each_agent)(am_coord *c, const am__agent_sink *s);
    /* Optional (is_remote): refresh the snapshot soon; never blocks. */
    void (*wake)(am_coord *c);
    /* Optional: a new message id (32 hex digits, random) for a message to
       to, which the backend may choose to suit where it keeps messages.
       Since: 0.3 */
    void (*new_id)(am_coord *c, const char *to, char out[33]);
} am_coord_ops;

/* The spec's counters, in the order of the snapshot and the totals. */
enum {
    AM__T_NACKS,
    AM__T_RETRIES,
    AM__T_PERMANENT,
    AM__T_OK,
    AM__T_ERROR,
    AM__T_RECOVERED,
    AM__T_SENT,
    AM__T_DEAD,
    AM__N_TOTALS
};

typedef struct am__growth am__growth;
typedef struct am__snap am__snap;

/* An options value, immutable once published; replaced whole by configure. */
typedef struct am__opts_box {
    am_coord_opts o;
    struct am__opts_box *older; /* kept until close: readers may hold one */
} am__opts_box;

struct am_coord {
    const am_coord_ops *ops;
    void *be; /* the backend's state */
    char *uri;
    am__opts_box *_Atomic opts; /* read lock-free on every operation */
    pthread_mutex_t configure_lock;
    am_registry *reg;
    /* metrics */
    am_counter *nacks, *retries, *permanent, *ok, *error, *recovered;
    am_counter *sent, *dead, *growth_events; /* labelled families */
    am_gauge *last_backoff;
    am_histogram *wait_h, *proc_h;
    /* AM__T_* counted in per-thread cells (src/core/cells.h), for the
       snapshot and the Redis totals: read with am__coord_local() */
    uint32_t local_slot;
    pthread_mutex_t growth_lock;
    am__growth *growth;         /* per-agent recent dead-letter times */
    struct am_coord *next_open; /* the list the scrape callbacks walk */
    /* is_remote: the last snapshot, for the gauges (see the top) */
    pthread_mutex_t snap_lock;
    am__snap *snap; /* NULL until the first refresh */
    double snap_at; /* am_unix_time() of snap, or of open */
    am_counter *refresh_failures;
    _Atomic bool refresh_failing; /* the last refresh failed (logged once) */
};

/* The options in force (a copy). Lock-free. */
am_coord_opts am__coord_opts(am_coord *c);

/* Count one AM__T_* event in this process's totals. Lock-free. */
void am__coord_count(am_coord *c, int total);

/* This process's AM__T_* totals so far, into out[AM__N_TOTALS]. */
void am__coord_local(am_coord *c, double *out);

/* Report a backend event for agent (see am__event). Thread-safe. */
void am__coord_event(am_coord *c, const char *agent, am__event ev);

/* Count a dead-lettering of agent's message for reason: metrics and growth. */
void am__coord_dead_lettered(am_coord *c, const char *agent, const char *reason);

/* Create agent's per-agent counters at 0 (so rate() and increase() see
   their first event). Thread-safe. */
am_err am__coord_metrics_agent(am_coord *c, const char *agent);

/*
** Read every agent's lengths from the backend (no totals) and keep them as
** the snapshot the gauges show; count a failure in
** agentmon_coord_snapshot_refresh_failures_total. For is_remote backends,
** on their own thread. Returns AM_OK or the backend's error.
*/
am_err am__coord_refresh(am_coord *c);

/* Free a snapshot; NULL is a no-op. */
void am__coord_snap_free(am__snap *s);

/* Register the metrics of c; then, once its backend is open, put it on
   the scrape list (a scrape on another thread reads the backend from then
   on); fini takes it off the list, and may run whether or not it was on. */
am_err am__coord_metrics_init(am_coord *c);
void am__coord_metrics_link(am_coord *c);
void am__coord_metrics_fini(am_coord *c);

/* Validate an agent name ("type:instance", printable, <= AM_COORD_MAX_NAME). */
am_err am__coord_check_agent(const char *agent, const char *what);

/* Room for a reservation token in a delivery, NUL included. */
#define AM__TOKEN_MAX 96

/* A delivery with copies of these fields (payload copied too), an empty
   token of AM__TOKEN_MAX bytes and, when note is not NULL, a copy of it at
   reserved[0] (the backend's: the Redis one keeps an id's claim there), in
   one block; NULL on ENOMEM. */
am_coord_delivery *am__delivery_new(const char *id, const char *from, const char *to,
                                    const char *type, const void *payload, size_t len,
                                    const char *note);

/*
** Fill e's text fields (f[AM_DLQ_ID..], lens NULL: strlen), lens and
** payload with copies; false on ENOMEM (e then holds what was copied, for
** am_coord_dlq_free()).
*/
bool am__dlq_entry_fill(am_coord_dlq_entry *e, const char *const f[AM_DLQ_N],
                        const size_t lens[AM_DLQ_N], const void *payload, size_t len);

/* Backends. */
extern const am_coord_ops am__coord_memory;
extern const am_coord_ops am__coord_redis;

#endif
