/*
** demo_alerts.c: the demo's events made alerts -- the coordinator's DLQ
** growth (am_coord_opts.on_dlq_growth) and a circuit breaker opening
** (am_breaker_opts.on_transition) go to the notifier as alerts, through
** the same routing, silences, inhibition and receivers as the rules'
** (and to the Alertmanagers of alerting:, and into the demo's
** GET /api/v2/alerts):
**
**   DLQGrowth           {agent, agent_type, severity="warning"}: fires,
**                       and resolves after resolve_timeout unless it grows
**                       again
**   CircuitBreakerOpen  {agent_type=<breaker>, severity="critical"}: fires
**                       when the breaker opens, resolves when it closes
**
** Both callbacks run on the thread that caused the event and only hand
** the alert over (the notifier copies it and never waits).
*/
#include <stdio.h>
#include <string.h>

#include "agentmon/timer.h"
#include "demo.h"

void demo_dlq_alert(const char *agent, size_t grown, double window_s, void *ud)
{
    demo *d = ud;
    am_notify *n = atomic_load(&d->notify);
    if (!n)
        return;
    char type[64], summary[200], desc[200];
    snprintf(type, sizeof type, "%s", agent);
    char *colon = strchr(type, ':');
    if (colon)
        *colon = '\0'; /* "coder:1" is an agent of type coder */
    snprintf(summary, sizeof summary, "Dead letters piling up for %s", agent);
    snprintf(desc, sizeof desc, "%zu messages dead-lettered within %g s", grown, window_s);
    am_label l[] = {{"agent", agent},
                    {"agent_type", type},
                    {"alertname", "DLQGrowth"},
                    {"severity", "warning"}};
    am_label a[] = {{"summary", summary}, {"description", desc}};
    am_nalert_in in = {l, 4, a, 2, 0, 0, NULL};
    am_notify_put(n, &in, 1, true);
}

void demo_breaker_alert(const char *name, am_breaker_state from, am_breaker_state to, void *ud)
{
    (void)from;
    demo *d = ud;
    am_notify *n = atomic_load(&d->notify);
    if (!n || to == AM_BREAKER_HALF_OPEN)
        return;
    char summary[200];
    snprintf(summary, sizeof summary, "Circuit breaker open for %s", name);
    am_label l[] = {
        {"agent_type", name}, {"alertname", "CircuitBreakerOpen"}, {"severity", "critical"}};
    am_label a[] = {{"summary", summary}};
    int64_t now = (int64_t)(am_unix_time() * 1000);
    /* open: firing with no end; closed: resolved now */
    am_nalert_in in = {l, 3, a, 1, 0, to == AM_BREAKER_CLOSED ? now : 0, NULL};
    am_notify_put(n, &in, 1, true);
}
