"""Moesif-compatible collector routes (api.md, "Routes and auth, per surface").

Authenticated by ``X-Moesif-Application-Id`` carrying a project write or secret key.
Accepted requests answer ``201 {}``; an invalid item of a batch is quarantined and the
rest stored (still 201), the one item of a single route 422. ``/v1/config`` and
``/v1/rules`` answer what keeps the middlewares from sampling or governing.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from threadline.collector.formats import moesif
from threadline.collector.formats.common import InvalidMessage, stored_ip
from threadline.collector.http import JSONResponse, parse_json, read_body
from threadline.collector.moesif_browser import (
    CLIENT_WINDOW_S,
    WINDOW_S,
    BrowserMemory,
    Identified,
    link_companies,
    place_actions,
    sessions_of,
)
from threadline.collector.request_info import RequestInfo
from threadline.errors import HTTPError, bad_request
from threadline.model import Parsed, Source
from threadline.query.browser_identity import last_browser_identify
from threadline.services import services_of
from threadline.storage.duckdb_store import now_us

# One ETag on /v1/config and on event answers: moesifwsgi refetches the config after
# every batch whose ETag differs from the config's (moesif.md §3.5).
CONFIG_ETAG = "threadline-1"
CONFIG = {"sample_rate": 100, "user_sample_rate": {}, "company_sample_rate": {},
          "regex_config": [], "user_rules": {}, "company_rules": {}}
ETAG_HEADERS = {"X-Moesif-Config-ETag": CONFIG_ETAG}


def source_of(request: Request) -> Source:
    """browser-js marks its requests with ``X-Moesif-SDK``; everything else is a server."""
    return Source.MOESIF_BROWSER if request.headers.get("x-moesif-sdk") else Source.MOESIF_API


def _project(request: Request) -> str:
    svc = services_of(request)
    return svc.auth(request.headers.get("x-moesif-application-id")).project_id


def endpoint(parse_one: moesif.Parser, batch: bool, name: str) -> Any:
    """A POST route for one kind of payload, single or batch."""

    async def handle(request: Request) -> JSONResponse:
        svc = services_of(request)
        received = now_us()
        project_id = _project(request)
        body = await read_body(request, svc.settings.moesif_request_limit)
        data = parse_json(body)
        info = svc.request_info(request, project_id, received, svc.settings.moesif_message_limit, len(body))
        source = source_of(request)
        try:
            parsed = moesif.parse_many(data, info, source, parse_one, batch)
        except InvalidMessage as exc:
            raise bad_request(exc.reason, "invalid_body") from None
        if source == Source.MOESIF_BROWSER:
            parsed = await _browser_hints(request, name, info, data, parsed)
        await svc.ingestor.submit(project_id, parsed, received, source)
        if not batch and parsed.rejected:
            rej = parsed.rejected[0]
            raise HTTPError(422, "invalid_message", rej.reason, {"code": rej.code})
        return JSONResponse({}, status_code=201, headers=ETAG_HEADERS)

    handle.__name__ = name
    handle.__doc__ = f"``POST`` Moesif {name.replace('_', ' ')}."
    return handle


async def _browser_hints(request: Request, name: str, info: RequestInfo, data: Any, parsed: Parsed) -> Parsed:
    """What browser-js leaves out, filled in from the same browser's recent identify:
    the member of an identifyCompany, the place of time-less batched actions."""
    memory: BrowserMemory | None = getattr(request.app.state, "moesif_browsers", None)
    if memory is None:
        memory = request.app.state.moesif_browsers = BrowserMemory()
    project_id, client = info.project_id, (info.ip, info.user_agent)
    kind = name.removesuffix("_batch")
    if kind == "users":
        memory.note(project_id, client, parsed, sessions_of(data, parsed))
    elif kind == "companies":
        store = services_of(request).store
        since = info.received_at_us - int(WINDOW_S * 1_000_000)
        client_since = info.received_at_us - int(CLIENT_WINDOW_S * 1_000_000)

        def stored(session: str | None) -> Identified | None:
            found = last_browser_identify(store.read(), project_id, session=session,
                                          ip=stored_ip(info.ip, info), user_agent=info.user_agent,
                                          since_us=since, client_since_us=client_since)
            return Identified(found[0], found[1], found[2], 0.0) if found else None

        parsed = await run_in_threadpool(link_companies, memory, project_id, client, parsed,
                                         sessions_of(data, parsed), stored)
    elif name == "actions_batch":  # only batched actions arrive later than they happened
        parsed = place_actions(memory, project_id, parsed)
    return parsed


async def config(request: Request) -> JSONResponse:
    """``GET /v1/config``: sample everything, no per-user rates, no regex rules."""
    _project(request)
    return JSONResponse(CONFIG, headers=ETAG_HEADERS)


async def rules(request: Request) -> JSONResponse:
    """``GET /v1/rules``: no governance rules (the middlewares then skip their hooks)."""
    _project(request)
    return JSONResponse([])


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for path, parse_one in (("events", moesif.parse_event), ("users", moesif.parse_user),
                            ("companies", moesif.parse_company), ("actions", moesif.parse_action)):
        out.append(Route(f"/v1/{path}", endpoint(parse_one, False, path), methods=["POST"]))
        out.append(Route(f"/v1/{path}/batch", endpoint(parse_one, True, f"{path}_batch"),
                         methods=["POST"]))
    out += [Route("/v1/config", config, methods=["GET"]), Route("/v1/rules", rules, methods=["GET"])]
    return out
