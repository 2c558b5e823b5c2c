"""A tiny local stand-in for Threadline's collector that can misbehave on purpose.

It is outside the system under test (the SDK and middleware): it answers ``POST
/v1/batch`` like the real collector (idempotent by message id, 413 over its request
limit) unless its script says to be slow, fail or refuse. Everything it received is
kept for the test to inspect.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, extra headers, and a delay before answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw_bytes: int
    status: int
    arrived: float  # time.monotonic() when the request arrived

    @property
    def batch(self) -> list[dict[str, Any]]:
        return list(self.body.get("batch", []))


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the scenarios


class FakeCollector:
    """A collector on a loopback port. Use as a context manager."""

    def __init__(self, port: int = 0, request_limit: int = 500 * 1024) -> None:
        self.port = port
        self.request_limit = request_limit
        self.script: deque[Reply] = deque()
        self.requests: list[Received] = []
        # message id -> times it arrived in a request answered 2xx (1 = delivered once)
        self.stored: Counter[str] = Counter()
        self.cond = threading.Condition()
        self.release = threading.Event()  # ends scripted delays early at stop()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeCollector:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                collector._handle(self)

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeCollector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- behaviour -----------------------------------------------------------------

    def then(self, *replies: Reply) -> FakeCollector:
        """Answer the next requests with these replies, in order, then normally."""
        with self.cond:
            self.script.extend(replies)
        return self

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        length = int(handler.headers.get("content-length", "0"))
        raw = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        data = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
        with self.cond:
            reply = self.script.popleft() if self.script else Reply()
        if reply.delay:
            self.release.wait(reply.delay)
        status = reply.status
        if status == 200 and len(data) > self.request_limit:
            status = 413
        body: dict[str, Any] = {}
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            status = 400
        answer: dict[str, Any] = {"error": {"code": "scripted", "message": str(status)}}
        with self.cond:
            if 200 <= status < 300:
                accepted = duplicates = 0
                for message in body.get("batch", []):
                    mid = message.get("messageId")
                    if self.stored[mid]:
                        duplicates += 1
                    else:
                        accepted += 1
                    self.stored[mid] += 1
                answer = {"accepted": accepted, "duplicates": duplicates, "rejected": []}
            self.requests.append(Received(handler.path, headers, body, len(data), status, arrived))
            self.cond.notify_all()
        out = orjson.dumps(answer)
        handler.send_response(status)
        for k, v in reply.headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(out)))
        handler.end_headers()
        handler.wfile.write(out)

    # -- inspection ----------------------------------------------------------------

    def messages(self) -> list[dict[str, Any]]:
        """Every message of every request, including refused ones (retries repeat)."""
        with self.cond:
            return [m for r in self.requests for m in r.batch]

    def stored_messages(self) -> list[dict[str, Any]]:
        """Messages of accepted requests, first copy of each id."""
        seen: set[str] = set()
        out = []
        with self.cond:
            for r in self.requests:
                if 200 <= r.status < 300:
                    for m in r.batch:
                        if m["messageId"] not in seen:
                            seen.add(m["messageId"])
                            out.append(m)
        return out

    def wait_for(self, predicate: Callable[[FakeCollector], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` holds (re-checked on every request)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def wait_stored(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until ``n`` distinct messages were stored."""
        return self.wait_for(lambda c: len(c.stored) >= n, timeout)

    def statuses(self) -> Iterator[int]:
        with self.cond:
            return iter([r.status for r in self.requests])


class Hangup:
    """A port that accepts connections and closes them unanswered (a network error for
    the client), counting them, until it is closed and a collector takes the port."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()
            with self.cond:
                self.connections += 1
                self.cond.notify_all()

    def wait_connections(self, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.connections >= n, timeout)

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(), which would keep the port.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
