"""python -m agentmon: a sidecar serving a shared-memory segment's merged
metrics (the Python twin of `agentmon shm`).

    python -m agentmon serve --shm /dev/shm/myservice.agentmon --port 9100
    python -m agentmon dump --shm PATH [--format openmetrics]
"""
import argparse
import signal
import sys
import threading

from . import _agentmon as _am
from .exposition import start_http_server
from .multiprocess import open_segment
from .registry import CollectorRegistry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog='python -m agentmon')
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('serve', help='serve the merged /metrics of a segment')
    s.add_argument('--shm', required=True, help='the segment file')
    s.add_argument('--host', default='127.0.0.1')
    s.add_argument('--port', type=int, default=9470, help='0 picks a free port')
    s.add_argument('--reclaim-s', type=float, default=10.0,
                   help="fold dead workers' rows this often")
    d = sub.add_parser('dump', help='print the merged exposition once')
    d.add_argument('--shm', required=True)
    d.add_argument('--format', choices=('prometheus', 'openmetrics', 'json'),
                   default='prometheus')
    args = p.parse_args(argv)
    seg = open_segment(args.shm)
    if args.cmd == 'dump':
        fmt = {'prometheus': _am.FORMAT_PROMETHEUS, 'openmetrics': _am.FORMAT_OPENMETRICS,
               'json': _am.FORMAT_JSON}[args.format]
        sys.stdout.buffer.write(seg.encode(fmt))
        return 0
    registry = CollectorRegistry()
    registry._set_shm(seg)
    server, _ = start_http_server(args.port, addr=args.host, registry=registry)
    print(f'agentmon: serving {args.shm} on http://{args.host}:{server.port}/metrics',
          flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(args.reclaim_s):
        seg.reclaim()
    server.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
