"""The Moesif wire format (shared/wire/moesif.md) mapped to canonical messages.

- ``/v1/events``: API calls, each a ``track`` named ``API Call`` (api.md, Canonical
  messages). The user is ``user_id``, else the ``sub`` of a Bearer JWT (or a Basic
  user) in the captured request headers; ``company_id`` makes that user a member.
- ``/v1/users``: an ``identify`` (traits from ``metadata``); with only an
  ``anonymous_id`` (browser-js's campaign post) a *hidden* identify.
- ``/v1/companies``: company traits, as a hidden, personless ``group`` message whose
  company reference is not a membership (only the company's traits change).
- ``/v1/actions``: a ``track`` named by ``action_name``.

Authorization, Cookie and Set-Cookie headers are never stored, not even in the
quarantine. ``null`` is "not provided" everywhere.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from threadline.collector.formats.common import (
    InvalidMessage,
    check_message,
    content_hash,
    corrected_time,
    event_time,
    json_size,
    nonempty_text,
    parse_time,
    stored_ip,
    wire_id,
)
from threadline.collector.formats.jwt import header, user_from_authorization
from threadline.collector.request_info import RequestInfo
from threadline.jsondepth import MAX_DEPTH, cut, too_deep
from threadline.model import CompanyRef, Message, Parsed, Rejected, Source

API_CALL = "API Call"
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie",
                               "x-moesif-application-id"})
BODY_LIMIT = 32 * 1024  # request/response bodies are cut here when body capture is on
# A captured body sits one level inside ``properties``: cut to this many levels it keeps
# the stored document within the nesting limit.
BODY_DEPTH = MAX_DEPTH - 1
# Content-Length is a byte count: more digits than this is no body anyone captured.
MAX_LENGTH_DIGITS = 15
_SCHEME = re.compile(r"https?://", re.IGNORECASE)
_URL_PATH = re.compile(r"https?://[^/?#]*([^?#]*)")  # group 1: the path of an absolute URL

Parser = Callable[[Any, RequestInfo, str], Message]


def parse_many(data: Any, info: RequestInfo, source: str, parse_one: Parser, batch: bool) -> Parsed:
    """A batch route's array, or a single route's object, through ``parse_one``.

    Raises :class:`InvalidMessage` (answered 400) for the wrong top-level type.
    """
    if batch and not isinstance(data, list):
        raise InvalidMessage("invalid_body", "the body must be a JSON array")
    if not batch and not isinstance(data, dict):
        raise InvalidMessage("invalid_body", "the body must be a JSON object")
    items = data if batch else [data]
    messages: list[Message] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(items):
        try:
            messages.append(parse_one(raw, info, source))
        except InvalidMessage as exc:
            rejected.append(Rejected(index, exc.code, exc.reason, scrub(raw)))
    return Parsed(messages, rejected)


# ------------------------------------------------------------------ API calls


def parse_event(raw: Any, info: RequestInfo, source: str) -> Message:
    """One Moesif event (an API call) as an ``API Call`` track.

    Its request and response bodies do not count toward the nesting limit: they are
    stored only with body capture on, and then cut like an oversized body.
    """
    raw = _checked(raw, info, _without_bodies)
    request = _obj(raw, "request", required=True)
    response = _obj(raw, "response")
    uri = nonempty_text(request.get("uri")) or nonempty_text(request.get("url"))
    verb = nonempty_text(request.get("verb"))
    if uri is None or verb is None:
        raise InvalidMessage("invalid_message", "request.uri and request.verb are required")
    req_headers = _headers(request, "request.headers")
    resp_headers = _headers(response, "response.headers")
    sent_time = request.get("time")
    req_time = parse_time(sent_time, "request.time")
    resp_time = parse_time(response.get("time"), "response.time")
    # The request time is parsed once: the duration needs it as well.
    ts, notes = corrected_time(req_time, None, sent_time, info)
    junk = info.settings.junk_filter
    raw_user = _id(raw, "user_id")
    user = junk.usable(raw_user)
    if user is None:  # the sender could not name the user: its token can
        raw_user = user_from_authorization(req_headers) or raw_user
        user = junk.usable(raw_user)
    raw_anon = _id(raw, "anonymous_id")
    company = junk.usable(_id(raw, "company_id"))
    browser = source == Source.MOESIF_BROWSER

    ip = nonempty_text(request.get("ip_address")) or (info.ip if browser else None)
    agent = (nonempty_text(header(req_headers, "user-agent")) or nonempty_text(request.get("user_agent_string"))
             or (info.user_agent if browser else None))
    status = response.get("status")
    props: dict[str, Any] = {
        "method": verb.upper(),
        "url": uri,
        "route": _path(uri),
        "status": status if isinstance(status, int) and not isinstance(status, bool) else None,
        "duration_ms": round((resp_time - req_time) / 1000, 3) if req_time and resp_time else None,
        "request_bytes": _size(req_headers, request),
        "response_bytes": _size(resp_headers, response),
        "ip": stored_ip(ip, info) if ip else None,
        "user_agent": agent,
        "api_version": request.get("api_version"),
        "transaction_id": nonempty_text(raw.get("transaction_id")),
        "direction": (nonempty_text(raw.get("direction")) or "incoming").lower(),
    }
    for key in ("session_token", "weight", "metadata"):
        if raw.get(key) is not None:
            props[key] = raw[key]
    if info.settings.body_capture:
        for prefix, part, hdrs in (("request", request, req_headers), ("response", response, resp_headers)):
            _capture_body(props, prefix, part)
            if hdrs:
                props[f"{prefix}_headers"] = safe_headers(hdrs)
    context: dict[str, Any] = {}
    if props["ip"]:
        context["ip"] = props["ip"]
    if agent:
        context["userAgent"] = agent
    extra: dict[str, Any] = {}
    for key in ("tags", "blocked_by"):
        value = raw.get(key)
        if value is not None and value != "":
            extra[key] = value
    extra.update(notes)
    message_id = nonempty_text(raw.get("transaction_id")) or "h_" + content_hash(
        [request.get("time"), verb, uri, user, response.get("time")])
    return Message(
        message_id=_bounded(message_id),
        type="track",
        event=API_CALL,
        timestamp_us=ts,
        received_at_us=info.received_at_us,
        source=source,
        anonymous_id=junk.usable(raw_anon),
        user_id=user,
        properties=props,
        context=context,
        extra=extra,
        companies=(CompanyRef(company, True),) if company else (),
        raw_anonymous_id=raw_anon,
        raw_user_id=raw_user,
    )


def _capture_body(props: dict[str, Any], prefix: str, part: dict[str, Any]) -> None:
    body = part.get("body")
    if body is None or body == "":
        return
    if part.get("transfer_encoding") == "base64":
        props[f"{prefix}_body_encoding"] = "base64"
    text = body if isinstance(body, str) else None
    deep = text is None and too_deep(body, BODY_DEPTH)
    if deep:
        body = cut(body, BODY_DEPTH)
    encoded = text.encode() if text is not None else orjson.dumps(body)
    if len(encoded) <= BODY_LIMIT:
        props[f"{prefix}_body"] = body
        props[f"{prefix}_body_truncated"] = deep
        return
    props[f"{prefix}_body"] = encoded[:BODY_LIMIT].decode("utf-8", "ignore")
    props[f"{prefix}_body_truncated"] = True


def _size(headers: dict[str, Any], part: dict[str, Any]) -> int | None:
    """Bytes of a request or response body: its Content-Length, else the body's size."""
    declared = header(headers, "content-length")
    if isinstance(declared, str):
        digits = declared.strip()
        # ASCII digits only ("²".isdigit() is true too), and few enough to be a size.
        if digits.isascii() and digits.isdigit() and len(digits) <= MAX_LENGTH_DIGITS:
            return int(digits)
    body = part.get("body")
    if body is None:
        return None
    if isinstance(body, str):
        if part.get("transfer_encoding") == "base64":
            try:
                return len(base64.b64decode(body, validate=False))
            except (binascii.Error, ValueError):
                return len(body)
        return len(body.encode())
    return json_size(body)


