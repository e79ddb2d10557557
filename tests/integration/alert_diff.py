#!/usr/bin/env python3
"""alert_diff.py: a real Prometheus and agentmon's engine on the same samples.

Prometheus has scraped alert_target and evaluated diff_rules.yml for a
minute. This script reads back from it, over its HTTP API:
  - /api/v1/rules: every group's last evaluation and the alerts it holds;
  - the raw samples of every scraped series (a range selector), and the
    scrape times (the samples of `up`), from which the staleness markers
    Prometheus wrote for vanished series are put back;
  - the evaluation times of each group (its diff:eval_tick recording rule);
then feeds alert_replay the same samples at the same timestamps and the
same group evaluations in the same order, and compares:
  - ALERTS, ALERTS_FOR_STATE and every recorded series at every evaluation
    (the alert state history: name, labels, state, active-since);
  - instant queries over the scraped data at several times;
  - the alerts (name, labels, state) after the last evaluation.
Values must agree within 1e-9 relative, labels and states exactly.

Exit status: 0 agree, 1 differ, 75 inconclusive (an evaluation started within
100 ms of a scrape, so which samples it saw depends on timing: run again).

usage: alert_diff.py PROM_URL ALERT_REPLAY RULEFILE JOB
"""
import json
import math
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone

PROM = sys.argv[1]
if len(sys.argv) > 2 and sys.argv[2] == '--phase':
    REPLAY = RULES = JOB = None
else:
    REPLAY, RULES, JOB = sys.argv[2:5]

RECORDED = ['ALERTS', 'ALERTS_FOR_STATE', 'agent:task_duration_seconds:p95_30s',
            'agent:task_failure_ratio:rate30s', 'job:up:sum', 'job:queue_depth:max']
ADHOC = [
    'agent_queue_depth',
    'rate(agent_task_duration_seconds_bucket[10s])',
    'histogram_quantile(0.5, sum by (le, agent_id) (rate(agent_task_duration_seconds_bucket[15s])))',
    'histogram_quantile(0.99, rate(agent_task_duration_seconds_bucket[20s]))',
    'increase(agentmon_diff_restarts_total[10s])',
    'rate(agentmon_diff_restarts_total[15s])',
    'irate(agent_task_success_total[10s])',
    'resets(agentmon_diff_restarts_total[30s])',
    'delta(agent_queue_depth[10s])',
    'avg_over_time(agent_queue_depth[10s])',
    'max_over_time(agent_queue_depth[20s]) - min_over_time(agent_queue_depth[20s])',
    'sum by (status) (rate(agent_task_duration_seconds_count[20s]))',
    'rate(agent_task_duration_seconds_sum[20s]) / rate(agent_task_duration_seconds_count[20s])',
    'agent_queue_depth > bool 100',
    'count by (queue_name) (agent_queue_depth offset 5s)',
    'topk(2, agent_queue_depth)',
    'absent(agent_queue_depth{queue_name="temp:1"})',
    'increase(messaging_dlq_growth_events_total[20s])',
    'scrape_samples_scraped',
    'up == 1',
]


def get(path, **params):
    url = PROM + path + ('?' + urllib.parse.urlencode(params) if params else '')
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    if body.get('status') != 'success':
        raise RuntimeError('%s: %s' % (path, body))
    return body['data']


def ms_of_rfc3339(s):
    # 2026-12-05T06:13:02.123456789Z -> ms, truncated as Prometheus truncates
    date, frac = s.rstrip('Z').split('.') if '.' in s else (s.rstrip('Z'), '0')
    base = datetime.strptime(date, '%Y-%m-%dT%H:%M:%S').replace(tzinfo=timezone.utc)
    return int(base.timestamp()) * 1000 + int((frac + '000')[:3])


def ms_of(ts):
    # the API writes seconds with up to three decimals
    s = str(ts)
    whole, _, frac = s.partition('.')
    return int(whole) * 1000 + int((frac + '000')[:3])


def num(s):
    return {'NaN': math.nan, '+Inf': math.inf, '-Inf': -math.inf}.get(s) if s in (
        'NaN', '+Inf', '-Inf') else float(s)


