"""Load demo messages through the same path as ``/v1/batch``: the Segment adapter, then
the store's writer, so every identity rule applies exactly as it does to live traffic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from threadline.collector.formats import segment
from threadline.collector.request_info import RequestInfo
from threadline.demo.generator import DEFAULT_EVENTS, batches, generate
from threadline.projects import DEFAULT_PROJECT
from threadline.services import Services
from threadline.storage.duckdb_store import DuckDBStore, now_us


def load_messages(store: DuckDBStore, messages: list[dict[str, Any]], project_id: str = DEFAULT_PROJECT,
                  source: str = "native", fixed_day: str | None = None,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Parse and store messages in batches; returns accepted, duplicates and rejected counts."""
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for chunk in batches(messages):
        received = now_us()
        info = RequestInfo(
            project_id=project_id, settings=store.settings(project_id), received_at_us=received,
            ip="", user_agent="", origin="", day=fixed_day or _day(received),
            salt=lambda day: store.salt(project_id, day),
            message_limit=1024 * 1024,
        )
        parsed = segment.parse_batch({"batch": chunk}, info)
        result = store.ingest(project_id, parsed.messages, parsed.rejected, received, source).result(300)
        totals["accepted"] += result.accepted
        totals["duplicates"] += result.duplicates
        totals["rejected"] += len(result.rejected)
        if progress:
            progress(len(chunk))
    return totals


def _day(us: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).strftime("%Y-%m-%d")


def load_demo(store: DuckDBStore, days: int = 30, seed: int = 7, events: int = DEFAULT_EVENTS,
              progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Generate and store the demo month in the default project."""
    return load_messages(store, generate(days=days, seed=seed, events=events), progress=progress)


def store_is_empty(services: Services) -> bool:
    """Whether the default project has no events yet (the demo loads only then)."""
    # A cursor of its own, closed at once: the thread's shared read cursor would keep
    # this query's snapshot through the whole load, and the FORCE CHECKPOINT that
    # closing the store runs then spins for minutes, so the server never exits on SIGTERM.
    cur = services.store.cursor()
    try:
        row = cur.execute(
            "SELECT count(*) FROM events WHERE project_id = ?", [DEFAULT_PROJECT]).fetchone()
    finally:
        cur.close()
    return not (row and row[0])


def load_demo_if_empty(services: Services) -> dict[str, int] | None:
    """Load the demo when the default project has no events yet (``serve --demo``)."""
    if not store_is_empty(services):
        return None
    return load_demo(services.store)
