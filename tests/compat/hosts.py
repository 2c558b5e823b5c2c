"""Polling the query API until what a background sender (an SDK or a middleware in a
host web app, served by ``tests/app_servers.py``) posted has arrived."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``probe`` until it returns something truthy, or fail saying ``what`` never came."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)  # waiting for a background sender, not timing a result
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")
