/*
** alert_replay.c: agentmon's alerting engine driven by a script, for the
** differential test (tests/integration/alert_diff.sh, alert_diff.py).
**
**   alert_replay RULEFILE < commands.jsonl > results.jsonl
**
** Commands, one JSON object per line, in the order to run them:
**   {"s": [{"__name__": "up", ...}, T_MS, "VALUE"]}   append a sample
**       (VALUE as Prometheus' API writes it, or "stale" for a marker)
**   {"eval": "GROUP", "t": T_MS}       evaluate that rule group at T_MS
**   {"query": "EXPR", "t": T_MS}       instant query: prints
**       {"query": EXPR, "t": T_MS, "data": <the API's data object>}
**       or {"query": ..., "error": MESSAGE}
**   {"alerts": true}                   prints {"alerts": [{"name", "labels",
**       "state"}, ...]}: what /api/v1/alerts lists
** Samples go into one window through one source without staleness (the
** script writes Prometheus' markers itself); the rules read and write the
** same window.
*/
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/promql.h"
#include "alert/promql_fmt.h"
#include "alert/tsdb.h"
#include "util/buf.h"

static void print_alerts(void *ud, const am_rule_info *r)
{
    json_t *arr = ud;
    if (!r->is_alert)
        return;
    for (size_t i = 0; i < r->n_alerts; i++) {
        const am_alert_record *a = &r->alerts[i];
        if (a->state == AM_ALERT_INACTIVE)
            continue;
        json_t *l = json_object();
        for (size_t k = 0; k < a->n_labels; k++)
            json_object_set_new(l, a->labels[k].name, json_string(a->labels[k].value));
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(r->name));
        json_object_set_new(o, "labels", l);
        json_object_set_new(o, "state", json_string(am_alert_state_name(a->state)));
        json_array_append_new(arr, o);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: alert_replay RULEFILE < commands\n");
        return 2;
    }
    am_tsdb_opts to = AM_TSDB_OPTS_INIT;
    to.retention_ms = 24LL * 3600 * 1000;
    am_tsdb *db;
    am_tsdb_src *src;
    if (am_tsdb_new(&to, &db) || am_tsdb_src_new(db, false, &src))
        return 1;
    am_alert_engine_opts eo = AM_ALERT_ENGINE_OPTS_INIT;
    eo.db = db;
    am_alert_engine *e;
    am_buf errs;
    am_buf_init(&errs, 0);
    const char *path = argv[1];
    if (am_alert_engine_new(&eo, &e) || am_alert_engine_load(e, &path, 1, &errs)) {
        fprintf(stderr, "alert_replay: %s\n", errs.p ? errs.p : am_errmsg());
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    bool open_batch = false;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        json_error_t jerr;
        json_t *cmd = json_loads(line, 0, &jerr);
        if (!cmd) {
            fprintf(stderr, "alert_replay: line %lu: %s\n", lineno, jerr.text);
            return 1;
        }
        json_t *s = json_object_get(cmd, "s");
        if (s) {
            json_t *lab = json_array_get(s, 0);
            int64_t t = json_integer_value(json_array_get(s, 1));
            const char *vs = json_string_value(json_array_get(s, 2));
            double v;
            if (vs && strcmp(vs, "stale") == 0)
                v = am__stale_nan();
            else if (!vs || !am__go_parse_float(vs, strlen(vs), &v)) {
                fprintf(stderr, "alert_replay: line %lu: bad value\n", lineno);
                return 1;
            }
            am_label p[64];
            size_t k = 0;
            const char *key;
            json_t *val;
            json_object_foreach(lab, key, val)
            {
                if (k < 64) {
                    p[k].name = key;
                    p[k].value = json_string_value(val);
                    k++;
                }
            }
            if (!open_batch) {
                am_tsdb_begin(db, src);
                open_batch = true;
            }
            if (am_tsdb_append(db, src, p, k, t, v))
                fprintf(stderr, "alert_replay: line %lu: %s\n", lineno, am_errmsg());
            json_decref(cmd);
            continue;
        }
        if (open_batch) {
            am_tsdb_commit(db, src, INT64_MIN);
            open_batch = false;
        }
        json_t *ev = json_object_get(cmd, "eval");
        if (ev) {
            const char *g = json_string_value(ev);
            int64_t t = json_integer_value(json_object_get(cmd, "t"));
            size_t i = 0;
            while (i < am_alert_engine_n_groups(e) && strcmp(am_alert_engine_group_name(e, i), g))
                i++;
            if (am_alert_engine_eval_group(e, i, t)) {
                fprintf(stderr, "alert_replay: line %lu: no group %s\n", lineno, g);
                return 1;
            }
        }
        json_t *q = json_object_get(cmd, "query");
        if (q) {
            const char *expr = json_string_value(q);
            int64_t t = json_integer_value(json_object_get(cmd, "t"));
            am_promql *pq;
            am_promql_result *r = NULL;
            char err[512];
            json_t *out = json_object();
            json_object_set(out, "query", q);
            json_object_set_new(out, "t", json_integer(t));
            am_err rc = am_promql_parse(expr, &pq, err, sizeof err);
            if (!rc) {
                rc = am_promql_eval(db, pq, t, NULL, &r, err, sizeof err);
                am_promql_free(pq);
            }
            if (rc) {
                json_object_set_new(out, "error", json_string(err));
            } else {
                am_buf b;
                am_buf_init(&b, 0);
                am_promql_result_json(r, &b);
                json_object_set_new(out, "data", json_loads(b.p, 0, &jerr));
                am_buf_free(&b);
                am_promql_result_free(r);
            }
            char *txt = json_dumps(out, JSON_COMPACT);
            printf("%s\n", txt);
            free(txt);
            json_decref(out);
        }
        if (json_object_get(cmd, "alerts")) {
            json_t *arr = json_array();
            am_alert_engine_rules(e, print_alerts, arr);
            json_t *out = json_object();
            json_object_set_new(out, "alerts", arr);
            char *txt = json_dumps(out, JSON_COMPACT);
            printf("%s\n", txt);
            free(txt);
            json_decref(out);
        }
        json_decref(cmd);
    }
    if (open_batch)
        am_tsdb_commit(db, src, INT64_MIN);
    free(line);
    am_buf_free(&errs);
    am_alert_engine_free(e);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);
    return 0;
}
