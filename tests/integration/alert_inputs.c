/*
** alert_inputs.c: the input series of deploy/prometheus/alerts_test.yml,
** made by agentmon itself.
**
** A rule test proves something only if its input is what the program
** really exposes: the series names, the labels, and above all the
** histogram buckets (a test written with le="60"/"120" buckets that
** agentmon never emitted once passed while the rule could never fire).
** So each scenario here drives the real packs, breakers and coordinator on
** a simulated clock, one step a minute, encodes the registry as Prometheus
** text after every step exactly as a scrape would read it, and prints the
** promtool input_series those scrapes make -- with the job and instance
** labels Prometheus adds when it scrapes.
**
**   alert_inputs SCENARIO      agent | insa | messaging
**
** tests/integration/alert_rules.sh splices the output into alerts_test.yml
** between its "# BEGIN generated: SCENARIO" and "# END generated" lines
** and fails when the committed file differs (AM_UPDATE_ALERT_INPUTS=1
** rewrites it).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"

#define STEPS 31 /* minutes 0..30 */
#define STEP_S 60.0
#define T0 1700000000.0
#define MAX_SERIES 512

static double g_now = T0;
static am_logger *g_quiet;

static double sim_clock(void)
{
    return g_now;
}

static double breaker_clock(void *ud)
{
    (void)ud;
    return g_now - T0;
}

/* set by the library's test hook: every am_unix_time() reads g_now */
extern double (*am__time_hook)(void);

typedef struct series {
    char name[512];
    double v[STEPS];
    unsigned char seen[STEPS];
} series;

static series g_series[MAX_SERIES];
static size_t g_n;
static const char *const *g_keep; /* metric-name prefixes to print */

static bool kept(const char *line)
{
    for (const char *const *k = g_keep; *k; k++) {
        size_t n = strlen(*k);
        if (strncmp(line, *k, n) == 0 && (line[n] == '{' || line[n] == ' '))
            return true;
    }
    return false;
}

/* Read one scrape (Prometheus text 0.0.4) taken at step. */
static void scrape(am_registry *r, int step)
{
    char *text;
    size_t len;
    if (am_registry_encode(r, AM_FORMAT_PROMETHEUS, &text, &len) != AM_OK) {
        fprintf(stderr, "alert_inputs: encode: %s\n", am_errmsg());
        exit(1);
    }
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        if (line[0] == '#' || !kept(line))
            continue;
        char *sp = strrchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        double v = strtod(sp + 1, NULL);
        size_t i = 0;
        while (i < g_n && strcmp(g_series[i].name, line) != 0)
            i++;
        if (i == g_n) {
            if (g_n == MAX_SERIES)
                continue;
            snprintf(g_series[g_n++].name, sizeof g_series[0].name, "%s", line);
        }
        g_series[i].v[step] = v;
        g_series[i].seen[step] = 1;
    }
    am_free(text);
}

/* name{a="b"} -> name{a="b",instance="...",job="..."} as a scrape stores it */
static void print_series(void)
{
    for (size_t i = 0; i < g_n; i++) {
        series *s = &g_series[i];
        const char *brace = strchr(s->name, '{');
        if (brace)
            printf("      - series: '%.*s,instance=\"agent:9464\",job=\"agent\"}'\n",
                   (int)(strlen(s->name) - 1), s->name);
        else
            printf("      - series: '%s{instance=\"agent:9464\",job=\"agent\"}'\n", s->name);
        printf("        values: '");
        for (int k = 0; k < STEPS; k++) {
            if (k)
                putchar(' ');
            if (!s->seen[k])
                putchar('_');
            else
                printf("%.17g", s->v[k]);
        }
        printf("'\n");
    }
}

static void check(am_err rc, const char *what)
{
    if (rc != AM_OK && rc != AM_ELIMIT) {
        fprintf(stderr, "alert_inputs: %s: %s\n", what, am_errmsg());
        exit(1);
    }
}

/* agent_alerts: failures, queue depth, slow tasks. */
static void agent(am_registry *r)
{
    static const char *const keep[] = {"agent_task_failure_total", "agent_queue_depth",
                                       "agent_task_duration_seconds_bucket", NULL};
    g_keep = keep;
    am_task_pack *tp;
    check(am_task_pack_new(r, &tp), "task pack");
    for (int m = 0; m < STEPS; m++) {
        g_now = T0 + m * STEP_S;
        check(am_task_queue_depth(tp, "planner:1", 150), "queue");
        check(am_task_queue_depth(tp, "coder:1", 5), "queue");
        if (m > 0) {
            for (int i = 0; i < 120; i++) /* 2 failures a second */
                check(am_task_finished(tp, "coder:1", "Timeout", 3, NULL), "task");
            for (int i = 0; i < 6; i++) /* 0.1 a second */
                check(am_task_finished(tp, "writer:1", "Timeout", 1, NULL), "task");
            for (int i = 0; i < 10; i++) { /* reviewer's tasks take 90..117 s */
                check(am_task_finished(tp, "reviewer:1", NULL, 90 + 3 * i, NULL), "task");
                check(am_task_finished(tp, "writer:1", NULL, 0.4, NULL), "task");
            }
        }
        scrape(r, m);
    }
    am_task_pack_free(tp);
}

