"""OpenMetrics 1.0 exposition: generate_latest and its content type."""
from .. import _agentmon as _am
from ..exposition import _encode
from ..registry import REGISTRY

CONTENT_TYPE_LATEST = str('application/openmetrics-text; version=1.0.0; charset=utf-8')
"""Content type of the latest OpenMetrics text format"""


def generate_latest(registry=REGISTRY) -> bytes:
    """The registry's metrics in OpenMetrics text (with _created, units,
    exemplars and the closing # EOF)."""
    return _encode(registry, _am.FORMAT_OPENMETRICS)
