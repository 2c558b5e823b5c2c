"""Helpers every wire adapter shares: times, skew correction, ids, cookieless visitors."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import math
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

import orjson

from threadline.collector.request_info import RequestInfo
from threadline.identity.ids import id_text
from threadline.jsondepth import MAX_DEPTH, cut, too_deep

US = 1_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
NAIVE_EPOCH = dt.datetime(1970, 1, 1)
ONE_US = dt.timedelta(microseconds=1)
# Times a message may carry: what Python's datetime (and so every read) can show, well
# inside DuckDB's TIMESTAMP and the int64 microseconds the store is written with.
MIN_US = (dt.datetime(1, 1, 1, tzinfo=dt.UTC) - EPOCH) // ONE_US
MAX_US = (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC) - EPOCH) // ONE_US
# Unix time as text longer than this is past year 9999 in any unit (and int() of
# thousands of digits is refused by Python itself).
MAX_TIME_DIGITS = len(str(MAX_US))
SHOWN_CHARS = 80  # of a sender's value quoted in a reason


class InvalidMessage(Exception):
    """A message that cannot be stored: it goes to the quarantine with this code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def shown(value: Any) -> str:
    """A sender's value as quoted in a reason: short, and never the repr of a container
    (which can be megabytes, or too deep for ``repr`` itself)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def parse_time(value: Any, field_name: str = "timestamp") -> int | None:
    """An ISO 8601 string, or unix seconds / milliseconds, as UTC microseconds.

    ``None`` and ``""`` mean absent. Anything else unreadable is an invalid message
    (``invalid_timestamp``); a time outside the years 0001-9999 is refused with
    ``timestamp_out_of_range``, so every time a message carries can be stored and read.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidMessage("invalid_timestamp", f"{field_name} is not a time")
    if isinstance(value, int | float):
        # Heuristic by magnitude: seconds until year 5138, then milliseconds, then micro.
        v = float(value)
        if not math.isfinite(v):
            raise InvalidMessage("invalid_timestamp", f"{field_name} is not a time")
        if abs(v) < 1e11:
            us = int(v * US)
        elif abs(v) < 1e14:
            us = int(v * 1000)
        else:
            us = int(v)
        return _in_range(us, value, field_name)
    if isinstance(value, str):
        # Unix time as text (before ISO: "20261123" is not a date here). ASCII only:
        # str.isdigit() is true of "²" too, which int() refuses.
        if value.isascii() and value.isdigit():
            if len(value) > MAX_TIME_DIGITS:
                raise _out_of_range(value, field_name)
            return parse_time(int(value), field_name)
        try:  # the common case first: an ISO 8601 string as clients send it
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            # Padded, or a lower-case "z": normalise once and try again.
            text = value.strip()
            if text.endswith("z"):
                text = text[:-1] + "Z"
            if not text or text == value:
                raise InvalidMessage("invalid_timestamp", f"{field_name} {shown(value)} is not ISO 8601") from None
            return parse_time(text, field_name)
        # Integer arithmetic: exact to the microsecond, where a float timestamp is not.
        # A time without an offset is UTC. (Year 0001 with a positive offset is before
        # 0001 in UTC: the range check sees it.)
        us = (parsed - (EPOCH if parsed.tzinfo is not None else NAIVE_EPOCH)) // ONE_US
        return _in_range(us, value, field_name)
    raise InvalidMessage("invalid_timestamp", f"{field_name} is not a time")


def _in_range(us: int, value: Any, field_name: str) -> int:
    if MIN_US <= us <= MAX_US:
        return us
    raise _out_of_range(value, field_name)


def _out_of_range(value: Any, field_name: str) -> InvalidMessage:
    return InvalidMessage("timestamp_out_of_range", f"{field_name} {shown(value)} is outside the years 0001-9999")


def event_time(timestamp: Any, sent_at: Any, info: RequestInfo) -> tuple[int, int | None, dict[str, Any]]:
    """The event time after clock-skew correction, the parsed sentAt, and notes.

    With ``sentAt``, the timestamp moves by ``receivedAt - sentAt`` (Segment's rule:
    the device clock is wrong by the same amount for both). A time still further in
    the future than the allowed skew is replaced by the receipt time and the original
    is kept under ``extra.original_timestamp``; a time older than ``max_past`` is refused.
    """
    ts = parse_time(timestamp, "timestamp")
    sent = parse_time(sent_at, "sentAt")
    corrected, notes = corrected_time(ts, sent, timestamp, info)
    return corrected, sent, notes


