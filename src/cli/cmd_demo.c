/*
** cmd_demo.c: `agentmon demo` -- options, setting the system up, running it
** and taking it down again.
**
**   agentmon demo [--listen HOST:PORT] [--coordinator URI] [--log FILE]
**                 [--duration S] [--rate N] [--instances N] [--seed N] [--quiet]
**                 [--time-scale F] [--uninstrumented] [--rules FILE]...
**                 [--evaluation-interval D] [--alert-window D] [--llm-price P/M=IN,OUT]...
**                 [--replay-interval S]
**
** Everything lives in the default registry, which the embedded server
** serves at /metrics and /snapshot; /coordinator is the coordinator's own
** JSON snapshot. The alerting engine (src/alert/service.h) evaluates the
** rule files (the shipped deploy/prometheus/alerts.yml by default) over
** that registry; the server answers Prometheus' query API over its window
** (/api/v1/query, /api/v1/rules, /api/v1/alerts, ...), POST /-/reload and
** SIGHUP reload the rules. The web dashboard (src/web/dashboard.h) is at
** /, with the DLQ actions on the demo's coordinator and the trace page
** reading the demo's log file. The main thread samples queue depths every second and
** draws the view every two; the agents run on their own threads. SIGINT,
** SIGTERM or the end of --duration stop the agents, which finish the step
** in hand (their receives time out within 0.2 s), and everything is freed.
*/
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/civil.h"
#include "../alert/ycfg.h"
#include "../util/error.h"

#include "args.h"
#include "dashboard_opts.h"
#include "http_security.h"
#include "cli.h"
#include "demo.h"

static int parse(int argc, char **argv, demo_opts *o)
{
    cli_opt opts[] = {
        {"--listen", true,
         "serve /metrics here (default " AM_HTTP_DEFAULT_LISTEN "; port 0 picks one)", NULL},
        {"--coordinator", true, "memory: (default), redis://host:port/db, unix:///path", NULL},
        {"--log", true, "JSON log file (default agentmon-demo.log)", NULL},
        {"--duration", true, "stop after this many seconds (default: at Ctrl-C)", NULL},
        {"--rate", true, "tasks submitted per second (default 8)", NULL},
        {"--instances", true, "agents per role (default 2, at most 8)", NULL},
        {"--seed", true, "random seed, for a repeatable run (default: the clock)", NULL},
        {"--quiet", false, "no terminal view; only the summary at the end", NULL},
        {"--time-scale", true, "simulated latencies times this (default 1; 0: none)", NULL},
        {"--uninstrumented", false, "no packs and no logs (to measure what they cost)", NULL},
        {"--rules", true,
         "Prometheus rule file to evaluate (repeatable; default " DEMO_DEFAULT_RULES "; off: none)",
         NULL},
        {"--evaluation-interval", true, "rule groups without interval: (default 15s)", NULL},
        {"--alert-window", true,
         "history kept in memory for rules and queries before they ask for more (default 1h)",
         NULL},
        {"--notify-config", true,
         "Alertmanager's route:, receivers:, inhibit_rules: (and alerting:) for the alerts", NULL},
        CLI_DASHBOARD_OPTS,
        {"--replay-interval", true,
         "seconds between the simulated operator's DLQ replays (default 20; 0: never)", NULL},
        CLI_HTTP_SECURITY_OPTS,
    };
    const size_t n = sizeof opts / sizeof opts[0];
    const char *pos[1];
    size_t n_pos;
    int rc = cli_parse(argc, argv, opts, n, pos, 0, &n_pos,
                       "agentmon demo [--listen HOST:PORT] [--coordinator URI] [--log FILE] "
                       "[--duration S] [--quiet]");
    if (rc)
        return rc == 1 ? -1 : rc;
    double instances = 2, seed = 0;
    o->rate = 8;
    o->time_scale = 1;
    o->replay_interval = 20;
    if ((rc = cli_listen(opts, n, "--listen", o->host, sizeof o->host, &o->port)) ||
        (rc = cli_number(opts, n, "--duration", 0, 1e9, &o->duration)) ||
        (rc = cli_number(opts, n, "--rate", 0.01, 1e6, &o->rate)) ||
        (rc = cli_number(opts, n, "--instances", 1, DEMO_MAX_INSTANCES, &instances)) ||
        (rc = cli_number(opts, n, "--seed", 0, 9007199254740992.0, &seed)) ||
        (rc = cli_number(opts, n, "--time-scale", 0, 1000, &o->time_scale)) ||
        (rc = cli_number(opts, n, "--replay-interval", 0, 1e9, &o->replay_interval)))
        return rc;
    const char *v;
    if ((v = cli_get(opts, n, "--coordinator")))
        o->coordinator = v;
    if ((v = cli_get(opts, n, "--log")))
        o->log_path = v;
    o->instances = (unsigned)instances;
    o->seed = (uint64_t)seed;
    o->quiet = cli_get(opts, n, "--quiet") != NULL;
    o->uninstrumented = cli_get(opts, n, "--uninstrumented") != NULL;
    o->n_rules = cli_all(argc, argv, "--rules", o->rules, DEMO_MAX_RULE_FILES);
    if (o->n_rules > DEMO_MAX_RULE_FILES) {
        fprintf(stderr, "agentmon demo: at most %d --rules files\n", DEMO_MAX_RULE_FILES);
        return 2;
    }
    o->no_rules = o->n_rules == 1 && strcmp(o->rules[0], "off") == 0;
    o->notify_config = cli_get(opts, n, "--notify-config");
    if ((v = cli_get(opts, n, "--evaluation-interval")) &&
        am__duration_parse(v, strlen(v), "--evaluation-interval", &o->eval_interval)) {
        fprintf(stderr, "agentmon demo: %s\n", am_errmsg());
        return 2;
    }
    if ((v = cli_get(opts, n, "--alert-window")) &&
        am__duration_parse(v, strlen(v), "--alert-window", &o->alert_window)) {
        fprintf(stderr, "agentmon demo: %s\n", am_errmsg());
        return 2;
    }
    return cli_http_security_load(opts, n, "agentmon demo", &o->security);
}

