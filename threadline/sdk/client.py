"""The Threadline client: identify, track, page, group, alias; flush and shutdown.

On the caller's thread a call only validates, serialises and enqueues (a few
microseconds); one consumer thread per client and process does the rest. The client
never raises into the host application and never blocks it, unless ``debug=True``
(then invalid calls and, in ``sync_mode``, failed deliveries raise).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from threadline.sdk import lifecycle
from threadline.sdk.buffer import Deferred, Item, MessageQueue
from threadline.sdk.consumer import Consumer, ErrorHook, encode_items, pack
from threadline.sdk.messages import (
    LIBRARY_NAME,
    MAX_MESSAGE_BYTES,
    MAX_REQUEST_BYTES,
    VERSION,
    InvalidCall,
    OversizedMessage,
    build,
    encode,
)
from threadline.sdk.retry import Backoff
from threadline.sdk.stats import Counters, Stats
from threadline.sdk.transport import Delivery, Transport

log = logging.getLogger("threadline.sdk")

DEFAULT_HOST = "http://127.0.0.1:8750"


class DeliveryError(RuntimeError):
    """A ``sync_mode`` delivery that failed (raised only with ``debug=True``)."""

    def __init__(self, delivery: Delivery) -> None:
        super().__init__("; ".join(delivery.errors) or "delivery failed")
        self.delivery = delivery


class Client:
    """A client for one Threadline project.

    ``key`` is the project's write key (or its secret key, for server-to-server use);
    ``host`` the server's base URL. Batches go out when ``flush_at`` messages wait, when
    the oldest has waited ``flush_interval`` seconds, or on :meth:`flush`. At most
    ``max_queue_size`` messages wait; beyond that calls are dropped and counted in
    :meth:`stats`, never blocked. ``sync_mode`` sends every call before returning
    (scripts, tests). ``send=False`` validates but sends nothing.
    """

    def __init__(
        self,
        key: str | None = None,
        host: str | None = None,
        *,
        debug: bool = False,
        send: bool = True,
        sync_mode: bool = False,
        max_queue_size: int = 10_000,
        flush_at: int = 100,
        flush_interval: float = 0.5,
        max_batch_bytes: int = MAX_REQUEST_BYTES - 12_000,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        gzip: bool = True,
        timeout: float = 10.0,
        max_retries: int = 8,
        backoff: Backoff | None = None,
        on_error: ErrorHook | None = None,
        shutdown_timeout: float = 5.0,
        library: Mapping[str, str] | None = None,
    ) -> None:
        self.key = key or ""
        self.host = (host or DEFAULT_HOST).rstrip("/")
        self.debug = debug
        self.send = send
        self.sync_mode = sync_mode
        self.max_queue_size = max_queue_size
        self.flush_at = flush_at
        self.flush_interval = flush_interval
        self.max_batch_bytes = max_batch_bytes
        self.max_message_bytes = max_message_bytes
        self.gzip = gzip
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff or Backoff()
        self.on_error = on_error
        self.shutdown_timeout = shutdown_timeout
        self.library = dict(library or {"name": LIBRARY_NAME, "version": VERSION})
        if not self.key:
            if debug:
                raise InvalidCall("a Threadline key is required")
            log.error("threadline: no key given; nothing will be sent")
            self.send = False
        self._reset()
        lifecycle.track(self)

    def _reset(self) -> None:
        """Fresh per-process state: at creation and in a forked child, whose copies of the
        parent's locks may be held by a thread that does not exist in the child."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._queue = MessageQueue(self.max_queue_size, self.flush_at, self.flush_interval)
        self._counters = Counters()
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._sync_transport: Transport | None = None
        # A client dropped without shutdown() lets its consumer drain and exit rather
        # than wait forever; not at exit, where _at_exit flushes first.
        weakref.finalize(self, MessageQueue.close, self._queue).atexit = False

    def after_fork(self) -> None:
        """Called in a forked child: start over with an empty queue and no consumer;
        what the parent had queued stays the parent's to send."""
        self._reset()

    def at_exit(self) -> None:
        """Called at interpreter exit: flush (bounded) if this client ever sent."""
        if self._consumer is not None and not self._queue.closed:
            self.shutdown()

    # -- the tracking calls -------------------------------------------------------

    def identify(
        self,
        user_id: str | int | None = None,
        traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        anonymous_id: str | int | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str | None:
        """Tie ``user_id`` to ``traits``; pass the browser's ``anonymous_id`` (see
        :func:`threadline.sdk.anonymous_id_from_request`) to link its history.
        Returns the message id, or ``None`` when the call was dropped."""
        return self._call("identify", user_id=user_id, traits=traits, context=context,
                          timestamp=timestamp, anonymous_id=anonymous_id,
                          integrations=integrations, message_id=message_id)

    def track(
        self,
        user_id: str | int | None = None,
        event: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        anonymous_id: str | int | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str | None:
        """Record that a person did ``event``. Returns the message id or ``None``."""
        return self._call("track", user_id=user_id, event=event, properties=properties,
                          context=context, timestamp=timestamp, anonymous_id=anonymous_id,
                          integrations=integrations, message_id=message_id)

    def page(
        self,
        user_id: str | int | None = None,
        category: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        anonymous_id: str | int | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str | None:
        """Record a page view. Returns the message id or ``None``."""
        props = dict(properties or {})
        if category is not None:
            props.setdefault("category", category)
        return self._call("page", user_id=user_id, name=name, properties=props,
                          context=context, timestamp=timestamp, anonymous_id=anonymous_id,
                          integrations=integrations, message_id=message_id)

    def group(
        self,
        user_id: str | int | None = None,
        group_id: str | int | None = None,
        traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        anonymous_id: str | int | None = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str | None:
        """Make the person a member of company ``group_id`` (with company ``traits``)."""
        return self._call("group", user_id=user_id, group_id=group_id, traits=traits,
                          context=context, timestamp=timestamp, anonymous_id=anonymous_id,
                          integrations=integrations, message_id=message_id)

    def alias(
        self,
        previous_id: str | int | None = None,
        user_id: str | int | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> str | None:
        """Declare that ``previous_id`` and ``user_id`` are the same person."""
        return self._call("alias", previous_id=previous_id, user_id=user_id, context=context,
                          timestamp=timestamp, integrations=integrations, message_id=message_id)

    # -- queue and lifecycle ------------------------------------------------------

    def enqueue_deferred(self, item: Deferred) -> bool:
        """Queue work whose messages are built on the consumer thread (the middleware
        uses this so that nothing but an enqueue happens on the request path)."""
        return self._enqueue(item)

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far and wait for the answers; ``False`` if
        ``timeout`` seconds passed first. Safe from any thread."""
        if self.sync_mode or not self.send:
            return True
        return self._queue.wait_idle(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush (for at most ``timeout`` seconds, default ``shutdown_timeout``), then stop
        the consumer. Later calls are dropped and counted. ``False`` if messages were
        abandoned because time ran out."""
        timeout = self.shutdown_timeout if timeout is None else timeout
        queue = self._queue
        queue.close()
        flushed = queue.wait_idle(timeout)
        if not flushed:
            # Stop backoff waits and retries; what is still queued is given up on.
            self._stop.set()
            abandoned = queue.clear()
            if abandoned:
                self._counters.add("failed", abandoned)
                log.warning("threadline: shutdown gave up on %d queued messages", abandoned)
        consumer = self._consumer
        if consumer is not None and consumer is not threading.current_thread():
            consumer.join(1.0 if flushed else 0.2)
        if self._sync_transport is not None:
            self._sync_transport.close()
        return flushed

    def stats(self) -> Stats:
        """Counters of what became of the messages given to this client."""
        q = self._queue
        return self._counters.snapshot(queued=len(q), enqueued=q.enqueued,
                                       dropped_queue_full=q.dropped_full)

    # -- internals ----------------------------------------------------------------

    def _call(self, type_: str, **fields: Any) -> str | None:
        try:
            message = build(type_, library=self.library, **fields)
            data = encode(message, self.max_message_bytes)
        except Exception as exc:
            self._counters.add(
                "dropped_oversized" if isinstance(exc, OversizedMessage) else "dropped_invalid"
            )
            if self.debug:
                raise
            log.warning("threadline: %s call dropped: %s", type_, exc)
            return None
        if not self._enqueue(data):
            return None
        return str(message["messageId"])

    def _enqueue(self, item: Item) -> bool:
        if not self.send:
            return True
        if self._pid != os.getpid():  # forked without our at-fork hook (uWSGI by default)
            self._reset()
        if self._queue.closed:
            self._counters.add("dropped_invalid")
            log.warning("threadline: the client is shut down; call dropped")
            return False
        if self.sync_mode:
            return self._send_now(item)
        if not self._queue.put(item):
            if self._queue.closed:  # shut down between the check above and the put
                self._counters.add("dropped_invalid")
            else:
                dropped = self._queue.dropped_full
                if dropped == 1 or dropped % 1000 == 0:
                    log.warning("threadline: queue full (%d); %d calls dropped so far",
                                self.max_queue_size, dropped)
            return False
        if self._consumer is None:
            self._start_consumer()
        return True

    def _new_transport(self) -> Transport:
        return Transport(self.key, self.host, gzip=self.gzip, timeout=self.timeout,
                         max_retries=self.max_retries, backoff=self.backoff, stop=self._stop)

    def _start_consumer(self) -> None:
        with self._lock:
            if self._consumer is not None:
                return
            consumer = Consumer(
                self._queue, self._new_transport, self._counters, flush_at=self.flush_at,
                max_batch_bytes=self.max_batch_bytes, max_message_bytes=self.max_message_bytes,
                on_error=self.on_error,
            )
            consumer.start()
            self._consumer = consumer

    def _send_now(self, item: Item) -> bool:
        with self._lock:
            if self._sync_transport is None:
                self._sync_transport = self._new_transport()
            transport = self._sync_transport
        total = Delivery()
        for batch in pack(encode_items([item], self._counters, self.max_message_bytes),
                          self.max_batch_bytes):
            delivery = transport.send(batch)
            self._counters.record(delivery)
            total = total + delivery
            if (delivery.failed or delivery.rejected) and self.on_error is not None:
                try:
                    self.on_error(delivery, batch)
                except Exception:
                    log.exception("threadline: the on_error hook raised")
        if (total.failed or total.rejected) and self.debug:
            raise DeliveryError(total)
        return not (total.failed or total.rejected)
