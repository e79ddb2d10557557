"""prometheus_client's behavioural expectations, run against agentmon.

Each test states a behaviour prometheus_client documents or its own test
suite checks (names, label validation and its error types, time(),
count_exceptions(), track_inprogress(), set_function(), registry
duplicates, restricted registries, target_info, custom collectors), plus
what agentmon adds (the cardinality guard, traced observes, async timers).
Differences are listed in docs/PYTHON.md and asserted here as such.
"""
import asyncio
import inspect
import math
import threading
import time
import warnings

import pytest

from agentmon import (CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Metric,
                      Summary, TraceContext, trace)
from agentmon.metrics_core import (CounterMetricFamily, GaugeHistogramMetricFamily,
                                   GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily,
                                   StateSetMetricFamily, SummaryMetricFamily,
                                   UntypedMetricFamily)
from agentmon.samples import Sample


def missing_labels(fn, *args):
    with pytest.raises(ValueError, match='missing label values'):
        fn(*args)


# ------------------------------------------------------------ Counter

def test_counter_increments(registry):
    c = Counter('c_total', 'help', registry=registry)
    assert registry.get_sample_value('c_total') == 0
    c.inc()
    assert registry.get_sample_value('c_total') == 1
    c.inc(7)
    c.inc(0.5)
    assert registry.get_sample_value('c_total') == 8.5
    assert repr(c) == 'agentmon.metrics.Counter(c)'
    assert str(c) == 'counter:c'


def test_counter_refuses_negative_nan_inf(registry):
    c = Counter('c', 'help', registry=registry)
    with pytest.raises(ValueError, match='non-negative'):
        c.inc(-1)
    # prometheus_client accepts NaN and +Inf; libagentmon refuses both (a
    # counter that is NaN or infinite can never be rate()d again).
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError):
            c.inc(bad)
    assert registry.get_sample_value('c_total') == 0


def test_count_exceptions(registry):
    c = Counter('c', 'help', registry=registry)

    @c.count_exceptions(ValueError)
    def f(r):
        raise ValueError if r else TypeError

    assert list(inspect.signature(f).parameters) == ['r']
    with pytest.raises(TypeError):
        f(False)
    assert registry.get_sample_value('c_total') == 0
    with pytest.raises(ValueError):
        f(True)
    assert registry.get_sample_value('c_total') == 1
    with c.count_exceptions():
        pass
    with pytest.raises(KeyError):
        with c.count_exceptions():
            raise KeyError
    assert registry.get_sample_value('c_total') == 2


def test_not_observable_parents(registry):
    c = Counter('c', 'help', ['l'], registry=registry)
    g = Gauge('g', 'help', ['l'], registry=registry)
    s = Summary('s', 'help', ['l'], registry=registry)
    h = Histogram('h', 'help', ['l'], registry=registry)
    e = Enum('e', 'help', ['l'], states=['a'], registry=registry)
    missing_labels(c.inc)
    missing_labels(c.count_exceptions)
    missing_labels(g.inc)
    missing_labels(g.dec)
    missing_labels(g.set, 1)
    missing_labels(g.set_function, lambda: 1)
    missing_labels(g.track_inprogress)
    missing_labels(g.time)
    missing_labels(s.observe, 1)
    missing_labels(s.time)
    missing_labels(h.observe, 1)
    missing_labels(h.time)
    missing_labels(e.state, 'a')


# ------------------------------------------------------------ Gauge

def test_gauge(registry):
    g = Gauge('g', 'help', registry=registry)
    assert registry.get_sample_value('g') == 0
    g.inc()
    g.dec(3)
    assert registry.get_sample_value('g') == -2
    g.set(9)
    assert registry.get_sample_value('g') == 9
    g.set('2.5')  # prometheus_client converts with float()
    assert g._value.get() == 2.5
    before = time.time()
    g.set_to_current_time()
    assert before <= g._value.get() <= time.time() + 1