/* SIGHUP: reload the rule files. */
static volatile sig_atomic_t g_hup;

static void on_hup(int sig)
{
    (void)sig;
    g_hup = 1;
}

/* GET /coordinator: the coordinator's JSON snapshot. */
static void coordinator_route(am_http_req *req, am_http_resp *resp, void *userdata)
{
    (void)req;
    demo *d = userdata;
    char *text;
    size_t len;
    if (am_coord_snapshot(d->coord, &text, &len) != AM_OK) {
        am_http_resp_error(resp, 503, "unavailable", am_errmsg());
        return;
    }
    am_http_resp_body_take(resp, "application/json", text, len);
}

/*
** The packs' handles of agent a, resolved once so that its steps look up
** no labels (all NULL when uninstrumented: the packs are). The
** orchestrator takes no steps, so it has only its task handle (no series
** of its own elsewhere). A full family (AM_ELIMIT) still gives handles,
** into its overflow series.
*/
static am_err agent_handles(demo *d, demo_agent *a)
{
    const char *role = demo_role_name(a->role);
    am_err rc = d->tasks ? am_task_agent_new(d->tasks, a->name, &a->task) : AM_OK;
    if (a->role == ROLE_ORCH)
        return rc;
    if (!rc || rc == AM_ELIMIT)
        rc = am_worker_agent_new(d->worker, role, &a->worker);
    if (!rc || rc == AM_ELIMIT)
        rc = am_a2a_target_new(d->a2a, role, demo_role_op(a->role), &a->a2a);
    if (!rc || rc == AM_ELIMIT)
        rc = am_llm_agent_new(d->llm, role, &a->llm);
    return rc == AM_ELIMIT ? AM_OK : rc;
}

