"""The middleware's settings and hooks, shared by the ASGI and WSGI middleware."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from threadline.middleware.capture import CapturedRequest, CapturedResponse
from threadline.middleware.identity import default_identify_company, default_identify_user
from threadline.middleware.redaction import Redactor
from threadline.sdk.messages import VERSION

LIBRARY = {"name": "threadline-middleware", "version": VERSION}

IdentifyHook = Callable[[CapturedRequest, CapturedResponse], str | int | None]
SkipHook = Callable[[CapturedRequest], bool]
MaskHook = Callable[[dict[str, Any]], dict[str, Any] | None]
ApiVersion = str | Callable[[CapturedRequest], str | None] | None


@dataclass(frozen=True)
class Options:
    """How API calls are captured. Every hook runs on the SDK's consumer thread after the
    response is sent; a hook that raises is logged and treated as absent (``mask_event``
    raising drops the event, since sending it unmasked could leak what it should hide).

    - ``identify_user(request, response)`` / ``identify_company(request, response)``:
      the ids of the caller; defaults in :mod:`threadline.middleware.identity`.
    - ``skip(request)``: true to record nothing for this request.
    - ``mask_event(event)``: change the event dict, or return ``None`` to drop it;
      secrets are redacted again afterwards.
    - ``capture_body``: include request and response bodies (off by default), each
      cut to ``max_body_bytes`` and flagged when cut.
    - ``capture_headers``: include request and response headers (secrets redacted).
    - ``redact_fields``: more field names to redact at any depth (the defaults in
      :mod:`threadline.middleware.redaction` always apply).
    - ``api_version``: a string, or a function of the request; by default the
      ``X-API-Version`` or ``API-Version`` request header, if any.
    - ``anonymous_ids``: for calls with no user, use the browser's anonymous-id cookie
      so those calls join the visitor's timeline.
    """

    identify_user: IdentifyHook = default_identify_user
    identify_company: IdentifyHook = default_identify_company
    skip: SkipHook | None = None
    mask_event: MaskHook | None = None
    capture_body: bool = False
    capture_headers: bool = False
    redact_fields: Iterable[str] = ()
    max_body_bytes: int = 8 * 1024
    api_version: ApiVersion = None
    anonymous_ids: bool = True
    redactor: Redactor = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "redactor", Redactor(self.redact_fields))
