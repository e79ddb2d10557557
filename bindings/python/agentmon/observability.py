"""metrics-exposure-story.md's agents/observability/metrics.py, on libagentmon.

    from agentmon.observability import RequestTimer, A2A_REQUEST_DURATION
    with RequestTimer(A2A_REQUEST_DURATION, agent="navi", operation="query"):
        result = do_query()
    async with RequestTimer(A2A_REQUEST_DURATION, agent="navi", operation="query"):
        result = await do_query()

The story's custom REGISTRY, AGENTOS_INFO and the A2A, cache, rate-limit
and CCR metrics with its exact buckets (the packs' families: the names,
labels and buckets are libagentmon's catalogue), RequestTimer (sync and
async; status "error" when the block raises; the current trace becomes the
bucket's exemplar), the record_* helpers and get_metrics()/
get_content_type() for a /metrics route.
"""
import time
from typing import Optional

from .exposition import CONTENT_TYPE_LATEST, generate_latest
from .metrics import Counter, Gauge, Histogram, Info, _adopt
from .packs import A2APack, CachePack, LLMPack, RatePack, catalog
from .registry import CollectorRegistry

REGISTRY = CollectorRegistry()
_PACKS = [A2APack(REGISTRY), CachePack(REGISTRY), RatePack(REGISTRY), LLMPack(REGISTRY)]
_ROWS = {r['name']: r for r in catalog()}


def _m(cls, name):
    return _adopt(cls, REGISTRY, _ROWS[name])


AGENTOS_INFO = Info('agentos', 'AgentOS service information', registry=REGISTRY)

A2A_REQUEST_DURATION = _m(Histogram, 'a2a_request_duration_seconds')
A2A_REQUEST_COUNT = _m(Counter, 'a2a_requests_total')
A2A_ACTIVE_TASKS = _m(Gauge, 'a2a_active_tasks')
A2A_RESPONSE_SIZE = _m(Histogram, 'a2a_response_size_bytes')
CACHE_OPERATIONS = _m(Counter, 'cache_operations_total')
CACHE_LATENCY = _m(Histogram, 'cache_latency_seconds')
RATE_LIMIT_HITS = _m(Counter, 'rate_limit_hits_total')
CCR_REQUESTS = _m(Counter, 'ccr_requests_total')
CCR_LATENCY = _m(Histogram, 'ccr_latency_seconds')
CCR_TOKENS = _m(Counter, 'ccr_tokens_total')


class RequestTimer:
    """Time a block and observe it into histogram{**labels, status}:
    status "error" when the block raised, else "success"."""

    def __init__(self, histogram: Histogram, **labels):
        self.histogram = histogram
        self.labels = labels
        self.start_time: Optional[float] = None

    def __enter__(self):
        self.start_time = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        duration = time.perf_counter() - self.start_time
        status = "error" if exc_type else "success"
        self.histogram.labels(**self.labels, status=status).observe_traced(duration)
        return False

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, exc_type, exc_val, exc_tb):
        return self.__exit__(exc_type, exc_val, exc_tb)


def record_a2a_request(agent: str, operation: str, status: str, duration_seconds: float,
                       response_size_bytes: Optional[float] = None) -> None:
    A2A_REQUEST_DURATION.labels(agent=agent, operation=operation,
                                status=status).observe_traced(duration_seconds)
    A2A_REQUEST_COUNT.labels(agent=agent, operation=operation, status=status).inc()
    if response_size_bytes is not None:
        A2A_RESPONSE_SIZE.labels(agent=agent).observe(response_size_bytes)


def record_cache_operation(operation: str, result: str,
                           duration_seconds: Optional[float] = None) -> None:
    CACHE_OPERATIONS.labels(operation=operation, result=result).inc()
    if duration_seconds is not None:
        CACHE_LATENCY.labels(operation=operation).observe(duration_seconds)


def record_rate_limit_hit(endpoint: str, result: str, workspace_id: str = '') -> None:
    RATE_LIMIT_HITS.labels(endpoint=endpoint, workspace_id=workspace_id, result=result).inc()


def record_ccr_request(provider: str, task_type: str, status: str,
                       duration_seconds: Optional[float] = None, input_tokens: int = 0,
                       output_tokens: int = 0) -> None:
    CCR_REQUESTS.labels(provider=provider, task_type=task_type, status=status).inc()
    if duration_seconds is not None:
        CCR_LATENCY.labels(provider=provider).observe_traced(duration_seconds)
    if input_tokens:
        CCR_TOKENS.labels(provider=provider, direction='input').inc(input_tokens)
    if output_tokens:
        CCR_TOKENS.labels(provider=provider, direction='output').inc(output_tokens)


def get_metrics() -> bytes:
    """REGISTRY in Prometheus text, for the /metrics route."""
    return generate_latest(REGISTRY)


def get_content_type() -> str:
    return CONTENT_TYPE_LATEST
