"""The consumer thread: takes items from the queue, builds and packs them, sends batches.

One consumer per client (per process: a forked child starts its own). Everything slow
or fallible happens here, never on the caller's thread: building deferred messages,
serialising them, HTTP, retries and their backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from threadline.sdk.buffer import Item, MessageQueue
from threadline.sdk.messages import OversizedMessage, encode
from threadline.sdk.stats import Counters
from threadline.sdk.transport import ENVELOPE_BYTES, Delivery, Transport

log = logging.getLogger("threadline.sdk")

ErrorHook = Callable[[Delivery, Sequence[bytes]], Any]


def pack(messages: Sequence[bytes], max_batch_bytes: int) -> Iterator[list[bytes]]:
    """Split serialised messages into batches whose request body stays under
    ``max_batch_bytes`` (each message is under the per-message limit, far smaller)."""
    limit = max_batch_bytes - ENVELOPE_BYTES
    batch: list[bytes] = []
    size = 0
    for data in messages:
        cost = len(data) + 1  # the separating comma
        if batch and size + cost > limit:
            yield batch
            batch, size = [], 0
        batch.append(data)
        size += cost
    if batch:
        yield batch


def encode_items(
    items: Sequence[Item], counters: Counters, max_message_bytes: int
) -> list[bytes]:
    """Serialised messages of ``items``: bytes pass through, deferred work is built here.

    A deferred item that fails is logged and dropped: it is the host's hook code (mask,
    identify) running, and its bug must not stop other messages.
    """
    out: list[bytes] = []
    for item in items:
        if isinstance(item, bytes):
            out.append(item)
            continue
        try:
            built = list(item.messages())
        except Exception:
            log.exception("threadline: building a message failed; it is dropped")
            counters.add("dropped_invalid")
            continue
        for message in built:
            try:
                out.append(encode(message, max_message_bytes))
            except OversizedMessage as exc:
                log.warning("threadline: dropping a message: %s", exc)
                counters.add("dropped_oversized")
            except Exception:
                log.exception("threadline: a message could not be serialised; it is dropped")
                counters.add("dropped_invalid")
    return out


class Consumer(threading.Thread):
    """Daemon thread draining one :class:`MessageQueue` into one :class:`Transport`.

    It is a daemon so a host that forgets ``shutdown()`` can still exit; the atexit
    hook gives it a bounded time to flush first.
    """

    def __init__(
        self,
        queue: MessageQueue,
        make_transport: Callable[[], Transport],
        counters: Counters,
        *,
        flush_at: int,
        max_batch_bytes: int,
        max_message_bytes: int,
        on_error: ErrorHook | None = None,
    ) -> None:
        super().__init__(name="threadline-consumer", daemon=True)
        self.queue = queue
        # Built on this thread: an HTTP client loads CA certificates (tens of ms), which
        # the first tracking call on the caller's thread must not pay for.
        self.make_transport = make_transport
        self.transport: Transport | None = None
        self.counters = counters
        self.flush_at = flush_at
        self.max_batch_bytes = max_batch_bytes
        self.max_message_bytes = max_message_bytes
        self.on_error = on_error

    def run(self) -> None:
        try:
            self.transport = self.make_transport()
            while True:
                items = self.queue.take(self.flush_at)
                if items is None:
                    return
                try:
                    self.process(items)
                except Exception:  # pragma: no cover - process() guards its parts
                    log.exception("threadline: consumer error")
                finally:
                    self.queue.done(len(items))
        finally:
            if self.transport is not None:
                self.transport.close()

    def process(self, items: Sequence[Item]) -> None:
        """Build, pack and send ``items``."""
        transport = self.transport
        assert transport is not None, "process() runs on the consumer thread"
        encoded = encode_items(items, self.counters, self.max_message_bytes)
        for batch in pack(encoded, self.max_batch_bytes):
            if transport.stop.is_set():
                self.counters.record(Delivery(failed=len(batch), errors=("stopped",)))
                continue
            delivery = transport.send(batch)
            self.counters.record(delivery)
            if (delivery.failed or delivery.rejected) and self.on_error is not None:
                try:
                    self.on_error(delivery, batch)
                except Exception:
                    log.exception("threadline: the on_error hook raised")
