"""The instrument packs: the source documents' metrics with their exact
names, labels, buckets and types, one call per event.

    from agentmon.packs import TaskPack, LLMPack
    tasks = TaskPack()                                  # in REGISTRY
    tasks.finished('planner:1', 0.42)                   # success
    tasks.finished('coder:1', 3.1, error_type='timeout')
    llm = LLMPack()
    llm.record('openai', 'gpt-4o', 1.2, input_tokens=900, output_tokens=150)

Each pack is libagentmon's (src/packs): the families are defined once in C
(agentmon.packs.catalog() lists them all) and registered in the registry's
native registry; a call resolves its labels lock-free and records, with the
current task's trace (agentmon.trace) as the exemplar of what it observes.
Making a pack twice in one registry shares its families, as in C. Packs
cannot be unregistered (their families stay for the life of the registry).

    task     agent_task_duration_seconds, agent_task_success_total,
             agent_task_failure_total, agent_queue_depth   (monitoring spec)
    a2a      a2a_request_duration_seconds, a2a_requests_total,
             a2a_active_tasks, a2a_response_size_bytes      (exposure story)
    cache    cache_operations_total, cache_latency_seconds
    rate     rate_limit_hits_total
    llm      ccr_requests_total, ccr_latency_seconds, ccr_tokens_total and
             the OpenTelemetry GenAI gen_ai_* metrics
    service  agentos_info
    worker   insa_* of the integration plan
    breaker  insa_circuit_breaker_* (CircuitBreaker)
"""
import functools
import inspect
from typing import Callable, Dict, Iterable, List, Optional

from . import _agentmon as _am
from .metrics_core import Metric
from .registry import Collector, CollectorRegistry, REGISTRY, _native_metrics, _TYPE_SUFFIXES

__all__ = ('TaskPack', 'A2APack', 'CachePack', 'RatePack', 'LLMPack', 'WorkerPack',
           'CircuitBreaker', 'CircuitOpenError', 'service_info', 'catalog')

_CATALOG: Optional[List[dict]] = None


def catalog() -> List[dict]:
    """Every metric libagentmon defines (group, name, type, help, unit,
    labels, buckets, states, json_name, source)."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = _am.catalog()
    return [dict(row) for row in _CATALOG]


def _base(row):
    name = row['name']
    if row['type'] == 'counter' and name.endswith('_total'):
        return name[:-6]
    if row['type'] == 'info' and name.endswith('_info'):
        return name[:-5]
    return name


class _PackGroup(Collector):
    """The families of one pack kind in one registry, as one collector."""

    def __init__(self, registry, group):
        self._registry = registry
        self.group = group
        self._rows = [r for r in catalog() if r['group'] == group]

    def names(self):
        out = []
        for r in self._rows:
            b = _base(r)
            out += [b] + [b + s for s in _TYPE_SUFFIXES.get(r['type'], [])]
        return out

    def describe(self) -> Iterable[Metric]:
        return [Metric(_base(r), r['help'], r['type'], r['unit'] or '') for r in self._rows]

    def collect(self) -> Iterable[Metric]:
        wanted = {_base(r) for r in self._rows}
        return [m for m in _native_metrics(self._registry._native) if m.name in wanted]

    def _unbind(self):
        raise ValueError(f'the {self.group} pack cannot be unregistered')


def _group(registry: CollectorRegistry, group: str) -> _PackGroup:
    return registry._register_pack(group, lambda: _PackGroup(registry, group))


class _Pack:
    _group = ''
    _native = None

    def __init__(self, registry: CollectorRegistry = REGISTRY):
        self.registry = registry
        self._collector = _group(registry, self._group)
        self._p = self._native(registry._native)


class TaskPack(_Pack):
    """monitoring-collector-spec.md, requirement 10.2."""
    _group = 'task'
    _native = _am.TaskPack

    def finished(self, agent_id: str, seconds: float, error_type: Optional[str] = None,
                 trace=None) -> None:
        """A task finished: success (error_type None) or failure of error_type."""
        self._p.finished(agent_id, seconds, error_type, trace)

    def queue_depth(self, queue_name: str, depth: float) -> None:
        self._p.queue_depth(queue_name, depth)

    def agent(self, agent_id: str):
        """A prepared agent: .finished(seconds, error_type=None, trace=None)
        records a success with no label lookup."""
        return self._p.agent(agent_id)


class A2APack(_Pack):
    """metrics-exposure-story.md's A2A request metrics."""
    _group = 'a2a'
    _native = _am.A2APack

    def request(self, agent: str, operation: str, ok: bool, seconds: float,
                response_bytes: float = -1, trace=None) -> None:
        self._p.request(agent, operation, ok, seconds, response_bytes, trace)

    def active(self, agent: str, delta: float) -> None:
        self._p.active(agent, delta)

    def target(self, agent: str, operation: str):
        """A prepared (agent, operation): .request(ok, seconds, response_bytes=-1)."""
        return self._p.target(agent, operation)


