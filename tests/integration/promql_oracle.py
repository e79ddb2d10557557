#!/usr/bin/env python3
"""promql_oracle.py: our PromQL against Prometheus' own, expression by expression.

One promtool unit-test file holds scripted input series (counters with
resets, gauges with NaN and infinities, histogram buckets as agentmon
exposes them, gaps, staleness markers) and a promql_expr_test without
expected samples for each expression and time below, so that both
`promtool test rules` and `agentmon rules test` print what they got (full
precision, %E). The two outputs must hold the same expressions, the same
errors, the same label sets and values equal within 1e-9 relative.

usage: promql_oracle.py AGENTMON [WORKDIR]   (exit 0 when they agree)
"""
import math
import os
import re
import subprocess
import sys
import tempfile

SERIES = [
    ('http_requests_total{job="api",instance="a",code="200"}', '0+10x30'),
    ('http_requests_total{job="api",instance="b",code="200"}', '0+7x10 3+7x19'),   # a reset
    ('http_requests_total{job="api",instance="a",code="500"}', '0 1 1 2 3 5 8 13 21 34 _ _ 40+1x17'),
    ('http_requests_total{job="web",instance="c",code="200"}', '100+5x30'),
    ('queue_depth{agent="planner:1",priority="9"}', '5 7 150 160 140 130 120 110 100 90 80 70+2x19'),
    ('queue_depth{agent="coder:1",priority="5"}', '1x30'),
    ('queue_depth{agent="coder:2",priority="5"}', '3 NaN 4 +Inf 5 -Inf 6x24'),
    ('temp{room="a"}', '20.5 21.25 19.125 22 stale 23 24 25 _x3 26+0.5x19'),
    ('temp{room="b"}', '-1.5+0.25x30'),
    ('up{job="api",instance="a"}', '1x30'),
    ('up{job="api",instance="b"}', '1x10 0x10 1x9'),
    ('up{job="web",instance="c"}', '0x30'),
    ('task_seconds_bucket{agent="coder",le="0.005"}', '0+0x30'),
    ('task_seconds_bucket{agent="coder",le="0.075"}', '0+1x30'),
    ('task_seconds_bucket{agent="coder",le="0.75"}', '0+3x30'),
    ('task_seconds_bucket{agent="coder",le="7.5"}', '0+8x30'),
    ('task_seconds_bucket{agent="coder",le="60"}', '0+9x30'),
    ('task_seconds_bucket{agent="coder",le="+Inf"}', '0+10x30'),
    ('task_seconds_bucket{agent="writer",le="0.005"}', '0+1x30'),
    ('task_seconds_bucket{agent="writer",le="0.075"}', '0+2x30'),
    ('task_seconds_bucket{agent="writer",le="0.75"}', '0+2x30'),
    ('task_seconds_bucket{agent="writer",le="7.5"}', '0+2x30'),
    ('task_seconds_bucket{agent="writer",le="60"}', '0+2x30'),
    ('task_seconds_bucket{agent="writer",le="+Inf"}', '0+2x30'),
    ('task_seconds_sum{agent="coder"}', '0+50.5x30'),
    ('task_seconds_count{agent="coder"}', '0+10x30'),
    ('info_metric{version="1.2",name="x"}', '1x30'),
    ('label_src{a="foo-bar",b="baz",c=""}', '1x30'),
    ('dup_a{x="1"}', '1x30'),
    ('dup_b{x="1"}', '2x30'),
]

