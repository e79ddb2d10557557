/*
** demo_view.c: the live terminal view of `agentmon demo`, every 2 s, and
** the summary at the end.
**
** Per agent: queue depth by priority (HIGH/NORMAL/LOW, as the coordinator
** holds them), in flight, dead letters, steps per second and error rate
** since the last view, and the p95 of its step duration since the last view
** -- estimated from the agent_task_duration_seconds buckets the way
** Prometheus' histogram_quantile does. Then totals: tasks, tokens, and the
** circuit breakers that are not closed, and the alerts of the rules that
** are pending or firing (firing first, since when). The numbers come from
** the same places /metrics and /api/v1/alerts read them from.
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentmon/timer.h"

#include "demo.h"

/* Linear interpolation inside the bucket holding the q-th observation. */
static double quantile(double q, const double *bounds, size_t nb, const uint64_t *cum)
{
    uint64_t total = cum[nb];
    if (!total)
        return 0;
    double rank = q * (double)total;
    for (size_t i = 0; i < nb; i++) {
        if ((double)cum[i] >= rank) {
            double lo = i ? bounds[i - 1] : 0, below = i ? (double)cum[i - 1] : 0;
            double in = (double)cum[i] - below;
            return in > 0 ? lo + (bounds[i] - lo) * (rank - below) / in : bounds[i];
        }
    }
    return bounds[nb - 1]; /* in +Inf: the highest bound, as Prometheus says */
}

static double p95_since(demo *d, demo_agent *a)
{
    static am_histogram *fam;
    if (!fam && am_histogram_find(d->reg, "agent_task_duration_seconds", &fam) != AM_OK)
        return 0;
    am_histogram *h;
    am_err rc = am_histogram_with(fam, AM_LABELS(a->name, "success"), &h);
    if (rc && rc != AM_ELIMIT)
        return 0;
    size_t nb = am_histogram_n_buckets(h);
    if (nb >= DEMO_VIEW_BUCKETS)
        return 0;
    uint64_t cum[DEMO_VIEW_BUCKETS], delta[DEMO_VIEW_BUCKETS];
    am_histogram_read(h, NULL, NULL, cum);
    for (size_t i = 0; i <= nb; i++) {
        delta[i] = cum[i] - a->view_buckets[i];
        a->view_buckets[i] = cum[i];
    }
    return quantile(0.95, am_histogram_bounds(h), nb, delta);
}

/* One line per pending or firing alert of the rules, firing first. */
typedef struct alerts_view {
    int pass; /* 0: firing, 1: pending */
    unsigned n, shown;
} alerts_view;

static void on_alert(void *ud, const am_rule_info *r, const am_alert_record *a)
{
    alerts_view *v = ud;
    if ((v->pass == 0) != (a->state == AM_ALERT_FIRING))
        return;
    v->n++;
    if (v->shown >= 8)
        return;
    v->shown++;
    char labels[160];
    size_t o = 0;
    labels[0] = '\0';
    for (size_t i = 0; i < a->n_labels && o + 2 < sizeof labels; i++) {
        if (strcmp(a->labels[i].name, "alertname") == 0)
            continue;
        int k = snprintf(labels + o, sizeof labels - o, "%s%s=%s", o ? "," : "", a->labels[i].name,
                         a->labels[i].value);
        if (k < 0)
            break;
        o += (size_t)k < sizeof labels - o ? (size_t)k : sizeof labels - o - 1;
    }
    double since =
        (double)(a->state == AM_ALERT_FIRING && a->fired_at_ms ? a->fired_at_ms : a->active_at_ms);
    printf("  %-7s %-26s %-40.40s %6.0fs  %g\n", a->state == AM_ALERT_FIRING ? "FIRING" : "pending",
           r->name, labels, am_unix_time() - since / 1000, a->value);
}

static void view_alerts(demo *d)
{
    if (!d->alerting || !d->n_rule_files)
        return;
    alerts_view v = {0, 0, 0};
    am_alerting_active(d->alerting, on_alert, &v);
    unsigned firing = v.n;
    v.pass = 1;
    v.n = 0;
    am_alerting_active(d->alerting, on_alert, &v);
    printf("alerts: %u firing, %u pending%s\n", firing, v.n,
           firing + v.n > v.shown ? " (more in /api/v1/alerts)" : "");
}

void demo_view(demo *d, double elapsed)
{
    static double last;
    double dt = elapsed - last > 0 ? elapsed - last : 1;
    last = elapsed;
    bool tty = isatty(STDOUT_FILENO);
    if (tty)
        fputs("\033[H\033[2J", stdout);
    printf("agentmon demo  %.0f s  http://%s:%u/metrics   tasks: %llu started, %llu done, %llu "
           "refused\n\n",
           elapsed, d->o.host, am_http_port(d->srv), (unsigned long long)atomic_load(&d->started),
           (unsigned long long)atomic_load(&d->finished),
           (unsigned long long)atomic_load(&d->dropped));
    printf("%-14s %14s %8s %5s %8s %8s %6s\n", "agent", "queue H/N/L", "inflight", "dlq", "steps/s",
           "p95 ms", "err%");
    for (unsigned i = 0; i < d->n_agents; i++) {
        demo_agent *a = &d->agents[i];
        am_coord_stats st = {0};
        am_coord_agent_stats(d->coord, a->name, &st);
        uint64_t done = atomic_load(&a->done), failed = atomic_load(&a->failed);
        uint64_t dd = done - a->view_done, df = failed - a->view_failed;
        a->view_done = done;
        a->view_failed = failed;
        char q[32];
        snprintf(q, sizeof q, "%zu/%zu/%zu", st.queued[2], st.queued[1], st.queued[0]);
        printf("%-14s %14s %8zu %5zu %8.1f %8.0f %6.1f\n", a->name, q, st.inflight, st.dlq,
               (double)dd / dt, p95_since(d, a) * 1000,
               dd + df ? 100.0 * (double)df / (double)(dd + df) : 0.0);
    }
    printf(
        "\ntokens: %llu in, %llu out   breakers:", (unsigned long long)atomic_load(&d->tokens_in),
        (unsigned long long)atomic_load(&d->tokens_out));
    int shown = 0;
    for (int i = 0; i < DEMO_PROVIDERS; i++) {
        am_breaker_state s = am_breaker_get_state(d->providers[i].breaker);
        if (s != AM_BREAKER_CLOSED) {
            printf(" llm:%s %s", d->providers[i].name, am_breaker_state_name(s));
            shown++;
        }
    }
    printf("%s\n", shown ? "" : " all closed");
    view_alerts(d);
    if (!tty)
        putchar('\n');
    fflush(stdout);
}

void demo_summary(demo *d, double elapsed)
{
    uint64_t steps = 0;
    for (unsigned i = 0; i < d->n_agents; i++)
        steps += atomic_load(&d->agents[i].done) + atomic_load(&d->agents[i].failed);
    printf("agentmon demo: %.1f s, %llu tasks started, %llu done, %llu refused; %llu agent steps "
           "(%.0f/s); %llu tokens in, %llu out\n",
           elapsed, (unsigned long long)atomic_load(&d->started),
           (unsigned long long)atomic_load(&d->finished),
           (unsigned long long)atomic_load(&d->dropped), (unsigned long long)steps,
           elapsed > 0 ? (double)steps / elapsed : 0.0,
           (unsigned long long)atomic_load(&d->tokens_in),
           (unsigned long long)atomic_load(&d->tokens_out));
    fflush(stdout);
}
