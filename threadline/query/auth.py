"""Query-API authentication: ``Authorization: Bearer <secret key>`` names the project.

A missing or unknown key is 401; a write key is 403, because write keys are public
(they ship in web pages) and must never read data.
"""

from __future__ import annotations

from starlette.requests import Request

from threadline.collector.http import bearer_token
from threadline.errors import HTTPError, forbidden
from threadline.services import services_of

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="threadline"'}


def secret_project(request: Request) -> str:
    """The project the request's secret key opens."""
    key = bearer_token(request)
    if key is None:
        raise HTTPError(401, "unauthorized", "the query API needs 'Authorization: Bearer <secret key>'",
                        headers=CHALLENGE)
    info = services_of(request).store.auth(key)
    if info is None:
        raise HTTPError(401, "unauthorized", "unknown or expired key", headers=CHALLENGE)
    if info.kind != "secret":
        raise forbidden("a write key can only send events; the query API needs the secret key")
    return info.project_id
