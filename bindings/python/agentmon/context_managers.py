"""Timer, ExceptionCounter and InprogressTracker: the helpers behind
Histogram.time(), Counter.count_exceptions() and Gauge.track_inprogress().

Each works as prometheus_client's does -- a context manager and a function
decorator -- and also as an async context manager (``async with
h.time():``) and as a decorator of coroutine functions, which it times (or
counts, or tracks) until the coroutine finishes rather than until it is
created. A Timer on a Histogram observes with the current trace
(agentmon.trace) as the bucket's exemplar when that trace is sampled.
"""
import functools
import inspect
from time import perf_counter as default_timer


def _decorate(manager_factory, f):
    """Wrap f (a function or a coroutine function) in a fresh manager per call."""
    if inspect.iscoroutinefunction(f):
        @functools.wraps(f)
        async def wrapped_async(*args, **kwargs):
            async with manager_factory():
                return await f(*args, **kwargs)
        return wrapped_async

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        with manager_factory():
            return f(*args, **kwargs)
    return wrapped


class _Manager:
    """A context manager that is also an async one and a decorator (sync and
    async); subclasses define __enter__ and __exit__."""

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, typ, value, traceback):
        return self.__exit__(typ, value, traceback)

    def _fresh(self):
        return self

    def __call__(self, f):
        return _decorate(self._fresh, f)


class ExceptionCounter(_Manager):
    def __init__(self, counter, exception):
        self._counter = counter
        self._exception = exception

    def __enter__(self):
        pass

    def __exit__(self, typ, value, traceback):
        if isinstance(value, self._exception):
            self._counter.inc()
        return False


class InprogressTracker(_Manager):
    def __init__(self, gauge):
        self._gauge = gauge

    def __enter__(self):
        self._gauge.inc()

    def __exit__(self, typ, value, traceback):
        self._gauge.dec()


class Timer(_Manager):
    def __init__(self, metric, callback_name):
        self._metric = metric
        self._callback_name = callback_name

    def _fresh(self):
        # A new timer per decorated call keeps concurrent calls apart.
        return self.__class__(self._metric, self._callback_name)

    def __enter__(self):
        self._start = default_timer()
        return self

    def __exit__(self, typ, value, traceback):
        # Time can go backwards.
        duration = max(default_timer() - self._start, 0)
        name = self._callback_name
        if name == 'observe' and hasattr(self._metric, 'observe_traced'):
            name = 'observe_traced'
        getattr(self._metric, name)(duration)

    def labels(self, *args, **kw):
        self._metric = self._metric.labels(*args, **kw)