class CachePack(_Pack):
    _group = 'cache'
    _native = _am.CachePack

    def op(self, operation: str, result: str, seconds: float = -1) -> None:
        self._p.op(operation, result, seconds)


class RatePack(_Pack):
    _group = 'ratelimit'
    _native = _am.RatePack

    def decision(self, endpoint: str, workspace_id: str, allowed: bool) -> None:
        self._p.decision(endpoint, workspace_id, allowed)


class LLMPack(_Pack):
    """The story's ccr_* metrics and OpenTelemetry GenAI gen_ai_* in one call."""
    _group = 'llm'
    _native = _am.LLMPack

    def record(self, provider: str, model: str, seconds: float, input_tokens: int = 0,
               output_tokens: int = 0, operation: Optional[str] = None,
               task_type: Optional[str] = None, error_type: Optional[str] = None,
               trace=None) -> None:
        self._p.record(provider, model, seconds, input_tokens, output_tokens, operation,
                       task_type, error_type, trace)

    def route(self, provider: str, model: str, operation: Optional[str] = None,
              task_type: Optional[str] = None):
        """A prepared route: .record(seconds, input_tokens=0, output_tokens=0,
        error_type=None, trace=None)."""
        return self._p.route(provider, model, operation, task_type)

    def invoke_agent(self, name: str, seconds: float, trace=None) -> None:
        self._p.invoke_agent(name, seconds, trace)

    def execute_tool(self, name: str, seconds: float, trace=None) -> None:
        self._p.execute_tool(name, seconds, trace)


class WorkerPack(_Pack):
    """prometheus-integration-plan.md's insa_* worker metrics."""
    _group = 'worker'
    _native = _am.WorkerPack

    def __getattr__(self, name):
        # health, request, active_requests, queue_size, message, handoff,
        # cache, cache_eviction, retry, retry_succeeded, dlq_size,
        # dlq_replay, db_op: libagentmon's calls as they are.
        return getattr(self._p, name)


def service_info(pairs: Dict[str, str], registry: CollectorRegistry = REGISTRY) -> None:
    """agentos_info{...} = 1 (the exposure story's service Info)."""
    _group(registry, 'service')
    _am.service_info(registry._native, dict(pairs))


class CircuitOpenError(RuntimeError):
    """The breaker is open: the call was not made."""


class CircuitBreaker:
    """libagentmon's circuit breaker and its insa_circuit_breaker_* metrics.

        breaker = CircuitBreaker('llm:openai', failure_threshold=5, cooldown_s=30)
        if breaker.allow():
            try: call(); breaker.success()
            except Exception: breaker.failure(); raise

    or as a decorator / context manager (sync and async), which raises
    CircuitOpenError when the breaker is open. N failures within window_s
    open it; after cooldown_s it is half-open; half_open_successes
    successes close it. on_transition(name, from, to) is called after each
    transition; clock() replaces the monotonic clock (tests)."""

    def __init__(self, name: str, registry: CollectorRegistry = REGISTRY,
                 failure_threshold: int = 0, window_s: float = 0, cooldown_s: float = 0,
                 half_open_successes: int = 0, half_open_max_calls: int = 0,
                 on_transition: Optional[Callable[[str, str, str], None]] = None,
                 clock: Optional[Callable[[], float]] = None):
        self.name = name
        self.registry = registry
        self._collector = _group(registry, 'breaker')
        self._b = _am.Breaker(registry._native, name, failure_threshold, window_s, cooldown_s,
                              half_open_successes, half_open_max_calls, on_transition, clock)

    def allow(self) -> bool:
        return self._b.allow()

    def success(self) -> None:
        self._b.success()

    def failure(self) -> None:
        self._b.failure()

    @property
    def state(self) -> str:
        """closed, open or half_open."""
        return self._b.state()

    def seconds_in(self, state: str) -> float:
        return self._b.seconds_in(state)

    def __enter__(self):
        if not self._b.allow():
            raise CircuitOpenError(f'circuit breaker {self.name} is open')
        return self

    def __exit__(self, typ, value, tb):
        if typ is None:
            self._b.success()
        else:
            self._b.failure()
        return False

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, typ, value, tb):
        return self.__exit__(typ, value, tb)

    def __call__(self, f):
        if inspect.iscoroutinefunction(f):
            @functools.wraps(f)
            async def wrapped_async(*args, **kwargs):
                async with self:
                    return await f(*args, **kwargs)
            return wrapped_async

        @functools.wraps(f)
        def wrapped(*args, **kwargs):
            with self:
                return f(*args, **kwargs)
        return wrapped
