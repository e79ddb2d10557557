"""Metric and the *MetricFamily classes custom collectors yield.

The same classes, constructor arguments and sample layout as
prometheus_client.metrics_core, so a collector written for prometheus_client
runs unchanged: registered with a CollectorRegistry, what it yields is
rendered by agentmon/_render.py next to the native families.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .samples import Exemplar, Sample, Timestamp

METRIC_TYPES = ('counter', 'gauge', 'summary', 'histogram', 'gaugehistogram', 'unknown',
                'info', 'stateset')
METRIC_NAME_RE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
METRIC_LABEL_NAME_RE = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')
RESERVED_METRIC_LABEL_NAME_RE = re.compile(r'^__.*$')

_Stamp = Optional[Union[Timestamp, float]]


class Metric:
    """One metric family and its samples."""

    def __init__(self, name: str, documentation: str, typ: str, unit: str = ''):
        if unit and not name.endswith('_' + unit):
            name += '_' + unit
        if not METRIC_NAME_RE.match(name):
            raise ValueError('Invalid metric name: ' + name)
        if typ == 'untyped':
            typ = 'unknown'
        if typ not in METRIC_TYPES:
            raise ValueError('Invalid metric type: ' + typ)
        self.name: str = name
        self.documentation: str = documentation
        self.unit: str = unit
        self.type: str = typ
        self.samples: List[Sample] = []

    def add_sample(self, name: str, labels: Dict[str, str], value: float,
                   timestamp: _Stamp = None, exemplar: Optional[Exemplar] = None) -> None:
        self.samples.append(Sample(name, labels, value, timestamp, exemplar))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Metric) and
                (self.name, self.documentation, self.type, self.unit, self.samples) ==
                (other.name, other.documentation, other.type, other.unit, other.samples))

    def __repr__(self) -> str:
        return (f"Metric({self.name}, {self.documentation}, {self.type}, {self.unit}, "
                f"{self.samples})")

    def _restricted_metric(self, names):
        """A copy holding only the samples named in names, or None."""
        kept = [s for s in self.samples if s.name in names]
        if not kept:
            return None
        m = Metric(self.name, self.documentation, self.type)
        m.samples = kept
        return m


def _one_of(value, labels):
    """Family constructors take a value for one unlabelled series, or label
    names to add series to later, not both."""
    if labels is not None and value is not None:
        raise ValueError('Can only specify at most one of value and labels.')
    return tuple(labels) if labels is not None else ()


class _ValueFamily(Metric):
    """A family of one value per label set (unknown and gauge)."""
    _typ = ''

    def __init__(self, name: str, documentation: str, value: Optional[float] = None,
                 labels: Optional[Sequence[str]] = None, unit: str = ''):
        Metric.__init__(self, name, documentation, self._typ, unit)
        self._labelnames = _one_of(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: float, timestamp: _Stamp = None) -> None:
        self.samples.append(Sample(self.name, dict(zip(self._labelnames, labels)), value,
                                   timestamp))


class UnknownMetricFamily(_ValueFamily):
    _typ = 'unknown'


UntypedMetricFamily = UnknownMetricFamily


class CounterMetricFamily(Metric):
    def __init__(self, name: str, documentation: str, value: Optional[float] = None,
                 labels: Optional[Sequence[str]] = None, created: Optional[float] = None,
                 unit: str = ''):
        if name.endswith('_total'):
            name = name[:-6]
        Metric.__init__(self, name, documentation, 'counter', unit)
        self._labelnames = _one_of(value, labels)
        if value is not None:
            self.add_metric([], value, created)

    def add_metric(self, labels: Sequence[str], value: float, created: Optional[float] = None,
                   timestamp: _Stamp = None) -> None:
        ls = dict(zip(self._labelnames, labels))
        self.samples.append(Sample(self.name + '_total', ls, value, timestamp))
        if created is not None:
            self.samples.append(Sample(self.name + '_created', dict(ls), created, timestamp))


class GaugeMetricFamily(_ValueFamily):
    _typ = 'gauge'


class SummaryMetricFamily(Metric):
    def __init__(self, name: str, documentation: str, count_value: Optional[int] = None,
                 sum_value: Optional[float] = None, labels: Optional[Sequence[str]] = None,
                 unit: str = ''):
        Metric.__init__(self, name, documentation, 'summary', unit)
        if (sum_value is None) != (count_value is None):
            raise ValueError('count_value and sum_value must be provided together.')
        self._labelnames = _one_of(count_value, labels)
        if count_value is not None and sum_value is not None:
            self.add_metric([], count_value, sum_value)

    def add_metric(self, labels: Sequence[str], count_value: int, sum_value: float,
                   timestamp: _Stamp = None) -> None:
        ls = dict(zip(self._labelnames, labels))
        self.samples.append(Sample(self.name + '_count', ls, count_value, timestamp))
        self.samples.append(Sample(self.name + '_sum', dict(ls), sum_value, timestamp))


class HistogramMetricFamily(Metric):
    def __init__(self, name: str, documentation: str,
                 buckets: Optional[Sequence[Tuple]] = None, sum_value: Optional[float] = None,
                 labels: Optional[Sequence[str]] = None, unit: str = ''):
        Metric.__init__(self, name, documentation, 'histogram', unit)
        if sum_value is not None and buckets is None:
            raise ValueError('sum value cannot be provided without buckets.')
        self._labelnames = _one_of(buckets, labels)
        if buckets is not None:
            self.add_metric([], buckets, sum_value)

    def add_metric(self, labels: Sequence[str], buckets: Sequence[Tuple],
                   sum_value: Optional[float], timestamp: _Stamp = None) -> None:
        """buckets: sorted (le, value) or (le, value, exemplar), +Inf last."""
        base = list(zip(self._labelnames, labels))
        for b in buckets:
            le, value = b[:2]
            exemplar = b[2] if len(b) == 3 else None
            self.samples.append(Sample(self.name + '_bucket', dict(base + [('le', le)]), value,
                                       timestamp, exemplar))
        # No _sum (and so no _count) when a bucket is negative.
        if float(buckets[0][0]) >= 0 and sum_value is not None:
            self.samples.append(Sample(self.name + '_count', dict(base), buckets[-1][1],
                                       timestamp))
            self.samples.append(Sample(self.name + '_sum', dict(base), sum_value, timestamp))


class GaugeHistogramMetricFamily(Metric):
    def __init__(self, name: str, documentation: str,
                 buckets: Optional[Sequence[Tuple[str, float]]] = None,
                 gsum_value: Optional[float] = None, labels: Optional[Sequence[str]] = None,
                 unit: str = ''):
        Metric.__init__(self, name, documentation, 'gaugehistogram', unit)
        self._labelnames = _one_of(buckets, labels)
        if buckets is not None:
            self.add_metric([], buckets, gsum_value)

    def add_metric(self, labels: Sequence[str], buckets: Sequence[Tuple[str, float]],
                   gsum_value: Optional[float], timestamp: _Stamp = None) -> None:
        base = list(zip(self._labelnames, labels))
        for le, value in buckets:
            self.samples.append(Sample(self.name + '_bucket', dict(base + [('le', le)]), value,
                                       timestamp))
        self.samples.append(Sample(self.name + '_gcount', dict(base), buckets[-1][1],
                                   timestamp))
        self.samples.append(Sample(self.name + '_gsum', dict(base), gsum_value, timestamp))


class InfoMetricFamily(Metric):
    def __init__(self, name: str, documentation: str, value: Optional[Dict[str, str]] = None,
                 labels: Optional[Sequence[str]] = None):
        Metric.__init__(self, name, documentation, 'info')
        self._labelnames = _one_of(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: Dict[str, str],
                   timestamp: _Stamp = None) -> None:
        ls = dict(zip(self._labelnames, labels))
        ls.update(value)
        self.samples.append(Sample(self.name + '_info', ls, 1, timestamp))


class StateSetMetricFamily(Metric):
    def __init__(self, name: str, documentation: str, value: Optional[Dict[str, bool]] = None,
                 labels: Optional[Sequence[str]] = None):
        Metric.__init__(self, name, documentation, 'stateset')
        self._labelnames = _one_of(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: Dict[str, bool],
                   timestamp: _Stamp = None) -> None:
        names = self._labelnames + (self.name,)
        for state, enabled in sorted(value.items()):
            self.samples.append(Sample(self.name, dict(zip(names, tuple(labels) + (state,))),
                                       1 if enabled else 0, timestamp))