def _path(uri: str) -> str:
    """The route of a call: its path (Moesif senders do not know the template).

    moesifwsgi puts the mount prefix before the scheme (``/prefixhttp://host/x``).
    """
    # Nearly every call: an absolute http(s) URL, read with one regular expression.
    # (urlsplit drops tabs and newlines anywhere in a URL; such URLs take the long way.)
    if "\t" not in uri and "\n" not in uri and "\r" not in uri:
        plain = _URL_PATH.match(uri)
        if plain:
            return plain.group(1) or "/"
    match = _SCHEME.search(uri)
    prefix, rest = (uri[: match.start()], uri[match.start():]) if match else ("", uri)
    try:
        path = urlsplit(rest).path
    except ValueError:
        path = rest.split("?")[0]
    return (prefix.rstrip("/") + path) or "/"


def safe_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """A captured header map without credentials."""
    return {k: v for k, v in headers.items() if not (isinstance(k, str) and k.lower() in SENSITIVE_HEADERS)}


def scrub(raw: Any) -> Any:
    """A payload as it may be kept in the quarantine: credential headers removed."""
    if not isinstance(raw, dict):
        return raw
    out = dict(raw)
    for part in ("request", "response"):
        section = out.get(part)
        if isinstance(section, dict) and isinstance(section.get("headers"), dict):
            out[part] = {**section, "headers": safe_headers(section["headers"])}
    return out