/* The registry, packs, logger, coordinator, providers and agents. */
static am_err setup(demo *d)
{
    static const char *const info_names[] = {"service", "version", "environment"};
    const char *const info_values[] = {"agentmon-demo", am_version(), "demo"};
    const am_labels info = {info_names, info_values, 3};
    am_err rc;
    /* d->reg is set already when the alerting engine runs (start_alerting),
       whose thread reads it: written again here, that would be a race */
    if (!d->reg)
        d->reg = am_registry_default();
    if (d->o.uninstrumented) {
        /* packs stay NULL: every recording call is then a no-op */
    } else if ((rc = am_registry_enable_process_metrics(d->reg)) ||
               (rc = am_service_info(d->reg, &info)) ||
               (rc = am_task_pack_new(d->reg, &d->tasks)) ||
               (rc = am_a2a_pack_new(d->reg, &d->a2a)) ||
               (rc = am_cache_pack_new(d->reg, &d->cache)) ||
               (rc = am_rate_pack_new(d->reg, &d->rate)) ||
               (rc = am_llm_pack_new(d->reg, &d->llm)) ||
               (rc = am_worker_pack_new(d->reg, &d->worker)))
        return rc;

    am_log_opts lo = AM_LOG_OPTS_INIT;
    lo.path = d->o.log_path;
    lo.component = "agentmon-demo";
    lo.flags = AM_LOG_BUFFERED; /* a line per step: a copy, not a write(2) */
    if (d->o.uninstrumented)
        lo.level = AM_LOG_LEVEL_CRITICAL; /* the demo logs nothing that high */
    if ((rc = am_logger_new(&lo, &d->log)))
        return rc;

    am_coord_opts co = AM_COORD_OPTS_INIT;
    co.registry = d->reg;
    co.max_queue = 200; /* small, so that backpressure shows */
    co.max_attempts = 4;
    co.backoff_base_s = 0.2;
    co.backoff_max_s = 5;
    co.dlq_growth_threshold = 5;
    co.dlq_growth_window_s = 30;
    co.logger = d->log;
    co.on_dlq_growth = demo_dlq_alert;
    co.dlq_growth_userdata = d;
    if ((rc = am_coord_open(d->o.coordinator, &co, &d->coord)) || (rc = demo_providers_init(d)) ||
        (rc = demo_cache_init(d)))
        return rc;
    demo_pool_init(d, 2); /* two writers and the orchestrator share two connections */

    /* agents[0] is the orchestrator; then each role's instances in turn */
    d->n_agents = 0;
    for (int role = 0; role < N_ROLES; role++) {
        unsigned n = role == ROLE_ORCH ? 1 : d->o.instances;
        for (unsigned k = 1; k <= n; k++) {
            demo_agent *a = &d->agents[d->n_agents++];
            a->d = d;
            a->role = role;
            snprintf(a->name, sizeof a->name, "%s:%u", demo_role_name(role), k);
            if ((rc = am_coord_register(d->coord, a->name)) || (rc = agent_handles(d, a)))
                return rc;
        }
    }
    return AM_OK;
}

static am_err reload_cb(void *ud, am_buf *errs)
{
    demo *d = ud;
    am_notify_config *nc = NULL;
    am_err rc =
        d->o.notify_config ? am__notify_config_load(d->o.notify_config, false, &nc, errs) : AM_OK;
    if (!rc)
        rc = am_alerting_reload(d->alerting, errs);
    if (rc) {
        am__notify_config_free(nc);
        return rc;
    }
    return am_notify_set_config(d->notify, nc);
}

/*
** The rules: --rules, or the shipped ones when they are found (from the
** repository's root, or beside the program's build directory); none with
** --rules off. A file that does not load stops the demo, naming file and
** line.
*/
static am_err start_alerting(demo *d)
{
    const char *const *files = d->o.rules;
    size_t n = d->o.no_rules ? 0 : d->o.n_rules;
    static char found[4096];
    const char *def[1];
    if (!d->o.n_rules) {
        char exe[4000];
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[l > 0 ? l : 0] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        if (access(DEMO_DEFAULT_RULES, R_OK) == 0)
            snprintf(found, sizeof found, "%s", DEMO_DEFAULT_RULES);
        else if (slash)
            snprintf(found, sizeof found, "%s/../%s", exe, DEMO_DEFAULT_RULES);
        if (found[0] && access(found, R_OK) == 0) {
            def[0] = found;
            files = def;
            n = 1;
        }
    }
    d->reg = am_registry_default(); /* setup() fills it; the engine reads it */
    am_buf errs;
    am_buf_init(&errs, 1u << 20);
    am_notify_config *nc = NULL;
    am_err rc =
        d->o.notify_config ? am__notify_config_load(d->o.notify_config, false, &nc, &errs) : AM_OK;
    am_notify_opts no = {d->reg, d->log, NULL};
    am_notify *notify = NULL;
    if (!rc)
        rc = am_notify_new(&no, nc, &notify);
    atomic_store(&d->notify, notify);
    am_alerting_opts ao = AM_ALERTING_OPTS_INIT;
    ao.notify = am_notify_engine_fn;
    ao.notify_ud = notify;
    ao.rule_files = files;
    ao.n_rule_files = n;
    ao.regs = &d->reg;
    ao.n_regs = 1;
    ao.registry = d->reg;
    ao.eval_interval_ms = (int64_t)(d->o.eval_interval * 1000);
    ao.window_ms = (int64_t)(d->o.alert_window * 1000);
    ao.feed_interval_ms = 1000; /* the dashboard's charts move every second */
    ao.logger = d->log;
    if (!rc)
        rc = am_alerting_start(&ao, &d->alerting, &errs);
    rc = am__ycfg_fail(rc, &errs);
    am_buf_free(&errs);
    if (!rc) {
        atomic_store(&d->papi.al, d->alerting);
        atomic_store(&d->aapi.notify, notify);
    }
    d->n_rule_files = n;
    return rc;
}

