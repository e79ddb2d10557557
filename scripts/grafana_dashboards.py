#!/usr/bin/env python3
"""grafana_dashboards.py: Grafana dashboards from deploy/grafana/panels.def.

    python3 scripts/grafana_dashboards.py            write deploy/grafana/dashboards/*.json
    python3 scripts/grafana_dashboards.py --check    exit 1 when a file is stale or extra
    python3 scripts/grafana_dashboards.py --targets  print every query as JSON lines

Every panel is written once in panels.def, a line format small enough to read
in review: a dashboard line, its tags and template variables, rows, panels
and their queries (the format is described at the top of panels.def). This
script lays the panels out on Grafana's 24-column grid (left to right, a new
line when the next panel does not fit, a row header across the grid), numbers
them, and writes one JSON file per dashboard in the form Grafana's file
provisioning loads (schemaVersion 39, Grafana 10 and later). Every panel and
query names the provisioned Prometheus data source by its fixed uid
(DATASOURCE_UID, the uid in deploy/grafana/provisioning/datasources/).

The output is deterministic (sorted keys, two-space indent, a newline at the
end), so the generated files are checked in and `--check` (run by
tests/integration/grafana_panels.sh) fails when someone edits panels.def and
not the JSON, or the JSON by hand. `--targets` hands the queries to that test,
which evaluates each one against a real Prometheus scraping `agentmon demo`.

Python's standard library only: it runs wherever python3 does.
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEF_FILE = os.path.join(ROOT, "deploy", "grafana", "panels.def")
OUT_DIR = os.path.join(ROOT, "deploy", "grafana", "dashboards")
DATASOURCE_UID = "agentmon-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
GRID_WIDTH = 24
PANEL_TYPES = ("stat", "timeseries", "gauge", "bargauge", "table")


class DefError(Exception):
    pass


def _fail(lineno, msg):
    raise DefError("%s:%d: %s" % (os.path.relpath(DEF_FILE, ROOT), lineno, msg))


def _fields(text, n_min, n_max, lineno, what):
    parts = [p.strip() for p in text.split("|")]
    if not n_min <= len(parts) <= n_max:
        _fail(lineno, "%s needs %d to %d fields separated by '|'" % (what, n_min, n_max))
    return parts + [""] * (n_max - len(parts))


def _options(text, lineno):
    """'stack min=0 map=0:closed,1:open' -> {'stack': True, 'min': '0', ...}"""
    opts = {}
    for word in text.split():
        key, eq, value = word.partition("=")
        if key not in ("stack", "min", "max", "map", "calc", "decimals", "legend", "thresholds"):
            _fail(lineno, "unknown panel option %r" % key)
        opts[key] = value if eq else True
    return opts


def parse(text):
    """The definition file's text -> a list of dashboards (plain dicts)."""
    dashboards = []
    dash = panel = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "dashboard":
            uid, title, file_name = _fields(rest, 3, 3, lineno, "dashboard")
            if not re.fullmatch(r"[a-z0-9-]{1,40}", uid):
                _fail(lineno, "dashboard uid %r: lower case, digits and '-', at most 40" % uid)
            dash = {"uid": uid, "title": title, "file": file_name, "tags": [], "vars": [],
                    "description": "", "items": [], "line": lineno}
            dashboards.append(dash)
            panel = None
            continue
        if dash is None:
            _fail(lineno, "%r before the first dashboard line" % word)
        if word == "tags":
            dash["tags"] = [t.strip() for t in rest.split(",") if t.strip()]
        elif word == "about":
            dash["description"] = (dash["description"] + " " + rest).strip()
        elif word == "var":
            name, label, query = _fields(rest, 3, 3, lineno, "var")
            m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            if not m:
                _fail(lineno, "var query must be label_values(metric, label)")
            dash["vars"].append({"name": name, "label": label, "query": query,
                                 "metric": m.group(1), "label_name": m.group(2)})
        elif word == "row":
            dash["items"].append({"kind": "row", "title": rest, "line": lineno})
            panel = None
        elif word in PANEL_TYPES:
            size, title, unit, opts = _fields(rest, 2, 4, lineno, word)
            m = re.fullmatch(r"(\d+)x(\d+)", size)
            if not m or not 1 <= int(m.group(1)) <= GRID_WIDTH or int(m.group(2)) < 1:
                _fail(lineno, "panel size must be WxH with 1 <= W <= %d" % GRID_WIDTH)
            panel = {"kind": "panel", "type": word, "w": int(m.group(1)), "h": int(m.group(2)),
                     "title": title, "unit": unit, "opts": _options(opts, lineno),
                     "targets": [], "description": "", "line": lineno}
            dash["items"].append(panel)
        elif word == "q":
            if panel is None:
                _fail(lineno, "a query (q) outside a panel")
            legend, sep, expr = rest.partition("|")
            if not sep or not expr.strip():
                _fail(lineno, "q needs 'LEGEND | EXPR' (the legend may be empty)")
            panel["targets"].append({"legend": legend.strip(), "expr": expr.strip(),
                                     "line": lineno})
        elif word == "note":
            if panel is None:
                _fail(lineno, "a note outside a panel")
            panel["description"] = (panel["description"] + " " + rest).strip()
        else:
            _fail(lineno, "unknown line %r" % word)
    for dash in dashboards:
        for item in dash["items"]:
            if item["kind"] == "panel" and not item["targets"]:
                _fail(item["line"], "panel %r has no query" % item["title"])
    return dashboards


