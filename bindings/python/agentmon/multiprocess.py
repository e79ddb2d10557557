"""Multi-process mode: the workers of one service share one registry in
shared memory, and any of them (or a sidecar) serves the merged /metrics.

    # in the parent (gunicorn's config, before workers fork), or in each
    # process with the same path (uvicorn --workers, multiprocessing spawn):
    from agentmon import multiprocess
    multiprocess.enable('/dev/shm/myservice.agentmon')
    # or set AGENTMON_MULTIPROC_FILE=/dev/shm/myservice.agentmon before the
    # first `import agentmon`

After enable(), every Counter, Gauge, Histogram and Summary made (in any
registry) lives in the segment -- libagentmon's shared-memory registry,
include/agentmon/shm.h: one file of fixed size, a row of cells per live
process, written with atomic adds (no file per process, no growth with
restarts); a worker killed with SIGKILL loses nothing it counted; gauges
combine by their multiprocess_mode (all, liveall, sum, livesum, max,
livemax, min, livemin, mostrecent, livemostrecent); exemplars are kept.
generate_latest(REGISTRY), start_http_server() and the WSGI/ASGI apps of
any worker expose the merged values; so does `agentmon shm --file PATH`
or `python -m agentmon serve --shm PATH` as a sidecar.

prometheus_client's names work too: MultiProcessCollector(registry) adds
the segment to a registry, mark_process_dead(pid) folds dead workers' rows
now (otherwise done when a slot is needed), and PROMETHEUS_MULTIPROC_DIR
is read when AGENTMON_MULTIPROC_FILE is not set (the segment is then
<dir>/agentmon.shm). Info and Enum stay per process (as in
prometheus_client's multi-process mode); series in the segment cannot be
removed (other processes record into them).
"""
import os
from typing import Optional

from . import _agentmon as _am
from .metrics_core import Metric
from .registry import Collector, CollectorRegistry, REGISTRY, _json_metric

__all__ = ('enable', 'segment', 'MultiProcessCollector', 'mark_process_dead', 'GAUGE_MODES',
           'default_path')

GAUGE_MODES = {'all': 0, 'liveall': 1, 'sum': 2, 'livesum': 3, 'max': 4, 'livemax': 5,
               'min': 6, 'livemin': 7, 'mostrecent': 8, 'livemostrecent': 9}

_segment: Optional[_am.Shm] = None
_segments = {}


def default_path() -> Optional[str]:
    """AGENTMON_MULTIPROC_FILE, or <PROMETHEUS_MULTIPROC_DIR>/agentmon.shm."""
    path = os.environ.get('AGENTMON_MULTIPROC_FILE')
    if path:
        return path
    d = os.environ.get('PROMETHEUS_MULTIPROC_DIR') or os.environ.get('prometheus_multiproc_dir')
    return os.path.join(d, 'agentmon.shm') if d else None


def open_segment(path: str, **sizes) -> _am.Shm:
    """The segment at path (created with sizes when new), one per process."""
    seg = _segments.get(path)
    if seg is None:
        seg = _segments[path] = _am.Shm(path, **sizes)
    return seg


def enable(path: Optional[str] = None, registry: Optional[CollectorRegistry] = REGISTRY,
           **sizes) -> _am.Shm:
    """Make metrics made from now on live in the segment at path, and add it
    to registry's exposition. sizes (max_procs, max_series, max_cells,
    max_families, max_exemplars, arena_bytes, prefault) apply when the file
    is created."""
    global _segment
    path = path or default_path()
    if not path:
        raise ValueError('multiprocess.enable() needs a path (or AGENTMON_MULTIPROC_FILE)')
    _segment = open_segment(path, **sizes)
    if registry is not None:
        registry._set_shm(_segment)
    return _segment


def segment() -> Optional[_am.Shm]:
    """The enabled segment, or None (single-process mode)."""
    return _segment


def disable() -> None:
    """Metrics made from now on are per process again (tests)."""
    global _segment
    _segment = None


class MultiProcessCollector(Collector):
    """prometheus_client's MultiProcessCollector: the segment's families,
    merged over every process, in registry's exposition."""

    def __init__(self, registry: Optional[CollectorRegistry], path: Optional[str] = None):
        path = path or (_segment.path if _segment is not None else default_path())
        if not path:
            raise ValueError('no segment: pass path or set AGENTMON_MULTIPROC_FILE')
        self._seg = open_segment(path)
        if registry is not None:
            registry._set_shm(self._seg)

    def collect(self):
        import json
        data = json.loads(self._seg.encode(_am.FORMAT_JSON))
        return [_json_metric(fam) for fam in data['metrics'].values()]


def mark_process_dead(pid: int = 0, path: Optional[str] = None) -> int:
    """Fold the rows of every dead process into the accumulator now (the
    segment knows which processes are dead without a pid). Returns how many."""
    seg = open_segment(path) if path else (_segment or open_segment(default_path()))
    return seg.reclaim()


if default_path() and os.environ.get('AGENTMON_MULTIPROC_FILE'):
    enable()
