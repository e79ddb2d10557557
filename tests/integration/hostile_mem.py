#!/usr/bin/python3
"""hostile_mem.py PORT PID: the memory a request may cost (issue 10 item 1).

A 65 KB gzip body inflating to 64 MiB of [{},{},...] was parsed into a full
JSON tree before the 100,000-event limit was checked: about 5 GB per
request, kept by the allocator per handler thread. Now the body is counted
before anything is allocated for its events. Checks, against the running
collector PID:
  - each hostile request is refused with 413 naming the limit;
  - the peak RSS it causes is at most 4x its inflated body;
  - after 100 of them (spread over every handler thread) RSS is within 10%
    of RSS before them;
and prints the figures as one JSON line.
"""
import gzip, http.client, json, sys

port, pid = int(sys.argv[1]), int(sys.argv[2])
N = int(sys.argv[3]) if len(sys.argv) > 3 else 100


def status():
    d = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, v = line.split(':', 1)
            d[k] = v.strip()
    return int(d['VmRSS'].split()[0]) * 1024, int(d['VmHWM'].split()[0]) * 1024


def post(body, headers):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    c.request('POST', '/api/v1/events', body, headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


# 64 MiB of "{}," inside one array: 22 M empty objects
count = (64 * 1024 * 1024 - 2) // 3
inflated = b'[' + b'{},' * (count - 1) + b'{}]'
zipped = gzip.compress(inflated, 9)
headers = {'Content-Encoding': 'gzip', 'Content-Type': 'application/json'}

# legitimate requests first, on new connections so that every handler
# thread serves some: the process is warm (store connections, caches,
# each thread's first-use memory) and what follows measures the hostile
# requests alone
for i in range(32):
    st, _ = post(gzip.compress(b'{"event":"task","agent_id":"a","status":"success","duration":1}'),
                 headers)
    assert st == 200, st
# and hostile ones: each handler thread's first large request grows its
# malloc arena once (~200 KB a thread, measured to plateau within a few
# dozen requests); what must not happen is growth with every request
for i in range(16):
    post(zipped, headers)
rss0, hwm0 = status()
peaks = []
for i in range(N):
    st, data = post(zipped, headers)
    if st != 413 or b'more than 100000 events' not in data:
        print('hostile_mem: FAIL: request %d got %d %r' % (i, st, data[:200]))
        sys.exit(1)
    if i == 0:
        peaks.append(status()[1] - rss0)
rss1, hwm1 = status()
peak = max(peaks + [hwm1 - rss0])
fig = {'zipped_bytes': len(zipped), 'inflated_bytes': len(inflated), 'requests': N,
       'rss_before': rss0, 'rss_after': rss1, 'peak_over_rss': peak,
       'peak_ratio': round(peak / len(inflated), 3),
       'rss_growth': round((rss1 - rss0) / rss0, 4)}
print('hostile_mem:', json.dumps(fig))
if peak > 4 * len(inflated):
    print('hostile_mem: FAIL: peak %d bytes over RSS for a %d-byte body (> 4x)' % (peak, len(inflated)))
    sys.exit(1)
if rss1 > rss0 * 1.10:
    print('hostile_mem: FAIL: RSS grew from %d to %d after %d requests (> 10%%)' % (rss0, rss1, N))
    sys.exit(1)
print('hostile_mem: ok')
