"""Building the ``API Call`` event (api.md "Canonical messages") and its membership call.

Runs on the SDK's consumer thread from the raw capture of one request, so the host's
response path only pays for the capture and one enqueue.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from threadline.middleware.body import body_value, cut
from threadline.middleware.capture import CapturedRequest, CapturedResponse
from threadline.middleware.memberships import Memberships, membership_message_id
from threadline.middleware.options import LIBRARY, Options
from threadline.sdk.cookies import anonymous_id_from_cookies
from threadline.sdk.messages import MAX_MESSAGE_BYTES, dumps, iso

log = logging.getLogger("threadline.middleware")

# Properties that are plain facts of the call; redaction walks everything else.
_SCALARS = ("method", "url", "route", "status", "duration_ms", "request_bytes", "response_bytes",
            "ip", "user_agent", "api_version", "transaction_id", "direction")


class EventBuilder:
    """Turns one captured call into messages, applying the options' hooks."""

    def __init__(self, options: Options, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.options = options
        self.max_message_bytes = max_message_bytes
        self.memberships = Memberships()

    def build(
        self,
        request: CapturedRequest,
        response: CapturedResponse,
        started_at: float,
        transaction_id: str,
    ) -> list[dict[str, Any]]:
        """The messages for one call: maybe a ``group`` call, then the ``API Call``."""
        o = self.options
        if o.skip is not None and _safe(o.skip, False, request):
            return []
        user_id = _id(_safe(o.identify_user, None, request, response))
        company_id = _id(_safe(o.identify_company, None, request, response))
        timestamp = iso(started_at)
        event = self._event(request, response, timestamp, transaction_id, user_id, company_id)
        if o.mask_event is not None:
            try:
                masked = o.mask_event(event)
            except Exception:
                log.exception("threadline: mask_event raised; the event is dropped")
                return []
            if masked is None:
                return []
            event = masked
        if o.capture_body or o.capture_headers or o.mask_event is not None:
            self._redact(event)
            self._fit(event)
        else:  # only the URL can carry a secret: skip walking the properties
            props = event["properties"]
            props["url"] = o.redactor.url(props["url"])
        messages = [event]
        if user_id and company_id and self.memberships.first_time(user_id, company_id):
            messages.insert(0, self._membership(user_id, company_id, started_at, event))
        return messages

    def _event(
        self,
        request: CapturedRequest,
        response: CapturedResponse,
        timestamp: str,
        transaction_id: str,
        user_id: str | None,
        company_id: str | None,
    ) -> dict[str, Any]:
        o = self.options
        if callable(o.api_version):
            api_version = _safe(o.api_version, None, request)
        else:
            api_version = o.api_version or request.headers.get("x-api-version") or \
                request.headers.get("api-version")
        props: dict[str, Any] = {
            "method": request.method,
            "url": request.url,
            "route": request.route or request.path,
            "status": response.status,
            "duration_ms": round(response.duration_ms, 3),
            "request_bytes": request.size,
            "response_bytes": response.size,
            "ip": request.ip,
            "user_agent": request.user_agent,
            "api_version": api_version,
            "transaction_id": transaction_id,
            "direction": "incoming",
        }
        if o.capture_headers:
            props["request_headers"] = dict(request.headers)
            props["response_headers"] = dict(response.headers)
        if o.capture_body:
            for prefix, body, ctype, truncated in (
                ("request", request.body, request.headers.get("content-type"),
                 request.body_truncated),
                ("response", response.body, response.headers.get("content-type"),
                 response.body_truncated),
            ):
                if body:
                    value, cut_, encoding = body_value(body, ctype, truncated, o.redactor)
                    props[f"{prefix}_body"] = value
                    props[f"{prefix}_body_truncated"] = cut_
                    if encoding:
                        props[f"{prefix}_body_encoding"] = encoding
        context: dict[str, Any] = {"library": dict(LIBRARY)}
        if request.ip:
            context["ip"] = request.ip
        if request.user_agent:
            context["userAgent"] = request.user_agent
        if company_id:
            context["groupId"] = company_id
        event: dict[str, Any] = {
            "type": "track",
            "event": "API Call",
            "messageId": transaction_id,
            "timestamp": timestamp,
            "properties": props,
            "context": context,
        }
        if user_id:
            event["userId"] = user_id
        elif o.anonymous_ids:
            cookie = request.headers.get("cookie")
            anonymous_id = anonymous_id_from_cookies(cookie) if cookie else None
            if anonymous_id:
                event["anonymousId"] = anonymous_id
        return event

    def _redact(self, event: dict[str, Any]) -> None:
        """Last step before sending, after mask_event: whatever the hooks did, secrets go."""
        r = self.options.redactor
        props = event.get("properties")
        if not isinstance(props, dict):
            return
        for key, value in list(props.items()):
            if key in _SCALARS:
                continue
            if key.endswith("_headers") and isinstance(value, dict):
                props[key] = r.headers(value)
            elif r.is_secret(key):
                props[key] = "[REDACTED]"
            else:
                props[key] = r.tree(value)
        if isinstance(props.get("url"), str):
            props["url"] = r.url(props["url"])

    def _fit(self, event: dict[str, Any]) -> None:
        """Keep the event under the collector's per-message limit: cut the larger body
        in half (flagged) until it fits, then drop headers."""
        props = event.get("properties")
        if not isinstance(props, dict):
            return
        for _ in range(24):
            size = len(dumps(event))
            if size <= self.max_message_bytes:
                return
            bodies = [k for k in ("request_body", "response_body") if props.get(k)]
            if bodies:
                key = max(bodies, key=lambda k: len(dumps({"v": props[k]})))
                full = cut(props[key], self.max_message_bytes * 4)
                text = full[: len(full) // 2]
                props[key] = text
                props[f"{key}_truncated"] = True
                if not text:
                    props.pop(key)
                continue
            for key in ("request_headers", "response_headers"):
                props.pop(key, None)

    def _membership(
        self, user_id: str, company_id: str, started_at: float, event: dict[str, Any]
    ) -> dict[str, Any]:
        # A millisecond before the call, so the call is inside the membership even for a
        # reader that counts membership from its own time on.
        when = dt.datetime.fromtimestamp(started_at, dt.UTC) - dt.timedelta(milliseconds=1)
        context = {k: v for k, v in event.get("context", {}).items() if k != "groupId"}
        return {
            "type": "group",
            "messageId": membership_message_id(user_id, company_id),
            "userId": user_id,
            "groupId": company_id,
            "traits": {},
            "timestamp": iso(when),
            "context": context,
        }


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip() if isinstance(value, str | int) else None
    return text or None


def _safe(hook: Any, fallback: Any, *args: Any) -> Any:
    try:
        return hook(*args)
    except Exception:
        log.exception("threadline: hook %s raised; ignored", getattr(hook, "__name__", hook))
        return fallback
