"""Opening the store directly when no server runs on the data directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from threadline.cli.keys import print_created
from threadline.errors import StoreError
from threadline.settings import Settings
from threadline.storage.duckdb_store import DuckDBStore


def require_store(settings: Settings) -> None:
    """Refuse, with what to pass instead, when the data directory holds no store.

    Only ``serve`` and ``demo`` create a store. Any other command run in the wrong folder
    would otherwise make a new empty one there and answer as if the data were gone.
    """
    if settings.store_path.is_file():
        return
    where = settings.data_dir.resolve()
    raise click.ClickException(
        f"no Threadline data in {where} (no {settings.store_path.name} there, and no server "
        "announced in it). Pass --data DIR with the directory `threadline serve` uses "
        "(or set THREADLINE_DATA_DIR), or --url URL --key SECRET for a server; "
        "`threadline serve --data DIR` creates a new store.")


@contextmanager
def open_store(settings: Settings, *, create: bool = False) -> Iterator[DuckDBStore]:
    """The data directory's store, with the default project in place; a clear error when
    another process holds it, or when there is no store and ``create`` is false."""
    if not create:
        require_store(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        store = DuckDBStore(settings.store_path, key_grace_hours=settings.key_grace_hours)
    except StoreError as exc:
        raise click.ClickException(
            f"{exc}. Is another Threadline process using {settings.data_dir}?") from None
    try:
        print_created(store.ensure_default_project(settings.write_key, settings.secret_key), settings)
        yield store
    finally:
        store.close()