EXPRS = r'''
http_requests_total
http_requests_total{job="api"}
http_requests_total{job!="api"}
http_requests_total{code=~"2.."}
http_requests_total{code!~"2.."}
http_requests_total{job=~"a.*|w.*",code=~"200|"}
{__name__=~"http_.*",instance="a"}
{__name__=~"queue_depth|temp"}
http_requests_total offset 2m
http_requests_total{job="api"} offset 5m
rate(http_requests_total[5m])
rate(http_requests_total[2m])
rate(http_requests_total[10m] offset 3m)
irate(http_requests_total[5m])
increase(http_requests_total[5m])
increase(http_requests_total[3m])
delta(queue_depth[5m])
delta(temp[10m])
idelta(queue_depth[5m])
deriv(temp[10m])
predict_linear(temp[10m], 3600)
changes(queue_depth[10m])
resets(http_requests_total[30m])
avg_over_time(queue_depth[5m])
min_over_time(queue_depth[10m])
max_over_time(queue_depth[10m])
sum_over_time(queue_depth[10m])
count_over_time(temp[10m])
last_over_time(temp[10m])
quantile_over_time(0.9, queue_depth[10m])
quantile_over_time(0.5, temp[30m])
stddev_over_time(temp[10m])
stdvar_over_time(queue_depth[10m])
present_over_time(temp[2m])
absent_over_time(temp[2m])
absent_over_time(nonexistent{job="x"}[5m])
absent(nonexistent{job="x",inst=~"y"})
absent(http_requests_total)
absent(nonexistent)
histogram_quantile(0.5, task_seconds_bucket)
histogram_quantile(0.95, rate(task_seconds_bucket[5m]))
histogram_quantile(0.99, sum by (le) (rate(task_seconds_bucket[5m])))
histogram_quantile(0.75, sum by (agent, le) (increase(task_seconds_bucket[10m])))
histogram_quantile(0, task_seconds_bucket)
histogram_quantile(1, task_seconds_bucket)
histogram_quantile(1.5, task_seconds_bucket)
histogram_quantile(-1, task_seconds_bucket)
rate(task_seconds_sum[5m]) / rate(task_seconds_count[5m])
sum(http_requests_total)
sum by (job) (http_requests_total)
sum without (instance) (http_requests_total)
sum(http_requests_total) by (job, code)
avg by (job) (http_requests_total)
min by (job) (http_requests_total)
max by (job) (http_requests_total)
count by (job) (http_requests_total)
count(queue_depth)
group by (job) (http_requests_total)
stddev by (job) (http_requests_total)
stdvar(http_requests_total)
topk(2, http_requests_total)
bottomk(2, http_requests_total)
topk(1, http_requests_total) by (job)
topk(2, queue_depth)
bottomk(1, queue_depth)
quantile(0.5, http_requests_total)
quantile by (job) (0.9, http_requests_total)
count_values("value", up)
count_values by (job) ("v", up)
max(queue_depth)
min(queue_depth)
avg(queue_depth)
sum(queue_depth)
sum by (__name__) ({__name__=~"dup_.*"})
http_requests_total + 1
1 + http_requests_total
http_requests_total * 2 - 3
http_requests_total / 0
-http_requests_total
-(http_requests_total)
+http_requests_total
2 ^ 3 ^ 2
-2 ^ 2
10 % 3
-7 % 3
2 * 3 + 4 / 2
time()
vector(1)
vector(time())
scalar(up{instance="a"})
scalar(up)
http_requests_total > 100
http_requests_total > bool 100
100 < http_requests_total
100 < bool http_requests_total
http_requests_total == 150
http_requests_total != 150
queue_depth >= 5
queue_depth <= 5
1 == bool 1
2 > bool 1
http_requests_total{code="200"} / on(job, instance) http_requests_total{code="500"}
http_requests_total / ignoring(code) group_left up
http_requests_total * on(job, instance) group_left(code) up
up * on(job, instance) group_right http_requests_total
up / on(job) group_left sum by (job) (up)
http_requests_total and up
http_requests_total and on(instance) up == 0
http_requests_total or up
up or http_requests_total
http_requests_total unless up == 0
http_requests_total unless on(job) up == 0
up == 0 or vector(0)
sum(up) by (job) > 0
http_requests_total atan2 10
http_requests_total{code="200"} atan2 on(job,instance) up
abs(temp)
ceil(temp)
floor(temp)
round(temp)
round(temp, 0.5)
round(temp, 2)
exp(temp / 10)
sqrt(queue_depth)
ln(queue_depth)
log2(queue_depth)
log10(queue_depth)
sgn(temp)
clamp(queue_depth, 2, 100)
clamp(queue_depth, 100, 2)
clamp_min(queue_depth, 50)
clamp_max(queue_depth, 50)
timestamp(temp)
timestamp(rate(http_requests_total[5m]))
sort(http_requests_total)
sort_desc(http_requests_total)
sort(queue_depth)
sort_desc(queue_depth)
label_replace(up, "host", "$1", "instance", "(.*)")
label_replace(up, "job", "prefix-$1-$2", "instance", "(a)()")
label_replace(label_src, "x", "${1}_$2", "a", "([a-z]+)-([a-z]+)")
label_replace(label_src, "a", "", "a", ".*")
label_replace(up, "nomatch", "x", "instance", "zzz")
label_replace(up, "instance", "c", "instance", ".*")
label_join(label_src, "joined", "-", "a", "b", "c")
label_join(up, "new", ",", "job", "instance")
sum(rate(http_requests_total[5m])) by (job)
sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
rate(http_requests_total[5m]) > 0.5
avg_over_time(up[10m]) < 0.9
http_requests_total @ 300
rate(http_requests_total[5m] @ 600)
http_requests_total offset -2m
dup_a + dup_b
dup_a + on(x) dup_b
abs({__name__=~"dup_.*"})
label_replace(http_requests_total, "instance", "x", "instance", ".*")
http_requests_total + on(job) up
0x10 + 0
1e3
.5
Inf
-Inf
NaN
1 / 0
0 / 0
day_of_week(vector(1700000000))
hour(vector(1700000000))
month(vector(1700000000))
year()
minute(temp)
days_in_month(vector(1706745600))
rate(http_requests_total)
sum(http_requests_total) offset 5m
http_requests_total[5m] + 1
1 > 2
{}
{job=~".*"}
http_requests_total and 1
topk(http_requests_total)
unknown_func(up)
label_replace(up, "1bad", "x", "instance", ".*")
label_replace(up, "x", "x", "instance", "(")
histogram_quantile(0.5)
up @ 1 @ 2
up offset 1m offset 2m
up + bool up
up * on(job) group_left(job) up
http_requests_total / on(job) up
up / ignoring(instance) up
count_values("1x", up)
http_requests_total{job="api"
sum without(job) (rate(http_requests_total[1m0s]))
rate(http_requests_total[1h30m])
'''.strip().splitlines()

