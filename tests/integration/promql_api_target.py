"""promql_api_target.py: a scrape target that hands each scraper the same
timeline of samples, one step per scrape, with explicit timestamps.

    python3 promql_api_target.py PORTFILE BASE_MS STEP_MS STEPS

Two paths, /a/metrics and /b/metrics, each with its own cursor: the n-th
scrape of a path gets step n of the timeline (the last one again once the
timeline is over). So two scrapers -- a real Prometheus and `agentmon
serve` -- store exactly the same samples, whatever their scrape times.
GET /status answers "A B" (the two cursors).

The timeline holds what the query API is asked about: counters (one with
a reset), gauges, a histogram with agentmon's task buckets, a series that
vanishes for good (a vanished series never comes back: samples after a
staleness marker would be older than it), and +Inf values.
"""
import http.server
import math
import sys

PORTFILE, BASE, STEP, STEPS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5',
           '5', '7.5', '10', '30', '60', '120', '300', '600', '+Inf']


def fmt(v):
    if v == math.inf:
        return '+Inf'
    return repr(float(v))


def step(k):
    t = BASE + k * STEP
    out = ['# TYPE task_total counter']
    a = 5 * k if k < 70 else 2 * (k - 70)  # a reset at step 70
    out.append('task_total{agent_id="a"} %s %d' % (fmt(a), t))
    out.append('task_total{agent_id="b"} %s %d' % (fmt(3 * k + k % 7), t))
    out.append('# TYPE queue_depth gauge')
    out.append('queue_depth{queue="q1"} %s %d' % (fmt(100 + 50 * math.sin(k / 5.0)), t))
    out.append('queue_depth{queue="q2"} %s %d' % (fmt(k % 13), t))
    out.append('# TYPE dur_seconds histogram')
    for agent, speed in (('a', 1.0), ('b', 3.0)):
        cum = 0
        for i, le in enumerate(BUCKETS):
            # observations pile into the middle buckets, more for b
            cum += int(k * speed * (1 + (i % 5)) / 3)
            out.append('dur_seconds_bucket{agent_id="%s",le="%s"} %d %d' % (agent, le, cum, t))
        out.append('dur_seconds_sum{agent_id="%s"} %s %d' % (agent, fmt(cum * 0.37), t))
        out.append('dur_seconds_count{agent_id="%s"} %d %d' % (agent, cum, t))
    if k < 100:
        out.append('# TYPE gone_gauge gauge')
        out.append('gone_gauge %s %d' % (fmt(k * 1.5), t))
    out.append('# TYPE weird gauge')
    out.append('weird %s %d' % (fmt(math.inf if k % 10 == 0 else k / 3.0), t))
    return '\n'.join(out) + '\n'


BODIES = [step(k).encode() for k in range(STEPS)]
cursor = {'a': 0, 'b': 0}


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/status':
            body = ('%d %d' % (cursor['a'], cursor['b'])).encode()
        elif self.path in ('/a/metrics', '/b/metrics'):
            who = self.path[1]
            body = BODIES[min(cursor[who], STEPS - 1)]
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain; version=0.0.4')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            return  # the scraper gave up: it gets this step again
        if self.path != '/status':
            cursor[self.path[1]] += 1

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
with open(PORTFILE + '.tmp', 'w') as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402
os.rename(PORTFILE + '.tmp', PORTFILE)
srv.serve_forever()
