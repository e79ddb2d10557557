#!/usr/bin/python3
"""peer_python.py: am-bench's peer -- the same figures with prometheus_client.

am-bench runs this first, alone, with Debian's interpreter
(/usr/bin/python3, which has python3-prometheus-client; a python3 earlier on
PATH may not), and divides each of these numbers by its own: the ratio in
its output is how many times libagentmon is faster or smaller than the
client most agent code uses, measured on this machine in this run.

    /usr/bin/python3 bench/peer_python.py [--only G1,G2,...] [--quick]
    /usr/bin/python3 bench/peer_python.py --impl agentmon --path DIR --only python_hot

With --impl agentmon the same figure functions run on the agentmon package
(its API is prometheus_client's) from DIR (build/python): am-bench's Python
groups (bench/bench_python.c) run that and compare each python_agentmon_*
figure with this peer's value for the same name, measured with
prometheus_client in the same run.

Prints JSON objects, one per line: first {"peer": "python prometheus_client
X.Y.Z"}, then {"bench": NAME, "value": V} per figure, with the names and
units am-bench uses. If prometheus_client cannot be imported it prints
{"error": ...} and exits 2.

The operations mirror bench/bench_core.c and bench/bench_encode.c: the same
label shapes (agent="<role>:<id>", priority="<0..9>"), the same counter
values and histogram inputs (the same splitmix64 formulas as bench/series.c),
the same timing rule (loop count doubled until a run takes 1/20 of a
repetition, then the best of 5 repetitions of 100 ms; 2 of 10 ms with
--quick). Hot loops bind the method to a local first, the fastest way to
call it from Python, so the figure is the client's cost, not attribute
lookups. The _created series are switched off
(PROMETHEUS_DISABLE_CREATED_SERIES), because Prometheus text from
libagentmon has none: both expositions then hold the same lines.

Two threads on one child run under the GIL: that is what a Python agent
gets, so it is the figure to compare with.
"""
import json
import os
import sys
import threading
import time

os.environ["PROMETHEUS_DISABLE_CREATED_SERIES"] = "True"  # before the import reads it

MASK64 = (1 << 64) - 1
ROLES = ["planner", "researcher", "coder", "reviewer", "critic",
         "tester", "summarizer", "router", "retriever", "executor"]
DEFAULT_BUCKETS = [.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10]
RSS_SERIES = 100000


def emit(obj):
    print(json.dumps(obj), flush=True)


# ------------------------------------------------------------ shapes (series.c)

def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class Rand:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = splitmix64(self.state)
        return self.state


def _kw(pc, n):
    """agentmon bounds a family's label sets (10,000 by default); the bench
    asks for room. prometheus_client has no such argument."""
    return {'max_children': n} if pc.__name__ == 'agentmon' else {}


