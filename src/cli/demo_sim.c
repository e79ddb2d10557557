/*
** demo_sim.c: the simulated world of `agentmon demo` -- randomness,
** latencies, three LLM providers behind circuit breakers, and a research
** cache.
**
** LLM providers: openai, anthropic and mistral. Every 60 s mistral goes
** bad for 15 s (most calls fail with ServiceUnavailable), its breaker opens
** after 5 failures in 10 s, calls fall back to the next provider whose
** breaker allows them (the CCR routing of the story), and after the
** cool-down the half-open breaker probes mistral again and closes once it
** is healthy. Latencies are long-tailed (log-normal around a typical
** value), tokens random within a task type's range.
**
** The research cache holds 24 topics for 10 s: a lookup hits, misses, and
** on a miss inserts, evicting the oldest when full ("size") and expired
** entries when found ("ttl") -- all through the packs.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "demo.h"

static _Atomic uint64_t g_seed = 0x9E3779B97F4A7C15ull;

void demo_seed(uint64_t seed)
{
    atomic_store(&g_seed, seed ? seed : 0x9E3779B97F4A7C15ull);
}

uint64_t demo_rand(void)
{
    static _Atomic uint64_t streams;
    static __thread uint64_t x;
    if (!x) /* each thread its own stream, derived from the seed */
        x = (atomic_load(&g_seed) ^ (atomic_fetch_add(&streams, 1) * 0xD1B54A32D192ED03ull)) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

double demo_uniform(void)
{
    return (double)(demo_rand() >> 11) / 9007199254740992.0;
}

double demo_latency(double typical)
{
    /* log-normal: median `typical`, a tail a few times longer */
    double u1 = demo_uniform(), u2 = demo_uniform();
    double z = sqrt(-2 * log(u1 + 1e-12)) * cos(2 * M_PI * u2);
    return typical * exp(0.5 * z);
}

double demo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Atomic double g_time_scale = 1;

void demo_set_time_scale(double scale)
{
    atomic_store(&g_time_scale, scale);
}

void demo_work(double seconds)
{
    demo_sleep(seconds * atomic_load(&g_time_scale));
}

void demo_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* LLM providers                                                       */
/* ------------------------------------------------------------------ */

/* The ccr task_type of each role's LLM calls (NULL: the role makes none);
   each provider keeps a prepared route per role, so a call looks up nothing. */
static const char *const LLM_TASK[N_ROLES] = {
    [ROLE_PLANNER] = "planning",
    [ROLE_CODER] = "agent_step",
    [ROLE_REVIEWER] = "review",
    [ROLE_WRITER] = "writing",
};

am_err demo_providers_init(demo *d)
{
    static const struct {
        const char *name, *model;
        double base_s;
    } P[DEMO_PROVIDERS] = {{"openai", "gpt-4o", 0.12},
                           {"anthropic", "claude-sonnet-4", 0.15},
                           {"mistral", "mistral-large", 0.08}};
    for (int i = 0; i < DEMO_PROVIDERS; i++) {
        demo_provider *p = &d->providers[i];
        p->name = P[i].name;
        p->model = P[i].model;
        p->base_s = P[i].base_s;
        char bname[48];
        snprintf(bname, sizeof bname, "llm:%s", p->name);
        am_breaker_opts bo = AM_BREAKER_OPTS_INIT;
        bo.name = bname;
        bo.registry = d->reg;
        bo.on_transition = demo_breaker_alert;
        bo.transition_userdata = d;
        bo.failure_threshold = 5;
        /* in simulated time, like the latencies: at --time-scale 0 calls
           take no time, and background failures must not add up to a trip */
        double scale = fmax(d->o.time_scale, 1e-6);
        bo.window_s = 10 * scale;
        bo.cooldown_s = 5 * scale;
        bo.half_open_successes = 2;
        am_err rc = am_breaker_new(&bo, &p->breaker);
        /* no pack: uninstrumented, the routes stay NULL */
        for (int role = 0; role < N_ROLES && !rc && d->llm; role++)
            if (LLM_TASK[role])
                rc = am_llm_route_new(d->llm, p->name, p->model, "chat", LLM_TASK[role],
                                      &p->route[role]);
        if (rc)
            return rc;
    }
    return AM_OK;
}

void demo_providers_free(demo *d)
{
    for (int i = 0; i < DEMO_PROVIDERS; i++) {
        for (int role = 0; role < N_ROLES; role++)
            am_llm_route_free(d->providers[i].route[role]);
        am_breaker_free(d->providers[i].breaker);
    }
}

