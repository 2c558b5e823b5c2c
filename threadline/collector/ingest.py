"""Hand parsed requests to the store's writer and wait for the durable ack."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from threadline.errors import StoreError, store_unavailable
from threadline.model import Message, Parsed
from threadline.storage.apply import IngestResult
from threadline.storage.duckdb_store import DuckDBStore


class Ingestor:
    """Submits parsed batches; publishes what was stored to live listeners."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        self.listeners: list[Callable[[str, list[Message]], None]] = []
        self.totals = {"accepted": 0, "duplicates": 0, "quarantined": 0, "personless": 0,
                       "suppressed": 0, "requests": 0}

    async def submit(self, project_id: str, parsed: Parsed, received_at_us: int,
                     source: str) -> IngestResult:
        """Store ``parsed``; returns once its transaction has committed.

        A full writer queue or a failing store is a 503 with Retry-After: the
        client keeps the batch and retries, so nothing acked is ever lost.
        """
        try:
            future = self.store.ingest(project_id, parsed.messages, parsed.rejected,
                                       received_at_us, source)
        except StoreError as exc:
            raise store_unavailable(str(exc)) from exc
        try:
            result = await asyncio.wrap_future(future)
        except StoreError as exc:
            raise store_unavailable(str(exc)) from exc
        except Exception as exc:  # the write failed: nothing was acked, the client retries
            raise store_unavailable(f"the store could not commit: {type(exc).__name__}") from exc
        t = self.totals
        t["requests"] += 1
        t["accepted"] += result.accepted
        t["duplicates"] += result.duplicates
        t["quarantined"] += len(result.rejected)
        t["personless"] += result.personless
        t["suppressed"] += result.suppressed
        if result.stored:
            for listener in list(self.listeners):
                listener(project_id, result.stored)
        return result
