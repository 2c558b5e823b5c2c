"""CORS answers only on collector routes: the query API never echoes an Origin with
credentials, and a preflight on it gets no allow headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.ops.inprocess import client, running_app
from threadline.collector.cors import is_collector_path

pytestmark = pytest.mark.anyio
ORIGIN = "https://evil.example"
ALLOW = ("access-control-allow-origin", "access-control-allow-credentials",
         "access-control-allow-headers", "access-control-allow-methods")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("path", ["/api/v1/persons", "/api/v1/events", "/api/v1/events/stream",
                                  "/api/v1/quarantine", "/api/v1/openapi.json"])
async def test_query_api_never_echoes_the_origin(tmp_path: Path, path: str) -> None:
    async with running_app(tmp_path) as app, client(app, bearer=SECRET_KEY) as c:
        if path != "/api/v1/events/stream":
            r = await c.get(path, headers={"Origin": ORIGIN})
            assert r.status_code == 200, r.text
            assert not [h for h in ALLOW if h in r.headers], r.headers
        pre = await c.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                                              "Access-Control-Request-Headers": "authorization"})
        assert pre.status_code != 204
        assert not [h for h in ALLOW if h in pre.headers], pre.headers


async def test_collector_routes_keep_cors(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as c:
        pre = await c.options("/api/v1/event", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == ORIGIN
        r = await c.post("/v1/batch", json={"batch": []}, auth=(WRITE_KEY, ""), headers={"Origin": ORIGIN})
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert r.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize("path", [
    "/v1/batch", "/v1/t", "/v1/b", "/v1/events/batch", "/v1/actions", "/v1/config", "/v1/rules",
    "/beacon/v1/batch", "/v1/projects/wk_abcdefghijklmnopqrstuvwx/settings", "/sourceConfig",
    "/sourceConfig/", "/api/v1/event", "//api/v1/event", "/api/v1/s2s/event", "/api/v1/s2s/event/",
    "/api.abcde", "//api.abcde", "/t.js"])
def test_collector_paths_are_recognised(path: str) -> None:
    assert is_collector_path(path)


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/events/stream", "/api/v1/persons",
                                  "/api/v1/event/x", "/metrics", "/login", "/", "/api/v1/s2s/other"])
def test_other_paths_are_not_collector_paths(path: str) -> None:
    assert not is_collector_path(path)
