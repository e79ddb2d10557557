"""Multi-process mode: workers of one service in one shared-memory segment.

A real gunicorn (Debian's) with workers killed by SIGKILL mid-load: no
count lost, the segment's file never grows, and any worker, `agentmon shm`
(C) or `python -m agentmon` (Python) serves the same merged total, read by
prometheus_client's parser. multiprocessing workers (fork and spawn),
gauge modes, exemplars, prometheus_client's names (MultiProcessCollector,
mark_process_dead, PROMETHEUS_MULTIPROC_DIR).
"""
import http.client
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error

import pytest

import agentmon
from agentmon import multiprocess
from conftest import BUILD, ROOT, free_port, http_get, wait_until

prometheus_client = pytest.importorskip('prometheus_client')
from prometheus_client.parser import text_string_to_metric_families as parse  # noqa: E402


def samples(text):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in parse(text) for s in f.samples}


@pytest.fixture
def seg_path(tmpdir_path):
    yield os.path.join(tmpdir_path, 'svc.agentmon')
    multiprocess.disable()


def _worker(path, k, n, ready, kill_me):
    """A multiprocessing worker: counts n, observes, sets gauges."""
    multiprocess.enable(path)
    c = agentmon.Counter('jobs_total', 'Jobs.', ['kind'], registry=None)
    h = agentmon.Histogram('job_seconds', 'Job time.', registry=None, buckets=[0.5, 1])
    g = agentmon.Gauge('queue', 'Queue.', registry=None, multiprocess_mode='livesum')
    gm = agentmon.Gauge('peak', 'Peak.', registry=None, multiprocess_mode='max')
    child = c.labels('render')
    for i in range(n):
        child.inc()
    h.observe(0.25 * (k + 1), {'trace_id': f'worker{k}'})
    g.set(k + 1)
    gm.set(10 * (k + 1))
    ready.put(k)
    if kill_me:
        time.sleep(60)   # killed here


@pytest.mark.parametrize('method', ['fork', 'spawn'])
def test_multiprocessing_workers(seg_path, method):
    multiprocess.enable(seg_path)
    r = agentmon.CollectorRegistry()
    multiprocess.MultiProcessCollector(r)
    ctx = multiprocessing.get_context(method)
    ready = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(seg_path, k, 5000, ready, k >= 2))
             for k in range(4)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    for p in procs[2:]:
        os.kill(p.pid, signal.SIGKILL)   # two die with their counts in shared memory
    for p in procs:
        p.join(30)
    s = samples(agentmon.generate_latest(r).decode())
    assert s[('jobs_total', (('kind', 'render'),))] == 20000
    assert s[('job_seconds_count', ())] == 4
    assert s[('job_seconds_bucket', (('le', '0.5'),))] == 2
    assert ('queue', ()) not in s         # livesum: nobody alive, no sample
    assert s[('peak', ())] == 40          # max keeps the dead
    from agentmon.openmetrics.exposition import generate_latest as om
    assert 'trace_id="worker' in om(r).decode()
    stats = multiprocess.segment().stats()
    assert stats['procs_dead'] == 4
    assert multiprocess.mark_process_dead(0) == 4
    assert samples(agentmon.generate_latest(r).decode())[('jobs_total', (('kind', 'render'),))] \
        == 20000
    with pytest.raises(NotImplementedError):
        agentmon.Counter('jobs_total', 'Jobs.', ['kind'], registry=None).remove('render')


def test_prometheus_client_names(tmpdir_path):
    """prometheus_client's environment variable and classes, unchanged."""
    code = textwrap.dedent('''
        import os, sys
        from agentmon import CollectorRegistry, Counter, generate_latest, multiprocess
        Counter('hits', 'Hits.').inc(3)
        pid = os.fork()
        if pid == 0:
            Counter('hits', 'Hits.', registry=None).inc(4)
            os._exit(0)
        os.waitpid(pid, 0)
        r = CollectorRegistry()
        multiprocess.MultiProcessCollector(r)
        sys.stdout.write(generate_latest(r).decode())
    ''')
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=tmpdir_path,
               PYTHONPATH=os.path.join(BUILD, 'python'))
    env.pop('AGENTMON_MULTIPROC_FILE', None)
    code = 'from agentmon import multiprocess as m; m.enable()\n' + code
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert samples(out.stdout)[('hits_total', ())] == 7
    assert os.listdir(tmpdir_path) == ['agentmon.shm']   # one file, not one per process


