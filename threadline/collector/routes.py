"""Native collector routes: ``/v1/batch`` and the single-message endpoints (api.md),
with the batch paths other Segment-spec clients post to: analytics.js's ``/v1/b``
(batching delivery) and RudderStack JS's ``/beacon/v1/batch?writeKey=...`` (beacons).

Error answers of these routes carry ``code`` and ``message`` at the top level beside the
usual ``{"error": {...}}``: the Segment and RudderStack Python clients read
``payload["code"]`` and ``payload["message"]`` there, and crash in their error handler
(retrying a 401 eleven times) when they are missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from threadline.collector import import_lines, segment_paths
from threadline.collector.formats import segment
from threadline.collector.formats.common import InvalidMessage
from threadline.collector.http import JSONResponse, basic_user, parse_json, read_body
from threadline.collector.ingest import rejected_answer
from threadline.errors import HTTPError, bad_request
from threadline.model import Parsed, Rejected, Source
from threadline.projects import KeyInfo
from threadline.services import Services, services_of
from threadline.storage.duckdb_store import now_us

Endpoint = Callable[[Request], Awaitable[JSONResponse]]


def error_answer(exc: HTTPError) -> JSONResponse:
    """An error as the Segment-compatible routes answer it: api.md's ``{"error": {...}}``
    and the same ``code`` and ``message`` at the top level, where Segment's clients look."""
    return JSONResponse({"code": exc.code, "message": exc.message, **exc.body()},
                        status_code=exc.status, headers=exc.headers)


def segment_errors(handler: Endpoint) -> Endpoint:
    """``handler`` with its HTTP errors answered by :func:`error_answer`."""

    async def endpoint(request: Request) -> JSONResponse:
        try:
            return await handler(request)
        except HTTPError as exc:
            return error_answer(exc)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _key(request: Request, data: Any) -> str | None:
    # Beacons (RudderStack JS) cannot set headers: their key is in the query string.
    key = basic_user(request) or request.query_params.get("writeKey") or None
    if key is None and isinstance(data, dict):
        wk = data.get("writeKey")
        key = wk if isinstance(wk, str) else None
    return key


async def _read(request: Request, svc: Services) -> tuple[Any, KeyInfo, int]:
    body = await read_body(request, svc.settings.native_request_limit)
    data = parse_json(body)
    return data, svc.auth(_key(request, data)), len(body)


def _answer(result: Any) -> JSONResponse:
    return JSONResponse({"accepted": result.accepted, "duplicates": result.duplicates, **rejected_answer(result)})


async def batch(request: Request) -> JSONResponse:
    """``POST /v1/batch`` (also ``/v1/b`` and ``/beacon/v1/batch``): valid messages stored,
    invalid ones answered and quarantined."""
    svc = services_of(request)
    received = now_us()
    data, key, size = await _read(request, svc)
    project_id = key.project_id
    info = svc.request_info(request, project_id, received, svc.settings.native_message_limit, size)
    try:
        parsed = segment.parse_batch(data, info)
    except InvalidMessage as exc:
        raise bad_request(exc.reason, "invalid_body") from None
    # Only ``threadline import`` (a secret key) may file its rejects under line numbers:
    # the public write key must not relabel what it sends as an import.
    lines = (import_lines.line_numbers(request.headers, len(data["batch"]))
             if key.kind == "secret" else None)
    if lines is not None:  # ``threadline import``: rejects are named by their file line
        parsed = import_lines.by_line(parsed, lines)
    result = await svc.ingestor.submit(project_id, parsed, received,
                                       Source.NATIVE if lines is None else Source.IMPORT)
    return _answer(result)


def single(type_: str) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        svc = services_of(request)
        received = now_us()
        data, key, size = await _read(request, svc)
        project_id = key.project_id
        if not isinstance(data, dict):
            raise bad_request("the body must be a JSON object", "invalid_body")
        info = svc.request_info(request, project_id, received, svc.settings.native_message_limit, size)
        try:
            msg = segment.parse_single(data, info, type_)
        except InvalidMessage as exc:
            await svc.ingestor.submit(
                project_id, Parsed([], [Rejected(0, exc.code, exc.reason, segment.scrub(data))]), received,
                Source.NATIVE,
            )
            raise HTTPError(422, "invalid_message", exc.reason, {"code": exc.code}) from None
        result = await svc.ingestor.submit(project_id, Parsed([msg], []), received, Source.NATIVE)
        return _answer(result)

    endpoint.__name__ = f"single_{type_}"
    endpoint.__doc__ = f"``POST /v1/{type_}``: one {type_} message."
    return endpoint


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = [Route(path, segment_errors(batch), methods=["POST"]) for path in segment_paths.BATCH]
    for short, type_ in segment.SHORT_TYPES.items():
        handler = segment_errors(single(type_))
        out.append(Route(f"/v1/{type_}", handler, methods=["POST"]))
        out.append(Route(f"/v1/{short}", handler, methods=["POST"]))
    return out
