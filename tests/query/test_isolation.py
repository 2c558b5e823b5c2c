"""Project isolation over every route (api.md, "A key of one project never reads or
writes another project's data"): two projects with data in each, and one case per
route in which project B's keys try to read, write, merge, split, erase, explain,
count or stream project A's data. Each case also checks that the same question asked
with A's key does find A's data (so an empty answer means isolation, not a broken
query), and after every case A's whole state, read with A's key, must be unchanged.
The compat collectors must put what B's Usermaven token or Moesif application id
sends into B.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.query.helpers import msg
from threadline.app import create_app
from threadline.query import api as query_api
from threadline.settings import Settings

pytestmark = pytest.mark.anyio
JANUARY = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class World:
    app: Starlette
    b_project: str
    b_write: str
    b_secret: str
    a_person: str  # the person holding iso-a-anon and iso-a-user
    a_person2: str
    b_person: str

    def client(self, key: str | None = None, **kw: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://test",
                                 headers=headers, **kw)


async def batch(app_client: httpx.AsyncClient, key: str, *messages: dict[str, Any]) -> dict[str, Any]:
    r = await app_client.post("/v1/batch", json={"batch": list(messages)}, auth=(key, ""))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp: Path = tmp_path_factory.mktemp("isolation")
    app = create_app(Settings(data_dir=tmp, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    b = app.state.services.store.create_project("Beta")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        a_sent = await batch(
            c, WRITE_KEY,
            msg("page", "2026-01-05T09:00:00Z", anon="iso-a-anon", mid="iso-a-1"),
            msg("identify", "2026-01-05T10:00:00Z", anon="iso-a-anon", user="iso-a-user",
                traits={"plan": "a-secret-plan"}, mid="iso-a-2"),
            msg("group", "2026-01-05T10:01:00Z", user="iso-a-user", groupId="iso-a-co",
                traits={"name": "Alpha Co"}, mid="iso-a-3"),
            msg("track", "2026-01-05T10:02:00Z", user="iso-a-user", event="A Only Event", mid="iso-a-4"),
            msg("track", "2026-01-06T10:00:00Z", user="iso-a-user2", event="A Only Event", mid="iso-a-5"),
            msg("track", "2026-01-06T11:00:00Z", user="shared-user", anon="iso-a-shared-anon",
                event="A Only Event", mid="iso-shared-1"),
            {"type": "nope", "userId": "iso-a-user", "messageId": "iso-a-bad"},
        )
        assert a_sent["accepted"] == 6 and len(a_sent["rejected"]) == 1
        await batch(
            c, b["write_key"],
            msg("identify", "2026-03-05T10:00:00Z", anon="iso-b-anon", user="iso-b-user", mid="iso-b-1"),
            msg("group", "2026-03-05T10:01:00Z", user="iso-b-user", groupId="iso-b-co", mid="iso-b-2"),
            msg("track", "2026-03-05T10:02:00Z", user="shared-user", event="B Event", mid="iso-shared-1"),
        )
        a_api = {"Authorization": f"Bearer {SECRET_KEY}"}
        b_api = {"Authorization": f"Bearer {b['secret_key']}"}

        async def pid(headers: dict[str, str], **params: str) -> str:
            r = await c.get("/api/v1/persons/lookup", params=params, headers=headers)
            assert r.status_code == 200, r.text
            return str(r.json()["id"])

        w = World(app, b["project_id"], b["write_key"], b["secret_key"],
                  await pid(a_api, user_id="iso-a-user"), await pid(a_api, user_id="iso-a-user2"),
                  await pid(b_api, user_id="iso-b-user"))
    try:
        yield w
    finally:
        app.state.services.store.close()


async def a_state(w: World) -> dict[str, Any]:
    """Everything project A holds, read with A's key."""
    async with w.client(SECRET_KEY) as a:
        out: dict[str, Any] = {}
        for path, params in (("/api/v1/persons", {"limit": 1000}),
                             ("/api/v1/events", {"limit": 1000, "include_hidden": "true"}),
                             ("/api/v1/companies", {}), ("/api/v1/quarantine", {}),
                             ("/api/v1/projects/current", {}),
                             (f"/api/v1/persons/{w.a_person}/explain", {}),
                             (f"/api/v1/persons/{w.a_person}/events", {})):
            r = await a.get(path, params=params)
            assert r.status_code == 200, (path, r.text)
            out[path] = r.json()
        return out


