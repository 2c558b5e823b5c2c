"""Opening the store directly when no server runs on the data directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from threadline.cli.keys import print_created
from threadline.errors import StoreError
from threadline.settings import Settings
from threadline.storage.duckdb_store import DuckDBStore


@contextmanager
def open_store(settings: Settings) -> Iterator[DuckDBStore]:
    """The data directory's store, with the default project in place; a clear error when
    another process holds it."""
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