def corrected_time(ts: int | None, sent: int | None, original: Any,
                   info: RequestInfo) -> tuple[int, dict[str, Any]]:
    """:func:`event_time` for times already parsed (``original`` is the sender's text,
    kept in the notes when the time is replaced): adapters that need the parsed time
    for something else too do not parse it twice."""
    notes: dict[str, Any] = {}
    received = info.received_at_us
    if ts is None:
        return received, notes
    if sent is not None:
        ts = ts + (received - sent)
    if ts > received + info.max_future_us:
        notes["original_timestamp"] = original
        ts = received
    # (The second test matters only when the allowed past reaches before year 0001.)
    if ts < received - info.max_past_us or ts < MIN_US:
        raise InvalidMessage("timestamp_out_of_range", f"timestamp {shown(original)} is too far in the past")
    return ts, notes


def content_hash(value: Any) -> str:
    """A stable hash of a JSON value (keys sorted), for message ids of senders that send none."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:32]


def site_of(url: Any) -> str:
    """Lower-case host without port of a URL, or '' when it has none."""
    if not isinstance(url, str) or not url:
        return ""
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return ""
    return (host or "").lower()


def cookieless_id(info: RequestInfo, page_url: Any) -> str:
    """The cookieless visitor id (api.md): ``cv_`` + 32 hex digits of HMAC-SHA256 keyed by
    the project's salt of the day over site, ip and user agent. Salts are deleted after two
    days, so the clear inputs can never be recovered or the id recomputed."""
    site = site_of(page_url) or site_of(info.origin)
    salt = info.salt(info.day)
    digest = hmac.new(salt, f"{site}\n{info.ip}\n{info.user_agent}".encode(), hashlib.sha256)
    return "cv_" + digest.hexdigest()[:32]


def truncate_ip(ip: str) -> str:
    """The stored form of an IP under ``ip_policy=strict``: last IPv4 octet zeroed, IPv6
    cut to its first 48 bits."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if isinstance(addr, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Network(f"{ip}/24", strict=False).network_address)
    return str(ipaddress.IPv6Network(f"{ip}/48", strict=False).network_address)


def stored_ip(ip: str, info: RequestInfo, strict: bool = False) -> str:
    """The IP as it may be stored under the project's (or the request's) ip policy."""
    if strict or info.settings.ip_policy == "strict":
        return truncate_ip(ip)
    return ip


def wire_id(value: Any, name: str) -> str | None:
    """An id field as identifier text (numbers as decimal text); ``None`` when absent.
    Anything else (objects, lists, booleans) makes the message invalid."""
    if value.__class__ is str:  # nearly every id: skip the generic conversion
        return value  # type: ignore[no-any-return]
    if value is None:
        return None
    text = id_text(value)
    if text is None:
        raise InvalidMessage("invalid_message", f"{name} must be a string or a number")
    return text


def without_keys(raw: Any, keys: Collection[str]) -> Any:
    """A payload as it may be kept in the quarantine: an object without ``keys`` (the
    sender's key, repeated in the body); anything else as it came."""
    if isinstance(raw, dict):
        return {k: v for k, v in raw.items() if k not in keys}
    return raw


def nonempty_text(value: Any) -> str | None:
    """A non-empty string field, else ``None``."""
    return value if isinstance(value, str) and value else None


def json_size(value: Any) -> int:
    """Bytes of a JSON value serialised compactly.

    A value too deep for the encoder (only a Moesif body can be: every message is
    checked against the nesting limit first) is measured cut to that limit.
    """
    try:
        return len(orjson.dumps(value, default=str))
    except orjson.JSONEncodeError:
        return len(orjson.dumps(cut(value), default=str))


def over_limit(raw: Any, info: RequestInfo) -> bool:
    """Whether one message of the request is larger than the message limit.

    A message is part of its body, so none can be larger when the whole body is not:
    only bodies over the limit pay for serialising each message to measure it.
    """
    if info.body_bytes is not None and info.body_bytes <= info.message_limit:
        return False
    return json_size(raw) > info.message_limit


def check_message(raw: dict[str, Any], info: RequestInfo, noun: str = "message", shape: Any = None) -> None:
    """Refuse a message nested deeper than the stored-JSON limit (``too_deep``) or larger
    than the message limit (``message_too_large``).

    Depth first: measuring the size encodes the message, which a deep enough one cannot
    be. ``shape`` is what the depth is measured on when not all of ``raw`` is stored as
    it came (a Moesif event's bodies are cut instead: see the Moesif adapter).
    """
    if too_deep(raw if shape is None else shape, MAX_DEPTH):
        raise InvalidMessage("too_deep", f"{noun} nests objects and arrays more than {MAX_DEPTH} levels deep")
    if over_limit(raw, info):
        raise InvalidMessage("message_too_large", f"{noun} is over {info.message_limit} bytes")
