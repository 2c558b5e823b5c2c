"""The Usermaven surface's HTTP contract (api.md, "Collector answers and limits") against
a real server: routes, key locations, answers, de-duplication, CORS, and the 4xx for
malformed, truncated, oversized and wrong-key requests (which store nothing)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.helpers import person, quarantined, stored
from tests.conftest import SECRET_KEY, WRITE_KEY, LiveServer, start_server

CAPTURES = json.loads((Path(__file__).parent / "data" / "usermaven_captures.json").read_text())["requests"]
ORIGIN = "http://www.shop.test:8900"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("usermaven") / "data")
    yield s
    s.stop()


def ev(event_id: str, anon: str = "um-anon", event_type: str = "clicked", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": event_type, "user": {"anonymous_id": anon},
            "utc_time": "2026-11-22T10:00:00.000Z", "api_key": WRITE_KEY, "src": "usermaven",
            "url": "http://www.shop.test:8900/p", **fields}


def post(server: LiveServer, target: str, body: Any, raw: bytes | None = None, **headers: str) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(server.url + target, content=content, timeout=30,
                      headers={"content-type": "application/json", **headers})


def ids(server: LiveServer) -> list[str]:
    return [str(e["id"]) for e in stored(server)]


def test_browser_batch_is_answered_exactly_ok_and_a_resend_stores_nothing_twice(server: LiveServer) -> None:
    body = [ev("umh-1"), ev("umh-2", event_type="pageview")]
    r = post(server, f"/api/v1/event?token={WRITE_KEY}", body)
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    assert r.headers["content-type"] == "application/json"
    assert post(server, f"/api/v1/event?token={WRITE_KEY}", body).status_code == 200
    assert ids(server).count("umh-1") == 1 and ids(server).count("umh-2") == 1
    events = {e["id"]: e for e in stored(server)}
    assert events["umh-2"]["type"] == "page" and events["umh-1"]["source"] == "usermaven-browser"


@pytest.mark.parametrize(("target", "eid"), [
    (f"/api/v1/event?token={WRITE_KEY}", "umh-single"),
    (f"/api.1d5u5?p_630t5={WRITE_KEY}&cookie_policy=keep", "umh-random"),
    (f"//api/v1/event?token={WRITE_KEY}", "umh-double"),
    (f"//api.ab12c?p_zz9z9={WRITE_KEY}", "umh-double-random"),
])
def test_every_browser_target_form_and_a_bare_object_body_is_accepted(server: LiveServer, target: str, eid: str) -> None:
    r = post(server, target, ev(eid))  # a bare object: pageview() and track(..., true)
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    assert eid in ids(server)


def test_the_key_may_come_in_x_auth_token_and_the_body_as_text_plain_or_gzip(server: LiveServer) -> None:
    r = post(server, "/api/v1/event", [ev("umh-header")], **{"x-auth-token": WRITE_KEY})
    assert r.status_code == 200
    r = post(server, f"/api/v1/event?token={WRITE_KEY}", None, raw=json.dumps([ev("umh-plain")]).encode(),
             **{"content-type": "text/plain"})
    assert r.status_code == 200
    r = post(server, f"/api/v1/event?token={WRITE_KEY}", None, raw=gzip.compress(json.dumps([ev("umh-gz")]).encode()),
             **{"content-encoding": "gzip"})
    assert r.status_code == 200
    assert {"umh-header", "umh-plain", "umh-gz"} <= set(ids(server))


def test_cors_preflight_and_answer_echo_the_origin_with_credentials(server: LiveServer) -> None:
    pre = httpx.options(server.url + f"/api/v1/event?token={WRITE_KEY}",
                        headers={"origin": ORIGIN, "access-control-request-method": "POST",
                                 "access-control-request-headers": "content-type,x-custom-test"})
    assert pre.status_code in (200, 204)
    assert pre.headers["access-control-allow-origin"] == ORIGIN
    assert pre.headers["access-control-allow-credentials"] == "true"
    assert "x-custom-test" in pre.headers["access-control-allow-headers"]
    r = post(server, f"/api/v1/event?token={WRITE_KEY}", [ev("umh-cors")], origin=ORIGIN)
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"


def test_every_captured_request_replays_with_ok(server: LiveServer) -> None:
    for req in CAPTURES:
        if "/s2s/" in req["path"]:
            continue
        query = "&".join(f"{k}={WRITE_KEY if k == 'token' or k.startswith('p_') else v}"
                         for k, v in req["query"].items())
        r = post(server, f"{req['path']}?{query}", req["body"], **{"user-agent": req["user_agent"]})
        assert (r.status_code, r.json()) == (200, {"status": "ok"}), (req["scenario"], r.text)
    everything = stored(server)
    assert any(e["id"] == "my-own-event-id-1" for e in everything)
    u = person(server, user_id="u_123")
    assert "3u48366t5x" in u["anonymous_ids"] and u["traits"]["first_name"] == "Jane"  # type: ignore[index]


def test_invalid_events_are_quarantined_and_the_rest_stored_with_ok(server: LiveServer) -> None:
    body = [ev("umh-good"), {"event_id": "umh-bad", "user": {"anonymous_id": "q"}, "api_key": WRITE_KEY},
            ev("umh-big", event_attributes={"blob": "x" * 40_000})]
    r = post(server, f"/api/v1/event?token={WRITE_KEY}", body)
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    got = set(ids(server))
    assert "umh-good" in got and "umh-bad" not in got and "umh-big" not in got
    rows = [q for q in quarantined(server) if q["source"] == "usermaven-browser"]
    codes = {q["body"]["event_id"]: q["code"] for q in rows if isinstance(q["body"], dict)}  # type: ignore[index]
    assert codes["umh-bad"] == "invalid_message" and codes["umh-big"] == "message_too_large"
    assert all("api_key" not in q["body"] for q in rows if isinstance(q["body"], dict))  # type: ignore[operator]


@pytest.mark.parametrize(("target", "raw", "headers", "status"), [
    ("/api/v1/event", b"[]", {}, 401),
    ("/api/v1/event?token=wk_wrong_0123456789abcdefghijkl", b"[]", {}, 401),
    ("/api.ab12c?q_x=nope", b"[]", {}, 401),
    (f"/api/v1/event?token={WRITE_KEY}", b"{not json", {}, 400),
    (f"/api/v1/event?token={WRITE_KEY}", b'[{"event_id":"umh-trunc","event_type":"x"', {}, 400),
    (f"/api/v1/event?token={WRITE_KEY}", b"", {}, 400),
    (f"/api/v1/event?token={WRITE_KEY}", b'"a string"', {}, 400),
    (f"/api/v1/event?token={WRITE_KEY}", gzip.compress(b'[{"event_id":"umh-gztrunc"}]')[:-12],
     {"content-encoding": "gzip"}, 400),
    (f"/api/v1/s2s/event?token={WRITE_KEY}", b"[]", {}, 401),
    (f"/api/v1/s2s/event?token={SECRET_KEY}.{WRITE_KEY}", b"[]", {}, 401),
    (f"/api/v1/s2s/event?token={WRITE_KEY}.sk_wrong_0123456789abcdefghijkl", b"[]", {}, 401),
    (f"/api/v1/s2s/event/?token={WRITE_KEY}.{WRITE_KEY}", b"[]", {}, 401),
])
def test_bad_requests_get_a_clear_4xx_and_store_nothing(
        server: LiveServer, target: str, raw: bytes, headers: dict[str, str], status: int) -> None:
    before = len(stored(server)), len(quarantined(server))
    r = post(server, target, None, raw=raw, **headers)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] in ("unauthorized", "invalid_json", "invalid_body")
    assert (len(stored(server)), len(quarantined(server))) == before


def test_a_request_over_one_megabyte_is_413_and_stores_nothing(server: LiveServer) -> None:
    body = [ev(f"umh-huge-{i}", event_attributes={"pad": "x" * 20_000}) for i in range(60)]
    r = post(server, f"/api/v1/event?token={WRITE_KEY}", body)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    gz = post(server, f"/api/v1/event?token={WRITE_KEY}", None,
              raw=gzip.compress(json.dumps(body).encode()), **{"content-encoding": "gzip"})
    assert gz.status_code == 413  # the limit is on decompressed bytes
    assert not any(str(i).startswith("umh-huge") for i in ids(server))


def test_a_random_path_that_is_not_the_sdks_form_is_not_a_route(server: LiveServer) -> None:
    assert post(server, f"/api.ab-12?p_x={WRITE_KEY}", [ev("umh-404")]).status_code == 404


def test_server_to_server_with_and_without_trailing_slash(server: LiveServer) -> None:
    token = f"{WRITE_KEY}.{SECRET_KEY}"
    for path, eid in (("/api/v1/s2s/event", "umh-s2s-1"), ("/api/v1/s2s/event/", "umh-s2s-2")):
        body = {"event_id": eid, "event_type": "invoice_paid", "user": {"id": "s2s-user"},
                "event_attributes": {"amount": 5}, "_timestamp": 1795300000000}
        r = post(server, f"{path}?token={token}", body)
        assert (r.status_code, r.json()) == (200, {"status": "ok"})
    bearer = post(server, "/api/v1/s2s/event", [{"event_type": "x", "event_id": "umh-s2s-3", "user": {"id": "s2s-user"}}],
                  authorization=f"Bearer {token}")
    assert bearer.status_code == 200
    events = {e["id"]: e for e in stored(server)}
    assert events["umh-s2s-1"]["source"] == "usermaven-s2s"
    assert events["umh-s2s-1"]["timestamp"] == "2026-11-21T22:26:40.000Z"  # _timestamp in ms
    assert events["umh-s2s-2"]["user_id"] == "s2s-user" and "umh-s2s-3" in events


def test_strict_mode_derives_a_visitor_id_truncates_the_ip_and_identify_stitches(server: LiveServer) -> None:
    target = f"/api/v1/event?token={WRITE_KEY}&cookie_policy=strict&ip_policy=strict"
    ua = {"user-agent": "StrictBrowser/1.0"}
    blank = {"anonymous_id": ""}
    assert post(server, target, [ev("umh-st-1", event_type="pageview", user=blank)], **ua).status_code == 200
    assert post(server, target, [ev("umh-st-2", user=blank)], **ua).status_code == 200
    assert post(server, target, [ev("umh-st-3", event_type="user_identify",
                                    user={"anonymous_id": "", "id": "strict-user", "email": "s@x.test"})],
                **ua).status_code == 200
    events = {e["id"]: e for e in stored(server)}
    visitor = events["umh-st-1"]["anonymous_id"]
    assert isinstance(visitor, str) and visitor.startswith("cv_")
    assert events["umh-st-2"]["anonymous_id"] == visitor == events["umh-st-3"]["anonymous_id"]
    assert events["umh-st-1"]["context"]["ip"] == "127.0.0.0"  # type: ignore[index]
    p = person(server, user_id="strict-user")
    assert visitor in p["anonymous_ids"]  # type: ignore[operator]
    assert p["event_count"] == 3
