"""Exposition: generate_latest, the HTTP server, WSGI/ASGI apps and the
Pushgateway, with prometheus_client's API.

generate_latest() encodes a CollectorRegistry's native families in C (the
GIL released while it runs) and joins what Python renders for custom
collectors. start_http_server() runs libagentmon's HTTP server
(libmicrohttpd, its own threads): a scrape takes the GIL only when the
registry has a Python part, so a busy agent never delays Prometheus and
the reverse. push_to_gateway() and friends use libagentmon's Pushgateway
client for native registries and prometheus_client's handler protocol
(urllib) otherwise.
"""
import base64
import gzip
import os
import socket
import sys
import threading
from contextlib import closing
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import parse_qs, quote_plus, urlparse
from urllib.request import BaseHandler, build_opener, HTTPHandler, Request

from . import _agentmon as _am
from . import _render
from .registry import CollectorRegistry, REGISTRY

__all__ = (
    'CONTENT_TYPE_LATEST', 'delete_from_gateway', 'generate_latest',
    'instance_ip_grouping_key', 'make_asgi_app', 'make_wsgi_app', 'MetricsHandler',
    'push_to_gateway', 'pushadd_to_gateway', 'start_http_server', 'start_wsgi_server',
    'write_to_textfile',
)

CONTENT_TYPE_LATEST = str('text/plain; version=0.0.4; charset=utf-8')
"""Content type of the latest text format"""


def _encode(registry, fmt) -> bytes:
    if isinstance(registry, CollectorRegistry):
        return registry._encode(fmt)
    # Anything else with collect() (a RestrictedRegistry, a custom object).
    if fmt == _am.FORMAT_OPENMETRICS:
        return _render.openmetrics(registry.collect()) + b'# EOF\n'
    return _render.prometheus(registry.collect())


def generate_latest(registry=REGISTRY) -> bytes:
    """The registry's metrics in Prometheus text format 0.0.4."""
    return _encode(registry, _am.FORMAT_PROMETHEUS)


def choose_encoder(accept_header: str) -> Tuple[Callable, str]:
    from .openmetrics import exposition as openmetrics
    accept_header = accept_header or ''
    for accepted in accept_header.split(','):
        if accepted.split(';')[0].strip() == 'application/openmetrics-text':
            return openmetrics.generate_latest, openmetrics.CONTENT_TYPE_LATEST
    return generate_latest, CONTENT_TYPE_LATEST


def gzip_accepted(accept_encoding_header: str) -> bool:
    accept_encoding_header = accept_encoding_header or ''
    for accepted in accept_encoding_header.split(','):
        if accepted.split(';')[0].strip().lower() == 'gzip':
            return True
    return False


def _bake_output(registry, accept_header, accept_encoding_header, params, disable_compression):
    encoder, content_type = choose_encoder(accept_header)
    if 'name[]' in params:
        registry = registry.restricted_registry(params['name[]'])
    output = encoder(registry)
    headers = [('Content-Type', content_type)]
    if not disable_compression and gzip_accepted(accept_encoding_header):
        output = gzip.compress(output)
        headers.append(('Content-Encoding', 'gzip'))
    return '200 OK', headers, output


def make_wsgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False
                  ) -> Callable:
    """A WSGI app which serves the metrics of a registry."""

    def prometheus_app(environ, start_response):
        accept_header = environ.get('HTTP_ACCEPT')
        accept_encoding_header = environ.get('HTTP_ACCEPT_ENCODING')
        params = parse_qs(environ.get('QUERY_STRING', ''))
        if environ['PATH_INFO'] == '/favicon.ico':
            status, headers, output = '200 OK', [('', '')], b''
        else:
            status, headers, output = _bake_output(registry, accept_header,
                                                   accept_encoding_header, params,
                                                   disable_compression)
        start_response(status, headers)
        return [output]

    return prometheus_app


