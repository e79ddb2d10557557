/*
** demo_agents.c: the agents of `agentmon demo` -- what each role does
** with a message, and the orchestrator that submits tasks and collects
** results.
**
** Every step runs under a child span of the message's trace, so the logs
** and exemplars of all the agents a task visits share its trace_id. A step
** that fails transiently is nacked (the coordinator retries it after a
** backoff); one that fails for good is nacked permanently and lands in the
** agent's DLQ; a step whose next hop's queue is full is nacked as well
** (backpressure), and retried.
**
** Message payloads are "task=<id>;start=<monotonic seconds>".
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

static const char *const ROLE[N_ROLES] = {"orchestrator", "planner",  "researcher",
                                          "coder",        "reviewer", "writer"};
static const char *const OP[N_ROLES] = {"done", "plan", "research", "code", "review", "write"};

const char *demo_role_name(int role)
{
    return ROLE[role];
}

const char *demo_role_op(int role)
{
    return OP[role];
}

static void parse_payload(const am_coord_delivery *m, unsigned long *task, double *start)
{
    const char *p = m->payload;
    *task = 0;
    *start = 0;
    const char *t = strstr(p, "task="), *s = strstr(p, "start=");
    if (t)
        *task = strtoul(t + 5, NULL, 10);
    if (s)
        *start = strtod(s + 6, NULL);
}

/* A random instance of role. */
static demo_agent *pick(demo *d, int role)
{
    unsigned n = d->o.instances;
    unsigned k = (unsigned)(demo_rand() % n);
    return &d->agents[1 + (unsigned)(role - 1) * n + k];
}

/*
** A task went from `from` to `to`: insa_agent_handoffs_total and
** insa_agent_messages_total, through the link from keeps for to, made on
** the first hand-off (only from's thread uses its links; the links are
** freed after the threads stop). Without one (no pack, or no memory) the
** looked-up calls, which record the same.
*/
static void handed_off(demo *d, demo_agent *from, demo_agent *to)
{
    am_worker_link **l = &from->links[to - d->agents];
    if (!*l && d->worker) /* on an error *l stays NULL: tried again next time */
        (void)am_worker_link_new(d->worker, from->name, to->name, OP[to->role], l);
    if (*l) {
        am_worker_link_handoff(*l);
    } else {
        am_worker_handoff(d->worker, from->name, to->name);
        am_worker_message(d->worker, from->name, to->name, OP[to->role]);
    }
}

static am_err send_step(demo *d, demo_agent *from, demo_agent *to, const am_coord_delivery *m,
                        const am_trace_ctx *trace)
{
    am_coord_msg out = AM_COORD_MSG_INIT;
    out.from = from->name;
    out.to = to->name;
    out.type = OP[to->role];
    out.payload = m->payload;
    out.len = m->len;
    out.priority = m->priority;
    out.trace = trace;
    am_err rc = am_coord_send(d->coord, &out);
    if (rc == AM_OK)
        handed_off(d, from, to);
    return rc;
}

/* The work of one step; returns NULL or the error type, *permanent set for
   a failure that retrying cannot fix. */
static const char *work(demo *d, demo_agent *a, int *next_role, bool *permanent)
{
    *permanent = false;
    const char *err = NULL;
    switch (a->role) {
    case ROLE_PLANNER:
        demo_work(demo_latency(0.02));
        err = demo_llm_call(d, a);
        *next_role = ROLE_RESEARCHER;
        break;
    case ROLE_RESEARCHER: {
        /* two to four topics looked up at once: the step waits for the
           slowest branch (a parallel execution) */
        unsigned branches = 2 + (unsigned)(demo_rand() % 3);
        double slowest = 0;
        for (unsigned i = 0; i < branches; i++) {
            double t = demo_latency(0.001);
            if (!demo_cache_lookup(d, (int)(demo_rand() % 40))) {
                t = demo_latency(0.04);
                am_llm_execute_tool(d->llm, "web_search", t, NULL);
            }
            slowest = t > slowest ? t : slowest;
        }
        demo_work(slowest);
        am_worker_parallel(d->worker, ROLE[a->role], branches, slowest, NULL);
        *next_role = ROLE_CODER;
        break;
    }
    case ROLE_CODER:
        err = demo_llm_call(d, a);
        if (!err) {
            double t = demo_latency(0.03);
            demo_work(t);
            am_llm_execute_tool(d->llm, "run_tests", t, NULL);
            if (demo_uniform() < 0.05)
                err = "ToolTimeout";
        }
        *next_role = ROLE_REVIEWER;
        break;
    case ROLE_REVIEWER:
        err = demo_llm_call(d, a);
        /* one review in five asks for changes: back to a coder */
        *next_role = demo_uniform() < 0.2 ? ROLE_CODER : ROLE_WRITER;
        break;
    case ROLE_WRITER:
        err = demo_llm_call(d, a);
        if (!err) {
            demo_db_op(d, "insert", "results", 0.003);
            if (demo_uniform() < 0.015) {
                err = "InvalidOutput"; /* the result does not validate: for good */
                *permanent = true;
            }
        }
        *next_role = ROLE_ORCH;
        break;
    default:
        break;
    }
    if (!err && demo_uniform() < 0.02)
        err = "ConnectionReset";
    return err;
}