/* The chance that a call to provider i fails now. */
static double failure_rate(demo *d, int i)
{
    double t = fmod(demo_now() - d->t0, 60.0);
    if (i == 2 && t >= 20 && t < 35)
        return 0.85; /* mistral's bad quarter-minute */
    return 0.02;
}

const char *demo_llm_call(demo *d, demo_agent *a)
{
    int first = (int)(demo_rand() % DEMO_PROVIDERS);
    for (int k = 0; k < DEMO_PROVIDERS; k++) {
        demo_provider *p = &d->providers[(first + k) % DEMO_PROVIDERS];
        if (!am_breaker_allow(p->breaker))
            continue; /* open: route to the next provider */
        bool fails = demo_uniform() < failure_rate(d, (int)(p - d->providers));
        double secs = fails ? demo_latency(p->base_s / 3) : demo_latency(p->base_s);
        demo_work(secs);
        uint64_t in = 200 + demo_rand() % 2800, out = fails ? 0 : 50 + demo_rand() % 750;
        const char *err = fails ? "ServiceUnavailable" : NULL;
        if (fails)
            am_breaker_failure(p->breaker);
        else
            am_breaker_success(p->breaker);
        am_llm_route_record(p->route[a->role], err, secs, in, out, NULL);
        atomic_fetch_add(&d->tokens_in, in);
        atomic_fetch_add(&d->tokens_out, out);
        if (!fails)
            return NULL;
        /* a failed call is retried once on the next provider */
        AM_LOG_WARNING(d->log, a->name, "LLM call failed, trying the next provider",
                       AM_F_STR("provider", p->name),
                       AM_F_ERROR("ServiceUnavailable", "provider returned 503"));
    }
    return "CircuitOpen";
}

/* ------------------------------------------------------------------ */
/* Research cache                                                      */
/* ------------------------------------------------------------------ */

/* The research cache's handles (none when uninstrumented: no packs). */
am_err demo_cache_init(demo *d)
{
    static const char *const OPR[DEMO_CACHE_RESULTS][2] = {
        [DEMO_CACHE_HIT] = {"get", "hit"},
        [DEMO_CACHE_MISS] = {"get", "miss"},
        [DEMO_CACHE_SET] = {"set", "ok"},
    };
    am_err rc = am_worker_cache_ref_new(d->worker, "research_cache", &d->research_cache);
    for (int k = 0; k < DEMO_CACHE_RESULTS && (!rc || rc == AM_ELIMIT); k++)
        rc = am_cache_result_new(d->cache, OPR[k][0], OPR[k][1], &d->cache_results[k]);
    return rc == AM_ELIMIT ? AM_OK : rc;
}

void demo_cache_free(demo *d)
{
    am_worker_cache_ref_free(d->research_cache);
    for (int k = 0; k < DEMO_CACHE_RESULTS; k++)
        am_cache_result_free(d->cache_results[k]);
}

bool demo_cache_lookup(demo *d, int topic)
{
    double now = demo_now();
    bool hit = false;
    const char *evicted = NULL;
    pthread_mutex_lock(&d->cache_lock);
    for (unsigned i = 0; i < d->cache_n; i++) {
        if (d->cache_entries[i].topic != topic)
            continue;
        if (d->cache_entries[i].expires > now) {
            hit = true;
        } else { /* found, but stale: out it goes */
            d->cache_entries[i] = d->cache_entries[--d->cache_n];
            evicted = "ttl";
        }
        break;
    }
    if (!hit) {
        if (d->cache_n == sizeof d->cache_entries / sizeof d->cache_entries[0]) {
            unsigned oldest = 0;
            for (unsigned i = 1; i < d->cache_n; i++)
                if (d->cache_entries[i].expires < d->cache_entries[oldest].expires)
                    oldest = i;
            d->cache_entries[oldest] = d->cache_entries[--d->cache_n];
            evicted = "size";
        }
        d->cache_entries[d->cache_n].topic = topic;
        d->cache_entries[d->cache_n++].expires = now + 10;
    }
    unsigned size = d->cache_n;
    pthread_mutex_unlock(&d->cache_lock);
    am_worker_cache_ref_size(d->research_cache, size);
    double secs = demo_latency(hit ? 0.001 : 0.004);
    am_cache_result_record(d->cache_results[hit ? DEMO_CACHE_HIT : DEMO_CACHE_MISS], secs);
    if (!hit)
        am_cache_result_record(d->cache_results[DEMO_CACHE_SET], demo_latency(0.002));
    am_worker_cache_ref_lookup(d->research_cache, hit);
    if (evicted)
        am_worker_cache_eviction(d->worker, "research_cache", evicted);
    return hit;
}