def test_gauge_inprogress_and_time(registry):
    g = Gauge('g', 'help', registry=registry)

    @g.track_inprogress()
    def f():
        assert registry.get_sample_value('g') == 1

    assert list(inspect.signature(f).parameters) == []
    f()
    assert registry.get_sample_value('g') == 0
    with g.track_inprogress():
        assert registry.get_sample_value('g') == 1
    assert registry.get_sample_value('g') == 0
    with g.time():
        time.sleep(0.001)
    assert registry.get_sample_value('g') > 0


def test_gauge_set_function(registry):
    x = {}
    g = Gauge('g', 'help', registry=registry)
    g.set_function(lambda: len(x))
    assert registry.get_sample_value('g') == 0
    g.inc()
    assert registry.get_sample_value('g') == 0
    x['a'] = None
    assert registry.get_sample_value('g') == 1
    from agentmon import generate_latest
    x['b'] = None
    assert b'\ng 2\n' in generate_latest(registry)


# ------------------------------------------------------------ Summary

def test_summary(registry):
    s = Summary('s', 'help', registry=registry)
    assert registry.get_sample_value('s_count') == 0
    assert registry.get_sample_value('s_sum') == 0
    s.observe(10)
    assert registry.get_sample_value('s_count') == 1
    assert registry.get_sample_value('s_sum') == 10

    @s.time()
    def f():
        pass
    f()
    with s.time():
        pass
    assert registry.get_sample_value('s_count') == 3


def test_timer_reentrant_and_threads(registry):
    s = Summary('s', 'help', registry=registry)
    s2 = Summary('s2', 'help', registry=registry)

    @s.time()
    def f(i=1):
        s2.time()(lambda: None)()
        if i < 3:
            f(i + 1)

    threads = [threading.Thread(target=f) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert registry.get_sample_value('s_count') == 12
    assert registry.get_sample_value('s2_count') == 12


# ------------------------------------------------------------ Histogram

def test_histogram(registry):
    h = Histogram('h', 'help', registry=registry)
    for le in ('1.0', '2.5', '5.0', '+Inf'):
        assert registry.get_sample_value('h_bucket', {'le': le}) == 0
    h.observe(2)
    assert registry.get_sample_value('h_bucket', {'le': '1.0'}) == 0
    assert registry.get_sample_value('h_bucket', {'le': '2.5'}) == 1
    h.observe(2.5)
    assert registry.get_sample_value('h_bucket', {'le': '2.5'}) == 2  # le is inclusive
    h.observe(float('inf'))
    assert registry.get_sample_value('h_bucket', {'le': '5.0'}) == 2
    assert registry.get_sample_value('h_bucket', {'le': '+Inf'}) == 3
    assert registry.get_sample_value('h_count') == 3
    assert registry.get_sample_value('h_sum') == math.inf


def test_histogram_buckets():
    h = Histogram('h', 'help', registry=None, buckets=[0, 1, 2])
    assert h._upper_bounds == [0.0, 1.0, 2.0, math.inf]
    assert h._bounds() == (0.0, 1.0, 2.0)
    h = Histogram('h', 'help', registry=None, buckets=[0, 1, 2, math.inf])
    assert h._upper_bounds == [0.0, 1.0, 2.0, math.inf]
    for bad in ([], [math.inf], [3, 1]):
        with pytest.raises(ValueError):
            Histogram('h', 'help', registry=None, buckets=bad)
    with pytest.raises(ValueError):
        Histogram('h', 'help', registry=None, labelnames=['le'])
    assert len(Histogram.DEFAULT_BUCKETS) == 15


def test_histogram_labels_and_time(registry):
    h = Histogram('hl', 'help', ['l'], registry=registry)
    h.labels('a').observe(2)
    assert registry.get_sample_value('hl_bucket', {'le': '1.0', 'l': 'a'}) == 0
    assert registry.get_sample_value('hl_bucket', {'le': '+Inf', 'l': 'a'}) == 1
    assert registry.get_sample_value('hl_sum', {'l': 'a'}) == 2

    @h.labels('b').time()
    def f():
        pass
    f()
    with h.labels('b').time():
        pass
    assert registry.get_sample_value('hl_count', {'l': 'b'}) == 2


def test_time_async(registry):
    h = Histogram('h', 'help', registry=registry)
    c = Counter('errors', 'help', registry=registry)
    g = Gauge('inprogress', 'help', registry=registry)

    @h.time()
    async def slow():
        await asyncio.sleep(0.02)

    @c.count_exceptions()
    @g.track_inprogress()
    async def fails():
        assert g._value.get() == 1
        await asyncio.sleep(0)
        raise RuntimeError('x')

    async def main():
        await slow()
        async with h.time():
            await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError):
            await fails()

    asyncio.run(main())
    assert registry.get_sample_value('h_count') == 2
    # The decorator timed the coroutine's run, not its creation.
    assert registry.get_sample_value('h_sum') >= 0.03
    assert registry.get_sample_value('errors_total') == 1
    assert registry.get_sample_value('inprogress') == 0
    assert inspect.iscoroutinefunction(slow)


