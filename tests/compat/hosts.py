"""Customer-side pieces for the end-to-end compatibility tests: host web apps served on
a loopback port in a thread (uvicorn for ASGI, werkzeug for WSGI), and polling the
query API until what a background sender posted has arrived."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn
from werkzeug.serving import make_server

from tests.conftest import free_port

T = TypeVar("T")


@contextmanager
def asgi_host(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:  # polling for readiness, not timing a result
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def wsgi_host(app: Any) -> Iterator[str]:
    """Serve a WSGI app with werkzeug's threaded server; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def until(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy, or fail saying ``what`` never came."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)  # waiting for a background sender, not timing a result
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")
