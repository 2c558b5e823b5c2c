"""Delivering one batch to ``POST {host}/v1/batch``: gzip, Basic auth, retries, 413 splits.

A batch is a list of already-serialised messages. The message ids inside never change
between attempts, so a retry after a lost answer is recognised by the server as a
duplicate and stored once; only ``sentAt`` is re-stamped, because the server corrects
clock skew with ``receivedAt - sentAt`` and a stale ``sentAt`` would shift every
timestamp by the time spent retrying.
"""

from __future__ import annotations

import base64
import gzip
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from threadline.sdk.messages import VERSION, now_iso
from threadline.sdk.retry import Backoff, is_retryable, retry_after_seconds

log = logging.getLogger("threadline.sdk")


@dataclass(frozen=True)
class Delivery:
    """What became of the messages of one :meth:`Transport.send` call."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    retries: int = 0
    requests: int = 0
    errors: tuple[str, ...] = field(default=())

    def __add__(self, other: Delivery) -> Delivery:
        return Delivery(
            self.accepted + other.accepted,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            self.failed + other.failed,
            self.retries + other.retries,
            self.requests + other.requests,
            self.errors + other.errors,
        )


def batch_body(messages: Sequence[bytes], sent_at: str) -> bytes:
    """The JSON body ``{"batch": [...], "sentAt": ...}`` from serialised messages."""
    return b'{"batch":[' + b",".join(messages) + b'],"sentAt":"' + sent_at.encode() + b'"}'


# Bytes the envelope adds around the messages (with a margin for a long sentAt).
ENVELOPE_BYTES = len(batch_body([], "2000-01-01T00:00:00.000Z")) + 16


class Transport:
    """Posts batches to one collector with one key; safe to share between threads."""

    def __init__(
        self,
        key: str,
        host: str,
        *,
        gzip: bool = True,
        timeout: float = 10.0,
        max_retries: int = 8,
        backoff: Backoff | None = None,
        stop: threading.Event | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = host.rstrip("/") + "/v1/batch"
        self.gzip = gzip
        self.max_retries = max_retries
        self.backoff = backoff or Backoff()
        # Set by shutdown when its time is up: backoff waits end and retries stop.
        self.stop = stop or threading.Event()
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None
        token = base64.b64encode(f"{key}:".encode()).decode()
        self._headers = {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json",
            "User-Agent": f"threadline-python/{VERSION}",
        }
        if gzip:
            self._headers["Content-Encoding"] = "gzip"

    def close(self) -> None:
        """Close the connection pool (only when this transport created it)."""
        if self._owns_http:
            self._http.close()

    def send(self, messages: Sequence[bytes]) -> Delivery:
        """Deliver ``messages``, retrying what is retryable; never raises."""
        if not messages:
            return Delivery()
        try:
            return self._send(list(messages))
        except Exception as exc:  # a bug here must not kill the consumer thread
            log.exception("threadline: unexpected error while sending a batch")
            return Delivery(failed=len(messages), errors=(repr(exc),))

    def _send(self, messages: list[bytes]) -> Delivery:
        attempt = 0
        spent = Delivery()
        while True:
            status, headers, payload, error = self._post(messages)
            spent = spent + Delivery(requests=1, retries=1 if attempt else 0)
            if status is not None and 200 <= status < 300:
                return spent + _answer(payload, len(messages))
            if status == 413:
                # A server with a lower limit than ours: halve until it fits; a single
                # message it still refuses can never be delivered.
                if len(messages) > 1:
                    mid = len(messages) // 2
                    return spent + self._send(messages[:mid]) + self._send(messages[mid:])
                log.warning("threadline: the collector refused a message as too large (413)")
                return spent + Delivery(rejected=1, errors=("413 payload too large",))
            reason = _describe(status, payload, error)
            if not is_retryable(status, error) or attempt >= self.max_retries:
                log.warning("threadline: giving up on %d messages: %s", len(messages), reason)
                return spent + Delivery(failed=len(messages), errors=(reason,))
            attempt += 1
            wait = self.backoff.delay(attempt, retry_after_seconds(headers.get("retry-after")))
            log.debug("threadline: %s; retry %d in %.2fs", reason, attempt, wait)
            if self.stop.wait(wait):
                log.warning("threadline: shutting down; dropping %d undelivered messages",
                            len(messages))
                return spent + Delivery(failed=len(messages), errors=(reason, "stopped"))

    def _post(
        self, messages: list[bytes]
    ) -> tuple[int | None, httpx.Headers, bytes, BaseException | None]:
        body = batch_body(messages, now_iso())
        content = gzip.compress(body, compresslevel=6, mtime=0) if self.gzip else body
        try:
            resp = self._http.post(self.url, content=content, headers=self._headers)
        except (httpx.HTTPError, OSError) as exc:
            return None, httpx.Headers(), b"", exc
        return resp.status_code, resp.headers, resp.content, None


def _answer(payload: bytes, sent: int) -> Delivery:
    """Counts from the collector's ``{"accepted", "duplicates", "rejected"}`` answer."""
    try:
        data: Any = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    rejected = data.get("rejected") if isinstance(data.get("rejected"), list) else []
    for item in rejected[:5]:
        log.warning("threadline: the collector rejected a message: %s", item)
    accepted = data.get("accepted")
    duplicates = data.get("duplicates")
    if not isinstance(accepted, int):
        accepted = sent - len(rejected)
    if not isinstance(duplicates, int):
        duplicates = 0
    # Past the collector's rejects limit only the first are listed; the total counts all.
    total = data.get("rejected_total")
    return Delivery(accepted=accepted, duplicates=duplicates,
                    rejected=total if isinstance(total, int) else len(rejected))


def _describe(status: int | None, payload: bytes, error: BaseException | None) -> str:
    if error is not None:
        return f"{type(error).__name__}: {error}"
    text = payload[:200].decode("utf-8", "replace")
    return f"HTTP {status}: {text}"
