"""What moesif-browser-js 1.8.13 really sends (shared/wire/moesif.md §6.3, §8): an
identifyCompany after identifyUser carries neither user id nor anonymous id, yet makes
the user a member; batched actions carry no time, yet the anonymous ones queued before
the sign-up stay before it on the timeline, in the order they were queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.ops.inprocess import client, running_app

pytestmark = pytest.mark.anyio
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
SDK = {"X-Moesif-Application-Id": WRITE_KEY, "X-Moesif-SDK": "moesif-browser-js/1.8.13",
       "User-Agent": UA, "Origin": "http://app.example.test"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def action(name: str, *, anon: str | None = None, user: str | None = None, n: int = 0) -> dict[str, Any]:
    """A ``track()`` payload as browser-js builds it: no time, user id or anonymous id."""
    out: dict[str, Any] = {"action_name": name, "request": {
        "uri": "http://app.example.test/pricing", "verb": "GET", "user_agent_string": UA},
        "transaction_id": f"5c1f0e0a-0000-4000-8000-{n:012d}"}
    out["user_id" if user else "anonymous_id"] = user or anon
    return out


async def _person(q: httpx.AsyncClient, user: str) -> Any:
    r = await q.get("/api/v1/persons/lookup", params={"user_id": user})
    assert r.status_code == 200, r.text
    return r.json()


async def test_identify_company_after_identify_user_links_the_user(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as b, client(app, bearer=SECRET_KEY) as q:
        r = await b.post("/v1/users", headers=SDK, json={
            "user_id": "mc-u1", "metadata": {"email": "u1@example.test"}, "campaign": {},
            "anonymous_id": "18c0a1b2c3d4e5-0f1e2d3c4b5a69-3a563a7f-0"})
        assert r.status_code == 201
        r = await b.post("/v1/companies", headers=SDK, json={
            "company_id": "mc-co", "metadata": {"name": "MC Co", "plan": "growth"}, "campaign": {}})
        assert r.status_code == 201
        p = await _person(q, "mc-u1")
        assert [(c["id"], c["traits"]) for c in p["companies"]] == [("mc-co", {"name": "MC Co", "plan": "growth"})]
        members = (await q.get("/api/v1/companies/mc-co/persons")).json()["data"]
        assert [m["id"] for m in members] == [p["id"]]
        # The company update stays off the timeline, as before.
        timeline = (await q.get(f"/api/v1/persons/{p['id']}/events")).json()["data"]
        assert [e["type"] for e in timeline] == ["identify"]


async def test_the_session_token_names_the_browser_when_the_page_set_one(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app, peer="10.0.0.1") as b1, \
            client(app, peer="10.0.0.2") as b2, client(app, bearer=SECRET_KEY) as q:
        await b1.post("/v1/users", headers=SDK, json={"user_id": "mc-s1", "session_token": "tok-1",
                                                      "anonymous_id": "a-s1"})
        await b2.post("/v1/users", headers=SDK, json={"user_id": "mc-s2", "anonymous_id": "a-s2"})
        # Sent from the second address, but with the first browser's session token.
        await b2.post("/v1/companies", headers=SDK, json={"company_id": "mc-sco", "session_token": "tok-1"})
        assert [c["id"] for c in (await _person(q, "mc-s1"))["companies"]] == ["mc-sco"]
        assert (await _person(q, "mc-s2"))["companies"] == []


async def test_another_browser_or_a_server_update_links_nobody(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app, peer="10.0.0.1") as b1, \
            client(app, peer="10.0.0.9") as other, client(app, bearer=SECRET_KEY) as q:
        await b1.post("/v1/users", headers=SDK, json={"user_id": "mc-n1", "anonymous_id": "a-n1"})
        await other.post("/v1/companies", headers=SDK, json={"company_id": "mc-other"})
        await b1.post("/v1/companies", headers={"X-Moesif-Application-Id": WRITE_KEY, "User-Agent": UA},
                      json={"company_id": "mc-server"})  # moesifapi update_company: no browser
        assert (await _person(q, "mc-n1"))["companies"] == []
        r = await q.get("/api/v1/companies/mc-server/persons")
        assert r.json()["data"] == []


async def test_batched_time_less_actions_keep_their_order_around_the_sign_up(tmp_path: Path) -> None:
    anon = "18c0a1b2c3d4e6-0f1e2d3c4b5a69-3a563a7f-0"
    async with running_app(tmp_path) as app, client(app) as b, client(app, bearer=SECRET_KEY) as q:
        # An earlier batch, sent before the sign-up.
        assert (await b.post("/v1/actions/batch", headers=SDK,
                             json=[action("Opened", anon=anon, n=1)])).status_code == 201
        # identifyUser is never batched: it goes out at once...
        await b.post("/v1/users", headers=SDK, json={"user_id": "mc-b1", "anonymous_id": anon, "campaign": {}})
        # ...while the actions queued around it arrive together in the next flush.
        batch = [action(f"Step {n}", anon=anon, n=10 + n) for n in (3, 1, 2)]
        batch += [action("Signed Up", user="mc-b1", n=20), action("Invited", user="mc-b1", n=21)]
        assert (await b.post("/v1/actions/batch", headers=SDK, json=batch)).status_code == 201
        p = await _person(q, "mc-b1")
        events = (await q.get(f"/api/v1/persons/{p['id']}/events")).json()["data"]
    assert [e["event"] or e["type"] for e in events] == [
        "Opened", "Step 3", "Step 1", "Step 2", "identify", "Signed Up", "Invited"]


async def test_a_restart_between_identify_user_and_identify_company_still_links(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as b:
        await b.post("/v1/users", headers=SDK, json={"user_id": "mc-r1", "anonymous_id": "a-r1",
                                                     "session_token": "tok-r"})
        await b.post("/v1/users", headers=SDK, json={"user_id": "mc-r2", "anonymous_id": "a-r2"})
    # A new process on the same store: nothing remembered, the store is asked.
    async with running_app(tmp_path) as app, client(app) as b, client(app, bearer=SECRET_KEY) as q:
        await b.post("/v1/companies", headers=SDK, json={"company_id": "mc-rco", "session_token": "tok-r"})
        await b.post("/v1/companies", headers=SDK, json={"company_id": "mc-rco2"})
        assert [c["id"] for c in (await _person(q, "mc-r1"))["companies"]] == ["mc-rco"]
        # Without a session token: the newest identify from this address and browser.
        assert [c["id"] for c in (await _person(q, "mc-r2"))["companies"]] == ["mc-rco2"]


async def test_a_single_action_keeps_its_arrival_time(tmp_path: Path) -> None:
    anon = "18c0a1b2c3d4e7-0f1e2d3c4b5a69-3a563a7f-0"
    async with running_app(tmp_path) as app, client(app) as b, client(app, bearer=SECRET_KEY) as q:
        await b.post("/v1/users", headers=SDK, json={"user_id": "mc-t1", "anonymous_id": anon})
        # Sent at once by a tab that has not seen the sign-up: it did happen after it.
        await b.post("/v1/actions", headers=SDK, json=action("Other Tab", anon=anon, n=30))
        p = await _person(q, "mc-t1")
        events = (await q.get(f"/api/v1/persons/{p['id']}/events")).json()["data"]
    assert [e["event"] or e["type"] for e in events] == ["identify", "Other Tab"]
