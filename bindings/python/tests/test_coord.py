"""The coordinator from Python: memory and a real redis-server started here,
sync and asyncio (the loop keeps running while receives wait; a cancelled
receive loses no message), the spec's snapshot() dict, DLQ operations,
traces carried by messages, several processes sharing Redis queues, and
Redis killed and restarted under a client."""
import asyncio
import json
import multiprocessing
import os

import pytest

import agentmon
from agentmon import trace
from agentmon.coord import (AsyncCoordinator, BackendError, Coordinator, PRIO_HIGH, PRIO_LOW,
                            QueueFull, RedisMessageCoordinator)


@pytest.fixture(params=['memory', 'redis'])
def uri(request):
    if request.param == 'memory':
        yield 'memory:'
    else:
        r = request.getfixturevalue('redis')
        yield r.url + '?prefix=t' + str(os.getpid())


def test_send_receive_ack_nack_dlq(uri, registry):
    c = Coordinator(uri, registry, max_attempts=2, backoff_base_s=0.01, backoff_jitter=-1,
                    max_queue=3)
    c.register('coder:1')
    low = c.send('planner:1', 'coder:1', b'low', priority=PRIO_LOW)
    high = c.send('planner:1', 'coder:1', {'task': 17}, type='task', priority=PRIO_HIGH)
    c.send('planner:1', 'coder:1', 'normal')
    with pytest.raises(QueueFull):
        c.send('planner:1', 'coder:1', 'one too many')
    d = c.receive('coder:1')
    assert (d.id, d.type, d.priority, d.attempt) == (high, 'task', 9, 1)
    assert json.loads(d.payload) == {'task': 17} and d.from_ == 'planner:1'
    assert c.ack(d) is True
    assert c.ack(d) is False            # settled already
    d = c.receive('coder:1')
    assert d.payload == b'normal'
    c.ack(d)
    d = c.receive('coder:1')
    assert d.id == low
    assert c.nack(d, error='flaky') is True       # retried after the backoff
    d = c.receive('coder:1', wait_s=5)
    assert d.id == low and d.attempt == 2
    c.nack(d, error='flaky again')                # out of attempts: dead-lettered
    assert c.receive('coder:1', wait_s=0.1) is None
    dlq = c.dlq_list('coder:1')
    assert [(e['id'], e['reason'], e['error'], e['attempts']) for e in dlq] == [
        (low, 'max_attempts', 'flaky again', 2)]
    snap = c.metrics.snapshot()
    assert snap['messaging.dlq_length']['coder:1'] == 1
    assert snap['messaging.nacks.total'] == 2
    assert snap['messaging.retries.scheduled.total'] == 1
    assert snap['messaging.delivered.ok'] == 2
    assert set(snap['messaging.queue_length']['coder:1']) == {'1', '5', '9'}
    assert c.stats('coder:1')['dlq'] == 1
    assert c.dlq_replay('coder:1') == 1
    d = c.receive('coder:1', wait_s=5)
    assert d.id == low and d.attempt == 1
    c.nack(d, permanent=True, error='bad input')
    assert c.dlq_list('coder:1')[0]['reason'] == 'permanent'
    assert c.dlq_purge('coder:1') == 1
    # The messaging_* metrics are in the registry.
    assert registry.get_sample_value('messaging_dead_lettered_total',
                                     {'agent': 'coder:1', 'reason': 'permanent'}) == 1
    c.close()


def test_trace_travels_with_the_message(uri, registry):
    c = Coordinator(uri, registry)
    with trace.span() as sent_in:
        c.send('planner:1', 'coder:1', b'x')
    d = c.receive('coder:1')
    assert d.trace.trace_id == sent_in.trace_id
    with trace.span(d.trace) as work:
        assert work.trace_id == sent_in.trace_id and work.parent_span_id == d.trace.span_id
    c.ack(d)
    c.send('planner:1', 'coder:1', b'no trace')
    assert c.receive('coder:1').trace is None


