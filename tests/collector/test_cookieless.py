"""Cookieless visitors (api.md, "Cookieless visitor id") and the ip policy, over HTTP."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import WRITE_KEY, LiveServer, start_server
from threadline.storage.duckdb_store import DuckDBStore

DAY = "2026-01-15"
_n = 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("cookieless") / "data", extra_env={"THREADLINE_FIXED_DAY": DAY})
    yield s
    s.stop()


def page(server: LiveServer, ua: str, url: str = "https://Shop.Example:8443/a", **extra: object) -> None:
    global _n
    _n += 1  # a message without messageId or timestamp is identified by its content
    msg = {"type": "page", "messageId": f"cl-{_n}", "context": {"cookieless": True, "page": {"url": url}}, **extra}
    r = httpx.post(server.url + "/v1/batch", json={"batch": [msg]}, auth=(WRITE_KEY, ""),
                   headers={"user-agent": ua})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def events(server: LiveServer) -> list[dict[str, object]]:
    with server.query() as q:
        return list(q.get("/api/v1/events", params={"limit": 1000}).json()["data"])


def test_same_day_site_ip_and_agent_give_one_visitor_that_identify_links(server: LiveServer) -> None:
    page(server, "UA-1")
    page(server, "UA-1", url="https://shop.example/b")  # same site: host lower-cased, port dropped
    page(server, "UA-2")
    by_id = {e["id"]: e["anonymous_id"] for e in events(server)}
    ids = [by_id["cl-1"], by_id["cl-2"], by_id["cl-3"]]
    assert ids[0] == ids[1] != ids[2]
    assert str(ids[0]).startswith("cv_") and len(str(ids[0])) == 35
    page(server, "UA-1", userId="cookieless-user")
    with server.query() as q:
        person = q.get("/api/v1/persons/lookup", params={"user_id": "cookieless-user"}).json()
    assert ids[0] in person["anonymous_ids"]
    assert person["event_count"] == 3


def test_the_visitor_id_is_the_documented_hmac_and_the_salt_is_per_project_and_day(server: LiveServer) -> None:
    page(server, "UA-hmac", url="https://hmac.example/")
    got = next(e["anonymous_id"] for e in events(server) if e["context"]["page"]["url"] == "https://hmac.example/")  # type: ignore[index]
    server.stop()
    store = DuckDBStore(server.data_dir / "threadline.duckdb", read_only=True)
    salt = store.read().execute("SELECT salt FROM salts WHERE project_id = 'default' AND day = ?::DATE", [DAY]).fetchone()
    store.con.close()
    assert salt is not None
    expected = "cv_" + hmac.new(bytes.fromhex(salt[0]), b"hmac.example\n127.0.0.1\nUA-hmac", hashlib.sha256).hexdigest()[:32]
    assert got == expected


def test_ip_policy_strict_stores_a_truncated_address(tmp_path: Path) -> None:
    s = start_server(tmp_path / "data")
    try:
        with s.query() as q:
            assert q.patch("/api/v1/projects/current/settings", json={"ip_policy": "strict"}).status_code == 200
        page(s, "UA-ip")
        assert [e["context"]["ip"] for e in events(s)] == ["127.0.0.0"]  # type: ignore[index]
    finally:
        s.stop()
