"""Exposition checked by tools nobody here wrote: prometheus_client's own
parsers (text 0.0.4 and OpenMetrics) read our output and find the same
families and samples as in prometheus_client's output for the same metrics;
promtool accepts it; the HTTP server and the Pushgateway client are
checked against real clients and a real prometheus-pushgateway.
"""
import gzip
import math
import shutil
import subprocess
import threading

import pytest

prometheus_client = pytest.importorskip('prometheus_client')
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as om_parse  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families as prom_parse  # noqa: E402

import agentmon  # noqa: E402
from agentmon.openmetrics.exposition import generate_latest as om_latest  # noqa: E402

from conftest import free_port, http_get, wait_until  # noqa: E402

ODD = 'quote " backslash \\ newline \n unicode \u00e9\u4e2d'


def fill(mod, registry):
    """The same metrics and operations with prometheus_client or agentmon."""
    c = mod.Counter('requests_total', 'Requests.\nSecond line \\ with backslash', ['path'],
                    registry=registry)
    c.labels('/a').inc(3)
    c.labels(ODD).inc(0.5)
    g = mod.Gauge('queue_depth', 'Depth.', ['queue'], registry=registry)
    g.labels('q1').set(-4.25)
    g.labels('q2').set(1e21)
    h = mod.Histogram('latency_seconds', 'Latency.', ['op'], registry=registry,
                      buckets=[0.1, 1, 10])
    for v in (0.05, 0.5, 5, 50, 1):
        h.labels('get').observe(v)
    s = mod.Summary('size_bytes', 'Size.', registry=registry, unit='bytes')
    s.observe(512)
    s.observe(1024)
    i = mod.Info('build', 'Build.', registry=registry)
    i.info({'version': '1.2.3', 'odd': ODD})
    e = mod.Enum('phase', 'Phase.', ['worker'], states=['idle', 'busy'], registry=registry)
    e.labels('w1').state('busy')
    mod.Counter('plain', 'No labels.', registry=registry).inc()


def norm(labels):
    """le as a number: agentmon writes bounds as Go does (le="1"), as
    Go exporters do, where prometheus_client writes le="1.0"."""
    return tuple(sorted((k, float(v) if k == 'le' else v) for k, v in labels.items()))


def families(parse, text, drop_created=True):
    out = {}
    for fam in parse(text):
        samples = sorted((s.name, norm(s.labels), s.value)
                         for s in fam.samples
                         if not (drop_created and s.name.endswith('_created')))
        out[fam.name] = (fam.type, fam.documentation, samples)
    return out


def both():
    theirs = prometheus_client.CollectorRegistry()
    fill(prometheus_client, theirs)
    ours = agentmon.CollectorRegistry()
    fill(agentmon, ours)
    return theirs, ours


def test_prometheus_text_parses_the_same():
    theirs, ours = both()
    a = families(prom_parse, prometheus_client.generate_latest(theirs).decode())
    b = families(prom_parse, agentmon.generate_latest(ours).decode())
    # prometheus_client writes each series' _created as a separate gauge
    # family in text 0.0.4; agentmon leaves _created to OpenMetrics.
    a = {k: v for k, v in a.items() if not k.endswith('_created')}
    assert a == b


def test_openmetrics_parses_the_same():
    theirs, ours = both()
    from prometheus_client.openmetrics.exposition import generate_latest as their_om
    a = families(om_parse, their_om(theirs).decode())
    b = families(om_parse, om_latest(ours).decode())
    assert a == b
    # _created is there, for counters, histograms and summaries.
    created = [s for f in om_parse(om_latest(ours).decode()) for s in f.samples
               if s.name.endswith('_created')]
    assert {s.name for s in created} == {'requests_created', 'latency_seconds_created',
                                         'size_bytes_created', 'plain_created'}


def test_exemplars_parse():
    r = agentmon.CollectorRegistry()
    h = agentmon.Histogram('task_seconds', 'Tasks.', registry=r, buckets=[1, 2])
    c = agentmon.Counter('calls', 'Calls.', registry=r)
    h.observe(1.5, {'trace_id': '4bf92f3577b34da6a3ce929d0e0e4736'})
    c.inc(2, exemplar={'trace_id': 'abc', 'span_id': 'def'})
    fams = {f.name: f for f in om_parse(om_latest(r).decode())}
    bucket = [s for s in fams['task_seconds'].samples if s.labels.get('le') == '2'][0]
    assert bucket.exemplar.labels == {'trace_id': '4bf92f3577b34da6a3ce929d0e0e4736'}
    assert bucket.exemplar.value == 1.5
    total = [s for s in fams['calls'].samples if s.name == 'calls_total'][0]
    assert total.exemplar.labels == {'trace_id': 'abc', 'span_id': 'def'}


def test_special_values_parse():
    r = agentmon.CollectorRegistry()
    g = agentmon.Gauge('g', 'G.', ['k'], registry=r)
    for k, v in [('nan', math.nan), ('inf', math.inf), ('ninf', -math.inf), ('tiny', 5e-324),
                 ('big', 1.7976931348623157e308), ('neg0', -0.0)]:
        g.labels(k).set(v)
    for parse, gen in [(prom_parse, agentmon.generate_latest), (om_parse, om_latest)]:
        vals = {s.labels['k']: s.value for f in parse(gen(r).decode()) for s in f.samples}
        assert math.isnan(vals['nan'])
        assert vals['inf'] == math.inf and vals['ninf'] == -math.inf
        assert vals['tiny'] == 5e-324 and vals['big'] == 1.7976931348623157e308