def series_labels(i):
    return "%s:%d" % (ROLES[i % 10], i // 100), "%d" % ((i // 10) % 10)


def series_value(i):
    return float(1 + splitmix64(i) % 1000000)


def spread_values(n):
    """As spread_values() in bench_core.c: every bucket of the default bounds alike."""
    r = Rand(42)
    out = []
    for _ in range(n):
        k = r.next() % (len(DEFAULT_BUCKETS) + 1)
        lo = DEFAULT_BUCKETS[k - 1] if k else 0.0
        hi = DEFAULT_BUCKETS[k] if k < len(DEFAULT_BUCKETS) else 20.0
        u = (r.next() >> 11) / 9007199254740992.0
        out.append(lo + (hi - lo) * (1.0 - u))
    return out


# ------------------------------------------------------------ timing (main.c)

class Timing:
    def __init__(self, quick):
        self.reps = 2 if quick else 5
        self.min_rep_ns = 10_000_000 if quick else 100_000_000

    def calibrate(self, fn, start=1000):
        n = start
        while True:
            t0 = time.perf_counter_ns()
            fn(n)
            t = time.perf_counter_ns() - t0
            if t >= self.min_rep_ns // 20 or n >= 1 << 40:
                break
            n *= 2
        return max(start, int(n * self.min_rep_ns / max(t, 1)))

    def best_ns_per_op(self, fn):
        n = self.calibrate(fn)
        best = None
        for _ in range(self.reps):
            t0 = time.perf_counter_ns()
            fn(n)
            ns = (time.perf_counter_ns() - t0) / n
            best = ns if best is None or ns < best else best
        return best


# ------------------------------------------------------------ figures

def fig_counter_inc(pc, tm, name="counter_inc"):
    reg = pc.CollectorRegistry()
    c = pc.Counter("bench_inc", "am-bench counter.", registry=reg)
    inc = c.inc

    def loop(n):
        for _ in range(n):
            inc()
    emit({"bench": name, "value": tm.best_ns_per_op(loop)})


def fig_counter_inc_labelled(pc, tm, name="counter_inc_labelled"):
    reg = pc.CollectorRegistry()
    c = pc.Counter("bench_inc_labelled", "am-bench counter.", ["agent", "priority"], registry=reg)
    inc = c.labels("planner:17", "5").inc

    def loop(n):
        for _ in range(n):
            inc()
    emit({"bench": name, "value": tm.best_ns_per_op(loop)})


def fig_counter_inc_2threads(pc, tm):
    reg = pc.CollectorRegistry()
    c = pc.Counter("bench_inc_2threads", "am-bench counter.", ["agent", "priority"],
                   registry=reg)
    inc = c.labels("planner:17", "5").inc

    def loop(n):
        for _ in range(n):
            inc()
    n = tm.calibrate(loop)
    best = None
    for _ in range(tm.reps):
        barrier = threading.Barrier(2)
        t0 = [0, 0]
        t1 = [0, 0]

        def worker(k):
            barrier.wait()
            t0[k] = time.perf_counter_ns()
            loop(n)
            t1[k] = time.perf_counter_ns()
        th = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        ns = (max(t1) - min(t0)) / n
        best = ns if best is None or ns < best else best
    emit({"bench": "counter_inc_2threads_shared", "value": best})


def fig_histogram_observe(pc, tm, name="histogram_observe"):
    reg = pc.CollectorRegistry()
    h = pc.Histogram("bench_observe_seconds", "am-bench histogram.", registry=reg)
    obs = h.observe
    vals = spread_values(1024)

    def loop(n):
        for _ in range(n // 1024):
            for v in vals:
                obs(v)
        for v in vals[:n % 1024]:
            obs(v)
    emit({"bench": name, "value": tm.best_ns_per_op(loop)})


def fig_counter_with_existing(pc, tm, name="counter_with_existing"):
    reg = pc.CollectorRegistry()
    c = pc.Counter("bench_lookup", "am-bench counter.", ["agent", "priority"], registry=reg)
    n_children = 1000
    for i in range(n_children):
        c.labels(*series_labels(i))
    order = list(range(n_children))
    r = Rand(7)
    for i in range(n_children - 1, 0, -1):  # Fisher-Yates, as in bench_core.c
        j = r.next() % (i + 1)
        order[i], order[j] = order[j], order[i]
    keys = [series_labels(i) for i in order]
    labels = c.labels

    def loop(n):
        for _ in range(n // n_children):
            for a, p in keys:
                labels(a, p)
        for a, p in keys[:n % n_children]:
            labels(a, p)
    emit({"bench": name, "value": tm.best_ns_per_op(loop)})


def build_series(pc, n, set_values):
    reg = pc.CollectorRegistry()
    c = pc.Counter("agent_messages_sent", "Messages an agent sent, by priority.",
                   ["agent", "priority"], registry=reg, **_kw(pc, n))
    for i in range(n):
        child = c.labels(*series_labels(i))
        child.inc(series_value(i) if set_values else 1)
    return reg


def fig_encode(pc, tm, n, tag, prefix="encode_prometheus"):
    reg = build_series(pc, n, True)
    text = pc.generate_latest(reg)  # warm-up, and the size
    best = None
    for _ in range(tm.reps):
        t0 = time.perf_counter_ns()
        pc.generate_latest(reg)
        ms = (time.perf_counter_ns() - t0) / 1e6
        best = ms if best is None or ms < best else best
    emit({"bench": "%s_%s_ms" % (prefix, tag), "value": best})
    if prefix == "encode_prometheus":
        emit({"bench": "%s_%s_bytes" % (prefix, tag), "value": len(text)})


def vm_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_child(pc):
    """In a fresh interpreter: the RSS that 100,000 children add."""
    before = vm_rss_kib()
    reg = build_series(pc, RSS_SERIES, False)
    after = vm_rss_kib()
    emit({"baseline_kib": before, "after_kib": after})
    del reg


def fig_rss(pc, tm):
    import subprocess
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-child"],
                         check=True, capture_output=True, text=True).stdout
    d = json.loads(out.strip().splitlines()[-1])
    emit({"bench": "rss_100k_children_mib", "value": (d["after_kib"] - d["baseline_kib"]) / 1024})
    emit({"bench": "rss_100k_children_abs_mib", "value": d["after_kib"] / 1024})


# ------------------------------------------------------------ logs and traces (bench_log.c)

def _json_logger(name):
    """Python's logging writing one JSON object per line to /dev/null: the
    formatter a Python agent would use for the same lines (timestamp with
    milliseconds in UTC, level, component, message, trace ids and extras)."""
    import logging

    class JsonFormatter(logging.Formatter):
        converter = time.gmtime

        def format(self, record):
            d = {
                "timestamp": "%s.%03dZ" % (self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                                           record.msecs),
                "level": record.levelname,
                "component": record.name,
                "message": record.getMessage(),
            }
            extra = getattr(record, "fields", None)
            if extra:
                d.update(extra)
            return json.dumps(d)

    logger = logging.Logger(name)
    logger.setLevel(logging.INFO)
    devnull = open(os.devnull, "w")
    handler = logging.StreamHandler(devnull)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    return logger, devnull


def fig_log_line(pc, tm):
    logger, devnull = _json_logger("planner")
    info = logger.info

    def loop(n):
        for _ in range(n):
            info("task done")
    emit({"bench": "log_line_devnull", "value": tm.best_ns_per_op(loop)})
    trace = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}

    def loop3(n):
        for i in range(n):
            info("task done", extra={"fields": dict(trace, task_id="task-1742",
                                                    attempt=i & 7, duration_s=0.25)})
    emit({"bench": "log_line_3fields_devnull", "value": tm.best_ns_per_op(loop3)})

    # Python's own buffering: MemoryHandler gathers records and hands them
    # to the handler above when 1024 are held or one is WARNING or worse
    import logging.handlers
    handler = logger.handlers[0]
    logger.removeHandler(handler)
    logger.addHandler(logging.handlers.MemoryHandler(1024, logging.WARNING, handler))
    emit({"bench": "log_line_buffered_devnull", "value": tm.best_ns_per_op(loop)})
    devnull.close()


def fig_histogram_observe_traced(pc, tm):
    reg = pc.CollectorRegistry()
    h = pc.Histogram("bench_traced_seconds", "am-bench traced histogram.", registry=reg)
    obs = h.observe
    vals = spread_values(1024)
    ex = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}

    def loop(n):
        for i in range(n):
            obs(vals[i & 1023], ex)
    emit({"bench": "histogram_observe_traced", "value": tm.best_ns_per_op(loop)})


