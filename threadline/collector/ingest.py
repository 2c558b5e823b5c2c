"""Hand parsed requests to the store's writer and wait for the durable ack.

A request may carry any number of invalid messages (150,000 one-byte elements fit in
300 KB): only the first ``rejected_limit`` are listed in the answer and kept in the
quarantine, and one summary entry counts the rest (docs/collector.md). The ingest
stats still count every one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from threadline.errors import StoreError, store_unavailable
from threadline.model import Message, Parsed, Rejected
from threadline.storage.apply import IngestResult
from threadline.storage.duckdb_store import DuckDBStore

# The code of the summary entry standing for a request's rejects over the limit.
TOO_MANY_REJECTED = "too_many_rejected"
DEFAULT_REJECTED_LIMIT = 100


def capped(rejected: list[Rejected], limit: int) -> list[Rejected]:
    """The first ``limit`` rejects and, when there are more, one summary entry that
    counts the rest (indexed at the first of them; its reason sums up their codes)."""
    limit = max(0, limit)
    if len(rejected) <= limit:
        return rejected
    rest = rejected[limit:]
    codes = Counter(r.code for r in rest)
    summary = ", ".join(f"{code} {n}" for code, n in codes.most_common())
    reason = (f"{len(rest)} more rejected messages of this request (indexes {rest[0].index} "
              f"to {rest[-1].index}) are counted but not kept: {summary}")
    return [*rejected[:limit], Rejected(rest[0].index, TOO_MANY_REJECTED, reason, None, count=len(rest))]


def rejected_total(rejected: list[Rejected]) -> int:
    """How many messages of a request were rejected, summary entries included."""
    return sum(r.count for r in rejected)


def rejected_answer(result: IngestResult) -> dict[str, Any]:
    """The native answer's ``rejected`` list, and ``rejected_total`` beside it when the
    list was cut at the limit (api.md's shape is unchanged otherwise)."""
    listed = [{"index": r.index, "code": r.code, "reason": r.reason}
              for r in result.rejected if r.code != TOO_MANY_REJECTED]
    out: dict[str, Any] = {"rejected": listed}
    total = rejected_total(result.rejected)
    if total > len(listed):
        out["rejected_total"] = total
    return out


class Ingestor:
    """Submits parsed batches; publishes what was stored to live listeners."""

    def __init__(self, store: DuckDBStore, rejected_limit: int = DEFAULT_REJECTED_LIMIT) -> None:
        self.store = store
        self.rejected_limit = rejected_limit
        self.listeners: list[Callable[[str, list[Message]], None]] = []
        self.totals = {"accepted": 0, "duplicates": 0, "quarantined": 0, "personless": 0,
                       "suppressed": 0, "requests": 0}

    async def submit(self, project_id: str, parsed: Parsed, received_at_us: int,
                     source: str) -> IngestResult:
        """Store ``parsed``; returns once its transaction has committed.

        A full writer queue or a failing store is a 503 with Retry-After: the
        client keeps the batch and retries, so nothing acked is ever lost.
        """
        rejected = capped(parsed.rejected, self.rejected_limit)
        try:
            future = self.store.ingest(project_id, parsed.messages, rejected, received_at_us, source)
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
        t["quarantined"] += rejected_total(result.rejected)
        t["personless"] += result.personless
        t["suppressed"] += result.suppressed
        if result.stored:
            for listener in list(self.listeners):
                listener(project_id, result.stored)
        return result
