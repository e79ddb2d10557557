#!/usr/bin/python3
"""grafana_check.py: deploy/grafana's dashboards are what Grafana needs, and
every panel's every query returns data from a real Prometheus.

    grafana_check.py static AGENTMON
    grafana_check.py live PROMETHEUS_URL START END

static (no server): the JSON is what scripts/grafana_dashboards.py makes of
panels.def (not stale, nothing extra); every dashboard has a unique uid and
title; panel ids are unique; every gridPos lies inside the 24 columns and no
two panels overlap; every panel but a row has targets, each with an expr and
a refId unique in the panel; every datasource (panels, targets, variables)
is the uid provisioned in deploy/grafana/provisioning/datasources/; every
$variable a query uses is defined (or one of Grafana's own) and every
variable defined is used; every metric a query names is in agentmon's
catalogue (`agentmon metrics list --format json`, with the _bucket, _sum,
_count and _info series Prometheus sees).

live: each variable's label_values() query returns values, and each query,
with the variables set to "All" (.*) and $__rate_interval to 20s (four
scrape intervals of the shipped prometheus.yml), evaluated by
/api/v1/query_range from START to END every 5 s, returns at least one series
with a finite value at some step. Grafana draws nothing for an empty result
or one that is NaN throughout (a quantile of buckets that saw nothing), so
both fail. Prints one line per failing query and a summary.
"""
import glob
import json
import math
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASH_DIR = os.path.join(ROOT, "deploy", "grafana", "dashboards")
DS_FILE = os.path.join(ROOT, "deploy", "grafana", "provisioning", "datasources", "agentmon.yml")
GRID = 24
BUILTINS = {"__rate_interval": "20s", "__interval": "5s", "__range": "1m"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}


def dashboards():
    out = []
    for path in sorted(glob.glob(os.path.join(DASH_DIR, "*.json"))):
        with open(path, encoding="utf-8") as f:
            out.append((os.path.basename(path), json.load(f)))
    return out


def provisioned_uid():
    with open(DS_FILE, encoding="utf-8") as f:
        uids = re.findall(r"^\s*uid:\s*(\S+)\s*$", f.read(), re.M)
    if len(uids) != 1:
        sys.exit("grafana_check: %s must provision exactly one data source uid" % DS_FILE)
    return uids[0]


def targets(dash):
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            yield panel, t


def catalogue_names(agentmon):
    rows = json.loads(subprocess.run([agentmon, "metrics", "list", "--format", "json"],
                                     check=True, capture_output=True, text=True).stdout)
    names = set()
    for r in rows:
        n = r["name"]
        names.add(n)
        if r["type"] in ("histogram", "summary"):
            names.update((n + "_bucket", n + "_sum", n + "_count"))
        elif r["type"] == "info":
            names.add(n + "_info")
        elif r["type"] == "counter" and not n.endswith("_total"):
            names.add(n + "_total")
    return names


