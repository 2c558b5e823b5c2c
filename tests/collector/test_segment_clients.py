"""What Segment's and RudderStack's own clients send where it differs from the plain
spec: identify traits in ``context.traits``, ``originalTimestamp`` without
``timestamp``, the ``/v1/b`` and ``/beacon/v1/batch`` paths, the settings documents the
browser SDKs load first, error answers their Python clients can read, and messages
without ``messageId`` or without any id. In-process over ``create_app()``; the real
clients drive the same routes in tests/e2e/test_segment_clients.py and
test_rudderstack_clients.py."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from tests.compat.helpers import info, us
from tests.conftest import SECRET_KEY, WRITE_KEY
from threadline.app import create_app
from threadline.collector.formats import segment
from threadline.collector.formats.common import InvalidMessage
from threadline.settings import Settings

pytestmark = pytest.mark.anyio
ORIGIN = "https://shop.test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    application = create_app(Settings(data_dir=tmp_path, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    try:
        yield application
    finally:
        application.state.services.store.close()


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tl.test:8750")


async def events(app: Starlette, **params: Any) -> list[dict[str, Any]]:
    async with client(app) as c:
        r = await c.get("/api/v1/events", params={"limit": 100, **params},
                        headers={"Authorization": f"Bearer {SECRET_KEY}"})
        assert r.status_code == 200, r.text
        return list(r.json()["data"])


async def person(app: Starlette, **lookup: str) -> dict[str, Any]:
    async with client(app) as c:
        r = await c.get("/api/v1/persons/lookup", params=lookup,
                        headers={"Authorization": f"Bearer {SECRET_KEY}"})
        assert r.status_code == 200, r.text
        return dict(r.json())


# --- the format -------------------------------------------------------------------


def test_identify_traits_are_read_from_context_traits_and_the_top_level_wins() -> None:
    raw = {"type": "identify", "userId": "u", "messageId": "m1",
           "context": {"traits": {"email": "ctx@x.test", "plan": "free"}},
           "traits": {"plan": "pro"}}
    msg = segment.parse_message(raw, info())
    assert msg.traits == {"email": "ctx@x.test", "plan": "pro"}
    only_ctx = segment.parse_message({**raw, "traits": None}, info())
    assert only_ctx.traits == {"email": "ctx@x.test", "plan": "free"}


def test_context_traits_of_other_types_are_context_only() -> None:
    raw = {"type": "track", "event": "E", "userId": "u", "messageId": "m2",
           "context": {"traits": {"email": "ctx@x.test"}}}
    msg = segment.parse_message(raw, info())
    assert msg.traits == {} and msg.context["traits"] == {"email": "ctx@x.test"}


def test_original_timestamp_is_the_client_time_with_the_sent_at_skew_correction() -> None:
    # The device clock is 10 minutes behind: sentAt shows it, and the event moves with it.
    raw = {"type": "track", "event": "E", "anonymousId": "a", "messageId": "m3",
           "originalTimestamp": "2026-11-22T19:19:50.000Z", "sentAt": "2026-11-22T19:20:00.000Z"}
    msg = segment.parse_message(raw, info(received="2026-11-22T19:30:00Z"))
    assert msg.timestamp_us == us("2026-11-22T19:29:50Z")
    # With both, timestamp is the client time (Segment's stored exports carry both).
    both = {**raw, "timestamp": "2026-11-22T19:19:00.000Z"}
    assert segment.parse_message(both, info(received="2026-11-22T19:30:00Z")).timestamp_us == us(
        "2026-11-22T19:29:00Z")


def test_messages_without_message_id_get_a_fresh_server_id_each() -> None:
    raw = {"type": "track", "event": "E", "userId": "u", "timestamp": "2026-11-22T19:00:00Z"}
    first, second = (segment.parse_message(raw, info()) for _ in range(2))
    assert first.message_id != second.message_id
    assert first.message_id.startswith("s_")


@pytest.mark.parametrize("ids", [{}, {"userId": None}, {"userId": None, "anonymousId": None}])
def test_a_message_with_neither_user_id_nor_anonymous_id_is_missing_id(ids: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessage) as exc:
        segment.parse_message({"type": "page", "messageId": "m4", **ids}, info())
    assert exc.value.code == "missing_id"


@pytest.mark.parametrize("raw", [
    {"type": "page", "anonymousId": "undefined"},  # junk: present, stored personless
    {"type": "page", "anonymousId": ""},
    {"type": "page", "context": {"cookieless": True}},  # the server derives the id
    {"type": "track", "event": "API Call",  # Threadline's middleware: anonymous API calls
     "context": {"library": {"name": "threadline-middleware"}}},
])
def test_junk_ids_cookieless_and_middleware_api_calls_stay_valid(raw: dict[str, Any]) -> None:
    segment.parse_message({"messageId": "m5", **raw}, info())


# --- the routes ---------------------------------------------------------------------


async def test_missing_id_is_rejected_by_index_and_quarantined(app: Starlette) -> None:
    async with client(app) as c:
        r = await c.post("/v1/batch", auth=(WRITE_KEY, ""), json={"batch": [
            {"type": "track", "event": "No Id", "messageId": "nid-1"},
            {"type": "track", "event": "Junk Id", "anonymousId": "undefined", "messageId": "nid-2"}]})
        assert r.json() == {"accepted": 1, "duplicates": 0, "rejected": [
            {"index": 0, "code": "missing_id", "reason": "a message needs a userId or an anonymousId"}]}
        q = await c.get("/api/v1/quarantine", headers={"Authorization": f"Bearer {SECRET_KEY}"})
        assert [row["code"] for row in q.json()["data"]] == ["missing_id"]
    assert [e["event"] for e in await events(app)] == ["Junk Id"]


async def test_analytics_js_batching_path_v1_b(app: Starlette) -> None:
    body = {"writeKey": WRITE_KEY, "sentAt": "2026-11-22T10:00:01.000Z", "batch": [
        {"type": "track", "event": "Batched", "anonymousId": "b-anon", "messageId": "vb-1",
         "timestamp": "2026-11-22T10:00:00.000Z"}]}
    async with client(app) as c:
        pre = await c.options("/v1/b", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "authorization,content-type"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == ORIGIN
        r = await c.post("/v1/b", content=orjson.dumps(body), auth=(WRITE_KEY, ""),
                         headers={"content-type": "text/plain", "origin": ORIGIN})
        assert r.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
        assert r.headers["access-control-allow-origin"] == ORIGIN
    assert [e["event"] for e in await events(app)] == ["Batched"]


async def test_rudderstack_beacon_with_the_key_in_the_query_string(app: Starlette) -> None:
    body = {"sentAt": "2026-11-22T10:00:01.000Z", "batch": [
        {"type": "page", "anonymousId": "r-anon", "messageId": "bc-1", "channel": "web",
         "originalTimestamp": "2026-11-22T10:00:00.000Z", "sentAt": "2026-11-22T10:00:01.000Z"}]}
    async with client(app) as c:
        r = await c.post(f"/beacon/v1/batch?writeKey={WRITE_KEY}", content=orjson.dumps(body),
                         headers={"content-type": "text/plain;charset=UTF-8", "origin": ORIGIN})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        assert r.headers["access-control-allow-origin"] == ORIGIN
        wrong = await c.post("/beacon/v1/batch?writeKey=wk_wrong_0123456789abcdefghijkl",
                             content=orjson.dumps(body))
        assert wrong.status_code == 401
    assert [e["id"] for e in await events(app)] == ["bc-1"]
    assert "writeKey" not in orjson.dumps(await events(app)).decode()


async def test_segment_route_errors_carry_code_and_message_at_the_top_level(app: Starlette) -> None:
    async with client(app) as c:
        for path, kw in (("/v1/batch", {"auth": ("wk_wrong_0123456789abcdefghijkl", "")}),
                         ("/v1/track", {"auth": ("wk_wrong_0123456789abcdefghijkl", "")}),
                         ("/v1/b", {}), ("/beacon/v1/batch", {})):
            r = await c.post(path, json={"batch": []}, **kw)  # type: ignore[arg-type]
            assert r.status_code == 401, path
            body = r.json()
            assert body["code"] == "unauthorized" and body["message"] == body["error"]["message"]
            assert body["error"]["code"] == "unauthorized"
        bad = await c.post("/v1/batch", content=b"{nope", auth=(WRITE_KEY, ""))
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_json"
        one = await c.post("/v1/track", json={"userId": "u"}, auth=(WRITE_KEY, ""))
        assert one.status_code == 422 and one.json()["code"] == "invalid_message"
        # The query API keeps api.md's shape alone.
        q = await c.get("/api/v1/persons", headers={"Authorization": "Bearer sk_wrong_0123456789abcdefghijk"})
        assert q.status_code == 401 and set(q.json()) == {"error"}


async def test_analytics_js_settings_name_this_server_and_send_no_metrics(app: Starlette) -> None:
    async with client(app) as c:
        r = await c.get(f"/v1/projects/{WRITE_KEY}/settings", headers={"origin": ORIGIN})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
        doc = r.json()
        assert doc["integrations"] == {"Segment.io": {
            "apiKey": WRITE_KEY, "apiHost": "tl.test:8750/v1", "protocol": "http",
            "unbundledIntegrations": [], "addBundledMetadata": False, "maybeBundledConfigIds": {}}}
        assert doc["metrics"]["sampleRate"] == 0 and doc["remotePlugins"] == []
        # X-Forwarded-Proto counts only from a trusted proxy (none is configured here).
        spoofed = await c.get(f"/v1/projects/{WRITE_KEY}/settings", headers={"x-forwarded-proto": "https"})
        assert spoofed.json()["integrations"]["Segment.io"]["protocol"] == "http"
        unknown = await c.get("/v1/projects/wk_wrong_0123456789abcdefghijkl/settings")
        assert unknown.status_code == 401 and unknown.json()["code"] == "unauthorized"


async def test_analytics_js_settings_behind_a_trusted_tls_proxy_name_https(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, write_key=WRITE_KEY, secret_key=SECRET_KEY,
                              trusted_proxies="10.0.0.0/8"))
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 4000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://tl.example.com") as c:
            r = await c.get(f"/v1/projects/{WRITE_KEY}/settings", headers={"x-forwarded-proto": "https"})
        segment_io = r.json()["integrations"]["Segment.io"]
        assert (segment_io["protocol"], segment_io["apiHost"]) == ("https", "tl.example.com/v1")
    finally:
        app.state.services.store.close()


async def test_rudderstack_source_config(app: Starlette) -> None:
    basic = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    async with client(app) as c:
        for path, headers in ((f"/sourceConfig/?p=npm&v=3.34.1&writeKey={WRITE_KEY}", {}),
                              ("/sourceConfig", {"authorization": basic})):
            r = await c.get(path, headers={"origin": ORIGIN, **headers})
            assert r.status_code == 200, (path, r.text)
            assert r.headers["access-control-allow-origin"] == ORIGIN
            source = r.json()["source"]
            assert source["enabled"] is True and source["destinations"] == []
            assert source["writeKey"] == WRITE_KEY and source["id"]
            assert source["config"]["statsCollection"]["errors"]["enabled"] is False
        pre = await c.options("/sourceConfig/", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == ORIGIN
        assert (await c.get("/sourceConfig/?writeKey=nope")).status_code == 401
        # The SDK's ad-blocker probe carries no key: a failure would mean "blocked".
        assert (await c.head("/sourceConfig/?view=ad")).status_code == 200


async def test_identify_with_context_traits_reaches_the_person(app: Starlette) -> None:
    async with client(app) as c:
        r = await c.post("/v1/identify", auth=(WRITE_KEY, ""), json={
            "userId": "rs-u", "anonymousId": "rs-a", "messageId": "ct-1",
            "context": {"traits": {"email": "rs@x.test"}}})
        assert r.json()["accepted"] == 1
    assert (await person(app, user_id="rs-u"))["traits"] == {"email": "rs@x.test"}


async def test_only_the_secret_key_files_rejects_under_import_line_numbers(app: Starlette) -> None:
    """``threadline import`` names rejects by file line; the public write key cannot
    relabel what it sends as an import."""
    batch = {"batch": [{"type": "track", "anonymousId": "a1", "event": "ok"}, {"type": "bogus"}]}
    headers = {"X-Threadline-Import-Lines": "41,42"}
    async with client(app) as c:
        as_writer = await c.post("/v1/batch", json=batch, auth=(WRITE_KEY, ""), headers=headers)
        as_importer = await c.post("/v1/batch", json=batch, auth=(SECRET_KEY, ""), headers=headers)
        quarantine = await c.get("/api/v1/quarantine", headers={"Authorization": f"Bearer {SECRET_KEY}"})
    assert as_writer.json()["rejected"][0]["index"] == 1
    assert as_importer.json()["rejected"][0]["index"] == 42
    rows = sorted(quarantine.json()["data"], key=lambda r: r["index"])
    assert [(r["index"], r["source"]) for r in rows] == [(1, "native"), (42, "import")]
