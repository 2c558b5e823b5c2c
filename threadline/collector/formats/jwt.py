"""The user named by a captured ``Authorization`` header, read without verification
(the token's claims by :mod:`threadline.jwt`).

A Moesif API-call event whose sender could not name the user still carries the
request's headers: a Bearer JWT names it in its ``sub`` claim, a Basic header in its
user name. The header itself is never stored (api.md, Canonical messages).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from threadline.identity.ids import id_text
from threadline.jwt import jwt_claims

# The names every API-call event is asked for, in their usual spelling.
_TITLE = {n: n.title() for n in ("content-length", "user-agent", "authorization")}


def header(headers: Mapping[str, Any], name: str) -> str | None:
    """A header's value from a captured header map, matching the name in any case."""
    wanted = name.lower()
    direct = headers.get(wanted)
    if direct.__class__ is str:
        return direct  # type: ignore[no-any-return]
    # Captured maps keep the sender's spelling, most often "Content-Length": try it
    # before lower-casing every key.
    title = _TITLE.get(wanted) or wanted.title()
    direct = headers.get(title)
    if direct.__class__ is str:
        return direct  # type: ignore[no-any-return]
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


def jwt_claim(token: str, claim: str = "sub") -> str | None:
    """A claim of a JWT's payload (unverified), as identifier text."""
    payload = jwt_claims(token)
    if payload is None:
        return None
    value = payload.get(claim)
    if value is None:  # Moesif matches the claim name case-insensitively
        value = next((v for k, v in payload.items() if isinstance(k, str) and k.lower() == claim), None)
    return id_text(value)


def user_from_authorization(headers: Mapping[str, Any]) -> str | None:
    """``sub`` of a Bearer JWT, or the user name of a Basic header; ``None`` otherwise."""
    value = header(headers, "authorization")
    if not value:
        return None
    value = value.split(",")[0].strip()
    scheme, _, credentials = value.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return jwt_claim(credentials)
    if scheme == "basic":
        text = credentials.strip()
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        user = raw.decode("utf-8", "replace").split(":", 1)[0]
        return user or None
    return None
