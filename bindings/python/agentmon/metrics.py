"""Counter, Gauge, Histogram, Summary, Info and Enum with prometheus_client's API.

Each class extends a native base type of agentmon._agentmon: recording
(inc, set, observe, state), labels(), remove() and clear() are C methods
over libagentmon's handles, with the GIL as the only lock; this module adds
the rest of prometheus_client's API in Python -- names (namespace,
subsystem, unit), validation with prometheus_client's messages,
registration, time(), count_exceptions(), track_inprogress(),
set_function(), describe() and collect().

What differs from prometheus_client is listed in docs/PYTHON.md; the main
points: a labelled family holds at most ``max_children`` label sets
(10,000 by default; past it new sets record into one ``__overflow__``
series), counters refuse NaN and infinities, the Prometheus text has no
``_created`` series (OpenMetrics has them), and unregistering a metric
discards its values.
"""
import time
import types
from typing import Any, Callable, Iterable, Optional, Sequence

from . import _agentmon as _am
from .context_managers import ExceptionCounter, InprogressTracker, Timer
from .metrics_core import (
    Metric, METRIC_LABEL_NAME_RE, METRIC_NAME_RE, RESERVED_METRIC_LABEL_NAME_RE,
)
from .registry import Collector, CollectorRegistry, REGISTRY, _native_metrics
from .samples import Sample
from .utils import INF, floatToGoString


def _build_full_name(metric_type, name, namespace, subsystem, unit):
    full_name = ''
    if namespace:
        full_name += namespace + '_'
    if subsystem:
        full_name += subsystem + '_'
    full_name += name
    if metric_type == 'counter' and full_name.endswith('_total'):
        full_name = full_name[:-6]  # Munge to OpenMetrics.
    if unit and not full_name.endswith("_" + unit):
        full_name += "_" + unit
    if unit and metric_type in ('info', 'stateset'):
        raise ValueError('Metric name is of a type that cannot have a unit: ' + full_name)
    return full_name


def _validate_labelname(label):
    if not METRIC_LABEL_NAME_RE.match(label):
        raise ValueError('Invalid label metric name: ' + label)
    if RESERVED_METRIC_LABEL_NAME_RE.match(label):
        raise ValueError('Reserved label metric name: ' + label)


def _validate_labelnames(cls, labelnames):
    labelnames = tuple(labelnames)
    for label in labelnames:
        _validate_labelname(label)
        if label in cls._reserved_labelnames:
            raise ValueError('Reserved label metric name: ' + label)
    return labelnames


_SHARED_TYPES = ('counter', 'gauge', 'histogram', 'summary')


