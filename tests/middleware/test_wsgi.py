"""The WSGI middleware under a real Flask app (Werkzeug's test client drives the WSGI
callable as a server would, closing the response) and under bare WSGI apps."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

import flask
import pytest

from tests.middleware.servers import bearer
from tests.sdk.fake_collector import FakeCollector
from threadline.middleware import WSGIMiddleware, set_user

KEY = "wk_test_0123456789abcdefghijklmn"


def make_app(collector: FakeCollector, **kw: Any) -> tuple[flask.Flask, WSGIMiddleware]:
    app = flask.Flask("wsgi-test")

    @app.get("/users/<int:user_id>")
    def get_user(user_id: int) -> dict[str, Any]:
        return {"id": user_id}

    @app.post("/login")
    def login() -> dict[str, Any]:
        body = flask.request.get_json()
        set_user(flask.request, body["email"])
        return {"ok": True, "access_token": "t-1"}

    @app.get("/stream")
    def stream() -> flask.Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(4):
                yield b"y" * 500

        return flask.Response(chunks())

    @app.get("/fail")
    def fail() -> None:
        raise RuntimeError("handled by Flask as a 500")

    mw = WSGIMiddleware(app.wsgi_app, key=KEY, host=collector.url, flush_interval=0.05, **kw)
    app.wsgi_app = mw  # type: ignore[method-assign]
    return app, mw


def api_calls(mw: WSGIMiddleware, collector: FakeCollector) -> list[dict[str, Any]]:
    assert mw.client.flush(10)
    return [m for m in collector.stored_messages() if m.get("event") == "API Call"]


def test_flask_calls_are_recorded_with_their_route_template(collector: FakeCollector) -> None:
    app, mw = make_app(collector)
    client = app.test_client()
    r = client.get("/users/42?q=1", headers={"User-Agent": "ua/2", **bearer({"sub": "u-42",
                                                                              "tenant_id": "t-1"})},
                   environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert r.json == {"id": 42}
    assert client.get("/stream").data == b"y" * 2000
    assert client.get("/fail").data
    assert client.get("/missing").data
    user_call, stream_call, fail_call, missing_call = api_calls(mw, collector)
    props = user_call["properties"]
    assert props["route"] == "/users/<int:user_id>"
    assert props["url"] == "http://localhost/users/42?q=1"
    assert (props["method"], props["status"], props["ip"], props["user_agent"]) == (
        "GET", 200, "198.51.100.4", "ua/2")
    assert props["response_bytes"] == len(r.data)
    assert user_call["userId"] == "u-42" and user_call["context"]["groupId"] == "t-1"
    assert stream_call["properties"]["response_bytes"] == 2000
    assert fail_call["properties"]["status"] == 500
    assert missing_call["properties"]["route"] == "/missing"
    mw.client.shutdown()


def test_request_bodies_are_teed_and_redacted(collector: FakeCollector) -> None:
    app, mw = make_app(collector, capture_body=True)
    payload = b'{"email": "ada@x.io", "password": "pw", "deep": {"refresh_token": "r"}}'
    r = app.test_client().post("/login", data=payload, content_type="application/json")
    assert r.json == {"ok": True, "access_token": "t-1"}
    (event,) = api_calls(mw, collector)
    props = event["properties"]
    assert event["userId"] == "ada@x.io"  # set_user in the view
    assert props["request_body"] == {"email": "ada@x.io", "password": "[REDACTED]",
                                     "deep": {"refresh_token": "[REDACTED]"}}
    assert props["response_body"] == {"ok": True, "access_token": "[REDACTED]"}
    assert props["request_bytes"] == len(payload)
    mw.client.shutdown()


def environ(path: str = "/", **extra: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "svc", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.1.2.3", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    env.update(extra)
    return env


def run(app: Any, env: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []

    def start_response(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(s)
        return lambda data: None

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return status[0], body


def test_bare_wsgi_remote_user_write_channel_and_close(collector: FakeCollector) -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"abc"

        def close(self) -> None:
            closed.append(True)

    def app(env: dict[str, Any], start_response: Any) -> Any:
        write = start_response("201 Created", [("Content-Type", "text/plain")])
        write(b"legacy-")  # the pre-iterator write() channel still counts
        return Body()

    mw = WSGIMiddleware(app, key=KEY, host=collector.url, flush_interval=0.05)
    status, body = run(mw, environ("/caf\xc3\xa9", REMOTE_USER="remote-7", QUERY_STRING="a=b"))
    assert (status, body, closed) == ("201 Created", b"abc", [True])
    (event,) = api_calls(mw, collector)  # type: ignore[arg-type]
    props = event["properties"]
    assert event["userId"] == "remote-7"
    assert props["url"] == "http://svc:8080/café?a=b"
    assert props["status"] == 201 and props["response_bytes"] == len(b"legacy-abc")
    mw.client.shutdown()


def test_an_exception_is_recorded_as_500_and_re_raised(collector: FakeCollector) -> None:
    def app(env: dict[str, Any], start_response: Any) -> Any:
        raise ValueError("app bug")

    mw = WSGIMiddleware(app, key=KEY, host=collector.url, flush_interval=0.05)
    with pytest.raises(ValueError, match="app bug"):
        run(mw, environ("/x"))
    (event,) = api_calls(mw, collector)  # type: ignore[arg-type]
    assert event["properties"]["status"] == 500
    mw.client.shutdown()
