"""pg_multi.py AGENTMON URI DIR: see pg_multi.sh. Standard library only."""
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

AGENTMON, URI, DIR = sys.argv[1:4]
N = 3          # collectors
EVENTS = 3000  # distinct ids
BATCH = 25
NOW = int(time.time())
BASE = NOW - NOW % 60 - 40 * 60  # 40 whole minutes back: rollups serve
OLD = 50       # rows older than the retention, seeded by hand


def fail(msg):
    print("pg_multi: FAIL: " + msg)
    sys.exit(1)


def psql(sql):
    out = subprocess.run(["psql", "-qtAX", URI, "-c", sql], capture_output=True, text=True)
    if out.returncode:
        fail("psql: " + out.stderr)
    return out.stdout.strip()


class Collector:
    def __init__(self, i):
        self.i = i
        self.log = open("%s/c%d.log" % (DIR, i), "w+")
        self.p = subprocess.Popen(
            [AGENTMON, "serve", "--listen", "127.0.0.1:0", "--statsd", "off",
             "--system-interval", "0", "--retention", "1h", "--store", URI],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.port = None

    def wait_port(self):
        for _ in range(600):
            self.log.seek(0)
            m = re.search(r"HTTP on 127\.0\.0\.1:(\d+)", self.log.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.p.poll() is not None:
                self.log.seek(0)
                fail("collector %d exited: %s" % (self.i, self.log.read()[-500:]))
            time.sleep(0.1)
        fail("collector %d did not start" % self.i)

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=30) as r:
            return r.status, dict(r.headers), r.read()

    def metric(self, name):
        _, _, body = self.get("/metrics")
        m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % name, body.decode(), re.M)
        return float(m.group(1)) if m else 0.0

    def alive(self):
        return self.p.poll() is None


def event(k):
    return {"event": "task", "id": "ev-%05d" % k, "timestamp": BASE + k * 0.75,
            "agent_id": "agent-%d" % (k % 7), "status": "failure" if k % 11 == 0 else "success",
            "duration": 0.01 * (k % 97 + 1)}


def post(c, batch):
    rq = urllib.request.Request("http://127.0.0.1:%d/api/v1/events" % c.port,
                                json.dumps(batch).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(rq, timeout=30) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ConnectionError):
        return False


def sender(cols, first, ks, errors):
    """Each batch to collector `first`; if it is not acknowledged, to the
    next one, as a client that fails over does."""
    for j in range(0, len(ks), BATCH):
        batch = [event(k) for k in ks[j:j + BATCH]]
        for t in range(30):
            c = cols[(first + t) % len(cols)]
            if c.alive() and post(c, batch):
                break
            time.sleep(0.1)
        else:
            errors.append("batch %d..%d: no collector acknowledged it" % (ks[j], ks[j] + BATCH))


def seed_old(n, tag):
    psql("INSERT INTO task_events (id, timestamp, agent_id, status, duration) "
         "SELECT '%s-' || g, %d - g, 'old', 'success', 1 FROM generate_series(1, %d) g"
         % (tag, NOW - 7200, n))


def deleted(cols):
    return {c.i: c.metric("agentmon_store_retention_deleted_total") for c in cols if c.alive()}


def wait_for(what, cond, limit=60):
    t = time.time()
    while time.time() - t < limit:
        if cond():
            return
        time.sleep(0.2)
    fail(what)


# three collectors at once: one migrates, the others wait, then share
cols = [Collector(i) for i in range(N)]
for c in cols:
    c.wait_port()
# every migration applied once (not once per collector), up to the latest
versions = psql("SELECT count(*) || ' ' || count(DISTINCT version) || ' ' || max(version) "
                "FROM schema_version")
n_rows, n_distinct, latest = versions.split()
if not (n_rows == n_distinct == latest and int(latest) >= 6):
    fail("schema versions (rows, distinct, latest): " + versions)

# retention: rows older than 1 h, deleted by one collector only
seed_old(OLD, "old")
wait_for("retention did not delete the old rows",
         lambda: psql("SELECT count(*) FROM task_events WHERE agent_id = 'old'") == "0")
d = deleted(cols)
runners = [i for i, v in d.items() if v > 0]
if len(runners) != 1 or d[runners[0]] != OLD:
    fail("retention deleted %s (by collector), expected %d by one" % (d, OLD))
