"""A Django middleware that shows the WSGI/ASGI middleware what only Django knows: the
URL pattern that matched and the authenticated user. Django is not imported.

Add it to ``MIDDLEWARE`` after ``AuthenticationMiddleware``::

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "threadline.middleware.django.ThreadlineDjangoMiddleware",
    ]

and wrap the project's ``application`` with :class:`threadline.middleware.WSGIMiddleware`
(``wsgi.py``) or :class:`threadline.middleware.ASGIMiddleware` (``asgi.py``).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from threadline.middleware.capture import ROUTE_KEY

USER_OBJECT_KEY = "threadline.django.user"


def _raw(request: Any) -> MutableMapping[str, Any] | None:
    # ASGIRequest carries the scope; WSGIRequest's META is the WSGI environ itself.
    for attr in ("scope", "environ"):
        raw = getattr(request, attr, None)
        if isinstance(raw, MutableMapping):
            return raw
    return None


def _loaded_user(request: Any) -> Any:
    """``request.user`` if it is already loaded. Django's lazy user would run a session
    and database lookup when first touched; a view that never looked at the user should
    not pay for one because of analytics, so an unevaluated lazy user is left alone."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = user.__dict__.get("_wrapped", user)
    return None if type(wrapped) is object else wrapped  # django.utils.functional.empty


class ThreadlineDjangoMiddleware:
    """Records the matched route (``/users/<int:pk>/``) and the loaded user for the
    Threadline middleware; it runs after the view, on the request's own thread."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        try:
            raw = _raw(request)
            if raw is not None:
                match = getattr(request, "resolver_match", None)
                route = getattr(match, "route", None)
                if isinstance(route, str) and route:
                    raw[ROUTE_KEY] = getattr(request, "META", {}).get("SCRIPT_NAME", "") + (
                        route if route.startswith("/") else "/" + route)
                user = _loaded_user(request)
                if user is not None:
                    raw[USER_OBJECT_KEY] = user
        except Exception:  # analytics must never break a response
            pass
        return response
