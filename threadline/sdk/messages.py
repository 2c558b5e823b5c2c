"""Building and serialising Segment-spec messages: pure functions, no I/O.

The client calls these on the caller's thread, so they are kept cheap: one dict, one
``orjson.dumps``. Serialising at enqueue time also snapshots the caller's dicts, so a
caller mutating ``properties`` after ``track()`` returns cannot change what is sent.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
from collections.abc import Mapping
from typing import Any

import orjson

import threadline

LIBRARY_NAME = "threadline-python"
VERSION = threadline.__version__

# The native collector's limits (api.md "Collector answers and limits"): a message
# over 32 KB is quarantined, a request over 500 KB is 413. The SDK keeps under both.
MAX_MESSAGE_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024

_DUMPS_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z

JSONDict = dict[str, Any]


class InvalidCall(ValueError):
    """A tracking call that cannot make a valid message (raised only with ``debug=True``)."""


class OversizedMessage(InvalidCall):
    """A message over the collector's per-message limit."""


def _default(value: Any) -> Any:
    """orjson's fallback for types it does not know: what a JSON reader would expect."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


def dumps(message: Mapping[str, Any]) -> bytes:
    """Serialise one message; unknown types become strings rather than errors."""
    return orjson.dumps(message, default=_default, option=_DUMPS_OPTIONS)


def now_iso() -> str:
    """The current UTC time in ISO 8601 with milliseconds and ``Z``."""
    return iso(dt.datetime.now(dt.UTC))


def iso(value: dt.datetime | dt.date | str | float | int | None) -> str:
    """A timestamp argument as ISO 8601 UTC; naive datetimes are taken as UTC."""
    if value is None:
        return now_iso()
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    elif not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def new_message_id() -> str:
    """A fresh random (version 4) UUID string: fixed once at enqueue, so every retry
    carries the same id. Formatted by hand: ``str(uuid.uuid4())`` costs several times
    more, and the middleware mints one per API call."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _id(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidCall(f"{name} must be a string or an integer")
    text = str(value)
    return text if text else None


def _obj(value: Any, name: str) -> JSONDict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidCall(f"{name} must be a mapping")
    return dict(value)


def build(
    type_: str,
    *,
    library: Mapping[str, str],
    user_id: Any = None,
    anonymous_id: Any = None,
    group_id: Any = None,
    previous_id: Any = None,
    event: Any = None,
    name: Any = None,
    properties: Any = None,
    traits: Any = None,
    context: Any = None,
    timestamp: Any = None,
    integrations: Any = None,
    message_id: Any = None,
) -> JSONDict:
    """A validated Segment-spec message of ``type_``; :class:`InvalidCall` when it cannot be."""
    msg: JSONDict = {"type": type_, "messageId": _id(message_id, "message_id") or new_message_id()}
    user = _id(user_id, "user_id")
    anon = _id(anonymous_id, "anonymous_id")
    if type_ == "alias":
        previous = _id(previous_id, "previous_id")
        if previous is None or user is None:
            raise InvalidCall("alias needs previous_id and user_id")
        msg["previousId"] = previous
    elif user is None and anon is None:
        raise InvalidCall(f"{type_} needs a user_id or an anonymous_id")
    if user is not None:
        msg["userId"] = user
    if anon is not None:
        msg["anonymousId"] = anon
    if type_ == "track":
        if not isinstance(event, str) or not event.strip():
            raise InvalidCall("track needs an event name")
        msg["event"] = event
    if type_ == "group":
        group = _id(group_id, "group_id")
        if group is None:
            raise InvalidCall("group needs a group_id")
        msg["groupId"] = group
    if type_ == "page" and name is not None:
        if not isinstance(name, str):
            raise InvalidCall("name must be a string")
        msg["name"] = name
    if type_ in ("track", "page"):
        msg["properties"] = _obj(properties, "properties")
    if type_ in ("identify", "group"):
        msg["traits"] = _obj(traits, "traits")
    ctx = _obj(context, "context")
    # The library names the source on the server (api.md): always ours, never the caller's.
    ctx["library"] = dict(library)
    msg["context"] = ctx
    if integrations is not None:
        msg["integrations"] = _obj(integrations, "integrations")
    msg["timestamp"] = iso(timestamp)
    return msg


def encode(message: Mapping[str, Any], max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """Serialise ``message``; :class:`OversizedMessage` when it is over ``max_bytes``.

    The collector measures the message the same way (compact JSON), so a message that
    passes here is never quarantined for its size.
    """
    data = dumps(message)
    if len(data) > max_bytes:
        raise OversizedMessage(f"message is {len(data)} bytes, over the {max_bytes} byte limit")
    return data