# ------------------------------------------------------------ Info and Enum

def test_info(registry):
    i = Info('i', 'help', registry=registry)
    assert registry.get_sample_value('i_info', {}) == 1
    i.info({'a': 'b', 'c': 'd'})
    assert registry.get_sample_value('i_info', {}) is None
    assert registry.get_sample_value('i_info', {'a': 'b', 'c': 'd'}) == 1
    il = Info('il', 'help', ['l'], registry=registry)
    assert isinstance(il, Info)
    with pytest.raises(ValueError):
        il.labels('a').info({'l': ''})
    il.labels('a').info({'foo': 'bar'})
    assert registry.get_sample_value('il_info', {'l': 'a', 'foo': 'bar'}) == 1
    with pytest.raises(ValueError):
        Info('foo', 'help', unit='x', registry=None)


def test_enum(registry):
    e = Enum('e', 'help', states=['a', 'b', 'c'], registry=registry)
    assert registry.get_sample_value('e', {'e': 'a'}) == 1
    assert registry.get_sample_value('e', {'e': 'b'}) == 0
    e.state('b')
    assert registry.get_sample_value('e', {'e': 'a'}) == 0
    assert registry.get_sample_value('e', {'e': 'b'}) == 1
    with pytest.raises(ValueError):
        e.state('d')
    with pytest.raises(ValueError):
        Enum('e2', 'help', registry=None)
    with pytest.raises(ValueError):
        Enum('e3', 'help', registry=None, labelnames=['e3'], states=['a'])
    el = Enum('el', 'help', ['l'], states=['a', 'b', 'c'], registry=registry)
    el.labels('a').state('c')
    assert registry.get_sample_value('el', {'l': 'a', 'el': 'a'}) == 0
    assert registry.get_sample_value('el', {'l': 'a', 'el': 'c'}) == 1
    with pytest.raises(ValueError):
        Enum('foo', 'help', unit='x', states=['a'], registry=None)


# ------------------------------------------------------------ labels

def test_labels_children_remove_clear(registry):
    c = Counter('c_total', 'help', ['l'], registry=registry)
    two = Counter('two', 'help', ['a', 'b'], registry=registry)
    c.labels('x').inc()
    c.labels('y').inc(2)
    two.labels('x', 'y').inc(2)
    assert registry.get_sample_value('two_total', {'a': 'x', 'b': 'y'}) == 2
    # The same object every time, by position or by keyword.
    assert c.labels('x') is c.labels(l='x')
    assert two.labels('x', 'y') is two.labels(b='y', a='x')
    kept = c.labels('x')
    c.remove('x')
    assert registry.get_sample_value('c_total', {'l': 'x'}) is None
    assert registry.get_sample_value('c_total', {'l': 'y'}) == 2
    kept.inc()  # a removed child still works, and records nowhere
    assert kept._detached
    assert registry.get_sample_value('c_total', {'l': 'x'}) is None
    with pytest.raises(KeyError):
        c.remove('x')
    c.clear()
    assert registry.get_sample_value('c_total', {'l': 'y'}) is None
    c.labels('y').inc(5)
    assert registry.get_sample_value('c_total', {'l': 'y'}) == 5


