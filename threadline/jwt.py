"""Reading the claims of a JWT without verifying it.

Both the API-call middleware (who called, for analytics) and the Moesif collector route
(the user of a captured request whose sender could not name one) only need to know
*who* a token names: the application has already authenticated the request, or
refused it. Verifying would need the application's keys, so the payload is decoded as
it stands: url-safe base64 without padding (RFC 7515). Dependency-free beyond orjson,
because the middleware runs inside the customer's application.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import Any

import orjson

# A token larger than this is not a JWT we want to decode on every request.
MAX_TOKEN_LENGTH = 16 * 1024


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a compact JWT as a dict (a copy), or ``None`` if it is not one."""
    claims = _decode(token.strip())
    return dict(claims) if claims is not None else None


@functools.lru_cache(maxsize=256)
def _decode(token: str) -> dict[str, Any] | None:
    # API clients send the same token for many calls: decode each one once. (The tokens
    # are in the process anyway; 256 of them stay referenced a little longer.)
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = orjson.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def bearer_claims(authorization: str | None) -> dict[str, Any] | None:
    """The claims of ``Authorization: Bearer <jwt>``, or ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return jwt_claims(token)