static void step(demo *d, demo_agent *a, am_coord_delivery *m)
{
    am_trace_ctx span;
    if (am_trace_child(&m->trace, &span) != AM_OK)
        am_trace_new(&span);
    am_trace_set_current(&span);
    unsigned long task;
    double start;
    parse_payload(m, &task, &start);
    atomic_fetch_add(&d->active[a->role], 1);
    am_a2a_target_active(a->a2a, 1);
    am_worker_agent_active(a->worker, atomic_load(&d->active[a->role]));
    AM_LOG_DEBUG(d->log, a->name, "step started", AM_F_INT("task", task),
                 AM_F_STR("message_type", m->type), AM_F_INT("attempt", m->attempt));
    double t0 = demo_now();
    int next_role = ROLE_ORCH;
    bool permanent;
    const char *err = work(d, a, &next_role, &permanent);
    if (!err) {
        demo_agent *to = next_role == ROLE_ORCH ? &d->agents[0] : pick(d, next_role);
        am_err rc = send_step(d, a, to, m, &span);
        if (rc == AM_EFULL)
            err = "Backpressure";
        else if (rc)
            err = "SendFailed";
    }
    double secs = demo_now() - t0;
    am_task_agent_finished(a->task, err, secs, NULL);
    am_worker_agent_request(a->worker, err == NULL, secs, NULL);
    double bytes = (double)(200 + demo_rand() % 20000);
    if (strcmp(m->type, OP[a->role]) == 0) /* always so, unless someone else sent it */
        am_a2a_target_request(a->a2a, err == NULL, secs, bytes, NULL);
    else
        am_a2a_request(d->a2a, ROLE[a->role], m->type, err == NULL, secs, bytes, NULL);
    am_llm_agent_invoked(a->llm, secs, NULL);
    if (err) {
        atomic_fetch_add(&a->failed, 1);
        if (!permanent)
            am_worker_agent_retry(a->worker);
        am_coord_nack(d->coord, m, permanent, err);
        AM_LOG_ERROR(d->log, a->name,
                     permanent ? "step failed for good" : "step failed, will retry",
                     AM_F_INT("task", task), AM_F_INT("attempt", m->attempt),
                     AM_F_ERROR(err, "simulated failure"));
    } else {
        atomic_fetch_add(&a->done, 1);
        if (m->attempt > 1)
            am_worker_retry_succeeded(d->worker, ROLE[a->role], m->attempt);
        am_coord_ack(d->coord, m);
        AM_LOG_INFO(d->log, a->name, "step done", AM_F_INT("task", task),
                    AM_F_STR("next", ROLE[next_role]), AM_F_DOUBLE("seconds", secs));
    }
    am_a2a_target_active(a->a2a, -1);
    atomic_fetch_sub(&d->active[a->role], 1);
    am_trace_clear_current();
}