static am_err serve(demo *d)
{
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.host = d->o.host;
    ho.port = d->o.port;
    cli_http_security_apply(&d->o.security, &ho);
    d->papi.reload = reload_cb;
    d->papi.reload_ud = d;
    d->papi.registries = &d->reg;
    d->papi.n_registries = 1;
    d->papi.read_auth = cli_http_read_auth(&d->o.security);
    d->papi.write_auth = cli_http_write_auth(&d->o.security);
    am_err rc = am_http_new(&ho, &d->srv);
    if (!rc)
        rc = am_http_route(d->srv, AM_HTTP_GET, "/coordinator", coordinator_route, d,
                           cli_http_read_auth(&d->o.security));
    d->aapi.read_auth = d->papi.read_auth;
    d->aapi.write_auth = d->papi.write_auth;
    if (!rc)
        rc = am__promql_routes_add(d->srv, &d->papi);
    if (!rc)
        rc = am__alert_routes_add(d->srv, &d->aapi);
    d->dash.title = "agentmon demo";
    d->dash.read_auth = d->papi.read_auth;
    d->dash.write_auth = d->papi.write_auth;
    d->dash.coord = d->coord;
    d->dash.sample_interval_s = 1; /* start_alerting(): the feed every second */
    d->dash.log_path = d->o.uninstrumented ? NULL : d->o.log_path;
    if (!rc)
        rc = am__dashboard_routes_add(d->srv, &d->dash);
    if (!rc)
        rc = am_http_listen(d->srv);
    return rc;
}

static void teardown(demo *d)
{
    am_http_free(d->srv);
    atomic_store(&d->papi.al, NULL);
    am_alerting_stop(d->alerting);
    d->alerting = NULL;
    for (unsigned i = 0; i < d->n_agents; i++) {
        demo_agent *a = &d->agents[i];
        am_task_agent_free(a->task);
        am_worker_agent_free(a->worker);
        am_a2a_target_free(a->a2a);
        am_llm_agent_free(a->llm);
        for (unsigned k = 0; k < d->n_agents; k++)
            am_worker_link_free(a->links[k]);
    }
    demo_providers_free(d);
    demo_cache_free(d);
    am_coord_close(d->coord);
    am_notify_free(atomic_exchange(&d->notify, NULL));
    am_worker_pack_free(d->worker);
    am_llm_pack_free(d->llm);
    am_rate_pack_free(d->rate);
    am_cache_pack_free(d->cache);
    am_a2a_pack_free(d->a2a);
    am_task_pack_free(d->tasks);
    am_logger_free(d->log);
    pthread_mutex_destroy(&d->cache_lock);
    if (d->pool.max)
        demo_pool_free(d);
    cli_http_security_free(&d->o.security);
}

/* Start every agent's thread; on failure stop and join those started. */
static int start_agents(demo *d)
{
    for (unsigned i = 0; i < d->n_agents; i++) {
        demo_agent *a = &d->agents[i];
        if (pthread_create(&a->thread, NULL,
                           a->role == ROLE_ORCH ? demo_orchestrator_main : demo_agent_main, a)) {
            atomic_store(&d->stop, 1);
            while (i--)
                pthread_join(d->agents[i].thread, NULL);
            return 1;
        }
    }
    return 0;
}

