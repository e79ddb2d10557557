"""JSON log lines with W3C trace context, for Python's logging.

    import logging
    from agentmon.log import JsonHandler

    logging.getLogger().addHandler(JsonHandler())          # stdout
    log = logging.getLogger('planner')
    with trace.span():
        log.info('task done', extra={'task_id': 't-17', 'attempt': 2})

writes, through libagentmon's logger (the same bytes a C agent writes):

    {"timestamp":"2026-11-24T17:20:17.123Z","level":"INFO","component":"planner",
     "message":"task done","trace_id":"4bf9...","span_id":"00f0...",
     "task_id":"t-17","attempt":2}

component is the logging.Logger's name (or the handler's component=),
trace_id/span_id come from the current task's TraceContext
(agentmon.trace, a ContextVar that follows asyncio tasks), extra= fields
follow in order, and an exception adds error_type and error_message (the
monitoring spec's log_error) and its traceback as "traceback". A record's
own trace_id (extra={'trace_id': ...}) replaces the current context's.
"""
import logging
import sys
import traceback
from typing import Optional

from . import _agentmon as _am

# The attributes every LogRecord has; anything else is an extra= field.
_STANDARD = frozenset(logging.LogRecord('', 0, '', 0, '', (), None).__dict__) | {
    'message', 'asctime', 'taskName'}


def _fields(record: logging.LogRecord):
    fields = [(k, v) for k, v in record.__dict__.items() if k not in _STANDARD]
    if record.exc_info and record.exc_info[0] is not None:
        etype, evalue, tb = record.exc_info
        fields.append(('error_type', etype.__name__))
        fields.append(('error_message', str(evalue)))
        fields.append(('traceback', ''.join(traceback.format_exception(etype, evalue, tb))))
    if record.stack_info:
        fields.append(('stack_info', record.stack_info))
    return fields


def _trace_arg(fields):
    """False when the record brings its own trace_id (it replaces the
    context's), else None: the current task's context."""
    return False if any(k == 'trace_id' for k, _ in fields) else None


class JsonHandler(logging.Handler):
    """A logging.Handler writing libagentmon's JSON lines.

    Destination: stream (default sys.stdout, written with its write()), or
    path (a file opened for appending; several processes may share it), or
    fd (a file descriptor, written with one write(2) per line). component
    overrides the logger name as the line's "component".

    buffered=True (with path or fd): lines are gathered in memory and
    written in batches -- when 64 KiB have gathered, at once for a WARNING
    or worse, 100 ms after a batch's first line, at flush() and close(),
    and at exit; a crash loses at most the last 100 ms of lines."""

    def __init__(self, stream=None, *, path: Optional[str] = None, fd: Optional[int] = None,
                 component: Optional[str] = None, level=logging.NOTSET,
                 max_line_bytes: int = 0, buffered: bool = False):
        super().__init__(level)
        self.component = component
        if buffered and path is None and fd is None:
            raise ValueError('buffered=True needs path= or fd=')
        if path is not None:
            self._logger = _am.Logger(path=path, max_line_bytes=max_line_bytes,
                                      buffered=buffered)
        elif fd is not None:
            self._logger = _am.Logger(fd=fd, max_line_bytes=max_line_bytes, buffered=buffered)
        else:
            self.stream = stream if stream is not None else sys.stdout
            self._logger = _am.Logger(stream=self.stream, max_line_bytes=max_line_bytes)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = _fields(record)
            self._logger.log(record.levelno, self.component or record.name,
                             record.getMessage(), fields, _trace_arg(fields))
            stream = getattr(self, 'stream', None)
            if stream is not None and hasattr(stream, 'flush'):
                stream.flush()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write what a buffered handler has gathered (logging.shutdown()
        and close() call this too)."""
        self._logger.flush()

    def close(self) -> None:
        try:
            self._logger.flush()
        except OSError:
            pass  # counted in dropped()
        super().close()

    def dropped(self) -> int:
        """Lines libagentmon could not write."""
        return self._logger.dropped()


class JsonFormatter(logging.Formatter):
    """The same JSON line as a Formatter, for handlers of your own."""

    def __init__(self, component: Optional[str] = None):
        super().__init__()
        self.component = component
        self._logger = _am.Logger(capture=True)

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        line = self._logger.format(record.levelno, self.component or record.name,
                                   record.getMessage(), fields, _trace_arg(fields))
        return line[:-1] if line.endswith('\n') else line


def setup(level=logging.INFO, **kwargs) -> JsonHandler:
    """Send the root logger's records to a JsonHandler (stdout by default)."""
    handler = JsonHandler(**kwargs)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
