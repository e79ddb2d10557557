/*
** cmd_shm.c: `agentmon shm` -- a sidecar serving the merged /metrics of a
** shared-memory segment, or printing it once.
**
**   agentmon shm --file PATH [--listen HOST:PORT] [--once] [--format F]
**
** The workers of a service (gunicorn, a prefork C server) write the segment
** (include/agentmon/shm.h); this process only reads it, so its /metrics is
** every worker's, merged, whichever workers are alive. --once prints one
** exposition to stdout and exits (prometheus, openmetrics or json). With
** --listen it serves GET /metrics (OpenMetrics when Accept asks for it) and
** /health on libagentmon's HTTP server until SIGINT or SIGTERM, and every
** --reclaim-s seconds (default 10) folds dead workers' rows.
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "args.h"
#include "cli.h"

static am_shm *g_seg;

static void metrics(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)ud;
    const char *accept = am_http_req_header(req, "Accept");
    am_format f = accept && strstr(accept, "application/openmetrics-text") ? AM_FORMAT_OPENMETRICS
                                                                           : AM_FORMAT_PROMETHEUS;
    char *text;
    size_t len;
    if (am_shm_encode(g_seg, NULL, 0, f, &text, &len) != AM_OK) {
        am_http_resp_error(resp, 503, "internal", am_errmsg());
        return;
    }
    am_http_resp_body_take(resp, am_format_content_type(f), text, len);
}

static void health(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    static const char body[] = "{\"status\":\"ok\"}\n";
    am_http_resp_body(resp, "application/json", body, sizeof body - 1);
}

static int run(int argc, char **argv)
{
    cli_opt opts[] = {
        {"--file", true, "the segment (e.g. /dev/shm/myservice.agentmon)", NULL},
        {"--listen", true,
         "serve /metrics here (default " AM_HTTP_DEFAULT_LISTEN "; port 0 picks one)", NULL},
        {"--once", false, "print one exposition and exit", NULL},
        {"--format", true, "for --once: prometheus (default), openmetrics or json", NULL},
        {"--reclaim-s", true, "fold dead workers' rows this often (default 10)", NULL},
    };
    const size_t n = sizeof opts / sizeof opts[0];
    const char *pos[1];
    size_t n_pos;
    int rc = cli_parse(argc, argv, opts, n, pos, 0, &n_pos,
                       "agentmon shm --file PATH [--listen HOST:PORT] [--once]");
    if (rc)
        return rc == 1 ? 0 : rc;
    const char *path = cli_get(opts, n, "--file");
    if (!path) {
        fprintf(stderr, "agentmon shm: --file PATH is required\n");
        return 2;
    }
    char host[256] = AM_HTTP_DEFAULT_HOST;
    uint16_t port = AM_HTTP_DEFAULT_PORT;
    double reclaim_s = 10;
    if ((rc = cli_listen(opts, n, "--listen", host, sizeof host, &port)) ||
        (rc = cli_number(opts, n, "--reclaim-s", 0.1, 86400, &reclaim_s)))
        return rc;
    if (am_shm_open(path, NULL, &g_seg) != AM_OK) {
        fprintf(stderr, "agentmon shm: %s: %s\n", path, am_errmsg());
        return 1;
    }
    if (cli_get(opts, n, "--once")) {
        const char *fs = cli_get(opts, n, "--format");
        am_format f = !fs || strcmp(fs, "prometheus") == 0 ? AM_FORMAT_PROMETHEUS
                      : strcmp(fs, "openmetrics") == 0     ? AM_FORMAT_OPENMETRICS
                      : strcmp(fs, "json") == 0            ? AM_FORMAT_JSON
                                                           : (am_format)-1;
        if ((int)f < 0) {
            fprintf(stderr, "agentmon shm: --format must be prometheus, openmetrics or json\n");
            am_shm_close(g_seg);
            return 2;
        }
        char *text;
        size_t len;
        rc = am_shm_encode(g_seg, NULL, 0, f, &text, &len) == AM_OK ? 0 : 1;
        if (rc == 0) {
            fwrite(text, 1, len, stdout);
            am_free(text);
        } else {
            fprintf(stderr, "agentmon shm: %s\n", am_errmsg());
        }
        am_shm_close(g_seg);
        return rc;
    }
    am_http_opts ho = AM_HTTP_OPTS_INIT;
    ho.host = host;
    ho.port = port;
    ho.no_builtin_routes = true;
    am_http *srv;
    if (am_http_new(&ho, &srv) != AM_OK ||
        am_http_route(srv, AM_HTTP_GET | AM_HTTP_INLINE, "/health", health, NULL, NULL) ||
        am_http_route(srv, AM_HTTP_GET, "/metrics", metrics, NULL, NULL) ||
        am_http_listen(srv) != AM_OK) {
        fprintf(stderr, "agentmon shm: cannot serve on %s:%u: %s\n", host, port, am_errmsg());
        am_shm_close(g_seg);
        return 1;
    }
    cli_catch_stop_signals();
    printf("agentmon shm: serving %s on http://%s:%u/metrics\n", path, host, am_http_port(srv));
    fflush(stdout);
    double since = 0;
    while (!cli_stop_signal) {
        usleep(100000);
        if ((since += 0.1) >= reclaim_s) {
            am_shm_reclaim(g_seg, NULL);
            since = 0;
        }
    }
    am_http_free(srv);
    am_shm_close(g_seg);
    return 0;
}

const am_cli_cmd am_cli_cmd_shm = {"shm", run,
                                   "serve the merged metrics of worker processes' shared memory"};
