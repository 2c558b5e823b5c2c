"""The unmodified Moesif Python SDKs (PyPI) against a real Threadline server, with only
``BASE_URI`` changed: moesifasgi in a FastAPI app under uvicorn, moesifwsgi in a Flask
app, and moesifapi called directly. Their gzipped event batches, config fetches and
profile updates become API-call events on the right persons and companies."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.app_servers import uvicorn_server, werkzeug_server
from tests.compat.helpers import person, stored, timeline
from tests.compat.hosts import until
from tests.conftest import SECRET_KEY, WRITE_KEY, LiveServer, require_module

require_module("moesifasgi")
require_module("moesifwsgi")
from fastapi import FastAPI, Request  # noqa: E402
from flask import Flask, jsonify  # noqa: E402
from moesifapi.configuration import Configuration  # noqa: E402
from moesifapi.exceptions.api_exception import APIException  # noqa: E402
from moesifapi.models import EventModel, EventRequestModel, EventResponseModel  # noqa: E402
from moesifapi.moesif_api_client import MoesifAPIClient  # noqa: E402
from moesifasgi import MoesifMiddleware as AsgiMiddleware  # noqa: E402
from moesifwsgi import MoesifMiddleware as WsgiMiddleware  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def quiet_scheduler_at_exit() -> Iterator[None]:
    """moesifasgi's atexit hook never stops its APScheduler (it registers ``lambda:
    self.exit_config_job`` without calling it), so the scheduler logs an error when the
    interpreter shuts its thread pool down. Harmless; silenced after the module."""
    yield
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)


def bearer(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWT whose payload uses the url-safe alphabet."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert "-" in payload or "_" in payload  # Moesif's own decoder fails on these
    return f"Bearer eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"


def api_calls(server: LiveServer, user_id: str, n: int) -> list[dict[str, Any]]:
    """Wait until the person of ``user_id`` has ``n`` API calls; their events."""
    def probe() -> list[dict[str, Any]] | None:
        with server.query() as q:
            r = q.get("/api/v1/persons/lookup", params={"user_id": user_id})
        if r.status_code != 200:
            return None
        events = [e for e in timeline(server, r.json()["id"]) if e["event"] == "API Call"]
        return events if len(events) >= n else None
    return until(probe, f"{n} API calls of {user_id}")


@pytest.fixture
def body_capture(shared_server: LiveServer) -> Iterator[None]:
    with shared_server.query() as q:
        assert q.patch("/api/v1/projects/current/settings", json={"body_capture": True}).status_code == 200
        yield
        q.patch("/api/v1/projects/current/settings", json={"body_capture": False})


def test_moesifasgi_calls_belong_to_the_identified_or_jwt_user_and_their_company(shared_server: LiveServer) -> None:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id}

    @app.post("/signup")
    async def signup(request: Request) -> dict[str, Any]:
        return {"ok": True, "got": await request.json()}

    app.add_middleware(AsgiMiddleware, settings={
        "APPLICATION_ID": WRITE_KEY, "BASE_URI": shared_server.url, "API_VERSION": "2.1",
        "IDENTIFY_USER": lambda req, resp: req.headers.get("x-user"),
        "IDENTIFY_COMPANY": lambda req, resp: req.headers.get("x-company"),
    })
    with uvicorn_server(app) as host:
        assert httpx.get(host + "/items/7?full=1", headers={"x-user": "asgi-u1", "x-company": "asgi-co"}).status_code == 200
        assert httpx.post(host + "/signup", json={"email": "j@x.test"},
                          headers={"authorization": bearer({"sub": "asgi-jwt~user?>", "n": "ü"})}).status_code == 200
        calls = api_calls(shared_server, "asgi-u1", 1)
        jwt_calls = api_calls(shared_server, "asgi-jwt~user?>", 1)
    p = calls[0]["properties"]
    assert (p["method"], p["route"], p["status"], p["api_version"], p["direction"]) == ("GET", "/items/7", 200, "2.1", "incoming")
    assert p["url"].endswith("/items/7?full=1") and p["duration_ms"] >= 0 and p["response_bytes"] > 0
    assert calls[0]["source"] == "moesif-api" and calls[0]["company_ids"] == ["asgi-co"]
    assert [c["id"] for c in person(shared_server, user_id="asgi-u1")["companies"]] == ["asgi-co"]  # type: ignore[union-attr, index]
    assert jwt_calls[0]["properties"]["method"] == "POST"
    assert "Bearer" not in json.dumps(jwt_calls) and "request_body" not in jwt_calls[0]["properties"]


def test_moesifwsgi_calls_profiles_and_captured_bodies(shared_server: LiveServer, body_capture: None) -> None:
    flask_app = Flask("moesif-e2e")

    @flask_app.post("/orders/<oid>")
    def order(oid: str) -> Any:
        resp = jsonify({"order": oid, "status": "paid"})
        resp.set_cookie("session", "cookie-secret")
        return resp

    middleware = WsgiMiddleware(flask_app.wsgi_app, {
        "APPLICATION_ID": WRITE_KEY, "BASE_URI": shared_server.url,
        "IDENTIFY_USER": lambda app, environ, resp_headers=None: environ.get("HTTP_X_USER"),
        "IDENTIFY_COMPANY": lambda app, environ, resp_headers=None: environ.get("HTTP_X_COMPANY"),
    })
    flask_app.wsgi_app = middleware  # type: ignore[method-assign]
    with werkzeug_server(flask_app) as host:
        r = httpx.post(host + "/orders/o-9", json={"card": "4242"},
                       headers={"x-user": "wsgi-u1", "x-company": "wsgi-co", "cookie": "session=req-secret"})
        assert r.status_code == 200
        calls = api_calls(shared_server, "wsgi-u1", 1)
    # The middleware's profile updates go through UserModel: every field, nulls included.
    middleware.update_user({"user_id": "wsgi-u1", "company_id": "wsgi-co", "metadata": {"email": "w@x.test", "plan": "team"}})
    middleware.update_company({"company_id": "wsgi-co", "company_domain": "wsgi.test", "metadata": {"name": "Wsgi Co"}})
    p = until(lambda: (lambda x: x if x["traits"] else None)(person(shared_server, user_id="wsgi-u1")), "wsgi-u1 traits")
    assert p["traits"] == {"email": "w@x.test", "plan": "team"}
    company = until(lambda: next((c for c in person(shared_server, user_id="wsgi-u1")["companies"]  # type: ignore[union-attr]
                                  if c["traits"]), None), "wsgi-co traits")
    assert company == {"id": "wsgi-co", "name": "Wsgi Co", "traits": {"name": "Wsgi Co", "company_domain": "wsgi.test"}}
    props = calls[0]["properties"]
    assert props["route"] == "/orders/o-9" and props["status"] == 200
    assert props["request_body"] == {"card": "4242"} and props["response_body"]["order"] == "o-9"
    text = json.dumps(calls)
    assert "cookie-secret" not in text and "req-secret" not in text
    assert not {k.lower() for k in props["request_headers"]} & {"cookie", "authorization"}
    assert "set-cookie" not in {k.lower() for k in props["response_headers"]}


def test_moesifapi_single_event_users_and_a_wrong_key(shared_server: LiveServer) -> None:
    Configuration.BASE_URI = shared_server.url
    api = MoesifAPIClient(SECRET_KEY).api
    event = EventModel(
        request=EventRequestModel(time="2026-11-22T10:00:00.000", uri="https://api.test/v2/report?x=1", verb="GET",
                                  headers={"Authorization": "Basic " + base64.b64encode(b"basic-user:pw").decode()}),
        response=EventResponseModel(time="2026-11-22T10:00:00.250", status=503, headers={}),
        transaction_id="mapi-tx-1", direction="Outgoing")
    api.create_event(event)  # gzip, one object, /v1/events
    api.create_event(event)  # a resend: one stored event
    api.update_user({"user_id": "basic-user", "metadata": {"name": "Basic"}})
    calls = [e for e in stored(shared_server) if e["id"] == "mapi-tx-1"]
    assert len(calls) == 1 and calls[0]["user_id"] == "basic-user"
    assert calls[0]["properties"]["status"] == 503 and calls[0]["properties"]["direction"] == "outgoing"
    assert calls[0]["properties"]["duration_ms"] == 250.0
    assert person(shared_server, user_id="basic-user")["traits"] == {"name": "Basic"}
    wrong = MoesifAPIClient("wk_wrong_0123456789abcdefghijkl").api
    with pytest.raises(APIException) as info:
        wrong.create_event(EventModel(request=event.request, response=event.response, transaction_id="mapi-tx-2"))
    assert info.value.response_code == 401
    assert not [e for e in stored(shared_server) if e["id"] == "mapi-tx-2"]
