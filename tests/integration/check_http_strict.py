#!/usr/bin/python3
"""check_http_strict.py: request framing an HTTP server must refuse at once
(issue 10 item 10), sent over raw sockets as an attacker would send it.

    check_http_strict.py PORT POST_PATH

POST_PATH is a route that takes a JSON body (agentmon serve's
/api/v1/events). Each case must be answered with its status within 5 s
(the server must not wait for a body it cannot frame); a well-framed
control case must not be refused. Prints one line per case; exit 1 on
the first wrong answer.
"""
import socket
import sys
import time

PORT = int(sys.argv[1])
PATH = sys.argv[2].encode()
BODY = b'[{"event":"task","agent_id":"strict","status":"success","duration":1}]'
N = len(BODY)
CHUNKED = b"%x\r\n" % N + BODY + b"\r\n0\r\n\r\n"


def status_of(req, wait=5.0):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(wait)
    t0 = time.monotonic()
    s.sendall(req)
    out = b""
    try:
        while b"\r\n\r\n" not in out:
            d = s.recv(4096)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    finally:
        s.close()
    if not out.startswith(b"HTTP/1."):
        return None, time.monotonic() - t0
    return int(out[9:12]), time.monotonic() - t0


def head(extra, version=b"HTTP/1.1"):
    return (b"POST " + PATH + b" " + version + b"\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n" + extra + b"\r\n")


CASES = [
    ("two different Content-Length", head(b"Content-Length: %d\r\nContent-Length: %d\r\n"
                                          % (N, N + 5)) + BODY, 400),
    ("Transfer-Encoding: gzip", head(b"Transfer-Encoding: gzip\r\n") + BODY, 501),
    ("Transfer-Encoding: gzip, chunked", head(b"Transfer-Encoding: gzip, chunked\r\n")
     + CHUNKED, 501),
    ("Transfer-Encoding: chunked, chunked", head(b"Transfer-Encoding: chunked, chunked\r\n")
     + CHUNKED, 400),
    ("Transfer-Encoding and Content-Length", head(b"Transfer-Encoding: chunked\r\n"
                                                  b"Content-Length: %d\r\n" % N) + CHUNKED, 400),
    ("Transfer-Encoding in HTTP/1.0", head(b"Transfer-Encoding: chunked\r\n", b"HTTP/1.0")
     + CHUNKED, 400),
]
CONTROLS = [
    ("chunked", head(b"Transfer-Encoding: chunked\r\n") + CHUNKED),
    ("the same Content-Length twice", head(b"Content-Length: %d\r\nContent-Length: %d\r\n"
                                           % (N, N)) + BODY),
]

ok = True
for name, req, want in CASES:
    got, took = status_of(req)
    good = got == want
    ok &= good
    print(f"http_strict: {'ok' if good else 'FAIL'}: {name}: {got} in {took:.2f} s "
          f"(want {want} at once)")
for name, req in CONTROLS:
    got, took = status_of(req)
    good = got is not None and got < 400
    ok &= good
    print(f"http_strict: {'ok' if good else 'FAIL'}: {name}: {got} (want 2xx)")
sys.exit(0 if ok else 1)
