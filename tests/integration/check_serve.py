#!/usr/bin/python3
"""check_serve.py: `agentmon serve` against real clients and servers.

    check_serve.py AGENTMON STORE_URI TMPDIR

On 127.0.0.1 only. Starts Prometheus (scraping the collector) and the
collector (scraping Prometheus), then checks:
  1. events over HTTP: JSON array, NDJSON, gzip; partial rejection; the
     rows, a summary and the pack metrics they moved; 400/404/415 errors;
  2. StatsD datagrams reach /metrics and the series API;
  3. the collector scrapes Prometheus (up == 1, samples stored) and
     Prometheus scrapes the collector (its up == 1), and `promtool check
     metrics` accepts the collector's /metrics;
  4. durability: clients post events with ids while the collector is
     killed with SIGKILL; after a restart on the same store every event
     that was acknowledged (HTTP 200) is there;
  5. SIGTERM stops it cleanly.
Prints one line per check; exits 1 on the first failure.
"""
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

AGENTMON, STORE, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
BACKEND = STORE.split(":", 1)[0]


def say(msg):
    print(f"serve[{BACKEND}]: {msg}", flush=True)


def fail(msg):
    say("FAIL: " + msg)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


class Collector:
    def __init__(self, extra):
        self.out = open(os.path.join(TMP, "serve.out"), "a")
        self.p = subprocess.Popen(
            [AGENTMON, "serve", "--listen", "127.0.0.1:0", "--statsd", "127.0.0.1:0",
             "--store", STORE, "--system-interval", "1s"] + extra,
            stdout=subprocess.PIPE, stderr=self.out, text=True)
        line = self.p.stdout.readline()
        if "HTTP on" not in line:
            fail(f"the collector did not start: {line!r}; see {TMP}/serve.out")
        self.http = int(line.split("HTTP on 127.0.0.1:")[1].split(" ")[0])
        self.statsd = int(line.split("StatsD on udp 127.0.0.1:")[1].split(",")[0])
        self.base = f"http://127.0.0.1:{self.http}"

    def get(self, path):
        return http("GET", self.base + path)

    def post(self, body, headers=None):
        if isinstance(body, str):
            body = body.encode()
        return http("POST", self.base + "/api/v1/events", body, headers)

    def metrics(self):
        return self.get("/metrics")[1]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rest = self.p.communicate(timeout=30)[0]
        return self.p.returncode, rest


def task(agent, status="success", dur=0.5, **kw):
    e = {"event": "task", "agent_id": agent, "status": status, "duration": dur}
    e.update(kw)
    return e


def check_events(c):
    st, body, _ = c.post(json.dumps([
        task("coder", trace_id="4bf92f3577b34da6a3ce929d0e0e4736"),
        task("coder", "failure", 2.0, error_type="timeout"),
        {"event": "task", "agent_id": "coder"},
        {"event": "llm", "provider": "anthropic", "model": "claude", "status": "success",
         "latency": 1.25, "input_tokens": 100, "output_tokens": 40},
        {"event": "communication", "source_agent_id": "planner", "target_agent_id": "coder",
         "message_type": "task", "message_size": 300, "processing_time": 12.5,
         "error_info": {"type": "timeout", "retries": 1}},
        {"event": "agent", "agent_id": "coder",
         "performance_metrics": {"response_time": 120, "request_count": 9}},
        {"event": "metric", "name": "queue_depth", "type": "gauge", "value": 4,
         "labels": {"queue": "research"}},
    ]))
    r = json.loads(body)
    if st != 200 or r["accepted"] != 6 or [x["index"] for x in r["rejected"]] != [2]:
        fail(f"mixed batch: {st} {body}")
    nd = "\n".join(json.dumps(task(f"nd{i}")) for i in range(3)) + "\n"
    st, body, _ = c.post(nd, {"Content-Type": "application/x-ndjson"})
    if st != 200 or json.loads(body)["accepted"] != 3:
        fail(f"NDJSON: {st} {body}")
    st, body, _ = c.post(gzip.compress(json.dumps(task("gz")).encode()),
                         {"Content-Encoding": "gzip"})
    if st != 200:
        fail(f"gzip: {st} {body}")
    st, body, _ = c.get("/api/v1/metrics/task?agent_id=coder&status=failure")
    rows = json.loads(body)
    if st != 200 or len(rows) != 1 or rows[0]["error_type"] != "timeout":
        fail(f"rows: {st} {body}")
    st, body, _ = c.get("/api/v1/metrics/communication?source_agent_id=planner")
    rows = json.loads(body)
    if len(rows) != 1 or rows[0]["retry_count"] != 1 or rows[0]["error_count"] != 1:
        fail(f"communication row: {body}")
    st, body, _ = c.get("/api/v1/metrics/task/summary?group_by=agent_id&step=1h")
    groups = {g["group"]["agent_id"]: g["points"] for g in json.loads(body)["data"]["groups"]}
    pts = groups.get("coder")
    if st != 200 or not pts or pts[0]["count"] != 2 or pts[0]["error_rate"] != 0.5:
        fail(f"summary: {st} {body}")
    st, body, _ = c.get("/api/v1/series?name=queue_depth&match[]=queue=research")
    if st != 200 or '"queue":"research"' not in body:
        fail(f"series of a metric event: {st} {body}")
    m = c.metrics()
    for want in ['agent_task_failure_total{agent_id="coder",error_type="timeout"} 1',
                 'ccr_tokens_total{provider="anthropic",direction="input"} 100',
                 'insa_agent_messages_total{from_agent="planner",to_agent="coder",'
                 'message_type="task"} 1',
                 'agentmon_ingest_invalid_total{protocol="http"} 1',
                 'queue_depth{queue="research"} 4']:
        if want not in m:
            fail(f"/metrics lacks {want}")
    for path, code, words in [("/api/v1/metrics/nope", 404, "no metric type"),
                              ("/api/v1/metrics/task?limit=x", 400, "limit"),
                              ("/api/v1/metrics/task?start=soon", 400, "start"),
                              ("/api/v1/series?name=up&step=0", 400, "step")]:
        st, body, _ = c.get(path)
        if st != code or words not in body:
            fail(f"{path}: {st} {body}")
    st, body, _ = c.post("{}", {"Content-Encoding": "br"})
    if st != 415:
        fail(f"Content-Encoding br: {st}")
    say("ok: events (array, NDJSON, gzip, a rejected one), rows, summary, pack metrics, errors")


def check_statsd(c):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"llm.calls:2|c|#provider:openai\nllm.latency:250|ms|#provider:openai\n"
             b"queue.size:+3|g\nusers:alice|s\nusers:bob|s\nbroken line\n",
             ("127.0.0.1", c.statsd))
    s.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        m = c.metrics()
        st, body, _ = c.get("/api/v1/series?match[]=llm_calls_total{provider=\"openai\"}")
        if 'llm_calls_total{provider="openai"} 2' in m and '"provider":"openai"' in body:
            break
        time.sleep(0.5)
    else:
        fail("StatsD lines did not reach /metrics and the series API")
    for want in ['llm_latency_seconds_count{provider="openai"} 1', "queue_size 3",
                 'agentmon_ingest_invalid_total{protocol="statsd"} 1']:
        if want not in m:
            fail(f"/metrics lacks {want}")
    say("ok: StatsD counter, timer, gauge delta, set, a bad line counted; stored as series")


def check_scrape_and_prometheus(c, prom_port):
    deadline = time.time() + 40
    inst = f"127.0.0.1:{prom_port}"
    while time.time() < deadline:
        m = c.metrics()
        q = urllib.parse.quote('up{job="agentmon"}')
        st, body, _ = http("GET", f"http://{inst}/api/v1/query?query={q}")
        prom_up = st == 200 and '"1"]' in body
        st, series, _ = c.get("/api/v1/series?name=prometheus_build_info")
        if f'up{{instance="{inst}",job="scrape"}} 1' in m and prom_up and \
                '"version"' in series:
            break
        time.sleep(1)
    else:
        fail(f"scrape both ways: collector up? {inst in m}; prometheus up? {prom_up}")
    r = subprocess.run(["promtool", "check", "metrics"], input=c.metrics(), text=True,
                       capture_output=True)
    if r.returncode != 0:
        fail("promtool check metrics: " + r.stdout + r.stderr)
    say("ok: scrapes Prometheus (up 1, samples stored); Prometheus scrapes it; promtool accepts "
        "/metrics")


def check_durability(extra):
    c = Collector(extra)
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def poster(k):
        n = 0
        while not stop.is_set():
            ids = [f"k{k}-{n + i}" for i in range(20)]
            n += 20
            body = json.dumps([task("crash", id=i) for i in ids]).encode()
            try:
                st, _, _ = http("POST", c.base + "/api/v1/events", body, timeout=5)
            except Exception:
                return
            if st == 200:
                with lock:
                    acked.extend(ids)

    threads = [threading.Thread(target=poster, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    c.p.send_signal(signal.SIGKILL)
    c.p.wait()
    stop.set()
    for t in threads:
        t.join()
    if len(acked) < 100:
        fail(f"only {len(acked)} events acknowledged before the kill")
    c = Collector(extra)
    stored, path = set(), "/api/v1/metrics/task?agent_id=crash&limit=10000"
    while path:
        st, body, h = c.get(path)
        if st != 200:
            fail(f"reading back: {st} {body}")
        stored.update(r["id"] for r in json.loads(body))
        link = h.get("Link", "")
        path = link[link.index("<") + 1:link.index(">")] if link else None
    lost = [i for i in acked if i not in stored]
    if lost:
        fail(f"{len(lost)} of {len(acked)} acknowledged events lost after kill -9: {lost[:5]}")
    say(f"ok: kill -9 under load: all {len(acked)} acknowledged events survived "
        f"({len(stored)} stored)")
    return c


def main():
    prom_port = free_port()
    prom = None
    if subprocess.run(["which", "prometheus"], capture_output=True).returncode == 0:
        pass
    else:
        fail("prometheus not installed")
    c = Collector(["--scrape", f"http://127.0.0.1:{prom_port}/metrics",
                   "--scrape-interval", "1s"])
    cfg = os.path.join(TMP, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: agentmon
    static_configs:
      - targets: ['127.0.0.1:{c.http}']
""")
    prom = subprocess.Popen(["prometheus", f"--config.file={cfg}",
                             f"--storage.tsdb.path={TMP}/prom",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        check_events(c)
        check_statsd(c)
        check_scrape_and_prometheus(c, prom_port)
        rc, out = c.stop()
        if rc != 0 or "stopped" not in out:
            fail(f"SIGTERM: exit {rc}, {out!r}")
        say("ok: SIGTERM stops it cleanly")
        c = check_durability([])
        c.stop()
    finally:
        prom.terminate()
        prom.wait()
        if c.p.poll() is None:
            c.p.kill()


main()
