"""The Moesif surface's HTTP contract (api.md) against a real server: 201 answers, the
config the SDKs read, source by header, idempotency, quarantine, and the 4xx for
malformed, truncated, oversized and wrong-key requests (which store nothing)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.compat.helpers import person, quarantined, stored, timeline
from tests.conftest import SECRET_KEY, WRITE_KEY, LiveServer, start_server

LIMIT = 200_000  # a small request limit, so the 413 test sends little


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("moesif") / "data",
                     extra_env={"THREADLINE_MOESIF_REQUEST_LIMIT": str(LIMIT),
                                "THREADLINE_MOESIF_MESSAGE_LIMIT": "50000"})
    yield s
    s.stop()


def call(tid: str | None, user: str | None = "mh-user", **extra: Any) -> dict[str, Any]:
    return {"request": {"time": "2026-11-22T15:39:03.085", "uri": "http://api.test/items/1?q=1", "verb": "GET",
                        "headers": {"authorization": "Bearer secret-token", "user-agent": "curl/8"},
                        "ip_address": "1.2.3.4", "body": {"a": 1}},
            "response": {"time": "2026-11-22T15:39:03.100", "status": 200, "headers": {"set-cookie": "s=1"},
                         "body": {"ok": True}},
            "user_id": user, "company_id": None, "transaction_id": tid, "direction": "Incoming", **extra}


def post(server: LiveServer, path: str, body: Any = None, raw: bytes | None = None, gz: bool = False,
         key: str | None = WRITE_KEY, **headers: str) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    hdrs = {"content-type": "application/json; charset=utf-8", **headers}
    if key is not None:
        hdrs["x-moesif-application-id"] = key
    if gz:
        content = gzip.compress(content)
        hdrs["content-encoding"] = "gzip"
    return httpx.post(server.url + path, content=content, headers=hdrs, timeout=30)


def ids(server: LiveServer) -> list[str]:
    return [str(e["id"]) for e in stored(server)]


def test_a_gzipped_batch_is_201_with_the_config_etag_and_a_resend_stores_nothing_twice(server: LiveServer) -> None:
    body = [call("mh-1"), call("mh-2", user=None)]
    r = post(server, "/v1/events/batch", body, gz=True)
    assert (r.status_code, r.json()) == (201, {})
    config = httpx.get(server.url + "/v1/config", headers={"x-moesif-application-id": WRITE_KEY})
    assert r.headers["x-moesif-config-etag"] == config.headers["x-moesif-config-etag"]
    assert post(server, "/v1/events/batch", body, gz=True).status_code == 201
    got = ids(server)
    assert got.count("mh-1") == 1 and got.count("mh-2") == 1
    events = {e["id"]: e for e in stored(server)}
    assert events["mh-1"]["event"] == "API Call" and events["mh-1"]["source"] == "moesif-api"
    assert events["mh-1"]["properties"]["route"] == "/items/1"  # type: ignore[index]
    text = json.dumps(events["mh-1"])
    assert "secret-token" not in text and "s=1" not in text


def test_single_event_route_the_secret_key_and_the_browser_source(server: LiveServer) -> None:
    assert post(server, "/v1/events", call("mh-single"), key=SECRET_KEY).status_code == 201
    r = post(server, "/v1/events", call("mh-browser"), **{"x-moesif-sdk": "moesif-browser-js/1.8.13"})
    assert r.status_code == 201
    events = {e["id"]: e for e in stored(server)}
    assert events["mh-single"]["source"] == "moesif-api"
    assert events["mh-browser"]["source"] == "moesif-browser"


def test_config_and_rules_answer_what_the_sdks_need(server: LiveServer) -> None:
    headers = {"x-moesif-application-id": WRITE_KEY}
    config = httpx.get(server.url + "/v1/config", headers=headers)
    assert config.status_code == 200 and config.json()["sample_rate"] == 100
    assert config.json()["regex_config"] == [] and config.headers["x-moesif-config-etag"]
    rules = httpx.get(server.url + "/v1/rules", headers=headers)
    assert (rules.status_code, rules.json()) == (200, [])
    assert httpx.get(server.url + "/v1/config").status_code == 401


def test_users_companies_and_actions_single_and_batch(server: LiveServer) -> None:
    assert post(server, "/v1/actions", {"action_name": "Viewed Docs", "anonymous_id": "mh-anon",
                                        "request": {"uri": "https://docs.test/start"},
                                        "transaction_id": "a1"}).status_code == 201
    assert post(server, "/v1/users/batch", [{"anonymous_id": "mh-anon", "campaign": {}},
                                            {"user_id": "mh-u1", "anonymous_id": "mh-anon",
                                             "company_id": "mh-co", "metadata": {"email": "u1@x.test"}}]).status_code == 201
    assert post(server, "/v1/companies", {"company_id": "mh-co", "metadata": {"name": "Acme", "plan": "pro"}}).status_code == 201
    assert post(server, "/v1/companies/batch", [{"company_id": "mh-co2", "metadata": {"name": "Beta"}}]).status_code == 201
    assert post(server, "/v1/actions/batch", [{"action_name": "Clicked", "user_id": "mh-u1",
                                               "request": {"url": "https://docs.test/x"}, "transaction_id": "a2"}]).status_code == 201
    assert post(server, "/v1/users", {"user_id": "mh-u1", "metadata": {"plan": "pro"}}).status_code == 201
    p = person(server, user_id="mh-u1")
    assert "mh-anon" in p["anonymous_ids"]  # type: ignore[operator]
    assert p["traits"] == {"email": "u1@x.test", "plan": "pro"}
    assert [c["id"] for c in p["companies"]] == ["mh-co"]  # type: ignore[union-attr, index]
    assert p["companies"][0]["traits"] == {"name": "Acme", "plan": "pro"}  # type: ignore[index]
    names = [e["event"] for e in timeline(server, str(p["id"]))]
    assert names == ["Viewed Docs", None, "Clicked", None]  # the hidden anonymous post is not shown
    with server.query() as q:
        assert q.get("/api/v1/companies/mh-co2").json()["name"] == "Beta"


def test_an_invalid_single_message_is_422_and_quarantined_a_batch_item_201(server: LiveServer) -> None:
    r = post(server, "/v1/events", {"request": {"verb": "GET"}, "transaction_id": "mh-bad",
                                    "response": {"headers": {"Set-Cookie": "x=1"}}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_message"
    assert post(server, "/v1/users", {"metadata": {"x": 1}}).status_code == 422
    r = post(server, "/v1/events/batch", [call("mh-ok"), {"transaction_id": "mh-bad2"},
                                          call("mh-big", metadata={"pad": "x" * 60_000})])
    assert r.status_code == 201
    got = set(ids(server))
    assert "mh-ok" in got and not {"mh-bad", "mh-bad2", "mh-big"} & got
    rows = quarantined(server)
    bodies = {q["body"].get("transaction_id"): q for q in rows if isinstance(q["body"], dict)}  # type: ignore[union-attr]
    assert {"mh-bad", "mh-bad2", "mh-big"} <= set(bodies)
    assert bodies["mh-big"]["code"] == "message_too_large"
    assert "x=1" not in json.dumps(bodies["mh-bad"])


@pytest.mark.parametrize(("path", "raw", "kw", "status"), [
    ("/v1/events/batch", b"[]", {"key": None}, 401),
    ("/v1/events/batch", b"[]", {"key": "wk_wrong_0123456789abcdefghijkl"}, 401),
    ("/v1/events/batch", b"[{", {}, 400),
    ("/v1/events/batch", b"{}", {}, 400),
    ("/v1/events", b"[]", {}, 400),
    ("/v1/users", b"not json", {}, 400),
    ("/v1/events/batch", gzip.compress(b'[{"transaction_id":"mh-t"}]')[:-10], {"content-encoding": "gzip"}, 400),
    ("/v1/events/batch", b"\x1f\x8b\x08garbage", {"content-encoding": "gzip"}, 400),
])
def test_bad_requests_get_a_clear_4xx_and_store_nothing(
        server: LiveServer, path: str, raw: bytes, kw: dict[str, Any], status: int) -> None:
    before = len(stored(server)), len(quarantined(server))
    r = post(server, path, raw=raw, **kw)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] in ("unauthorized", "invalid_json", "invalid_body")
    assert (len(stored(server)), len(quarantined(server))) == before


def test_a_request_over_the_limit_is_413_and_stores_nothing(server: LiveServer) -> None:
    body = [call(f"mh-huge-{i}", metadata={"pad": "x" * 20_000}) for i in range(12)]
    assert post(server, "/v1/events/batch", body).status_code == 413
    assert post(server, "/v1/events/batch", body, gz=True).status_code == 413
    assert not any(i.startswith("mh-huge") for i in ids(server))


def test_cors_preflight_for_the_browser_sdk(server: LiveServer) -> None:
    pre = httpx.options(server.url + "/v1/actions", headers={
        "origin": "http://app.test", "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-moesif-application-id,x-moesif-sdk"})
    assert pre.status_code in (200, 204)
    assert pre.headers["access-control-allow-origin"] == "http://app.test"
    assert "x-moesif-sdk" in pre.headers["access-control-allow-headers"]
