"""One way for every CLI command to reach the data: the HTTP API.

When a server runs on the data directory, commands talk to it (DuckDB lets one process
hold the store). Otherwise they open the store in-process and speak to the same
application through Starlette's in-process client, so both paths run the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import httpx

from threadline.cli.running import running_server
from threadline.settings import Settings


class Api:
    """A thin client of the query and collector API with CLI-friendly errors."""

    def __init__(self, http: Any, secret_key: str, remote: bool) -> None:
        self.http = http
        self.secret_key = secret_key
        self.remote = remote

    def request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach the server: {exc}") from None
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                msg = f"{err['message']} ({err['code']})"
            except (ValueError, KeyError, TypeError):
                msg = r.text[:300]
            raise click.ClickException(f"{method} {path}: {r.status_code} {msg}")
        return r.json() if r.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.request("POST", path, json=body, **kw)


@contextmanager
def api(settings: Settings, key: str | None = None) -> Iterator[Api]:
    """An :class:`Api` for the data directory of ``settings`` (see the module doc)."""
    server = running_server(settings.data_dir)
    if server is not None:
        secret = key or server.secret_key
        with httpx.Client(base_url=server.url, timeout=120,
                          headers={"Authorization": f"Bearer {secret}"}) as http:
            yield Api(http, secret, remote=True)
        return
    import warnings

    with warnings.catch_warnings():
        # Starlette's in-process client is the supported way to call an ASGI app
        # synchronously; its note about a future httpx fork is not for our users.
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from threadline.app import create_app, open_services
    from threadline.errors import StoreError

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        services = open_services(settings)
    except StoreError as exc:
        raise click.ClickException(
            f"{exc}. Is another Threadline process using {settings.data_dir}?") from None
    keys = services.store.ensure_default_project(settings.write_key, settings.secret_key)
    secret = key or str(keys["secret_key"])
    app = create_app(settings, services)
    with TestClient(app, base_url="http://threadline.local", raise_server_exceptions=True,
                    headers={"Authorization": f"Bearer {secret}"}) as http:
        yield Api(http, secret, remote=False)
