"""What the client did with the messages it was given: counters and their snapshot."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields

from threadline.sdk.transport import Delivery


@dataclass(frozen=True)
class Stats:
    """A snapshot of a client's counters (all since the client was created or forked).

    Every message handed to the client ends in exactly one of ``accepted``,
    ``duplicates``, ``rejected``, ``failed`` or one of the ``dropped_*`` counters,
    or is still ``queued``.
    """

    enqueued: int = 0
    queued: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    dropped_queue_full: int = 0
    dropped_oversized: int = 0
    dropped_invalid: int = 0
    retries: int = 0
    requests: int = 0


class Counters:
    """Thread-safe counters; the caller's thread only touches them on the rare drop path."""

    # The queue counts what passes through its lock anyway (enqueued, queued, full).
    _names = tuple(
        f.name for f in fields(Stats) if f.name not in ("queued", "enqueued", "dropped_queue_full")
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self._names, 0)

    def add(self, name: str, n: int = 1) -> int:
        """Add ``n`` to counter ``name`` and return its new value."""
        with self._lock:
            self._values[name] += n
            return self._values[name]

    def record(self, delivery: Delivery) -> None:
        """Count the outcome of one transport send."""
        with self._lock:
            for name in ("accepted", "duplicates", "rejected", "failed", "retries", "requests"):
                self._values[name] += getattr(delivery, name)

    def snapshot(self, *, queued: int, enqueued: int, dropped_queue_full: int) -> Stats:
        """The counters now, with the queue's own figures."""
        with self._lock:
            return Stats(queued=queued, enqueued=enqueued, dropped_queue_full=dropped_queue_full,
                         **self._values)
