"""The app in-process over httpx's ASGI transport, for the operator-facing tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.conftest import SECRET_KEY, WRITE_KEY
from threadline.app import create_app
from threadline.settings import Settings


@asynccontextmanager
async def running_app(data_dir: Path, **settings: Any) -> AsyncIterator[Starlette]:
    """``create_app`` over a fresh store in ``data_dir``; the store is closed after."""
    app = create_app(Settings(data_dir=data_dir, write_key=WRITE_KEY, secret_key=SECRET_KEY, **settings))
    try:
        yield app
    finally:
        app.state.services.store.close()


def client(app: Starlette, *, bearer: str | None = None, peer: str = "127.0.0.1",
           base_url: str = "http://test") -> httpx.AsyncClient:
    """An HTTP client talking to ``app`` as if from ``peer``."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers,
                             follow_redirects=False)
