"""Threadline's Python SDK.

Use a :class:`Client`, or the module-level default client the way the well-known
analytics SDKs allow::

    import threadline.sdk as threadline

    threadline.write_key = "wk_..."
    threadline.host = "https://threadline.example.com"
    threadline.track("user-1", "Signed Up", {"plan": "pro"})
    threadline.flush()

Module settings (``write_key``, ``host``, ``debug``, ``send``, ``sync_mode``,
``on_error``) are read when the default client is first needed.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from threadline.sdk.client import DEFAULT_HOST, Client, DeliveryError
from threadline.sdk.consumer import ErrorHook
from threadline.sdk.cookies import (
    anonymous_id_from_cookies,
    anonymous_id_from_request,
    parse_cookie_header,
)
from threadline.sdk.messages import LIBRARY_NAME, VERSION, InvalidCall, OversizedMessage
from threadline.sdk.retry import Backoff, is_retryable
from threadline.sdk.stats import Stats
from threadline.sdk.transport import Delivery

__all__ = [
    "DEFAULT_HOST",
    "LIBRARY_NAME",
    "VERSION",
    "Backoff",
    "Client",
    "Delivery",
    "DeliveryError",
    "InvalidCall",
    "OversizedMessage",
    "Stats",
    "alias",
    "anonymous_id_from_cookies",
    "anonymous_id_from_request",
    "flush",
    "group",
    "identify",
    "is_retryable",
    "page",
    "parse_cookie_header",
    "shutdown",
    "track",
]

write_key: str | None = None
host: str | None = None
debug: bool = False
send: bool = True
sync_mode: bool = False
on_error: ErrorHook | None = None
default_client: Client | None = None

_lock = threading.Lock()
_warned = False


def _new_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent's may have been held by a thread at fork


os.register_at_fork(after_in_child=_new_lock_in_child)


def _proxy() -> Client | None:
    """The default client, created on first use from the module settings."""
    global default_client, _warned
    client = default_client
    if client is not None:
        return client
    if not write_key:
        if debug:
            raise InvalidCall("set threadline.sdk.write_key before tracking")
        if not _warned:
            _warned = True
            logging.getLogger("threadline.sdk").warning(
                "threadline: threadline.sdk.write_key is not set; calls are dropped")
        return None
    with _lock:
        if default_client is None:
            default_client = Client(write_key, host=host, debug=debug, send=send,
                                    sync_mode=sync_mode, on_error=on_error)
        return default_client


def identify(*args: Any, **kwargs: Any) -> str | None:
    """:meth:`Client.identify` on the default client."""
    client = _proxy()
    return client.identify(*args, **kwargs) if client else None


def track(*args: Any, **kwargs: Any) -> str | None:
    """:meth:`Client.track` on the default client."""
    client = _proxy()
    return client.track(*args, **kwargs) if client else None


def page(*args: Any, **kwargs: Any) -> str | None:
    """:meth:`Client.page` on the default client."""
    client = _proxy()
    return client.page(*args, **kwargs) if client else None


def group(*args: Any, **kwargs: Any) -> str | None:
    """:meth:`Client.group` on the default client."""
    client = _proxy()
    return client.group(*args, **kwargs) if client else None


def alias(*args: Any, **kwargs: Any) -> str | None:
    """:meth:`Client.alias` on the default client."""
    client = _proxy()
    return client.alias(*args, **kwargs) if client else None


def flush(timeout: float | None = None) -> bool:
    """Flush the default client (if it was ever used)."""
    client = default_client
    return client.flush(timeout) if client else True


def shutdown(timeout: float | None = None) -> bool:
    """Flush and stop the default client; the next call starts a new one."""
    global default_client
    with _lock:
        client, default_client = default_client, None
    return client.shutdown(timeout) if client else True