void *demo_agent_main(void *arg)
{
    demo_agent *a = arg;
    demo *d = a->d;
    while (!atomic_load(&d->stop)) {
        am_coord_delivery *m;
        am_err rc = am_coord_receive(d->coord, a->name, 10, 0.2, &m);
        if (rc == AM_ETIMEDOUT)
            continue;
        if (rc) {
            AM_LOG_ERROR(d->log, a->name, "receive failed", AM_F_AM_ERR(rc));
            demo_sleep(0.2);
            continue;
        }
        step(d, a, m);
        am_coord_delivery_free(m);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The orchestrator                                                    */
/* ------------------------------------------------------------------ */

/*
** The rate limiter in front of /v1/tasks: a token bucket per workspace,
** 3 tasks/s with a burst of 6 (at --time-scale 1; budgets scale with the
** simulated time, and at 0 there is no limit). Half the tasks come from
** ws-0, which therefore asks for more than its share at the default rate
** and is denied now and then; a planner whose queue is already long is
** refused too (backpressure before the coordinator has to). Only the
** orchestrator's thread calls this.
*/
static bool admit(demo *d, int ws, const demo_agent *planner)
{
    static double tokens[3] = {6, 6, 6}, last[3];
    double now = demo_now();
    if (last[ws] > 0)
        tokens[ws] =
            d->o.time_scale > 0 ? fmin(6, tokens[ws] + 3 * (now - last[ws]) / d->o.time_scale) : 6;
    last[ws] = now;
    am_coord_stats st;
    bool allowed =
        tokens[ws] >= 1 && (am_coord_agent_stats(d->coord, planner->name, &st) != AM_OK ||
                            st.queued[0] + st.queued[1] + st.queued[2] < 100);
    if (allowed)
        tokens[ws] -= 1;
    return allowed;
}

/*
** The orchestrator's routing decision: the instance of role with the
** fewest messages waiting ("least_loaded"), or a random one of those tied
** for fewest ("tie"). Only the orchestrator's thread calls this.
*/
static demo_agent *route(demo *d, int role, const char **reason)
{
    unsigned n = d->o.instances, best[DEMO_MAX_INSTANCES], n_best = 0;
    uint64_t least = UINT64_MAX;
    for (unsigned k = 0; k < n; k++) {
        am_coord_stats st;
        demo_agent *a = &d->agents[1 + (unsigned)(role - 1) * n + k];
        uint64_t q = am_coord_agent_stats(d->coord, a->name, &st) == AM_OK
                         ? st.queued[0] + st.queued[1] + st.queued[2] + st.delayed
                         : UINT64_MAX - 1;
        if (q < least) {
            least = q;
            n_best = 0;
        }
        if (q == least)
            best[n_best++] = k;
    }
    *reason = n_best == 1 ? "least_loaded" : "tie";
    return &d->agents[1 + (unsigned)(role - 1) * n + best[demo_rand() % n_best]];
}

static void submit(demo *d, demo_agent *orch, unsigned long id)
{
    double w = demo_uniform();
    int ws = w < 0.5 ? 0 : w < 0.8 ? 1 : 2;
    char ws_name[8];
    snprintf(ws_name, sizeof ws_name, "ws-%d", ws);
    const char *reason;
    demo_agent *to = route(d, ROLE_PLANNER, &reason);
    bool allowed = admit(d, ws, to);
    am_rate_decision(d->rate, "/v1/tasks", ws_name, allowed);
    am_worker_route(d->worker, ROLE[ROLE_PLANNER], allowed ? reason : "rate_limited");
    if (!allowed) {
        atomic_fetch_add(&d->dropped, 1);
        AM_LOG_INFO(d->log, orch->name, "task refused by the rate limiter", AM_F_INT("task", id),
                    AM_F_STR("workspace_id", ws_name));
        demo_sleep(0.001); /* a refused client backs off, whatever the time scale */
        return;
    }
    am_trace_ctx t;
    am_trace_new(&t);
    am_trace_set_current(&t);
    char payload[64];
    int n = snprintf(payload, sizeof payload, "task=%lu;start=%.6f", id, demo_now());
    double u = demo_uniform();
    am_coord_msg m = AM_COORD_MSG_INIT;
    m.from = orch->name;
    m.to = to->name;
    m.type = OP[ROLE_PLANNER];
    m.payload = payload;
    m.len = (size_t)n;
    m.priority = u < 0.2 ? AM_PRIO_HIGH : u < 0.8 ? AM_PRIO_NORMAL : AM_PRIO_LOW;
    am_err rc = am_coord_send(d->coord, &m);
    if (rc == AM_OK) {
        atomic_fetch_add(&d->started, 1);
        handed_off(d, orch, to);
        AM_LOG_INFO(d->log, orch->name, "task submitted", AM_F_INT("task", id),
                    AM_F_STR("planner", to->name), AM_F_INT("priority", m.priority));
    } else {
        atomic_fetch_add(&d->dropped, 1);
        am_worker_route(d->worker, ROLE[ROLE_PLANNER], rc == AM_EFULL ? "queue_full" : "error");
        AM_LOG_WARNING(d->log, orch->name, "task not submitted", AM_F_INT("task", id),
                       AM_F_AM_ERR(rc));
        demo_sleep(0.001);
    }
    am_trace_clear_current();
}

static void collect(demo *d, demo_agent *orch, am_coord_delivery *m)
{
    if (am_trace_ctx_is_valid(&m->trace))
        am_trace_set_current(&m->trace);
    unsigned long task;
    double start;
    parse_payload(m, &task, &start);
    double total = start > 0 ? demo_now() - start : 0;
    am_task_agent_finished(orch->task, NULL, total, NULL);
    demo_db_op(d, "update", "tasks", 0.002);
    am_coord_ack(d->coord, m);
    atomic_fetch_add(&orch->done, 1);
    atomic_fetch_add(&d->finished, 1);
    AM_LOG_INFO(d->log, orch->name, "task done", AM_F_INT("task", task),
                AM_F_DOUBLE("seconds", total), AM_F_INT("attempt", m->attempt));
    am_trace_clear_current();
}

void *demo_orchestrator_main(void *arg)
{
    demo_agent *orch = arg;
    demo *d = orch->d;
    double next = demo_now();
    unsigned long id = 0;
    while (!atomic_load(&d->stop)) {
        double now = demo_now();
        if (now >= next) {
            submit(d, orch, ++id);
            /* Poisson arrivals at the configured rate */
            next += -log(1 - demo_uniform()) / d->o.rate;
            if (next < now - 1)
                next = now; /* fell behind: do not burst */
        }
        /* collect between submissions, without waiting when behind, so
           finished tasks never pile up in the orchestrator's queue */
        double wait = next - demo_now();
        am_coord_delivery *m;
        if (am_coord_receive(d->coord, orch->name, 10,
                             wait < 0     ? 0
                             : wait < 0.2 ? wait
                                          : 0.2,
                             &m) == AM_OK) {
            collect(d, orch, m);
            am_coord_delivery_free(m);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Every second                                                        */
/* ------------------------------------------------------------------ */

void demo_sample(demo *d)
{
    double queued[N_ROLES] = {0}, dead[N_ROLES] = {0};
    for (unsigned i = 0; i < d->n_agents; i++) {
        demo_agent *a = &d->agents[i];
        am_coord_stats st;
        if (am_coord_agent_stats(d->coord, a->name, &st) != AM_OK)
            continue;
        double q = (double)(st.queued[0] + st.queued[1] + st.queued[2] + st.delayed);
        am_task_queue_depth(d->tasks, a->name, q);
        queued[a->role] += q;
        dead[a->role] += (double)st.dlq;
        /* unhealthy: most of its steps failed since the last sample */
        uint64_t done = atomic_load(&a->done), failed = atomic_load(&a->failed);
        static __thread uint64_t last_done[DEMO_MAX_AGENTS], last_failed[DEMO_MAX_AGENTS];
        uint64_t dd = done - last_done[i], df = failed - last_failed[i];
        last_done[i] = done;
        last_failed[i] = failed;
        am_worker_health(d->worker, a->name, ROLE[a->role], !(df > 2 && df > dd));
    }
    for (int r = 0; r < N_ROLES; r++) {
        am_worker_queue_size(d->worker, ROLE[r], queued[r]);
        am_worker_dlq_size(d->worker, ROLE[r], dead[r]);
    }
    /* now and then an operator replays a DLQ */
    double now = demo_now();
    if (d->o.replay_interval > 0 && now >= d->next_replay) {
        d->next_replay = now + d->o.replay_interval;
        for (unsigned i = 1; i < d->n_agents; i++) {
            demo_agent *a = &d->agents[i];
            size_t n;
            am_err rc = am_coord_dlq_replay(d->coord, a->name, NULL, &n);
            if (n || rc) {
                am_worker_dlq_replay(d->worker, ROLE[a->role], rc == AM_OK);
                AM_LOG_INFO(d->log, "operator", "replayed dead letters", AM_F_STR("agent", a->name),
                            AM_F_INT("messages", n));
                break;
            }
        }
    }
}
