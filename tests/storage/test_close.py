"""Closing the store while request threads still hold read cursors."""

from __future__ import annotations

import threading
from pathlib import Path

from threadline.storage.duckdb_store import DuckDBStore


def test_close_does_not_wait_for_a_reader_that_left_a_result_half_read(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "c.duckdb")
    store.ensure_default_project(None, None)
    # A request thread reads one row of many and goes back to its pool, keeping its cursor.
    reader = threading.Thread(target=lambda: store.read().execute("SELECT * FROM range(100000)").fetchone())
    reader.start()
    reader.join()
    store.set_setting("default", "ip_policy", "strict")  # a commit after that read began
    closer = threading.Thread(target=store.close, daemon=True)
    closer.start()
    closer.join(60)
    assert not closer.is_alive(), "the checkpoint at close waited for the reader's transaction"
    reopened = DuckDBStore(tmp_path / "c.duckdb")
    try:
        assert reopened.settings("default").ip_policy == "strict"
    finally:
        reopened.close()
