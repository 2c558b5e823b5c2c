"""The query API's routes (api.md, Query API), all under ``/api/v1/``.

Read endpoints are plain functions: Starlette runs them in its thread pool, where
each thread has its own DuckDB read cursor (``store.read()``), so reads never wait
for the writer and never block the event loop. Writes (merge, split, erase,
settings, keys) live in ``admin``; the live stream in ``live``.

Mounted after the collector routes: ``/api/v1/event`` and ``/api/v1/s2s/event``
(Usermaven) must be matched first, so nothing here is a catch-all.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from threadline.collector.http import JSONResponse
from threadline.errors import not_found
from threadline.model import Kind
from threadline.query import admin, companies, events, explain, funnel, insights, live, persons
from threadline.query.auth import secret_project
from threadline.query.openapi import document
from threadline.query.pagination import answer, page_request
from threadline.query.params import (
    choice,
    duration,
    flag,
    invalid,
    parse_time,
    text,
    time_range,
    timezone,
)
from threadline.query.quarantine import QUARANTINE_CURSOR, list_quarantine
from threadline.query.stats import ingest_stats
from threadline.query.web import json_body, person_ref, read_context, set_once
from threadline.services import services_of

# ---- persons ---------------------------------------------------------------------------


def list_persons(request: Request) -> JSONResponse:
    """``GET /api/v1/persons?search=&cursor=&limit=``: newest activity first."""
    project, cur = read_context(request)
    q = request.query_params
    req = page_request(q, persons.PERSONS_CURSOR)
    data, cursor = persons.list_persons(cur, project, req, set_once(request, project),
                                        search=text(q, "search"))
    return JSONResponse(answer(data, cursor))


def lookup_person(request: Request) -> JSONResponse:
    """``GET /api/v1/persons/lookup?anonymous_id=`` or ``?user_id=``: the holder."""
    project, cur = read_context(request)
    q = request.query_params
    anon, user = text(q, "anonymous_id"), text(q, "user_id")
    if (anon is None) == (user is None):
        raise invalid("anonymous_id", "give exactly one of anonymous_id or user_id")
    kind, value = (Kind.ANONYMOUS, anon) if anon is not None else (Kind.USER, user)
    assert value is not None
    ref = persons.lookup(cur, project, kind.value, value)
    found = persons.person(cur, project, ref, set_once(request, project)) if ref else None
    if found is None:
        raise not_found(f"no person holds {kind.value} id {value!r}")
    return JSONResponse(found)


def get_person(request: Request) -> JSONResponse:
    """``GET /api/v1/persons/{id}``: a live person, or the one now holding a merged-away id."""
    project, cur = read_context(request)
    ref = person_ref(cur, project, request.path_params["person_id"])
    found = persons.person(cur, project, ref, set_once(request, project))
    if found is None:
        raise not_found(f"no person {request.path_params['person_id']}")
    return JSONResponse(found)


def person_events(request: Request) -> JSONResponse:
    """``GET /api/v1/persons/{id}/events``: the timeline, oldest first."""
    project, cur = read_context(request)
    req = page_request(request.query_params, persons.TIMELINE_CURSOR)
    ref = person_ref(cur, project, request.path_params["person_id"])
    data, cursor = persons.timeline(cur, project, ref, req)
    return JSONResponse(answer(data, cursor))


def person_explain(request: Request) -> JSONResponse:
    """``GET /api/v1/persons/{id}/explain``: links, conflicts, blocks."""
    project, cur = read_context(request)
    ref = person_ref(cur, project, request.path_params["person_id"])
    return JSONResponse(explain.explain(cur, project, ref))


# ---- companies -------------------------------------------------------------------------


def list_companies(request: Request) -> JSONResponse:
    """``GET /api/v1/companies?search=&cursor=&limit=``: most recently active first."""
    project, cur = read_context(request)
    q = request.query_params
    req = page_request(q, companies.COMPANIES_CURSOR)
    data, cursor = companies.list_companies(cur, project, req, search=text(q, "search"))
    return JSONResponse(answer(data, cursor))


def _company_or_404(cur: Any, project: str, company_id: str) -> dict[str, Any]:
    found = companies.company(cur, project, company_id)
    if found is None:
        raise not_found(f"no company {company_id}")
    return found


def get_company(request: Request) -> JSONResponse:
    """``GET /api/v1/companies/{id}``."""
    project, cur = read_context(request)
    return JSONResponse(_company_or_404(cur, project, request.path_params["company_id"]))


def company_persons(request: Request) -> JSONResponse:
    """``GET /api/v1/companies/{id}/persons``: members, earliest membership first."""
    project, cur = read_context(request)
    req = page_request(request.query_params, companies.MEMBERS_CURSOR)
    cid = request.path_params["company_id"]
    _company_or_404(cur, project, cid)
    data, cursor = companies.members(cur, project, cid, req, set_once(request, project))
    return JSONResponse(answer(data, cursor))


def company_events(request: Request) -> JSONResponse:
    """``GET /api/v1/companies/{id}/events``: the company timeline, oldest first."""
    project, cur = read_context(request)
    req = page_request(request.query_params, companies.TIMELINE_CURSOR)
    cid = request.path_params["company_id"]
    _company_or_404(cur, project, cid)
    data, cursor = companies.timeline(cur, project, cid, req)
    return JSONResponse(answer(data, cursor))


# ---- events, quarantine, stats ---------------------------------------------------------


def list_events(request: Request) -> JSONResponse:
    """``GET /api/v1/events?type=&event=&from=&to=``: newest first, with persons."""
    project, cur = read_context(request)
    q = request.query_params
    req = page_request(q, events.EVENTS_CURSOR)
    start, end = time_range(q)
    data, cursor = events.list_events(
        cur, project, req, type_=text(q, "type"), event=text(q, "event"), start=start, end=end,
        include_hidden=flag(q, "include_hidden"))
    return JSONResponse(answer(data, cursor))


def quarantine(request: Request) -> JSONResponse:
    """``GET /api/v1/quarantine?from=&to=&code=``: refused messages, newest first."""
    project, cur = read_context(request)
    q = request.query_params
    req = page_request(q, QUARANTINE_CURSOR)
    start, end = time_range(q)
    data, cursor = list_quarantine(cur, project, req, start=start, end=end, code=text(q, "code"))
    return JSONResponse(answer(data, cursor))


def _day(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise invalid(field, f"{value!r} is not a date (YYYY-MM-DD)") from None
    us = parse_time(value, field)
    return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=us)).date()


def stats(request: Request) -> JSONResponse:
    """``GET /api/v1/ingest/stats?from=&to=``: counts per UTC day (days inclusive)."""
    project, cur = read_context(request)
    q = request.query_params
    start, end = _day(q.get("from"), "from"), _day(q.get("to"), "to")
    if start and end and end < start:
        raise invalid("to", "must not be before from")
    services_of(request).store.flush_stats()  # counters are written at most once a second
    return JSONResponse({"data": ingest_stats(cur, project, start, end)})


# ---- insights --------------------------------------------------------------------------


def unique_persons(request: Request) -> JSONResponse:
    """``GET /api/v1/insights/unique-persons?from=&to=&interval=&tz=&event=&type=``."""
    project, cur = read_context(request)
    q = request.query_params
    interval = choice(q, "interval", insights.INTERVALS, "day")
    tz_name, tz = timezone(q)
    start, end = time_range(q, tz, default_days=30)
    assert start is not None and end is not None
    return JSONResponse(insights.unique_persons(
        cur, project, start, end, interval, tz_name, tz, event=text(q, "event"), type_=text(q, "type")))


async def run_funnel(request: Request) -> JSONResponse:
    """``POST /api/v1/insights/funnel``: counts per step, by person or company."""
    project = secret_project(request)
    body = await json_body(request)
    steps = funnel.parse_steps(body.get("steps"))
    window = duration(body.get("window", "P7D"), "window")
    by = choice(body, "by", ("person", "company"), "person")
    _tz_name, tz = timezone(body)
    start, end = time_range(body, tz, default_days=30)
    assert start is not None and end is not None
    store = services_of(request).store

    def run() -> dict[str, Any]:
        return funnel.funnel(store.read(), project, steps, start, end, window, by)

    return JSONResponse(await run_in_threadpool(run))


def openapi(request: Request) -> JSONResponse:
    """``GET /api/v1/openapi.json``: public, like any API reference."""
    return JSONResponse(document())


def routes() -> list[BaseRoute]:
    """Every query-API route; append after the collector routes."""
    p = "/api/v1"
    return [
        Route(f"{p}/openapi.json", openapi, methods=["GET"]),
        Route(f"{p}/persons", list_persons, methods=["GET"]),
        Route(f"{p}/persons/lookup", lookup_person, methods=["GET"]),
        Route(f"{p}/persons/merge", admin.merge, methods=["POST"]),
        Route(f"{p}/persons/{{person_id}}", get_person, methods=["GET"]),
        Route(f"{p}/persons/{{person_id}}", admin.erase, methods=["DELETE"]),
        Route(f"{p}/persons/{{person_id}}/events", person_events, methods=["GET"]),
        Route(f"{p}/persons/{{person_id}}/explain", person_explain, methods=["GET"]),
        Route(f"{p}/persons/{{person_id}}/split", admin.split, methods=["POST"]),
        Route(f"{p}/companies", list_companies, methods=["GET"]),
        Route(f"{p}/companies/{{company_id}}", get_company, methods=["GET"]),
        Route(f"{p}/companies/{{company_id}}/persons", company_persons, methods=["GET"]),
        Route(f"{p}/companies/{{company_id}}/events", company_events, methods=["GET"]),
        Route(f"{p}/events", list_events, methods=["GET"]),
        Route(f"{p}/events/stream", live.stream, methods=["GET"]),
        Route(f"{p}/insights/unique-persons", unique_persons, methods=["GET"]),
        Route(f"{p}/insights/funnel", run_funnel, methods=["POST"]),
        Route(f"{p}/quarantine", quarantine, methods=["GET"]),
        Route(f"{p}/ingest/stats", stats, methods=["GET"]),
        Route(f"{p}/projects/current", admin.current_project, methods=["GET"]),
        Route(f"{p}/projects/current/settings", admin.update_settings, methods=["PATCH"]),
        Route(f"{p}/keys/rotate", admin.rotate_keys, methods=["POST"]),
    ]
