"""The source documents' classes: MonitoringCollector (monitoring-collector-
spec.md) and MetricsCollector with its decorators (prometheus-integration-
plan.md), implemented for real over libagentmon's packs.

    from agentmon.collectors import MonitoringCollector
    mc = MonitoringCollector(port=9090)
    mc.start()                                          # /metrics on :9090
    mc.record_task_duration('planner:1', 0.42, 'success', trace_id)
    mc.record_task_failure('coder:1', 'timeout', trace_id)

The spec's metric attributes (task_duration, task_success, task_failure,
queue_depth) are metric objects over the task pack's families, so
``mc.task_duration.labels(agent_id=..., status=...).observe(...)`` works as
with prometheus_client. The spec left its threshold checks as ``pass``;
here they run: more than alert_thresholds['failure_rate_5min'] failures of
one agent within 5 minutes, or a queue deeper than 'queue_depth_max',
raise an Alert that is logged (WARNING, "ALERT: ...") and handed to each
notifier (any callable taking the Alert).
"""
import collections
import dataclasses
import functools
import inspect
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

from . import trace as _trace
from .exposition import start_http_server
from .log import JsonHandler
from .metrics import Counter, Gauge, Histogram, _adopt
from .packs import CircuitBreaker, TaskPack, WorkerPack, catalog, service_info
from .registry import CollectorRegistry, REGISTRY

__all__ = ('MonitoringCollector', 'MetricRecord', 'Alert', 'MetricsCollector',
           'track_request_metrics', 'track_message_processing', 'track_database_operation',
           'initialize_metrics', 'start_metrics_server')


@dataclasses.dataclass
class MetricRecord:
    """Single metric observation."""
    metric_name: str
    value: float
    labels: Dict[str, str]
    timestamp: datetime
    trace_id: Optional[str] = None


@dataclasses.dataclass
class Alert:
    """Alert notification."""
    severity: str  # 'info', 'warning', 'critical'
    message: str
    triggered_at: datetime
    metric_name: str
    current_value: float
    threshold_value: float
    metadata: Dict[str, Any]


def _rows(group):
    return {r['name']: r for r in catalog() if r['group'] == group}


def _exemplar(trace_id):
    return {'trace_id': str(trace_id)[:64]} if trace_id else None


