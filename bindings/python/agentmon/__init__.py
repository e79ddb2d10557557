"""agentmon: libagentmon for Python agents.

prometheus_client's API, so existing code changes only its import::

    from agentmon import Counter, Histogram, start_http_server

plus what the source documents specify (agentmon.packs,
agentmon.collectors), W3C trace context that follows asyncio tasks
(agentmon.trace), JSON log lines with trace ids (agentmon.log), the message
coordinator with asyncio variants (agentmon.coord) and a shared-memory
registry for the worker processes of one service (agentmon.multiprocess).

The recording methods (inc, set, observe, labels) are C calls into
libagentmon with the GIL held: no other lock, no allocation once a series
exists. docs/PYTHON.md lists what differs from prometheus_client.
"""
from . import _agentmon
from . import trace
from ._agentmon import (AgentmonError, BackendError, ProtocolError, QueueFull,
                        TraceContext)
from .collectors_default import (GC_COLLECTOR, GCCollector, PLATFORM_COLLECTOR,
                                 PlatformCollector, PROCESS_COLLECTOR, ProcessCollector)
from .exposition import (CONTENT_TYPE_LATEST, delete_from_gateway, generate_latest,
                         instance_ip_grouping_key, make_asgi_app, make_wsgi_app,
                         MetricsHandler, push_to_gateway, pushadd_to_gateway,
                         start_http_server, start_wsgi_server, write_to_textfile)
from .metrics import Counter, Enum, Gauge, Histogram, Info, Summary
from .metrics_core import Metric
from .registry import CollectorRegistry, REGISTRY
from . import multiprocess  # AGENTMON_MULTIPROC_FILE set: multi-process mode from import on

__version__ = _agentmon.version()

__all__ = (
    'CollectorRegistry', 'REGISTRY', 'Metric', 'Counter', 'Gauge', 'Summary', 'Histogram',
    'Info', 'Enum', 'CONTENT_TYPE_LATEST', 'generate_latest', 'MetricsHandler',
    'make_wsgi_app', 'make_asgi_app', 'start_http_server', 'start_wsgi_server',
    'write_to_textfile', 'push_to_gateway', 'pushadd_to_gateway', 'delete_from_gateway',
    'instance_ip_grouping_key', 'ProcessCollector', 'PROCESS_COLLECTOR', 'PlatformCollector',
    'PLATFORM_COLLECTOR', 'GCCollector', 'GC_COLLECTOR', 'TraceContext', 'AgentmonError',
    'BackendError', 'ProtocolError', 'QueueFull',
)