# ------------------------------------------------------------------ profiles and actions


def parse_user(raw: Any, info: RequestInfo, source: str) -> Message:
    """A user update: ``identify``; hidden when it names only an anonymous id."""
    raw = _checked(raw, info)
    junk = info.settings.junk_filter
    raw_user, raw_anon = _id(raw, "user_id"), _id(raw, "anonymous_id")
    user, anon = junk.usable(raw_user), junk.usable(raw_anon)
    if user is None and anon is None:
        raise InvalidMessage("invalid_message", "a user needs a user_id or an anonymous_id")
    company = junk.usable(_id(raw, "company_id"))
    ts, context, extra = _profile_common(raw, info, source)
    props = {"session_token": raw["session_token"]} if raw.get("session_token") else {}
    return Message(
        message_id="mu_" + content_hash([raw, ts]),
        type="identify",
        timestamp_us=ts,
        received_at_us=info.received_at_us,
        source=source,
        anonymous_id=anon,
        user_id=user,
        properties=props,
        traits=dict(_obj(raw, "metadata")),
        context=context,
        extra=extra,
        companies=(CompanyRef(company, True),) if company else (),
        hidden=user is None,
        raw_anonymous_id=raw_anon,
        raw_user_id=raw_user,
    )


def parse_company(raw: Any, info: RequestInfo, source: str) -> Message:
    """A company update: its traits, on no person's timeline."""
    raw = _checked(raw, info)
    company = info.settings.junk_filter.usable(_id(raw, "company_id"))
    if company is None:
        raise InvalidMessage("invalid_message", "a company needs a company_id")
    traits = dict(_obj(raw, "metadata"))
    if nonempty_text(raw.get("company_domain")):
        traits["company_domain"] = raw["company_domain"]
    ts, context, extra = _profile_common(raw, info, source)
    return Message(
        message_id="mc_" + content_hash([raw, ts]),
        type="group",
        timestamp_us=ts,
        received_at_us=info.received_at_us,
        source=source,
        context=context,
        extra=extra,
        companies=(CompanyRef(company, member=False, traits=traits or None),),
        hidden=True,
    )