class MonitoringCollector:
    """Implements requirements 10.1, 10.2, 10.3, 10.5 of the monitoring spec."""

    def __init__(self, port: int = 9090, registry: Optional[CollectorRegistry] = None,
                 alert_thresholds: Optional[Dict[str, float]] = None,
                 notifiers: Optional[List[Callable[[Alert], None]]] = None,
                 host: str = '0.0.0.0', log_stream=None):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.port = port
        self.host = host
        self._tasks = TaskPack(self.registry)
        rows = _rows('task')
        self.task_duration = _adopt(Histogram, self.registry, rows['agent_task_duration_seconds'])
        self.task_success = _adopt(Counter, self.registry, rows['agent_task_success_total'])
        self.task_failure = _adopt(Counter, self.registry, rows['agent_task_failure_total'])
        self.queue_depth = _adopt(Gauge, self.registry, rows['agent_queue_depth'])
        self.alert_thresholds = {'failure_rate_5min': 5, 'queue_depth_max': 100,
                                 'task_duration_p95_seconds': 60}
        self.alert_thresholds.update(alert_thresholds or {})
        self.notifiers = list(notifiers or [])
        self.alerts: collections.deque = collections.deque(maxlen=1000)
        self._failures: Dict[str, collections.deque] = {}
        self._lock = threading.Lock()
        self.server = None
        self.logger = logging.getLogger('MonitoringCollector')
        self.logger.setLevel(logging.INFO)
        if not any(isinstance(h, JsonHandler) for h in self.logger.handlers):
            self.logger.addHandler(JsonHandler(log_stream))
        self.logger.propagate = False

    def start(self) -> None:
        """Serve /metrics on the port (0 picks one: self.port says which)."""
        self.server, _ = start_http_server(self.port, addr=self.host, registry=self.registry)
        self.port = self.server.port
        self.log_event('Monitoring service started', trace_id=None, port=self.port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    # ------------------------------------------------------------ logs

    def log_event(self, message: str, trace_id: Optional[str], **metadata) -> None:
        """One JSON line at INFO, with trace_id (or the current trace's)."""
        extra = dict(metadata)
        if trace_id:
            extra['trace_id'] = trace_id
        self.logger.info(message, extra=extra)

    def log_error(self, message: str, trace_id: Optional[str],
                  error: Optional[BaseException] = None, **metadata) -> None:
        """One JSON line at ERROR with error_type and error_message."""
        extra = dict(metadata)
        if trace_id:
            extra['trace_id'] = trace_id
        if error is not None:
            extra['error_type'] = type(error).__name__
            extra['error_message'] = str(error)
        self.logger.error(message, extra=extra)

    # ------------------------------------------------------------ metrics

    def record_task_duration(self, agent_id: str, duration: float, status: str,
                             trace_id: Optional[str] = None) -> None:
        """agent_task_duration_seconds{agent_id,status}, with the trace as exemplar."""
        child = self.task_duration.labels(agent_id=agent_id, status=status)
        if trace_id:
            child.observe(duration, _exemplar(trace_id))
        else:
            child.observe_traced(duration)
        self.log_event(f'Task completed: {status}', trace_id=trace_id, agent_id=agent_id,
                       duration=duration, status=status)

    def record_task_success(self, agent_id: str, trace_id: Optional[str] = None) -> None:
        self.task_success.labels(agent_id=agent_id).inc(exemplar=_exemplar(trace_id))

    def record_task_failure(self, agent_id: str, error_type: str,
                            trace_id: Optional[str] = None) -> None:
        self.task_failure.labels(agent_id=agent_id, error_type=error_type).inc(
            exemplar=_exemplar(trace_id))
        self._check_failure_threshold(agent_id, trace_id)

    def update_queue_depth(self, queue_name: str, depth: int) -> None:
        self.queue_depth.labels(queue_name=queue_name).set(depth)
        limit = self.alert_thresholds['queue_depth_max']
        if depth > limit:
            self._trigger_alert('warning', f'Queue depth exceeded threshold: {depth}',
                                metric_name='agent_queue_depth', current_value=depth,
                                threshold_value=limit, queue_name=queue_name)

    # ------------------------------------------------------------ alerts

    def _check_failure_threshold(self, agent_id: str, trace_id: Optional[str]) -> None:
        """More than failure_rate_5min failures of agent_id within 300 s:
        alert once when the count crosses the threshold."""
        now = time.monotonic()
        limit = self.alert_thresholds['failure_rate_5min']
        with self._lock:
            q = self._failures.setdefault(agent_id, collections.deque())
            q.append(now)
            while q and now - q[0] > 300:
                q.popleft()
            n = len(q)
        if n == int(limit) + 1:
            self._trigger_alert('critical', f'Agent {agent_id} failed {n} tasks in 5 minutes',
                                metric_name='agent_task_failure_total', current_value=n,
                                threshold_value=limit, agent_id=agent_id, trace_id=trace_id)

    def check_task_duration_p95(self) -> List[Alert]:
        """Alert for each agent whose p95 task duration (from the histogram's
        buckets) is above task_duration_p95_seconds."""
        limit = self.alert_thresholds['task_duration_p95_seconds']
        raised = []
        by_agent: Dict[str, Dict[float, float]] = {}
        for m in self.task_duration.collect():
            for s in m.samples:
                if s.name.endswith('_bucket'):
                    b = by_agent.setdefault(s.labels['agent_id'], {})
                    le = float(s.labels['le'])
                    b[le] = b.get(le, 0) + s.value
        for agent, buckets in by_agent.items():
            les = sorted(buckets)
            total = buckets[les[-1]]
            if not total:
                continue
            p95 = next(le for le in les if buckets[le] >= 0.95 * total)
            if p95 > limit:
                raised.append(self._trigger_alert(
                    'warning', f'Agent {agent} p95 task duration above {limit} s',
                    metric_name='agent_task_duration_seconds', current_value=p95,
                    threshold_value=limit, agent_id=agent))
        return raised

    def _trigger_alert(self, severity: str, message: str, metric_name: str = '',
                       current_value: float = 0.0, threshold_value: float = 0.0,
                       **metadata) -> Alert:
        alert = Alert(severity, message, datetime.now(timezone.utc), metric_name,
                      float(current_value), float(threshold_value), metadata)
        self.alerts.append(alert)
        fields = {k: v for k, v in metadata.items() if v is not None}
        self.logger.warning(f'ALERT: {message}', extra=dict(
            fields, severity=severity, metric_name=metric_name,
            current_value=alert.current_value, threshold_value=alert.threshold_value))
        for notify in self.notifiers:
            try:
                notify(alert)
            except Exception as e:  # a broken notifier must not break recording
                self.log_error('alert notifier failed', None, e)
        return alert

    @staticmethod
    def generate_trace_id() -> str:
        """A UUID for request tracing, as the spec has it (see also
        agentmon.trace for W3C trace context)."""
        return str(uuid.uuid4())


# ------------------------------------------------------------ the integration plan

class MetricsCollector:
    """prometheus-integration-plan.md's helper: the insa_* worker metrics
    and circuit breakers, over libagentmon's worker pack."""

    def __init__(self, registry: CollectorRegistry = REGISTRY):
        self.registry = registry
        self._w = WorkerPack(registry)
        self._breakers: Dict[str, CircuitBreaker] = {}

    def update_worker_health(self, worker_name: str, agent_type: str, healthy: bool) -> None:
        self._w.health(worker_name, agent_type, healthy)

    def record_request(self, agent_type: str, success: bool, duration: float) -> None:
        self._w.request(agent_type, success, duration)

    def update_active_requests(self, agent_type: str, count: float) -> None:
        self._w.active_requests(agent_type, count)

    def update_worker_queue(self, agent_type: str, size: float) -> None:
        self._w.queue_size(agent_type, size)

    def record_message_sent(self, from_agent: str, to_agent: str, message_type: str) -> None:
        self._w.message(from_agent, to_agent, message_type)

    def record_handoff(self, from_agent: str, to_agent: str) -> None:
        self._w.handoff(from_agent, to_agent)

    def record_cache_hit(self, cache_name: str) -> None:
        self._w.cache(cache_name, True)

    def record_cache_miss(self, cache_name: str) -> None:
        self._w.cache(cache_name, False)

    def record_cache_eviction(self, cache_name: str, reason: str) -> None:
        self._w.cache_eviction(cache_name, reason)

    def record_retry_attempt(self, agent_type: str) -> None:
        self._w.retry(agent_type)

    def record_retry_success(self, agent_type: str, attempts: int) -> None:
        self._w.retry_succeeded(agent_type, attempts)

    def update_dlq_size(self, agent_type: str, size: float) -> None:
        self._w.dlq_size(agent_type, size)

    def record_dlq_replay(self, agent_type: str, success: bool) -> None:
        self._w.dlq_replay(agent_type, success)

    def record_db_operation(self, operation: str, table: str, duration: float) -> None:
        self._w.db_op(operation, table, duration)

    def circuit_breaker(self, name: str, **opts) -> CircuitBreaker:
        """The breaker of this name (insa_circuit_breaker_*{agent_type=name})."""
        b = self._breakers.get(name)
        if b is None:
            b = self._breakers[name] = CircuitBreaker(name, self.registry, **opts)
        return b


_default: Optional[MetricsCollector] = None
_default_lock = threading.Lock()


def _metrics() -> MetricsCollector:
    global _default
    with _default_lock:
        if _default is None:
            _default = MetricsCollector()
        return _default


def __getattr__(name):
    if name == 'metrics':  # the plan's module-level `metrics`, made on first use
        return _metrics()
    raise AttributeError(name)


def _timed(record: Callable[[bool, float], None]):
    """A decorator recording (ok, seconds) of each call, sync or async."""
    def decorate(f):
        if inspect.iscoroutinefunction(f):
            @functools.wraps(f)
            async def wrapped_async(*args, **kwargs):
                t0 = time.perf_counter()
                ok = False
                try:
                    result = await f(*args, **kwargs)
                    ok = True
                    return result
                finally:
                    record(ok, time.perf_counter() - t0)
            return wrapped_async

        @functools.wraps(f)
        def wrapped(*args, **kwargs):
            t0 = time.perf_counter()
            ok = False
            try:
                result = f(*args, **kwargs)
                ok = True
                return result
            finally:
                record(ok, time.perf_counter() - t0)
        return wrapped
    return decorate


def track_request_metrics(agent_type: str, collector: Optional[MetricsCollector] = None):
    """insa_agent_requests_total{agent_type,status} and
    insa_agent_request_duration_seconds of each call (status by exception)."""
    def record(ok, seconds):
        (collector or _metrics()).record_request(agent_type, ok, seconds)
    return _timed(record)


def track_message_processing(from_agent: str, to_agent: str, message_type: str = 'message',
                             collector: Optional[MetricsCollector] = None):
    """insa_agent_messages_total{from_agent,to_agent,message_type} per call,
    and the call as a request of to_agent."""
    def record(ok, seconds):
        c = collector or _metrics()
        c.record_message_sent(from_agent, to_agent, message_type)
        c.record_request(to_agent, ok, seconds)
    return _timed(record)


def track_database_operation(operation: str, table: str,
                             collector: Optional[MetricsCollector] = None):
    """insa_database_operation_duration_seconds{operation,table} of each call."""
    def record(ok, seconds):
        (collector or _metrics()).record_db_operation(operation, table, seconds)
    return _timed(record)


def initialize_metrics(version: str, environment: str,
                       registry: CollectorRegistry = REGISTRY) -> None:
    """agentos_info{version,environment} = 1."""
    service_info({'version': version, 'environment': environment}, registry)


def start_metrics_server(port: int = 9091, addr: str = '0.0.0.0',
                         registry: CollectorRegistry = REGISTRY):
    """The plan's metrics server on its own port (libagentmon's HTTP server)."""
    server, _ = start_http_server(port, addr=addr, registry=registry)
    return server