def fig_trace(pc, tm):
    """Trace ids and the traceparent header the way OpenTelemetry's Python
    SDK does them: random.getrandbits ids (RandomIdGenerator), its
    traceparent regular expression, and "%02x-%032x-%016x-%02x"."""
    import random
    import re
    bits = random.getrandbits
    tp_re = re.compile(r"^\s*(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-"
                       r"(?P<span_id>[0-9a-f]{16})-(?P<trace_flags>[0-9a-f]{2})(-.+)?\s*$")
    header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    def new(n):
        for _ in range(n):
            t = bits(128)
            s = bits(64)
            if not t or not s:
                pass
    emit({"bench": "trace_new", "value": tm.best_ns_per_op(new)})

    def child(n):
        for _ in range(n):
            bits(64)
    emit({"bench": "trace_child", "value": tm.best_ns_per_op(child)})

    def parse(n):
        match = tp_re.search
        for _ in range(n):
            m = match(header)
            if m.group("version") == "ff" or int(m.group("trace_id"), 16) == 0 or \
                    int(m.group("span_id"), 16) == 0:
                raise ValueError(header)
    emit({"bench": "traceparent_parse", "value": tm.best_ns_per_op(parse)})
    tid, sid = 0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7

    def fmt(n):
        for _ in range(n):
            "%02x-%032x-%016x-%02x" % (0, tid, sid, 1)
    emit({"bench": "traceparent_format", "value": tm.best_ns_per_op(fmt)})


# ------------------------------------------------------------ agentmon vs prometheus_client

def fig_python_hot(pc, tm):
    """The hot calls through the Python API: what a Python agent pays (the
    same loops as the figures above, under the python_agentmon_* names)."""
    fig_counter_inc(pc, tm, "python_agentmon_counter_inc")
    fig_counter_inc_labelled(pc, tm, "python_agentmon_counter_inc_labelled")
    fig_histogram_observe(pc, tm, "python_agentmon_histogram_observe")
    fig_counter_with_existing(pc, tm, "python_agentmon_labels_lookup")


MP_WORKERS, MP_SERIES = 8, 10000


def _mp_child(impl, where, k):
    """A worker of the multi-process figure: MP_SERIES series of one counter."""
    if impl == 'agentmon':
        from agentmon import multiprocess
        multiprocess.enable(where)
        import agentmon as pc
    else:
        import prometheus_client as pc
    c = pc.Counter("mp_jobs", "Jobs.", ["agent", "priority"], **_kw(pc, MP_SERIES))
    for i in range(MP_SERIES):
        c.labels(*series_labels(i)).inc(k + 1)
    return 0