def test_label_errors(registry):
    c = Counter('c_total', 'help', ['l'], registry=registry)
    two = Counter('two', 'help', ['a', 'b'], registry=registry)
    plain = Counter('plain', 'help', registry=registry)
    for call, args, kwargs in [(c.labels, (), {}), (c.labels, ('a', 'b'), {}),
                               (c.remove, (), {}), (c.remove, ('a', 'b'), {}),
                               (c.labels, (), {'l': 'x', 'm': 'y'}), (c.labels, (), {'m': 'y'}),
                               (two.labels, (), {'a': 'x', 'c': 'z'}),
                               (two.labels, ({'a': 'x'},), {'b': 'y'}),
                               (plain.labels, ('x',), {})]:
        with pytest.raises(ValueError):
            call(*args, **kwargs)
    with pytest.raises(ValueError, match='already has labels'):
        c.labels('a').labels('b')

    class NoStr:
        __str__ = None
    with pytest.raises(TypeError):
        c.labels(NoStr())
    with pytest.raises(TypeError):
        c.labels(l=NoStr())
    c.labels(None).inc()
    c.labels(l=None).inc()
    assert registry.get_sample_value('c_total', {'l': 'None'}) == 2
    c.remove(None)
    assert registry.get_sample_value('c_total', {'l': 'None'}) is None


def test_names(registry):
    c = Counter('c_total', 'help', namespace='a', subsystem='b', registry=registry)
    c.inc()
    assert registry.get_sample_value('a_b_c_total') == 1
    for args, kwargs in [(('', 'help'), {}), (('^', 'help'), {}),
                         (('', 'help'), {'namespace': '&'}), (('', 'help'), {'subsystem': '('}),
                         (('c_total', ''), {'labelnames': ['^']}),
                         (('c_total', ''), {'labelnames': ['a:b']}),
                         (('c_total', ''), {'labelnames': ['__reserved']})]:
        with pytest.raises(ValueError):
            Counter(*args, registry=None, **kwargs)
    with pytest.raises(ValueError):
        Summary('c_total', '', labelnames=['quantile'], registry=None)
    Histogram('h', 'help', [], registry=registry, unit='seconds')
    assert registry.get_sample_value('h_seconds_sum') == 0
    Histogram('h2_seconds', 'help', [], registry=registry, unit='seconds')
    assert registry.get_sample_value('h2_seconds_sum') == 0


def test_cardinality_guard(registry):
    """Different from prometheus_client (which has no bound): past
    max_children, new label sets record into one __overflow__ series."""
    c = Counter('tenants', 'help', ['tenant'], registry=registry, max_children=3)
    for t in 'abc':
        c.labels(t).inc()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        over = c.labels('d')
        c.labels('e').inc(2)
    assert len(w) == 1 and 'overflow' in str(w[0].message)
    over.inc()
    assert over is c.labels('f')
    assert registry.get_sample_value('tenants_total', {'tenant': '__overflow__'}) == 3
    assert registry.get_sample_value('agentmon_cardinality_overflow_total',
                                     {'metric': 'tenants'}) == 3
    assert registry.get_sample_value('tenants_total', {'tenant': 'd'}) is None


def test_exemplars(registry):
    from agentmon.openmetrics.exposition import generate_latest as om
    c = Counter('c', 'help', registry=registry)
    h = Histogram('h', 'help', registry=registry, buckets=[1, 2])
    c.inc(exemplar={'trace_id': 'abc'})
    h.observe(1.5, {'trace_id': 'def'})
    text = om(registry).decode()
    assert 'c_total 1 # {trace_id="abc"} 1 ' in text
    assert 'h_bucket{le="2"} 1 # {trace_id="def"} 1.5 ' in text
    with pytest.raises(ValueError):
        c.inc(exemplar={'0bad': 'x'})
    with pytest.raises(ValueError):
        h.observe(1, {'a': 'x' * 200})  # over OpenMetrics' 128 characters
    c.inc(exemplar={})  # an empty exemplar is none
    e = registry.get_sample_value('c_total')
    assert e == 3
    samples = {s.name: s for m in registry.collect() for s in m.samples}
    assert samples['c_total'].exemplar.labels == {'trace_id': 'abc'}


