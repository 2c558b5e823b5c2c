"""Which message ids the store holds, answered exactly from memory.

Dedupe must not cost a query whose price grows with the events table: DuckDB does not
use the composite primary key's index to filter ``(project_id, message_id)``, so a probe
is a scan (0.4 s for a batch of 100 re-sent ids in a store of 1M events), and an
``INSERT OR IGNORE`` that lets the key check do the work still grows with the table.

So the writer keeps the key of every stored ``(project, message id)``: the first 128
bits of a salted SHA-256, 16 bytes an id in a sorted NumPy array plus a set of recent
ones (at most ``COMPACT_AT`` keys, about 100 bytes each, before they are merged into the
array). Two different ids share a key with probability 2^-128 a pair: with a billion
stored ids the chance that any new id is taken for an old one is below 10^-20, so a hit
is treated as certain and needs no confirming query. The salt is random per process
(the index is rebuilt from the table at every start), so nobody can prepare colliding
ids in advance either.

The index always equals the committed table: a transaction's inserts and deletes are
kept in its :class:`Overlay` and applied only after its commit (a rolled-back insert
must not make the retry of the same message look like a duplicate), and deletes (erase,
retention) remove their keys. The same key function exists in Python (``key``) and in
SQL (``KEY_SQL``), so the store hashes a million ids in DuckDB's vectorised engine when
it opens and the writer hashes each batch in Python.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

KEY_BYTES = 16
COMPACT_AT = 100_000
# salt, then the project id's length and the project id (so the concatenation cannot be
# read two ways), then the message id; the first 32 hex digits are the 16 key bytes.
KEY_SQL = ("unhex(left(sha256(?::VARCHAR || strlen(project_id)::VARCHAR || ':' || project_id "
           "|| message_id), 32))")


def _array(keys: Iterable[bytes]) -> np.ndarray[Any, Any]:
    return np.array(list(keys), dtype=f"S{KEY_BYTES}")


def _from_arrow(col: Any) -> np.ndarray[Any, Any]:
    """A column of 16-byte BLOBs as an S16 array without a Python object per row."""
    if len(col) == 0:
        return np.empty(0, dtype=f"S{KEY_BYTES}")
    fixed = col.combine_chunks().cast(pa.binary(KEY_BYTES))
    return np.frombuffer(fixed.buffers()[1], dtype=f"S{KEY_BYTES}", count=len(fixed),
                         offset=fixed.offset * KEY_BYTES).copy()


@dataclass
class Overlay:
    """Keys one open transaction inserted and deleted; disjoint at all times."""

    added: set[bytes] = field(default_factory=set)
    removed: set[bytes] = field(default_factory=set)

    def insert(self, keys: Iterable[bytes]) -> None:
        for k in keys:
            self.added.add(k)
            self.removed.discard(k)

    def delete(self, keys: Iterable[bytes]) -> None:
        for k in keys:
            self.removed.add(k)
            self.added.discard(k)


class SeenIds:
    """The exact set of stored message ids of every project, as 128-bit keys."""

    def __init__(self, salt: str | None = None) -> None:
        self.salt = salt or secrets.token_hex(16)
        self._salt_bytes = self.salt.encode()
        self._sorted = np.empty(0, dtype=f"S{KEY_BYTES}")
        self._recent: set[bytes] = set()
        self._prefix: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    @property
    def nbytes(self) -> int:
        """Memory held by the keys (the recent set counted at ~100 bytes a key)."""
        return int(self._sorted.nbytes) + 100 * len(self._recent)

    def key(self, project_id: str, message_id: str) -> bytes:
        """The 16-byte key of one id; equal to what ``KEY_SQL`` computes for its row."""
        base = self._prefix.get(project_id)
        if base is None:
            pid = project_id.encode()
            base = hashlib.sha256(self._salt_bytes + str(len(pid)).encode() + b":" + pid)
            self._prefix[project_id] = base
        h = base.copy()
        h.update(message_id.encode("utf-8", "surrogatepass"))
        return h.digest()[:KEY_BYTES]

    def keys_where(self, con: Any, where: str, params: Sequence[Any]) -> list[bytes]:
        """The keys of the events rows matching ``where`` (run before deleting them)."""
        rows = con.execute(f"SELECT {KEY_SQL} FROM events WHERE {where}",
                           [self.salt, *params]).fetchall()
        return [bytes(r[0]) for r in rows]

    def load(self, con: Any) -> None:
        """Replace the index with the keys of every committed event."""
        table = con.sql(f"SELECT {KEY_SQL} AS k FROM events", params=[self.salt]).to_arrow_table()
        arr = _from_arrow(table.column("k"))
        arr.sort()
        self._sorted = arr
        self._recent = set()

    def contains(self, keys: Sequence[bytes], overlay: Overlay | None = None) -> list[bool]:
        """For each key: whether its id is stored (as seen through ``overlay``)."""
        if not keys:
            return []
        arr = _array(keys)
        if len(self._sorted):
            pos = np.searchsorted(self._sorted, arr)
            pos[pos >= len(self._sorted)] = 0
            found = (self._sorted[pos] == arr).tolist()
        else:
            found = [False] * len(keys)
        recent = self._recent
        out = [bool(f) or k in recent for f, k in zip(found, keys, strict=True)]
        if overlay is not None and (overlay.added or overlay.removed):
            out = [(k in overlay.added) or (hit and k not in overlay.removed)
                   for k, hit in zip(keys, out, strict=True)]
        return out

    def apply(self, overlay: Overlay) -> None:
        """Make a committed transaction's inserts and deletes part of the index."""
        if overlay.removed:
            self._discard(overlay.removed)
        if overlay.added:
            self._recent.update(overlay.added)
            if len(self._recent) >= COMPACT_AT:
                self._compact()

    def _compact(self) -> None:
        fresh = _array(self._recent)
        fresh.sort()
        # One pass over the array (insert at the sorted positions), not a full re-sort.
        self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, fresh), fresh)
        self._recent = set()

    def _discard(self, keys: set[bytes]) -> None:
        self._recent.difference_update(keys)
        if not len(self._sorted):
            return
        arr = _array(keys)
        idx = np.searchsorted(self._sorted, arr)
        ok = idx < len(self._sorted)
        idx = idx[ok]
        hit = idx[self._sorted[idx] == arr[ok]]
        if len(hit):
            self._sorted = np.delete(self._sorted, hit)
