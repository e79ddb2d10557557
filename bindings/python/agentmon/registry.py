"""CollectorRegistry and REGISTRY, with prometheus_client's API.

A CollectorRegistry owns a native registry (agentmon._agentmon.Registry,
one libagentmon am_registry). What it exposes comes from four sources:

- native families made for it (Counter(..., registry=r)): encoded by C;
- metrics made with registry=None and registered later: their own native
  registry is encoded together with this one;
- the shared-memory segment, in multi-process mode (agentmon.multiprocess);
- collectors only Python knows (custom collectors whose collect() yields
  Metric objects, labelled Info, metrics living in another registry):
  rendered by agentmon/_render.py and joined to the native text.

Python keeps the native side's list of sources current (_sync), so the
HTTP server's threads encode without the GIL unless a Python source exists.
REGISTRY is libagentmon's default registry, shared with C code that
passes NULL for a registry (the instrument packs' default).
"""
import copy
import json
import threading
from abc import ABC, abstractmethod
from typing import Dict, Iterable, List, Optional

from . import _agentmon as _am
from . import _render
from .metrics_core import Metric
from .utils import floatToGoString


class Collector(ABC):
    @abstractmethod
    def collect(self) -> Iterable[Metric]:
        pass


class _EmptyCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        return []


def _number(v):
    return float(v)  # JSON numbers, or "NaN", "+Inf", "-Inf"


def _exemplar(x):
    if not x:
        return None
    from .samples import Exemplar
    return Exemplar(x['labels'], _number(x['value']), _number(x['timestamp']))


def _json_metric(fam) -> Metric:
    """A family of the JSON snapshot as prometheus_client's Metric."""
    t, name = fam['type'], fam['name']
    if t == 'counter' and name.endswith('_total'):
        name = name[:-6]
    elif t == 'info' and name.endswith('_info'):
        name = name[:-5]
    m = Metric(name, fam.get('help', ''), t, fam.get('unit', ''))
    for s in fam['series']:
        labels = s['labels']
        if t == 'counter':
            m.add_sample(name + '_total', labels, _number(s['value']), None,
                         _exemplar(s.get('exemplar')))
        elif t == 'info':
            m.add_sample(name + '_info', labels, 1.0)
        elif t == 'stateset':
            for state, on in s['states'].items():
                m.add_sample(name, dict(labels, **{name: state}), 1.0 if on else 0.0)
        elif t == 'histogram':
            exemplars = s.get('exemplars', {})
            for le, count in s['buckets'].items():
                m.add_sample(name + '_bucket', dict(labels, le=floatToGoString(le)),
                             _number(count), None, _exemplar(exemplars.get(le)))
            m.add_sample(name + '_count', labels, _number(s['count']))
            m.add_sample(name + '_sum', labels, _number(s['sum']))
        elif t == 'summary':
            m.add_sample(name + '_count', labels, _number(s['count']))
            m.add_sample(name + '_sum', labels, _number(s['sum']))
        else:
            m.add_sample(name, labels, _number(s['value']))
    return m


def _native_metrics(native, only: Optional[str] = None) -> List[Metric]:
    """The families of a native registry (and its sources) as Metric objects."""
    if native is None:
        return []
    data = json.loads(native.encode(_am.FORMAT_JSON))
    out = []
    for fam in data['metrics'].values():
        m = _json_metric(fam)
        if only is None or m.name == only:
            out.append(m)
    return out


_TYPE_SUFFIXES = {
    'counter': ['_total', '_created'],
    'summary': ['_sum', '_count', '_created'],
    'histogram': ['_bucket', '_sum', '_count', '_created'],
    'gaugehistogram': ['_bucket', '_gsum', '_gcount'],
    'info': ['_info'],
}


