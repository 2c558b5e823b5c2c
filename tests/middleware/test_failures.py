"""Threadline misbehaving must not hurt the host application.

Real apps under real servers (FastAPI on uvicorn, Flask on waitress, on loopback ports)
with the middleware pointed at a local fake collector that is down, slow, failing with
500 before answering 200, or refusing batches with 413. In every case the app answers
every request correctly and promptly, and every API call is delivered exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import fastapi
import flask
import httpx
import pytest

from tests.app_servers import uvicorn_server, waitress_server
from tests.middleware.servers import bearer
from tests.sdk.fake_collector import FakeCollector, Hangup, Reply
from threadline.middleware import ASGIMiddleware, WSGIMiddleware
from threadline.sdk import Backoff, Client

KEY = "wk_test_0123456789abcdefghijklmn"
REQUESTS = 20
# Far above a loopback request's time, far below the collector's stalls in these tests.
PROMPT = 1.0


def fastapi_app(client: Client) -> Any:
    app = fastapi.FastAPI()

    @app.get("/orders/{order_id}")
    async def order(order_id: int) -> dict[str, Any]:
        return {"order": order_id, "total": order_id * 10}

    return ASGIMiddleware(app, client=client)


def flask_app(client: Client) -> Any:
    app = flask.Flask("failures")

    @app.get("/orders/<int:order_id>")
    def order(order_id: int) -> dict[str, Any]:
        return {"order": order_id, "total": order_id * 10}

    return WSGIMiddleware(app.wsgi_app, client=client)


FRAMEWORKS: dict[str, tuple[Callable[[Client], Any], Callable[[Any], AbstractContextManager[str]]]] = {
    "fastapi-uvicorn": (fastapi_app, uvicorn_server),
    "flask-waitress": (flask_app, waitress_server),
}


@contextmanager
def host_app(framework: str, collector_url: str, **options: Any) -> Iterator[tuple[str, Client]]:
    make, serve = FRAMEWORKS[framework]
    settings: dict[str, Any] = {"flush_interval": 0.05, "backoff": Backoff(base=0.05, cap=0.2),
                                "max_retries": 200, "timeout": 10.0}
    settings.update(options)
    client = Client(KEY, collector_url, library={"name": "threadline-middleware"}, **settings)
    with serve(make(client)) as url:
        try:
            yield url, client
        finally:
            client.shutdown(timeout=2)


def exercise(url: str) -> None:
    """Call the app as its users would and check every answer and its latency."""
    with httpx.Client(base_url=url, timeout=10) as http:
        for i in range(REQUESTS):
            headers = bearer({"sub": f"user-{i % 4}", "company_id": "acme"})
            t0 = time.perf_counter()
            r = http.get(f"/orders/{i}", headers=headers)
            elapsed = time.perf_counter() - t0
            assert r.status_code == 200
            assert r.json() == {"order": i, "total": i * 10}
            assert elapsed < PROMPT, f"request {i} took {elapsed:.3f}s"


def assert_delivered_once(collector: FakeCollector, client: Client, rounds: int = 1) -> None:
    assert client.flush(20)
    calls = [m for m in collector.stored_messages() if m.get("event") == "API Call"]
    assert len(calls) == REQUESTS * rounds
    assert {m["properties"]["route"] for m in calls} <= {"/orders/{order_id}",
                                                         "/orders/<int:order_id>"}
    assert set(collector.stored.values()) == {1}, "a message was stored twice"
    groups = [m for m in collector.stored_messages() if m["type"] == "group"]
    assert len(groups) == 4  # one membership per (user, company)
    stats = client.stats()
    assert stats.failed == 0 and stats.dropped_queue_full == 0


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_collector_down_then_back(framework: str) -> None:
    hangup = Hangup()  # the collector's port drops every connection unanswered...
    with host_app(framework, f"http://127.0.0.1:{hangup.port}") as (url, client):
        exercise(url)
        assert hangup.wait_connections(1)
        hangup.close()  # ...then refuses them for a while...
        exercise(url)
        assert client.stats().accepted == 0
        with FakeCollector(port=hangup.port) as collector:  # ...then comes back.
            assert_delivered_once(collector, client, rounds=2)
            assert client.stats().retries >= 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_collector_slow(framework: str) -> None:
    with FakeCollector() as collector:
        collector.then(*[Reply(delay=3.0)] * 3)
        with host_app(framework, collector.url) as (url, client):
            exercise(url)
            collector.release.set()  # end the stalls rather than wait them out
            assert_delivered_once(collector, client)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_collector_500_then_200(framework: str) -> None:
    with FakeCollector() as collector:
        collector.then(Reply(500), Reply(500))
        with host_app(framework, collector.url) as (url, client):
            exercise(url)
            assert_delivered_once(collector, client)
        refused = [r for r in collector.requests if r.status == 500]
        retried = [r for r in collector.requests if r.status == 200]
        first_ids = [m["messageId"] for m in refused[0].batch]
        assert any([m["messageId"] for m in r.batch] == first_ids for r in retried)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_collector_413(framework: str) -> None:
    with FakeCollector(request_limit=2_500) as collector:
        with host_app(framework, collector.url, flush_interval=30) as (url, client):
            exercise(url)
            assert_delivered_once(collector, client)  # flush sends one big batch
        assert 413 in [r.status for r in collector.requests]
        assert all(r.raw_bytes <= 2_500 for r in collector.requests if r.status == 200)
