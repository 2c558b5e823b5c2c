"""Request helpers the query routes share: the project and read cursor of a request,
JSON bodies, and persons looked up or answered 404."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from threadline.collector.http import parse_json, read_body
from threadline.errors import bad_request, not_found
from threadline.query import persons
from threadline.query.auth import secret_project
from threadline.services import services_of

BODY_LIMIT = 1024 * 1024


def read_context(request: Request) -> tuple[str, Any]:
    """The request's project (from its secret key) and this thread's read cursor."""
    project = secret_project(request)
    return project, services_of(request).store.read()


def set_once(request: Request, project: str) -> tuple[str, ...]:
    """The project's set-once trait keys."""
    return services_of(request).store.settings(project).set_once


def person_ref(cur: Any, project: str, person_id: str) -> persons.PersonRef:
    """The person answering to ``person_id`` or 404."""
    ref = persons.resolve(cur, project, person_id)
    if ref is None:
        raise not_found(f"no person {person_id}")
    return ref


async def json_body(request: Request) -> dict[str, Any]:
    """A JSON object body: 400 ``invalid_json`` when not JSON, 400 ``invalid_body`` when
    not an object, 413 over 1 MB."""
    data = parse_json(await read_body(request, BODY_LIMIT))
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object", "invalid_body")
    return data