def _mappings(spec):
    """'0:closed,1:open' -> Grafana value mappings."""
    options = {}
    for i, pair in enumerate(spec.split(",")):
        value, _, text = pair.partition(":")
        options[value] = {"index": i, "text": text.replace("_", " ")}
    return [{"type": "value", "options": options}]


def _thresholds(spec):
    """'80:orange,90:red' -> green below, then each step (absolute)."""
    steps = [{"color": "green", "value": None}]
    if spec:
        for pair in spec.split(","):
            value, _, color = pair.partition(":")
            steps.append({"color": color, "value": float(value)})
    return {"mode": "absolute", "steps": steps}


def _panel_json(item, pid, x, y):
    opts = item["opts"]
    defaults = {"unit": item["unit"] or "short", "thresholds": _thresholds(opts.get("thresholds"))}
    for key in ("min", "max", "decimals"):
        if key in opts:
            defaults[key] = float(opts[key]) if key != "decimals" else int(opts[key])
    if "map" in opts:
        defaults["mappings"] = _mappings(opts["map"])
    if item["type"] == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                              "showPoints": "never", "spanNulls": True,
                              "stacking": {"mode": "normal" if opts.get("stack") else "none",
                                           "group": "A"}}
    else:
        defaults["color"] = {"mode": "thresholds"}
    reduce = {"calcs": [opts.get("calc", "lastNotNull")], "fields": "", "values": False}
    if item["type"] == "timeseries":
        options = {"legend": {"displayMode": "table" if opts.get("legend") == "table" else "list",
                              "placement": "bottom", "showLegend": True, "calcs": []},
                   "tooltip": {"mode": "multi", "sort": "desc"}}
    elif item["type"] == "stat":
        options = {"reduceOptions": reduce, "colorMode": "value", "graphMode": "area",
                   "justifyMode": "auto", "orientation": "auto", "textMode": "auto"}
    elif item["type"] == "gauge":
        options = {"reduceOptions": reduce, "showThresholdLabels": False,
                   "showThresholdMarkers": True, "orientation": "auto"}
    elif item["type"] == "bargauge":
        options = {"reduceOptions": reduce, "displayMode": "gradient",
                   "orientation": "horizontal", "showUnfilled": True}
    else:  # table: one row per series, its last value
        options = {"showHeader": True, "cellHeight": "sm"}
    targets = []
    for i, t in enumerate(item["targets"]):
        target = {"datasource": DATASOURCE, "refId": chr(ord("A") + i), "expr": t["expr"],
                  "legendFormat": t["legend"] or "__auto", "range": True, "instant": False,
                  "editorMode": "code"}
        if item["type"] in ("table", "bargauge"):
            target.update({"range": False, "instant": True})
        if item["type"] == "table":
            target["format"] = "table"
        targets.append(target)
    panel = {"id": pid, "type": item["type"], "title": item["title"], "datasource": DATASOURCE,
             "gridPos": {"x": x, "y": y, "w": item["w"], "h": item["h"]},
             "fieldConfig": {"defaults": defaults, "overrides": []}, "options": options,
             "targets": targets}
    if item["type"] == "table":
        panel["transformations"] = [{"id": "merge", "options": {}},
                                    {"id": "organize",
                                     "options": {"excludeByName": {"Time": True}}}]
    if item["description"]:
        panel["description"] = item["description"]
    return panel


