"""When to retry a delivery and how long to wait: pure functions, tested as a table."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import httpx

# 408 and 429 are the client's fault only in timing; 5xx (the server's 503 when its
# store cannot take writes above all) are worth another try with the same message ids.
RETRYABLE_STATUSES = frozenset({408, 429})


def is_retryable(status: int | None, error: BaseException | None = None) -> bool:
    """The named retry predicate: 5xx, 408, 429 and network errors are retried.

    ``status`` is ``None`` when no answer came back; then only transport errors
    (refused connection, timeout, reset, protocol error) are retried.
    """
    if error is not None:
        return isinstance(error, httpx.TransportError | OSError)
    if status is None:
        return False
    return status >= 500 or status in RETRYABLE_STATUSES


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; ``None`` if absent
    or unreadable. Negative results become 0."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter; Retry-After is honoured as a minimum.

    ``max_retry_after`` bounds how long a server may ask us to wait, so a wrong header
    cannot park the consumer for hours while the queue overflows.
    """

    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None, rand: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        exp = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        # "Equal jitter": half fixed, half random, so concurrent clients spread out
        # without any wait dropping to zero.
        r = random.random() if rand is None else rand
        wait: float = exp / 2 + (exp / 2) * r
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait
