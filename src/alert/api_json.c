/*
** api_json.c: the engine's rules and alerts as Prometheus' API writes
** them (/api/v1/rules, /api/v1/alerts), and the API's time and duration
** parameters read as Prometheus reads them.
**
** DESIGN
** The JSON is Prometheus 2.42's (web/api/v1/api.go): a rule group has
** name, file, rules, interval, limit, evaluationTime, lastEvaluation; an
** alerting rule state, name, query, duration, labels, annotations,
** alerts, health, lastError (only when set), evaluationTime,
** lastEvaluation, type "alerting"; a recording rule name, query, labels
** (only when set), health, lastError, evaluationTime, lastEvaluation, type
** "recording"; an alert labels, annotations, state, activeAt, value
** (FormatFloat 'e'). Times are RFC 3339 with Go's RFC3339Nano trimming;
** a time never set is Go's zero time, 0001-01-01T00:00:00Z. A group's
** evaluation time and last evaluation are its rules' (sum, latest): the
** engine keeps them per rule.
**
** The one difference: "query" is the expression as written in the file,
** where Prometheus prints its parsed form (spacing and parentheses may
** differ; the meaning is the same).
**
** THREADING: am_alert_engine_rules() holds the engine's lock while the
** rules are walked; the JSON is written into the caller's buffer.
*/
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/civil.h"
#include "../util/render.h"
#include "alert.h"
#include "labels.h"
#include "promql_fmt.h"

/* ---- parameters ---------------------------------------------------------- */

bool am_promql_parse_time(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    double f;
    if (am__go_parse_float(s, n, &f)) {
        if (!(f > -9.2e12 && f < 9.2e12)) /* about 290,000 years either way */
            return false;
        double sec = floor(f), frac = round((f - sec) * 1000);
        *ms = (int64_t)sec * 1000 + (int64_t)frac;
        return true;
    }
    double t;
    if (n < 20 || am__time_parse(s, n, "time", &t)) /* RFC 3339 only: 20+ chars */
        return false;
    *ms = (int64_t)llround(t * 1000);
    return true;
}

bool am_promql_parse_duration_param(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    double f;
    if (am__go_parse_float(s, n, &f)) {
        double v = f * 1000;
        if (!(v > -9.2e18 && v < 9.2e18))
            return false;
        *ms = (int64_t)llround(v);
        return true;
    }
    return am__go_parse_duration(s, n, ms);
}

/* ---- JSON ------------------------------------------------------------------ */

/* Go's time.Time in RFC3339Nano, from unix ms; 0: the zero time. */
static void json_time(am_buf *b, int64_t ms)
{
    if (ms == 0) {
        am_buf_puts(b, "\"0001-01-01T00:00:00Z\"");
        return;
    }
    char day[19];
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - sec * 1000);
    if (sec < 0 || sec > AM_CIVIL_MAX_SEC) {
        am_buf_puts(b, "\"0001-01-01T00:00:00Z\"");
        return;
    }
    am__civil_format(sec, day);
    am_buf_putc(b, '"');
    am_buf_append(b, day, sizeof day);
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, ".%03d", frac);
        size_t l = strlen(f);
        while (f[l - 1] == '0')
            l--;
        am_buf_append(b, f, l);
    }
    am_buf_puts(b, "Z\"");
}

/* A float64 as encoding/json writes it: 'f' within [1e-6, 1e21), else 'e'
   with a negative exponent's leading zero dropped. */
static void json_seconds(am_buf *b, double s)
{
    char t[AM_GOFMT_MAX];
    double a = fabs(s);
    if (!isfinite(s)) {
        am_buf_putc(b, '0');
        return;
    }
    size_t n;
    if (a == 0 || (a >= 1e-6 && a < 1e21)) {
        n = am__fmt_go_f(t, s);
    } else {
        n = am__fmt_go_E(t, s);
        for (size_t i = 0; i < n; i++)
            t[i] = (char)tolower((unsigned char)t[i]);
        if (n >= 4 && t[n - 4] == 'e' && t[n - 3] == '-' && t[n - 2] == '0') {
            t[n - 2] = t[n - 1];
            n--;
        }
    }
    am_buf_append(b, t, n);
}

static void json_alert(am_buf *b, const am_alert_record *a)
{
    am_buf_puts(b, "{\"labels\":");
    am__labels_json_pairs(b, a->labels, a->n_labels);
    am_buf_puts(b, ",\"annotations\":");
    am__labels_json_pairs(b, a->annotations, a->n_annotations);
    am_buf_printf(b, ",\"state\":\"%s\"", am_alert_state_name(a->state));
    if (a->active_at_ms) {
        am_buf_puts(b, ",\"activeAt\":");
        json_time(b, a->active_at_ms);
    }
    char v[AM_GOFMT_MAX];
    size_t n = am__fmt_go_E(v, a->value);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)tolower((unsigned char)v[i]);
    if (n == 4 && memcmp(v, "+inf", 4) == 0)
        memcpy(v, "+Inf", 4);
    else if (n == 4 && memcmp(v, "-inf", 4) == 0)
        memcpy(v, "-Inf", 4);
    else if (n == 3 && memcmp(v, "nan", 3) == 0)
        memcpy(v, "NaN", 3);
    am_buf_puts(b, ",\"value\":\"");
    am_buf_append(b, v, n);
    am_buf_puts(b, "\"}");
}