TIMES = ['0s', '1m', '3m', '5m', '7m30s', '10m', '15m', '29m']


def block_key(text):
    m = re.match(r'\s*expr: (".*"), time: (\S+?),', text)
    return (m.group(1), m.group(2)) if m else None


def parse_output(out):
    """{(expr, time): ('err', msg) or ('ok', {labels: value})}"""
    res = {}
    blocks = re.split(r'\n(?=    expr: )', out)
    for b in blocks:
        b = b.strip('\n')
        if not b.lstrip().startswith('expr:'):
            continue
        key = block_key(b)
        if not key:
            continue
        m = re.search(r', err: (.*)', b)
        if m and '\n        exp:' not in b:
            res[key] = ('err', m.group(1))
            continue
        gm = re.search(r'\n\s*got: (.*)$', b, re.S)
        got = gm.group(1).strip() if gm else 'nil'
        samples = {}
        if got != 'nil':
            for lab, val in re.findall(r'(\{.*?\}) ([^,]+?)(?:, (?=\{)|$)', got):
                samples[lab] = val
        res[key] = ('ok', samples)
    return res


def num(s):
    s = s.strip()
    if s == 'NaN':
        return math.nan
    if s in ('+Inf', 'Inf'):
        return math.inf
    if s == '-Inf':
        return -math.inf
    return float(s)


def exact(a, b):
    x, y = num(a), num(b)
    return (math.isnan(x) and math.isnan(y)) or x == y


def close(a, b):
    x, y = num(a), num(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= 1e-9 * max(abs(x), abs(y)) or abs(x - y) < 1e-300


def main():
    agentmon = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
    path = os.path.join(work, 'oracle_test.yml')
    with open(path, 'w') as f:
        f.write('evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n')
        for s, v in SERIES:
            f.write("      - series: '%s'\n        values: '%s'\n" % (s, v))
        f.write('    promql_expr_test:\n')
        for e in EXPRS:
            for t in TIMES:
                f.write("      - expr: '%s'\n        eval_time: %s\n" % (e.replace("'", "''"), t))
    prom = subprocess.run(['promtool', 'test', 'rules', path], capture_output=True, text=True)
    ours = subprocess.run([agentmon, 'rules', 'test', path], capture_output=True, text=True)
    p, o = parse_output(prom.stderr), parse_output(ours.stderr)
    bad = 0
    inexact = []
    for key in sorted(set(p) | set(o)):
        a, b = p.get(key), o.get(key)
        if a is None or b is None:
            print('MISMATCH %s %s: prometheus %s, agentmon %s' % (key[0], key[1], a, b))
            bad += 1
            continue
        if a[0] != b[0]:
            print('MISMATCH %s %s: prometheus %s, agentmon %s' % (key[0], key[1], a, b))
            bad += 1
            continue
        if a[0] == 'err':
            continue
        if re.match(r'"(topk|bottomk)\(', key[0]):
            # ties pick series in storage order, which promtool's loader
            # leaves to a Go map: compare the values chosen
            va, vb = sorted(map(num, a[1].values())), sorted(map(num, b[1].values()))
            if len(va) != len(vb) or any(not close(str(x), str(y)) for x, y in zip(va, vb)):
                print('MISMATCH %s %s:\n  prometheus %s\n  agentmon   %s' % (key[0], key[1], a[1], b[1]))
                bad += 1
            continue
        if set(a[1]) != set(b[1]) or any(not close(a[1][k], b[1][k]) for k in a[1]):
            print('MISMATCH %s %s:\n  prometheus %s\n  agentmon   %s' % (key[0], key[1], a[1], b[1]))
            bad += 1
        elif any(not exact(a[1][k], b[1][k]) for k in a[1]):
            inexact.append(key)
            print('INEXACT %s %s:\n  prometheus %s\n  agentmon   %s' % (key[0], key[1], a[1], b[1]))
    n = len(EXPRS) * len(TIMES)
    print('promql_oracle: %d expressions x times, %d compared results, %d mismatches, '
          '%d within 1e-9 but not bit-equal' % (n, len(p), bad, len(inexact)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
