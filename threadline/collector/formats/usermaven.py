"""The Usermaven wire format (shared/wire/usermaven.md): the browser SDK's events and the
server-to-server API, mapped to canonical messages (api.md, Canonical messages).

``pageview`` is a ``page``, ``user_identify`` an ``identify``, ``group`` a ``group``,
anything else a ``track`` named by ``event_type``. The user block sets person traits on
every event; a company block with an id (top level or ``user.company``) makes the person
a member and sets company traits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from threadline.collector.formats.common import (
    InvalidMessage,
    content_hash,
    cookieless_id,
    event_time,
    nonempty_text,
    over_limit,
    stored_ip,
    wire_id,
    without_keys,
)
from threadline.collector.request_info import RequestInfo
from threadline.identity.ids import JunkFilter, id_text
from threadline.model import CompanyRef, Message, Parsed, Rejected, Source

TYPES = {"pageview": "page", "user_identify": "identify", "group": "group"}
# Fields mapped into the canonical message; every other top-level field goes to ``extra``.
MAPPED = frozenset(
    {"event_id", "event_type", "user", "company", "utc_time", "_timestamp", "timestamp",
     "event_attributes", "autocapture_attributes", "url", "doc_path", "referer", "page_title",
     "doc_search", "user_agent", "user_language", "utm", "context", "source_ip"}
)
# Never stored: the write key repeated in every event.
SECRET_FIELDS = ("api_key",)
NOT_EXTRA = MAPPED | frozenset(SECRET_FIELDS)
# The Python SDK mints a new anonymous id for every message (usermaven.md §8).
THROWAWAY_ANON_SOURCES = frozenset({"usermaven-python"})
# Policies under which the browser withholds its id or asks for a truncated IP. Without a
# geo database ``comply`` is treated like ``strict``, as the Jitsu reference server does.
STRICT_POLICIES = frozenset({"strict", "comply"})
TIME_FIELDS = ("utc_time", "_timestamp", "timestamp")


@dataclass(frozen=True)
class Policies:
    """The request's privacy options, from the query string (usermaven.md §6)."""

    cookieless: bool = False
    strict_ip: bool = False

    @classmethod
    def of(cls, query: Any) -> Policies:
        cookie = str(query.get("cookie_policy") or "").lower()
        ip = str(query.get("ip_policy") or "").lower()
        return cls(cookie in STRICT_POLICIES, ip in STRICT_POLICIES)


def parse_request(data: Any, info: RequestInfo, source: str, policies: Policies) -> Parsed:
    """A request body: a JSON array of events or one event object.

    Raises :class:`InvalidMessage` (answered 400) when the body is neither.
    """
    if isinstance(data, dict):
        events: list[Any] = [data]
    elif isinstance(data, list):
        events = data
    else:
        raise InvalidMessage("invalid_body", "the body must be an event object or an array of events")
    messages: list[Message] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(events):
        try:
            messages.append(parse_event(raw, info, source, policies))
        except InvalidMessage as exc:
            rejected.append(Rejected(index, exc.code, exc.reason, scrub(raw)))
    return Parsed(collapse_company_traits(messages), rejected)


def collapse_company_traits(messages: list[Message]) -> list[Message]:
    """Keep each repeated company block's traits on its latest event only.

    The browser repeats the same company block on every event after ``id()``. Company
    traits fold as "latest (time, message id) wins per key", so a trait update that has
    an identical, later one for the same company from the same owner can never win:
    dropping it changes no company's traits and saves a stored update per event. The
    memberships stay on every event.
    """
    latest: dict[tuple[Any, str], list[tuple[dict[str, Any], tuple[int, str]]]] = {}
    for msg in messages:
        if not msg.companies:
            continue
        owner = (msg.user_id, msg.anonymous_id)
        at = (msg.timestamp_us, msg.message_id)
        for ref in msg.companies:
            if ref.traits is None:
                continue
            seen = latest.setdefault((owner, ref.id), [])
            for i, (traits, best) in enumerate(seen):
                if traits == ref.traits:
                    if at > best:
                        seen[i] = (traits, at)
                    break
            else:
                seen.append((ref.traits, at))
    keep = {(key, at) for key, seen in latest.items() for _t, at in seen}
    for msg in messages:
        if not msg.companies:
            continue
        owner = (msg.user_id, msg.anonymous_id)
        at = (msg.timestamp_us, msg.message_id)
        if all(r.traits is None or ((owner, r.id), at) in keep for r in msg.companies):
            continue
        refs = tuple(r if r.traits is None or ((owner, r.id), at) in keep else CompanyRef(r.id, r.member)
                     for r in msg.companies)
        # The message was built by this request's parse and is not shared yet, so it is
        # changed in place: a dataclasses.replace per event costs more than the parse.
        object.__setattr__(msg, "companies", refs)
    return messages


