"""The Python renderer: Prometheus text and OpenMetrics from Metric objects.

Native families are encoded by libagentmon; this renders what only Python
knows -- custom collectors (anything with collect() yielding Metric
objects), labelled Info metrics, restricted registries -- the way
prometheus_client renders them (the two functions follow prometheus_client
0.16's exposition code, Apache-2.0), so such collectors keep working
unchanged. OpenMetrics text comes without its "# EOF": the caller joins it
with the native part, which carries the one "# EOF".
"""
from typing import Dict, Iterable, List

from .utils import floatToGoString


def _esc(v):
    return v.replace('\\', r'\\').replace('\n', r'\n').replace('"', r'\"')


def _labels(labels):
    if not labels:
        return ''
    return '{' + ','.join('{}="{}"'.format(k, _esc(v)) for k, v in sorted(labels.items())) + '}'


def prometheus(metrics: Iterable) -> bytes:
    """Prometheus text 0.0.4 for metrics (an iterable of Metric)."""

    def sample_line(s):
        timestamp = ''
        if s.timestamp is not None:
            timestamp = f' {int(float(s.timestamp) * 1000):d}'
        return f'{s.name}{_labels(s.labels)} {floatToGoString(s.value)}{timestamp}\n'

    output: List[str] = []
    for metric in metrics:
        try:
            mname, mtype = metric.name, metric.type
            if mtype == 'counter':
                mname = mname + '_total'
            elif mtype == 'info':
                mname = mname + '_info'
                mtype = 'gauge'
            elif mtype == 'stateset':
                mtype = 'gauge'
            elif mtype == 'gaugehistogram':
                mtype = 'histogram'
            elif mtype == 'unknown':
                mtype = 'untyped'
            doc = metric.documentation.replace('\\', r'\\').replace('\n', r'\n')
            output.append(f'# HELP {mname} {doc}\n')
            output.append(f'# TYPE {mname} {mtype}\n')
            om_samples: Dict[str, List[str]] = {}
            for s in metric.samples:
                for suffix in ('_created', '_gsum', '_gcount'):
                    if s.name == metric.name + suffix:
                        om_samples.setdefault(suffix, []).append(sample_line(s))
                        break
                else:
                    output.append(sample_line(s))
        except Exception as exception:
            exception.args = (exception.args or ('',)) + (metric,)
            raise
        for suffix, lines in sorted(om_samples.items()):
            output.append(f'# HELP {metric.name}{suffix} {doc}\n')
            output.append(f'# TYPE {metric.name}{suffix} gauge\n')
            output.extend(lines)
    return ''.join(output).encode('utf-8')


def _exemplar_ok(metric, sample):
    if metric.type == 'counter' and sample.name.endswith('_total'):
        return True
    return metric.type in ('histogram', 'gaugehistogram') and sample.name.endswith('_bucket')


def openmetrics(metrics: Iterable) -> bytes:
    """OpenMetrics 1.0 text for metrics, without the final "# EOF"."""
    output: List[str] = []
    for metric in metrics:
        try:
            mname = metric.name
            output.append(f'# HELP {mname} {_esc(metric.documentation)}\n')
            output.append(f'# TYPE {mname} {metric.type}\n')
            if metric.unit:
                output.append(f'# UNIT {mname} {metric.unit}\n')
            for s in metric.samples:
                exemplar = ''
                if s.exemplar:
                    if not _exemplar_ok(metric, s):
                        raise ValueError(f"Metric {metric.name} has exemplars, but is not a "
                                         "histogram bucket or counter")
                    exemplar = f' # {_labels(s.exemplar.labels) or "{}"} ' + \
                        floatToGoString(s.exemplar.value)
                    if s.exemplar.timestamp is not None:
                        exemplar += f' {s.exemplar.timestamp}'
                timestamp = f' {s.timestamp}' if s.timestamp is not None else ''
                output.append(f'{s.name}{_labels(s.labels)} {floatToGoString(s.value)}'
                              f'{timestamp}{exemplar}\n')
        except Exception as exception:
            exception.args = (exception.args or ('',)) + (metric,)
            raise
    return ''.join(output).encode('utf-8')
