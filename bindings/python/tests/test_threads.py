"""The GIL and threads: exact totals under many threads, and fork() while
other threads encode, scrape and make series.

The hot path takes no lock but the GIL; these tests show that is enough
(no lost update, no torn read) and that fork() in the middle of GIL-free
library work (encodes, the HTTP server's threads) leaves a child that can
use the library (the fork gate, bindings/python/src/fork.c). A child that
deadlocked would be killed by the bound below and fail the test.
"""
import os
import signal
import threading
import time

import agentmon
from conftest import http_get


def test_many_threads_exact_totals(registry):
    c = agentmon.Counter('ops', 'Ops.', ['worker', 'kind'], registry=registry)
    h = agentmon.Histogram('lat', 'Lat.', ['worker'], registry=registry, buckets=[0.5, 1])
    g = agentmon.Gauge('inflight', 'In flight.', registry=registry)
    n_threads, n = 8, 20000

    def work(k):
        for i in range(n):
            c.labels(str(k % 2), 'a' if i % 2 else 'b').inc()  # shared and own children
            h.labels(str(k)).observe((i % 4) / 4)
            g.inc()
            g.dec()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(registry.get_sample_value('ops_total', {'worker': w, 'kind': k})
                for w in '01' for k in 'ab')
    assert total == n_threads * n
    for k in range(n_threads):
        assert registry.get_sample_value('lat_count', {'worker': str(k)}) == n
        assert registry.get_sample_value('lat_bucket', {'worker': str(k), 'le': '0.5'}) == 3 * n / 4
    assert registry.get_sample_value('inflight') == 0


def test_labels_race_creates_one_child(registry):
    c = agentmon.Counter('race', 'Race.', ['k'], registry=registry)
    got = []
    barrier = threading.Barrier(8)

    def grab():
        barrier.wait()
        for i in range(2000):
            got.append(c.labels(str(i % 50)))
    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    by_key = {}
    for child in got:
        by_key.setdefault(child._labelvalues, set()).add(id(child))
    assert len(by_key) == 50 and all(len(ids) == 1 for ids in by_key.values())


def child_work(registry):
    """What a forked child does: everything that takes a library lock."""
    c = agentmon.Counter('child_made', 'Made in the child.', ['i'], registry=registry)
    for i in range(100):
        c.labels(str(i)).inc()
    text = agentmon.generate_latest(registry)
    assert b'child_made_total{i="99"} 1' in text
    agentmon.Counter('child_other', 'Other.', registry=agentmon.CollectorRegistry()).inc()


def test_fork_during_gil_free_work():
    r = agentmon.CollectorRegistry()
    big = agentmon.Counter('big', 'Big.', ['k'], registry=r, max_children=50000)
    for i in range(20000):
        big.labels(str(i)).inc(i)
    server, _ = agentmon.start_http_server(0, addr='127.0.0.1', registry=r)
    stop = threading.Event()

    def encoder():
        while not stop.is_set():
            agentmon.generate_latest(r)      # GIL released while encoding

    def scraper():
        while not stop.is_set():
            http_get(f'http://127.0.0.1:{server.port}/metrics')   # server threads encode

    def maker():
        k = 0
        while not stop.is_set():
            big.labels(f'new{k % 5000}').inc()
            k += 1
    threads = [threading.Thread(target=f) for f in (encoder, scraper, maker)]
    for t in threads:
        t.start()
    try:
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                rc = 1
                try:
                    signal.alarm(20)          # a deadlock ends here, as a failure
                    child_work(r)
                    rc = 0
                finally:
                    os._exit(rc)
            _, status = os.waitpid(pid, 0)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.shutdown()
    # The parent is unharmed.
    assert r.get_sample_value('big_total', {'k': '19999'}) == 19999


def test_fork_child_values_are_its_own():
    r = agentmon.CollectorRegistry()
    c = agentmon.Counter('n', 'N.', registry=r)
    c.inc(5)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        c.inc(2)
        os.write(wr, str(r.get_sample_value('n_total')).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(rd, 64) == b'7.0'   # the child inherited 5 and added 2
    assert r.get_sample_value('n_total') == 5
    os.close(rd)
    os.close(wr)
