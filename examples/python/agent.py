#!/usr/bin/python3
"""An asyncio multi-agent worker instrumented with agentmon.

A planner hands tasks to coders over libagentmon's coordinator (Redis, or
in memory), every step under one W3C trace: the coder continues the trace
the message carries, "calls an LLM" (a simulated provider that sometimes
fails, behind a circuit breaker), and reports through the source documents'
packs -- agent_task_*, ccr_* / gen_ai_*, a2a_*, insa_circuit_breaker_*,
messaging_* -- with the trace as the exemplar of what it observes. Every
log line is JSON with the same trace_id. Prometheus scrapes /metrics.

    python3 examples/python/agent.py --coordinator redis://127.0.0.1:6379/0 \\
        --port 9100 --seconds 60

(PYTHONPATH=build/python for the build tree, or pip install
./bindings/python). The first line on stdout is a JSON log line
"metrics server started" with the port, useful with --port 0.
"""
import argparse
import asyncio
import json
import logging
import random
import sys

import agentmon
from agentmon import trace
from agentmon.coord import AsyncCoordinator, PRIO_HIGH, PRIO_NORMAL, QueueFull
from agentmon.log import JsonHandler
from agentmon.packs import A2APack, CircuitBreaker, CircuitOpenError, LLMPack, TaskPack

log = logging.getLogger('agent')


class FlakyLLM:
    """A provider that answers in 20-200 ms and fails 10% of the time."""

    def __init__(self, name, rng):
        self.name = name
        self.rng = rng

    async def complete(self, prompt):
        await asyncio.sleep(self.rng.uniform(0.02, 0.2))
        if self.rng.random() < 0.1:
            raise TimeoutError(f'{self.name} timed out')
        return len(prompt) * 3, len(prompt)


async def planner(coord, tasks, n_tasks, n_coders, rng):
    for i in range(n_tasks):
        with trace.span() as ctx:
            to = f'coder:{i % n_coders}'
            body = {'task': i, 'prompt': 'write a function ' * rng.randint(1, 20)}
            try:
                await coord.send('planner:1', to, body, type='task',
                                 priority=PRIO_HIGH if i % 5 == 0 else PRIO_NORMAL)
                log.info('task sent', extra={'task_id': i, 'to': to})
            except QueueFull:
                log.warning('queue full, task dropped', extra={'task_id': i, 'to': to})
                tasks.finished('planner:1', 0.0, error_type='queue_full', trace=ctx)
        await asyncio.sleep(rng.uniform(0.01, 0.05))


async def coder(coord, name, tasks, llm_pack, a2a, breaker, provider, stop):
    agent = tasks.agent(name)
    while not stop.is_set():
        d = await coord.receive(name, wait_s=0.5)
        if d is None:
            continue
        # Continue the sender's trace: logs and exemplars share its trace_id.
        with trace.span(d.trace):
            t0 = asyncio.get_running_loop().time()
            body = json.loads(d.payload)
            a2a.active(name, 1)
            try:
                with breaker:
                    inp, out = await provider.complete(body['prompt'])
                llm_pack.record('simulated', 'sim-1', asyncio.get_running_loop().time() - t0,
                                input_tokens=inp, output_tokens=out, task_type='code')
                elapsed = asyncio.get_running_loop().time() - t0
                agent.finished(elapsed)
                a2a.request(name, 'code', True, elapsed, response_bytes=out * 4)
                await coord.ack(d)
                log.info('task done', extra={'task_id': body['task'], 'attempt': d.attempt,
                                             'seconds': round(elapsed, 4)})
            except (TimeoutError, CircuitOpenError) as e:
                elapsed = asyncio.get_running_loop().time() - t0
                kind = type(e).__name__
                agent.finished(elapsed, error_type=kind)
                a2a.request(name, 'code', False, elapsed)
                await coord.nack(d, permanent=False, error=str(e))
                log.warning('task failed', extra={'task_id': body['task'], 'attempt': d.attempt,
                                                  'error_type': kind, 'error_message': str(e)})
            finally:
                a2a.active(name, -1)


async def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--coordinator', default='memory:')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=9100)
    p.add_argument('--tasks', type=int, default=100000)
    p.add_argument('--coders', type=int, default=3)
    p.add_argument('--seconds', type=float, default=0, help='stop after this long (0: never)')
    p.add_argument('--seed', type=int, default=1)
    args = p.parse_args(argv)

    handler = JsonHandler(sys.stdout)
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    rng = random.Random(args.seed)
    registry = agentmon.REGISTRY
    tasks, llm_pack, a2a = TaskPack(registry), LLMPack(registry), A2APack(registry)
    breaker = CircuitBreaker('llm:simulated', registry, failure_threshold=5, window_s=10,
                             cooldown_s=2)
    coord = AsyncCoordinator(args.coordinator, registry, max_attempts=3, backoff_base_s=0.05)
    for i in range(args.coders):
        await coord.register(f'coder:{i}')
    server, _ = agentmon.start_http_server(args.port, addr=args.host, registry=registry)
    log.info('metrics server started', extra={'port': server.port,
                                              'coordinator': args.coordinator})
    stop = asyncio.Event()
    workers = [asyncio.create_task(coder(coord, f'coder:{i}', tasks, llm_pack, a2a, breaker,
                                         FlakyLLM('simulated', random.Random(args.seed + i)),
                                         stop)) for i in range(args.coders)]
    plan = asyncio.create_task(planner(coord, tasks, args.tasks, args.coders, rng))
    try:
        if args.seconds:
            await asyncio.wait_for(asyncio.shield(plan), args.seconds)
        else:
            await plan
    except asyncio.TimeoutError:
        plan.cancel()
    stop.set()
    await asyncio.gather(*workers, return_exceptions=True)
    log.info('stopped', extra={'snapshot': json.dumps(await coord.snapshot())})
    await coord.close()
    server.shutdown()


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
