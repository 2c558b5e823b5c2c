"""A loopback HTTP proxy in front of a Threadline server that loses answers on purpose.

A lost answer is a fault outside the system (a network or load-balancer failure after
the server committed): the proxy forwards a request, lets the server store it, then
closes the client's connection without a byte of the answer. The client cannot know
its events were stored and retries; the test checks they are stored once.

Every request is recorded (method, path, answered status or ``None`` when dropped), so a
test can also count a client's retries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx

# Hop-by-hop headers are the proxy's own business; the rest goes through unchanged.
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "host", "content-length"}


@dataclass
class Seen:
    method: str
    path: str
    status: int | None  # None: forwarded, and its answer dropped


@dataclass
class FaultProxy:
    """Forwards to ``upstream``; ``drop(method, path)`` says, per request, whether to
    lose its answer (it is called once for each request, in arrival order)."""

    upstream: str
    drop: Callable[[str, str], bool] = lambda method, path: False
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def posts(self, prefix: str = "") -> list[Seen]:
        """The POSTs seen so far whose path starts with ``prefix``."""
        return [s for s in self.seen if s.method == "POST" and s.path.startswith(prefix)]


def drop_first(n: int, prefix: str) -> Callable[[str, str], bool]:
    """A ``drop`` rule losing the answers of the first ``n`` POSTs under ``prefix``."""
    left = [n]
    lock = threading.Lock()

    def rule(method: str, path: str) -> bool:
        with lock:
            if method == "POST" and path.startswith(prefix) and left[0] > 0:
                left[0] -= 1
                return True
            return False

    return rule


@contextmanager
def fault_proxy(upstream: str, drop: Callable[[str, str], bool] | None = None) -> Iterator[FaultProxy]:
    """Run a :class:`FaultProxy` on a free loopback port; yields it with ``url`` set."""
    proxy = FaultProxy(upstream, drop or (lambda method, path: False))
    lock = threading.Lock()
    client = httpx.Client(base_url=upstream, timeout=30)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request a connection: dropping one is simple

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            upstream_host = urlsplit(upstream).netloc
            # The Host the client used (the proxy's), so settings documents name the proxy.
            headers["Host"] = self.headers.get("Host", upstream_host)
            lose = proxy.drop(self.command, self.path)
            r = client.request(self.command, self.path, content=body, headers=headers)
            with lock:
                proxy.seen.append(Seen(self.command, self.path, None if lose else r.status_code))
            if lose:
                self.close_connection = True
                return  # the server has stored it; the client gets an empty reply
            self.send_response(r.status_code)
            for k, v in r.headers.multi_items():
                # send_response wrote the proxy's own Date and Server; the body is decoded.
                if k.lower() not in HOP and k.lower() not in ("content-encoding", "date", "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(r.content)))
            self.end_headers()
            self.wfile.write(r.content)

        do_GET = do_POST = do_OPTIONS = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        httpd.shutdown()
        httpd.server_close()
        client.close()
        thread.join(10)
