"""The message coordinator: priority queues per agent, ack/nack, retries
with backoff, a dead-letter queue -- libagentmon's, in memory or on Redis --
with an asyncio variant that never blocks the event loop.

    from agentmon.coord import Coordinator, AsyncCoordinator
    coord = Coordinator('redis://127.0.0.1:6379/0?prefix=ao')   # or 'memory:'
    coord.send('planner:1', 'coder:1', b'{"task": 17}', type='task',
               priority=PRIO_HIGH)                              # -> the message id
    d = coord.receive('coder:1', wait_s=30)
    if d is not None:
        ...; coord.ack(d)          # or coord.nack(d, permanent=False, error='timeout')
    coord.metrics.snapshot()       # the messaging spec's dict

Every operation runs in C with the GIL released (a Redis operation is one
Lua script, one round trip); a waiting receive wakes every 250 ms to let
Ctrl-C and cancellation through. The messaging_* metrics are registered in
the registry given (REGISTRY by default); with Redis the snapshot's counters
are the totals of every process sharing the prefix. Sends carry the current
task's trace (agentmon.trace); a delivery brings the sender's back
(delivery.trace), to continue it with trace.span(delivery.trace).

AsyncCoordinator runs the same calls on a pool of worker threads: awaiting
receive() parks a thread, not the loop. Cancelling an awaiting receive
stops its wait; a message that arrives just as it is cancelled is handed
back (nack, transient, error "receive cancelled"), so none is lost.
"""
import asyncio
import concurrent.futures
import json
import threading
from typing import Any, Dict, List, Optional

from . import _agentmon as _am
from .registry import CollectorRegistry, REGISTRY

Delivery = _am.Delivery
PRIO_LOW, PRIO_NORMAL, PRIO_HIGH = _am.PRIO_LOW, _am.PRIO_NORMAL, _am.PRIO_HIGH
QueueFull = _am.QueueFull
BackendError = _am.BackendError

__all__ = ('Coordinator', 'AsyncCoordinator', 'RedisMessageCoordinator', 'MessageMetrics',
           'Delivery', 'PRIO_LOW', 'PRIO_NORMAL', 'PRIO_HIGH', 'QueueFull', 'BackendError')


def _payload(p) -> bytes:
    if isinstance(p, (bytes, bytearray, memoryview)):
        return bytes(p)
    if isinstance(p, str):
        return p.encode('utf-8')
    return json.dumps(p, separators=(',', ':')).encode('utf-8')


class MessageMetrics:
    """coord.metrics: the messaging spec's MessageMetrics."""

    def __init__(self, native):
        self._native = native

    def snapshot(self) -> Dict[str, Any]:
        """{"messaging.queue_length": {agent: {"1": n, "5": n, "9": n}},
        "messaging.dlq_length": {agent: n}, "messaging.nacks.total": n,
        "messaging.retries.scheduled.total": n, ...} (JSON numbers; the
        spec's dotted names)."""
        return json.loads(self._native.snapshot())


class Coordinator:
    """A coordinator on uri: "memory:" (this process), or
    "redis://[[user]:password@]host[:port][/db][?prefix=ao&pool=4]" /
    "unix:///path/redis.sock?db=0&prefix=ao" (shared by processes and hosts).

    Options (0 means the library's default): max_queue, max_attempts,
    backoff_base_s, backoff_factor, backoff_max_s, backoff_jitter,
    max_payload_bytes, visibility_s, dlq_growth_threshold,
    dlq_growth_window_s, on_dlq_growth(agent, grown, window_s)."""

    def __init__(self, uri: str = 'memory:', registry: CollectorRegistry = REGISTRY, **options):
        registry._register_pack('messaging', lambda: _messaging_group(registry))
        self.uri = uri
        self.registry = registry
        self._c = _am.Coordinator(uri, registry._native, **options)
        self.metrics = MessageMetrics(self._c)

    def configure(self, **options) -> None:
        self._c.configure(**options)

    def register(self, agent: str) -> None:
        self._c.register(agent)

    def send(self, from_: str, to: str, payload=b'', type: Optional[str] = None,
             id: Optional[str] = None, priority: int = PRIO_NORMAL, trace=None) -> str:
        """Enqueue for to; returns the message id. QueueFull when to's queue
        is full (backpressure), ValueError for bad names or an id in use."""
        return self._c.send(from_, to, _payload(payload), type, id, priority, trace)

    def broadcast(self, from_: str, payload=b'', agent_type: Optional[str] = None,
                  type: Optional[str] = None, id: Optional[str] = None,
                  priority: int = PRIO_NORMAL, trace=None) -> int:
        """A copy to every registered agent but the sender (or those of
        agent_type); returns how many were sent."""
        return self._c.broadcast(from_, _payload(payload), agent_type, type, id, priority, trace)

    def receive(self, agent: str, wait_s: float = 0, visibility_s: float = 0,
                cancel=None) -> Optional[Delivery]:
        """Reserve agent's next message (HIGH before NORMAL before LOW) for
        visibility_s (0: the configured default), waiting up to wait_s;
        None when nothing came."""
        return self._c.receive(agent, wait_s, visibility_s, cancel)

    reserve = receive

    def ack(self, delivery: Delivery) -> bool:
        """Done with it: the message is gone. False when the reservation
        had expired (the message went back to the queue)."""
        return self._c.ack(delivery)

    def nack(self, delivery: Delivery, permanent: bool = False,
             error: Optional[str] = None) -> bool:
        """Failed: retried after a backoff, or dead-lettered when permanent
        or out of attempts. False when the reservation had expired."""
        return self._c.nack(delivery, permanent, error)

    def recover(self) -> int:
        return self._c.recover()

    def dlq_list(self, agent: str, max: int = 100) -> List[Dict[str, Any]]:
        return self._c.dlq_list(agent, max)

    def dlq_replay(self, agent: str, id: Optional[str] = None) -> int:
        return self._c.dlq_replay(agent, id)

    def dlq_purge(self, agent: str) -> int:
        return self._c.dlq_purge(agent)

    def stats(self, agent: str) -> Dict[str, Any]:
        return self._c.stats(agent)

    def snapshot(self) -> Dict[str, Any]:
        return self.metrics.snapshot()

    def close(self) -> None:
        self._c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def RedisMessageCoordinator(url: str = 'redis://127.0.0.1:6379/0',
                            registry: CollectorRegistry = REGISTRY, **options) -> Coordinator:
    """The messaging spec's RedisMessageCoordinator: a Coordinator on Redis."""
    return Coordinator(url, registry, **options)


