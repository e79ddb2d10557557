"""rw_proxy.py: a remote_write receiver in front of a real one, answering
scripted statuses first, for tests/integration/remote_write.sh.

    /usr/bin/python3 rw_proxy.py PORT UPSTREAM_URL CODES

CODES is a comma-separated list of HTTP statuses answered to the first
requests, in order (429 comes with "Retry-After: 0"); after the list every
request is forwarded unchanged to UPSTREAM_URL (a real VictoriaMetrics or
Prometheus) and its status returned. CODES ending in "*" repeats its last
status forever (e.g. "400*": a receiver that refuses everything). Each
request is printed as one line "N STATUS" (N counts from 1), flushed, so
the test can count requests and check there was no retry storm.
"""
import http.server
import sys
import threading
import urllib.error
import urllib.request

port, upstream, codes = int(sys.argv[1]), sys.argv[2], sys.argv[3]
forever = codes.endswith("*")
script = [int(c) for c in codes.rstrip("*").split(",") if c]
seen = 0
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            seen += 1
            n = seen
        if n <= len(script) or (forever and script):
            code = script[min(n, len(script)) - 1]
            msg = b"scripted answer\n"
            self.send_response(code)
            if code == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
        else:
            rq = urllib.request.Request(upstream, body, {
                k: v for k, v in self.headers.items()
                if k.lower() in ("content-type", "content-encoding",
                                 "x-prometheus-remote-write-version")})
            try:
                code = urllib.request.urlopen(rq, timeout=30).status
            except urllib.error.HTTPError as e:
                code = e.code
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
        print(n, code, flush=True)

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
