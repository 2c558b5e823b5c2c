"""The native format: Segment's tracking spec (identify, track, page, screen, group, alias).

Well-known Segment and RudderStack clients send exactly this, so they work unchanged.
Where RudderStack's clients differ from Segment's on the wire, both spellings are read:
identify traits in ``context.traits`` (rudder-sdk-python, RudderStack JS v3) and the
client time in ``originalTimestamp`` without a ``timestamp`` (RudderStack JS).
"""

from __future__ import annotations

import uuid
from typing import Any

from threadline.collector.formats.common import (
    InvalidMessage,
    check_message,
    cookieless_id,
    event_time,
    shown,
    stored_ip,
    without_keys,
)
from threadline.collector.request_info import RequestInfo
from threadline.model import CompanyRef, Message, Parsed, Rejected, Source

TYPES = ("identify", "track", "page", "screen", "group", "alias")
SHORT_TYPES = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}
KNOWN = frozenset(
    {"type", "messageId", "anonymousId", "userId", "groupId", "previousId", "event", "name",
     "properties", "traits", "context", "timestamp", "sentAt", "receivedAt", "integrations",
     "writeKey", "originalTimestamp", "category", "channel", "version", "_metadata"}
)
# context.library.name of Threadline's own clients decides the source (api.md).
LIBRARY_SOURCES = {
    "threadline.js": Source.TRACKER,
    "threadline-python": Source.SDK,
    "threadline-middleware": Source.MIDDLEWARE,
}
# Fields that must never be stored even if a client sends them.
SECRET_FIELDS = ("writeKey",)


def parse_batch(data: Any, info: RequestInfo) -> Parsed:
    """``{"batch": [...], "sentAt": ...}``: each valid message stored, each invalid one rejected."""
    if not isinstance(data, dict) or not isinstance(data.get("batch"), list):
        raise InvalidMessage("invalid_body", 'the body must be an object with a "batch" array')
    sent_at = data.get("sentAt")
    context = data.get("context") if isinstance(data.get("context"), dict) else None
    messages: list[Message] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(data["batch"]):
        try:
            if isinstance(raw, dict) and context and "context" not in raw:
                raw = {**raw, "context": context}
            messages.append(parse_message(raw, info, batch_sent_at=sent_at))
        except InvalidMessage as exc:
            rejected.append(Rejected(index, exc.code, exc.reason, scrub(raw)))
    return Parsed(messages, rejected)


def parse_single(data: Any, info: RequestInfo, type_: str) -> Message:
    """One message posted to ``/v1/<type>``: the route names the type when the body does not."""
    if not isinstance(data, dict):
        raise InvalidMessage("invalid_body", "the body must be a JSON object")
    if "type" not in data:
        data = {**data, "type": type_}
    elif data.get("type") != type_:
        raise InvalidMessage("invalid_message", f"type {shown(data.get('type'))} posted to /v1/{type_}")
    return parse_message(data, info)


