"""One way for every CLI command to reach the data: the HTTP API.

A command talks to a server when one is named (``--url`` and ``--key``) or runs on the
data directory (DuckDB lets one process hold the store, so a second process must go
through the server). Otherwise it opens the data directory's existing store in-process
and speaks to the same application through Starlette's in-process client, so both paths
run the same code. Only ``serve`` and ``demo`` create a store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from threadline.cli.running import RunningServer, running_server
from threadline.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def data_option(f: F) -> F:
    """``--data DIR``."""
    return click.option("--data", "data_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
                        help="Data directory [env THREADLINE_DATA_DIR; ./threadline-data].")(f)


def target_options(f: F) -> F:
    """``--data DIR | --url URL --key SECRET``: where a command's data is."""
    f = click.option("--key", default=None, metavar="SECRET",
                     help="A project's secret key (default: the default project's).")(f)
    f = click.option("--url", default=None, metavar="URL",
                     help="A server's base URL, instead of a data directory (needs --key).")(f)
    return data_option(f)


@dataclass(frozen=True)
class Target:
    """Where a command works: a data directory, or a server's URL with a secret key."""

    settings: Settings
    url: str | None = None
    key: str | None = None

    @classmethod
    def of(cls, data_dir: Path | None, url: str | None = None, key: str | None = None) -> Target:
        if url is not None and not key:
            raise click.UsageError("--url needs --key (the project's secret key)")
        return cls(Settings.from_env(data_dir=data_dir), url.rstrip("/") if url else None, key)

    def server(self) -> RunningServer | None:
        """The server to talk to, or None to open the store in-process."""
        if self.url is not None:
            return RunningServer(self.url, str(self.key))
        server = running_server(self.settings.data_dir)
        if server is not None and self.key:
            return RunningServer(server.url, self.key)
        return server


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

    def ingest(self, batch: list[Any], lines: list[int] | None = None) -> dict[str, Any]:
        """``POST /v1/batch`` with the secret key: ``{"accepted", "duplicates", "rejected"}``.
        With ``lines`` (the file line of each item), rejects are quarantined and answered
        under their line numbers (``collector/import_lines``)."""
        headers = {"X-Threadline-Import-Lines": ",".join(map(str, lines))} if lines else {}
        out: dict[str, Any] = self.post("/v1/batch", {"batch": batch}, auth=(self.secret_key, ""),
                                        headers=headers)
        return out


@contextmanager
def api(target: Target, *, create: bool = False) -> Iterator[Api]:
    """An :class:`Api` for ``target`` (see the module doc). Without a server, the data
    directory must hold a store unless ``create`` (``demo`` only): see ``local.require_store``."""
    server = target.server()
    if server is not None:
        with httpx.Client(base_url=server.url, timeout=120,
                          headers={"Authorization": f"Bearer {server.secret_key}"}) as http:
            yield Api(http, server.secret_key, remote=True)
        return
    import warnings

    with warnings.catch_warnings():
        # Starlette's in-process client is the supported way to call an ASGI app
        # synchronously; its note about a future httpx fork is not for our users.
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from threadline.app import create_app, open_services
    from threadline.cli.local import require_store
    from threadline.errors import StoreError

    settings = target.settings
    if not create:
        require_store(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        services = open_services(settings)
    except StoreError as exc:
        raise click.ClickException(
            f"{exc}. Is another Threadline process using {settings.data_dir}?") from None
    from threadline.cli.keys import print_created

    print_created(services.store.ensure_default_project(settings.write_key, settings.secret_key),
                  settings)
    secret = target.key or services.store.local_secret_key
    app = create_app(settings, services)
    with TestClient(app, base_url="http://threadline.local", raise_server_exceptions=True,
                    headers={"Authorization": f"Bearer {secret}"}) as http:
        yield Api(http, secret, remote=False)