def a_ids(text: str) -> list[str]:
    """A's identifiers, message ids and names that appear in an answer."""
    return [s for s in ("iso-a-anon", "iso-a-user", "iso-a-co", "iso-a-1", "iso-a-bad", "a-secret-plan",
                        "A Only Event", "Alpha Co", "iso-a-shared-anon") if s in text]


Case = Callable[[World, httpx.AsyncClient, httpx.AsyncClient], Awaitable[None]]
CASES: dict[str, Case] = {}
COVERED: set[str] = set()  # "METHOD path" of the query-API routes the cases go through


def case(*routes: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[fn.__name__] = fn
        COVERED.update(routes)
        return fn

    return register


async def same_get(a: httpx.AsyncClient, b: httpx.AsyncClient, path: str, **params: Any) -> tuple[Any, Any]:
    """One GET with both keys: (A's answer, B's answer), both 200."""
    ra, rb = await a.get(path, params=params), await b.get(path, params=params)
    assert ra.status_code == rb.status_code == 200, (path, ra.text, rb.text)
    return ra.json(), rb.json()


async def not_found_for_b(a: httpx.AsyncClient, b: httpx.AsyncClient, path: str) -> None:
    ra, rb = await a.get(path), await b.get(path)
    assert ra.status_code == 200, (path, ra.text)
    assert rb.status_code == 404 and rb.json()["error"]["code"] == "not_found", (path, rb.text)


@case("GET /api/v1/persons")
async def persons_list(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    ra, rb = await same_get(a, b, "/api/v1/persons", limit=1000)
    assert w.a_person in {p["id"] for p in ra["data"]}
    assert a_ids(str(rb)) == [] and w.b_person in {p["id"] for p in rb["data"]}


@case("GET /api/v1/persons")
async def persons_search(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    for needle in ("iso-a", "a-secret-plan", w.a_person):
        ra, rb = await same_get(a, b, "/api/v1/persons", search=needle)
        assert ra["data"] and rb["data"] == [], needle


@case("GET /api/v1/persons/lookup")
async def persons_lookup(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    for params in ({"user_id": "iso-a-user"}, {"anonymous_id": "iso-a-anon"}):
        assert (await a.get("/api/v1/persons/lookup", params=params)).status_code == 200
        assert (await b.get("/api/v1/persons/lookup", params=params)).status_code == 404
    # The same user id in both projects names two persons, each with its own project's data.
    ra, rb = await same_get(a, b, "/api/v1/persons/lookup", user_id="shared-user")
    assert ra["id"] != rb["id"] and ra["anonymous_ids"] == ["iso-a-shared-anon"] and rb["anonymous_ids"] == []


@case("GET /api/v1/persons/{person_id}")
async def person_detail(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    await not_found_for_b(a, b, f"/api/v1/persons/{w.a_person}")
    assert (await a.get(f"/api/v1/persons/{w.b_person}")).status_code == 404


@case("GET /api/v1/persons/{person_id}/events")
async def person_timeline(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    await not_found_for_b(a, b, f"/api/v1/persons/{w.a_person}/events")


@case("GET /api/v1/persons/{person_id}/explain")
async def person_explain(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    await not_found_for_b(a, b, f"/api/v1/persons/{w.a_person}/explain")


@case("POST /api/v1/persons/merge")
async def persons_merge(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    for ids in ([w.a_person, w.a_person2], [w.b_person, w.a_person], [w.a_person, w.b_person]):
        r = await b.post("/api/v1/persons/merge", json={"person_ids": ids})
        assert r.status_code == 404, (ids, r.text)
    assert (await b.get(f"/api/v1/persons/{w.b_person}")).json()["user_ids"] == ["iso-b-user"]


@case("POST /api/v1/persons/{person_id}/split")
async def person_split(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    r = await b.post(f"/api/v1/persons/{w.a_person}/split",
                     json={"identifiers": [{"kind": "anonymous", "value": "iso-a-anon"}]})
    assert r.status_code == 404, r.text
    # B's own person cannot be split along A's identifiers either.
    r = await b.post(f"/api/v1/persons/{w.b_person}/split",
                     json={"identifiers": [{"kind": "anonymous", "value": "iso-a-anon"}]})
    assert r.status_code == 422, r.text


@case("DELETE /api/v1/persons/{person_id}")
async def person_erase(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    for pid in (w.a_person, w.a_person2):
        r = await b.delete(f"/api/v1/persons/{pid}")
        assert r.status_code == 404, r.text


@case("GET /api/v1/companies", "GET /api/v1/companies/{company_id}", "GET /api/v1/companies/{company_id}/persons", "GET /api/v1/companies/{company_id}/events")
async def companies(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    ra, rb = await same_get(a, b, "/api/v1/companies")
    assert [c["id"] for c in ra["data"]] == ["iso-a-co"] and [c["id"] for c in rb["data"]] == ["iso-b-co"]
    ra, rb = await same_get(a, b, "/api/v1/companies", search="iso-a")
    assert ra["data"] and rb["data"] == []
    for path in ("/api/v1/companies/iso-a-co", "/api/v1/companies/iso-a-co/persons",
                 "/api/v1/companies/iso-a-co/events"):
        await not_found_for_b(a, b, path)


@case("GET /api/v1/events")
async def events(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    ra, rb = await same_get(a, b, "/api/v1/events", limit=1000, include_hidden="true")
    assert "iso-a-1" in {e["id"] for e in ra["data"]}
    assert a_ids(str(rb)) == []
    # The message id both projects used is each project's own event.
    assert {e["event"] for e in rb["data"] if e["id"] == "iso-shared-1"} == {"B Event"}
    ra, rb = await same_get(a, b, "/api/v1/events", event="A Only Event")
    assert ra["data"] and rb["data"] == []


@case("GET /api/v1/events/stream")
async def events_stream(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    frames = await stream_while(w, w.b_secret, [(WRITE_KEY, "iso-a-live"), (w.b_write, "iso-b-live")],
                                until="iso-b-live")
    assert "iso-b-live" in frames and a_ids(frames) == [] and "iso-a-live" not in frames
    frames = await stream_while(w, SECRET_KEY, [(w.b_write, "iso-b-live2"), (WRITE_KEY, "iso-a-live2")],
                                until="iso-a-live2")
    assert "iso-a-live2" in frames and "iso-b-live2" not in frames


@case("GET /api/v1/insights/unique-persons")
async def unique_persons(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    ra, rb = await same_get(a, b, "/api/v1/insights/unique-persons", **JANUARY)
    assert ra["total"]["persons"] >= 3 and rb["total"] == {"persons": 0, "naive": 0}
    ra, rb = await same_get(a, b, "/api/v1/insights/unique-persons", event="A Only Event", **JANUARY)
    assert ra["total"]["persons"] >= 1 and rb["total"]["persons"] == 0


@case("POST /api/v1/insights/funnel")
async def funnel(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    body = {"steps": [{"type": "group"}, {"event": "A Only Event"}], **JANUARY}
    for by in ("person", "company"):
        ra = await a.post("/api/v1/insights/funnel", json={**body, "by": by})
        rb = await b.post("/api/v1/insights/funnel", json={**body, "by": by})
        assert ra.status_code == rb.status_code == 200, (ra.text, rb.text)
        assert [s["count"] for s in ra.json()["steps"]] == [1, 1], (by, ra.text)
        assert [s["count"] for s in rb.json()["steps"]] == [0, 0], by


@case("GET /api/v1/quarantine")
async def quarantine(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    ra, rb = await same_get(a, b, "/api/v1/quarantine")
    assert "iso-a-bad" in str(ra) and rb["data"] == []


@case("GET /api/v1/ingest/stats")
async def ingest_stats(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    ra, rb = await same_get(a, b, "/api/v1/ingest/stats")
    assert sum(d["quarantined"] for d in ra["data"]) >= 1
    assert sum(d["quarantined"] for d in rb["data"]) == 0
    b_events = (await b.get("/api/v1/events", params={"limit": 1000, "include_hidden": "true"})).json()["data"]
    assert sum(d["accepted"] for d in rb["data"]) == len(b_events)


@case("GET /api/v1/projects/current", "PATCH /api/v1/projects/current/settings", "POST /api/v1/keys/rotate")
async def project_admin(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    ra, rb = await same_get(a, b, "/api/v1/projects/current")
    assert ra["id"] == "default" and rb["id"] == w.b_project
    assert WRITE_KEY not in str(rb)
    r = await b.patch("/api/v1/projects/current/settings", json={"set_once": ["b_only_key"]})
    assert r.status_code == 200 and r.json()["id"] == w.b_project, r.text
    r = await b.post("/api/v1/keys/rotate")
    assert r.status_code == 200, r.text
    assert WRITE_KEY not in str(r.json()) and SECRET_KEY not in str(r.json())
    # A's keys still work (A's key list and settings are checked by the unchanged-state check).
    assert (await a.get("/api/v1/projects/current")).status_code == 200


async def lands_in_b(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient, **lookup: str) -> None:
    rb = await b.get("/api/v1/persons/lookup", params=lookup)
    assert rb.status_code == 200, (lookup, rb.text)
    assert (await a.get("/api/v1/persons/lookup", params=lookup)).status_code == 404, lookup


@case()
async def native_collector(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    async with w.client() as c:
        await batch(c, w.b_write, msg("track", "2026-03-06T10:00:00Z", user="iso-b-native", event="x"))
        r = await c.post("/v1/track", json={**msg("track", "2026-03-06T10:00:00Z", user="iso-b-native2",
                                                  event="x"), "writeKey": w.b_write})
        assert r.status_code == 200, r.text
    await lands_in_b(w, a, b, user_id="iso-b-native")
    await lands_in_b(w, a, b, user_id="iso-b-native2")


def usermaven_event(event_id: str, anon: str, key: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": "clicked", "user": {"anonymous_id": anon, **fields},
            "utc_time": "2026-03-06T10:00:00.000Z", "api_key": key, "src": "usermaven",
            "url": "http://shop.test/p"}


@case()
async def usermaven_collector(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    async with w.client() as c:
        r = await c.post(f"/api/v1/event?token={w.b_write}", json=[usermaven_event("iso-um-1", "iso-b-um", w.b_write)])
        assert r.status_code == 200, r.text
        r = await c.post(f"/api/v1/s2s/event?token={w.b_write}.{w.b_secret}",
                         json=[usermaven_event("iso-um-2", "iso-b-um2", w.b_write, id="iso-b-um-user")])
        assert r.status_code == 200, r.text
        # A token of B and the other project's secret never make a key pair.
        r = await c.post(f"/api/v1/s2s/event?token={w.b_write}.{SECRET_KEY}",
                         json=[usermaven_event("iso-um-3", "iso-b-um3", w.b_write)])
        assert r.status_code == 401, r.text
    await lands_in_b(w, a, b, anonymous_id="iso-b-um")
    await lands_in_b(w, a, b, user_id="iso-b-um-user")
    for anon in ("iso-b-um3",):
        assert (await a.get("/api/v1/persons/lookup", params={"anonymous_id": anon})).status_code == 404
        assert (await b.get("/api/v1/persons/lookup", params={"anonymous_id": anon})).status_code == 404


@case()
async def moesif_collector(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    call = {"request": {"time": "2026-03-06T10:00:00.000", "uri": "https://api.test/x", "verb": "GET"},
            "response": {"time": "2026-03-06T10:00:00.050", "status": 200}}
    async with w.client() as c:
        for n, key in enumerate((w.b_write, w.b_secret)):
            r = await c.post("/v1/events/batch", headers={"X-Moesif-Application-Id": key},
                             json=[{**call, "user_id": f"iso-b-moesif{n}", "transaction_id": f"iso-mo-{n}"}])
            assert r.status_code == 201, r.text
        r = await c.post("/v1/users", headers={"X-Moesif-Application-Id": w.b_write},
                         json={"user_id": "iso-b-moesif-profile", "metadata": {"plan": "b"}})
        assert r.status_code in (200, 201), r.text
    await lands_in_b(w, a, b, user_id="iso-b-moesif0")
    await lands_in_b(w, a, b, user_id="iso-b-moesif1")
    await lands_in_b(w, a, b, user_id="iso-b-moesif-profile")


@case()
async def dashboard(w: World, a: httpx.AsyncClient, b: httpx.AsyncClient) -> None:
    async with w.client(follow_redirects=False) as page_a, w.client(follow_redirects=False) as page_b:
        for page, key in ((page_a, SECRET_KEY), (page_b, w.b_secret)):
            r = await page.post("/login", data={"secret_key": key, "next": "/"},
                                headers={"origin": "http://test"})
            assert r.status_code == 303, r.text
        for path in ("/", "/persons", "/persons?search=iso-a", "/companies"):
            ra, rb = await page_a.get(path), await page_b.get(path)
            assert ra.status_code == rb.status_code == 200, (path, ra.status_code, rb.status_code)
            assert "iso-a" in ra.text or path == "/", path
            assert a_ids(rb.text) == [], (path, a_ids(rb.text))
        for path in (f"/persons/{w.a_person}", "/companies/iso-a-co"):
            ra, rb = await page_a.get(path), await page_b.get(path)
            assert ra.status_code == 200 and rb.status_code == 404, (path, ra.status_code, rb.status_code)
            # The "not found" page may name what was asked for; nothing else of A's.
            asked = path.rsplit("/", 1)[1]
            assert a_ids(rb.text.replace(asked, "")) == [], path


async def stream_while(w: World, secret: str, posts: list[tuple[str, str]], until: str) -> str:
    """Open ``/api/v1/events/stream`` with ``secret`` through the raw ASGI interface (the
    in-process transport waits for a whole body), post one track per (write key, message
    id) once subscribed, and return the frames received up to the one naming ``until``."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/api/v1/events/stream", "raw_path": b"/api/v1/events/stream",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000), "server": ("test", 80),
             "headers": [(b"host", b"test"), (b"authorization", f"Bearer {secret}".encode())]}
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    gone = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200
        elif message["type"] == "http.response.body":
            await chunks.put(message.get("body", b""))

    task = asyncio.create_task(w.app(scope, receive, send))
    try:
        first = await asyncio.wait_for(chunks.get(), 10)
        assert first.startswith(b":"), first  # subscribed
        async with w.client() as c:
            for key, mid in posts:
                await batch(c, key, msg("track", "2026-03-07T10:00:00Z", user=f"user-{mid}",
                                        event="Live", mid=mid))
        seen = b""
        while until.encode() not in seen:
            seen += await asyncio.wait_for(chunks.get(), 10)
        return seen.decode()
    finally:
        gone.set()
        await asyncio.wait_for(task, 10)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_project_b_never_reaches_project_a(world: World, name: str) -> None:
    before = await a_state(world)
    async with world.client(SECRET_KEY) as a, world.client(world.b_secret) as b:
        await CASES[name](world, a, b)
    after = await a_state(world)
    if name == "events_stream":  # the stream case posts one event into A on purpose
        for path in ("/api/v1/events", "/api/v1/persons"):
            after[path]["data"] = [x for x in after[path]["data"] if "iso-a-live" not in str(x)]
    assert after == before


def test_every_query_api_route_has_an_isolation_case() -> None:
    mounted = {f"{method} {route.path}" for route in query_api.routes() if isinstance(route, Route)
               for method in (route.methods or set()) - {"HEAD"}}
    public = {"GET /api/v1/openapi.json"}  # no project data
    assert mounted - public - COVERED == set()
    assert mounted >= COVERED