class CollectorRegistry(Collector):
    """Metric collector registry (prometheus_client's).

    Collectors must have a no-argument method 'collect' that returns a list
    of Metric objects. Extra keyword argument: max_series, a bound on the
    labelled series of all this registry's native families together.
    """

    def __init__(self, auto_describe: bool = False, target_info: Optional[Dict[str, str]] = None,
                 *, max_series: int = 0, _native=None):
        self._native = _native if _native is not None else _am.Registry()
        self._collector_to_names: Dict[Collector, List[str]] = {}
        self._names_to_collectors: Dict[str, Collector] = {}
        self._auto_describe = auto_describe
        self._lock = threading.RLock()
        self._extras: Dict[Collector, object] = {}   # collector -> its own native registry
        self._python: Dict[Collector, None] = {}     # rendered in Python, in order
        self._natives: Dict[Collector, None] = {}    # families of self._native
        self._hooks: Dict[int, object] = {}          # run before each exposition
        self._shm = None
        self._target_info: Optional[Dict[str, str]] = {}
        self._target_metric = None
        if max_series:
            self._native.set_max_series(max_series)
        self.set_target_info(target_info)

    # ------------------------------------------------------------ registering

    def _get_names(self, collector):
        """Names of timeseries the collector produces and clashes with."""
        desc_func = getattr(collector, 'describe', None)
        if not desc_func and self._auto_describe:
            desc_func = collector.collect
        if not desc_func:
            return []
        result = []
        for metric in desc_func():
            result.append(metric.name)
            for suffix in _TYPE_SUFFIXES.get(metric.type, []):
                result.append(metric.name + suffix)
        return result

    def _check(self, names):
        duplicates = set(self._names_to_collectors).intersection(names)
        if duplicates:
            raise ValueError('Duplicated timeseries in CollectorRegistry: {}'.format(duplicates))

    def _add(self, collector, names):
        for name in names:
            self._names_to_collectors[name] = collector
        self._collector_to_names[collector] = names

    def _register_metric(self, metric, bind):
        """A metric made for this registry: its family goes into our native one."""
        with self._lock:
            names = self._get_names(metric)
            self._check(names)
            bind(self._native)
            self._add(metric, names)
            self._natives[metric] = None
            metric._hook_registries.append(self)

    def _register_native_group(self, collector, names):
        """A group of families made in our native registry by C (a pack)."""
        with self._lock:
            self._check(names)
            self._add(collector, names)
            self._natives[collector] = None

    def _register_pack(self, group, make):
        """The collector of a pack kind's families in this registry, made
        (and its names checked) the first time; later packs share it."""
        with self._lock:
            packs = self.__dict__.setdefault('_packs', {})
            if group not in packs:
                collector = make()
                names = collector.names()
                self._check(names)
                self._add(collector, names)
                self._natives[collector] = None
                packs[group] = collector
            return packs[group]

    def register(self, collector: Collector) -> None:
        """Add a collector to the registry."""
        with self._lock:
            if getattr(collector, '_detached', False):
                raise ValueError(f'{collector} was unregistered, which discarded its series; '
                                 'make the metric again')
            names = self._get_names(collector)
            self._check(names)
            own = getattr(collector, '_own_native', None)
            if own is not None and own is getattr(collector, '_native_registry', None):
                self._extras[collector] = own
                collector._hook_registries.append(self)
                if collector._function is not None:
                    self._hooks[id(collector)] = collector._run_function
            else:
                self._python[collector] = None
            self._add(collector, names)
            self._sync()

    def unregister(self, collector: Collector) -> None:
        """Remove a collector from the registry."""
        with self._lock:
            for name in self._collector_to_names[collector]:
                del self._names_to_collectors[name]
            del self._collector_to_names[collector]
            if collector in self._extras:
                del self._extras[collector]
            elif collector in self._python:
                del self._python[collector]
            elif collector in self._natives:
                del self._natives[collector]
                unbind = getattr(collector, '_unbind', None)
                if unbind is not None:
                    unbind()
            for key in [k for k in self._hooks if k == id(collector)]:
                del self._hooks[key]
            hooks = getattr(collector, '_hook_registries', None)
            if hooks and self in hooks:
                hooks.remove(self)
            self._sync()

    def _add_hook(self, metric, fn):
        with self._lock:
            self._hooks[id(metric)] = fn
            self._sync()

    def _set_shm(self, shm):
        with self._lock:
            if self._shm is not shm:
                self._shm = shm
                self._sync()

    def _sync(self):
        render = self._render if (self._python or self._hooks) else None
        self._native._set_sources(tuple(self._extras.values()), self._shm, render)

    # ------------------------------------------------------------ exposing

    def _run_hooks(self):
        with self._lock:
            hooks = list(self._hooks.values())
        for hook in hooks:
            hook()

    def _python_metrics(self):
        with self._lock:
            collectors = list(self._python)
        for collector in collectors:
            yield from collector.collect()

    def _render(self, fmt):
        """The Python part of an exposition in format fmt (called by C)."""
        self._run_hooks()
        if fmt == _am.FORMAT_OPENMETRICS:
            return _render.openmetrics(self._python_metrics())
        return _render.prometheus(self._python_metrics())

    def _encode(self, fmt) -> bytes:
        return self._native.encode(fmt)

    def _native_only(self) -> bool:
        """Whether libagentmon alone can encode everything (for am_push)."""
        with self._lock:
            return not self._python and not self._hooks and self._shm is None

    def _push_sources(self):
        with self._lock:
            return (self._native,) + tuple(self._extras.values())

    def collect(self) -> Iterable[Metric]:
        """Yields metrics from the collectors in the registry."""
        self._run_hooks()
        yield from _native_metrics(self._native)
        yield from self._python_metrics()

    def restricted_registry(self, names: Iterable[str]) -> "RestrictedRegistry":
        """An object whose collect() returns only samples with these names."""
        return RestrictedRegistry(set(names), self)

    def set_target_info(self, labels: Optional[Dict[str, str]]) -> None:
        with self._lock:
            if labels:
                if not self._target_info and 'target_info' in self._names_to_collectors:
                    raise ValueError('CollectorRegistry already contains a target_info metric')
                self._names_to_collectors['target_info'] = _EmptyCollector()
                if self._target_metric is None:
                    from .metrics import Info
                    self._target_metric = Info.__new__(Info)
                    self._target_metric._bind(self._native, 'target', 'Target metadata',
                                              ())
                self._target_metric._set_info(dict(labels))
            elif self._target_info:
                self._names_to_collectors.pop('target_info', None)
                if self._target_metric is not None:
                    self._target_metric._unbind()
                    self._target_metric = None
            self._target_info = labels

    def get_target_info(self) -> Optional[Dict[str, str]]:
        with self._lock:
            return self._target_info

    def get_sample_value(self, name: str, labels: Optional[Dict[str, str]] = None
                         ) -> Optional[float]:
        """The sample's value, or None if not found (for unit tests)."""
        if labels is None:
            labels = {}
        for metric in self.collect():
            for s in metric.samples:
                if s.name == name and s.labels == labels:
                    return s.value
        return None


class RestrictedRegistry:
    """What registry.restricted_registry(names) returns: collect() asks only
    the collectors that produce one of the names."""

    def __init__(self, names: Iterable[str], registry: CollectorRegistry):
        self._name_set = set(names)
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        reg = self._registry
        collectors = []
        target = None
        with reg._lock:
            if 'target_info' in self._name_set and reg._target_info:
                target = Metric('target', 'Target metadata', 'info')
                target.add_sample('target_info', dict(reg._target_info), 1)
            for name in self._name_set:
                c = reg._names_to_collectors.get(name)
                if name != 'target_info' and c is not None and c not in collectors:
                    collectors.append(c)
        if target:
            yield target
        for collector in collectors:
            for metric in collector.collect():
                m = metric._restricted_metric(self._name_set)
                if m:
                    yield m


REGISTRY = CollectorRegistry(auto_describe=True, _native=_am.Registry(default=True))
