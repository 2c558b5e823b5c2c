"""Real web servers in a thread on a loopback port: uvicorn for ASGI, waitress for WSGI.

Used by the middleware failure tests and the backend end-to-end test, so the
middleware runs under the servers it will meet in production.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from waitress.server import create_server

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


def bearer(claims: dict[str, Any]) -> dict[str, str]:
    """An ``Authorization`` header with an HS256 JWT of ``claims`` (signed by the app's
    secret; the middleware reads it without verifying)."""
    import jwt

    token = jwt.encode(claims, "app-secret-the-middleware-never-sees", algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}