def make_asgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False
                  ) -> Callable:
    """An ASGI app which serves the metrics of a registry. The exposition runs
    in a worker thread, so the event loop is never blocked by it."""
    import asyncio

    async def prometheus_app(scope, receive, send):
        assert scope.get("type") == "http"
        params = parse_qs(scope.get('query_string', b'').decode("utf8"))
        accept_header = ",".join([value.decode("utf8") for (name, value)
                                  in scope.get('headers', []) if name.decode("utf8").lower()
                                  == 'accept'])
        accept_encoding_header = ",".join([value.decode("utf8") for (name, value)
                                           in scope.get('headers', [])
                                           if name.decode("utf8").lower()
                                           == 'accept-encoding'])
        loop = asyncio.get_running_loop()
        status, headers, output = await loop.run_in_executor(
            None, _bake_output, registry, accept_header, accept_encoding_header, params,
            disable_compression)
        formatted_headers = [(str(k).encode('utf8'), str(v).encode('utf8'))
                             for k, v in headers]
        await send({"type": "http.response.start", "status": int(status.split(' ')[0]),
                    "headers": formatted_headers})
        await send({"type": "http.response.body", "body": output})

    return prometheus_app


try:
    from http.server import BaseHTTPRequestHandler
except ImportError:  # pragma: no cover
    BaseHTTPRequestHandler = object


class MetricsHandler(BaseHTTPRequestHandler):
    """HTTP handler that gives metrics from ``REGISTRY`` (for http.server)."""
    registry: CollectorRegistry = REGISTRY

    def do_GET(self) -> None:
        registry = self.registry
        accept_header = self.headers.get('Accept')
        accept_encoding_header = self.headers.get('Accept-Encoding')
        params = parse_qs(urlparse(self.path).query)
        status, headers, output = _bake_output(registry, accept_header, accept_encoding_header,
                                               params, False)
        self.send_response(int(status.split(' ')[0]))
        for header in headers:
            self.send_header(*header)
        self.end_headers()
        self.wfile.write(output)

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""

    @classmethod
    def factory(cls, registry: CollectorRegistry) -> type:
        return type(str(cls.__name__), (cls, object), {"registry": registry})


# ------------------------------------------------------------ the HTTP server

_servers_lock = threading.Lock()
_servers: List["MetricsServer"] = []


class MetricsServer:
    """A running libagentmon HTTP server: GET /metrics (any path but /health,
    as prometheus_client serves any path), /health. Stop it with shutdown()."""

    def __init__(self, native, registry):
        self._native = native
        self._registry = registry   # kept alive while served
        self.port = native.port
        self.server_address = (native.host, native.port)

    def shutdown(self) -> None:
        self._native.stop()
        with _servers_lock:
            if self in _servers:
                _servers.remove(self)

    stop = shutdown
    server_close = shutdown

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()


def _stop_all():
    with _servers_lock:
        servers = list(_servers)
    for s in servers:
        s.shutdown()


import atexit  # noqa: E402
atexit.register(_stop_all)


def start_http_server(port: int, addr: str = '0.0.0.0', registry: CollectorRegistry = REGISTRY,
                      certfile: Optional[str] = None, keyfile: Optional[str] = None,
                      threads: int = 0):
    """Serve the registry's metrics over HTTP on its own threads.

    Returns (server, None): prometheus_client 0.17 returns (server, thread);
    the threads here are libagentmon's, so there is no Python thread to
    return. port 0 picks a free port (server.port says which). Pass
    certfile and keyfile for HTTPS."""
    if not isinstance(registry, CollectorRegistry):
        raise TypeError('start_http_server serves a CollectorRegistry')
    def restricted(names, fmt):
        return _encode(registry.restricted_registry(names), fmt)

    native = _am.HttpServer(registry._native, host=addr, port=int(port), certfile=certfile,
                            keyfile=keyfile, threads=threads, restricted=restricted)
    server = MetricsServer(native, registry)
    with _servers_lock:
        _servers.append(server)
    return server, None


def _get_best_family(address, port):
    infos = socket.getaddrinfo(address, port)
    family, _, _, _, sockaddr = next(iter(infos))
    return family, sockaddr[0]


