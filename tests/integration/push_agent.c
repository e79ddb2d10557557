/*
** push_agent.c: a short-lived agent that pushes to a real Pushgateway, for
** tests/integration/pushgateway.sh.
**
**   push_agent freeport          print a free TCP port on 127.0.0.1
**   push_agent URL put           PUT the full registry to the test group
**   push_agent URL post          POST an update: a new agent_queue_depth
**                                (one series) and a new agent_retries_total
**   push_agent URL replace       PUT only agent_retries_total (the rest of
**                                the group must go)
**   push_agent URL delete        DELETE the test group
**   push_agent URL clash         PUT agent_clash_total as a counter to one
**                                group, then as a gauge to another: the
**                                gateway must refuse the second with 400
**
** The test group is job "agentmon-push-test" with grouping labels
** instance="worker-1", path="a/b" (sent base64), region="été" (sent
** percent-encoded) and shard="" (sent as the base64 "=").
**
** Prints "status=<http status> rc=<am_err name> msg=<am_errmsg()>" and
** exits 0 when the push did what the mode expects, 1 otherwise, 2 on usage.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "../unit/free_port.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        am_err rc_ = (call);                                                                       \
        if (rc_ != AM_OK) {                                                                        \
            fprintf(stderr, "%s: %s (%s)\n", #call, am_err_name(rc_), am_errmsg());                \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

static const char *const g_names[] = {"instance", "path", "region", "shard"};
static const char *const g_values[] = {"worker-1", "a/b", "\xc3\xa9t\xc3\xa9", ""};

/* "port": print a free port (free_port.h) for the script. */
static int print_free_port(void)
{
    int port = free_port();
    if (port < 0) {
        perror("push_agent: free port");
        return 1;
    }
    printf("%d\n", port);
    return 0;
}

static am_registry *full_registry(void)
{
    am_registry *r;
    CHECK(am_registry_new(&r));
    const char *agent[] = {"agent"}, *prio[] = {"priority"};

    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_tasks_total";
    o.help = "Tasks completed.";
    o.label_names = agent;
    o.n_labels = 1;
    am_counter *tasks, *c;
    CHECK(am_counter_new(r, &o, &tasks));
    CHECK(am_counter_with(tasks, AM_LABELS("planner"), &c));
    CHECK(am_counter_add(c, 3));
    CHECK(am_counter_with(tasks, AM_LABELS("coder"), &c));
    CHECK(am_counter_add(c, 5));

    am_metric_opts g = AM_METRIC_OPTS_INIT;
    g.name = "agent_queue_depth";
    g.help = "Messages waiting.";
    g.label_names = prio;
    g.n_labels = 1;
    am_gauge *depth, *d;
    CHECK(am_gauge_new(r, &g, &depth));
    CHECK(am_gauge_with(depth, AM_LABELS("high"), &d));
    am_gauge_set(d, 7.5);
    CHECK(am_gauge_with(depth, AM_LABELS("low"), &d));
    am_gauge_set(d, 0);

    am_metric_opts h = AM_METRIC_OPTS_INIT;
    h.name = "agent_task_seconds";
    h.help = "Task duration.";
    const double b[] = {0.1, 1};
    h.buckets = b;
    h.n_buckets = 2;
    am_histogram *lat;
    CHECK(am_histogram_new(r, &h, &lat));
    am_histogram_observe(lat, 0.0625);
    am_histogram_observe(lat, 0.5);
    am_histogram_observe(lat, 2);
    return r;
}

static am_registry *update_registry(void)
{
    am_registry *r;
    CHECK(am_registry_new(&r));
    const char *prio[] = {"priority"};
    am_metric_opts g = AM_METRIC_OPTS_INIT;
    g.name = "agent_queue_depth";
    g.help = "Messages waiting.";
    g.label_names = prio;
    g.n_labels = 1;
    am_gauge *depth, *d;
    CHECK(am_gauge_new(r, &g, &depth));
    CHECK(am_gauge_with(depth, AM_LABELS("high"), &d));
    am_gauge_set(d, 2);

    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_retries_total";
    o.help = "Retries scheduled.";
    am_counter *retries;
    CHECK(am_counter_new(r, &o, &retries));
    am_counter_inc(retries);
    return r;
}

static am_registry *replace_registry(void)
{
    am_registry *r;
    CHECK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_retries_total";
    o.help = "Retries scheduled.";
    am_counter *retries;
    CHECK(am_counter_new(r, &o, &retries));
    CHECK(am_counter_add(retries, 4));
    return r;
}

static am_registry *clash_registry(am_metric_type t)
{
    am_registry *r;
    CHECK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_clash_total";
    o.help = "Type clash.";
    if (t == AM_TYPE_COUNTER) {
        am_counter *c;
        CHECK(am_counter_new(r, &o, &c));
        am_counter_inc(c);
    } else {
        am_gauge *g;
        CHECK(am_gauge_new(r, &o, &g));
        am_gauge_set(g, 1);
    }
    return r;
}

static am_err push(const char *url, const char *instance, am_push_method m, am_registry *r,
                   int *status)
{
    const char *values[4] = {g_values[0], g_values[1], g_values[2], g_values[3]};
    if (instance)
        values[0] = instance;
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = url;
    o.job = "agentmon-push-test";
    o.grouping = (am_labels){g_names, values, 4};
    o.registries = &r;
    o.n_registries = r ? 1 : 0;
    o.timeout_ms = 5000;
    am_err rc = am_push(&o, m, status);
    printf("status=%d rc=%s msg=%s\n", *status, am_err_name(rc), rc ? am_errmsg() : "");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "freeport") == 0)
        return print_free_port();
    if (argc != 3) {
        fprintf(stderr, "usage: push_agent freeport | URL put|post|replace|delete|clash\n");
        return 2;
    }
    const char *url = argv[1], *mode = argv[2];
    int status = 0;
    am_err rc;
    am_registry *r = NULL;
    if (strcmp(mode, "put") == 0) {
        if (!(r = full_registry()))
            return 1;
        rc = push(url, NULL, AM_PUSH_PUT, r, &status);
    } else if (strcmp(mode, "post") == 0) {
        if (!(r = update_registry()))
            return 1;
        rc = push(url, NULL, AM_PUSH_POST, r, &status);
    } else if (strcmp(mode, "replace") == 0) {
        if (!(r = replace_registry()))
            return 1;
        rc = push(url, NULL, AM_PUSH_PUT, r, &status);
    } else if (strcmp(mode, "delete") == 0) {
        rc = push(url, NULL, AM_PUSH_DELETE, NULL, &status);
    } else if (strcmp(mode, "clash") == 0) {
        if (!(r = clash_registry(AM_TYPE_COUNTER)))
            return 1;
        rc = push(url, "clash-a", AM_PUSH_PUT, r, &status);
        am_registry_free(r);
        if (rc != AM_OK)
            return 1;
        if (!(r = clash_registry(AM_TYPE_GAUGE)))
            return 1;
        rc = push(url, "clash-b", AM_PUSH_PUT, r, &status);
        am_registry_free(r);
        am_shutdown();
        return rc == AM_EPROTO && status == 400 ? 0 : 1;
    } else {
        fprintf(stderr, "push_agent: unknown mode %s\n", mode);
        return 2;
    }
    am_registry_free(r);
    am_shutdown();
    return rc == AM_OK && status >= 200 && status <= 299 ? 0 : 1;
}
