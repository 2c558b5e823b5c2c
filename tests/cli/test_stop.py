"""``threadline serve`` stops on SIGTERM within ``LiveServer.stop()``'s bound (which
fails the test otherwise), with the demo loaded at start-up too: the demo check's read
cursor used to keep a snapshot through the load, and closing the store then spun in
DuckDB's checkpoint for minutes."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import SECRET_KEY, start_server


def test_serve_with_the_demo_loaded_exits_promptly_on_sigterm(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", extra_env={"THREADLINE_DEMO": "true"})
    try:
        assert "demo events stored" in server.log()
        r = httpx.get(server.url + "/api/v1/persons", headers={"Authorization": f"Bearer {SECRET_KEY}"})
        assert r.status_code == 200 and r.json()["data"]
    finally:
        server.stop()  # fails the test when the server outlives the bound
    assert server.proc is not None and server.proc.poll() is not None


def test_plain_serve_exits_promptly_on_sigterm(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    server.stop()
    assert server.proc is not None and server.proc.poll() is not None