def _messaging_group(registry):
    from .packs import _PackGroup
    return _PackGroup(registry, 'messaging')


class AsyncCoordinator:
    """The same coordinator for asyncio: every method is a coroutine run on
    a pool of max_workers threads (blocking receives park one each), so the
    event loop is never blocked."""

    def __init__(self, uri: str = 'memory:', registry: CollectorRegistry = REGISTRY,
                 max_workers: int = 16, **options):
        self.sync = Coordinator(uri, registry, **options)
        self.metrics = self.sync.metrics
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_workers,
                                                           thread_name_prefix='agentmon-coord')

    async def _run(self, fn, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args))

    async def register(self, agent: str) -> None:
        await self._run(self.sync.register, agent)

    async def send(self, from_: str, to: str, payload=b'', type: Optional[str] = None,
                   id: Optional[str] = None, priority: int = PRIO_NORMAL, trace=None) -> str:
        if trace is None:  # the calling task's context, not the worker thread's
            from .trace import current
            trace = current()
        return await self._run(self.sync.send, from_, to, payload, type, id, priority, trace)

    async def broadcast(self, from_: str, payload=b'', agent_type: Optional[str] = None,
                        type: Optional[str] = None, id: Optional[str] = None,
                        priority: int = PRIO_NORMAL, trace=None) -> int:
        if trace is None:
            from .trace import current
            trace = current()
        return await self._run(self.sync.broadcast, from_, payload, agent_type, type, id,
                               priority, trace)

    async def receive(self, agent: str, wait_s: float = 0,
                      visibility_s: float = 0) -> Optional[Delivery]:
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, self.sync.receive, agent, wait_s, visibility_s,
                                   cancel)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            cancel.set()

            def hand_back(f):
                if not f.cancelled() and f.exception() is None and f.result() is not None:
                    self._pool.submit(self.sync.nack, f.result(), False, 'receive cancelled')
            fut.add_done_callback(hand_back)
            raise

    reserve = receive

    async def ack(self, delivery: Delivery) -> bool:
        return await self._run(self.sync.ack, delivery)

    async def nack(self, delivery: Delivery, permanent: bool = False,
                   error: Optional[str] = None) -> bool:
        return await self._run(self.sync.nack, delivery, permanent, error)

    async def recover(self) -> int:
        return await self._run(self.sync.recover)

    async def dlq_list(self, agent: str, max: int = 100) -> List[Dict[str, Any]]:
        return await self._run(self.sync.dlq_list, agent, max)

    async def dlq_replay(self, agent: str, id: Optional[str] = None) -> int:
        return await self._run(self.sync.dlq_replay, agent, id)

    async def dlq_purge(self, agent: str) -> int:
        return await self._run(self.sync.dlq_purge, agent)

    async def stats(self, agent: str) -> Dict[str, Any]:
        return await self._run(self.sync.stats, agent)

    async def snapshot(self) -> Dict[str, Any]:
        return await self._run(self.sync.snapshot)

    async def deliveries(self, agent: str, wait_s: float = 1.0):
        """Yield agent's deliveries as they come (an async iterator)."""
        while True:
            d = await self.receive(agent, wait_s)
            if d is not None:
                yield d

    async def close(self) -> None:
        await self._run(self.sync.close)
        self._pool.shutdown(wait=False)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