def test_bad_input(registry):
    c = Coordinator('memory:', registry, max_payload_bytes=10)
    for args in [('', 'coder:1', b'x'), ('a:1', 'b:1', b'x' * 11), ('a', 'b:1', b'x')]:
        with pytest.raises(ValueError):
            c.send(*args)
    with pytest.raises(ValueError):
        c.send('a:1', 'b:1', b'x', priority=3)
    with pytest.raises(ValueError):
        Coordinator('nosuch://x', registry)
    other = Coordinator('memory:', agentmon.CollectorRegistry())
    other.send('a:1', 'b:1', b'x')
    with pytest.raises(ValueError):
        c.ack(other.receive('b:1'))
    c.close()
    with pytest.raises(ValueError):
        c.send('a:1', 'b:1', b'x')


def test_dlq_growth_callback(registry):
    seen = []
    c = Coordinator('memory:', registry, dlq_growth_threshold=2, dlq_growth_window_s=60,
                    on_dlq_growth=lambda agent, n, w: seen.append((agent, n)))
    for _ in range(2):
        c.send('a:1', 'coder:1', b'x')
        c.nack(c.receive('coder:1'), permanent=True)
    assert seen == [('coder:1', 2)]


def test_asyncio_never_blocks_the_loop(uri, registry):
    c = AsyncCoordinator(uri, registry)
    ticks = []

    async def ticker(stop):
        while not stop.is_set():
            ticks.append(1)
            await asyncio.sleep(0.01)

    async def consumer(agent):
        d = await c.receive(agent, wait_s=10)
        await c.ack(d)
        return d.payload

    async def main():
        stop = asyncio.Event()
        t = asyncio.create_task(ticker(stop))
        consumers = [asyncio.create_task(consumer(f'w:{i}')) for i in range(8)]
        await asyncio.sleep(0.3)            # all eight wait in receive ...
        during_wait = len(ticks)            # ... and the loop kept ticking
        for i in range(8):
            await c.send('boss:1', f'w:{i}', f'job {i}')
        got = await asyncio.gather(*consumers)
        stop.set()
        await t
        return during_wait, got

    during_wait, got = asyncio.run(main())
    assert during_wait > 5
    assert sorted(got) == [f'job {i}'.encode() for i in range(8)]
    snap = asyncio.run(c.snapshot())
    assert snap['messaging.delivered.ok'] >= 8


def test_asyncio_cancelled_receive_loses_nothing(uri, registry):
    c = AsyncCoordinator(uri, registry, backoff_base_s=0.01, backoff_jitter=-1)

    async def main():
        waiting = asyncio.create_task(c.receive('coder:1', wait_s=10))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await c.send('planner:1', 'coder:1', b'after cancel')
        d = None
        for _ in range(50):                 # handed back at most once, then here
            d = await c.receive('coder:1', wait_s=0.2)
            if d is not None:
                break
        return d

    d = asyncio.run(main())
    assert d is not None and d.payload == b'after cancel'


def _redis_worker(url, me, n, q):
    c = Coordinator(url, agentmon.CollectorRegistry())
    got = 0
    while got < n:
        d = c.receive(me, wait_s=5)
        if d is None:
            break
        c.ack(d)
        got += 1
    c.close()       # flushes this process's counter deltas to Redis
    q.put(got)


def test_processes_share_redis_queues(redis):
    url = redis.url + '?prefix=mp'
    c = RedisMessageCoordinator(url, agentmon.CollectorRegistry())
    for i in range(200):
        c.send('planner:1', 'coder:1', str(i))
    ctx = multiprocessing.get_context('spawn')
    q = ctx.Queue()
    procs = [ctx.Process(target=_redis_worker, args=(url, 'coder:1', 100, q)) for _ in range(2)]
    for p in procs:
        p.start()
    counts = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert sum(counts) == 200
    snap = c.metrics.snapshot()
    assert snap['messaging.delivered.ok'] == 200    # every process's acks, from Redis
    assert snap['messaging.queue_length']['coder:1'] == {'1': 0, '5': 0, '9': 0}
    c.close()


def test_redis_outage_is_an_error_then_heals(redis):
    c = Coordinator(redis.url + '?prefix=out', agentmon.CollectorRegistry())
    c.send('a:1', 'b:1', b'before')
    redis.stop('KILL')
    with pytest.raises(BackendError):
        c.send('a:1', 'b:1', b'during')
    redis.start()   # the same port, empty (no persistence)
    for _ in range(20):
        try:
            c.send('a:1', 'b:1', b'after')
            break
        except BackendError:
            pass
    d = c.receive('b:1', wait_s=2)
    assert d is not None and d.payload == b'after'
