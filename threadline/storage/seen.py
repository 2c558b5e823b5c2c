"""Which message ids the store already holds, answered from memory.

Probing the events table's key for every commit costs a query whose price grows with
the table (DuckDB cannot use its index for a list of keys); a retry is rare, so most of
those probes find nothing. This index keeps a 64-bit hash of every stored
``(project, message id)``: a sorted NumPy array (8 bytes an id) plus a set of recent
ones. A hit is only a *maybe* (hashes can collide, and rows can have been erased), so
the writer confirms hits against the table; a miss is certain.

Hashes use Python's ``hash``, randomised per process: the index is rebuilt from the
table at every start, so that is fine, and it is fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

COMPACT_AT = 250_000


def id_hash(project_id: str, message_id: str) -> int:
    return hash((project_id, message_id))


class SeenIds:
    """An append-only set of message-id hashes with exact misses and probable hits."""

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.int64)
        self._recent: set[int] = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def load(self, con: Any, chunk: int = 200_000) -> None:
        """Hash every stored message id (once, when the store opens)."""
        cur = con.execute("SELECT project_id, message_id FROM events")
        parts = []
        while True:
            rows = cur.fetchmany(chunk)
            if not rows:
                break
            parts.append(np.fromiter((hash(r) for r in rows), dtype=np.int64, count=len(rows)))
        if parts:
            self._sorted = np.unique(np.concatenate(parts))

    def add(self, hashes: Iterable[int]) -> None:
        self._recent.update(hashes)
        if len(self._recent) >= COMPACT_AT:
            fresh = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
            self._sorted = np.union1d(self._sorted, fresh)
            self._recent.clear()

    def maybe(self, hashes: Sequence[int]) -> list[bool]:
        """For each hash: True when the id may be stored, False when it certainly is not."""
        if not hashes:
            return []
        arr = np.fromiter(hashes, dtype=np.int64, count=len(hashes))
        if len(self._sorted):
            pos = np.searchsorted(self._sorted, arr)
            pos[pos >= len(self._sorted)] = 0
            found = self._sorted[pos] == arr
        else:
            found = np.zeros(len(arr), dtype=bool)
        recent = self._recent
        return [bool(f) or h in recent for f, h in zip(found.tolist(), hashes, strict=True)]