def _mp_expo_ms(impl, tm):
    """MP_WORKERS processes write MP_SERIES series each (the same series), then
    the merged exposition is timed in the parent, in a fresh interpreter
    with the mode's environment (prometheus_client reads
    PROMETHEUS_MULTIPROC_DIR at import)."""
    import multiprocessing
    import shutil
    import subprocess
    import tempfile
    d = tempfile.mkdtemp(prefix='am-bench-mp-')
    try:
        where = os.path.join(d, 'seg.agentmon') if impl == 'agentmon' else d
        env = dict(os.environ)
        if impl != 'agentmon':
            env['PROMETHEUS_MULTIPROC_DIR'] = d
        code = (
            "import sys, json, time, multiprocessing\n"
            "sys.path[:0] = json.loads(sys.argv[1])\n"
            "import peer_python as P\n"
            "impl, where, reps = sys.argv[2], sys.argv[3], int(sys.argv[4])\n"
            "ctx = multiprocessing.get_context('fork')\n"
            "ps = [ctx.Process(target=P._mp_child, args=(impl, where, k))"
            " for k in range(P.MP_WORKERS)]\n"
            "[p.start() for p in ps]; [p.join() for p in ps]\n"
            "if impl == 'agentmon':\n"
            "    from agentmon import multiprocess as m, CollectorRegistry, generate_latest\n"
            "    r = CollectorRegistry(); m.MultiProcessCollector(r, path=where)\n"
            "else:\n"
            "    from prometheus_client import CollectorRegistry, generate_latest, multiprocess\n"
            "    r = CollectorRegistry(); multiprocess.MultiProcessCollector(r)\n"
            "text = generate_latest(r)\n"
            "assert text.count(b'mp_jobs_total{') == P.MP_SERIES, text[:300]\n"
            "best = None\n"
            "for _ in range(reps):\n"
            "    t0 = time.perf_counter_ns(); generate_latest(r)\n"
            "    ms = (time.perf_counter_ns() - t0) / 1e6\n"
            "    best = ms if best is None or ms < best else best\n"
            "print(best)\n")
        paths = [os.path.dirname(os.path.abspath(__file__))] + \
            [p for p in sys.path if p.endswith('/python')]
        out = subprocess.run([sys.executable, '-c', code, json.dumps(paths), impl, where,
                              str(max(tm.reps, 2))], env=env, capture_output=True, text=True,
                             check=True, timeout=600)
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def fig_python_expo(pc, tm):
    """generate_latest of 100,000 series, and the multi-process exposition."""
    fig_encode(pc, tm, 100000, "100k", prefix="python_agentmon_generate_latest")
    impl = 'agentmon' if pc.__name__ == 'agentmon' else 'prometheus_client'
    emit({"bench": "python_agentmon_mp_expo_8x10k_ms", "value": _mp_expo_ms(impl, tm)})


GROUPS = {
    "counter_inc": fig_counter_inc,
    "counter_inc_labelled": fig_counter_inc_labelled,
    "counter_inc_2threads": fig_counter_inc_2threads,
    "histogram_observe": fig_histogram_observe,
    "counter_with_existing": fig_counter_with_existing,
    "encode_prometheus_10k": lambda pc, tm: fig_encode(pc, tm, 10000, "10k"),
    "encode_prometheus_100k": lambda pc, tm: fig_encode(pc, tm, 100000, "100k"),
    "rss_100k_children": fig_rss,
    "log_line": fig_log_line,
    "histogram_observe_traced": fig_histogram_observe_traced,
    "trace": fig_trace,
    "python_hot": fig_python_hot,
    "python_expo": fig_python_expo,
}


def main(argv):
    impl = 'prometheus_client'
    if "--impl" in argv:
        impl = argv[argv.index("--impl") + 1]
    if "--path" in argv:
        sys.path.insert(0, argv[argv.index("--path") + 1])
    try:
        if impl == 'agentmon':
            import agentmon as pc
        else:
            import prometheus_client as pc
    except ImportError as e:
        emit({"error": "cannot import %s (%s) with %s" % (impl, e, sys.executable)})
        return 2
    if argv[1:] == ["--rss-child"]:
        rss_child(pc)
        return 0
    quick = "--quick" in argv
    only = None
    if "--only" in argv:
        i = argv.index("--only")
        if i + 1 >= len(argv):
            emit({"error": "--only needs a comma-separated list of groups"})
            return 2
        only = argv[i + 1].split(",")
    # Groups with no Python counterpart (the coordinator, wrk) are skipped:
    # their figures simply carry no peer value.
    if only is not None:
        only = [g for g in only if g in GROUPS]
    try:
        from importlib.metadata import version
        ver = version("prometheus_client") if impl != 'agentmon' else pc.__version__
    except Exception:  # metadata missing: the figures are still good
        ver = "unknown version"
    emit({"peer": "python %s %s" % (impl, ver)})
    tm = Timing(quick)
    for name, fn in GROUPS.items():
        if only is None or name in only:
            fn(pc, tm)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
