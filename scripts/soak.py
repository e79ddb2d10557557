#!/usr/bin/python3
"""soak.py BUILD [SECONDS]: agentmon serve and agentmon demo under a mixed,
hostile load for a long time; their memory, descriptors and threads must
stay flat.

What runs (all on 127.0.0.1, free ports):
  - `agentmon demo` (in-memory coordinator, flat out at its normal pace);
  - `agentmon serve` (SQLite in a temporary directory) scraping the demo;
  - legitimate traffic: a batch of events every second, StatsD lines,
    /metrics and query API reads;
  - hostile traffic, in turns: a slowloris of 200 connections (headers or
    body drip) against serve or the demo, gzip bodies inflating to 64 MiB,
    a StatsD sender inventing new series, malformed events and lines.
Every 30 s it samples each process's RSS, open descriptors, threads and
the size of its alerting window (agentmon_alert_window_bytes).

The window holds what rules and queries read and is meant to grow until
it is full: both start with --alert-window 10m, and the demo's shipped
rules widen it to their longest range plus the 5 m lookback (15 m and a
slot). So the warm-up lasts the widest window either process reports
(agentmon_alert_window_retention_seconds) plus 4 minutes for the last
chunks to close and the first truncations to run; after it, the samples
must stay within bounds: RSS within 15% of its post-warm-up level, the
lows of descriptors and threads (attack connections come and go) within
a small slack of theirs. At least 10 minutes are judged. Prints one JSON
line of figures; exit 0 when flat.

Not part of `make test`: run it with `make soak` (40 minutes by default,
SOAK_SECONDS=... to change).
"""
import gzip
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = sys.argv[1]
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 2400
AGENTMON = os.path.join(BUILD, 'agentmon')
LORIS = os.path.join(BUILD, 'tests', 'slowloris')
stop = threading.Event()


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(args, log):
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


def wait_http(port, path='/health', timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection('127.0.0.1', port, timeout=2)
            c.request('GET', path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit('soak: nothing answers on port %d' % port)


def proc_figures(pid):
    rss = threads = 0
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1]) * 1024
            elif line.startswith('Threads:'):
                threads = int(line.split()[1])
    fds = len(os.listdir('/proc/%d/fd' % pid))
    return {'rss': rss, 'fds': fds, 'threads': threads}


def request(port, method, path, body=None, headers=None, timeout=30):
    try:
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
        c.request(method, path, body, headers or {})
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except OSError:
        return 0


def gauge(port, name):
    """The value of an unlabelled gauge on port's /metrics, or None."""
    try:
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        c.request('GET', '/metrics')
        body = c.getresponse().read().decode()
        c.close()
    except OSError:
        return None
    for line in body.splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[1])
    return None


def legit(serve_port, statsd_port, counts):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    while not stop.is_set():
        n += 1
        events = [{'event': 'task', 'agent_id': 'coder:%d' % (i % 4), 'status': 'success',
                   'duration': random.random() * 5} for i in range(50)]
        counts['events_' + str(request(serve_port, 'POST', '/api/v1/events',
                                        json.dumps(events)))] += 1
        udp.sendto(b'soak.requests:1|c|#agent:coder\nsoak.latency:%d|ms' % random.randint(1, 900),
                   ('127.0.0.1', statsd_port))
        if n % 5 == 0:
            counts['metrics_' + str(request(serve_port, 'GET', '/metrics'))] += 1
            counts['query_' + str(request(serve_port, 'GET',
                                           '/api/v1/metrics/task/summary?group_by=agent_id'
                                           '&step=1m'))] += 1
        stop.wait(1)


