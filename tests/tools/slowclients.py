#!/usr/bin/env python3
"""slowclients.py - many slow TLS clients against one address, for tests.

Opens connections to HOST:PORT through TLS (trusting --cacert), each from
its own source address on loopback, and keeps them all open, sending one
byte a second:

  * "headers" clients send a request line and headers a byte at a time
    and never finish them;
  * "body" clients send whole headers of a POST (--path, default a
    push) with a Content-Length of --body-length bytes (default 1000)
    and then the body a byte at a time (half-open requests: a server
    that handed them to a worker would hold it).

When every connection is open it writes "open N" to --status (the test
waits on that line, not on a clock). It stops when --stop appears (or
after --max-seconds) and then writes "still-open K answered A" to
--status: K connections were still open (no FIN, no reset, no answer),
A had received an answer (its first line is appended to --answers as
it comes).
Bounded: at most 1000 connections, at most --max-seconds.
"""
import argparse
import os
import select
import socket
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--headers", type=int, default=0, help="slow-header clients")
    ap.add_argument("--body", type=int, default=0, help="slow-body clients")
    ap.add_argument("--sources", default="127.0.1.",
                    help="source address prefix; client i binds PREFIX(i+1)")
    ap.add_argument("--same-source", action="store_true",
                    help="every client binds PREFIX1")
    ap.add_argument("--path", default="/api/v1/sync/push")
    ap.add_argument("--body-length", type=int, default=1000)
    ap.add_argument("--status", required=True)
    ap.add_argument("--answers", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--max-seconds", type=float, default=300)
    a = ap.parse_args()
    total = a.headers + a.body
    if not 0 < total <= 1000 or (not a.same_source and total > 250):
        sys.exit("slowclients: 1 to 1000 clients (250 with one address each)")

    ctx = ssl.create_default_context(cafile=a.cacert)
    conns = []  # [sock, pending bytes, answer or None, closed]
    for i in range(total):
        src = a.sources + ("1" if a.same_source else str(i + 1))
        raw = socket.create_connection((a.host, a.port), timeout=30,
                                       source_address=(src, 0))
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        if i < a.headers:
            pending = ("GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                       "X-Slow: " + "x" * 4000 + "\r\n\r\n").encode()
        else:
            head = ("POST %s HTTP/1.1\r\nHost: localhost\r\n"
                    "Content-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n"
                    % (a.path, a.body_length)).encode()
            s.sendall(head)
            pending = b"{" + b" " * (a.body_length - 2) + b"}"
        s.setblocking(False)
        conns.append([s, pending, None, False])
    open(a.answers, "w").close()
    with open(a.status, "w") as f:
        f.write("open %d\n" % total)

    deadline = time.monotonic() + a.max_seconds
    next_byte = time.monotonic()
    while time.monotonic() < deadline and not os.path.exists(a.stop):
        now = time.monotonic()
        if now >= next_byte:
            for c in conns:
                if c[3] or c[2] is not None or not c[1]:
                    continue
                try:
                    c[0].send(c[1][:1])
                    c[1] = c[1][1:]
                except (ssl.SSLWantWriteError, BlockingIOError):
                    pass
                except OSError:
                    c[3] = True
            next_byte = now + 1.0
        live = [c[0] for c in conns if not c[3] and c[2] is None]
        if not live:
            time.sleep(0.1)
            continue
        r, _, _ = select.select(live, [], [], 0.1)
        for s in r:
            c = next(c for c in conns if c[0] is s)
            try:
                data = s.recv(4096)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except OSError:
                c[3] = True
                continue
            if not data:
                c[3] = True
            else:
                c[2] = data.split(b"\r\n", 1)[0].decode("latin-1")
                # One line per answer as it comes: a test may wait on it.
                with open(a.answers, "a") as f:
                    f.write(c[2] + "\n")

    still = sum(1 for c in conns if not c[3] and c[2] is None)
    answered = [c[2] for c in conns if c[2] is not None]
    with open(a.status, "a") as f:
        f.write("still-open %d answered %d\n" % (still, len(answered)))
    for c in conns:
        try:
            c[0].close()
        except OSError:
            pass


if __name__ == "__main__":
    main()