class MetricWrapperBase(Collector):
    """What every metric class shares (prometheus_client's MetricWrapperBase).

    Extra keyword arguments, all optional: ``max_children`` (label sets a
    family may hold, default 10,000) and ``json_name`` (the key in the JSON
    snapshot, e.g. a dotted name).
    """
    _type: Optional[str] = None
    _reserved_labelnames: Sequence[str] = ()

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = '', subsystem: str = '', unit: str = '',
                 registry: Optional[CollectorRegistry] = REGISTRY,
                 _labelvalues: Optional[Sequence[str]] = None,
                 max_children: int = 0, json_name: Optional[str] = None) -> None:
        if _labelvalues:
            raise TypeError('_labelvalues is prometheus_client-internal: use labels()')
        self._name = _build_full_name(self._type, name, namespace, subsystem, unit)
        labelnames = _validate_labelnames(self, labelnames)
        self._documentation = documentation
        self._unit = unit
        self._kwargs = {}
        self._own_native = None
        self._function = None
        self._hook_registries = []
        if not METRIC_NAME_RE.match(self._name):
            raise ValueError('Invalid metric name: ' + self._name)
        self._check_args(labelnames)
        bind_args = dict(documentation=documentation, labelnames=labelnames,
                         unit=unit or None, json_name=json_name, max_children=max_children,
                         **self._bind_extra())

        from . import multiprocess
        seg = multiprocess.segment() if self._type in _SHARED_TYPES else None
        if seg is not None:
            # Multi-process mode: the family lives in the shared segment.
            shm_args = dict(documentation=documentation, labelnames=labelnames,
                            unit=unit or None, json_name=json_name, max_children=max_children,
                            mode=multiprocess.GAUGE_MODES[getattr(self, '_multiprocess_mode',
                                                                  'all')])
            if self._type == 'histogram':
                shm_args['buckets'] = tuple(self._upper_bounds)

            def bind(native):
                self._bind_shm(seg, self._name, **shm_args)
        else:
            def bind(native):
                self._bind(native, self._name, **bind_args)

        if registry:
            registry._register_metric(self, bind)
            if seg is not None:
                registry._set_shm(seg)
        else:
            self._own_native = _am.Registry()
            bind(self._own_native)

    # Subclasses: checks before anything is registered, and _bind's extra
    # arguments (buckets, states).
    def _check_args(self, labelnames):
        pass

    def _bind_extra(self):
        return {}

    # Children share their family's Python attributes (name, help, ...).
    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        family = self._family
        if family is self:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(family, name)

    def _is_observable(self):
        return not self._is_parent

    def _raise_if_not_observable(self):
        if not self._is_observable():
            raise ValueError('%s metric is missing label values' % str(self._type))

    def _get_metric(self):
        return Metric(self._name, self._documentation, self._type, self._unit)

    def describe(self) -> Iterable[Metric]:
        return [self._get_metric()]

    def collect(self) -> Iterable[Metric]:
        """This metric's family now, as a Metric with its samples (children
        of a family collect only their own series)."""
        self._run_function()
        family = self._family
        for metric in _native_metrics(family._native_registry, only=family._name):
            if self is not family:
                wanted = dict(zip(self._labelnames, self._labelvalues))
                metric.samples = [s for s in metric.samples
                                  if all(s.labels.get(k) == v for k, v in wanted.items())]
            return [metric]
        return [self._get_metric()]

    def _run_function(self):
        pass

    def __str__(self) -> str:
        return f"{self._type}:{self._name}"

    def __repr__(self) -> str:
        metric_type = type(self)
        return f"{metric_type.__module__}.{metric_type.__name__}({self._name})"


class Counter(_am.CounterBase, MetricWrapperBase):
    """A Counter tracks counts of events or running totals (prometheus_client's).

        c = Counter('my_failures_total', 'Description of counter')
        c.inc()     # Increment by 1
        c.inc(1.6)  # Increment by given value

        @c.count_exceptions()
        def f():
            pass
    """
    _type = 'counter'

    def count_exceptions(self, exception=Exception) -> ExceptionCounter:
        """Count exceptions raised out of a block of code or function."""
        self._raise_if_not_observable()
        return ExceptionCounter(self, exception)

    @property
    def _value(self):
        return _ValueView(self)


class _ValueView:
    """counter._value.get(), as some prometheus_client users read values."""
    __slots__ = ('_m',)

    def __init__(self, m):
        self._m = m

    def get(self):
        return self._m._get()

    def set(self, value):
        self._m.set(value)


class Gauge(_am.GaugeBase, MetricWrapperBase):
    """Gauge metric, to report instantaneous values (prometheus_client's).

        g = Gauge('my_inprogress_requests', 'Description of gauge')
        g.inc()      # Increment by 1
        g.dec(10)    # Decrement by given value
        g.set(4.2)   # Set to a given value

    multiprocess_mode (all, liveall, livesum, max, livemax, min, livemin,
    sum, mostrecent, livemostrecent) applies in multi-process mode
    (agentmon.multiprocess).
    """
    _type = 'gauge'
    _MULTIPROC_MODES = frozenset(('all', 'liveall', 'min', 'livemin', 'max', 'livemax', 'sum',
                                  'livesum', 'mostrecent', 'livemostrecent'))

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = '', subsystem: str = '', unit: str = '',
                 registry: Optional[CollectorRegistry] = REGISTRY,
                 _labelvalues: Optional[Sequence[str]] = None,
                 multiprocess_mode: str = 'all', **kwargs):
        self._multiprocess_mode = multiprocess_mode
        if multiprocess_mode not in self._MULTIPROC_MODES:
            raise ValueError('Invalid multiprocess mode: ' + multiprocess_mode)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry,
                         _labelvalues, **kwargs)
        self._kwargs['multiprocess_mode'] = self._multiprocess_mode

    def track_inprogress(self) -> InprogressTracker:
        """Increment when a block or function is entered, decrement on exit."""
        self._raise_if_not_observable()
        return InprogressTracker(self)

    def time(self) -> Timer:
        """Time a block of code or function, and set the duration in seconds."""
        self._raise_if_not_observable()
        return Timer(self, 'set')

    def set_function(self, f: Callable[[], float]) -> None:
        """Take the value from f() at each exposition (and at collect()).

        f runs with the GIL, before the native registry is encoded; the
        gauge's other methods still work but the next exposition overwrites
        what they did."""
        self._raise_if_not_observable()
        self._function = f
        family = self._family
        for registry in family._hook_registries:
            registry._add_hook(self, self._run_function)

    def _run_function(self):
        if self._function is not None:
            self.set(float(self._function()))

    @property
    def _value(self):
        return _ValueView(self)