/* insa_crm_alerts: worker errors and health, breakers, the DLQ gauge. */
static void insa(am_registry *r)
{
    static const char *const keep[] = {"insa_agent_requests_total", "insa_worker_health_status",
                                       "insa_circuit_breaker_state", "insa_dead_letter_queue_size",
                                       NULL};
    g_keep = keep;
    am_worker_pack *wp;
    check(am_worker_pack_new(r, &wp), "worker pack");
    am_breaker_opts bo = AM_BREAKER_OPTS_INIT;
    bo.registry = r;
    bo.clock = breaker_clock;
    bo.name = "llm:mistral";
    bo.cooldown_s = 3600; /* stays open */
    am_breaker *mistral, *openai;
    check(am_breaker_new(&bo, &mistral), "breaker");
    bo.name = "llm:openai";
    bo.cooldown_s = 30; /* half-open a minute after it opened */
    check(am_breaker_new(&bo, &openai), "breaker");
    for (int m = 0; m < STEPS; m++) {
        g_now = T0 + m * STEP_S;
        check(am_worker_health(wp, "coder:2", "coder", m < 2), "health");
        check(am_worker_dlq_size(wp, "writer", 3.0 * m), "dlq size");
        if (m > 0) {
            for (int i = 0; i < 30; i++) /* 0.5 errors a second */
                check(am_worker_request(wp, "coder", false, 0.2, NULL), "request");
            check(am_worker_request(wp, "writer", false, 0.2, NULL), "request");
        }
        /* mistral fails five times at minute 1 and stays open */
        if (m == 1)
            for (int i = 0; i < 5; i++)
                if (am_breaker_allow(mistral))
                    am_breaker_failure(mistral);
        /* openai opens at minute 0, is half-open when asked at minute 1,
           and two good trial calls at minute 2 close it */
        if (m == 0)
            for (int i = 0; i < 5; i++)
                if (am_breaker_allow(openai))
                    am_breaker_failure(openai);
        if (m == 1)
            (void)am_breaker_allow(openai);
        if (m == 2)
            am_breaker_success(openai), am_breaker_success(openai);
        scrape(r, m);
    }
    am_breaker_free(mistral);
    am_breaker_free(openai);
    am_worker_pack_free(wp);
}

static void send_one(am_coord *c, const char *to, int prio)
{
    am_coord_msg msg = AM_COORD_MSG_INIT;
    msg.from = "orchestrator:1";
    msg.to = to;
    msg.type = "task";
    msg.payload = "{}";
    msg.len = 2;
    msg.priority = prio;
    check(am_coord_send(c, &msg), "send");
}

/* Receive one message of agent and settle it: ack, nack, or dead-letter. */
static void settle(am_coord *c, const char *agent, int how)
{
    am_coord_delivery *d;
    check(am_coord_receive(c, agent, 30, 0, &d), "receive");
    if (how == 0)
        check(am_coord_ack(c, d), "ack");
    else
        check(am_coord_nack(c, d, how == 2, "simulated failure"), "nack");
    am_coord_delivery_free(d);
}

/* agentmon_messaging: DLQ growth, a stale queue, failing deliveries. */
static void messaging(am_registry *r)
{
    static const char *const keep[] = {
        "messaging_dlq_growth_events_total", "messaging_oldest_message_age_seconds",
        "messaging_delivered_ok_total", "messaging_delivered_error_total", NULL};
    g_keep = keep;
    am_coord_opts o = AM_COORD_OPTS_INIT;
    o.registry = r;
    o.backoff_jitter = -1;
    o.backoff_base_s = 3600; /* a nacked message waits: the queues stay as they are */
    o.backoff_max_s = 3600;
    o.logger = g_quiet;
    am_coord *c;
    check(am_coord_open("memory:", &o, &c), "coordinator");
    /* agents register when they start, as the demo's do: their counters
       exist at 0 from then on, so increase() sees the first event */
    static const char *const agents[] = {"planner:1", "coder:1", "writer:1"};
    for (size_t i = 0; i < 3; i++)
        check(am_coord_register(c, agents[i]), "register");
    /* one message for planner:1 that nobody takes: its age grows */
    send_one(c, "planner:1", AM_PRIO_NORMAL);
    for (int m = 0; m < STEPS; m++) {
        g_now = T0 + m * STEP_S;
        if (m > 0)
            for (int i = 0; i < 60; i++) { /* a delivery a second fails, one succeeds */
                send_one(c, "coder:1", AM_PRIO_NORMAL);
                send_one(c, "coder:1", AM_PRIO_NORMAL);
                settle(c, "coder:1", 0);
                settle(c, "coder:1", 1);
            }
        if (m == 2) /* writer:1's DLQ grows by the threshold (10) at once */
            for (int i = 0; i < 10; i++) {
                send_one(c, "writer:1", AM_PRIO_HIGH);
                settle(c, "writer:1", 2);
            }
        scrape(r, m);
    }
    am_coord_close(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: alert_inputs agent|insa|messaging\n");
        return 2;
    }
    am__time_hook = sim_clock;
    am_log_opts lo = AM_LOG_OPTS_INIT;
    lo.level = AM_LOG_LEVEL_CRITICAL; /* not the coordinator's DLQ warnings */
    lo.fd = 2;
    check(am_logger_new(&lo, &g_quiet), "logger");
    am_registry *r;
    check(am_registry_new(&r), "registry");
    if (strcmp(argv[1], "agent") == 0)
        agent(r);
    else if (strcmp(argv[1], "insa") == 0)
        insa(r);
    else if (strcmp(argv[1], "messaging") == 0)
        messaging(r);
    else {
        fprintf(stderr, "alert_inputs: unknown scenario %s\n", argv[1]);
        return 2;
    }
    print_series();
    am_registry_free(r);
    am_logger_free(g_quiet);
    am_shutdown();
    return 0;
}
