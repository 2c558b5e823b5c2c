"""Segment's own clients against the native collector, unchanged but for the host:
segment-analytics-python (PyPI; Basic auth with the write key, gzip), and the payloads
analytics.js sends (``writeKey`` in a ``text/plain`` body, to ``/v1/batch`` and the
short ``/v1/t``, ``/v1/p``, ``/v1/i``, ``/v1/g``, ``/v1/a`` paths)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.compat.helpers import person, stored, timeline
from tests.compat.hosts import until
from tests.conftest import WRITE_KEY, LiveServer, require_module

require_module("segment.analytics")
from segment.analytics import Client  # noqa: E402
from segment.analytics.request import APIError  # noqa: E402


def test_segment_python_with_gzip_builds_one_person_from_anonymous_to_identified(shared_server: LiveServer) -> None:
    errors: list[Any] = []
    client = Client(WRITE_KEY, host=shared_server.url, gzip=True, on_error=lambda e, b: errors.append(e),
                    upload_interval=0.05)
    # The client stamps milliseconds; explicit times keep the order of calls made within one.
    at = [dt.datetime(2026, 11, 22, 10, 0, i, tzinfo=dt.UTC) for i in range(6)]
    client.page(anonymous_id="seg-anon-1", category="Docs", name="Home", properties={"path": "/"}, timestamp=at[0])
    client.track(anonymous_id="seg-anon-1", event="Viewed Pricing", properties={"plan": "pro"}, timestamp=at[1])
    client.identify(user_id="seg-u1", anonymous_id="seg-anon-1", traits={"email": "s@x.test"}, timestamp=at[2])
    client.group(user_id="seg-u1", group_id="seg-co", traits={"name": "Seg Co"}, timestamp=at[3])
    client.track(user_id="seg-u1", event="Signed Up", timestamp=at[4])
    client.alias(previous_id="seg-old-id", user_id="seg-u1", timestamp=at[5])
    client.flush()
    client.join()
    assert errors == []
    p = until(lambda: (lambda x: x if x["event_count"] == 6 else None)(person(shared_server, user_id="seg-u1")),
              "six events of seg-u1")
    assert "seg-anon-1" in p["anonymous_ids"]  # type: ignore[operator]
    assert set(p["user_ids"]) == {"seg-u1", "seg-old-id"}  # type: ignore[arg-type]
    assert p["traits"] == {"email": "s@x.test"}
    assert [c["id"] for c in p["companies"]] == ["seg-co"]  # type: ignore[union-attr, index]
    events = timeline(shared_server, str(p["id"]))
    assert [e["type"] for e in events] == ["page", "track", "identify", "group", "track", "alias"]
    assert all(e["source"] == "native" for e in events)


def test_segment_python_with_a_wrong_key_reports_the_error_and_stores_nothing(shared_server: LiveServer) -> None:
    client = Client("wk_wrong_0123456789abcdefghijkl", host=shared_server.url, sync_mode=True, max_retries=0)
    with pytest.raises(APIError) as info:
        client.track(user_id="seg-never", event="x")
    assert info.value.status == 401
    assert not [e for e in stored(shared_server) if e["user_id"] == "seg-never"]


def analytics_js(server: LiveServer, path: str, body: dict[str, Any]) -> httpx.Response:
    """What analytics.js posts: the write key in the body, as ``text/plain`` (no preflight)."""
    payload = {**body, "writeKey": WRITE_KEY, "messageId": body.get("messageId", f"ajs-{uuid.uuid4()}"),
               "sentAt": "2026-11-22T10:00:01.000Z",
               "context": {"library": {"name": "analytics.js", "version": "next-1.70.0"},
                           "page": {"url": "https://shop.test/p", "path": "/p"}}}
    return httpx.post(server.url + path, content=json.dumps(payload),
                      headers={"content-type": "text/plain", "origin": "https://shop.test"})


def test_analytics_js_payloads_on_the_short_paths_and_batch(shared_server: LiveServer) -> None:
    t = "2026-11-22T10:00:00.000Z"
    for path, body in (
        ("/v1/p", {"type": "page", "anonymousId": "ajs-anon", "name": "Landing", "timestamp": t}),
        ("/v1/t", {"type": "track", "anonymousId": "ajs-anon", "event": "Clicked CTA", "timestamp": t}),
        ("/v1/i", {"type": "identify", "anonymousId": "ajs-anon", "userId": "ajs-u1", "traits": {"name": "A"}}),
        ("/v1/g", {"type": "group", "userId": "ajs-u1", "groupId": "ajs-co", "traits": {"name": "AJS Co"}}),
        ("/v1/a", {"type": "alias", "userId": "ajs-u1", "previousId": "ajs-legacy"}),
    ):
        r = analytics_js(shared_server, path, body)
        assert r.status_code == 200 and r.json()["accepted"] == 1, (path, r.text)
        assert r.headers["access-control-allow-origin"] == "https://shop.test"
    batch = {"batch": [{"type": "track", "userId": "ajs-u1", "event": "Upgraded", "messageId": "ajs-b1"}]}
    assert analytics_js(shared_server, "/v1/batch", batch).json()["accepted"] == 1
    p = person(shared_server, user_id="ajs-u1")
    assert "ajs-anon" in p["anonymous_ids"] and "ajs-legacy" in p["user_ids"]  # type: ignore[operator]
    assert [c["id"] for c in p["companies"]] == ["ajs-co"]  # type: ignore[union-attr, index]
    names = [e["event"] for e in timeline(shared_server, str(p["id"])) if e["type"] == "track"]
    assert names == ["Clicked CTA", "Upgraded"]
    assert not any("writeKey" in json.dumps(e) for e in stored(shared_server))
