"""What the middleware hands to hooks: framework-neutral views of one request and response.

The same :class:`CapturedRequest` and :class:`CapturedResponse` come from the ASGI and
the WSGI middleware, so hooks are written once. They are built on the SDK's consumer
thread after the response has gone out, never on the request path.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from threadline.jwt import bearer_claims
from threadline.sdk.cookies import parse_cookie_header

# Keys an application can set on the ASGI scope or WSGI environ (see set_user).
USER_KEY = "threadline.user_id"
COMPANY_KEY = "threadline.company_id"
ROUTE_KEY = "threadline.route"


@dataclass
class CapturedRequest:
    """One incoming request as the middleware saw it.

    ``headers`` has lower-case names (repeated headers joined with ``", "``); ``body`` is
    set only with body capture on (``body_truncated`` when cut); ``scope`` is the ASGI
    scope or ``environ`` the WSGI environ, for anything else a hook needs (for example
    ``request.scope["user"]`` under Starlette's AuthenticationMiddleware).
    """

    method: str
    url: str
    path: str
    route: str | None
    query_string: str
    headers: Mapping[str, str]
    ip: str | None
    size: int
    body: bytes | None = None
    body_truncated: bool = False
    scope: Mapping[str, Any] | None = None
    environ: Mapping[str, Any] | None = None

    @property
    def user_agent(self) -> str | None:
        """The ``User-Agent`` header."""
        return self.headers.get("user-agent")

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies (raw values)."""
        return parse_cookie_header(self.headers.get("cookie", ""))

    @cached_property
    def bearer_claims(self) -> dict[str, Any] | None:
        """The claims of the ``Authorization: Bearer`` JWT, unverified (``None`` if none)."""
        return bearer_claims(self.headers.get("authorization"))

    @property
    def raw(self) -> Mapping[str, Any]:
        """The ASGI scope or WSGI environ."""
        return self.scope if self.scope is not None else (self.environ or {})


@dataclass
class CapturedResponse:
    """The response to a :class:`CapturedRequest`; ``duration_ms`` is from the request
    reaching the middleware to the last byte handed to the server."""

    status: int
    headers: Mapping[str, str]
    size: int
    duration_ms: float
    body: bytes | None = None
    body_truncated: bool = False


@dataclass
class BodyBuffer:
    """The first ``limit`` bytes of a body (copied: servers may reuse their buffers)."""

    limit: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        """Keep what still fits of ``chunk``."""
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.truncated = True
            chunk = chunk[:max(room, 0)]
        if chunk:
            self.data += chunk


def headers_dict(pairs: Any) -> dict[str, str]:
    """Header pairs (bytes or str) as a dict with lower-case names; repeats joined."""
    if not pairs:
        return {}
    try:  # the common case: ASGI byte pairs without repeats, in one comprehension
        fast = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in pairs}
        if len(fast) == len(pairs):
            return fast
    except (AttributeError, TypeError):
        pass
    out: dict[str, str] = {}
    for name, value in pairs:
        k = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
        v = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def set_user(
    target: Any, user_id: str | int | None = None, company_id: str | int | None = None
) -> None:
    """Tell the middleware who made this request (wins over every default).

    ``target`` is the framework's request (Starlette/FastAPI, Flask, Django), an ASGI
    scope or a WSGI environ. Call it in a view or an auth dependency::

        set_user(request, user.id, company_id=user.org_id)
    """
    store = _raw_of(target)
    if store is None:
        return
    if user_id is not None:
        store[USER_KEY] = str(user_id)
    if company_id is not None:
        store[COMPANY_KEY] = str(company_id)


def _raw_of(target: Any) -> MutableMapping[str, Any] | None:
    if isinstance(target, MutableMapping):
        return target
    for attr in ("scope", "environ", "META"):  # Starlette; Werkzeug/Django WSGI; Django
        raw = getattr(target, attr, None)
        if isinstance(raw, MutableMapping):
            return raw
    return None
