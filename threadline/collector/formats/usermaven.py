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
    check_message,
    content_hash,
    cookieless_id,
    event_time,
    nonempty_text,
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
    # Per (owner, company): each distinct traits value with the latest (time, message id)
    # that carries it and where: [traits, at, message position, ref position].
    latest: dict[tuple[Any, str], list[list[Any]]] = {}
    dropped: dict[int, set[int]] = {}
    for pos, msg in enumerate(messages):
        if not msg.companies:
            continue
        owner = (msg.user_id, msg.anonymous_id)
        at = (msg.timestamp_us, msg.message_id)
        for j, ref in enumerate(msg.companies):
            if ref.traits is None:
                continue
            seen = latest.setdefault((owner, ref.id), [])
            for cand in seen:
                if cand[0] == ref.traits:
                    if at > cand[1]:
                        dropped.setdefault(cand[2], set()).add(cand[3])
                        cand[1:] = [at, pos, j]
                    else:
                        dropped.setdefault(pos, set()).add(j)
                    break
            else:
                seen.append([ref.traits, at, pos, j])
    for pos, refs in dropped.items():
        msg = messages[pos]
        companies = tuple(CompanyRef(r.id, r.member) if j in refs else r for j, r in enumerate(msg.companies))
        # The message was built by this request's parse and is not shared yet, so it is
        # changed in place: a dataclasses.replace per event costs more than the parse.
        object.__setattr__(msg, "companies", companies)
    return messages


def parse_event(raw: Any, info: RequestInfo, source: str, policies: Policies) -> Message:
    """Validate and canonicalise one Usermaven event."""
    if not isinstance(raw, dict):
        raise InvalidMessage("invalid_message", "an event must be a JSON object")
    check_message(raw, info, "event")
    get = raw.get
    event_type = get("event_type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise InvalidMessage("invalid_message", "event_type must be a non-empty string")
    type_ = TYPES.get(event_type, "track")
    user = _obj(raw, "user")
    junk = info.settings.junk_filter
    raw_user = wire_id(user.get("id"), "user.id")
    raw_anon = wire_id(user.get("anonymous_id"), "user.anonymous_id")
    if nonempty_text(get("src")) in THROWAWAY_ANON_SOURCES:
        raw_anon = None
    user_id = junk.usable(raw_user)
    anon = junk.usable(raw_anon)

    time_field = None
    for name in TIME_FIELDS:
        if get(name) not in (None, ""):
            time_field = name
            break
    ts, _sent, notes = event_time(get(time_field) if time_field else None, None, info)

    context = _context(raw, info, source, policies)
    if anon is None and not raw_anon and policies.cookieless and source == Source.USERMAVEN_BROWSER:
        # Cookieless mode: the browser sends "" and the server derives the visitor id.
        anon = cookieless_id(info, _page(context).get("url"))
        context["cookieless"] = True

    companies, group_company = _companies(raw, user, junk)
    if type_ == "group" and not group_company:
        raise InvalidMessage("invalid_message", "a group event needs company.id")
    attributes = _obj(raw, "event_attributes")
    if type_ == "page":
        properties = {**attributes, **_page(context)}
        event = None
    else:
        properties = attributes or _obj(raw, "autocapture_attributes")
        event = None if type_ in ("identify", "group") else event_type
    traits = dict(user)
    traits.pop("id", None)
    traits.pop("anonymous_id", None)
    # Most of an event's fields are mapped: copy the few that are not, in the order sent.
    extra = {k: v for k, v in raw.items() if k not in NOT_EXTRA}
    if type_ == "track" and "autocapture_attributes" in raw and attributes:
        extra["autocapture_attributes"] = raw["autocapture_attributes"]
    if notes:
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
        companies=companies,
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


# Page fields: (context.page key, top-level field, event_attributes fallback key).
PAGE_FIELDS = (("url", "url", "url"), ("path", "doc_path", "path"), ("referrer", "referer", "referrer"),
               ("title", "page_title", "title"), ("search", "doc_search", None))


def _context(raw: dict[str, Any], info: RequestInfo, source: str, policies: Policies) -> dict[str, Any]:
    """Segment-style context from the page and device fields the browser sends."""
    get = raw.get
    sent = get("context")
    context: dict[str, Any] = dict(sent) if isinstance(sent, dict) else {}
    sent_attributes = get("event_attributes")
    attributes: dict[str, Any] = sent_attributes if isinstance(sent_attributes, dict) else {}
    page: dict[str, Any] = {}
    for key, top, fallback in PAGE_FIELDS:
        value = get(top)
        if not (isinstance(value, str) and value) and fallback is not None:
            value = attributes.get(fallback)
        if isinstance(value, str) and value:
            page[key] = value
    if page:
        context["page"] = page
    ip = nonempty_text(get("source_ip")) or nonempty_text(context.get("ip"))
    if ip is None and source == Source.USERMAVEN_BROWSER:
        ip = info.ip
    if ip:
        context["ip"] = stored_ip(ip, info, strict=policies.strict_ip)
    agent = nonempty_text(get("user_agent")) or nonempty_text(context.get("userAgent"))
    if agent is None and source == Source.USERMAVEN_BROWSER:
        agent = info.user_agent or None
    if agent:
        context["userAgent"] = agent
    locale = nonempty_text(get("user_language"))
    if locale:
        context["locale"] = locale
    utm = get("utm")
    if isinstance(utm, dict):
        campaign = {("name" if k == "campaign" else k): v for k, v in utm.items() if v not in (None, "")}
        if campaign:
            context["campaign"] = campaign
    return context


def _page(context: dict[str, Any]) -> dict[str, Any]:
    """``context.page`` when it is an object. A sender's own context may carry anything
    there; it is stored as sent, and read as absent when it is not an object."""
    page = context.get("page")
    return page if isinstance(page, dict) else {}


def _companies(raw: dict[str, Any], user: dict[str, Any], junk: JunkFilter) -> tuple[tuple[CompanyRef, ...], bool]:
    """Top-level ``company`` first (the ``group()`` company), then ``user.company``; and
    whether the top-level block named a company (a ``group`` event needs one)."""
    out: list[CompanyRef] = []
    top_named = False
    for top, block in ((True, raw.get("company")), (False, user.get("company"))):
        if isinstance(block, dict) and not block:
            continue  # the browser sends "company": {} until id() or group()
        cid = _company_id(block, junk, "company" if top else "user.company")
        if cid is None:
            continue
        top_named = top_named or top
        if out and out[0].id == cid:  # user.company repeating the group() company
            continue
        assert isinstance(block, dict)
        traits = dict(block)
        del traits["id"]
        out.append(CompanyRef(cid, True, traits or None))
    return tuple(out), top_named


def _company_id(block: Any, junk: JunkFilter, name: str) -> str | None:
    if block is None:
        return None
    if not isinstance(block, dict):
        raise InvalidMessage("invalid_message", f"{name} must be an object")
    return junk.usable(wire_id(block.get("id"), f"{name}.id"))


def _obj(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidMessage("invalid_message", f"{name} must be an object")
    return value