maint = runners[0]
print("pg_multi: collector %d runs retention (deleted %d); the others deleted nothing"
      % (maint, OLD))

# events: ids split between the collectors, a fifth sent to two of them
ks = list(range(EVENTS))
plans = []
for i in range(N):
    mine = [k for k in ks if k % N == i]
    again = [k for k in ks if k % 5 == 0 and k % N == (i + 1) % N]
    plans.append((i, mine))
    plans.append(((i + 2) % N, again))  # the same ids, to another collector
errors = []
threads = [threading.Thread(target=sender, args=(cols, first, part, errors)) for first, part in plans]
for t in threads:
    t.start()
time.sleep(1.0)
cols[maint].p.send_signal(signal.SIGKILL)  # the retention runner, mid-run
cols[maint].p.wait()
print("pg_multi: killed collector %d (kill -9) mid-run" % maint)
for t in threads:
    t.join()
if errors:
    fail("; ".join(errors[:3]))
live = [c for c in cols if c.alive()]

# stored once each, rollups exactly the rows
got = psql("SELECT count(*) || ' ' || count(DISTINCT id) FROM task_events WHERE agent_id <> 'old'")
if got != "%d %d" % (EVENTS, EVENTS):
    fail("task_events holds %s rows/ids, expected %d" % (got, EVENTS))
for level in (60, 3600):
    got = psql("SELECT sum(n) FROM task_events_rollup WHERE level = %d AND dim = 0" % level)
    if got != str(EVENTS):
        fail("level %d rollups count %s rows, expected %d" % (level, got, EVENTS))
dups = sum(c.metric("agentmon_store_duplicates_total") for c in live)
print("pg_multi: %d events stored once each; survivors skipped %d duplicates; rollups exact"
      % (EVENTS, dups))

# every query route, the same answer from every collector
start, end = BASE - BASE % 3600, NOW - NOW % 60
routes = [
    "/api/v1/metrics/task?limit=10000&start=%d&end=%d" % (start, end + 60),
    "/api/v1/metrics/task?agent_id=agent-3&limit=10000&start=%d&end=%d" % (start, end + 60),
    "/api/v1/metrics/task/summary?group_by=agent_id&step=60&start=%d&end=%d" % (start, end),
    "/api/v1/metrics/task/summary?group_by=status&step=3600&start=%d&end=%d" % (start, end + 3600),
    "/api/v1/metrics/task/summary?step=300&start=%d&end=%d" % (BASE + 17, end),
]
for r in routes:
    answers = {c.i: c.get(r)[2] for c in live}
    if len(set(answers.values())) != 1:
        fail("%s differs between collectors" % r)
rows = json.loads(live[0].get(routes[0])[2])
if len(rows) != EVENTS:
    fail("the row route gave %d rows" % len(rows))
summ = json.loads(live[0].get(routes[2])[2])
total = sum(p["count"] for g in summ["data"]["groups"] for p in g["points"])
if total != EVENTS:
    fail("the summary counts %d events" % total)
# paging, each page from the next collector, with the previous one's cursor
path, seen, n = "/api/v1/metrics/task?limit=400&start=%d&end=%d" % (start, end + 60), [], 0
while path:
    _, h, body = live[n % len(live)].get(path)
    seen += [x["id"] for x in json.loads(body)]
    nxt = h.get("X-Next-Cursor")
    path = ("/api/v1/metrics/task?limit=400&start=%d&end=%d&cursor=%s" % (start, end + 60, nxt)
            if nxt else None)
    n += 1
if seen != [x["id"] for x in rows]:
    fail("paging across collectors gave %d rows, not the %d in order" % (len(seen), len(rows)))
print("pg_multi: %d routes agree on %d collectors; %d pages across them give every row once"
      % (len(routes), len(live), n))

# a survivor took retention over
seed_old(30, "old2")
wait_for("no survivor took retention over",
         lambda: psql("SELECT count(*) FROM task_events WHERE agent_id = 'old'") == "0")
d = deleted(live)
runners = [i for i, v in d.items() if v > 0]
took = [c.i for c in live if "this collector runs retention" in c.text()]
if len(runners) != 1 or d[runners[0]] != 30 or took != runners:
    fail("after the kill retention deleted %s, logged by %s" % (d, took))
print("pg_multi: collector %d took retention over (deleted 30)" % runners[0])
for c in live:
    c.p.send_signal(signal.SIGTERM)
    c.p.wait()
print("pg_multi: ok")
