"""Live events: the collector publishes what each commit stored; SSE clients subscribe."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from threadline.model import Message


class Broadcaster:
    """Fans committed messages out to per-project subscriber queues.

    Publishing happens on the event loop after a commit; a slow subscriber whose
    queue is full loses the oldest events rather than slowing ingest down.
    """

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subs: dict[str, set[asyncio.Queue[Message]]] = {}

    def subscribe(self, project_id: str) -> asyncio.Queue[Message]:
        q: asyncio.Queue[Message] = asyncio.Queue(self.queue_size)
        self._subs.setdefault(project_id, set()).add(q)
        return q

    def unsubscribe(self, project_id: str, q: asyncio.Queue[Message]) -> None:
        subs = self._subs.get(project_id)
        if subs is not None:
            subs.discard(q)

    @property
    def listener(self) -> Callable[[str, list[Message]], None]:
        return self.publish

    def publish(self, project_id: str, messages: list[Message]) -> None:
        for q in list(self._subs.get(project_id, ())):
            for msg in messages:
                if q.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        q.get_nowait()
                q.put_nowait(msg)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())
