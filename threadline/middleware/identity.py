"""The default ``identify_user`` and ``identify_company`` hooks.

Each reads, in order: what the application declared with ``set_user``; the
``X-User-Id`` / ``X-Company-Id`` header; the Bearer JWT (``sub`` for the user, an
organisation claim for the company), decoded without verification; the framework's
authenticated user (Starlette's ``scope["user"]``, Django's ``request.user`` through
:class:`threadline.middleware.django.ThreadlineDjangoMiddleware`, WSGI ``REMOTE_USER``).
"""

from __future__ import annotations

from typing import Any

from threadline.middleware.capture import (
    COMPANY_KEY,
    USER_KEY,
    CapturedRequest,
    CapturedResponse,
)

USER_HEADER = "x-user-id"
COMPANY_HEADER = "x-company-id"
COMPANY_CLAIMS = ("company_id", "org_id", "organization_id", "tenant_id", "group_id")
# Attribute names of user objects, in the order frameworks use them for the primary key.
_USER_ATTRS = ("id", "pk", "user_id", "identity", "username")
_COMPANY_ATTRS = ("company_id", "organization_id", "org_id", "tenant_id")


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int):
        return str(value)
    return None


def _claim_id(claims: dict[str, Any] | None, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` in a token's claims that is an id (numbers as text)."""
    for name in names:
        found = _text(claims.get(name)) if claims else None
        if found:
            return found
    return None


def _attr_id(obj: Any, names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            value = getattr(obj, name, None)
        except Exception:  # e.g. Starlette's BaseUser.identity raises NotImplementedError
            continue
        found = _text(value)
        if found:
            return found
    return None


def framework_user(request: CapturedRequest) -> Any:
    """The authenticated user object the framework attached, if any (else ``None``)."""
    raw = request.raw
    user = raw.get("user") if request.scope is not None else None
    if user is None:
        user = raw.get("threadline.django.user")
    if user is None:
        return None
    try:
        if not getattr(user, "is_authenticated", True):
            return None
    except Exception:
        return None
    return user


def default_identify_user(request: CapturedRequest, response: CapturedResponse) -> str | None:
    """The user id of a call: set_user, ``X-User-Id``, JWT ``sub``, framework user."""
    raw = request.raw
    found = _text(raw.get(USER_KEY)) or _text(request.headers.get(USER_HEADER))
    if found:
        return found
    found = _claim_id(request.bearer_claims, ("sub",))
    if found:
        return found
    user = framework_user(request)
    if user is not None:
        found = _attr_id(user, _USER_ATTRS)
        if found:
            return found
    return _text(raw.get("REMOTE_USER")) if request.environ is not None else None


def default_identify_company(request: CapturedRequest, response: CapturedResponse) -> str | None:
    """The company id of a call: set_user, ``X-Company-Id``, a JWT organisation claim
    (``company_id``, ``org_id``, ``organization_id``, ``tenant_id``, ``group_id``),
    the framework user's ``company_id``-like attribute."""
    raw = request.raw
    found = _text(raw.get(COMPANY_KEY)) or _text(request.headers.get(COMPANY_HEADER))
    if found:
        return found
    found = _claim_id(request.bearer_claims, COMPANY_CLAIMS)
    if found:
        return found
    user = framework_user(request)
    return _attr_id(user, _COMPANY_ATTRS) if user is not None else None