APP = '''
import os
import agentmon
from agentmon import Counter, Histogram, Gauge, make_wsgi_app
REQS = Counter('app_requests_total', 'Requests served.', ['path'])
LAT = Histogram('app_latency_seconds', 'Latency.', buckets=[0.001, 0.01, 0.1])
UP = Gauge('app_workers_up', 'Workers alive.', multiprocess_mode='livesum')
UP.set(1)
metrics = make_wsgi_app()

def app(environ, start_response):
    if environ['PATH_INFO'] == '/metrics':
        return metrics(environ, start_response)
    with LAT.time():
        REQS.labels('/work').inc()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'ok']
'''


def test_gunicorn_workers_killed_mid_load(tmpdir_path):
    gunicorn = shutil.which('gunicorn')
    if not gunicorn:
        pytest.skip('gunicorn is not installed')
    with open(os.path.join(tmpdir_path, 'app.py'), 'w') as f:
        f.write(APP)
    seg = os.path.join(tmpdir_path, 'gunicorn.agentmon')
    port = free_port()
    env = dict(os.environ, AGENTMON_MULTIPROC_FILE=seg,
               PYTHONPATH=os.path.join(BUILD, 'python'))
    log = open(os.path.join(tmpdir_path, 'gunicorn.log'), 'wb')
    g = subprocess.Popen([gunicorn, '-w', '4', '-b', f'127.0.0.1:{port}', '--chdir', tmpdir_path,
                          '--graceful-timeout', '1', 'app:app'], stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    url = f'http://127.0.0.1:{port}'

    def workers():
        out = subprocess.run(['pgrep', '-P', str(g.pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]
    try:
        wait_until(lambda: len(workers()) == 4, 30, 'four gunicorn workers')
        wait_until(lambda: _get(url + '/work') is not None, 30, 'gunicorn to answer')
        size0 = os.path.getsize(seg)
        ok, attempts, lock = [0], [0], threading.Lock()
        stop = threading.Event()

        def load():
            while not stop.is_set():
                with lock:
                    attempts[0] += 1
                if _get(url + '/work') == b'ok':
                    with lock:
                        ok[0] += 1
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        killed = 0
        for _ in range(6):              # a worker killed every 0.3 s under load
            time.sleep(0.3)
            w = workers()
            if w:
                os.kill(w[0], signal.SIGKILL)
                killed += 1
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        wait_until(lambda: len(workers()) == 4, 30, 'gunicorn to replace the workers')
        # Add the warm-up request to what the load counted.
        ok[0] += 1
        attempts[0] += 1
        text = _get(url + '/metrics').decode()
        total = samples(text)[('app_requests_total', (('path', '/work'),))]
        # Every answered request was counted; a request whose worker died
        # after counting it may have gone unanswered.
        assert ok[0] <= total <= attempts[0], (ok[0], total, attempts[0])
        assert killed == 6 and ok[0] > 100
        s = samples(text)
        # The counter and the histogram are two records: a worker killed
        # between them leaves the histogram one short, never one over.
        assert total - killed <= s[('app_latency_seconds_count', ())] <= total
        # livesum: the four alive now, once the replacements have booted
        wait_until(lambda: samples(_get(url + '/metrics').decode()).get(
            ('app_workers_up', ())) == 4, 30, 'four live workers in app_workers_up')
        # The same total from every worker and from the two sidecars.
        for _ in range(8):
            assert samples(_get(url + '/metrics').decode())[
                ('app_requests_total', (('path', '/work'),))] == total
        c_side = subprocess.run([os.path.join(BUILD, 'agentmon'), 'shm', '--file', seg,
                                 '--once'], capture_output=True, text=True, timeout=30)
        assert c_side.returncode == 0, c_side.stderr
        assert samples(c_side.stdout)[('app_requests_total', (('path', '/work'),))] == total
        py_port = free_port()
        side = subprocess.Popen([sys.executable, '-m', 'agentmon', 'serve', '--shm', seg,
                                 '--port', str(py_port)], env=env, stdout=subprocess.DEVNULL)
        try:
            body = wait_until(lambda: _get(f'http://127.0.0.1:{py_port}/metrics'), 30,
                              'the Python sidecar')
            assert samples(body.decode())[('app_requests_total', (('path', '/work'),))] == total
        finally:
            side.terminate()
            side.wait(10)
        # No growth with restarts: the same file, slots reused.
        assert os.path.getsize(seg) == size0
        st = agentmon._agentmon.Shm(seg).stats()
        assert st['procs_live'] + st['procs_dead'] <= st['max_procs']
    finally:
        g.send_signal(signal.SIGQUIT)
        try:
            g.wait(15)
        except subprocess.TimeoutExpired:
            g.kill()
            g.wait()
        log.close()


def _get(url):
    try:
        return http_get(url, timeout=5)[2]
    except (OSError, urllib.error.URLError, http.client.HTTPException):
        return None  # the worker answering was killed
