"""Query-API writes: manual merge, split, erase, and the project administration the
CLI needs while a server holds the store (current project, settings, key rotation).

Each write is one writer job that blocks until committed, so it runs in the thread
pool; the answer is read back afterwards from the committed state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from threadline.collector.http import JSONResponse
from threadline.errors import StoreError, not_found, store_unavailable
from threadline.model import Identifier, Kind
from threadline.projects import SettingError
from threadline.query import persons
from threadline.query.auth import secret_project
from threadline.query.params import invalid
from threadline.query.serialize import iso_naive
from threadline.query.web import json_body
from threadline.services import services_of

T = TypeVar("T")
MAX_MERGE = 100
MAX_SPLIT = 10_000


async def _write(fn: Callable[[], T]) -> T:
    """Run a blocking store write off the event loop; a failing store is a 503."""
    try:
        return await run_in_threadpool(fn)
    except StoreError as exc:
        raise store_unavailable(str(exc)) from exc


def _person_json(request: Request, project: str, person_ids: list[str]) -> list[dict[str, Any]]:
    """The persons now answering to ``person_ids``, once each, in order."""
    store = services_of(request).store
    cur = store.read()
    refs: list[persons.PersonRef] = []
    for pid in person_ids:
        ref = persons.resolve(cur, project, pid)
        if ref is not None and ref not in refs:
            refs.append(ref)
    found = persons.persons(cur, project, [r.iid for r in refs], store.settings(project).set_once)
    return [found[r.iid] for r in refs if r.iid in found]


async def merge(request: Request) -> JSONResponse:
    """``POST /api/v1/persons/merge {"person_ids": [a, b, ...]}``: the merged person."""
    project = secret_project(request)
    body = await json_body(request)
    ids = body.get("person_ids")
    if (not isinstance(ids, list) or not 2 <= len(ids) <= MAX_MERGE
            or not all(isinstance(i, str) and i for i in ids)):
        raise invalid("person_ids", f"must be an array of 2 to {MAX_MERGE} person ids")
    store = services_of(request).store
    merged = await _write(lambda: store.merge_persons(project, ids))
    found = await run_in_threadpool(_person_json, request, project, [merged])
    if not found:
        raise not_found(f"no person {merged}")
    return JSONResponse(found[0])


def _identifiers(raw: Any) -> list[Identifier]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_SPLIT:
        raise invalid("identifiers", 'must be a non-empty array of {"kind", "value"} objects')
    out = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"kind", "value"}:
            raise invalid(f"identifiers[{n}]", 'must be an object with "kind" and "value"')
        kind, value = item.get("kind"), item.get("value")
        if kind not in (Kind.ANONYMOUS.value, Kind.USER.value):
            raise invalid(f"identifiers[{n}].kind", "must be anonymous or user")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise invalid(f"identifiers[{n}].value", "must be a non-empty string")
        out.append(Identifier(kind, value))
    return out


async def split(request: Request) -> JSONResponse:
    """``POST /api/v1/persons/{id}/split {"identifiers": [...]}``: ``{"data": [persons]}``."""
    project = secret_project(request)
    body = await json_body(request)
    idents = _identifiers(body.get("identifiers"))
    store = services_of(request).store
    pid = request.path_params["person_id"]
    result = await _write(lambda: store.split_person(project, pid, idents))
    found = await run_in_threadpool(_person_json, request, project, result)
    return JSONResponse({"data": found, "next_cursor": None})


async def erase(request: Request) -> JSONResponse:
    """``DELETE /api/v1/persons/{id}``: erase and suppress; the rows removed."""
    project = secret_project(request)
    store = services_of(request).store
    pid = request.path_params["person_id"]
    counts = await _write(lambda: store.erase_person(project, pid))
    return JSONResponse(counts)


# ---- project administration -----------------------------------------------------------------


def _key_json(row: dict[str, Any]) -> dict[str, Any]:
    # The store keeps hashes: every key is shown by its prefix ("key" stays, always null).
    return {
        "kind": row["kind"],
        "key": None,
        "prefix": row["prefix"],
        "created_at": iso_naive(row["created_at"]),
        "expires_at": iso_naive(row["expires_at"]),
    }


def _project_json(request: Request, project: str) -> dict[str, Any]:
    store = services_of(request).store
    info = next((p for p in store.projects() if p["id"] == project), None)
    if info is None:
        raise not_found(f"no project {project}")
    return {
        "id": info["id"],
        "name": info["name"],
        "created_at": iso_naive(info["created_at"]),
        "settings": store.settings(project).to_json(),
        "keys": [_key_json(k) for k in store.keys_of(project)],
    }


def current_project(request: Request) -> JSONResponse:
    """``GET /api/v1/projects/current``: the key's project, settings and keys."""
    project = secret_project(request)
    return JSONResponse(_project_json(request, project))


def _setting_text(name: str, value: Any) -> str:
    """A JSON setting value as the command-line text ``set_setting`` takes."""
    if value is None:
        return "none" if name == "retention_days" else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        if any("," in str(v) for v in value):
            raise invalid(name, "list values cannot contain commas")
        return ",".join(str(v) for v in value)
    raise invalid(name, "must be a string, number, boolean, null or a list of strings")


async def update_settings(request: Request) -> JSONResponse:
    """``PATCH /api/v1/projects/current/settings {"name": value, ...}``: the project.
    One transaction: every setting changes, or (422 naming the first invalid one) none."""
    project = secret_project(request)
    body = await json_body(request)
    if not body:
        raise invalid("settings", "name at least one setting")
    store = services_of(request).store
    changes = {name: _setting_text(name, value) for name, value in body.items()}
    try:
        store.settings(project).with_values(changes)  # a 422 before queueing a write
        await _write(lambda: store.update_settings(project, changes))
    except SettingError as exc:
        raise invalid(exc.name, str(exc)) from None
    return JSONResponse(await run_in_threadpool(_project_json, request, project))


async def rotate_keys(request: Request) -> JSONResponse:
    """``POST /api/v1/keys/rotate``: new keys; the old ones stay valid for the grace period
    (keys fixed by THREADLINE_WRITE_KEY/SECRET_KEY are left alone)."""
    project = secret_project(request)
    svc = services_of(request)
    keys = await _write(lambda: svc.store.rotate_keys(project, fixed=svc.fixed_keys))
    return JSONResponse({**keys, "grace_hours": svc.store.key_grace_hours})