def layout(dash):
    """Places the dashboard's rows and panels on the grid; returns Grafana's panel list."""
    panels = []
    x = y = line_h = 0
    for pid, item in enumerate(dash["items"], 1):
        if item["kind"] == "row":
            y += line_h
            x = line_h = 0
            panels.append({"id": pid, "type": "row", "title": item["title"], "collapsed": False,
                           "gridPos": {"x": 0, "y": y, "w": GRID_WIDTH, "h": 1}, "panels": []})
            y += 1
            continue
        if x + item["w"] > GRID_WIDTH:
            y += line_h
            x = line_h = 0
        panels.append(_panel_json(item, pid, x, y))
        x += item["w"]
        line_h = max(line_h, item["h"])
    return panels


def _variable(var):
    query = {"query": var["query"], "refId": "PrometheusVariableQueryEditor-VariableQuery",
             "qryType": 1}
    return {"name": var["name"], "label": var["label"], "type": "query",
            "datasource": DATASOURCE, "definition": var["query"], "query": query,
            "refresh": 2, "sort": 1, "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "options": [], "hide": 0, "regex": "", "skipUrlSync": False}


def dashboard_json(dash):
    return {
        "uid": dash["uid"], "title": dash["title"], "tags": dash["tags"],
        "description": dash["description"], "editable": False, "graphTooltip": 1,
        "schemaVersion": 39, "version": 1, "timezone": "browser", "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"}, "timepicker": {},
        "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "", "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [_variable(v) for v in dash["vars"]]},
        "panels": layout(dash),
    }


def render(dash):
    return json.dumps(dashboard_json(dash), indent=2, sort_keys=True) + "\n"


def load():
    with open(DEF_FILE, encoding="utf-8") as f:
        dashboards = parse(f.read())
    seen = set()
    for dash in dashboards:
        for key in ("uid", "file", "title"):
            if (key, dash[key]) in seen:
                _fail(dash["line"], "two dashboards with the %s %r" % (key, dash[key]))
            seen.add((key, dash[key]))
    return dashboards


def main(argv):
    try:
        dashboards = load()
    except DefError as e:
        print("grafana_dashboards: %s" % e, file=sys.stderr)
        return 2
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "--targets":
        for dash in dashboards:
            for panel in layout(dash):
                for t in panel.get("targets", []):
                    print(json.dumps({"dashboard": dash["uid"], "panel": panel["title"],
                                      "refId": t["refId"], "expr": t["expr"]}))
        return 0
    wanted = {dash["file"]: render(dash) for dash in dashboards}
    if mode == "--check":
        stale = []
        for name, text in sorted(wanted.items()):
            path = os.path.join(OUT_DIR, name)
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name + " (missing)")
        extra = sorted(set(os.listdir(OUT_DIR)) - set(wanted)) if os.path.isdir(OUT_DIR) else []
        for name in stale + [e + " (not in panels.def)" for e in extra]:
            print("grafana_dashboards: stale: deploy/grafana/dashboards/%s" % name)
        if stale or extra:
            print("grafana_dashboards: run python3 scripts/grafana_dashboards.py")
            return 1
        return 0
    if mode:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, text in wanted.items():
        with open(os.path.join(OUT_DIR, name), "w", encoding="utf-8") as f:
            f.write(text)
    print("grafana_dashboards: %d dashboards, %d panels" % (
        len(dashboards), sum(1 for d in dashboards for i in d["items"] if i["kind"] == "panel")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
