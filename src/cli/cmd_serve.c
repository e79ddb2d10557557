/*
** cmd_serve.c: `agentmon serve` -- the collector (src/serve/serve.h) run
** until SIGINT or SIGTERM, which stop it cleanly: inputs closed first,
** what is buffered committed, the store closed.
*/
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "../util/buf.h"
#include "../util/civil.h"
#include "../serve/config.h"
#include "../serve/serve.h"
#include "args.h"
#include "dashboard_opts.h"
#include "http_security.h"
#include "cli.h"

static am_config g_config; /* --config: its strings outlive parse() */
static cli_http_security g_security;
static am_dashboard g_dashboard; /* --llm-price */
static char **g_merged;          /* argv with the file's options in front */

static int parse(int argc, char **argv, am_serve_opts *o, char *http_host, char *statsd_host,
                 size_t host_size)
{
    cli_opt opts[] = {
        {"--config", true,
         "a YAML file of these options (e.g. retention: 30d); the command "
         "line wins",
         NULL},
        {"--listen", true,
         "HTTP API and /metrics (default " AM_HTTP_DEFAULT_LISTEN "; port 0 picks one)", NULL},
        {"--statsd", true,
         "StatsD/DogStatsD over UDP (default " AM_STATSD_DEFAULT_TARGET "; \"off\": none)", NULL},
        {"--statsd-unix", true, "also a unix datagram socket at this path", NULL},
        {"--store", true,
         "sqlite:PATH (default " AM_STORE_DEFAULT_URI ") or "
         "postgres://user:pw@host:port/db",
         NULL},
        {"--scrape", true, "pull Prometheus/OpenMetrics text from this URL (repeatable)", NULL},
        {"--tail", true,
         "follow this file of JSON log lines into the store, for the trace view (repeatable)",
         NULL},
        {"--scrape-interval", true, "seconds or a duration between scrapes (default 15s)", NULL},
        {"--retention", true, "keep records this long (default 15d)", NULL},
        {"--system-interval", true, "sample /proc this often (default 10s; 0: off)", NULL},
        {"--flush-interval", true, "store StatsD's series this often (default 10s)", NULL},
        {"--max-series", true, "series the collector holds, all sources (default 200000)", NULL},
        {"--statsd-max-series", true, "series StatsD may make (default 100000)", NULL},
        {"--events-max-series", true, "series metric events may make (default 100000)", NULL},
        {"--max-flush-samples", true, "StatsD samples stored per flush (default 100000)", NULL},
        {"--store-queue", true,
         "records waiting for the store's writer (default 100000; samples may hold half)", NULL},
        {"--rules", true,
         "a Prometheus rule file (or glob) to evaluate (repeatable; rules: in the config)", NULL},
        {"--evaluation-interval", true, "rule groups without interval: (default 15s)", NULL},
        {"--alert-window", true,
         "history kept in memory for rules and queries before they ask for more (default 1h)",
         NULL},
        {"--external-url", true, "this collector's URL, for links in alerts", NULL},
        {"--query-max-samples", true, "samples one query may load (default 50000000)", NULL},
        {"--query-max-window", true, "how far back queries may widen the window (default 24h)",
         NULL},
        {"--resend-delay", true, "send firing alerts again after this (default 1m)", NULL},
        {"--for-outage-tolerance", true,
         "restore pending `for` state only when down less than this (default 1h)", NULL},
        {"--for-grace-period", true,
         "a restored alert fires no sooner than this after a restart (default 10m)", NULL},
        {"--remote-write-dir", true,
         "where remote_write endpoints keep unsent samples (default <store dir>/remote_write)",
         NULL},
        {"--remote-write-max-bytes", true,
         "the most each endpoint keeps unsent, memory and disk (default 256MiB as bytes)", NULL},
        {"--remote-write-interval", true,
         "how often remote_write samples the collector's series (default 15s)", NULL},
        {"--notify-config", true,
         "Alertmanager's route:, receivers:, inhibit_rules: (and prometheus.yml's alerting:) "
         "in a file of their own; or put them in --config",
         NULL},
        CLI_DASHBOARD_OPTS,
        CLI_HTTP_SECURITY_OPTS,
    };
    const size_t n = sizeof opts / sizeof opts[0];
    const char *pos[1];
    size_t n_pos;
    int rc = cli_parse(argc, argv, opts, n, pos, 0, &n_pos, "agentmon serve [options]");
    if (rc)
        return rc;
    const char *path = cli_get(opts, n, "--config");
    if (path && !g_merged) {
        /* the file's options go before the command line's: parse again */
        const char *known[sizeof opts / sizeof opts[0]],
            *lists[] = {"--scrape", "--rules", "--llm-price", "--tail"};
        for (size_t i = 1; i < n; i++)
            known[i - 1] = opts[i].name;
        if (am__config_load(path, known, n - 1, lists, 4, &g_config)) {
            fprintf(stderr, "agentmon serve: %s\n", am_errmsg());
            return 2;
        }
        int m = 0;
        g_merged = calloc((size_t)argc + 2 * g_config.n + 1, sizeof *g_merged);
        if (!g_merged)
            return 2;
        g_merged[m++] = argv[0];
        for (size_t i = 0; i < g_config.n; i++) {
            g_merged[m++] = (char *)g_config.names[i];
            g_merged[m++] = (char *)g_config.values[i];
        }
        for (int i = 1; i < argc; i++)
            g_merged[m++] = argv[i];
        return parse(m, g_merged, o, http_host, statsd_host, host_size);
    }
    uint16_t port = o->http_port;
    if (cli_listen(opts, n, "--listen", http_host, host_size, &port))
        return 2;
    o->http_host = http_host;
    o->http_port = port;
    const char *sd = cli_get(opts, n, "--statsd");
    if (sd && strcmp(sd, "off") == 0) {
        o->statsd_port = -1;
    } else {
        uint16_t sp = (uint16_t)o->statsd_port;
        if (cli_listen(opts, n, "--statsd", statsd_host, host_size, &sp))
            return 2;
        o->statsd_host = statsd_host;
        o->statsd_port = sp;
    }
    o->statsd_unix = cli_get(opts, n, "--statsd-unix");
    o->store_uri = cli_get(opts, n, "--store");
    o->n_scrape = cli_all(argc, argv, "--scrape", o->scrape, AM_SERVE_MAX_SCRAPE);
    if (o->n_scrape > AM_SERVE_MAX_SCRAPE) {
        fprintf(stderr, "agentmon serve: at most %d --scrape targets\n", AM_SERVE_MAX_SCRAPE);
        return 2;
    }
    o->n_tail = cli_all(argc, argv, "--tail", o->tail, AM_SERVE_MAX_TAIL);
    if (o->n_tail > AM_SERVE_MAX_TAIL) {
        fprintf(stderr, "agentmon serve: at most %d --tail files\n", AM_SERVE_MAX_TAIL);
        return 2;
    }
    o->n_rule_files = cli_all(argc, argv, "--rules", o->rule_files, AM_SERVE_MAX_RULE_FILES);
    if (o->n_rule_files > AM_SERVE_MAX_RULE_FILES) {
        fprintf(stderr, "agentmon serve: at most %d --rules files\n", AM_SERVE_MAX_RULE_FILES);
        return 2;
    }
    o->external_url = cli_get(opts, n, "--external-url");
    o->notify_config = cli_get(opts, n, "--notify-config");
    if (g_config.has_sections) {
        if (o->notify_config) {
            fprintf(stderr, "agentmon serve: the alerting sections are in --config and "
                            "--notify-config names another file: keep them in one\n");
            return 2;
        }
        o->notify_config = cli_get(opts, n, "--config");
        o->notify_config_is_collector = true;
    }
    if (g_config.has_remote_write)
        o->remote_write_config = cli_get(opts, n, "--config");
    o->remote_write_dir = cli_get(opts, n, "--remote-write-dir");
    if (cli_number(opts, n, "--remote-write-max-bytes", 65536, 1e15, &o->remote_write_max_bytes))
        return 2;
    if (cli_number(opts, n, "--query-max-samples", 1, 1e15, &o->query_max_samples))
        return 2;
    static const struct {
        const char *opt;
        size_t off;
    } DURATIONS[] = {{"--scrape-interval", offsetof(am_serve_opts, scrape_interval_s)},
                     {"--evaluation-interval", offsetof(am_serve_opts, eval_interval_s)},
                     {"--alert-window", offsetof(am_serve_opts, alert_window_s)},
                     {"--query-max-window", offsetof(am_serve_opts, query_max_window_s)},
                     {"--resend-delay", offsetof(am_serve_opts, resend_delay_s)},
                     {"--for-outage-tolerance", offsetof(am_serve_opts, for_outage_tolerance_s)},
                     {"--for-grace-period", offsetof(am_serve_opts, for_grace_period_s)},
                     {"--retention", offsetof(am_serve_opts, retention_s)},
                     {"--system-interval", offsetof(am_serve_opts, system_interval_s)},
                     {"--flush-interval", offsetof(am_serve_opts, flush_interval_s)},
                     {"--remote-write-interval", offsetof(am_serve_opts, remote_write_interval_s)}};
    for (size_t i = 0; i < sizeof DURATIONS / sizeof DURATIONS[0]; i++) {
        const char *v = cli_get(opts, n, DURATIONS[i].opt);
        double *out = (double *)((char *)o + DURATIONS[i].off);
        if (!v)
            continue;
        if (strcmp(DURATIONS[i].opt, "--system-interval") == 0 && strcmp(v, "0") == 0) {
            *out = -1;
            continue;
        }
        if (am__duration_parse(v, strlen(v), DURATIONS[i].opt, out)) {
            fprintf(stderr, "agentmon serve: %s\n", am_errmsg());
            return 2;
        }
    }
    static const struct {
        const char *opt;
        size_t off;
    } COUNTS[] = {{"--max-series", offsetof(am_serve_opts, max_series)},
                  {"--statsd-max-series", offsetof(am_serve_opts, statsd_max_series)},
                  {"--events-max-series", offsetof(am_serve_opts, events_max_series)},
                  {"--max-flush-samples", offsetof(am_serve_opts, max_flush_samples)},
                  {"--store-queue", offsetof(am_serve_opts, store_max_queued)}};
    for (size_t i = 0; i < sizeof COUNTS / sizeof COUNTS[0]; i++) {
        double v = 0;
        if (cli_number(opts, n, COUNTS[i].opt, 1, 1e9, &v))
            return 2;
        if (v > 0)
            *(size_t *)((char *)o + COUNTS[i].off) = (size_t)v;
    }
    if (cli_http_security_load(opts, n, "agentmon serve", &g_security) ||
        cli_llm_prices(argc, argv, "agentmon serve", &g_dashboard))
        return 2;
    o->dashboard = &g_dashboard;
    o->tls_cert_file = g_security.tls_cert;
    o->tls_key_file = g_security.tls_key;
    o->read_auth = cli_http_read_auth(&g_security);
    o->max_connections_per_ip = g_security.max_connections_per_ip;
    o->write_auth = cli_http_write_auth(&g_security);
    return 0;
}