def test_traced_observe_puts_trace_on_exemplar(registry):
    from agentmon.openmetrics.exposition import generate_latest as om
    h = Histogram('task_seconds', 'help', registry=registry, buckets=[1])
    c = Counter('tasks', 'help', registry=registry)
    h.observe_traced(0.5)  # no current trace: a plain observe
    assert '#' not in om(registry).decode().split('task_seconds_bucket{le="1"}')[1][:10]
    with trace.span() as ctx:
        h.observe_traced(0.7)
        c.inc_traced()
        with h.time():
            pass
    text = om(registry).decode()
    assert f'# {{trace_id="{ctx.trace_id}",span_id="{ctx.span_id}"}}' in text
    assert text.count(ctx.trace_id) == 2
    unsampled = TraceContext.from_traceparent(
        '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')
    with trace.use(unsampled):
        h.observe_traced(0.1)
    assert '4bf92f3577b34da6a3ce929d0e0e4736' not in om(registry).decode()


# ------------------------------------------------------------ registry

def test_duplicates(registry):
    Counter('c_total', 'help', registry=registry)
    for cls, name in [(Counter, 'c_total'), (Gauge, 'c_total'), (Gauge, 'c_created')]:
        with pytest.raises(ValueError, match='Duplicated timeseries'):
            cls(name, 'help', registry=registry)
    Gauge('g_created', 'help', registry=registry)
    with pytest.raises(ValueError):
        Counter('g', 'help', registry=registry)
    Summary('s', 'help', registry=registry)
    for name in ('s', 's_created', 's_sum', 's_count'):
        with pytest.raises(ValueError):
            Gauge(name, 'help', registry=registry)
    Histogram('h', 'help', registry=registry)
    for cls, name in [(Summary, 'h'), (Gauge, 'h_count'), (Gauge, 'h_sum'),
                      (Gauge, 'h_bucket'), (Gauge, 'h_created'), (Gauge, 'h')]:
        with pytest.raises(ValueError):
            cls(name, 'help', registry=registry)
    Info('i', 'help', registry=registry)
    with pytest.raises(ValueError):
        Gauge('i_info', 'help', registry=registry)


def test_unregister_and_reuse(registry):
    s = Summary('s', 'help', registry=registry)
    with pytest.raises(ValueError):
        Gauge('s_count', 'help', registry=registry)
    registry.unregister(s)
    Gauge('s_count', 'help', registry=registry).set(3)
    assert registry.get_sample_value('s_count') == 3
    s.observe(1)  # records nowhere now (documented: unregistering discards)
    with pytest.raises(ValueError, match='unregistered'):
        registry.register(s)


def test_registry_none_then_register(registry):
    c = Counter('later', 'help', ['l'], registry=None)
    c.labels('a').inc(4)
    registry.register(c)
    assert registry.get_sample_value('later_total', {'l': 'a'}) == 4
    from agentmon import generate_latest
    assert b'later_total{l="a"} 4' in generate_latest(registry)
    registry.unregister(c)
    assert registry.get_sample_value('later_total', {'l': 'a'}) is None
    c.labels('a').inc()  # its own registry keeps it
    registry.register(c)
    assert registry.get_sample_value('later_total', {'l': 'a'}) == 5


def test_custom_collectors(registry):
    def add(m):
        class Custom:
            def collect(self):
                return [m]
        registry.register(Custom())

    add(UntypedMetricFamily('u', 'help', value=1))
    cmf = CounterMetricFamily('c_total', 'help', labels=['a'])
    cmf.add_metric(['b'], 2)
    add(cmf)
    add(GaugeMetricFamily('g', 'help', value=1))
    add(SummaryMetricFamily('s', 'help', count_value=1, sum_value=2))
    add(HistogramMetricFamily('h', 'help', buckets=[('0', 1), ('+Inf', 2)], sum_value=3))
    add(GaugeHistogramMetricFamily('gh', 'help', buckets=[('0', 1), ('+Inf', 2)], gsum_value=3))
    add(InfoMetricFamily('i', 'help', value={'a': 'b'}))
    add(StateSetMetricFamily('ss', 'help', value={'a': True, 'b': False}))
    assert registry.get_sample_value('u') == 1
    assert registry.get_sample_value('c_total', {'a': 'b'}) == 2
    assert registry.get_sample_value('s_sum') == 2
    assert registry.get_sample_value('h_count') == 2
    assert registry.get_sample_value('gh_gcount') == 2
    assert registry.get_sample_value('i_info', {'a': 'b'}) == 1
    assert registry.get_sample_value('ss', {'ss': 'b'}) == 0
    # Native and custom families in one exposition.
    Counter('native', 'help', registry=registry).inc()
    from agentmon import generate_latest
    text = generate_latest(registry).decode()
    assert 'native_total 1' in text and 'c_total{a="b"} 2.0' in text


