/*
** demo.h: what the parts of `agentmon demo` share.
**
** The demo is a small multi-agent system in one process: an orchestrator
** and N instances each of planner, researcher, coder, reviewer and writer,
** one thread per agent, exchanging messages through a coordinator. A task
** travels orchestrator -> planner -> researcher -> coder -> reviewer
** (-> coder again when changes are requested) -> writer -> orchestrator,
** under one trace. Work is simulated (latency, LLM calls through per-
** provider circuit breakers, a research cache, transient and permanent
** failures) and every event goes through the instrument packs.
**
**   cmd_demo.c     options, setup, the server, the run and the shutdown
**   demo_agents.c  what each role does with a message; the orchestrator
**   demo_sim.c     randomness, latencies, LLM providers, the cache
**   demo_view.c    the terminal view every 2 s
**   demo_pool.c    the results database's connection pool
*/
#ifndef AM_CLI_DEMO_H
#define AM_CLI_DEMO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agentmon/agentmon.h"
#include "http_security.h"
#include "agentmon/breaker.h"
#include "../alert/service.h"
#include "../serve/api/alert_routes.h"
#include "../serve/api/promql_routes.h"
#include "../web/dashboard.h"

enum { ROLE_ORCH, ROLE_PLANNER, ROLE_RESEARCHER, ROLE_CODER, ROLE_REVIEWER, ROLE_WRITER, N_ROLES };

#define DEMO_MAX_INSTANCES 8
#define DEMO_MAX_AGENTS (1 + (N_ROLES - 1) * DEMO_MAX_INSTANCES)
#define DEMO_PROVIDERS 3
#define DEMO_MAX_RULE_FILES 16
/* the shipped rules, loaded unless --rules says otherwise */
#define DEMO_DEFAULT_RULES "deploy/prometheus/alerts.yml"

/* histogram buckets the live view can read (the task histogram has 21) */
#define DEMO_VIEW_BUCKETS 32

typedef struct demo demo;

/* the research cache's operations and results, each a prepared handle */
enum { DEMO_CACHE_HIT, DEMO_CACHE_MISS, DEMO_CACHE_SET, DEMO_CACHE_RESULTS };

typedef struct demo_agent {
    demo *d;
    int role;
    char name[32];
    pthread_t thread;
    am_task_agent *task;                      /* prepared task-pack handle */
    am_worker_agent *worker;                  /* the worker pack's, for its role */
    am_a2a_target *a2a;                       /* (role, its operation) */
    am_llm_agent *llm;                        /* gen_ai_agent_name = role */
    am_worker_link *links[DEMO_MAX_AGENTS];   /* to agents[i]; made on first send */
    _Atomic uint64_t done, failed;            /* steps finished, steps failed */
    uint64_t view_done, view_failed;          /* the view's last reading */
    uint64_t view_buckets[DEMO_VIEW_BUCKETS]; /* the view's last histogram reading */
} demo_agent;

typedef struct demo_provider {
    const char *name, *model;
    double base_s; /* typical latency */
    am_breaker *breaker;
    am_llm_route *route[N_ROLES]; /* by the calling agent's role: its task_type */
} demo_provider;

typedef struct demo_opts {
    char host[128];
    uint16_t port;
    const char *coordinator;
    const char *log_path;
    double duration;    /* 0: until interrupted */
    double rate;        /* tasks per second */
    unsigned instances; /* per role */
    bool quiet;
    bool uninstrumented; /* no packs, no logs: to measure their cost */
    double time_scale;   /* simulated latencies x this; 0 = none */
    uint64_t seed;
    cli_http_security security;             /* TLS and credentials */
    const char *rules[DEMO_MAX_RULE_FILES]; /* rule files; none: the shipped ones */
    size_t n_rules;
    bool no_rules;             /* --rules off */
    double eval_interval;      /* seconds; 0: 15 */
    double alert_window;       /* seconds of history first kept; 0: 1 h */
    const char *notify_config; /* Alertmanager's route:, receivers:, ... */
    double replay_interval;    /* the simulated operator replays a DLQ this often; 0: never */
} demo_opts;