def test_promtool_accepts():
    promtool = shutil.which('promtool')
    if not promtool:
        pytest.skip('promtool is not installed')
    _, ours = both()
    p = subprocess.run([promtool, 'check', 'metrics'], input=agentmon.generate_latest(ours),
                       capture_output=True)
    assert p.returncode == 0, p.stderr.decode() + p.stdout.decode()


def test_generate_latest_of_other_objects():
    """generate_latest takes anything with collect(), as prometheus_client's does."""
    _, ours = both()
    restricted = ours.restricted_registry(['requests_total', 'plain_total'])
    text = agentmon.generate_latest(restricted).decode()
    assert {f.name for f in prom_parse(text)} == {'requests', 'plain'}
    assert om_latest(restricted).endswith(b'# EOF\n')


def test_write_to_textfile(tmpdir_path):
    _, ours = both()
    path = f'{tmpdir_path}/m.prom'
    agentmon.write_to_textfile(path, ours)
    assert open(path, 'rb').read() == agentmon.generate_latest(ours)


# ------------------------------------------------------------ the HTTP server

def test_http_server():
    _, ours = both()
    server, _ = agentmon.start_http_server(0, addr='127.0.0.1', registry=ours)
    try:
        base = f'http://127.0.0.1:{server.port}'
        status, headers, body = http_get(base + '/metrics')
        assert status == 200 and headers['Content-Type'].startswith('text/plain; version=0.0.4')
        # The server counts its requests in the registry it serves
        # (agentmon_http_*); the rest is the registry's exposition.
        served = families(prom_parse, body.decode())
        assert 'agentmon_http_requests' in served
        mine = {k: v for k, v in served.items() if not k.startswith('agentmon_http')}
        assert mine == {k: v for k, v in families(
            prom_parse, agentmon.generate_latest(ours).decode()).items()
            if not k.startswith('agentmon_http')}
        status, headers, body = http_get(base + '/', {'Accept': 'application/openmetrics-text; '
                                                                'version=1.0.0'})
        assert headers['Content-Type'].startswith('application/openmetrics-text')
        assert body.endswith(b'# EOF\n')
        status, headers, body = http_get(base + '/metrics', {'Accept-Encoding': 'gzip'})
        assert headers.get('Content-Encoding') == 'gzip'
        assert b'requests_total' in gzip.decompress(body)
        status, _, body = http_get(base + '/metrics?name[]=plain_total')
        assert {f.name for f in prom_parse(body.decode())} == {'plain'}
        status, _, body = http_get(base + '/health')
        assert status == 200 and b'ok' in body
    finally:
        server.shutdown()


def test_http_server_python_part_and_concurrent_writers():
    """A registry with a custom collector (rendered in Python, under the GIL)
    scraped while threads record: every scrape parses, counts only grow."""
    r = agentmon.CollectorRegistry()
    c = agentmon.Counter('work', 'Work.', ['t'], registry=r)

    class Custom:
        def collect(self):
            yield agentmon.metrics_core.GaugeMetricFamily('custom', 'Custom.', value=7)
    r.register(Custom())
    server, _ = agentmon.start_http_server(0, addr='127.0.0.1', registry=r)
    stop = threading.Event()

    def writer(k):
        child = c.labels(str(k))
        while not stop.is_set():
            child.inc()
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        last = 0
        for _ in range(30):
            _, _, body = http_get(f'http://127.0.0.1:{server.port}/metrics')
            fams = {f.name: f for f in prom_parse(body.decode())}
            assert fams['custom'].samples[0].value == 7
            total = sum(s.value for s in fams['work'].samples)
            assert total >= last
            last = total
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.shutdown()
    assert last > 0


# ------------------------------------------------------------ the Pushgateway

def gateway_families(pushgateway):
    _, _, body = http_get(pushgateway.url + '/metrics')
    return {f.name: f for f in prom_parse(body.decode())}


def test_push_to_gateway(pushgateway):
    r = agentmon.CollectorRegistry()
    agentmon.Counter('pushed', 'Pushed.', registry=r).inc(5)
    agentmon.push_to_gateway(pushgateway.url, job='batch/job', registry=r,
                             grouping_key={'instance': 'a/b', 'empty': ''})
    fams = wait_until(lambda: gateway_families(pushgateway).get('pushed'), 10, 'the push')
    s = [s for s in fams.samples if s.name == 'pushed_total'][0]
    assert s.value == 5
    assert s.labels['job'] == 'batch/job' and s.labels['instance'] == 'a/b'
    # POST replaces only the names pushed; a Python-rendered registry goes
    # through the urllib handler.
    r2 = agentmon.CollectorRegistry()

    class Custom:
        def collect(self):
            yield agentmon.metrics_core.GaugeMetricFamily('custom_pushed', 'C.', value=2)
    r2.register(Custom())
    agentmon.pushadd_to_gateway(pushgateway.url, job='batch/job', registry=r2,
                                grouping_key={'instance': 'a/b', 'empty': ''})
    fams = gateway_families(pushgateway)
    assert 'pushed' in fams and 'custom_pushed' in fams
    agentmon.delete_from_gateway(pushgateway.url, job='batch/job',
                                 grouping_key={'instance': 'a/b', 'empty': ''})
    # The gateway answers a DELETE with 202 and applies it afterwards.
    wait_until(lambda: 'pushed' not in gateway_families(pushgateway), 10, 'the delete')


def test_push_errors():
    r = agentmon.CollectorRegistry()
    port = free_port()  # nothing listens there
    with pytest.raises(OSError):
        agentmon.push_to_gateway(f'127.0.0.1:{port}', job='j', registry=r, timeout=2)
    with pytest.raises(ValueError):
        agentmon.push_to_gateway(f'127.0.0.1:{port}', job='', registry=r)
