"""examples/python/agent.py end to end: the asyncio agent on a real
redis-server, scraped by a real Prometheus (with exemplar storage): the
packs' series arrive in Prometheus, and a trace id Prometheus kept as an
exemplar is the trace_id of the agent's own log lines."""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

import pytest

from conftest import BUILD, ROOT, free_port, http_get, start_server, wait_until


def prom_query(base, q):
    _, _, body = http_get(f'{base}/api/v1/query?' + urllib.parse.urlencode({'query': q}))
    return json.loads(body)['data']['result']


def test_agent_scraped_by_prometheus(redis, tmpdir_path):
    prometheus = shutil.which('prometheus')
    if not prometheus:
        pytest.skip('prometheus is not installed')
    out_path = os.path.join(tmpdir_path, 'agent.log')
    out = open(out_path, 'wb')
    env = dict(os.environ, PYTHONPATH=os.path.join(BUILD, 'python'))
    agent = subprocess.Popen([sys.executable, os.path.join(ROOT, 'examples', 'python', 'agent.py'),
                              '--coordinator', redis.url + '?prefix=example', '--port', '0'],
                             stdout=out, stderr=subprocess.STDOUT, env=env)
    prom = None
    try:
        def port():
            for line in open(out_path).read().splitlines():
                d = json.loads(line)
                if d.get('message') == 'metrics server started':
                    return d['port']
            assert agent.poll() is None, open(out_path).read()
            return None
        agent_port = wait_until(port, 30, 'the agent to start')
        pport = free_port()
        cfg = os.path.join(tmpdir_path, 'prometheus.yml')
        with open(cfg, 'w') as f:
            f.write('global: {scrape_interval: 1s}\n'
                    'scrape_configs:\n'
                    '  - job_name: agent\n'
                    f'    static_configs: [{{targets: ["127.0.0.1:{agent_port}"]}}]\n')
        prom = start_server([prometheus, f'--config.file={cfg}',
                             f'--storage.tsdb.path={tmpdir_path}/data',
                             f'--web.listen-address=127.0.0.1:{pport}',
                             '--enable-feature=exemplar-storage'], pport, tmpdir_path,
                            log='prometheus.log')
        base = prom.url
        wait_until(lambda: prom_query(base, 'up{job="agent"} == 1'), 60, 'a successful scrape')
        wait_until(lambda: prom_query(base, 'sum(agent_task_success_total) > 0'), 60,
                   'task successes in Prometheus')
        for q in ('ccr_requests_total', 'gen_ai_client_token_usage_count',
                  'a2a_requests_total', 'insa_circuit_breaker_state',
                  'messaging_queue_length', 'messaging_delivered_ok_total'):
            assert prom_query(base, q), q

        def exemplar_trace_ids():
            now = time.time()
            _, _, body = http_get(f'{base}/api/v1/query_exemplars?' + urllib.parse.urlencode(
                {'query': 'agent_task_duration_seconds_bucket', 'start': now - 300,
                 'end': now + 60}))
            ids = set()
            for series in json.loads(body)['data']:
                for ex in series['exemplars']:
                    ids.add(ex['labels'].get('trace_id'))
            return ids - {None}
        ids = wait_until(exemplar_trace_ids, 60, 'exemplars in Prometheus')
        logged = {json.loads(x).get('trace_id') for x in open(out_path).read().splitlines()}
        assert ids & logged, (list(ids)[:3], list(logged)[:3])
    finally:
        agent.terminate()
        agent.wait(15)
        out.close()
        if prom:
            prom.stop()