/* SIGHUP: reload the rule files (and notifiers), as Prometheus does. */
static volatile sig_atomic_t g_hup;

static void on_hup(int sig)
{
    (void)sig;
    g_hup = 1;
}

static void reload(am_serve *s)
{
    am_buf errs;
    am_buf_init(&errs, 1u << 20);
    if (am_serve_reload(s, &errs))
        fprintf(stderr, "agentmon serve: reload failed, the running rules stay:\n%s",
                errs.len ? errs.p : am_errmsg());
    else
        printf("agentmon serve: reloaded\n");
    fflush(stdout);
    am_buf_free(&errs);
}

static void cleanup(void)
{
    cli_http_security_free(&g_security);
    am__config_free(&g_config);
    free(g_merged);
    g_merged = NULL;
}

static int run(int argc, char **argv)
{
    am_serve_opts o = AM_SERVE_OPTS_INIT;
    char http_host[256] = AM_HTTP_DEFAULT_HOST, statsd_host[256] = AM_STATSD_DEFAULT_HOST;
    int rc = parse(argc, argv, &o, http_host, statsd_host, sizeof http_host);
    if (rc) {
        cleanup();
        return rc == 1 ? 0 : rc; /* 1: --help was shown */
    }
    am_serve *s;
    /* A fixed mmap threshold: glibc otherwise raises it to the size of the
       largest block freed (a 64 MiB inflated body), after which such
       blocks come from the handler threads' arenas and stay there. With
       it, a request's large buffers go back to the kernel when freed. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    if (am_serve_start(&o, &s)) {
        fprintf(stderr, "agentmon serve: %s\n", am_errmsg());
        cleanup();
        return 1;
    }
    cli_catch_stop_signals();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    cli_http_security_warn(&g_security, "agentmon serve", am_serve_http(s));
    int sp = am_serve_statsd_port(s);
    printf("agentmon serve: HTTP%s on %s:%u (POST /api/v1/events, /metrics), ",
           o.tls_cert_file ? "S" : "", o.http_host, am_serve_http_port(s));
    if (sp)
        printf("StatsD on udp %s:%d, ", o.statsd_host, sp);
    printf("store %s, %zu scrape target%s, %zu rule file%s\n",
           o.store_uri ? o.store_uri : AM_STORE_DEFAULT_URI, o.n_scrape, o.n_scrape == 1 ? "" : "s",
           o.n_rule_files, o.n_rule_files == 1 ? "" : "s");
    fflush(stdout);
    while (!cli_stop_signal) {
        sleep(1); /* a signal cuts it short; no race with pause() */
        if (g_hup) {
            g_hup = 0;
            reload(s);
        }
    }
    am_serve_stop(s);
    cleanup();
    printf("agentmon serve: stopped\n");
    return 0;
}

const am_cli_cmd am_cli_cmd_serve = {"serve", run,
                                     "collect events, StatsD and scrapes; store; answer queries"};