def close(a, b):
    x, y = num(a), num(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def key(metric):
    return tuple(sorted(metric.items()))


def phase():
    """75 when an evaluation of some group falls within 100 ms after a
    scrape, as seen in the first seconds: the run would be inconclusive,
    so start again with other ports (other scrape offsets) at once."""
    rules = get('/api/v1/rules')
    up = get('/api/v1/query', query='up[10s]')['result']
    if not up or not up[0]['values']:
        return 75
    s = ms_of(up[0]['values'][-1][0]) % 1000
    for g in rules['groups']:
        if not g.get('lastEvaluation') or g['lastEvaluation'].startswith('0001'):
            return 75
        e = ms_of_rfc3339(g['lastEvaluation']) % 1000
        if (e - s) % 1000 < 100:
            return 75
    return 0


def main():
    rules = get('/api/v1/rules')
    last = {}
    prom_alerts = set()
    # series the rules write (they may carry job=...): never fed as input,
    # agentmon's engine writes its own
    rule_outputs = {'ALERTS', 'ALERTS_FOR_STATE'}
    for g in rules['groups']:
        last[g['name']] = ms_of_rfc3339(g['lastEvaluation'])
        for r in g['rules']:
            if r['type'] == 'recording':
                rule_outputs.add(r['name'])
            for a in r.get('alerts', []):
                prom_alerts.add((r['name'], key(a['labels']), a['state']))
    end = max(last.values()) + 1000
    window = '%ds' % 600
    raw = [s for s in get('/api/v1/query', query='{job="%s"}[%s]' % (JOB, window),
                          time=end / 1000)['result']
           if s['metric']['__name__'] not in rule_outputs]
    ticks = get('/api/v1/query', query='diff:eval_tick[%s]' % window, time=end / 1000)['result']
    scrapes = sorted(ms_of(t) for s in raw if s['metric']['__name__'] == 'up'
                     for t, _ in s['values'])
    evals = []
    for s in ticks:
        g = s['metric']['group']
        evals += [(ms_of(t), g) for t, _ in s['values'] if ms_of(t) <= last[g]]
    evals.sort()
    if not evals or not scrapes:
        print('alert_diff: nothing to compare (no evaluations or no scrapes)')
        return 1
    racy = [(t, g) for t, g in evals if any(t - 100 < s <= t for s in scrapes)]
    if racy:
        print('alert_diff: INCONCLUSIVE: evaluations within 100 ms after a scrape: %s' % racy[:3])
        return 75

    # the samples, with the staleness markers of series that vanished
    events = []
    for s in raw:
        m = s['metric']
        times = [ms_of(t) for t, _ in s['values']]
        for (t, v) in s['values']:
            events.append((ms_of(t), 0, {'s': [m, ms_of(t), v]}))
        present = set(times)
        seen = False
        for sc in scrapes:
            if sc in present:
                seen = True
            elif seen and sc > times[0]:
                events.append((sc, 0, {'s': [m, sc, 'stale']}))
                seen = False
    for t, g in evals:
        events.append((t, 1, {'eval': g, 't': t}))
    events.sort(key=lambda e: (e[0], e[1]))
    cmds = [json.dumps(e[2]) for e in events]

    queries = []
    for t, g in evals:
        if g == 'diff_fast' or g == 'diff_slow':
            for q in RECORDED:
                queries.append((q, t))
    span = [scrapes[0] + i * (scrapes[-1] - scrapes[0]) // 9 for i in range(1, 10)]
    for q in ADHOC:
        for t in span:
            queries.append((q, t))
    for q, t in queries:
        cmds.append(json.dumps({'query': q, 't': t}))
    cmds.append(json.dumps({'alerts': True}))
    out = subprocess.run([REPLAY, RULES], input='\n'.join(cmds) + '\n', capture_output=True,
                         text=True)
    if out.returncode or out.stderr:
        print('alert_diff: alert_replay failed:', out.stderr[:2000])
        return 1
    ours = [json.loads(l) for l in out.stdout.splitlines()]
    results = {(o['query'], o['t']): o for o in ours if 'query' in o}
    bad = compared = 0
    for q, t in queries:
        try:
            p = get('/api/v1/query', query=q, time='%d.%03d' % (t // 1000, t % 1000))
            perr = None
        except urllib.error.HTTPError as e:
            p, perr = None, e.code
        o = results.get((q, t))
        if perr or 'error' in o:
            if not (perr and 'error' in o):
                print('MISMATCH %s @%d: prometheus %s, agentmon %s' % (q, t, perr or 'ok',
                                                                       o.get('error', 'ok')))
                bad += 1
            continue
        od = o['data']
        compared += 1
        if p['resultType'] != od['resultType']:
            print('MISMATCH %s @%d: types %s / %s' % (q, t, p['resultType'], od['resultType']))
            bad += 1
            continue
        if p['resultType'] == 'scalar':
            if not close(p['result'][1], od['result'][1]):
                print('MISMATCH %s @%d: %s / %s' % (q, t, p['result'], od['result']))
                bad += 1
            continue
        pm = {key(r['metric']): r['value'][1] for r in p['result']}
        om = {key(r['metric']): r['value'][1] for r in od['result']}
        if set(pm) != set(om) or any(not close(pm[k], om[k]) for k in pm):
            print('MISMATCH %s @%d:\n  prometheus %s\n  agentmon   %s' % (q, t, pm, om))
            bad += 1
    our_alerts = set()
    for o in ours:
        if 'alerts' in o:
            for a in o['alerts']:
                our_alerts.add((a['name'], key(a['labels']), a['state']))
    if our_alerts != prom_alerts:
        print('MISMATCH alerts:\n  prometheus %s\n  agentmon   %s' % (sorted(prom_alerts),
                                                                   sorted(our_alerts)))
        bad += 1
    n_alerts_seen = sum(1 for q, t in queries if q == 'ALERTS'
                        and results[(q, t)].get('data', {}).get('result'))
    print('alert_diff: %d samples, %d evaluations, %d queries compared (%d with alerts), '
          '%d alerts at the end, %d mismatches'
          % (sum(1 for e in events if e[1] == 0), len(evals), compared, n_alerts_seen,
             len(prom_alerts), bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(phase() if REPLAY is None else main())