def test_metric_family_constructors():
    for cls, kwargs in [(UntypedMetricFamily, {'value': 1, 'labels': []}),
                        (CounterMetricFamily, {'value': 1, 'labels': ['a']}),
                        (GaugeMetricFamily, {'value': 1, 'labels': []}),
                        (SummaryMetricFamily, {'sum_value': 1}),
                        (SummaryMetricFamily, {'count_value': 1, 'sum_value': 1,
                                               'labels': ['a']}),
                        (HistogramMetricFamily, {'sum_value': 1}),
                        (InfoMetricFamily, {'value': {}, 'labels': []}),
                        (StateSetMetricFamily, {'value': {'a': True}, 'labels': ['a']})]:
        with pytest.raises(ValueError):
            cls('x', 'help', **kwargs)
    with pytest.raises(KeyError):
        HistogramMetricFamily('h', 'help', buckets={})
    assert CounterMetricFamily('c_total', 'help', labels=iter(['a']))._labelnames == ('a',)


def test_auto_describe():
    def custom(registry):
        class Custom:
            def collect(self):
                return [CounterMetricFamily('c_total', 'help', value=1)]
        registry.register(Custom())

    r = CollectorRegistry()
    custom(r)
    custom(r)  # no describe, no auto_describe: no names, no clash
    r = CollectorRegistry(auto_describe=True)
    custom(r)
    with pytest.raises(ValueError):
        custom(r)


def test_restricted_registry(registry):
    Counter('c_total', 'help', registry=registry)
    restricted = registry.restricted_registry(['s_sum'])
    Summary('s', 'help', registry=registry).observe(7)
    m = Metric('s', 'help', 'summary')
    m.samples = [Sample('s_sum', {}, 7)]
    assert list(restricted.collect()) == [m]

    class Never:
        def describe(self):
            return [Metric('foo', 'help', 'summary')]

        def collect(self):
            raise AssertionError('a restricted registry asked an unrelated collector')
    registry.register(Never())
    assert list(registry.restricted_registry(['s_sum']).collect()) == [m]


def test_target_info():
    r = CollectorRegistry(target_info={'foo': 'bar'})
    assert r.get_sample_value('target_info', {'foo': 'bar'}) == 1
    with pytest.raises(ValueError):
        Info('target', 'help', registry=r)
    r.set_target_info({})
    i = Info('target', 'help', registry=r)
    with pytest.raises(ValueError):
        r.set_target_info({'foo': 'bar'})
    r.unregister(i)
    r.set_target_info({'foo': 'bar'})
    m = Metric('target', 'Target metadata', 'info')
    m.samples = [Sample('target_info', {'foo': 'bar'}, 1)]
    assert list(r.restricted_registry(['target_info']).collect()) == [m]


def test_default_registry_collectors():
    from agentmon import (GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, REGISTRY,
                          generate_latest)
    text = generate_latest(REGISTRY).decode()
    for name in ('process_cpu_seconds_total', 'process_resident_memory_bytes', 'python_info',
                 'python_gc_collections_total'):
        assert name in text
    import gc
    before = REGISTRY.get_sample_value('python_gc_collections_total', {'generation': '2'})
    gc.collect()
    assert REGISTRY.get_sample_value('python_gc_collections_total',
                                     {'generation': '2'}) == before + 1
    r = CollectorRegistry()
    from agentmon import ProcessCollector
    pc = ProcessCollector(registry=r)
    assert r.get_sample_value('process_open_fds') > 0
    r.unregister(pc)
    assert r.get_sample_value('process_open_fds') is None
    assert {PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR} <= set(
        REGISTRY._collector_to_names)