static int run_demo(int argc, char **argv)
{
    static demo d; /* ~10 KiB; and a signal can arrive at any time */
    memset(&d, 0, sizeof d);
    snprintf(d.o.host, sizeof d.o.host, "%s", AM_HTTP_DEFAULT_HOST);
    d.o.port = AM_HTTP_DEFAULT_PORT;
    d.o.coordinator = "memory:";
    d.o.log_path = "agentmon-demo.log";
    int rc = parse(argc, argv, &d.o);
    if (!rc)
        rc = cli_llm_prices(argc, argv, "agentmon demo", &d.dash);
    if (rc) {
        cli_http_security_free(&d.o.security);
        return rc < 0 ? 0 : rc;
    }
    demo_seed(d.o.seed ? d.o.seed : (uint64_t)time(NULL));
    demo_set_time_scale(d.o.time_scale);
    pthread_mutex_init(&d.cache_lock, NULL);
    d.t0 = demo_now();
    d.next_replay = d.t0 + d.o.replay_interval;

    /* the notifier first: the coordinator's and breakers' events go to it */
    const char *stage = "--rules";
    am_err e = start_alerting(&d);
    if (!e) {
        stage = "setup";
        e = setup(&d);
    }
    if (!e) {
        stage = "--listen";
        e = serve(&d);
    }
    if (e) {
        fprintf(stderr, "agentmon demo: %s: %s\n", stage, am_errmsg());
        teardown(&d);
        return 1;
    }

    cli_catch_stop_signals();
    cli_http_security_warn(&d.o.security, "agentmon demo", d.srv);

    const char *scheme = d.o.security.tls_cert ? "https" : "http";
    printf("agentmon demo: %u agents on %s; metrics at %s://%s:%u/metrics, logs in %s, "
           "%zu rule file%s%s\n",
           d.n_agents, d.o.coordinator, scheme, d.o.host, am_http_port(d.srv), d.o.log_path,
           d.n_rule_files, d.n_rule_files == 1 ? "" : "s",
           d.o.duration > 0 ? "" : "; Ctrl-C stops it");
    printf("agentmon demo: dashboard at %s://%s:%u/\n", scheme, d.o.host, am_http_port(d.srv));
    fflush(stdout);
    if (start_agents(&d)) {
        fprintf(stderr, "agentmon demo: cannot start the agents' threads\n");
        teardown(&d);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    double next_sample = d.t0, next_view = d.t0 + 2, next_trim = d.t0 + 60;
    while (!cli_stop_signal) {
        if (g_hup) {
            g_hup = 0;
            am_buf errs;
            am_buf_init(&errs, 1u << 20);
            if (am_alerting_reload(d.alerting, &errs))
                fprintf(stderr, "agentmon demo: reload failed, the running rules stay:\n%s",
                        errs.len ? errs.p : am_errmsg());
            am_buf_free(&errs);
        }
        double now = demo_now();
        if (d.o.duration > 0 && now - d.t0 >= d.o.duration)
            break;
        if (now >= next_sample) {
            demo_sample(&d);
            next_sample += 1;
        }
        if (!d.o.quiet && now >= next_view) {
            demo_view(&d, now - d.t0);
            next_view += 2;
        }
        if (now >= next_trim) {
            /* glibc keeps what a thread freed in that thread's arena: the
               HTTP handlers' buffers (a slowloris holds hundreds) stayed
               in the RSS after they were freed, ~140 KB a minute in the
               soak with the heap in use flat */
            malloc_trim(0);
            next_trim += 60;
        }
        demo_sleep(0.05);
    }

    atomic_store(&d.stop, 1);
    for (unsigned i = 0; i < d.n_agents; i++)
        pthread_join(d.agents[i].thread, NULL);
    am_http_stop(d.srv);
    demo_summary(&d, demo_now() - d.t0);
    teardown(&d);
    return 0;
}

const am_cli_cmd am_cli_cmd_demo = {"demo", run_demo,
                                    "run a live multi-agent workload, instrumented and served"};