struct demo {
    demo_opts o;
    am_registry *reg;
    am_coord *coord;
    am_logger *log;
    am_http *srv;
    am_alerting *alerting;     /* the rules over the demo's registry */
    am_promql_api papi;        /* the query API on the demo's server */
    am_notify *_Atomic notify; /* routing and receivers; events become alerts */
    am_alert_api aapi;         /* silences, alerts in (no store: no history) */
    am_dashboard dash;         /* the web dashboard at / (src/web) */
    am_task_pack *tasks;
    am_a2a_pack *a2a;
    am_cache_pack *cache;
    am_rate_pack *rate;
    am_llm_pack *llm;
    am_worker_pack *worker;
    demo_provider providers[DEMO_PROVIDERS];
    demo_agent agents[DEMO_MAX_AGENTS];
    unsigned n_agents;
    size_t n_rule_files; /* loaded */
    _Atomic int stop;
    double t0; /* monotonic seconds at start */
    _Atomic uint64_t started, finished, dropped;
    _Atomic uint64_t tokens_in, tokens_out;
    _Atomic int active[N_ROLES];                        /* steps in progress, per role */
    double next_replay;                                 /* when the sampler replays a DLQ next */
    pthread_mutex_t cache_lock;                         /* the simulated research cache */
    am_worker_cache_ref *research_cache;                /* its handles (NULL: */
    am_cache_result *cache_results[DEMO_CACHE_RESULTS]; /* uninstrumented) */
    struct demo_cache_entry {
        int topic;
        double expires;
    } cache_entries[24];
    unsigned cache_n;
    struct demo_pool { /* the results database's connections (demo_pool.c) */
        pthread_mutex_t lock;
        pthread_cond_t freed;
        unsigned active, idle, max;
    } pool;
};

/* demo_sim.c */
double demo_now(void);               /* monotonic seconds */
uint64_t demo_rand(void);            /* per-thread xorshift */
double demo_uniform(void);           /* [0, 1) */
double demo_latency(double typical); /* a long-tailed duration around typical */
void demo_sleep(double seconds);
/* Simulated work: sleeps seconds times the time scale (0: not at all). */
void demo_work(double seconds);
void demo_set_time_scale(double scale);
void demo_seed(uint64_t seed);
/* An LLM call from agent, of its role's task_type: picks a provider whose
   breaker allows it (falling back in order), simulates latency, tokens and
   failures, records it. Returns NULL on success, or the error type. */
const char *demo_llm_call(demo *d, demo_agent *a);
/* The research cache's pack handles, made after the packs; freed with them. */
am_err demo_cache_init(demo *d);
void demo_cache_free(demo *d);
/* A research-cache lookup of topic: true on a hit. */
bool demo_cache_lookup(demo *d, int topic);
am_err demo_providers_init(demo *d);
void demo_providers_free(demo *d);

/* demo_agents.c */
void *demo_agent_main(void *arg);
void *demo_orchestrator_main(void *arg);
const char *demo_role_name(int role);
const char *demo_role_op(int role); /* the message type a role's agents receive */
/* Per-second bookkeeping: queue depths, DLQ sizes, worker health. */
void demo_sample(demo *d);

/* demo_alerts.c: the coordinator's DLQ growth and the breakers' openings
   as alerts, through the same routing and receivers as the rules' */
void demo_dlq_alert(const char *agent, size_t grown, double window_s, void *ud);
void demo_breaker_alert(const char *name, am_breaker_state from, am_breaker_state to, void *ud);
/* demo_pool.c: a connection of the simulated results database, taken for
   one operation (waiting while all are lent out) and given back; the
   pool's gauges and the wait are recorded. */
void demo_pool_init(demo *d, unsigned max);
void demo_pool_free(demo *d);
/* Run one simulated operation of `typical` seconds on a connection. */
void demo_db_op(demo *d, const char *operation, const char *table, double typical);

/* demo_view.c */
void demo_view(demo *d, double elapsed);
void demo_summary(demo *d, double elapsed);

#endif