def start_wsgi_server(port: int, addr: str = '0.0.0.0', registry: CollectorRegistry = REGISTRY):
    """Serve the metrics from Python's wsgiref server in a daemon thread (as
    prometheus_client does); start_http_server is the native one."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import make_server, WSGIRequestHandler, WSGIServer

    class _SilentHandler(WSGIRequestHandler):
        def log_message(self, format, *args):
            pass

    class TmpServer(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    TmpServer.address_family, addr = _get_best_family(addr, port)
    app = make_wsgi_app(registry)
    httpd = make_server(addr, port, app, TmpServer, handler_class=_SilentHandler)
    t = threading.Thread(target=httpd.serve_forever)
    t.daemon = True
    t.start()
    return httpd, t


def write_to_textfile(path: str, registry: CollectorRegistry) -> None:
    """Write the metrics to path atomically (for node_exporter's textfile
    collector: the path must end in .prom)."""
    tmppath = f'{path}.{os.getpid()}.{threading.current_thread().ident}'
    with open(tmppath, 'wb') as f:
        f.write(generate_latest(registry))
    os.replace(tmppath, path)


# ------------------------------------------------------------ Pushgateway

def _make_handler(url, method, timeout, headers, data, base_handler):
    def handle() -> None:
        request = Request(url, data=data)
        request.get_method = lambda: method  # type: ignore
        for k, v in headers:
            request.add_header(k, v)
        resp = build_opener(base_handler).open(request, timeout=timeout)
        if resp.code >= 400:
            raise OSError(f"error talking to pushgateway: {resp.code} {resp.msg}")
    return handle


def default_handler(url, method, timeout, headers, data):
    """Default handler for push_to_gateway (urllib), as prometheus_client's."""
    return _make_handler(url, method, timeout, headers, data, HTTPHandler)


def basic_auth_handler(url, method, timeout, headers, data, username=None, password=None):
    """Handler that adds HTTP Basic authentication."""
    def handle():
        if username is not None and password is not None:
            token = base64.b64encode(f'{username}:{password}'.encode())
            headers.append(('Authorization', b'Basic ' + token))
        default_handler(url, method, timeout, headers, data)()
    return handle


def _escape_grouping_key(k, v):
    if v == "":
        return k + "@base64", "="
    elif '/' in v:
        return k + "@base64", base64.urlsafe_b64encode(v.encode("utf-8")).decode("utf-8")
    else:
        return k, quote_plus(v)


def _gateway_url(gateway):
    url = urlparse(gateway)
    if not url.scheme or url.scheme not in ('http', 'https'):
        gateway = f'http://{gateway}'
    return gateway.rstrip('/')


def _use_gateway(method, gateway, job, registry, grouping_key, timeout, handler):
    gateway = _gateway_url(gateway)
    grouping_key = {str(k): str(v) for k, v in (grouping_key or {}).items()}
    if registry is None and method != 'DELETE':
        registry = REGISTRY
    native = handler is default_handler and (
        method == 'DELETE' or (isinstance(registry, CollectorRegistry)
                               and registry._native_only()))
    if native:
        # libagentmon's client (libcurl), GIL released; the same URL rules.
        status = _am.push(gateway, str(job), grouping_key, method,
                          None if method == 'DELETE' else registry._push_sources(),
                          timeout if timeout is not None else 0)
        return status
    url = '{}/metrics/{}/{}'.format(gateway, *_escape_grouping_key("job", str(job)))
    data = b'' if method == 'DELETE' else generate_latest(registry)
    url += ''.join('/{}/{}'.format(*_escape_grouping_key(k, v))
                   for k, v in sorted(grouping_key.items()))
    handler(url=url, method=method, timeout=timeout,
            headers=[('Content-Type', CONTENT_TYPE_LATEST)], data=data)()
    return None


def push_to_gateway(gateway: str, job: str, registry: CollectorRegistry,
                    grouping_key: Optional[Dict[str, Any]] = None,
                    timeout: Optional[float] = 30, handler: Callable = default_handler) -> None:
    """Push metrics to the given pushgateway (PUT: replaces the group)."""
    _use_gateway('PUT', gateway, job, registry, grouping_key, timeout, handler)


def pushadd_to_gateway(gateway: str, job: str, registry: Optional[CollectorRegistry],
                       grouping_key: Optional[Dict[str, Any]] = None,
                       timeout: Optional[float] = 30, handler: Callable = default_handler
                       ) -> None:
    """PushAdd metrics to the given pushgateway (POST: replaces these names)."""
    _use_gateway('POST', gateway, job, registry, grouping_key, timeout, handler)


def delete_from_gateway(gateway: str, job: str, grouping_key: Optional[Dict[str, Any]] = None,
                        timeout: Optional[float] = 30, handler: Callable = default_handler
                        ) -> None:
    """Delete the group from the given pushgateway."""
    _use_gateway('DELETE', gateway, job, None, grouping_key, timeout, handler)


def instance_ip_grouping_key() -> Dict[str, Any]:
    """Grouping key with instance set to the IP Address of this host."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        s.connect(('localhost', 0))
        return {'instance': s.getsockname()[0]}
