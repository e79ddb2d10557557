"""Shared fixtures for the agentmon Python tests.

Run with Debian's interpreter and pytest, against the build tree:

    PYTHONPATH=build/python /usr/bin/python3 -m pytest bindings/python/tests

(tests/integration/python.sh does that, and `make test` runs it). Servers
(redis-server, prometheus-pushgateway, prometheus) are started by the tests
that need them, on 127.0.0.1 and a free port, and stopped after; a test
whose server is not installed is skipped.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
BUILD = os.environ.get('AGENTMON_BUILD', os.path.join(ROOT, 'build'))

try:
    import agentmon  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(BUILD, 'python'))
    import agentmon  # noqa: F401


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=20.0, what='condition'):
    """Poll pred() until it is true (not a timed assertion: a bound on a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out waiting for {what}')
        time.sleep(0.05)


def http_get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read()


@pytest.fixture
def registry():
    from agentmon import CollectorRegistry
    return CollectorRegistry()


@pytest.fixture
def tmpdir_path():
    d = tempfile.mkdtemp(prefix='agentmon-py-')
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Server:
    def __init__(self, proc, port, d):
        self.proc, self.port, self.dir = proc, port, d
        self.url = f'http://127.0.0.1:{port}'

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(argv, port, d, ready_path='/-/ready', log='server.log'):
    logf = open(os.path.join(d, log), 'wb')
    proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, cwd=d)

    def ready():
        if proc.poll() is not None:
            raise AssertionError(f'{argv[0]} exited: see {d}/{log}')
        try:
            http_get(f'http://127.0.0.1:{port}{ready_path}', timeout=1)
            return True
        except OSError:
            return False
    wait_until(ready, 30, argv[0])
    return Server(proc, port, d)


@pytest.fixture
def pushgateway(tmpdir_path):
    exe = shutil.which('prometheus-pushgateway')
    if not exe:
        pytest.skip('prometheus-pushgateway is not installed')
    port = free_port()
    s = start_server([exe, f'--web.listen-address=127.0.0.1:{port}'], port, tmpdir_path)
    yield s
    s.stop()


class Redis:
    def __init__(self, d, port):
        self.dir, self.port = d, port
        self.url = f'redis://127.0.0.1:{port}/0'

    def start(self):
        subprocess.run(['redis-server', '--port', str(self.port), '--bind', '127.0.0.1',
                        '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
                        '--pidfile', os.path.join(self.dir, 'redis.pid'), '--dir', self.dir,
                        '--logfile', os.path.join(self.dir, 'redis.log')], check=True)
        wait_until(lambda: subprocess.run(['redis-cli', '-p', str(self.port), 'ping'],
                                          capture_output=True, text=True).stdout.strip()
                   == 'PONG', 20, 'redis-server')

    def stop(self, sig='TERM'):
        pidfile = os.path.join(self.dir, 'redis.pid')
        try:
            pid = int(open(pidfile).read())
        except (OSError, ValueError):
            return
        subprocess.run(['kill', f'-{sig}', str(pid)])
        wait_until(lambda: not os.path.exists(f'/proc/{pid}') or
                   open(f'/proc/{pid}/stat').read().split()[2] == 'Z', 20, 'redis to stop')

    def cli(self, *args):
        return subprocess.run(['redis-cli', '-p', str(self.port)] + list(args),
                              capture_output=True, text=True, check=True).stdout


@pytest.fixture
def redis(tmpdir_path):
    if not shutil.which('redis-server'):
        pytest.skip('redis-server is not installed')
    r = Redis(tmpdir_path, free_port())
    r.start()
    yield r
    r.stop()
