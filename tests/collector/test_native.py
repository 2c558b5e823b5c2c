"""The native collector's contract (api.md "Collector answers and limits"), over HTTP
against a real server process."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conftest import WRITE_KEY, LiveServer, start_server
from threadline.storage.duckdb_store import DuckDBStore


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = start_server(tmp_path_factory.mktemp("native") / "data")
    yield s
    s.stop()


def post(server: LiveServer, body: object, path: str = "/v1/batch", **kw: object) -> httpx.Response:
    return httpx.post(server.url + path, content=orjson.dumps(body), auth=(WRITE_KEY, ""),
                      headers={"content-type": "application/json"}, timeout=30, **kw)  # type: ignore[arg-type]


def rows(server: LiveServer, sql: str, params: list[object]) -> list[tuple[object, ...]]:
    """Read the store after stopping the server (DuckDB lets one process open the file)."""
    server.stop()
    store = DuckDBStore(server.data_dir / "threadline.duckdb", read_only=True)
    try:
        return list(store.read().execute(sql, params).fetchall())
    finally:
        store.con.close()


def test_batch_is_acked_with_counts_and_a_retry_stores_no_duplicates(server: LiveServer) -> None:
    body = {"batch": [{"type": "track", "event": "A", "anonymousId": "n1", "messageId": "nm1"},
                      {"type": "page", "anonymousId": "n1", "messageId": "nm2"}]}
    assert post(server, body).json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert post(server, body).json() == {"accepted": 0, "duplicates": 2, "rejected": []}


def test_messages_without_message_id_are_each_stored_as_segment_does(server: LiveServer) -> None:
    # Two real clicks seconds apart, identical on the wire: the server gives each a fresh
    # id (at-least-once), so the second is not dropped as a duplicate of the first.
    body = {"batch": [{"type": "track", "event": "NoId", "userId": "n2", "timestamp": "2026-01-01T00:00:00Z"}],
            "sentAt": "2026-01-01T00:00:01Z"}
    assert post(server, body).json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert post(server, body).json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    with server.query() as q:
        events = q.get("/api/v1/events", params={"event": "NoId"}).json()["data"]
    assert len(events) == 2 and len({e["id"] for e in events}) == 2


def test_invalid_messages_of_a_batch_are_rejected_by_index_and_the_rest_stored(server: LiveServer) -> None:
    body = {"batch": [
        {"type": "track", "anonymousId": "n3", "messageId": "nm3"},  # no event name
        {"type": "bogus", "anonymousId": "n3"},
        "not an object",
        {"type": "page", "anonymousId": "n3", "messageId": "nm4", "properties": []},
        {"type": "page", "anonymousId": "n3", "messageId": "nm5", "timestamp": "yesterday"},
        {"type": "page", "anonymousId": "n3", "messageId": "nm6"},
    ]}
    answer = post(server, body).json()
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [0, 1, 2, 3, 4]
    assert {r["code"] for r in answer["rejected"]} == {"invalid_message", "invalid_timestamp"}
    assert all(r["reason"] for r in answer["rejected"])


def test_single_message_routes_and_short_paths(server: LiveServer) -> None:
    for path, body in (("/v1/track", {"event": "E", "userId": "n4"}), ("/v1/t", {"event": "E2", "userId": "n4"}),
                       ("/v1/identify", {"userId": "n4", "traits": {"plan": "pro"}}),
                       ("/v1/page", {"anonymousId": "n4a", "name": "Home"}),
                       ("/v1/group", {"userId": "n4", "groupId": "g4", "traits": {"name": "G"}}),
                       ("/v1/alias", {"userId": "n4", "previousId": "n4old"}),
                       ("/v1/screen", {"userId": "n4", "name": "S"})):
        r = post(server, body, path)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["accepted"] == 1


def test_invalid_single_message_is_422_and_quarantined(server: LiveServer) -> None:
    r = post(server, {"userId": "n5"}, "/v1/track")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_message"
    r = post(server, {"userId": "n5"}, "/v1/group")
    assert r.status_code == 422


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe"])
def test_malformed_json_is_400(server: LiveServer, content: bytes) -> None:
    r = httpx.post(server.url + "/v1/batch", content=content, auth=(WRITE_KEY, ""))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("body", [[1, 2], {"batch": "x"}, {"nobatch": []}, "text"])
def test_wrong_top_level_type_is_400(server: LiveServer, body: object) -> None:
    r = post(server, body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_body"


def test_missing_or_unknown_key_is_401(server: LiveServer) -> None:
    body = {"batch": [{"type": "track", "event": "E", "userId": "n6"}]}
    assert httpx.post(server.url + "/v1/batch", json=body).status_code == 401
    r = httpx.post(server.url + "/v1/batch", json=body, auth=("wk_nope_000000000000000000000000", ""))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_write_key_in_body_and_secret_key_both_ingest(server: LiveServer) -> None:
    body = {"writeKey": WRITE_KEY, "batch": [{"type": "track", "event": "E", "userId": "n7", "messageId": "nm7"}]}
    assert httpx.post(server.url + "/v1/batch", json=body).json()["accepted"] == 1
    r = httpx.post(server.url + "/v1/batch", auth=(server.secret_key, ""),
                   json={"batch": [{"type": "track", "event": "E", "userId": "n7", "messageId": "nm8"}]})
    assert r.json()["accepted"] == 1


def test_request_over_the_limit_is_413_even_when_gzipped(server: LiveServer) -> None:
    big = {"batch": [{"type": "track", "event": "E", "userId": "n8", "properties": {"x": "y" * 20000}}
                     for _ in range(30)]}
    raw = orjson.dumps(big)
    assert httpx.post(server.url + "/v1/batch", content=raw, auth=(WRITE_KEY, "")).status_code == 413
    r = httpx.post(server.url + "/v1/batch", content=gzip.compress(raw), auth=(WRITE_KEY, ""),
                   headers={"content-encoding": "gzip"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")
    r = httpx.post(server.url + "/v1/batch", content=bomb, auth=(WRITE_KEY, ""), headers={"content-encoding": "gzip"})
    assert r.status_code == 413


def test_message_over_its_limit_is_quarantined_and_the_rest_accepted(server: LiveServer) -> None:
    body = {"batch": [{"type": "track", "event": "Big", "userId": "n9", "properties": {"x": "y" * 40000}},
                      {"type": "track", "event": "Small", "userId": "n9", "messageId": "nm9"}]}
    answer = post(server, body).json()
    assert answer["accepted"] == 1
    assert answer["rejected"][0]["code"] == "message_too_large"


def test_gzip_and_deflate_bodies_are_accepted(server: LiveServer) -> None:
    raw = orjson.dumps({"batch": [{"type": "track", "event": "Z", "userId": "n10", "messageId": "nm10"}]})
    for enc, data in (("gzip", gzip.compress(raw)), ("deflate", zlib.compress(raw))):
        r = httpx.post(server.url + "/v1/batch", content=data, auth=(WRITE_KEY, ""),
                       headers={"content-encoding": enc})
        assert r.status_code == 200, r.text
    r = httpx.post(server.url + "/v1/batch", content=gzip.compress(raw)[:-9], auth=(WRITE_KEY, ""),
                   headers={"content-encoding": "gzip"})
    assert r.status_code == 400


def test_cors_preflight_and_responses_echo_the_origin_with_credentials(server: LiveServer) -> None:
    origin = "http://shop.example:8080"
    pre = httpx.options(server.url + "/v1/batch", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == origin
    assert pre.headers["access-control-allow-credentials"] == "true"
    assert pre.headers["access-control-allow-headers"] == "content-type,authorization"
    r = httpx.post(server.url + "/v1/batch", json={"batch": []}, auth=(WRITE_KEY, ""), headers={"Origin": origin})
    assert r.headers["access-control-allow-origin"] == origin
    bad = httpx.post(server.url + "/v1/batch", content=b"{", auth=(WRITE_KEY, ""), headers={"Origin": origin})
    assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == origin


def test_unknown_routes_and_methods_answer_json(server: LiveServer) -> None:
    r = httpx.get(server.url + "/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = httpx.get(server.url + "/v1/batch")
    assert r.status_code == 405 and "error" in r.json()


def test_store_keeps_unknown_fields_corrects_skew_and_handles_junk_and_time(server: LiveServer) -> None:
    body = {"sentAt": "2026-03-01T12:00:10.000Z", "batch": [
        {"type": "track", "event": "Skewed", "userId": "s1", "messageId": "sk1",
         "timestamp": "2026-03-01T12:00:00.000Z", "customTop": {"keep": True}},
        {"type": "track", "event": "Junk", "userId": "undefined", "anonymousId": "null", "messageId": "sk2"},
        {"type": "track", "event": "Future", "userId": "s1", "messageId": "sk3",
         "timestamp": "2999-01-01T00:00:00Z", "sentAt": None},
        {"type": "track", "event": "Ancient", "userId": "s1", "messageId": "sk4",
         "timestamp": "1971-01-01T00:00:00Z", "sentAt": None},
    ]}
    post(server, {"writeKey": WRITE_KEY, "batch": [{"type": "nope", "userId": "q1"}]})
    answer = post(server, body).json()
    assert answer["accepted"] == 3
    assert answer["rejected"] == [{"index": 3, "code": "timestamp_out_of_range",
                                   "reason": answer["rejected"][0]["reason"]}]
    got = {r[0]: r[1:] for r in rows(
        server, "SELECT message_id, extra, owner_iid, user_id, epoch_us(ts), epoch_us(received_at) "
                "FROM events WHERE message_id IN ('sk1', 'sk2', 'sk3')", [])}
    extra, _, _, ts, received = got["sk1"]
    assert orjson.loads(str(extra))["customTop"] == {"keep": True}
    # Corrected timestamp = timestamp + (receivedAt - sentAt), Segment's rule.
    sent = 1772366410000000  # 2026-03-01T12:00:10Z
    assert ts == 1772366400000000 + (int(str(received)) - sent)
    _, owner, user_id, _, _ = got["sk2"]
    assert owner is None and user_id is None  # personless: junk ids are not identifiers
    extra3, _, _, ts3, received3 = got["sk3"]
    assert ts3 == received3 and orjson.loads(str(extra3))["original_timestamp"] == "2999-01-01T00:00:00Z"
    store = DuckDBStore(server.data_dir / "threadline.duckdb", read_only=True)
    bodies = store.read().execute("SELECT body FROM quarantine").fetchall()
    store.con.close()
    assert bodies and all(WRITE_KEY not in str(b) for b in bodies)
