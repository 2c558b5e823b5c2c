"""The ASGI middleware under real FastAPI/Starlette apps, called through httpx's ASGI
transport; events land in a local fake collector and are inspected there."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from tests.middleware.servers import bearer
from tests.sdk.fake_collector import FakeCollector, Reply
from threadline.middleware import ASGIMiddleware, CapturedRequest, CapturedResponse, set_user

KEY = "wk_test_0123456789abcdefghijklmn"
CANONICAL = {"method", "url", "route", "status", "duration_ms", "request_bytes", "response_bytes",
             "ip", "user_agent", "api_version", "transaction_id", "direction"}


def make_app() -> FastAPI:
    app = FastAPI()
    sub = FastAPI()

    @app.get("/users/{user_id}")
    async def get_user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "Ada"}

    @app.post("/login")
    async def login(request: Request) -> dict[str, Any]:
        body = await request.json()
        set_user(request, body["email"], company_id="set-co")
        return {"ok": True, "token": "tok-123"}

    @app.post("/echo")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse((await request.body()).decode(), headers={"Set-Cookie": "s=1"})

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"x" * 1000

        return StreamingResponse(chunks())

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/health")
    async def health() -> str:
        return "ok"

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    @sub.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"item": item_id}

    app.mount("/v2", sub)
    return app


def wrap(app: Any, collector: FakeCollector, **kw: Any) -> ASGIMiddleware:
    return ASGIMiddleware(app, key=KEY, host=collector.url, flush_interval=0.05, **kw)


async def _call(app: Any, requests: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.9", 5))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return [await client.request(method, path, **kw) for method, path, kw in requests]


def call(mw: ASGIMiddleware, *requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    return asyncio.run(_call(mw, list(requests)))


def api_calls(mw: ASGIMiddleware, collector: FakeCollector) -> list[dict[str, Any]]:
    assert mw.client.flush(10)
    return [m for m in collector.stored_messages() if m.get("event") == "API Call"]


def test_every_call_is_an_api_call_event_in_the_canonical_shape(collector: FakeCollector) -> None:
    mw = wrap(make_app(), collector)
    (resp,) = call(mw, ("GET", "/users/42?x=1", {"headers": {"User-Agent": "client/1.0"}}))
    assert resp.json() == {"id": 42, "name": "Ada"}
    (event,) = api_calls(mw, collector)
    props = event["properties"]
    assert set(props) == CANONICAL  # no bodies and no headers unless asked for
    assert event["type"] == "track"
    assert props["method"] == "GET"
    assert props["url"] == "http://api.test/users/42?x=1"
    assert props["route"] == "/users/{user_id}"
    assert props["status"] == 200
    assert props["response_bytes"] == len(resp.content)
    assert props["request_bytes"] == 0
    assert props["duration_ms"] > 0
    assert props["ip"] == "203.0.113.9"
    assert props["user_agent"] == "client/1.0"
    assert props["direction"] == "incoming"
    assert props["transaction_id"] == event["messageId"]
    assert event["context"]["library"]["name"] == "threadline-middleware"
    assert event["context"]["ip"] == "203.0.113.9"
    assert event["context"]["userAgent"] == "client/1.0"
    mw.client.shutdown()


def test_routes_of_mounts_unmatched_paths_errors_and_streams(collector: FakeCollector) -> None:
    mw = wrap(make_app(), collector)
    responses = call(mw, ("GET", "/v2/items/abc", {}), ("GET", "/nope", {}),
                     ("GET", "/boom", {}), ("GET", "/stream", {}))
    assert [r.status_code for r in responses] == [200, 404, 500, 200]
    by_path = {e["properties"]["url"].split("api.test")[1]: e["properties"]
               for e in api_calls(mw, collector)}
    assert by_path["/v2/items/abc"]["route"] == "/v2/items/{item_id}"
    assert by_path["/nope"]["route"] == "/nope" and by_path["/nope"]["status"] == 404
    assert by_path["/boom"]["status"] == 500
    assert by_path["/stream"]["response_bytes"] == 5000
    mw.client.shutdown()


def test_who_called_headers_then_jwt_then_framework_user(collector: FakeCollector) -> None:
    class Backend(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
            name = conn.headers.get("x-session-user")
            return (AuthCredentials(["authenticated"]), SimpleUser(name)) if name else None

    app = make_app()
    app.add_middleware(AuthenticationMiddleware, backend=Backend())
    mw = wrap(app, collector)
    jwt_headers = bearer({"sub": "jwt-user", "org_id": "jwt-co"})
    call(
        mw,
        ("GET", "/users/1", {"headers": {"X-User-Id": "hdr-user", "X-Company-Id": "hdr-co",
                                          **jwt_headers}}),
        ("GET", "/users/2", {"headers": jwt_headers}),
        ("GET", "/users/3", {"headers": {"X-Session-User": "sess-user"}}),
        ("POST", "/login", {"json": {"email": "set-user"}, "headers": jwt_headers}),
        ("GET", "/users/4", {}),
    )
    events = api_calls(mw, collector)
    who = [(e.get("userId"), e["context"].get("groupId")) for e in events]
    assert who == [("hdr-user", "hdr-co"), ("jwt-user", "jwt-co"), ("sess-user", None),
                   ("set-user", "set-co"), (None, None)]
    mw.client.shutdown()


def test_a_membership_group_call_is_sent_once_per_user_and_company(collector: FakeCollector) -> None:
    mw = wrap(make_app(), collector)
    alice = bearer({"sub": "alice", "company_id": "acme"})
    call(mw, *[("GET", f"/users/{i}", {"headers": alice}) for i in range(3)],
         ("GET", "/users/9", {"headers": bearer({"sub": "bob", "company_id": "acme"})}))
    assert mw.client.flush(10)
    groups = [m for m in collector.stored_messages() if m["type"] == "group"]
    assert sorted((g["userId"], g["groupId"]) for g in groups) == [("alice", "acme"), ("bob", "acme")]
    first_call = next(m for m in collector.stored_messages() if m.get("userId") == "alice"
                      and m["type"] == "track")
    alice_group = next(g for g in groups if g["userId"] == "alice")
    assert alice_group["timestamp"] < first_call["timestamp"]  # member before the call
    assert alice_group["context"]["library"]["name"] == "threadline-middleware"
    mw.client.shutdown()


def test_custom_hooks_skip_and_mask(collector: FakeCollector) -> None:
    def user(request: CapturedRequest, response: CapturedResponse) -> str:
        return f"{request.method}-{response.status}"

    def company(request: CapturedRequest, response: CapturedResponse) -> str | None:
        raise RuntimeError("a hook bug must not lose the event")

    def mask(event: dict[str, Any]) -> dict[str, Any] | None:
        if event["properties"]["route"] == "/users/{user_id}" and event["properties"]["status"] == 200:
            event["properties"]["masked"] = True
            event["properties"]["password"] = "leak"  # redaction still runs after the mask
            return event
        return None  # drop everything else

    mw = wrap(make_app(), collector, identify_user=user, identify_company=company,
              skip=lambda r: r.path == "/health", mask_event=mask, api_version="2024-06")
    call(mw, ("GET", "/health", {}), ("GET", "/users/5", {}), ("GET", "/nope", {}))
    (event,) = api_calls(mw, collector)
    assert event["userId"] == "GET-200"
    assert "groupId" not in event["context"]
    assert event["properties"]["masked"] is True
    assert event["properties"]["password"] == "[REDACTED]"
    assert event["properties"]["api_version"] == "2024-06"
    mw.client.shutdown()


def test_bodies_are_off_by_default_and_redacted_when_on(collector: FakeCollector) -> None:
    login = ("POST", "/login?api_key=k1&page=2",
             {"json": {"email": "e@x.io", "password": "hunter2",
                       "profile": {"ssn": "123-45-6789", "cards": [{"cvv": "999"}]}},
              "headers": {"Cookie": "tl_aid=abc", "X-Secret-Header": "v"}})
    off = wrap(make_app(), collector)
    call(off, login)
    (plain,) = api_calls(off, collector)
    assert "request_body" not in plain["properties"] and "request_headers" not in plain["properties"]
    assert plain["properties"]["url"] == "http://api.test/login?api_key=[REDACTED]&page=2"
    off.client.shutdown()

    with FakeCollector() as second:
        on = wrap(make_app(), second, capture_body=True, capture_headers=True,
                  redact_fields=["ssn", "x-secret-header"])
        call(on, login, ("POST", "/echo", {"content": "token=abc&keep=1",
                                           "headers": {"Content-Type": "text/plain"}}))
        event, echo = api_calls(on, second)
    props = event["properties"]
    assert props["request_body"] == {
        "email": "e@x.io", "password": "[REDACTED]",
        "profile": {"ssn": "[REDACTED]", "cards": [{"cvv": "[REDACTED]"}]},
    }
    assert props["request_body_truncated"] is False
    assert props["response_body"] == {"ok": True, "token": "[REDACTED]"}
    assert props["request_headers"]["cookie"] == "[REDACTED]"
    assert props["request_headers"]["x-secret-header"] == "[REDACTED]"
    assert echo["properties"]["request_body"] == "token=[REDACTED]&keep=1"
    assert echo["properties"]["response_headers"]["set-cookie"] == "[REDACTED]"
    on.client.shutdown()


def test_large_bodies_are_cut_flagged_and_the_event_fits_the_message_limit(
    collector: FakeCollector,
) -> None:
    mw = wrap(make_app(), collector, capture_body=True, max_body_bytes=64 * 1024)
    big = "a" * 50_000
    call(mw, ("POST", "/echo", {"content": big, "headers": {"Content-Type": "text/plain"}}))
    (event,) = api_calls(mw, collector)
    props = event["properties"]
    assert props["request_body_truncated"] is True and props["response_body_truncated"] is True
    assert props["request_bytes"] == 50_000 and props["response_bytes"] == 50_000
    assert collector.requests[-1].raw_bytes < 32 * 1024 + 200
    assert mw.client.stats().dropped_oversized == 0
    mw.client.shutdown()


def test_anonymous_calls_carry_the_browser_id_and_websockets_pass_through(
    collector: FakeCollector,
) -> None:
    mw = wrap(make_app(), collector)
    call(mw, ("GET", "/users/7", {"headers": {"Cookie": "tl_aid=%22visitor-1%22"}}))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "root_path": "",
             "query_string": b"", "headers": [], "scheme": "ws", "subprotocols": []}
    asyncio.run(mw(scope, receive, send))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    (event,) = api_calls(mw, collector)  # the websocket made no API Call
    assert event["anonymousId"] == "visitor-1" and "userId" not in event
    mw.client.shutdown()


def test_the_response_does_not_wait_for_the_collector() -> None:
    with FakeCollector() as slow:
        slow.then(*[Reply(delay=5.0)] * 3)
        mw = wrap(make_app(), slow, flush_at=1)
        responses = call(mw, *[("GET", f"/users/{i}", {}) for i in range(20)])
        assert all(r.status_code == 200 for r in responses)
        assert max(r.elapsed.total_seconds() for r in responses) < 1.0
        slow.release.set()
        assert mw.client.flush(10)
        assert len(slow.stored) == 20
        mw.client.shutdown()


def test_middleware_does_not_import_a_framework() -> None:
    code = ("import sys, threadline.middleware, threadline.sdk; "
            "bad = [m for m in ('fastapi', 'flask', 'django', 'starlette') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