def parse_event(raw: Any, info: RequestInfo, source: str, policies: Policies) -> Message:
    """Validate and canonicalise one Usermaven event."""
    if not isinstance(raw, dict):
        raise InvalidMessage("invalid_message", "an event must be a JSON object")
    if over_limit(raw, info):
        raise InvalidMessage("message_too_large", f"event is over {info.message_limit} bytes")
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise InvalidMessage("invalid_message", "event_type must be a non-empty string")
    type_ = TYPES.get(event_type, "track")
    user = _obj(raw, "user")
    junk = info.settings.junk_filter
    raw_user = wire_id(user.get("id"), "user.id")
    raw_anon = wire_id(user.get("anonymous_id"), "user.anonymous_id")
    if raw.get("src") in THROWAWAY_ANON_SOURCES:
        raw_anon = None
    user_id = junk.usable(raw_user)
    anon = junk.usable(raw_anon)

    time_field = None
    for name in TIME_FIELDS:
        if raw.get(name) not in (None, ""):
            time_field = name
            break
    ts, _sent, notes = event_time(raw.get(time_field) if time_field else None, None, info)

    context = _context(raw, info, source, policies)
    if anon is None and not raw_anon and policies.cookieless and source == Source.USERMAVEN_BROWSER:
        # Cookieless mode: the browser sends "" and the server derives the visitor id.
        anon = cookieless_id(info, context.get("page", {}).get("url"))
        context["cookieless"] = True

    companies = _companies(raw, user, junk)
    if type_ == "group" and _company_id(raw.get("company"), junk) is None:
        raise InvalidMessage("invalid_message", "a group event needs company.id")
    attributes = _obj(raw, "event_attributes")
    if type_ == "page":
        properties = {**attributes, **context.get("page", {})}
        event = None
    else:
        properties = attributes or _obj(raw, "autocapture_attributes")
        event = None if type_ in ("identify", "group") else event_type
    traits = {k: v for k, v in user.items() if k not in ("id", "anonymous_id")}
    extra = {k: v for k, v in raw.items() if k not in NOT_EXTRA}
    if type_ == "track" and "autocapture_attributes" in raw and attributes:
        extra["autocapture_attributes"] = raw["autocapture_attributes"]
    extra.update(notes)
    return Message(
        message_id=_message_id(raw, time_field),
        type=type_,
        timestamp_us=ts,
        received_at_us=info.received_at_us,
        source=source,
        event=event,
        anonymous_id=anon,
        user_id=user_id,
        properties=properties,
        traits=traits,
        context=context,
        extra=extra,
        companies=tuple(companies),
        raw_anonymous_id=raw_anon,
        raw_user_id=raw_user,
    )


def scrub(raw: Any) -> Any:
    """An event as it may be kept in the quarantine: without its key."""
    return without_keys(raw, SECRET_FIELDS)


def _message_id(raw: dict[str, Any], time_field: str | None) -> str:
    """api.md idempotency: ``event_id``; else, with a client time, a hash of the event as
    sent; else a fresh id (a retry of such an event can be stored twice)."""
    event_id = id_text(raw.get("event_id"))
    if event_id:
        if len(event_id) > 200:
            raise InvalidMessage("invalid_message", "event_id is longer than 200 characters")
        return event_id
    if time_field is not None:
        return "h_" + content_hash(raw)
    return "r_" + uuid.uuid4().hex


def _context(raw: dict[str, Any], info: RequestInfo, source: str, policies: Policies) -> dict[str, Any]:
    """Segment-style context from the page and device fields the browser sends."""
    sent = raw.get("context")
    context: dict[str, Any] = dict(sent) if isinstance(sent, dict) else {}
    sent_attributes = raw.get("event_attributes")
    attributes: dict[str, Any] = sent_attributes if isinstance(sent_attributes, dict) else {}
    page = {
        "url": nonempty_text(raw.get("url")) or nonempty_text(attributes.get("url")),
        "path": nonempty_text(raw.get("doc_path")) or nonempty_text(attributes.get("path")),
        "referrer": nonempty_text(raw.get("referer")) or nonempty_text(attributes.get("referrer")),
        "title": nonempty_text(raw.get("page_title")) or nonempty_text(attributes.get("title")),
        "search": nonempty_text(raw.get("doc_search")),
    }
    page = {k: v for k, v in page.items() if v}
    if page:
        context["page"] = page
    ip = nonempty_text(raw.get("source_ip")) or nonempty_text(context.get("ip"))
    if ip is None and source == Source.USERMAVEN_BROWSER:
        ip = info.ip
    if ip:
        context["ip"] = stored_ip(ip, info, strict=policies.strict_ip)
    agent = nonempty_text(raw.get("user_agent")) or nonempty_text(context.get("userAgent"))
    if agent is None and source == Source.USERMAVEN_BROWSER:
        agent = info.user_agent or None
    if agent:
        context["userAgent"] = agent
    locale = nonempty_text(raw.get("user_language"))
    if locale:
        context["locale"] = locale
    utm = raw.get("utm")
    if isinstance(utm, dict):
        campaign = {("name" if k == "campaign" else k): v for k, v in utm.items() if v not in (None, "")}
        if campaign:
            context["campaign"] = campaign
    return context


def _companies(raw: dict[str, Any], user: dict[str, Any], junk: JunkFilter) -> list[CompanyRef]:
    """Top-level ``company`` first (the ``group()`` company), then ``user.company``."""
    out: list[CompanyRef] = []
    for block in (raw.get("company"), user.get("company")):
        if isinstance(block, dict) and not block:
            continue  # the browser sends "company": {} until id() or group()
        cid = _company_id(block, junk)
        if cid is None or any(c.id == cid for c in out):
            continue
        assert isinstance(block, dict)
        traits = {k: v for k, v in block.items() if k != "id"}
        out.append(CompanyRef(cid, member=True, traits=traits or None))
    return out


def _company_id(block: Any, junk: JunkFilter) -> str | None:
    if block is None:
        return None
    if not isinstance(block, dict):
        raise InvalidMessage("invalid_message", "company must be an object")
    return junk.usable(wire_id(block.get("id"), "company.id"))


def _obj(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidMessage("invalid_message", f"{name} must be an object")
    return value


