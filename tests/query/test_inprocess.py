"""In-process checks over ``create_app()`` with httpx's ASGI transport: projects are
isolated, the OpenAPI document covers every mounted route, hidden events stay off
timelines and counts, and both unique-person strategies agree."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.query.helpers import msg
from threadline.app import create_app
from threadline.model import Message
from threadline.query import insights
from threadline.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    application = create_app(Settings(data_dir=tmp_path, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    try:
        yield application
    finally:
        application.state.services.store.close()


def client(app: Starlette, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers)


async def ingest(app: Starlette, write_key: str, *messages: dict[str, Any]) -> None:
    async with client(app) as c:
        r = await c.post("/v1/batch", json={"batch": list(messages)}, auth=(write_key, ""))
        assert r.status_code == 200 and r.json()["accepted"] == len(messages), r.text


async def test_a_projects_key_sees_only_its_own_data(app: Starlette) -> None:
    other = app.state.services.store.create_project("Other")
    await ingest(app, WRITE_KEY, msg("identify", "2026-01-05T10:00:00Z", anon="iso-a", user="shared-id"))
    await ingest(app, other["write_key"], msg("track", "2026-01-05T11:00:00Z", user="shared-id", event="B only"))
    async with client(app, SECRET_KEY) as mine, client(app, other["secret_key"]) as theirs:
        a = (await mine.get("/api/v1/persons/lookup", params={"user_id": "shared-id"})).json()
        b = (await theirs.get("/api/v1/persons/lookup", params={"user_id": "shared-id"})).json()
        assert a["anonymous_ids"] == ["iso-a"] and b["anonymous_ids"] == []
        assert a["id"] != b["id"]  # person ids are namespaced per project
        assert (await theirs.get(f"/api/v1/persons/{a['id']}")).status_code == 404
        assert (await mine.get(f"/api/v1/persons/{b['id']}")).status_code == 404
        assert [p["id"] for p in (await theirs.get("/api/v1/persons")).json()["data"]] == [b["id"]]
        events = (await theirs.get("/api/v1/events")).json()["data"]
        assert [e["event"] for e in events] == ["B only"]
        assert (await theirs.delete(f"/api/v1/persons/{a['id']}")).status_code == 404
        assert (await theirs.get("/api/v1/projects/current")).json()["id"] == other["project_id"]
    async with client(app, other["write_key"]) as write_only:
        assert (await write_only.get("/api/v1/persons")).status_code == 403
    empty = app.state.services.store.create_project("Empty")
    async with client(app, empty["secret_key"]) as nothing:
        counts = (await nothing.get("/api/v1/insights/unique-persons", params={"from": "2026-01-01"})).json()
        assert counts["total"] == {"persons": 0, "naive": 0} and counts["data"][0]["persons"] == 0
        assert (await nothing.get("/api/v1/persons")).json() == {"data": [], "next_cursor": None}
        assert (await nothing.get("/api/v1/companies")).json() == {"data": [], "next_cursor": None}


async def test_openapi_documents_every_route(app: Starlette) -> None:
    async with client(app) as c:
        doc = (await c.get("/api/v1/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path)

    documented = {(shape(path), method.upper()) for path, ops in doc["paths"].items() for method in ops}
    missing = []
    for route in app.routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            if (shape(route.path), method) not in documented:
                missing.append(f"{method} {route.path}")
    assert missing == []
    # Every reference resolves.
    text = str(doc)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in doc["components"]["schemas"], name
    for op in (o for ops in doc["paths"].values() for o in ops.values()):
        for sec in op["security"]:
            assert set(sec) <= set(doc["components"]["securitySchemes"])


async def test_hidden_events_stay_off_timelines_and_counts_but_set_traits(app: Starlette) -> None:
    store = app.state.services.store
    await ingest(app, WRITE_KEY, msg("page", "2026-01-06T10:00:00Z", anon="hid-a"))
    t = 1_767_700_800_000_000  # 2026-01-06T12:00:00Z
    hidden = Message("hid-m", "identify", t, t, "moesif-browser", anonymous_id="hid-a",
                     traits={"campaign": "spring"}, hidden=True)
    store.ingest("default", [hidden], [], t, "moesif-browser").result(30)
    async with client(app, SECRET_KEY) as c:
        person = (await c.get("/api/v1/persons/lookup", params={"anonymous_id": "hid-a"})).json()
        assert person["traits"] == {"campaign": "spring"}
        assert person["event_count"] == 1
        events = (await c.get(f"/api/v1/persons/{person['id']}/events")).json()["data"]
        assert [e["type"] for e in events] == ["page"]
        counts = (await c.get("/api/v1/insights/unique-persons",
                              params={"from": "2026-01-06T11:00:00Z", "to": "2026-01-06T13:00:00Z"})).json()
        assert counts["total"] == {"persons": 0, "naive": 0}
        assert [e["id"] for e in (await c.get("/api/v1/events")).json()["data"]] == [events[0]["id"]]
        listed = (await c.get("/api/v1/events", params={"include_hidden": "true"})).json()["data"]
        assert [e["id"] for e in listed] == ["hid-m", events[0]["id"]]


async def test_bitmap_and_count_distinct_strategies_agree(app: Starlette) -> None:
    await ingest(app, WRITE_KEY, *(
        msg("identify" if n % 3 == 0 else "page", f"2026-01-0{1 + n % 7}T{n % 24:02d}:00:00Z",
            anon=f"bm-a{n % 11}", user=f"bm-u{n % 5}" if n % 3 == 0 else None)
        for n in range(60)))
    cur = app.state.services.store.read()
    args = ("default", 1_767_225_600_000_000, 1_767_830_400_000_000)  # 2026-01-01 .. 01-08
    for interval in ("hour", "day", "week"):
        fast = insights.unique_persons(cur, *args, interval, "Europe/Berlin", ZoneInfo("Europe/Berlin"))
        slow = insights.unique_persons(cur, *args, interval, "Europe/Berlin", ZoneInfo("Europe/Berlin"),
                                       max_bitmap_bytes=0)
        assert fast == slow
        assert fast["total"]["persons"] > 0 and fast["total"]["naive"] > fast["total"]["persons"]


WEIRD = ["", "x", "-1", "0", "99999999999999999999", "1e308", "nan", "inf", "0001-01-01",
         "9999-12-31", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "2026-02-30",
         "\x00", "'; DROP TABLE events; --", "%", "a" * 5000, "[]", "P", "PT", "P1Y", "P99999999D",
         "1700000000", "2026-01-05T10:00:00.000Z"]
GET_PARAMS = {
    "/api/v1/persons": ("search", "limit", "cursor"),
    "/api/v1/persons/lookup": ("anonymous_id", "user_id"),
    "/api/v1/events": ("type", "event", "from", "to", "limit", "cursor", "include_hidden"),
    "/api/v1/companies": ("search", "limit", "cursor"),
    "/api/v1/insights/unique-persons": ("from", "to", "interval", "tz", "event", "type"),
    "/api/v1/quarantine": ("from", "to", "code", "cursor"),
    "/api/v1/ingest/stats": ("from", "to"),
}


async def test_odd_inputs_get_a_4xx_never_a_5xx(app: Starlette) -> None:
    await ingest(app, WRITE_KEY, msg("group", "2026-01-05T10:00:00Z", user="odd-u", groupId="odd-co"))
    async with client(app, SECRET_KEY) as c:
        for path, names in GET_PARAMS.items():
            for name in names:
                for value in WEIRD:
                    r = await c.get(path, params={name: value})
                    assert r.status_code < 500, (path, name, value, r.text)
                    if r.status_code >= 400:
                        assert r.json()["error"]["code"]
        for value in ("%00", "%27%22", "x" * 3000, "%F0%9F%98%80"):
            for path in ("/api/v1/persons/{}", "/api/v1/persons/{}/events", "/api/v1/persons/{}/explain",
                         "/api/v1/companies/{}", "/api/v1/companies/{}/events", "/api/v1/companies/{}/persons"):
                r = await c.get(path.format(value))
                assert r.status_code == 404, (path, value, r.text)
        for body in ({"steps": [{"event": v} for v in WEIRD]}, {"steps": [{"properties": {"a/b~c": None}}]},
                     {"steps": [{"properties": {"x": [1, {"y": 2}], "n": 1.5, "b": True, "s": "\x00"}}]},
                     {"steps": [{"path": "/"}], "window": "P99999999D"}, {"steps": [{"type": "x"}], "from": 1e300},
                     {"steps": [{"event": "x"}], "from": "9999-12-31", "to": "9999-12-31"},
                     {"steps": [{"event": "x"}], "by": "company", "tz": "Asia/Kathmandu", "from": "2026-01-01"}):
            r = await c.post("/api/v1/insights/funnel", json=body)
            assert r.status_code < 500, (body, r.text)
        for body in ({"person_ids": "x"}, {"person_ids": ["a", 1]}, {"person_ids": ["a", "b"]}, {"person_ids": [None, "b"]}):
            r = await c.post("/api/v1/persons/merge", json=body)
            assert r.status_code in (404, 422), (body, r.text)
        for settings in ({"retention_days": "soon"}, {"junk_ids": {"a": 1}}, {"set_once": [[]]}, {"": 1}):
            r = await c.patch("/api/v1/projects/current/settings", json=settings)
            assert r.status_code == 422, (settings, r.text)
