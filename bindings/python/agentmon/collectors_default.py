"""The default registry's collectors: process, platform and garbage
collector metrics, as prometheus_client registers them, but native.

prometheus_client computes these in Python at each scrape; here they are
families of the registry's native registry -- process_* read from /proc by
libagentmon at exposition time, python_info set once, python_gc_* kept
current by a gc.callbacks hook -- so a scrape of REGISTRY needs no GIL.
Each is one collector object, so the common
``REGISTRY.unregister(PROCESS_COLLECTOR)`` works as it does with
prometheus_client.
"""
import gc
import platform as pf
from typing import Iterable, List

from .metrics_core import Metric
from .registry import Collector, CollectorRegistry, REGISTRY, _native_metrics


class _NativeGroup(Collector):
    """Families made natively in one registry, registered as one collector."""
    _families: List[tuple] = []   # (name, type, help)

    def _attach(self, registry):
        self._registry = registry
        names = []
        for name, typ, _ in self._families:
            names.append(name)
            names += [name + s for s in {'counter': ['_total', '_created']}.get(typ, [])]
        registry._register_native_group(self, names)

    def describe(self) -> Iterable[Metric]:
        return [Metric(n, h, t) for n, t, h in self._families]

    def collect(self) -> Iterable[Metric]:
        if self._registry is None:
            return []
        out = []
        for name, _, _ in self._families:
            out += _native_metrics(self._registry._native, only=name)
        return out


class ProcessCollector(_NativeGroup):
    """process_* metrics of this process (libagentmon reads /proc at each
    exposition): CPU seconds, resident and virtual memory, open and maximum
    file descriptors, start time, threads. Only the calling process, without
    a namespace: other arguments of prometheus_client's ProcessCollector are
    refused."""
    _families = [
        ('process_cpu_seconds', 'counter', 'Total user and system CPU time spent in seconds.'),
        ('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.'),
        ('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.'),
        ('process_open_fds', 'gauge', 'Number of open file descriptors.'),
        ('process_max_fds', 'gauge', 'Maximum number of open file descriptors.'),
        ('process_start_time_seconds', 'gauge',
         'Start time of the process since unix epoch in seconds.'),
        ('process_threads', 'gauge', 'Number of OS threads in the process.'),
    ]

    def __init__(self, namespace: str = '', pid=None, proc=None,
                 registry: CollectorRegistry = REGISTRY):
        if namespace or pid is not None or proc is not None:
            raise ValueError('agentmon.ProcessCollector reports the calling process only, '
                             'without a namespace')
        self._registry = None
        if registry:
            registry._native.enable_process_metrics()
            self._attach(registry)

    def _unbind(self):
        for name, _, _ in self._families:
            self._registry._native.unregister(name)
        self._registry = None


class PlatformCollector(_NativeGroup):
    """python_info{implementation,major,minor,patchlevel,version} 1."""
    _families = [('python_info', 'gauge', 'Python platform information')]

    def __init__(self, registry: CollectorRegistry = REGISTRY, platform=None):
        from .metrics import Gauge
        self._platform = pf if platform is None else platform
        self._registry = None
        if registry:
            info = self._info()
            self._gauge = Gauge.__new__(Gauge)
            self._gauge._bind(registry._native, 'python_info', self._families[0][2],
                              tuple(info))
            self._gauge.labels(*info.values()).set(1)
            self._attach(registry)

    def _info(self):
        major, minor, patchlevel = self._platform.python_version_tuple()
        return {
            "version": self._platform.python_version(),
            "implementation": self._platform.python_implementation(),
            "major": major,
            "minor": minor,
            "patchlevel": patchlevel,
        }

    def _unbind(self):
        self._gauge._unbind()
        self._registry = None


class GCCollector(_NativeGroup):
    """python_gc_objects_collected_total, python_gc_objects_uncollectable_total
    and python_gc_collections_total by generation, kept current by a
    gc.callbacks hook (a few additions per collection)."""
    _families = [
        ('python_gc_objects_collected', 'counter', 'Objects collected during gc'),
        ('python_gc_objects_uncollectable', 'counter', 'Uncollectable object found during GC'),
        ('python_gc_collections', 'counter', 'Number of times this generation was collected'),
    ]

    def __init__(self, registry: CollectorRegistry = REGISTRY):
        from .metrics import Counter
        self._registry = None
        if not registry or not hasattr(gc, 'get_stats') or \
                pf.python_implementation() != 'CPython':
            return
        counters = []
        for name, _, doc in self._families:
            c = Counter.__new__(Counter)
            c._bind(registry._native, name, doc, ('generation',))
            counters.append(c)
        self._counters = counters
        stats = gc.get_stats()
        self._gens = [[c.labels(str(g)) for c in counters] for g in range(len(stats))]
        for g, stat in enumerate(stats):
            collected, uncollectable, collections = self._gens[g]
            collected.inc(stat['collected'])
            uncollectable.inc(stat['uncollectable'])
            collections.inc(stat['collections'])
        self._attach(registry)
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase, info):
        if phase != 'stop':
            return
        g = info.get('generation', 0)
        if 0 <= g < len(self._gens):
            collected, uncollectable, collections = self._gens[g]
            collected.inc(info.get('collected', 0))
            uncollectable.inc(info.get('uncollectable', 0))
            collections.inc()

    def _unbind(self):
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        for c in self._counters:
            c._unbind()
        self._registry = None


PROCESS_COLLECTOR = ProcessCollector()
PLATFORM_COLLECTOR = PlatformCollector()
GC_COLLECTOR = GCCollector()
