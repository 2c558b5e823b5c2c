"""Reading the browser's anonymous id from a request, for the hybrid browser + backend flow.

The backend passes this id to ``identify`` at sign-up or login, which links everything
the browser did before (page views under that anonymous id) to the user.

Cookies are read in this order: Threadline's tracker (``tl_aid``), Usermaven's
(``__eventn_id_<key>``), Segment's analytics.js (``ajs_anonymous_id``). Values are
URL-decoded and stripped of the JSON quotes analytics.js stores around them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

TRACKER_COOKIE = "tl_aid"
USERMAVEN_PREFIX = "__eventn_id"
SEGMENT_COOKIE = "ajs_anonymous_id"

# Values that browsers' tracking code writes when it has no id; never an identifier.
_JUNK = frozenset({"", "null", "undefined", "none", "nan"})


def parse_cookie_header(header: str) -> dict[str, str]:
    """A ``Cookie`` header as a dict (first occurrence of a name wins, as browsers send the
    most specific path first). Lenient: malformed pairs are skipped, never an error."""
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if sep and name and name not in cookies:
            cookies[name] = value.strip()
    return cookies


def clean_cookie_value(value: str | None) -> str | None:
    """An id from a raw cookie value: URL-decoded, without surrounding quotes or spaces."""
    if value is None:
        return None
    text = value.strip()
    for _ in range(2):  # analytics.js values are JSON strings, often URL-encoded once more
        if "%" in text:
            text = unquote(text)
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1].strip()
    return None if text.lower() in _JUNK else text


def anonymous_id_from_cookies(cookies: Mapping[str, str] | str, key: str | None = None) -> str | None:
    """The browser's anonymous id from a cookie mapping or a raw ``Cookie`` header.

    ``key`` selects Usermaven's ``__eventn_id_<key>``; without it any ``__eventn_id*``
    cookie is taken.
    """
    jar = parse_cookie_header(cookies) if isinstance(cookies, str) else cookies
    found = clean_cookie_value(jar.get(TRACKER_COOKIE))
    if found:
        return found
    if key:
        found = clean_cookie_value(jar.get(f"{USERMAVEN_PREFIX}_{key}"))
    else:
        for name in list(jar.keys()):
            if name.startswith(USERMAVEN_PREFIX):
                found = clean_cookie_value(jar.get(name))
                if found:
                    break
    if found:
        return found
    return clean_cookie_value(jar.get(SEGMENT_COOKIE))


def _scope_cookie_header(headers: Iterable[tuple[bytes, bytes]]) -> str:
    # HTTP/2 may split cookies over several headers; they join with "; ".
    return "; ".join(v.decode("latin-1") for k, v in headers if k.lower() == b"cookie")


def cookie_header_of(request: Any) -> str | Mapping[str, str] | None:
    """The cookies of a request-like object: a Starlette/FastAPI, Flask or Django request,
    an ASGI scope, a WSGI environ, a mapping of cookies or a raw header string."""
    if request is None:
        return None
    if isinstance(request, str):
        return request
    if isinstance(request, Mapping):
        if request.get("type") in ("http", "websocket") and "headers" in request:
            return _scope_cookie_header(request["headers"])
        if "REQUEST_METHOD" in request or "HTTP_COOKIE" in request:
            return str(request.get("HTTP_COOKIE", ""))
        return request
    for attr in ("cookies", "COOKIES"):  # Starlette and Flask; Django
        jar = getattr(request, attr, None)
        if isinstance(jar, Mapping):
            return jar
    scope = getattr(request, "scope", None)
    if isinstance(scope, Mapping):
        return cookie_header_of(scope)
    environ = getattr(request, "environ", None) or getattr(request, "META", None)
    if isinstance(environ, Mapping):
        return str(environ.get("HTTP_COOKIE", ""))
    headers = getattr(request, "headers", None)
    if headers is not None and hasattr(headers, "get"):
        value = headers.get("cookie")
        return value if isinstance(value, str) else None
    return None


def anonymous_id_from_request(request: Any, key: str | None = None) -> str | None:
    """The browser's anonymous id carried by ``request``'s cookies, or ``None``.

    Accepts whatever the web framework hands you (see :func:`cookie_header_of`); never
    raises for an unknown object.
    """
    try:
        cookies = cookie_header_of(request)
        return anonymous_id_from_cookies(cookies, key) if cookies is not None else None
    except Exception:  # a helper for analytics must not break a login view
        return None
