"""Every ingest route as a table, for tests that send the same kind of bad input to all
of them in-process (httpx over the ASGI app): how a good item looks, how a batch is
posted, what each route answers, and how to tell that an item was stored."""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette

from tests.conftest import SECRET_KEY, WRITE_KEY
from threadline.app import create_app
from threadline.settings import Settings

# Numbers JSON can carry that no encoder writes from Python (orjson reads them as floats):
# a placeholder in the item is replaced by the raw digits in the request body.
RAW = {"__BIG__": b"99999999999999999999", "__U64__": b"18446744073709551615"}


def deep(levels: int) -> str:
    """A placeholder for a value ``levels`` objects deep, written into the body as raw
    JSON by :func:`body_bytes` (orjson encodes no more than 254 levels)."""
    return f"__NEST_{levels}__"


def nest(levels: int) -> Any:
    """A value ``levels`` objects deep: ``nest(1) == {}``, ``nest(2) == {"a": {}}``."""
    value: Any = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def depth(value: Any) -> int:
    """Containers deep: a scalar is 0, ``{}`` is 1 (iterative: values may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, d)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def with_field(item: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``item`` with the field at ``path`` set to ``value`` (intermediate blocks
    made objects when they are missing)."""
    out = copy.deepcopy(item)
    block = out
    for key in path[:-1]:
        if not isinstance(block.get(key), dict):
            block[key] = {}
        block = block[key]
    block[path[-1]] = value
    return out


def body_bytes(value: Any) -> bytes:
    """``value`` as a JSON body, with the placeholders of :data:`RAW` and :func:`deep`
    replaced by their raw JSON."""
    data = orjson.dumps(value)
    for placeholder, raw in RAW.items():
        data = data.replace(b'"' + placeholder.encode() + b'"', raw)
    return re.sub(rb'"__NEST_(\d+)__"', lambda m: _nested_text(int(m.group(1))), data)


def _nested_text(levels: int) -> bytes:
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


@dataclass(frozen=True)
class Surface:
    """One ingest route."""

    name: str
    path: str
    headers: dict[str, str]
    good: Callable[[str], dict[str, Any]]  # a valid item marked with a unique string
    batch: bool  # the body is a list of items (or {"batch": [...]} on the native route)
    ok_status: int
    time_fields: tuple[tuple[str, ...], ...]
    # A top-level field stored as a JSON document (its nesting counts toward the limit).
    doc_field: str
    # How the stored item is found: an event id, event name, user id or company id.
    find: str = "id"

    def body(self, items: list[dict[str, Any]]) -> bytes:
        if not self.batch:
            assert len(items) == 1
            return body_bytes(items[0])
        return body_bytes({"batch": items} if self.path == "/v1/batch" else items)


NATIVE_AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
MOESIF = {"X-Moesif-Application-Id": WRITE_KEY}


def native(marker: str) -> dict[str, Any]:
    return {"type": "track", "event": "Bad Input", "userId": "bi-user", "messageId": marker,
            "timestamp": "2026-11-22T10:00:00Z", "properties": {"k": 1}}


def usermaven(marker: str) -> dict[str, Any]:
    return {"event_id": marker, "event_type": "clicked", "user": {"anonymous_id": "bi-anon", "id": "bi-um"},
            "utc_time": "2026-11-22T10:00:00.000Z", "src": "usermaven", "url": "http://shop.test/p",
            "event_attributes": {"k": 1}}


def moesif_event(marker: str) -> dict[str, Any]:
    return {"request": {"time": "2026-11-22T15:39:03.085", "uri": "http://api.test/items/1", "verb": "GET",
                        "headers": {"user-agent": "curl/8"}, "ip_address": "1.2.3.4"},
            "response": {"time": "2026-11-22T15:39:03.100", "status": 200, "headers": {}},
            "user_id": "bi-moesif", "transaction_id": marker, "metadata": {"k": 1}}


def moesif_user(marker: str) -> dict[str, Any]:
    return {"user_id": marker, "modified_time": "2026-11-22T15:39:03.085", "metadata": {"plan": "pro"}}


