"""Logs: the JSON lines of libagentmon's logger from Python's logging, with
the trace of the task that logged (asyncio tasks interleaved on one thread
keep theirs), from many threads into one file without a torn line."""
import asyncio
import io
import json
import logging
import os
import re
import subprocess
import threading

import pytest

from agentmon import log, trace
from conftest import BUILD

TS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')


def logger(name, handler):
    lg = logging.getLogger(name)
    lg.handlers[:] = [handler]
    lg.setLevel(logging.DEBUG)
    lg.propagate = False
    return lg


def test_line_shape():
    out = io.StringIO()
    lg = logger('planner', log.JsonHandler(out))
    lg.info('task %s done', 't-17', extra={'task_id': 't-17', 'attempt': 2, 'ratio': 0.5,
                                           'ok': True, 'none': None, 'nan': float('nan'),
                                           'level': 'shadowed', 'big': 2 ** 70})
    line = out.getvalue()
    assert line.endswith('\n') and line.count('\n') == 1
    d = json.loads(line)
    assert list(d)[:4] == ['timestamp', 'level', 'component', 'message']
    assert TS.match(d['timestamp'])
    assert (d['level'], d['component'], d['message']) == ('INFO', 'planner', 'task t-17 done')
    assert (d['task_id'], d['attempt'], d['ratio'], d['ok'], d['none']) == ('t-17', 2, 0.5,
                                                                           True, None)
    assert d['nan'] == 'NaN' and d['big'] == str(2 ** 70)
    assert d['_level'] == 'shadowed'       # a duplicate key gets "_" in front
    assert 'trace_id' not in d             # no current trace
    lg.log(25, 'between info and warning')
    assert json.loads(out.getvalue().splitlines()[-1])['level'] == 'INFO'


def test_escapes_and_exceptions():
    out = io.StringIO()
    lg = logger('esc', log.JsonHandler(out, component='worker'))
    text = 'quote " backslash \\ nl \n tab \t ctl \x01 caf\u00e9 \U0001F600'
    lg.warning(text)
    d = json.loads(out.getvalue())
    assert d['message'] == text and d['component'] == 'worker'
    assert '\\u0001' in out.getvalue()
    try:
        raise KeyError('missing')
    except KeyError:
        lg.exception('lookup failed')
    d = json.loads(out.getvalue().splitlines()[-1])
    assert (d['level'], d['error_type'], d['error_message']) == ('ERROR', 'KeyError', "'missing'")
    assert 'Traceback' in d['traceback']


def test_trace_follows_asyncio_tasks():
    out = io.StringIO()
    lg = logger('tasks', log.JsonHandler(out))

    async def work(n):
        with trace.span() as ctx:
            for i in range(3):
                lg.info('step', extra={'task': n, 'i': i})
                await asyncio.sleep(0)
            return n, ctx

    async def main():
        return await asyncio.gather(*(work(n) for n in range(4)))

    ctxs = dict(asyncio.run(main()))
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 12
    tasks_seen = [d['task'] for d in lines]
    assert tasks_seen != sorted(tasks_seen)   # they did interleave
    for d in lines:
        assert d['trace_id'] == ctxs[d['task']].trace_id
        assert d['span_id'] == ctxs[d['task']].span_id
    # A record's own trace_id wins over the context's.
    with trace.span():
        lg.info('explicit', extra={'trace_id': 'mine'})
    assert json.loads(out.getvalue().splitlines()[-1])['trace_id'] == 'mine'


def test_threads_into_one_file(tmpdir_path):
    path = os.path.join(tmpdir_path, 'agent.log')
    h = log.JsonHandler(path=path)
    lg = logger('threads', h)
    n_threads, n = 8, 500

    def write(k):
        with trace.span():
            for i in range(n):
                lg.info('x' * (i % 9000), extra={'worker': k, 'seq': i})
    threads = [threading.Thread(target=write, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = open(path).read().splitlines()
    assert len(lines) == n_threads * n
    seen = set()
    for x in lines:
        d = json.loads(x)
        seen.add((d['worker'], d['seq']))
        assert len(d['message']) == d['seq'] % 9000
    assert len(seen) == n_threads * n
    assert h.dropped() == 0


def test_buffered_handler(tmpdir_path):
    """buffered=True: lines wait in memory until flush(), a WARNING, the
    logger's thread or close(); threads' lines come out whole; a child of
    os.fork() writes only its own lines."""
    path = os.path.join(tmpdir_path, 'buffered.log')
    h = log.JsonHandler(path=path, buffered=True)
    lg = logger('buffered', h)

    def write(k):
        with trace.span():
            for i in range(300):
                lg.info('x' * (i % 9000), extra={'worker': k, 'seq': i})
    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.flush()
    lines = open(path).read().splitlines()
    assert len(lines) == 1200
    assert {(d['worker'], d['seq']) for d in map(json.loads, lines)} == \
        {(k, i) for k in range(4) for i in range(300)}

    lg.info('gathered before the warning')
    lg.warning('the warning')            # written before warning() returns
    text = open(path).read()
    assert text.index('gathered before') < text.index('the warning')

    lg.info('gathered before the fork')
    pid = os.fork()
    if pid == 0:
        lg.info('from the child')        # no thread here: written at once
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    h.close()
    lines = open(path).read().splitlines()
    assert sum('gathered before the fork' in x for x in lines) == 1
    assert sum('from the child' in x for x in lines) == 1
    assert len(lines) == 1204
    assert h.dropped() == 0
    with pytest.raises(ValueError):
        log.JsonHandler(buffered=True)


def test_same_keys_as_the_c_logger(tmpdir_path):
    """A line of the C logger (tests/integration/log_writer) and a Python
    line with the same fields have the same keys in the same order."""
    writer = os.path.join(BUILD, 'tests', 'log_writer')
    if not os.path.exists(writer):
        pytest.skip('build/tests/log_writer is not built')
    out = subprocess.run([writer, '1', '4'], capture_output=True, check=True).stdout
    c_line = json.loads(out.decode('utf-8').splitlines()[0])
    buf = io.StringIO()
    h = log.JsonHandler(buf)
    # "thread" cannot be an extra= of a LogRecord (logging reserves it):
    # write the same fields through the handler's logger, as emit() does.
    fields = [(k, v) for k, v in c_line.items()
              if k not in ('timestamp', 'level', 'component', 'message', 'trace_id', 'span_id',
                           '_level')]
    fields.insert(fields.index(('m_hex', c_line['m_hex'])) + 1, ('level', 'shadow'))
    with trace.span():
        h._logger.log(logging.INFO, 'writer', c_line['message'], fields)
    py_line = json.loads(buf.getvalue())
    assert list(py_line) == list(c_line)
    assert {k: v for k, v in py_line.items() if k not in ('timestamp', 'trace_id', 'span_id')} \
        == {k: v for k, v in c_line.items() if k not in ('timestamp', 'trace_id', 'span_id')}


def test_formatter():
    f = log.JsonFormatter(component='fmt')
    rec = logging.makeLogRecord({'name': 'n', 'msg': 'hello', 'levelno': logging.ERROR,
                                 'levelname': 'ERROR', 'extra_field': 3})
    d = json.loads(f.format(rec))
    assert (d['component'], d['message'], d['level'], d['extra_field']) == ('fmt', 'hello',
                                                                             'ERROR', 3)
