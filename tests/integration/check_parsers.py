#!/usr/bin/python3
"""check_parsers.py: read agentmon's expositions with parsers nobody here
wrote, and compare what they read with the generator's ground truth.

    /usr/bin/python3 check_parsers.py DIR
        DIR holds out.prom, out.om, out.json and truth.json, as written by
        gen_exposition. Every family, sample name, label set, value and
        exemplar must match truth exactly.

    /usr/bin/python3 check_parsers.py --parse-only [--prom F] [--om F] [--json F]
        Only require that each parser accepts the file (for outputs without
        a truth file: the example program, golden files).

Parsers: prometheus_client.parser (Prometheus text 0.0.4),
prometheus_client.openmetrics.parser (OpenMetrics 1.0, the strict one), and
json with duplicate keys and the non-JSON NaN/Infinity literals refused.
Run it with Debian's /usr/bin/python3, which has prometheus_client 0.16.

Comparison rules: floats are compared exactly (the library promises
shortest round-trip text, so the parsed double must be the one recorded);
NaN equals NaN; an "le" label is compared as a number, so the test does not
depend on how bounds are spelled; the truth writes NaN and the infinities as
the strings "NaN", "+Inf", "-Inf". Exit status 0 when everything matches, 1
with the first differences listed otherwise, 2 on usage errors.
"""
import json
import math
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families as parse_prom
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as parse_om)
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write("check_parsers.py: prometheus_client is missing (%s); run it with "
                     "/usr/bin/python3 (Debian's python3-prometheus-client)\n" % e)
    sys.exit(2)

MAX_REPORT = 12
SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}


class Diffs:
    """Collects differences; the first MAX_REPORT are shown in full."""

    def __init__(self):
        self.items = []

    def add(self, where, msg):
        self.items.append("%s: %s" % (where, msg))

    def __bool__(self):
        return bool(self.items)

    def report(self, out):
        for line in self.items[:MAX_REPORT]:
            out.write("  - " + line + "\n")
        if len(self.items) > MAX_REPORT:
            out.write("  ... and %d more difference(s)\n" % (len(self.items) - MAX_REPORT))


def num(v):
    """A truth or JSON value as a float ("NaN"/"+Inf"/"-Inf" strings allowed)."""
    if isinstance(v, str):
        if v not in SPECIAL:
            raise ValueError("not a number: %r" % v)
        return SPECIAL[v]
    if isinstance(v, bool):
        raise ValueError("not a number: %r" % v)
    return float(v)


def same_num(a, b):
    try:
        x, y = num(a), num(b)
    except (ValueError, TypeError):
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y


def names_diff(want, got):
    """Why two lists of family names (or JSON keys) differ, in one line."""
    missing = [n for n in want if n not in got]
    extra = [n for n in got if n not in want]
    if missing or extra or len(want) != len(got):
        return "missing %s, unexpected %s (%d expected, %d found)" % (
            missing[:5], extra[:5], len(want), len(got))
    i = next(i for i, (w, g) in enumerate(zip(want, got)) if w != g)
    return "same names in another order: position %d holds %r, expected %r" % (i, got[i], want[i])


def same_labels(want, got, le_numeric):
    if set(want) != set(got):
        return False
    for k, v in want.items():
        if le_numeric and k == "le":
            try:
                if float(v) != float(got[k]):
                    return False
            except ValueError:
                return False
        elif v != got[k]:
            return False
    return True


