"""The rest of the query API over HTTP against a real server: auth, the events list,
quarantine, ingest stats, the live stream, project administration, error shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conftest import SECRET_KEY, WRITE_KEY, LiveServer
from tests.query.helpers import all_pages, get, msg, send


@pytest.fixture(scope="module")
def api(shared_server: LiveServer) -> Iterator[httpx.Client]:
    with shared_server.query() as client:
        yield client


@pytest.mark.parametrize("path", ["/api/v1/persons", "/api/v1/events", "/api/v1/companies",
                                  "/api/v1/insights/unique-persons", "/api/v1/quarantine",
                                  "/api/v1/ingest/stats", "/api/v1/events/stream",
                                  "/api/v1/projects/current"])
def test_the_query_api_needs_the_secret_key(shared_server: LiveServer, path: str) -> None:
    url = shared_server.url + path
    missing = httpx.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    unknown = httpx.get(url, headers={"Authorization": "Bearer sk_unknown_000000000000000000000000"}, timeout=10)
    assert unknown.status_code == 401
    basic = httpx.get(url, auth=(SECRET_KEY, ""), timeout=10)
    assert basic.status_code == 401
    write = httpx.get(url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=10)
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "forbidden"


def test_writes_need_the_secret_key_too(shared_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {WRITE_KEY}"}
    for method, path in (("POST", "/api/v1/persons/merge"), ("DELETE", "/api/v1/persons/x"),
                         ("POST", "/api/v1/persons/x/split"), ("POST", "/api/v1/insights/funnel"),
                         ("POST", "/api/v1/keys/rotate"), ("PATCH", "/api/v1/projects/current/settings")):
        r = httpx.request(method, shared_server.url + path, headers=headers, json={}, timeout=10)
        assert r.status_code == 403, (method, path, r.text)


def test_events_list_filters_pages_and_resolves_persons(api: httpx.Client) -> None:
    send(api, msg("page", "2025-10-01T09:00:00Z", anon="ev-a"),
         msg("track", "2025-10-01T09:01:00Z", anon="ev-a", event="EV Clicked", properties={"n": 1}),
         msg("identify", "2025-10-01T09:02:00Z", anon="ev-a", user="ev-u"),
         msg("track", "2025-10-01T09:03:00Z", user="ev-u", event="EV Clicked", properties={"n": 2}))
    person = get(api, "/api/v1/persons/lookup", user_id="ev-u")["id"]
    window = {"from": "2025-10-01T00:00:00Z", "to": "2025-10-02T00:00:00Z"}
    events = all_pages(api, "/api/v1/events", limit=1, **window)
    assert [e["type"] for e in events] == ["track", "identify", "track", "page"]  # newest first
    assert {e["person_id"] for e in events} == {person}
    clicked = all_pages(api, "/api/v1/events", event="EV Clicked", **window)
    assert [e["properties"] for e in clicked] == [{"n": 2}, {"n": 1}]
    assert [e["type"] for e in all_pages(api, "/api/v1/events", type="page", **window)] == ["page"]
    assert get(api, "/api/v1/events", status=422, **{"from": "soon"})["error"]["code"] == "validation_error"


def test_personless_events_are_listed_without_a_person(api: httpx.Client) -> None:
    send(api, msg("track", "2025-10-02T09:00:00Z", anon="null", event="EV Nobody"))
    [event] = get(api, "/api/v1/events", event="EV Nobody")["data"]
    assert event["person_id"] is None and event["anonymous_id"] is None


def test_quarantine_lists_rejected_messages_with_reasons(api: httpx.Client) -> None:
    r = api.post("/v1/batch", auth=(WRITE_KEY, ""), json={"batch": [
        {"type": "track", "userId": "qa-u", "messageId": "qa-1"},  # no event name
        {"type": "page", "anonymousId": "qa-a", "timestamp": "not a time"}]})
    assert [x["index"] for x in r.json()["rejected"]] == [0, 1]
    items = get(api, "/api/v1/quarantine", limit=2)["data"]
    assert [(q["index"], q["code"]) for q in items] == [(1, "invalid_timestamp"), (0, "invalid_message")]
    assert items[1]["body"]["userId"] == "qa-u" and items[1]["user_id"] == "qa-u"
    assert items[0]["anonymous_id"] == "qa-a" and items[0]["source"] == "native" and items[0]["reason"]
    assert set(items[0]) == {"id", "received_at", "source", "index", "code", "reason", "body",
                             "anonymous_id", "user_id"}
    only = get(api, "/api/v1/quarantine", code="invalid_timestamp")["data"]
    assert only and {q["code"] for q in only} == {"invalid_timestamp"}


def test_ingest_stats_count_each_outcome_per_day(api: httpx.Client) -> None:
    def today() -> dict[str, int]:
        rows = get(api, "/api/v1/ingest/stats")["data"]
        day = time.strftime("%Y-%m-%d", time.gmtime())
        return next((r for r in rows if r["day"] == day),
                    {"accepted": 0, "duplicates": 0, "quarantined": 0, "personless": 0, "suppressed": 0})

    before = today()
    batch = [msg("track", "2025-10-03T09:00:00Z", anon="st-a", event="S", mid="st-1"),
             msg("track", "2025-10-03T09:00:00Z", anon="undefined", event="S", mid="st-2"),
             {"type": "nope"}]
    api.post("/v1/batch", auth=(WRITE_KEY, ""), json={"batch": batch})
    api.post("/v1/batch", auth=(WRITE_KEY, ""), json={"batch": batch[:1]})
    after = today()
    delta = {k: after[k] - before[k] for k in ("accepted", "duplicates", "quarantined", "personless", "suppressed")}
    assert delta == {"accepted": 2, "duplicates": 1, "quarantined": 1, "personless": 1, "suppressed": 0}
    assert set(after) == {"day", "accepted", "duplicates", "quarantined", "personless", "suppressed"}
    assert get(api, "/api/v1/ingest/stats", **{"from": "2000-01-01", "to": "2000-01-02"})["data"] == []
    get(api, "/api/v1/ingest/stats", status=422, **{"from": "2000-13-01"})


def test_the_live_stream_delivers_events_committed_after_subscribing(shared_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=shared_server.url, timeout=httpx.Timeout(30, read=20)) as client, \
            client.stream("GET", "/api/v1/events/stream", headers=headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith(":")  # subscribed: everything from now on arrives
        send(client, msg("identify", "2025-10-04T09:00:00Z", anon="sse-a", user="sse-u", mid="sse-1"),
             msg("track", "2025-10-04T09:01:00Z", anon="sse-a", event="SSE Live", mid="sse-2"))
        frames: list[list[str]] = []
        frame: list[str] = []
        for line in lines:
            assert time.monotonic() < deadline, "no event within the deadline"
            if line:
                frame.append(line)
                continue
            if frame and not frame[0].startswith(":"):
                frames.append(frame)
            frame = []
            if len(frames) == 2:
                break
    assert [f[0] for f in frames] == ["event: message", "event: message"]
    assert [f[1] for f in frames] == ["id: sse-1", "id: sse-2"]
    second = orjson.loads(frames[1][2].removeprefix("data: "))
    assert second["id"] == "sse-2" and second["event"] == "SSE Live"
    with shared_server.query() as api:
        assert second["person_id"] == get(api, "/api/v1/persons/lookup", user_id="sse-u")["id"]


def test_project_administration_routes(api: httpx.Client, shared_server: LiveServer) -> None:
    project = get(api, "/api/v1/projects/current")
    assert project["id"] == "default" and project["settings"]["set_once"]
    # Keys are stored hashed: shown by prefix, never in full.
    kinds = {(k["kind"], k["key"], k["prefix"]) for k in project["keys"]}
    assert ("write", None, WRITE_KEY[:8]) in kinds and ("secret", None, SECRET_KEY[:8]) in kinds
    r = api.patch("/api/v1/projects/current/settings", json={"set_once": ["created_at", "plan_first"]})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["set_once"] == ["created_at", "plan_first"]
    send(api, msg("identify", "2025-10-05T09:00:00Z", user="so-u", traits={"plan_first": "free"}),
         msg("identify", "2025-10-06T09:00:00Z", user="so-u", traits={"plan_first": "pro"}))
    assert get(api, "/api/v1/persons/lookup", user_id="so-u")["traits"] == {"plan_first": "free"}
    bad = api.patch("/api/v1/projects/current/settings", json={"ip_policy": "sometimes"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert api.patch("/api/v1/projects/current/settings", json={"nope": 1}).status_code == 422
    # A negative age would delete every event at the next sweep; "maybe" is not a boolean.
    for bad_value in ({"retention_days": -5}, {"retention_days": 1.5}, {"body_capture": "maybe"}):
        bad = api.patch("/api/v1/projects/current/settings", json=bad_value)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error", bad_value
    settings = get(api, "/api/v1/projects/current")["settings"]
    assert settings["retention_days"] is None and settings["body_capture"] is False
    rotated = api.post("/api/v1/keys/rotate")
    assert rotated.status_code == 200, rotated.text
    keys = rotated.json()
    assert keys["write_key"].startswith("wk_") and keys["secret_key"].startswith("sk_")
    with httpx.Client(base_url=shared_server.url, headers={"Authorization": f"Bearer {keys['secret_key']}"},
                      timeout=10) as fresh:
        assert get(fresh, "/api/v1/projects/current")["id"] == "default"
    # The fixed test keys are left alone by a rotation.
    assert get(api, "/api/v1/projects/current")["id"] == "default"


def test_unknown_routes_and_methods_answer_json(api: httpx.Client) -> None:
    r = api.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.put("/api/v1/persons")
    assert r.status_code == 405 and r.json()["error"]["code"]


def test_openapi_document_is_served(shared_server: LiveServer) -> None:
    doc = httpx.get(shared_server.url + "/api/v1/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/persons/{person_id}" in doc["paths"] and "/v1/batch" in doc["paths"]
