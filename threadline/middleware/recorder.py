"""The part the ASGI and WSGI middleware share: a client, an event builder, and the one
enqueue that is all the request path pays for."""

from __future__ import annotations

import logging
from typing import Any

from threadline.middleware.capture import CapturedRequest, CapturedResponse
from threadline.middleware.event import EventBuilder
from threadline.middleware.options import LIBRARY, Options
from threadline.sdk.buffer import Deferred
from threadline.sdk.client import Client
from threadline.sdk.messages import new_message_id

log = logging.getLogger("threadline.middleware")


class Recorder:
    """Owns (or borrows) the SDK client that carries the middleware's events."""

    def __init__(
        self,
        key: str | None,
        host: str | None,
        client: Client | None,
        options: Options,
        client_options: dict[str, Any],
    ) -> None:
        self.client = client or Client(key, host, library=LIBRARY, **client_options)
        self.options = options
        self.builder = EventBuilder(options, self.client.max_message_bytes)

    def record(self, call: Deferred) -> None:
        """Queue one finished call; never raises into the request."""
        try:
            self.client.enqueue_deferred(call)
        except Exception:  # pragma: no cover - enqueue guards itself
            log.exception("threadline: could not queue an API call")


class CallBase:
    """Raw facts of one call gathered on the request path; the rest is derived later.

    ``messages()`` (the SDK's deferred-work protocol) runs on the consumer thread.
    """

    __slots__ = ("builder", "duration", "started_at", "status")

    def __init__(self, builder: EventBuilder, started_at: float) -> None:
        self.builder = builder
        self.started_at = started_at
        self.duration = 0.0
        self.status: int | None = None

    def request(self) -> CapturedRequest:  # pragma: no cover - abstract
        raise NotImplementedError

    def response(self) -> CapturedResponse:  # pragma: no cover - abstract
        raise NotImplementedError

    def messages(self) -> list[dict[str, Any]]:
        """The messages of this call (built on the consumer thread)."""
        # The transaction id is minted here, off the request path; it is fixed before
        # serialisation, so retries of the batch carry the same id.
        return self.builder.build(self.request(), self.response(), self.started_at,
                                  new_message_id())