def metric_names(expr):
    """The metric names an expression selects (strings, label matchers and
    label lists removed; what stays is metrics, functions and keywords)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        if word.lower() in PROMQL_WORDS or e[m.end():].lstrip().startswith("("):
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # an exponent or unit, e.g. 1e3
        names.add(word)
    return names


def check_static(agentmon):
    errors = []
    gen = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "grafana_dashboards.py"),
                          "--check"], capture_output=True, text=True)
    if gen.returncode != 0:
        errors.append("generated JSON is stale:\n" + gen.stdout + gen.stderr)
    uid = provisioned_uid()
    known = catalogue_names(agentmon)
    seen_uids, seen_titles = {}, {}
    n_panels = n_targets = 0
    for name, dash in dashboards():
        where = "%s" % name
        for key, seen in (("uid", seen_uids), ("title", seen_titles)):
            value = dash.get(key)
            if not value:
                errors.append("%s: no %s" % (where, key))
            elif value in seen:
                errors.append("%s: %s %r also in %s" % (where, key, value, seen[value]))
            else:
                seen[value] = name
        if not isinstance(dash.get("schemaVersion"), int):
            errors.append("%s: no schemaVersion" % where)
        ids, boxes = set(), []
        variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
        used = set()
        for v in dash.get("templating", {}).get("list", []):
            if v.get("datasource", {}).get("uid") != uid:
                errors.append("%s: variable %s: datasource is not %s" % (where, v["name"], uid))
        for panel in dash.get("panels", []):
            pw = "%s: panel %r" % (where, panel.get("title"))
            pid = panel.get("id")
            if not isinstance(pid, int) or pid in ids:
                errors.append("%s: id %r missing or not unique" % (pw, pid))
            ids.add(pid)
            g = panel.get("gridPos", {})
            if not all(isinstance(g.get(k), int) for k in "xywh"):
                errors.append("%s: gridPos %r needs integer x, y, w, h" % (pw, g))
                continue
            if g["x"] < 0 or g["y"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > GRID:
                errors.append("%s: gridPos %r outside the %d columns" % (pw, g, GRID))
            for other_title, o in boxes:
                if (g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"] and
                        g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]):
                    errors.append("%s: gridPos %r overlaps %r's %r" % (pw, g, other_title, o))
            boxes.append((panel.get("title"), g))
            if panel.get("type") == "row":
                continue
            n_panels += 1
            if panel.get("datasource", {}).get("uid") != uid:
                errors.append("%s: datasource is not %s" % (pw, uid))
            ts = panel.get("targets") or []
            if not ts:
                errors.append("%s: no targets" % pw)
            refs = set()
            for t in ts:
                n_targets += 1
                if not t.get("expr") or not t.get("refId") or t["refId"] in refs:
                    errors.append("%s: a target without expr, or a missing or repeated refId" % pw)
                refs.add(t.get("refId"))
                if t.get("datasource", {}).get("uid") != uid:
                    errors.append("%s: target %s: datasource is not %s" % (pw, t.get("refId"), uid))
                for var in re.findall(r"\$\{?([A-Za-z_]\w*)", t.get("expr", "")):
                    used.add(var)
                    if var not in variables and var not in BUILTINS:
                        errors.append("%s: $%s is not a variable of the dashboard" % (pw, var))
                for metric in sorted(metric_names(t.get("expr", "")) - known):
                    errors.append("%s: %r is no metric agentmon exposes" % (pw, metric))
        for var in sorted(variables - used):
            errors.append("%s: variable $%s is never used" % (where, var))
    for e in errors:
        print("grafana_check: " + e)
    print("grafana_check: static: %d dashboards, %d panels, %d queries, %d problems" % (
        len(seen_uids), n_panels, n_targets, len(errors)))
    return not errors


def prom_get(base, path, params):
    url = base + path + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError("%s: %s" % (path, body))
    return body["data"]


def substitute(expr, variables):
    values = dict(BUILTINS)
    values.update({v: ".*" for v in variables})
    return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda m: values.get(m.group(1), m.group(0)), expr)


def check_live(base, start, end):
    failures = []
    n = 0
    for name, dash in dashboards():
        variables = dash.get("templating", {}).get("list", [])
        for v in variables:
            m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", v["definition"])
            values = prom_get(base, "/api/v1/label/%s/values" % m.group(2),
                              {"match[]": m.group(1), "start": start, "end": end})
            if not values:
                failures.append("%s: variable $%s: %s returns no values" % (
                    name, v["name"], v["definition"]))
        names = [v["name"] for v in variables]
        for panel, t in targets(dash):
            n += 1
            expr = substitute(t["expr"], names)
            try:
                data = prom_get(base, "/api/v1/query_range",
                                {"query": expr, "start": start, "end": end, "step": "5"})
            except Exception as e:  # a query Prometheus refuses is a failure too
                failures.append("%s: %r %s: %s" % (name, panel["title"], t["refId"], e))
                continue
            finite = sum(1 for s in data["result"] for _, v in s["values"]
                         if math.isfinite(float(v)))
            if not finite:
                failures.append("%s: %r %s: no data (%d series, none finite): %s" % (
                    name, panel["title"], t["refId"], len(data["result"]), expr))
    for f in failures:
        print("grafana_check: " + f)
    print("grafana_check: live: %d queries evaluated, %d without data" % (n, len(failures)))
    return not failures


def main(argv):
    if len(argv) == 3 and argv[1] == "static":
        return 0 if check_static(argv[2]) else 1
    if len(argv) == 5 and argv[1] == "live":
        return 0 if check_live(argv[2], argv[3], argv[4]) else 1
    print(__doc__.strip().split("\n\n")[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