def moesif_company(marker: str) -> dict[str, Any]:
    return {"company_id": marker, "modified_time": "2026-11-22T15:39:03.085", "metadata": {"plan": "pro"}}


def moesif_action(marker: str) -> dict[str, Any]:
    return {"action_name": marker, "user_id": "bi-moesif", "metadata": {"k": 1},
            "request": {"time": "2026-11-22T15:39:03.085", "uri": "http://shop.test/p"}}


def _surfaces() -> list[Surface]:
    out = [
        Surface("native-batch", "/v1/batch", NATIVE_AUTH, native, True, 200,
                (("timestamp",), ("sentAt",)), "properties"),
        Surface("native-track", "/v1/track", NATIVE_AUTH, native, False, 200,
                (("timestamp",), ("sentAt",)), "properties"),
        Surface("usermaven-browser", f"/api/v1/event?token={WRITE_KEY}", {}, usermaven, True, 200,
                (("utc_time",),), "event_attributes"),
        Surface("usermaven-s2s", f"/api/v1/s2s/event?token={WRITE_KEY}.{SECRET_KEY}", {}, usermaven, True, 200,
                (("utc_time",),), "event_attributes"),
    ]
    moesif = (("events", moesif_event, (("request", "time"), ("response", "time")), "id"),
              ("users", moesif_user, (("modified_time",),), "user"),
              ("companies", moesif_company, (("modified_time",),), "company"),
              ("actions", moesif_action, (("request", "time"),), "event"))
    for kind, good, times, find in moesif:
        out.append(Surface(f"moesif-{kind}-batch", f"/v1/{kind}/batch", MOESIF, good, True, 201, times,
                           "metadata", find))
        out.append(Surface(f"moesif-{kind}", f"/v1/{kind}", MOESIF, good, False, 201, times, "metadata", find))
    return out


SURFACES = _surfaces()
BATCHES = [s for s in SURFACES if s.batch]
SINGLES = [s for s in SURFACES if not s.batch]


@asynccontextmanager
async def running_app(data_dir: Path, **settings: Any) -> AsyncIterator[Starlette]:
    """The application on a fresh data directory (fixed keys), its store closed after."""
    application = create_app(Settings(data_dir=data_dir, write_key=WRITE_KEY, secret_key=SECRET_KEY, **settings))
    try:
        yield application
    finally:
        application.state.services.store.close()


def client(app: Starlette) -> httpx.AsyncClient:
    """An in-process client that answers a server error as a 500 instead of raising it."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://test")


async def post(c: httpx.AsyncClient, surface: Surface, items: list[dict[str, Any]]) -> httpx.Response:
    return await c.post(surface.path, content=surface.body(items),
                        headers={"content-type": "application/json", **surface.headers})


QUERY = {"Authorization": f"Bearer {SECRET_KEY}"}


async def is_stored(c: httpx.AsyncClient, surface: Surface, marker: str) -> bool:
    """Whether the item marked ``marker`` was stored (as the query API shows it)."""
    if surface.find == "user":
        r = await c.get("/api/v1/persons/lookup", params={"user_id": marker}, headers=QUERY)
        return r.status_code == 200
    if surface.find == "company":
        r = await c.get(f"/api/v1/companies/{marker}", headers=QUERY)
        return r.status_code == 200
    params = {"limit": "1000", "include_hidden": "true"}
    if surface.find == "event":
        params["event"] = marker
    r = await c.get("/api/v1/events", params=params, headers=QUERY)
    assert r.status_code == 200, r.text
    events = r.json()["data"]
    return any(e["id"] == marker or e["event"] == marker for e in events)


async def quarantined(c: httpx.AsyncClient, marker: str) -> list[dict[str, Any]]:
    """Quarantine entries whose kept copy carries ``marker``."""
    r = await c.get("/api/v1/quarantine", params={"limit": "1000"}, headers=QUERY)
    assert r.status_code == 200, r.text
    return [q for q in r.json()["data"] if marker.encode() in orjson.dumps(q["body"])]