class Summary(_am.SummaryBase, MetricWrapperBase):
    """A Summary tracks the size and number of events (prometheus_client's:
    _count and _sum, no quantiles).

        s = Summary('request_size_bytes', 'Request size (bytes)')
        s.observe(512)
    """
    _type = 'summary'
    _reserved_labelnames = ['quantile']

    def time(self) -> Timer:
        """Time a block of code or function, and observe the duration in seconds."""
        self._raise_if_not_observable()
        return Timer(self, 'observe')


class Histogram(_am.HistogramBase, MetricWrapperBase):
    """A Histogram tracks the size and number of events in buckets
    (prometheus_client's, with its default buckets).

        h = Histogram('request_size_bytes', 'Request size (bytes)')
        h.observe(512)

        @h.time()
        def create_response(request):
            ...
    """
    _type = 'histogram'
    _reserved_labelnames = ['le']
    DEFAULT_BUCKETS = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0, 2.5, 5.0, 7.5, 10.0,
                       INF)

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = (),
                 namespace: str = '', subsystem: str = '', unit: str = '',
                 registry: Optional[CollectorRegistry] = REGISTRY,
                 _labelvalues: Optional[Sequence[str]] = None,
                 buckets: Sequence[Any] = DEFAULT_BUCKETS, **kwargs):
        self._prepare_buckets(buckets)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry,
                         _labelvalues, **kwargs)
        self._kwargs['buckets'] = buckets

    def _prepare_buckets(self, source_buckets):
        buckets = [float(b) for b in source_buckets]
        if buckets != sorted(buckets):
            raise ValueError('Buckets not in sorted order')
        if buckets and buckets[-1] != INF:
            buckets.append(INF)
        if len(buckets) < 2:
            raise ValueError('Must have at least two buckets')
        self._upper_bounds = buckets

    def _bind_extra(self):
        return {'buckets': tuple(self._upper_bounds)}

    def time(self) -> Timer:
        """Time a block of code or function, and observe the duration in seconds
        (with the current trace as exemplar when it is sampled)."""
        self._raise_if_not_observable()
        return Timer(self, 'observe')


class Info(_am.InfoBase, MetricWrapperBase):
    """Info metric, key-value pairs (prometheus_client's).

        i = Info('my_build', 'Description of info')
        i.info({'version': '1.2.3', 'buildhost': 'foo@bar'})

    An Info without labels is native; one with labels is kept and rendered
    in Python (it is rare and not a hot path).
    """
    _type = 'info'

    def __new__(cls, name=None, documentation=None, labelnames=(), *args, **kwargs):
        if labelnames and cls is Info:
            cls = _LabelledInfo
        return super().__new__(cls)

    def info(self, val):
        """Set info metric."""
        self._raise_if_not_observable()
        self._set_info(dict(val))
        self._info_value = dict(val)

    def _get(self):
        return dict(getattr(self, '_info_value', {}))