def read_text(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")  # strict: invalid UTF-8 is a failure
    except UnicodeDecodeError as e:
        raise SystemExit("%s: not valid UTF-8: %s" % (path, e))


def strict_json(text):
    def no_dups(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise ValueError("duplicate key %r" % k)
            d[k] = v
        return d

    def no_constants(name):
        raise ValueError("%s is not JSON" % name)

    return json.loads(text, object_pairs_hook=no_dups, parse_constant=no_constants)


# ---------------------------------------------------------------- samples


def compare_samples(diffs, where, want, got, om):
    """want: truth samples [name, labels, value(, exemplar)]; got: parsed Samples."""
    n = max(len(want), len(got))
    for i in range(n):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w is None:
            diffs.add(where, "unexpected sample %d: %s%s %s" % (i, g.name, g.labels, g.value))
            return
        if g is None:
            diffs.add(where, "missing sample %d: %s%s %s" % (i, w[0], w[1], w[2]))
            return
        name, labels, value = w[0], w[1], w[2]
        bucket = name.endswith("_bucket")
        if g.name != name or not same_labels(labels, g.labels, bucket):
            diffs.add(where, "sample %d: expected %s%s, got %s%s"
                      % (i, name, json.dumps(labels, ensure_ascii=False), g.name,
                         json.dumps(g.labels, ensure_ascii=False)))
            return
        if not same_num(value, g.value):
            diffs.add(where, "sample %d %s%s: expected value %s, got %s"
                      % (i, name, json.dumps(labels, ensure_ascii=False), value, repr(g.value)))
        if g.timestamp is not None:
            diffs.add(where, "sample %d %s: unexpected timestamp %s" % (i, name, g.timestamp))
        if om:
            compare_exemplar(diffs, "%s sample %d %s%s" % (where, i, name,
                                                          json.dumps(labels, ensure_ascii=False)),
                             w[3], g.exemplar)


def ts_ms(ts):
    """A prometheus_client Timestamp (or float) as integer milliseconds, or None."""
    if ts is None:
        return None
    if hasattr(ts, "sec"):
        if ts.nsec % 1000000:
            return None
        return ts.sec * 1000 + ts.nsec // 1000000
    return None


def compare_exemplar(diffs, where, want, got):
    if want is None:
        if got is not None:
            diffs.add(where, "unexpected exemplar %s" % (got,))
        return
    if got is None:
        diffs.add(where, "missing exemplar %s" % json.dumps(want, ensure_ascii=False))
        return
    if got.labels != want["labels"]:
        diffs.add(where, "exemplar labels: expected %s, got %s"
                  % (json.dumps(want["labels"], ensure_ascii=False),
                     json.dumps(got.labels, ensure_ascii=False)))
    if not same_num(want["value"], got.value):
        diffs.add(where, "exemplar value: expected %s, got %r" % (want["value"], got.value))
    if ts_ms(got.timestamp) != want["ts_ms"]:
        diffs.add(where, "exemplar timestamp: expected %d ms, got %s"
                  % (want["ts_ms"], got.timestamp))


# ---------------------------------------------------------------- formats

PROM_TYPE = {"counter": "counter", "gauge": "gauge", "histogram": "histogram",
             "info": "gauge", "stateset": "gauge", "unknown": "unknown"}


def check_prom(diffs, text, truth):
    try:
        fams = list(parse_prom(text))
    except Exception as e:  # the parser's own words are the message
        diffs.add("out.prom", "prometheus_client.parser rejected it: %s" % e)
        return
    want = truth["families"]
    want_names = [f["expo"] if f["type"] == "info" else f["name"] for f in want]
    got_names = [f.name for f in fams]
    if want_names != got_names:
        diffs.add("out.prom", "families differ: " + names_diff(want_names, got_names))
        return
    for w, g in zip(want, fams):
        where = "out.prom %s" % g.name
        if g.type != PROM_TYPE[w["type"]]:
            diffs.add(where, "type: expected %s, got %s" % (PROM_TYPE[w["type"]], g.type))
        if g.documentation != w["help"]:
            diffs.add(where, "help: expected %r, got %r" % (w["help"], g.documentation))
        compare_samples(diffs, where, w["prom_samples"], g.samples, om=False)


def check_om(diffs, text, truth):
    try:
        fams = list(parse_om(text))
    except Exception as e:
        diffs.add("out.om", "prometheus_client.openmetrics.parser rejected it: %s" % e)
        return
    want = truth["families"]
    want_names = [f["name"] for f in want]
    got_names = [f.name for f in fams]
    if want_names != got_names:
        diffs.add("out.om", "families differ: " + names_diff(want_names, got_names))
        return
    for w, g in zip(want, fams):
        where = "out.om %s" % g.name
        if g.type != w["type"]:
            diffs.add(where, "type: expected %s, got %s" % (w["type"], g.type))
        if g.documentation != w["help"]:
            diffs.add(where, "help: expected %r, got %r" % (w["help"], g.documentation))
        if g.unit != (w["unit"] or ""):
            diffs.add(where, "unit: expected %r, got %r" % (w["unit"] or "", g.unit))
        compare_samples(diffs, where, w["om_samples"], g.samples, om=True)


def check_json_exemplar(diffs, where, want, got):
    if want is None:
        if got is not None:
            diffs.add(where, "unexpected exemplar %s" % json.dumps(got, ensure_ascii=False))
        return
    if got is None:
        diffs.add(where, "missing exemplar %s" % json.dumps(want, ensure_ascii=False))
        return
    if set(got) != {"labels", "value", "timestamp"}:
        diffs.add(where, "exemplar keys: %s" % sorted(got))
        return
    if got["labels"] != want["labels"]:
        diffs.add(where, "exemplar labels: expected %s, got %s"
                  % (json.dumps(want["labels"], ensure_ascii=False),
                     json.dumps(got["labels"], ensure_ascii=False)))
    if not same_num(want["value"], got["value"]):
        diffs.add(where, "exemplar value: expected %s, got %r" % (want["value"], got["value"]))
    if not same_num(want["ts_ms"] / 1000.0, got["timestamp"]):
        diffs.add(where, "exemplar timestamp: expected %d ms, got %r"
                  % (want["ts_ms"], got["timestamp"]))


def check_json_series(diffs, where, typ, w, g):
    if g.get("labels") != w["labels"]:
        diffs.add(where, "labels: expected %s, got %s"
                  % (json.dumps(w["labels"], ensure_ascii=False),
                     json.dumps(g.get("labels"), ensure_ascii=False)))
        return
    if typ == "histogram":
        if set(g) - {"labels", "count", "sum", "buckets", "exemplars"}:
            diffs.add(where, "unexpected keys %s" % sorted(g))
        for key in ("count", "sum"):
            if not same_num(w[key], g.get(key)):
                diffs.add(where, "%s: expected %s, got %r" % (key, w[key], g.get(key)))
        got_b = list((g.get("buckets") or {}).items())
        if len(got_b) != len(w["buckets"]):
            diffs.add(where, "%d buckets, expected %d" % (len(got_b), len(w["buckets"])))
            return
        for (wl, wv), (gl, gv) in zip(w["buckets"], got_b):
            if float(wl) != float(gl) or not same_num(wv, gv):
                diffs.add(where, "bucket le=%s %s, got le=%s %r" % (wl, wv, gl, gv))
                return
        got_ex = list((g.get("exemplars") or {}).items())
        if len(got_ex) != len(w["exemplars"]):
            diffs.add(where, "%d exemplars, expected %d" % (len(got_ex), len(w["exemplars"])))
            return
        for (wl, we), (gl, ge) in zip(w["exemplars"], got_ex):
            if float(wl) != float(gl):
                diffs.add(where, "exemplar bucket le=%s, got le=%s" % (wl, gl))
                return
            check_json_exemplar(diffs, where + " le=" + gl, we, ge)
    elif typ == "stateset":
        got_s = list((g.get("states") or {}).items())
        want_s = [tuple(x) for x in w["states"]]
        if got_s != want_s:
            diffs.add(where, "states: expected %s, got %s"
                      % (json.dumps(want_s, ensure_ascii=False),
                         json.dumps(got_s, ensure_ascii=False)))
    else:
        if not same_num(w["value"], g.get("value")):
            diffs.add(where, "value: expected %s, got %r" % (w["value"], g.get("value")))
        check_json_exemplar(diffs, where, w.get("exemplar"), g.get("exemplar"))


def check_json(diffs, text, truth):
    try:
        data = strict_json(text)
    except ValueError as e:
        diffs.add("out.json", "not strict JSON: %s" % e)
        return
    if set(data) != {"timestamp", "metrics"}:
        diffs.add("out.json", "top-level keys %s" % sorted(data))
        return
    if not same_num(truth["json_timestamp"], data["timestamp"]):
        diffs.add("out.json", "timestamp: expected %s, got %r"
                  % (truth["json_timestamp"], data["timestamp"]))
    want = truth["families"]
    got_keys = list(data["metrics"])
    want_keys = [f["json_key"] for f in want]
    if got_keys != want_keys:
        diffs.add("out.json", "metric keys differ: " + names_diff(want_keys, got_keys))
        return
    for w in want:
        g = data["metrics"][w["json_key"]]
        where = "out.json %s" % w["json_key"]
        for key, val in (("name", w["expo"]), ("type", w["type"]), ("help", w["help"])):
            if g.get(key) != val:
                diffs.add(where, "%s: expected %r, got %r" % (key, val, g.get(key)))
        if g.get("unit") != w["unit"]:
            diffs.add(where, "unit: expected %r, got %r" % (w["unit"], g.get("unit")))
        series = g.get("series")
        if not isinstance(series, list) or len(series) != len(w["series"]):
            diffs.add(where, "%s series, expected %d"
                      % (len(series) if isinstance(series, list) else repr(series),
                         len(w["series"])))
            continue
        for i, (ws, gs) in enumerate(zip(w["series"], series)):
            check_json_series(diffs, "%s series %d" % (where, i), w["type"], ws, gs)


# ---------------------------------------------------------------- main


def parse_only(args):
    diffs = Diffs()
    it = iter(args)
    for flag in it:
        path = next(it, None)
        if path is None or flag not in ("--prom", "--om", "--json"):
            sys.stderr.write("usage: check_parsers.py --parse-only [--prom F] [--om F] "
                             "[--json F]\n")
            return 2
        text = read_text(path)
        try:
            if flag == "--prom":
                n = sum(len(f.samples) for f in parse_prom(text))
            elif flag == "--om":
                n = sum(len(f.samples) for f in parse_om(text))
            else:
                n = len(strict_json(text)["metrics"])
            if n == 0:
                diffs.add(path, "parsed, but holds nothing")
        except Exception as e:
            diffs.add(path, "rejected: %s" % e)
    if diffs:
        sys.stdout.write("FAIL\n")
        diffs.report(sys.stdout)
        return 1
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "--parse-only":
        return parse_only(argv[2:])
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    d = argv[1]
    truth = strict_json(read_text(d + "/truth.json"))
    diffs = Diffs()
    check_prom(diffs, read_text(d + "/out.prom"), truth)
    check_om(diffs, read_text(d + "/out.om"), truth)
    check_json(diffs, read_text(d + "/out.json"), truth)
    if diffs:
        sys.stdout.write("FAIL (seed %s): %d difference(s) between the parsers and the truth\n"
                         % (truth.get("seed"), len(diffs.items)))
        diffs.report(sys.stdout)
        return 1
    n = sum(len(f["prom_samples"]) for f in truth["families"])
    sys.stdout.write("ok: %d families, %d Prometheus samples\n" % (len(truth["families"]), n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
