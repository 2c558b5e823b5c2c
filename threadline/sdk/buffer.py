"""The bounded queue between the caller's threads and the consumer thread.

``put`` never blocks: a full queue refuses the item and counts it, because an analytics
client must never slow down or stall the application it is embedded in. The consumer
takes items in batches: as soon as ``flush_at`` are waiting, when the oldest has waited
``flush_interval``, or at once while someone is flushing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class Deferred(Protocol):
    """Work whose messages are built on the consumer thread, off the caller's path
    (the middleware's API calls: decoding headers, hooks, redaction all happen there)."""

    def messages(self) -> Iterable[Mapping[str, Any]]:
        """The messages to send (possibly none)."""
        ...


Item = bytes | Deferred


class MessageQueue:
    """A bounded FIFO with batch takes, completion tracking for ``flush`` and a close."""

    def __init__(self, maxsize: int, flush_at: int, flush_interval: float) -> None:
        self.maxsize = maxsize
        self.flush_at = max(1, flush_at)
        self.flush_interval = flush_interval
        self._items: deque[Item] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._unfinished = 0
        self._oldest = 0.0
        self._flushing = 0
        self._closed = False
        self.enqueued = 0
        self.dropped_full = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called: puts are refused."""
        return self._closed

    def put(self, item: Item) -> bool:
        """Append ``item`` unless the queue is full or closed; never blocks."""
        with self._lock:
            n = len(self._items)
            if self._closed:
                return False
            if n >= self.maxsize:
                self.dropped_full += 1
                return False
            self._items.append(item)
            self._unfinished += 1
            self.enqueued += 1
            # Wake the consumer only when it has something new to decide: the first
            # item starts the interval clock, the flush_at-th fills a batch.
            if n == 0:
                self._oldest = time.monotonic()
                self._ready.notify()
            elif n + 1 == self.flush_at:
                self._ready.notify()
            return True

    def take(self, max_items: int) -> list[Item] | None:
        """Block until a batch is due and return up to ``max_items`` items; ``None`` once
        the queue is closed and empty (the consumer then exits)."""
        with self._lock:
            while True:
                n = len(self._items)
                if n >= self.flush_at or (n and (self._flushing or self._closed)):
                    break
                if n:
                    remaining = self._oldest + self.flush_interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._ready.wait(remaining)
                elif self._closed:
                    return None
                else:
                    self._ready.wait()
            count = min(n, max_items)
            return [self._items.popleft() for _ in range(count)]

    def done(self, n: int) -> None:
        """Mark ``n`` taken items as finished (sent, failed or dropped)."""
        with self._lock:
            self._unfinished -= n
            if self._unfinished <= 0:
                self._unfinished = 0
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None) -> bool:
        """Make the consumer send what is waiting and wait until every item put so far is
        finished; ``False`` if ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flushing += 1
            self._ready.notify()
            try:
                while self._unfinished:
                    if deadline is None:
                        self._idle.wait()
                        continue
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._idle.wait(remaining)
                return True
            finally:
                self._flushing -= 1

    def close(self) -> None:
        """Refuse further puts and let the consumer drain and exit."""
        with self._lock:
            self._closed = True
            self._ready.notify_all()

    def clear(self) -> int:
        """Drop everything waiting (used when giving up at shutdown); returns how many."""
        with self._lock:
            n = len(self._items)
            self._items.clear()
            self._unfinished = max(0, self._unfinished - n)
            if not self._unfinished:
                self._idle.notify_all()
            return n
