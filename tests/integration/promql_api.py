"""promql_api.py: agentmon serve's query API against a real Prometheus
holding the same samples (promql_api.sh sets both up).

    python3 promql_api.py PROM_URL AGENTMON_URL BASE_MS STEP_MS STEPS

Every request is sent to both, as GET and as a form POST where Prometheus
takes one (as Grafana sends them); the answers must agree: the same HTTP
status and errorType, and for a success the same data -- label sets
exactly, timestamps exactly, values within 1e-9 relative (NaN equal to
NaN). Vectors are compared as sets (Prometheus' own order for unsorted
results is its storage order); matrices are sorted by both.
"""
import json
import math
import sys
import urllib.error
import urllib.parse
import urllib.request

PROM, AM, BASE, STEP, STEPS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5])
END = BASE + (STEPS - 1) * STEP
fails = []
n_checked = 0


def call(base, path, params, post):
    data = None
    url = base + path
    if post:
        data = urllib.parse.urlencode(params, doseq=True).encode()
    elif params:
        url += '?' + urllib.parse.urlencode(params)
    rq = urllib.request.Request(url, data=data)
    if post:
        rq.add_header('Content-Type', 'application/x-www-form-urlencoded')
    try:
        with urllib.request.urlopen(rq, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, {'raw': body.decode(errors='replace')}


def num(s):
    return float(s)  # "NaN", "+Inf" included


def close(a, b):
    x, y = num(a), num(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:
        return True
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def key(m):
    return json.dumps(m.get('metric', m), sort_keys=True)


def same_data(a, b):
    if isinstance(a, dict) and 'resultType' in a:
        if a['resultType'] != b.get('resultType'):
            return 'resultType %s vs %s' % (a['resultType'], b.get('resultType'))
        ra, rb = a['result'], b['result']
        if a['resultType'] in ('scalar', 'string'):
            if ra[0] != rb[0]:
                return 'time %s vs %s' % (ra[0], rb[0])
            ok = close(ra[1], rb[1]) if a['resultType'] == 'scalar' else ra[1] == rb[1]
            return None if ok else 'value %s vs %s' % (ra[1], rb[1])
        da = {key(s): s for s in ra}
        db = {key(s): s for s in rb}
        if len(da) != len(ra) or len(db) != len(rb):
            return 'duplicate series'
        if set(da) != set(db):
            return 'series differ: only Prometheus %s; only agentmon %s' % (
                sorted(set(da) - set(db))[:3], sorted(set(db) - set(da))[:3])
        for k in da:
            if a['resultType'] == 'vector':
                pa, pb = [da[k]['value']], [db[k]['value']]
            else:
                pa, pb = da[k]['values'], db[k]['values']
            if len(pa) != len(pb):
                return '%s: %d points vs %d' % (k, len(pa), len(pb))
            for x, y in zip(pa, pb):
                if x[0] != y[0] or not close(x[1], y[1]):
                    return '%s: %s vs %s' % (k, x, y)
        return None
    if isinstance(a, list) and a and isinstance(a[0], dict):
        sa = sorted(json.dumps(x, sort_keys=True) for x in a)
        sb = sorted(json.dumps(x, sort_keys=True) for x in b)
        return None if sa == sb else '%s vs %s' % (sa[:3], sb[:3])
    return None if a == b else '%s vs %s' % (str(a)[:200], str(b)[:200])


def check(path, params, post_too=True):
    global n_checked
    for post in ((False, True) if post_too else (False,)):
        sp, jp = call(PROM, path, params, post)
        sa, ja = call(AM, path, params, post)
        n_checked += 1
        what = '%s %s %s' % ('POST' if post else 'GET', path, params)
        if sp != sa:
            fails.append('%s: status Prometheus %s %s, agentmon %s %s' % (what, sp, jp, sa, ja))
            continue
        if jp.get('status') != ja.get('status') or jp.get('errorType') != ja.get('errorType'):
            fails.append('%s: Prometheus %s, agentmon %s' % (what, jp, ja))
            continue
        if jp.get('status') == 'success':
            why = same_data(jp['data'], ja['data'])
            if why:
                fails.append('%s: %s' % (what, why))


def sec(ms):
    return '%.3f' % (ms / 1000.0)


INSTANT = [
    'task_total', 'rate(task_total[5m])', 'increase(task_total[10m])', 'irate(task_total[1m])',
    'sum by (agent_id) (rate(task_total[5m]))', 'sum(rate(task_total[5m]))',
    'delta(queue_depth[10m])', 'avg_over_time(queue_depth[5m])', 'max_over_time(queue_depth[5m])',
    'min_over_time(queue_depth[5m])', 'quantile_over_time(0.9, queue_depth[10m])',
    'stddev_over_time(queue_depth[10m])', 'count_over_time(queue_depth[10m])',
    'histogram_quantile(0.95, sum by (le) (rate(dur_seconds_bucket[5m])))',
    'histogram_quantile(0.5, rate(dur_seconds_bucket[10m]))',
    'histogram_quantile(0.99, sum by (agent_id, le) (increase(dur_seconds_bucket[15m])))',
    'rate(dur_seconds_sum[5m]) / rate(dur_seconds_count[5m])',
    'topk(1, queue_depth)', 'bottomk(1, queue_depth)', 'queue_depth > 120',
    'queue_depth > bool 120', 'count(queue_depth)', 'absent(nonexistent)', 'absent(queue_depth)',
    'clamp_max(queue_depth, 110)', 'clamp_min(queue_depth, 5)', 'task_total offset 5m',
    'resets(task_total[30m])', 'changes(queue_depth[10m])', 'gone_gauge', 'weird',
    'deriv(queue_depth[10m])', 'predict_linear(queue_depth[10m], 600)', '1 + 1', 'time()',
    'scalar(sum(queue_depth))', 'vector(3)', 'label_replace(queue_depth, "x", "$1", "queue", "q(.*)")',
    'sort_desc(queue_depth)', 'task_total and on (agent_id) task_total > 100',
    'task_total / on (agent_id) group_left sum by (agent_id) (task_total)',
    'max by (job) (queue_depth)', 'avg(queue_depth)', 'quantile(0.5, queue_depth)',
    'round(queue_depth)', 'abs(queue_depth - 100)', 'queue_depth % 7', 'queue_depth ^ 0.5',
    'ln(queue_depth)', '"a string"',
]
RANGE = [
    'rate(task_total[5m])', 'sum by (agent_id) (increase(task_total[10m]))', 'queue_depth',
    'histogram_quantile(0.9, sum by (le) (rate(dur_seconds_bucket[5m])))', 'gone_gauge',
    'avg_over_time(queue_depth[3m])', 'time()', 'vector(1)', 'weird', 'queue_depth > 120',
]
ERRORS = [
    ('/api/v1/query', {'query': 'sum('}), ('/api/v1/query', {'query': ''}),
    ('/api/v1/query', {'query': 'up', 'time': 'yesterday'}),
    ('/api/v1/query', {'query': 'up', 'timeout': 'soon'}),
    ('/api/v1/query', {'query': 'foo{'}),
    ('/api/v1/query', {'query': 'rate(queue_depth)'}),
    ('/api/v1/query', {'query': 'label_replace(queue_depth, "1x", "", "queue", "")'}),
    ('/api/v1/query', {'query': 'queue_depth + on (queue) group_left task_total'}),
    ('/api/v1/query_range', {'query': 'up', 'start': 'x', 'end': '1', 'step': '1'}),
    ('/api/v1/query_range', {'query': 'up', 'start': '10', 'end': '5', 'step': '1'}),
    ('/api/v1/query_range', {'query': 'up', 'start': '1', 'end': '5', 'step': '0'}),
    ('/api/v1/query_range', {'query': 'up', 'start': '1', 'end': '5', 'step': 'x'}),
    ('/api/v1/query_range', {'query': 'up', 'start': '0', 'end': '100000', 'step': '1'}),
    ('/api/v1/query_range', {'query': 'up', 'start': '1', 'end': '5'}),
    ('/api/v1/query_range', {'query': '"s"', 'start': '1', 'end': '5', 'step': '1'}),
    ('/api/v1/labels', {'match[]': 'rate(x[5m])'}),
    ('/api/v1/labels', {'match[]': '{x=~".*"}'}),
    # more samples than --query.max-samples (both run with 100000): 422
    ('/api/v1/query_range', {'query': 'count_over_time(task_total[40m])', 'start': sec(BASE),
                             'end': sec(END), 'step': '1'}),
]

times = [BASE + 5 * 60000, BASE + 17 * 60000 + 500, BASE + 23 * 60000, BASE + 33 * 60000 + 250,
         END, END + 3 * 60000, END + 10 * 60000]
for q in INSTANT:
    for t in times:
        check('/api/v1/query', {'query': q, 'time': sec(t)})
for q in RANGE:
    for (s, e, st) in ((BASE, END, '60'), (BASE + 123456, END - 654321, '37.5'),
                       (BASE + 10 * 60000, END + 8 * 60000, '2m')):
        check('/api/v1/query_range', {'query': q, 'start': sec(s), 'end': sec(e), 'step': st})
for path, params in ERRORS:
    check(path, params)
sel = [('{__name__=~"task_total|queue_depth"}',), ('dur_seconds_count', 'gone_gauge'),
       ('{queue="q1"}',)]
for m in sel:
    check('/api/v1/labels', {'match[]': list(m)} if len(m) > 1 else {'match[]': m[0]},
          post_too=False)
    check('/api/v1/label/queue/values', {'match[]': m[0]}, post_too=False)
    check('/api/v1/label/agent_id/values', {'match[]': m[0]}, post_too=False)
check('/api/v1/label/__name__/values', {'match[]': '{job="scrape",__name__!~"up|scrape_.*|agentmon_.*"}'},
      post_too=False)
check('/api/v1/label/1bad/values', {}, post_too=False)

if fails:
    for f in fails[:40]:
        print('DIFF', f)
    print('promql_api: %d of %d requests differ' % (len(fails), n_checked))
    sys.exit(1)
print('promql_api: %d requests, the same answers from both' % n_checked)
