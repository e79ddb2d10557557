"""W3C trace context for Python agents, following asyncio tasks.

The current trace lives in a contextvars.ContextVar, so each asyncio task
(and each thread) has its own, and a task started inside a span inherits
it. Everything agentmon records reads it from there: log lines
(agentmon.log), traced observes (Histogram.observe_traced,
Counter.inc_traced, and every Histogram.time()), pack calls and coordinator
sends.

    from agentmon import trace

    with trace.span():                       # a child of the current span,
        h.observe_traced(0.42)               # or a new trace
        log.info("step done")                # trace_id/span_id on the line

    ctx = trace.from_headers(request.headers)   # continue a caller's trace
    with trace.use(ctx):
        ...
        call_downstream(headers=trace.inject({}))

A TraceContext is immutable (ids, flags, tracestate); ids come from
libagentmon's per-thread ChaCha8 generator.
"""
import contextlib
from typing import Mapping, MutableMapping, Optional

from ._agentmon import TraceContext
from ._agentmon import current_trace as _current

__all__ = ('TraceContext', 'current', 'use', 'span', 'from_headers', 'inject', 'new_trace')


def current() -> Optional[TraceContext]:
    """The current task's TraceContext, or None."""
    return _current.get(None)


def new_trace() -> TraceContext:
    """A new trace (random ids, sampled); not made current."""
    return TraceContext()


@contextlib.contextmanager
def use(ctx: Optional[TraceContext]):
    """Make ctx current inside the block (None: no trace inside it)."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


@contextlib.contextmanager
def span(parent: Optional[TraceContext] = None):
    """A child span of parent (default: the current context), or a new trace
    when there is none, current inside the block; yields it."""
    parent = parent if parent is not None else current()
    ctx = parent.child() if parent is not None else TraceContext()
    with use(ctx):
        yield ctx


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    if headers is None:
        return None
    v = headers.get(name)
    if v is None:
        for k, val in headers.items():
            if k.lower() == name:
                return val
    return v


def from_headers(headers: Mapping[str, str]) -> TraceContext:
    """The context for work done for a request: a child span of its
    traceparent (keeping its tracestate), or a new trace when the header is
    missing or malformed."""
    return TraceContext.from_traceparent(_header(headers, 'traceparent'),
                                         _header(headers, 'tracestate'))


def inject(headers: Optional[MutableMapping[str, str]] = None,
           ctx: Optional[TraceContext] = None) -> MutableMapping[str, str]:
    """Add traceparent (and tracestate) of ctx (default: the current one) to
    headers and return them."""
    headers = {} if headers is None else headers
    ctx = ctx if ctx is not None else current()
    if ctx is not None:
        headers['traceparent'] = ctx.traceparent
        if ctx.tracestate:
            headers['tracestate'] = ctx.tracestate
    return headers
