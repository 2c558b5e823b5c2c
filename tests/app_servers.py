"""Customer web apps served by real web servers in a thread on a loopback port:
uvicorn for ASGI, waitress or werkzeug for WSGI.

The middleware failure tests and the backend end-to-end test use uvicorn and
waitress, so the middleware runs under the servers it will meet in production; the
Moesif compatibility tests host the unmodified Moesif middlewares under uvicorn and
werkzeug.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from waitress.server import create_server
from werkzeug.serving import make_server

from tests.conftest import free_port


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
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
def waitress_server(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app with waitress; yields its base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=4, channel_timeout=10)
    port = server.effective_port  # type: ignore[union-attr]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=5)  # type: ignore[union-attr]
        thread.join(10)


@contextmanager
def werkzeug_server(app: Any) -> Iterator[str]:
    """Serve a WSGI app with werkzeug's threaded server; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