def _str_field(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    raise InvalidMessage("invalid_message", f"{name} must be a string or a number")


def _obj_field(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidMessage("invalid_message", f"{name} must be an object")
    return value


def identify_traits(traits: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """An identify's traits: the top-level ``traits`` merged over ``context.traits``.

    RudderStack's clients send identify traits only in ``context.traits``; Segment's at
    the top level. Both are read, and the top level wins key by key when a client sends
    both. Other message types keep ``context.traits`` as context only, as Segment does
    (RudderStack JS repeats the user's traits there on every event).
    """
    nested = context.get("traits")
    if not isinstance(nested, dict) or not nested:
        return traits
    return {**nested, **traits}


def client_time(raw: dict[str, Any]) -> Any:
    """The client's event time as sent: ``timestamp``, else ``originalTimestamp``
    (RudderStack JS sends only the latter, with ``sentAt``; Segment's stored exports
    carry both, with ``timestamp`` already corrected)."""
    ts = raw.get("timestamp")
    if ts is None or ts == "":
        return raw.get("originalTimestamp")
    return ts


def server_message_id() -> str:
    """A fresh id for a message sent without ``messageId``, as Segment assigns one: each
    such message is stored (at least once); only a ``messageId`` makes a retry idempotent."""
    return "s_" + uuid.uuid4().hex


def parse_message(raw: Any, info: RequestInfo, batch_sent_at: Any = None) -> Message:
    """Validate and canonicalise one Segment-spec message."""
    if not isinstance(raw, dict):
        raise InvalidMessage("invalid_message", "a message must be a JSON object")
    check_message(raw, info)
    type_ = raw.get("type")
    if not isinstance(type_, str) or type_ not in TYPES:
        raise InvalidMessage("invalid_message", f"type must be one of {', '.join(TYPES)}")
    properties = _obj_field(raw, "properties")
    traits = _obj_field(raw, "traits")
    context = dict(_obj_field(raw, "context"))
    if type_ == "identify":
        traits = identify_traits(traits, context)
    event = raw.get("event")
    if type_ == "track" and (not isinstance(event, str) or not event.strip()):
        raise InvalidMessage("invalid_message", "a track message needs an event name")
    if type_ in ("page", "screen"):
        name = raw.get("name")
        if name is not None and not isinstance(name, str):
            raise InvalidMessage("invalid_message", "name must be a string")
        event = name
    elif type_ != "track":
        event = None
    junk = info.settings.junk_filter
    raw_anon = _str_field(raw, "anonymousId")
    raw_user = _str_field(raw, "userId")
    anon = junk.usable(raw_anon)
    user = junk.usable(raw_user)
    group_id = junk.usable(_str_field(raw, "groupId"))
    previous = junk.usable(_str_field(raw, "previousId"))
    if type_ == "group" and group_id is None:
        raise InvalidMessage("invalid_message", "a group message needs a groupId")
    if type_ == "alias" and (previous is None or user is None):
        raise InvalidMessage("invalid_message", "an alias message needs previousId and userId")
    linked = junk.usable(context.get("linked_anonymous_id"))
    ts, sent, notes = event_time(client_time(raw), raw.get("sentAt", batch_sent_at), info)

    ctx_ip = context.get("ip")
    ip = ctx_ip if isinstance(ctx_ip, str) else info.ip
    context["ip"] = stored_ip(ip, info)
    if "userAgent" not in context and info.user_agent:
        context["userAgent"] = info.user_agent
    if context.get("cookieless") is True and anon is None and raw_anon in (None, ""):
        page = context.get("page") if isinstance(context.get("page"), dict) else {}
        anon = cookieless_id(info, page.get("url") if page else None)
    companies: list[CompanyRef] = []
    if type_ == "group" and group_id is not None:
        companies.append(CompanyRef(group_id, member=True, traits=traits))
        traits = {}
    ctx_group = junk.usable(context.get("groupId"))
    if ctx_group is not None and ctx_group != group_id:
        companies.append(CompanyRef(ctx_group, member=False))

    library = context.get("library")
    lib_name = library.get("name") if isinstance(library, dict) else None
    source = LIBRARY_SOURCES.get(lib_name, Source.NATIVE) if isinstance(lib_name, str) else Source.NATIVE
    if raw_anon is None and raw_user is None and anon is None and source != Source.MIDDLEWARE:
        # The Segment spec requires one of the two. Junk values ("undefined", "") are
        # present and make a personless event instead; so do API calls without a user
        # from Threadline's middleware (api.md's personless API calls, as on Moesif's route).
        raise InvalidMessage("missing_id", "a message needs a userId or an anonymousId")
    extra = {k: v for k, v in raw.items() if k not in KNOWN}
    for k in ("integrations", "category", "channel"):
        if k in raw:
            extra[k] = raw[k]
    extra.update(notes)

    message_id = _str_field(raw, "messageId")
    if not message_id:
        message_id = server_message_id()
    elif len(message_id) > 200:
        raise InvalidMessage("invalid_message", "messageId is longer than 200 characters")

    return Message(
        message_id=message_id,
        type=type_,
        timestamp_us=ts,
        received_at_us=info.received_at_us,
        sent_at_us=sent,
        source=source,
        event=event,
        anonymous_id=anon,
        user_id=user,
        previous_id=previous if type_ == "alias" else None,
        linked_anonymous_id=linked,
        properties=properties,
        traits=traits if type_ == "identify" or traits else {},
        context=context,
        extra=extra,
        companies=tuple(companies),
        raw_anonymous_id=raw_anon,
        raw_user_id=raw_user,
    )


def scrub(raw: Any) -> Any:
    """A message as it may be kept in the quarantine: without its write key."""
    return without_keys(raw, SECRET_FIELDS)
