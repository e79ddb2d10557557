#!/usr/bin/python3
"""hostile_ingest.py AGENTMON TMPDIR: cardinality and ingest isolation
(issue 10 items 3 and 4), against a real `agentmon serve`.

1. One UDP sender inventing series (300,000 of them, as the attack that
   made 1 M series in 11 s): the collector holds at most its StatsD budget
   (--statsd-max-series), counts the rest in
   agentmon_cardinality_overflow_total, and /metrics stays small and fast.
2. Samples never starve acknowledged ingest: with a store queue of 20,000
   records, while every StatsD flush offers the store 20,000 samples a
   second, events posted meanwhile are all acknowledged (200), none
   refused for a full queue (503); samples past their share of the queue
   are dropped and counted (reason="queue_full").
3. One bad sample is dropped alone: a scrape target whose exposition holds
   a sample the store refuses (a timestamp past year 9999) and good ones;
   the bad one is counted as invalid, the good ones and later StatsD
   samples are still stored.
Prints the figures as one JSON line. Loopback only; bounded in time.
"""
import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

AGENTMON, TMP = sys.argv[1], sys.argv[2]
BUDGET = 20000


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path, timeout=30):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    c.request('GET', path)
    r = c.getresponse()
    return r.status, r.read()


def post(port, body):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    c.request('POST', '/api/v1/events', body, {'Content-Type': 'application/json'})
    r = c.getresponse()
    r.read()
    return r.status


def sample(text, name, labels=''):
    m = re.search(r'^%s%s (\S+)$' % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


def fail(msg):
    print('hostile_ingest: FAIL: ' + msg)
    sys.exit(1)


class Target(http.server.BaseHTTPRequestHandler):
    """An exposition with one sample the store must refuse among good ones."""
    def do_GET(self):
        body = ('# TYPE good gauge\ngood{k="a"} 1\ngood{k="b"} 2\n'
                '# TYPE future gauge\nfuture 3 253402300800000\n').encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain; version=0.0.4')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def main():
    target = http.server.HTTPServer(('127.0.0.1', 0), Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    port, statsd = free_port(), free_port(socket.SOCK_DGRAM)
    log = open(os.path.join(TMP, 'serve.log'), 'w')
    proc = subprocess.Popen([AGENTMON, 'serve', '--listen', '127.0.0.1:%d' % port,
                             '--statsd', '127.0.0.1:%d' % statsd, '--system-interval', '0',
                             '--store', 'sqlite:%s/data/a.db' % TMP, '--flush-interval', '1s',
                             '--statsd-max-series', str(BUDGET), '--max-flush-samples', '100000',
                             '--store-queue', str(BUDGET),
                             '--scrape', 'http://127.0.0.1:%d/metrics' % target.server_port,
                             '--scrape-interval', '1s'], stdout=log, stderr=subprocess.STDOUT)
    figures = {}
    try:
        for _ in range(100):
            try:
                if get(port, '/health', 2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            fail('serve did not start')

        # 1. a sender inventing series
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        n_sent = 300000
        for i in range(0, n_sent, 40):
            lines = '\n'.join('card.n%d:1|c|#id:%d' % (j % 60, j) for j in range(i, i + 40))
            udp.sendto(lines.encode(), ('127.0.0.1', statsd))
            if i % 4000 == 0:
                time.sleep(0.002)  # let the receiver keep up: the point is series, not drops
        time.sleep(2)
        t0 = time.time()
        st, body = get(port, '/metrics')
        figures['metrics_ms'] = round((time.time() - t0) * 1000, 1)
        figures['metrics_bytes'] = len(body)
        text = body.decode()
        held = sample(text, 'agentmon_series', '{source="statsd"}')
        over = sum(float(v) for v in re.findall(
            r'^agentmon_cardinality_overflow_total\{metric="card_n\d+"\} (\S+)$', text, re.M))
        figures['statsd_series'] = held
        figures['overflowed'] = over
        if held is None or held > BUDGET + 60 or held < BUDGET:
            fail('the collector holds %s StatsD series; its budget is %d' % (held, BUDGET))
        if not over or over < n_sent * 0.5 - BUDGET:
            fail('the series past the budget were not counted as overflow (%s)' % over)
        if sample(text, 'card_n7_total', '{id="__overflow__"}') is None:
            fail('no overflow series for card_n7')
        with open('/proc/%d/status' % proc.pid) as f:
            rss = int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1)) * 1024
        figures['rss_bytes'] = rss
        if rss > 512 << 20:
            fail('RSS is %d bytes after the attack' % rss)

        # 2. samples flood the store every second; events are still taken
        statuses = {}
        end = time.time() + 8
        while time.time() < end:
            events = json.dumps([{'event': 'task', 'agent_id': 'coder', 'status': 'success',
                                  'duration': 0.5} for _ in range(200)])
            st = post(port, events)
            statuses[st] = statuses.get(st, 0) + 1
        figures['event_posts'] = statuses
        figures['samples_dropped_queue_full'] = sample(
            get(port, '/metrics')[1].decode(), 'agentmon_ingest_dropped_total',
            '{protocol="statsd",reason="queue_full"}')
        if set(statuses) != {200}:
            fail('events were refused while samples flooded the store: %s' % statuses)

        # 3. the scrape's bad sample is dropped alone, later samples stored
        text = get(port, '/metrics')[1].decode()
        invalid = sample(text, 'agentmon_ingest_dropped_total',
                         '{protocol="scrape",reason="invalid"}')
        figures['invalid_dropped'] = invalid
        if not invalid:
            fail('the scraped sample past year 9999 was not counted as invalid')
        now = time.time()
        st, body = get(port, '/api/v1/series?name=good&start=%f&end=%f' % (now - 60, now + 1))
        if st != 200 or b'"k":"a"' not in body:
            fail('the good scraped samples were not stored: %d %r' % (st, body[:200]))
        st, body = get(port, '/api/v1/series?name=card_n7_total&start=%f&end=%f'
                       % (now - 5, now + 5))
        if st != 200 or b'"points":[[' not in body:
            fail('StatsD samples stopped being stored after a bad sample: %d %r'
                 % (st, body[:200]))
        print('hostile_ingest: ' + json.dumps(figures))
        print('hostile_ingest: ok')
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        target.shutdown()


if __name__ == '__main__':
    main()