def hostile(serve_port, demo_port, statsd_port, counts):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bomb = gzip.compress(b'[' + b'{},' * (22369620) + b'{}]', 9)
    turn = 0
    while not stop.is_set():
        turn += 1
        kind = turn % 4
        if kind == 0:  # slowloris against one of the two, 40 s
            port = serve_port if turn % 8 == 0 else demo_port
            mode = 'headers' if turn % 3 else 'body'
            subprocess.run([LORIS, '--port', str(port), '--conns', '200', '--seconds', '40',
                            '--mode', mode, '--ips', '4', '--bound-ms', '5000'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            counts['slowloris'] += 1
        elif kind == 1:  # gzip bombs
            for _ in range(5):
                counts['bomb_' + str(request(serve_port, 'POST', '/api/v1/events', bomb,
                                              {'Content-Encoding': 'gzip'}))] += 1
        elif kind == 2:  # a StatsD sender inventing series, and garbage
            for i in range(20000):
                udp.sendto(b'soak.card.%d:1|c|#k:%d' % (random.randint(0, 1 << 30), i),
                           ('127.0.0.1', statsd_port))
                if i % 100 == 0:
                    udp.sendto(os.urandom(200), ('127.0.0.1', statsd_port))
            counts['statsd_floods'] += 1
        else:  # malformed events
            for body in (b'{', b'[{"event":"task"}]', os.urandom(4096), b'{"a":1}' * 1000):
                counts['bad_' + str(request(serve_port, 'POST', '/api/v1/events', body))] += 1
        stop.wait(5)


def main():
    tmp = tempfile.mkdtemp(prefix='am-soak.')
    log = open(os.path.join(tmp, 'log'), 'w')
    demo_port, serve_port, statsd_port = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
    demo = start([AGENTMON, 'demo', '--listen', '127.0.0.1:%d' % demo_port, '--quiet',
                  '--alert-window', '10m',
                  '--log', os.path.join(tmp, 'demo.log')], log)
    serve = start([AGENTMON, 'serve', '--listen', '127.0.0.1:%d' % serve_port,
                   '--statsd', '127.0.0.1:%d' % statsd_port,
                   '--store', 'sqlite:%s/data/a.db' % tmp,
                   '--scrape', 'http://127.0.0.1:%d/metrics' % demo_port,
                   '--scrape-interval', '5s', '--alert-window', '10m'], log)
    procs = {'demo': demo, 'serve': serve}
    try:
        wait_http(demo_port)
        wait_http(serve_port)
        counts = __import__('collections').Counter()
        threads = [threading.Thread(target=legit, args=(serve_port, statsd_port, counts)),
                   threading.Thread(target=hostile,
                                    args=(serve_port, demo_port, statsd_port, counts))]
        for t in threads:
            t.start()
        samples = {k: [] for k in procs}
        ports = {'demo': demo_port, 'serve': serve_port}
        window = 0
        t0 = time.time()
        while time.time() - t0 < SECONDS:
            for k, p in procs.items():
                if p.poll() is not None:
                    stop.set()
                    raise SystemExit('soak: FAIL: %s exited with %s' % (k, p.returncode))
                s = proc_figures(p.pid)
                s['t'] = round(time.time() - t0)
                s['window'] = gauge(ports[k], 'agentmon_alert_window_bytes')
                window = max(window, gauge(ports[k], 'agentmon_alert_window_retention_seconds')
                             or 0)
                samples[k].append(s)
            time.sleep(30)
        stop.set()
        for t in threads:
            t.join()
        warm = int(window) + 240
        if SECONDS - warm < 600:
            raise SystemExit('soak: FAIL: the windows take %d s to fill; run at least %d s '
                             '(SOAK_SECONDS)' % (warm, warm + 600))
        ok = True
        figures = {'seconds': SECONDS, 'warmup': warm, 'requests': dict(counts)}
        for k, ss in samples.items():
            after = [s for s in ss if s['t'] >= warm] or ss
            # attack connections come and go: descriptors and threads are
            # compared by their lows, memory by its level
            base = {'rss': max(s['rss'] for s in after[:2]),
                    'fds': min(s['fds'] for s in after[:4]),
                    'threads': min(s['threads'] for s in after[:4])}
            end = {'rss': ss[-1]['rss'], 'fds': min(s['fds'] for s in ss[-4:]),
                   'threads': min(s['threads'] for s in ss[-4:])}
            base['window'], end['window'] = after[0]['window'], ss[-1]['window']
            peak = {m: max(s[m] for s in after) for m in ('rss', 'fds', 'threads')}
            figures[k] = {'after_warmup': base, 'end': end, 'peak': peak}
            if end['rss'] > base['rss'] * 1.15 or end['fds'] > base['fds'] + 16 or \
                    end['threads'] > base['threads'] + 4:
                ok = False
        figures['flat'] = ok
        print(json.dumps(figures))
        return 0 if ok else 1
    finally:
        stop.set()
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run(['rm', '-rf', tmp])


if __name__ == '__main__':
    sys.exit(main())