def parse_action(raw: Any, info: RequestInfo, source: str) -> Message:
    """A browser action: a ``track`` named by ``action_name``."""
    raw = _checked(raw, info)
    name = nonempty_text(raw.get("action_name"))
    if name is None or not name.strip():
        raise InvalidMessage("invalid_message", "action_name is required")
    request = _obj(raw, "request")
    junk = info.settings.junk_filter
    raw_user, raw_anon = _id(raw, "user_id"), _id(raw, "anonymous_id")
    user, anon = junk.usable(raw_user), junk.usable(raw_anon)
    company = junk.usable(_id(raw, "company_id"))
    ts, _sent, notes = event_time(request.get("time"), None, info)
    url = nonempty_text(request.get("uri")) or nonempty_text(request.get("url"))
    ip = nonempty_text(request.get("ip_address")) or info.ip
    agent = nonempty_text(request.get("user_agent_string")) or info.user_agent or None
    context: dict[str, Any] = {"ip": stored_ip(ip, info)} if ip else {}
    if agent:
        context["userAgent"] = agent
    if url:
        context["page"] = {"url": url, "path": _path(url)}
    properties = dict(_obj(raw, "metadata"))
    if raw.get("session_token") and "session_token" not in properties:
        properties["session_token"] = raw["session_token"]
    transaction = nonempty_text(raw.get("transaction_id"))
    extra: dict[str, Any] = {"transaction_id": transaction} if transaction else {}
    extra.update(notes)
    # api.md: a hash of name, request time and ids (the transaction id among them, so
    # two clicks of one button stay two actions while a re-sent batch is one).
    message_id = "ma_" + content_hash([name, request.get("time"), user, anon, company, transaction])
    return Message(
        message_id=message_id,
        type="track",
        event=name,
        timestamp_us=ts,
        received_at_us=info.received_at_us,
        source=source,
        anonymous_id=anon,
        user_id=user,
        properties=properties,
        context=context,
        extra=extra,
        companies=(CompanyRef(company, True),) if company else (),
        raw_anonymous_id=raw_anon,
        raw_user_id=raw_user,
    )


def _profile_common(raw: dict[str, Any], info: RequestInfo, source: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """Time (``modified_time``, else receipt), context and extra of a user/company update."""
    ts, _sent, notes = event_time(raw.get("modified_time"), None, info)
    browser = source == Source.MOESIF_BROWSER
    ip = nonempty_text(raw.get("ip_address")) or (info.ip if browser else None)
    agent = nonempty_text(raw.get("user_agent_string")) or (info.user_agent if browser else None)
    context: dict[str, Any] = {"ip": stored_ip(ip, info)} if ip else {}
    if agent:
        context["userAgent"] = agent
    campaign = raw.get("campaign")
    if isinstance(campaign, dict):
        kept = {k: v for k, v in campaign.items() if v not in (None, "")}
        if kept:  # browser-js posts {} on every anonymous page load: nothing to keep
            context["campaign"] = kept
    known = {"user_id", "anonymous_id", "company_id", "metadata", "campaign", "modified_time",
             "ip_address", "user_agent_string", "session_token", "company_domain"}
    extra = {k: v for k, v in raw.items() if k not in known and v is not None}
    extra.update(notes)
    return ts, context, extra


# ------------------------------------------------------------------ small readers


def _checked(raw: Any, info: RequestInfo, shape: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """An item that is an object within the nesting and size limits (``shape`` picks
    what the nesting is measured on)."""
    if not isinstance(raw, dict):
        raise InvalidMessage("invalid_message", "each item must be a JSON object")
    check_message(raw, info, "item", shape(raw) if shape is not None else None)
    return raw


def _without_bodies(raw: dict[str, Any]) -> Any:
    """An event as its nesting is measured: without the request and response bodies."""
    view = raw
    for part in ("request", "response"):
        section = raw.get(part)
        if isinstance(section, dict) and "body" in section:
            if view is raw:
                view = dict(raw)
            view[part] = {k: v for k, v in section.items() if k != "body"}
    return view


def _obj(raw: dict[str, Any], name: str, required: bool = False) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        if required:
            raise InvalidMessage("invalid_message", f"{name} is required")
        return {}
    if not isinstance(value, dict):
        raise InvalidMessage("invalid_message", f"{name} must be an object")
    return value


def _headers(part: dict[str, Any], name: str) -> dict[str, Any]:
    value = part.get("headers")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidMessage("invalid_message", f"{name} must be an object")
    return value


def _id(raw: dict[str, Any], name: str) -> str | None:
    return wire_id(raw.get(name), name)


def _bounded(message_id: str) -> str:
    if len(message_id) > 200:
        raise InvalidMessage("invalid_message", "transaction_id is longer than 200 characters")
    return message_id