typedef struct rules_ctx {
    am_buf *b;
    unsigned types; /* AM_RULES_ALERTING | AM_RULES_RECORDING */
    const char *file, *group;
    bool open; /* a group is open */
    bool first_rule;
    size_t n_groups;
    int64_t interval_ms;
    double eval_s;
    int64_t last_ms;
} rules_ctx;

static void close_group(rules_ctx *c)
{
    if (!c->open)
        return;
    am_buf_puts(c->b, "],\"interval\":");
    json_seconds(c->b, (double)c->interval_ms / 1000);
    am_buf_puts(c->b, ",\"limit\":0,\"evaluationTime\":");
    json_seconds(c->b, c->eval_s);
    am_buf_puts(c->b, ",\"lastEvaluation\":");
    json_time(c->b, c->last_ms);
    am_buf_putc(c->b, '}');
    c->open = false;
}

static void on_rule(void *ud, const am_rule_info *r)
{
    rules_ctx *c = ud;
    am_buf *b = c->b;
    if (!c->open || strcmp(c->file, r->file) != 0 || strcmp(c->group, r->group) != 0) {
        close_group(c);
        am_buf_puts(b, c->n_groups++ ? ",{\"name\":" : "{\"name\":");
        am__buf_json_string(b, r->group, strlen(r->group));
        am_buf_puts(b, ",\"file\":");
        am__buf_json_string(b, r->file, strlen(r->file));
        am_buf_puts(b, ",\"rules\":[");
        c->open = true;
        c->first_rule = true;
        c->file = r->file;
        c->group = r->group;
        c->interval_ms = r->group_interval_ms;
        c->eval_s = 0;
        c->last_ms = 0;
    }
    c->eval_s += r->eval_seconds;
    if (r->last_eval_ms > c->last_ms)
        c->last_ms = r->last_eval_ms;
    if (!(c->types & (r->is_alert ? AM_RULES_ALERTING : AM_RULES_RECORDING)))
        return;
    if (!c->first_rule)
        am_buf_putc(b, ',');
    c->first_rule = false;
    am_buf_putc(b, '{');
    if (r->is_alert) {
        const char *state = "inactive";
        for (size_t i = 0; i < r->n_alerts; i++)
            if (r->alerts[i].state == AM_ALERT_FIRING)
                state = "firing";
            else if (r->alerts[i].state == AM_ALERT_PENDING && strcmp(state, "firing") != 0)
                state = "pending";
        am_buf_printf(b, "\"state\":\"%s\",", state);
    }
    am_buf_puts(b, "\"name\":");
    am__buf_json_string(b, r->name, strlen(r->name));
    am_buf_puts(b, ",\"query\":");
    am__buf_json_string(b, r->query, strlen(r->query));
    if (r->is_alert) {
        am_buf_puts(b, ",\"duration\":");
        json_seconds(b, (double)r->for_ms / 1000);
        am_buf_puts(b, ",\"labels\":");
        am__labels_json_pairs(b, r->labels, r->n_labels);
        am_buf_puts(b, ",\"annotations\":");
        am__labels_json_pairs(b, r->annotations, r->n_annotations);
        am_buf_puts(b, ",\"alerts\":[");
        size_t k = 0;
        for (size_t i = 0; i < r->n_alerts; i++) {
            if (r->alerts[i].state == AM_ALERT_INACTIVE)
                continue;
            if (k++)
                am_buf_putc(b, ',');
            json_alert(b, &r->alerts[i]);
        }
        am_buf_putc(b, ']');
    } else if (r->n_labels) {
        am_buf_puts(b, ",\"labels\":");
        am__labels_json_pairs(b, r->labels, r->n_labels);
    }
    am_buf_printf(b, ",\"health\":\"%s\"", r->health);
    if (r->last_error && *r->last_error) {
        am_buf_puts(b, ",\"lastError\":");
        am__buf_json_string(b, r->last_error, strlen(r->last_error));
    }
    am_buf_puts(b, ",\"evaluationTime\":");
    json_seconds(b, r->eval_seconds);
    am_buf_puts(b, ",\"lastEvaluation\":");
    json_time(b, r->last_eval_ms);
    am_buf_printf(b, ",\"type\":\"%s\"}", r->is_alert ? "alerting" : "recording");
}

void am_alert_rules_json(am_alert_engine *e, unsigned types, struct am_buf *b)
{
    rules_ctx c = {.b = b, .types = types};
    am_buf_puts(b, "{\"groups\":[");
    am_alert_engine_rules(e, on_rule, &c);
    close_group(&c);
    am_buf_puts(b, "]}");
}

typedef struct alerts_ctx {
    am_buf *b;
    size_t n;
} alerts_ctx;

static void on_alerts(void *ud, const am_rule_info *r)
{
    alerts_ctx *c = ud;
    for (size_t i = 0; i < r->n_alerts; i++) {
        if (r->alerts[i].state == AM_ALERT_INACTIVE)
            continue;
        if (c->n++)
            am_buf_putc(c->b, ',');
        json_alert(c->b, &r->alerts[i]);
    }
}

void am_alert_alerts_json(am_alert_engine *e, struct am_buf *b)
{
    alerts_ctx c = {b, 0};
    am_buf_puts(b, "{\"alerts\":[");
    am_alert_engine_rules(e, on_alerts, &c);
    am_buf_puts(b, "]}");
}

void am_alert_time_json(struct am_buf *b, int64_t ms)
{
    json_time(b, ms);
}
