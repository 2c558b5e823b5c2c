"""Turning stored values into the API's JSON: times, JSON documents, events.

Times leave the store as integer microseconds (``epoch_us``) and are written as
ISO 8601 UTC with milliseconds, ``2026-01-05T10:00:00.000Z`` (api.md). Insight
buckets are local times in the caller's time zone and carry their offset.

Stored JSON documents are read so that none can fail an answer: one that does not
decode, or that nests too deep to be encoded again inside an answer (the ingest limit
keeps new ones far shallower; older data or other writers may not), is answered as
``{"_unreadable": true}`` (docs/collector.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from threadline.jsondepth import text_may_be_too_deep, too_deep
from threadline.model import JSON, Message

EPOCH = dt.datetime(1970, 1, 1)
UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def iso(us: int | None) -> str | None:
    """Microseconds since the epoch as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (None stays None)."""
    if us is None:
        return None
    # Integer arithmetic: a float of microseconds since 1970 loses the last digits.
    return (EPOCH + dt.timedelta(microseconds=us)).isoformat(timespec="milliseconds") + "Z"


def iso_naive(moment: dt.datetime | None) -> str | None:
    """A naive UTC datetime (as DuckDB returns a TIMESTAMP) in the API's format."""
    if moment is None:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def iso_local(moment: dt.datetime) -> str:
    """An aware datetime as ISO 8601 with milliseconds and its UTC offset."""
    return moment.isoformat(timespec="milliseconds")


def us_of(moment: dt.datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    delta = moment - UTC_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# orjson encodes 254 levels; the deepest answer puts a stored document 5 levels down
# (a person's company traits): what is deeper than this cannot be answered as it is.
READ_DEPTH = 200


def unreadable() -> JSON:
    """The marker answered in place of a stored document that cannot be answered."""
    return {"_unreadable": True}


def _decode(text: str) -> Any:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return unreadable()
    if text_may_be_too_deep(text, READ_DEPTH) and too_deep(value, READ_DEPTH):
        return unreadable()
    return value


def loads(text: str | None) -> JSON:
    """A stored JSON document (``NULL`` when empty) as a dict; the unreadable marker
    when it cannot be decoded or answered."""
    if not text:
        return {}
    value = _decode(text)
    return value if isinstance(value, dict) else {}


def loads_any(text: str | None) -> Any:
    """A stored JSON value of any type, ``None`` when absent (the unreadable marker
    when it cannot be decoded or answered)."""
    return _decode(text) if text else None


def answerable(doc: JSON) -> JSON:
    """A document built in memory (the live stream's messages), or the unreadable
    marker when it nests too deep to be encoded inside an answer."""
    return unreadable() if too_deep(doc, READ_DEPTH) else doc


# The columns ``event_json`` reads, in order. The identifier values are not read from
# the events table: mapping the iids through ``identifiers`` is several times cheaper
# than decompressing the long string columns of a scattered set of rows.
EVENT_COLUMNS = (
    "e.message_id, e.type, e.event, epoch_us(e.ts), epoch_us(e.received_at), e.anon_iid, "
    "e.user_iid, e.owner_iid, e.company_ids, e.properties, e.context, e.source"
)

IdentInfo = tuple[str, str]  # (value, current person id) of an identifier iid


def event_json(row: tuple[Any, ...], idents: dict[int, IdentInfo]) -> JSON:
    """One stored event (selected with ``EVENT_COLUMNS``) in the api.md event shape."""
    (mid, type_, event, ts, received, anon_iid, user_iid, owner_iid, companies, props,
     context, source) = row
    anon = idents.get(anon_iid) if anon_iid is not None else None
    user = idents.get(user_iid) if user_iid is not None else None
    owner = idents.get(owner_iid) if owner_iid is not None else None
    return {
        "id": mid,
        "type": type_,
        "event": event,
        "timestamp": iso(ts),
        "received_at": iso(received),
        "anonymous_id": anon[0] if anon else None,
        "user_id": user[0] if user else None,
        "person_id": owner[1] if owner else None,
        "company_ids": list(companies or ()),
        "properties": loads(props),
        "context": loads(context),
        "source": source,
    }


def message_json(msg: Message, person_id: str | None) -> JSON:
    """A just-committed message (live stream) in the same shape as a stored event."""
    return {
        "id": msg.message_id,
        "type": msg.type,
        "event": msg.event,
        "timestamp": iso(msg.timestamp_us),
        "received_at": iso(msg.received_at_us),
        "anonymous_id": msg.anonymous_id,
        "user_id": msg.user_id,
        "person_id": person_id,
        "company_ids": [c.id for c in msg.companies],
        "properties": answerable(msg.properties),
        "context": answerable(msg.context),
        "source": msg.source,
    }
