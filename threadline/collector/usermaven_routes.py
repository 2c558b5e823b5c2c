"""Usermaven-compatible collector routes (api.md, "Routes and auth, per surface").

The browser SDK posts to ``/api/v1/event?token=WRITE_KEY`` or, randomized, to
``/api.xxxxx?p_xxxxx=WRITE_KEY``; a tracking host configured with a trailing slash
doubles the leading slash (``//api/v1/event``). Servers post to
``/api/v1/s2s/event[/]?token=WRITE_KEY.SECRET_KEY``. Every accepted request, invalid
events included (they go to the quarantine), is answered exactly ``200 {"status":"ok"}``:
the legacy SDK treats anything else as a failure and fails over to Usermaven's cloud.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from threadline.collector.formats import usermaven
from threadline.collector.formats.common import InvalidMessage
from threadline.collector.http import JSONResponse, bearer_token, parse_json, read_body
from threadline.errors import bad_request, not_found, unauthorized
from threadline.model import Source
from threadline.services import Services, services_of
from threadline.storage.duckdb_store import now_us

OK = {"status": "ok"}
RANDOM_PATH = re.compile(r"^[A-Za-z0-9]{1,32}$")
# Paths whose doubled leading slash is the SDK's doing, not a different resource.
DOUBLED = re.compile(r"^//+(api/v1/event|api/v1/s2s/event|api\.[A-Za-z0-9]+$)")


def browser_key(request: Request) -> str | None:
    """The write key: ``token``, else any ``p_*`` query parameter, else ``X-Auth-Token``."""
    query = request.query_params
    key = query.get("token")
    if not key:
        key = next((v for k, v in query.items() if k.startswith("p_") and v), None)
    return key or request.headers.get("x-auth-token") or None


def server_keys(request: Request) -> tuple[str, str] | None:
    """``WRITE_KEY.SECRET_KEY`` from ``token``, ``X-Auth-Token`` or a Bearer header."""
    token = (request.query_params.get("token") or request.headers.get("x-auth-token")
             or bearer_token(request) or "")
    key, dot, secret = token.partition(".")
    if not dot or not key or not secret:
        return None
    return key, secret


def _s2s_project(svc: Services, request: Request) -> str:
    """Both halves of the token must be valid keys, of the right kinds, of one project."""
    keys = server_keys(request)
    if keys is None:
        raise unauthorized("token must be WRITE_KEY.SECRET_KEY")
    write, secret = (svc.store.auth(k) for k in keys)
    if (write is None or secret is None or write.kind != "write" or secret.kind != "secret"
            or write.project_id != secret.project_id):
        raise unauthorized("token must be the write key and the secret key of one project")
    return write.project_id


async def _ingest(request: Request, svc: Services, project_id: str, source: Source) -> JSONResponse:
    received = now_us()
    body = await read_body(request, svc.settings.usermaven_request_limit)
    data = parse_json(body)
    info = svc.request_info(request, project_id, received, svc.settings.usermaven_message_limit, len(body))
    try:
        parsed = usermaven.parse_request(data, info, source, usermaven.Policies.of(request.query_params))
    except InvalidMessage as exc:
        raise bad_request(exc.reason, "invalid_body") from None
    await svc.ingestor.submit(project_id, parsed, received, source)
    return JSONResponse(OK)


async def browser_event(request: Request) -> JSONResponse:
    """``POST /api/v1/event`` and ``/api.xxxxx``: the browser SDK's events."""
    rand = request.path_params.get("rand")
    if rand is not None and not RANDOM_PATH.match(rand):
        raise not_found(f"no route {request.url.path}")
    svc = services_of(request)
    project_id = svc.auth(browser_key(request)).project_id
    return await _ingest(request, svc, project_id, Source.USERMAVEN_BROWSER)


async def server_event(request: Request) -> JSONResponse:
    """``POST /api/v1/s2s/event[/]``: server-to-server events (Python SDK, HTTP API)."""
    svc = services_of(request)
    return await _ingest(request, svc, _s2s_project(svc, request), Source.USERMAVEN_S2S)


def routes() -> list[BaseRoute]:
    """Mount before the query API: ``/api/v1/event`` lives under its prefix."""
    return [
        Route("/api/v1/event", browser_event, methods=["POST"]),
        Route("/api.{rand}", browser_event, methods=["POST"]),
        Route("/api/v1/s2s/event", server_event, methods=["POST"]),
        Route("/api/v1/s2s/event/", server_event, methods=["POST"]),
    ]


class DoubledSlash:
    """Collapse the doubled leading slash of Usermaven paths (``//api/v1/event``).

    uvicorn hands the path over as sent and Starlette's router matches it literally,
    so without this the SDK's trailing-slash host would get 404s.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("//") and DOUBLED.match(path):
                clean = "/" + path.lstrip("/")
                raw: Any = scope.get("raw_path")
                scope = {**scope, "path": clean,
                         "raw_path": b"/" + raw.lstrip(b"/") if isinstance(raw, bytes) else raw}
        await self.app(scope, receive, send)
