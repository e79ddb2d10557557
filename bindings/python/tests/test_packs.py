"""The packs and the source documents' classes: exact names, labels and
buckets (libagentmon's catalogue, read back with prometheus_client's
parser), traces on exemplars, the breaker's states, MonitoringCollector's
metrics, logs and alerts, MetricsCollector's decorators and the exposure
story's RequestTimer, sync and async."""
import asyncio
import io
import json

import pytest

import agentmon
from agentmon import CollectorRegistry, Counter, trace
from agentmon.openmetrics.exposition import generate_latest as om_latest
from agentmon.packs import (A2APack, CachePack, CircuitBreaker, CircuitOpenError, LLMPack,
                            RatePack, TaskPack, WorkerPack, catalog, service_info)

prometheus_client = pytest.importorskip('prometheus_client')
from prometheus_client.openmetrics.parser import text_string_to_metric_families  # noqa: E402


def parse(registry):
    return {f.name: f for f in text_string_to_metric_families(om_latest(registry).decode())}


def test_catalogue():
    rows = {r['name']: r for r in catalog()}
    d = rows['agent_task_duration_seconds']
    assert d['type'] == 'histogram' and d['labels'] == ('agent_id', 'status')
    assert d['source'] == 'monitoring-collector-spec.md'
    assert rows['a2a_request_duration_seconds']['buckets'] == (
        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    assert rows['cache_latency_seconds']['buckets'] == (0.001, 0.005, 0.01, 0.025, 0.05, 0.1)
    assert rows['messaging_queue_length']['json_name'] == 'messaging.queue_length'
    assert len(rows) >= 60


def test_every_pack_records_its_exact_series(registry):
    tasks, a2a, cache, rate, llm, worker = (TaskPack(registry), A2APack(registry),
                                            CachePack(registry), RatePack(registry),
                                            LLMPack(registry), WorkerPack(registry))
    tasks.finished('planner:1', 0.42)
    tasks.finished('coder:1', 3.1, error_type='timeout')
    tasks.agent('planner:1').finished(0.1)
    tasks.queue_depth('inbox', 7)
    a2a.request('navi', 'query', True, 0.2, response_bytes=1024)
    a2a.target('navi', 'query').request(False, 0.3)
    a2a.active('navi', 1)
    cache.op('get', 'hit', 0.002)
    rate.decision('/runs', 'ws-1', False)
    llm.record('openai', 'gpt-4o', 1.2, input_tokens=900, output_tokens=150)
    llm.route('anthropic', 'claude', task_type='code').record(0.8, 100, 20, error_type='overload')
    llm.invoke_agent('planner', 2.0)
    llm.execute_tool('search', 0.1)
    worker.health('w1', 'sizing', True)
    worker.handoff('sizing', 'crm')
    worker.db_op('select', 'deals', 0.004)
    service_info({'version': '1.2.3', 'environment': 'test'}, registry)
    f = parse(registry)
    s = {(x.name, tuple(sorted(x.labels.items()))): x.value for m in f.values()
         for x in m.samples}
    assert s[('agent_task_success_total', (('agent_id', 'planner:1'),))] == 2
    assert s[('agent_task_failure_total', (('agent_id', 'coder:1'), ('error_type', 'timeout')))] == 1
    assert s[('agent_task_duration_seconds_count',
              (('agent_id', 'coder:1'), ('status', 'failure')))] == 1
    assert s[('agent_queue_depth', (('queue_name', 'inbox'),))] == 7
    assert s[('a2a_requests_total', (('agent', 'navi'), ('operation', 'query'),
                                     ('status', 'error')))] == 1
    assert s[('a2a_response_size_bytes_sum', (('agent', 'navi'),))] == 1024
    assert s[('cache_operations_total', (('operation', 'get'), ('result', 'hit')))] == 1
    assert s[('rate_limit_hits_total', (('endpoint', '/runs'), ('result', 'denied'),
                                        ('workspace_id', 'ws-1')))] == 1
    assert s[('ccr_tokens_total', (('direction', 'input'), ('provider', 'openai')))] == 900
    assert any(k[0] == 'gen_ai_client_token_usage_count' for k in s)
    assert s[('insa_worker_health_status', (('agent_type', 'sizing'), ('worker_name', 'w1')))] == 1
    assert s[('agentos_info', (('environment', 'test'), ('version', '1.2.3')))] == 1
    # Every family these packs registered is in the catalogue, with its type.
    rows = {r['name']: r for r in catalog()}
    for name, fam in f.items():
        if name.startswith('agentmon_'):
            continue
        exposed = name + ('_total' if fam.type == 'counter' else '')
        assert exposed in rows and rows[exposed]['type'] == fam.type, name


def test_packs_share_families_and_guard_names(registry):
    a, b = TaskPack(registry), TaskPack(registry)
    a.finished('x', 1)
    b.finished('x', 1)
    assert registry.get_sample_value('agent_task_success_total', {'agent_id': 'x'}) == 2
    with pytest.raises(ValueError, match='Duplicated'):
        Counter('agent_task_success_total', 'mine', registry=registry)
    with pytest.raises(ValueError):
        registry.unregister(a._collector)
    with pytest.raises(ValueError):
        a.finished('x', -1)  # a negative duration is refused, nothing recorded
    assert registry.get_sample_value('agent_task_success_total', {'agent_id': 'x'}) == 2


def test_pack_calls_carry_the_current_trace(registry):
    tasks = TaskPack(registry)
    llm = LLMPack(registry)

    async def step(name):
        with trace.span() as ctx:
            await asyncio.sleep(0)          # the other task runs in between
            tasks.finished(name, 0.5)
            llm.record('openai', 'm', 0.5)
            return ctx

    async def main():
        return await asyncio.gather(step('a'), step('b'))

    ca, cb = asyncio.run(main())
    text = om_latest(registry).decode()
    for name, ctx in (('a', ca), ('b', cb)):
        line = [ln for ln in text.splitlines()
                if ln.startswith(f'agent_task_duration_seconds_bucket{{agent_id="{name}"')
                and '#' in ln][0]
        assert ctx.trace_id in line and ctx.span_id in line
    # An explicit context wins; an unsampled one puts nothing.
    explicit = agentmon.TraceContext()
    tasks.finished('c', 0.5, trace=explicit)
    assert explicit.trace_id in om_latest(registry).decode()


def test_circuit_breaker(registry):
    now = [0.0]
    seen = []
    b = CircuitBreaker('llm:openai', registry, failure_threshold=3, window_s=10, cooldown_s=5,
                       half_open_successes=1, clock=lambda: now[0],
                       on_transition=lambda n, f, t: seen.append((n, f, t)))
    for _ in range(3):
        assert b.allow()
        b.failure()
    assert b.state == 'open' and not b.allow()
    with pytest.raises(CircuitOpenError):
        with b:
            pass
    now[0] = 6.0
    assert b.state == 'half_open'

    @b
    def call():
        return 42
    assert call() == 42
    assert b.state == 'closed'
    assert seen == [('llm:openai', 'closed', 'open'), ('llm:openai', 'open', 'half_open'),
                    ('llm:openai', 'half_open', 'closed')]
    assert registry.get_sample_value('insa_circuit_breaker_state', {'agent_type': 'llm:openai'}) == 0
    assert registry.get_sample_value('insa_circuit_breaker_transitions_total',
                                     {'agent_type': 'llm:openai', 'from': 'closed',
                                      'to': 'open'}) == 1
    assert b.seconds_in('open') == 6.0

    async def main():
        @b
        async def fails():
            raise RuntimeError
        with pytest.raises(RuntimeError):
            await fails()
    asyncio.run(main())


def test_monitoring_collector():
    from agentmon.collectors import Alert, MonitoringCollector
    out = io.StringIO()
    got = []
    mc = MonitoringCollector(port=0, host='127.0.0.1', notifiers=[got.append], log_stream=out,
                             alert_thresholds={'task_duration_p95_seconds': 1})
    mc.start()
    try:
        tid = mc.generate_trace_id()
        mc.record_task_duration('planner:1', 2.5, 'success', tid)
        mc.record_task_success('planner:1', tid)
        for _ in range(6):
            mc.record_task_failure('coder:1', 'timeout', tid)
        mc.update_queue_depth('inbox', 150)
        mc.task_duration.labels(agent_id='coder:1', status='failure').observe(0.1)
        assert len(mc.check_task_duration_p95()) == 1
        from conftest import http_get
        _, _, body = http_get(f'http://127.0.0.1:{mc.port}/metrics',
                              {'Accept': 'application/openmetrics-text'})
        fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
        ok = [s for s in fams['agent_task_success'].samples if s.name.endswith('_total')][0]
        assert ok.value == 1 and ok.exemplar.labels == {'trace_id': tid}
        assert [a.severity for a in got] == ['critical', 'warning', 'warning']
        assert all(isinstance(a, Alert) for a in got)
        lines = [json.loads(x) for x in out.getvalue().splitlines()]
        assert lines[0]['message'] == 'Monitoring service started' and lines[0]['port'] == mc.port
        assert any(x['message'].startswith('ALERT: Agent coder:1') and x['level'] == 'WARNING'
                   for x in lines)
        done = [x for x in lines if x['message'] == 'Task completed: success'][0]
        assert done['trace_id'] == tid and done['component'] == 'MonitoringCollector'
        mc.log_error('failed', tid, ValueError('bad'))
        last = json.loads(out.getvalue().splitlines()[-1])
        assert (last['error_type'], last['error_message'], last['level']) == (
            'ValueError', 'bad', 'ERROR')
    finally:
        mc.stop()


def test_metrics_collector_decorators(registry):
    from agentmon.collectors import (MetricsCollector, track_database_operation,
                                     track_message_processing, track_request_metrics)
    mc = MetricsCollector(registry)

    @track_request_metrics('sizing', collector=mc)
    def process(fail):
        if fail:
            raise ValueError
        return 'ok'

    @track_message_processing('sizing', 'crm', 'handoff', collector=mc)
    async def handoff():
        await asyncio.sleep(0)

    @track_database_operation('select', 'deals', collector=mc)
    def query():
        return 1

    assert process(False) == 'ok'
    with pytest.raises(ValueError):
        process(True)
    asyncio.run(handoff())
    query()
    mc.record_cache_hit('orch')
    mc.record_cache_miss('orch')
    mc.record_cache_eviction('orch', 'ttl')
    mc.circuit_breaker('crm', failure_threshold=1).failure()
    g = registry.get_sample_value
    assert g('insa_agent_requests_total', {'agent_type': 'sizing', 'status': 'success'}) == 1
    assert g('insa_agent_requests_total', {'agent_type': 'sizing', 'status': 'error'}) == 1
    assert g('insa_agent_messages_total', {'from_agent': 'sizing', 'to_agent': 'crm',
                                           'message_type': 'handoff'}) == 1
    assert g('insa_database_operation_duration_seconds_count',
             {'operation': 'select', 'table': 'deals'}) == 1
    assert g('insa_cache_evictions_total', {'cache_name': 'orch', 'reason': 'ttl'}) == 1
    assert g('insa_circuit_breaker_state', {'agent_type': 'crm'}) == 1


def test_exposure_story_module():
    from agentmon import observability as o
    with o.RequestTimer(o.A2A_REQUEST_DURATION, agent='navi', operation='query'):
        pass
    with pytest.raises(KeyError):
        with o.RequestTimer(o.A2A_REQUEST_DURATION, agent='navi', operation='query'):
            raise KeyError

    async def main():
        async with o.RequestTimer(o.A2A_REQUEST_DURATION, agent='herald', operation='run'):
            await asyncio.sleep(0)
    asyncio.run(main())
    o.record_a2a_request('herald', 'run', 'success', 0.5, response_size_bytes=1024)
    o.record_rate_limit_hit('/agents/approval/runs', 'denied')
    o.record_ccr_request('openai', 'chat', 'success', 0.3, input_tokens=10, output_tokens=5)
    o.AGENTOS_INFO.info({'version': '1.0.0'})
    g = o.REGISTRY.get_sample_value
    assert g('a2a_request_duration_seconds_count',
             {'agent': 'navi', 'operation': 'query', 'status': 'error'}) == 1
    assert g('a2a_request_duration_seconds_count',
             {'agent': 'herald', 'operation': 'run', 'status': 'success'}) == 2
    assert g('ccr_tokens_total', {'provider': 'openai', 'direction': 'output'}) == 5
    assert g('agentos_info', {'version': '1.0.0'}) == 1
    assert o.get_content_type().startswith('text/plain; version=0.0.4')
    assert b'rate_limit_hits_total{endpoint="/agents/approval/runs"' in o.get_metrics()
