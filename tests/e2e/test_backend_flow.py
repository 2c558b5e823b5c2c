"""The hybrid flow end to end, against a real Threadline server.

A visitor browses anonymously (page views posted to the native API under the
tracker's anonymous id, as the browser tracker sends them), signs up through a FastAPI
backend on uvicorn that identifies the user with the browser's anonymous id (read
from the ``tl_aid`` cookie) through the SDK, then calls the API with a Bearer JWT. A
colleague calls a Flask API on waitress. Both backends record API calls with the
middleware. The person's timeline must hold the page views, the identify and the API
calls; the company's timeline the API calls of both members.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import fastapi
import flask
import httpx

from tests.app_servers import uvicorn_server, waitress_server
from tests.conftest import LiveServer, start_server
from tests.middleware.servers import bearer
from threadline.middleware import ASGIMiddleware, WSGIMiddleware
from threadline.sdk import Client, anonymous_id_from_request

FAST = {"flush_interval": 0.05}


def signup_api(sdk: Client, server: LiveServer) -> ASGIMiddleware:
    app = fastapi.FastAPI()

    @app.post("/signup")
    async def signup(request: fastapi.Request) -> dict[str, Any]:
        body = await request.json()
        user_id, company = body["user_id"], body["company"]
        anonymous_id = anonymous_id_from_request(request)
        sdk.identify(user_id, {"email": body["email"]}, anonymous_id=anonymous_id)
        sdk.group(user_id, company, {"name": company.title()})
        sdk.track(user_id, "Signed Up", {"plan": "team"})
        return {"token": bearer({"sub": user_id, "company_id": company})["Authorization"]}

    @app.get("/api/projects/{project_id}")
    async def project(project_id: int) -> dict[str, Any]:
        return {"id": project_id}

    return ASGIMiddleware(app, key=server.write_key, host=server.url, **FAST)


def reports_api(server: LiveServer) -> WSGIMiddleware:
    app = flask.Flask("reports")

    @app.get("/api/reports/<name>")
    def report(name: str) -> dict[str, Any]:
        return {"report": name}

    return WSGIMiddleware(app.wsgi_app, key=server.write_key, host=server.url, **FAST)


def all_events(q: httpx.Client, path: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = q.get(path, params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        events += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return events


def test_browser_history_backend_identify_and_api_calls_form_one_timeline(
    live_server: LiveServer,
) -> None:
    run = uuid.uuid4().hex[:8]
    anon, alice, bob, acme = f"tl-{run}", f"alice-{run}", f"bob-{run}", f"acme-{run}"

    # The browser: anonymous page views, posted the way the tracker posts them.
    tracker = {"library": {"name": "threadline.js", "version": "1.0.0"}}
    with live_server.ingest() as http:
        r = http.post("/v1/batch", json={"batch": [
            {"type": "page", "anonymousId": anon, "properties": {"path": "/pricing"},
             "context": tracker, "messageId": f"pv1-{run}"},
            {"type": "page", "anonymousId": anon, "properties": {"path": "/signup"},
             "context": tracker, "messageId": f"pv2-{run}"},
        ]})
        assert r.json() == {"accepted": 2, "duplicates": 0, "rejected": []}

    sdk = Client(live_server.secret_key, host=live_server.url, **FAST)
    signup_app = signup_api(sdk, live_server)
    reports_app = reports_api(live_server)
    with uvicorn_server(signup_app) as signup_url, waitress_server(reports_app) as reports_url:
        with httpx.Client(base_url=signup_url, cookies={"tl_aid": anon}) as browser:
            r = browser.post("/signup", json={"user_id": alice, "email": "alice@acme.test",
                                              "company": acme})
            assert r.status_code == 200
            alice_auth = {"Authorization": r.json()["token"]}
        with httpx.Client(base_url=signup_url) as backend:  # an API client: no cookies
            for i in (1, 2):
                assert backend.get(f"/api/projects/{i}", headers=alice_auth).status_code == 200
        bob_auth = bearer({"sub": bob, "company_id": acme})
        with httpx.Client(base_url=reports_url) as backend:
            for name in ("usage", "billing"):
                assert backend.get(f"/api/reports/{name}", headers=bob_auth).status_code == 200
        assert sdk.flush(20)
        assert signup_app.client.flush(20)
        assert reports_app.client.flush(20)
    for client in (sdk, signup_app.client, reports_app.client):
        stats = client.stats()
        assert (stats.failed, stats.rejected, stats.dropped_invalid) == (0, 0, 0), stats
        client.shutdown()

    with live_server.query() as q:
        r = q.get("/api/v1/persons/lookup", params={"anonymous_id": anon})
        assert r.status_code == 200, r.text
        person = r.json()
        assert person["is_identified"] is True
        assert alice in person["user_ids"] and anon in person["anonymous_ids"]
        assert acme in [c["id"] for c in person["companies"]]
        assert person["traits"].get("email") == "alice@acme.test"
        timeline = all_events(q, f"/api/v1/persons/{person['id']}/events")

        kinds = [(e["type"], e["event"]) for e in timeline]
        assert kinds[:2] == [("page", None), ("page", None)]  # pre-signup history first
        assert ("identify", None) in kinds
        assert ("track", "Signed Up") in kinds
        calls = [e for e in timeline if e["event"] == "API Call"]
        routes = sorted(e["properties"]["route"] for e in calls)
        # The sign-up call (anonymous, joined through the cookie) and the two API calls.
        assert routes == ["/api/projects/{project_id}"] * 2 + ["/signup"]
        sources = {(e["type"], e["event"]): e["source"] for e in timeline}
        assert sources[("page", None)] == "tracker"
        assert sources[("identify", None)] == "sdk"
        assert sources[("track", "API Call")] == "middleware"
        assert all(e["person_id"] == person["id"] for e in timeline)
        for call in calls:
            assert call["properties"]["status"] == 200
            assert call["properties"]["direction"] == "incoming"
            assert "authorization" not in str(call).lower()

        company_events = all_events(q, f"/api/v1/companies/{acme}/events")
        company_calls = [e for e in company_events if e["event"] == "API Call"]
        by_user: dict[str | None, list[str]] = {}
        for e in company_calls:
            by_user.setdefault(e["user_id"], []).append(e["properties"]["route"])
        assert sorted(by_user.get(alice, [])) == ["/api/projects/{project_id}"] * 2
        assert sorted(by_user.get(bob, [])) == ["/api/reports/<name>"] * 2
        members = q.get(f"/api/v1/companies/{acme}/persons").json()["data"]
        assert {u for m in members for u in m["user_ids"]} >= {alice, bob}


def test_sdk_delivers_exactly_once_through_a_real_servers_413s_and_duplicates(
    tmp_path: Path,
) -> None:
    # A server whose request limit is far below the SDK's batch size: every big batch is
    # refused with 413 and must be split until it fits, losing and doubling nothing.
    server = start_server(tmp_path / "data", extra_env={"THREADLINE_NATIVE_REQUEST_LIMIT": "20000"})
    try:
        sdk = Client(server.write_key, host=server.url, flush_interval=30, flush_at=500)
        run = uuid.uuid4().hex[:8]
        sent = [sdk.track(f"bulk-{run}", "Bulk", {"i": i, "pad": "p" * 900}) for i in range(120)]
        sdk.track(f"bulk-{run}", "Once", message_id=f"once-{run}")
        assert sdk.flush(60)
        sdk.track(f"bulk-{run}", "Once", message_id=f"once-{run}")  # a resend: same id
        assert sdk.flush(60)
        stats = sdk.stats()
        assert (stats.accepted, stats.duplicates, stats.failed, stats.rejected) == (121, 1, 0, 0)
        sdk.shutdown()
        with server.query() as q:
            person = q.get("/api/v1/persons/lookup", params={"user_id": f"bulk-{run}"}).json()
            timeline = all_events(q, f"/api/v1/persons/{person['id']}/events")
        assert sorted(e["id"] for e in timeline if e["event"] == "Bulk") == sorted(sent)
        assert [e["event"] for e in timeline].count("Once") == 1
    finally:
        server.stop()
