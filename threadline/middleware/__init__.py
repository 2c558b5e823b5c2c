"""Server-side API-call capture: ASGI and WSGI middleware sending ``API Call`` events.

::

    from threadline.middleware import ASGIMiddleware, WSGIMiddleware

Neither imports a web framework: they are plain ASGI and WSGI.
"""

from __future__ import annotations

from threadline.jwt import bearer_claims, jwt_claims
from threadline.middleware.asgi import ASGIMiddleware
from threadline.middleware.capture import CapturedRequest, CapturedResponse, set_user
from threadline.middleware.identity import default_identify_company, default_identify_user
from threadline.middleware.options import LIBRARY, Options
from threadline.middleware.redaction import DEFAULT_FIELDS, REDACTED, SECRET_HEADERS, Redactor
from threadline.middleware.wsgi import WSGIMiddleware

__all__ = [
    "DEFAULT_FIELDS",
    "LIBRARY",
    "REDACTED",
    "SECRET_HEADERS",
    "ASGIMiddleware",
    "CapturedRequest",
    "CapturedResponse",
    "Options",
    "Redactor",
    "WSGIMiddleware",
    "bearer_claims",
    "default_identify_company",
    "default_identify_user",
    "jwt_claims",
    "set_user",
]