class _LabelledInfo(Info):
    """An Info with labels: label sets and their pairs live in Python."""

    def __init__(self, name, documentation, labelnames=(), namespace='', subsystem='', unit='',
                 registry=REGISTRY, _labelvalues=None, **kwargs):
        self._name = _build_full_name('info', name, namespace, subsystem, unit)
        if not METRIC_NAME_RE.match(self._name):
            raise ValueError('Invalid metric name: ' + self._name)
        self._py_labelnames = _validate_labelnames(self, labelnames)
        self._documentation = documentation
        self._unit = unit
        self._kwargs = {}
        self._py_children = {}
        if registry:
            registry.register(self)

    @property
    def _labelnames(self):
        return self._py_labelnames

    def labels(self, *labelvalues, **labelkwargs):
        if labelvalues and labelkwargs:
            raise ValueError("Can't pass both *args and **kwargs")
        if labelkwargs:
            if sorted(labelkwargs) != sorted(self._py_labelnames):
                raise ValueError('Incorrect label names')
            labelvalues = tuple(str(labelkwargs[k]) for k in self._py_labelnames)
        else:
            if len(labelvalues) != len(self._py_labelnames):
                raise ValueError('Incorrect label count')
            labelvalues = tuple(str(v) for v in labelvalues)
        child = self._py_children.get(labelvalues)
        if child is None:
            child = self._py_children[labelvalues] = _InfoChild(self, labelvalues)
        return child

    def remove(self, *labelvalues):
        del self._py_children[tuple(str(v) for v in labelvalues)]

    def clear(self):
        self._py_children = {}

    def info(self, val):
        raise ValueError('info metric is missing label values')

    def collect(self):
        m = self._get_metric()
        for values, child in list(self._py_children.items()):
            labels = dict(zip(self._py_labelnames, values))
            labels.update(child._value)
            m.add_sample(self._name + '_info', labels, 1.0)
        return [m]


class _InfoChild:
    __slots__ = ('_parent', '_labelvalues', '_value')

    def __init__(self, parent, labelvalues):
        self._parent = parent
        self._labelvalues = labelvalues
        self._value = {}

    def info(self, val):
        if set(self._parent._py_labelnames).intersection(val.keys()):
            raise ValueError('Overlapping labels for Info metric, metric: {} child: {}'.format(
                self._parent._py_labelnames, val))
        self._value = dict(val)


class Enum(_am.EnumBase, MetricWrapperBase):
    """Enum metric, which of a set of states is true (prometheus_client's).

        e = Enum('task_state', 'Description of enum',
                 states=['starting', 'running', 'stopped'])
        e.state('running')

    The first listed state is the default.
    """
    _type = 'stateset'

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = (),
                 namespace: str = '', subsystem: str = '', unit: str = '',
                 registry: Optional[CollectorRegistry] = REGISTRY,
                 _labelvalues: Optional[Sequence[str]] = None,
                 states: Optional[Sequence[str]] = None, **kwargs):
        if name in labelnames:
            raise ValueError(f'Overlapping labels for Enum metric: {name}')
        if not states:
            raise ValueError(f'No states provided for Enum metric: {name}')
        self._states = list(states)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry,
                         _labelvalues, **kwargs)
        self._kwargs['states'] = self._states

    def _bind_extra(self):
        return {'states': tuple(str(s) for s in self._states)}


def _adopt(cls, registry: CollectorRegistry, row: dict):
    """A metric object of cls over an existing family of registry's native
    registry, defined by a catalogue row (a pack's family): recording on it
    records into the pack's series."""
    m = cls.__new__(cls)
    name = row['name']
    if row['type'] == 'counter' and name.endswith('_total'):
        name = name[:-6]
    elif row['type'] == 'info' and name.endswith('_info'):
        name = name[:-5]
    m._name = name
    m._documentation = row['help']
    m._unit = row['unit'] or ''
    m._kwargs = {}
    m._own_native = None
    m._function = None
    m._hook_registries = [registry]
    extra = {}
    if row['type'] == 'histogram':
        m._upper_bounds = list(row['buckets']) + [INF]
        extra['buckets'] = tuple(row['buckets'])
    if row['type'] == 'stateset':
        m._states = list(row['states'])
        extra['states'] = tuple(row['states'])
    if row['type'] == 'gauge':
        m._multiprocess_mode = 'all'
    m._bind(registry._native, name, row['help'], tuple(row['labels']), unit=row['unit'],
            json_name=row['json_name'], adopt=True, **extra)
    return m
