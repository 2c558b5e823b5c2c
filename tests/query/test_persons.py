"""Persons through the real query API: shape, traits, lookup, timelines (pre-login
events retroactively), old ids after a merge, split, erase, list, search, pagination.

One server for the module; every test uses its own identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.query.helpers import all_pages, get, msg, send

PERSON_KEYS = {"id", "is_identified", "user_ids", "anonymous_ids", "traits", "companies",
               "first_seen", "last_seen", "event_count"}
EVENT_KEYS = {"id", "type", "event", "timestamp", "received_at", "anonymous_id", "user_id",
              "person_id", "company_ids", "properties", "context", "source"}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def api(shared_server: LiveServer) -> Iterator[httpx.Client]:
    with shared_server.query() as client:
        yield client


def test_person_has_the_api_shape_and_folded_traits(api: httpx.Client) -> None:
    send(api,
         msg("page", "2026-02-01T09:00:00Z", anon="tr-a"),
         msg("identify", "2026-02-01T10:00:00Z", anon="tr-a", user="tr-u",
             traits={"plan": "free", "created_at": "first", "email": "x@y.io",
                     "nested": {"x": 1, "y": 2}}),
         msg("identify", "2026-02-03T10:00:00Z", user="tr-u",
             traits={"plan": "pro", "created_at": "second", "email": None, "nested": {"x": 3}}),
         # Same event time: the later message id wins.
         msg("identify", "2026-02-04T10:00:00Z", user="tr-u", mid="tr-tie-b", traits={"tie": "b"}),
         msg("identify", "2026-02-04T10:00:00Z", user="tr-u", mid="tr-tie-a", traits={"tie": "a"}))
    person = get(api, "/api/v1/persons/lookup", user_id="tr-u")
    assert set(person) == PERSON_KEYS
    assert person["traits"] == {"plan": "pro", "created_at": "first", "email": "x@y.io",
                                "nested": {"x": 3}, "tie": "b"}
    assert person["is_identified"] is True
    assert person["user_ids"] == ["tr-u"]
    assert person["anonymous_ids"] == ["tr-a"]
    assert person["event_count"] == 5
    assert person["first_seen"] == "2026-02-01T09:00:00.000Z"
    assert person["last_seen"] == "2026-02-04T10:00:00.000Z"
    assert person["companies"] == []
    assert get(api, "/api/v1/persons/lookup", anonymous_id="tr-a")["id"] == person["id"]
    assert get(api, f"/api/v1/persons/{person['id']}") == person


def test_anonymous_person_is_not_identified(api: httpx.Client) -> None:
    send(api, msg("page", "2026-02-01T09:00:00Z", anon="anon-only-1"))
    person = get(api, "/api/v1/persons/lookup", anonymous_id="anon-only-1")
    assert person["is_identified"] is False
    assert person["user_ids"] == [] and person["anonymous_ids"] == ["anon-only-1"]
    assert ISO_MS.match(person["first_seen"]) and ISO_MS.match(person["last_seen"])


def test_timeline_shows_pre_login_events_when_the_identify_comes_after(api: httpx.Client) -> None:
    send(api, msg("page", "2026-02-10T09:00:00Z", anon="pl-a", properties={"path": "/"}),
         msg("page", "2026-02-10T09:01:00Z", anon="pl-a", properties={"path": "/pricing"}))
    anon_person = get(api, "/api/v1/persons/lookup", anonymous_id="pl-a")
    send(api, msg("track", "2026-02-10T09:05:00Z", user="pl-u", event="Signed Up"))
    send(api, msg("identify", "2026-02-10T09:03:00Z", anon="pl-a", user="pl-u"))
    person = get(api, "/api/v1/persons/lookup", user_id="pl-u")
    # The visitor's id survives sign-up: it names the earliest identifier.
    assert person["id"] == anon_person["id"]
    timeline = get(api, f"/api/v1/persons/{person['id']}/events")
    assert set(timeline) == {"data", "next_cursor"}
    events = timeline["data"]
    assert [e["type"] for e in events] == ["page", "page", "identify", "track"]
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert all(set(e) == EVENT_KEYS for e in events)
    assert {e["person_id"] for e in events} == {person["id"]}
    assert events[0]["anonymous_id"] == "pl-a" and events[0]["user_id"] is None
    assert events[0]["properties"] == {"path": "/"}
    assert events[3]["user_id"] == "pl-u" and events[3]["event"] == "Signed Up"
    assert events[0]["source"] == "native"


def test_late_anonymous_events_join_the_timeline_after_the_identify(api: httpx.Client) -> None:
    send(api, msg("identify", "2026-02-11T10:00:00Z", anon="late-a", user="late-u"))
    # Sent afterwards, timed earlier (an offline device flushing its queue).
    send(api, msg("page", "2026-02-11T08:00:00Z", anon="late-a"),
         msg("track", "2026-02-11T08:30:00Z", anon="late-a", event="Clicked"))
    person = get(api, "/api/v1/persons/lookup", user_id="late-u")
    events = get(api, f"/api/v1/persons/{person['id']}/events")["data"]
    assert [(e["type"], e["timestamp"]) for e in events] == [
        ("page", "2026-02-11T08:00:00.000Z"), ("track", "2026-02-11T08:30:00.000Z"),
        ("identify", "2026-02-11T10:00:00.000Z")]


def test_a_merged_away_person_id_still_answers_with_the_merged_person(api: httpx.Client) -> None:
    send(api, msg("track", "2026-02-12T10:00:00Z", user="mg-u1", event="E"))
    send(api, msg("track", "2026-02-12T11:00:00Z", user="mg-u2", event="E"))
    first = get(api, "/api/v1/persons/lookup", user_id="mg-u1")["id"]
    second = get(api, "/api/v1/persons/lookup", user_id="mg-u2")["id"]
    assert first != second
    r = api.post("/api/v1/persons/merge", json={"person_ids": [second, first]})
    assert r.status_code == 200, r.text
    merged = r.json()
    assert set(merged) == PERSON_KEYS
    # The merged person keeps the id of the cluster with the earliest identifier.
    assert merged["id"] == first
    assert sorted(merged["user_ids"]) == ["mg-u1", "mg-u2"]
    old = get(api, f"/api/v1/persons/{second}")
    assert old["id"] == first and old == merged
    assert len(get(api, f"/api/v1/persons/{second}/events")["data"]) == 2
    again = api.post("/api/v1/persons/merge", json={"person_ids": [first, second]})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


def test_sign_up_turns_the_user_id_person_into_an_old_id(api: httpx.Client) -> None:
    send(api, msg("page", "2026-02-13T09:00:00Z", anon="su-a"))
    send(api, msg("track", "2026-02-13T09:10:00Z", user="su-u", event="Paid"))
    user_person = get(api, "/api/v1/persons/lookup", user_id="su-u")["id"]
    send(api, msg("identify", "2026-02-13T09:05:00Z", anon="su-a", user="su-u"))
    now = get(api, f"/api/v1/persons/{user_person}")
    assert now["id"] != user_person
    assert now["id"] == get(api, "/api/v1/persons/lookup", anonymous_id="su-a")["id"]


def test_split_detaches_identifiers_and_validates(api: httpx.Client) -> None:
    send(api, msg("identify", "2026-02-14T09:00:00Z", anon="sp-a", user="sp-u"),
         msg("page", "2026-02-14T09:01:00Z", anon="sp-a"))
    pid = get(api, "/api/v1/persons/lookup", user_id="sp-u")["id"]
    r = api.post(f"/api/v1/persons/{pid}/split", json={"identifiers": [{"kind": "user", "value": "sp-u"}]})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 2
    assert sorted(tuple(p["user_ids"]) for p in data) == [(), ("sp-u",)]
    assert get(api, "/api/v1/persons/lookup", user_id="sp-u")["id"] != get(
        api, "/api/v1/persons/lookup", anonymous_id="sp-a")["id"]
    explain = get(api, f"/api/v1/persons/{pid}/explain")
    splits = [b for b in explain["blocks"] if b["type"] == "split"]
    assert splits and splits[0]["s"] == [{"kind": "user", "value": "sp-u"}]
    # A later identify of the same pair is refused by the split.
    send(api, msg("identify", "2026-02-14T10:00:00Z", anon="sp-a", user="sp-u"))
    assert get(api, "/api/v1/persons/lookup", user_id="sp-u")["anonymous_ids"] == []
    lone = get(api, "/api/v1/persons/lookup", anonymous_id="sp-a")["id"]
    everything = api.post(f"/api/v1/persons/{lone}/split",
                          json={"identifiers": [{"kind": "anonymous", "value": "sp-a"}]})
    assert everything.status_code == 409
    for body in ({}, {"identifiers": []}, {"identifiers": [{"kind": "email", "value": "x"}]},
                 {"identifiers": [{"kind": "user"}]}):
        bad = api.post(f"/api/v1/persons/{lone}/split", json=body)
        assert bad.status_code == 422, body
        assert bad.json()["error"]["code"] == "validation_error"
    assert api.post("/api/v1/persons/nope/split",
                    json={"identifiers": [{"kind": "user", "value": "x"}]}).status_code == 404


def test_erase_removes_the_person_and_reports_counts(api: httpx.Client) -> None:
    send(api, msg("identify", "2026-02-15T09:00:00Z", anon="er-a", user="er-u", traits={"n": 1}),
         msg("page", "2026-02-15T09:01:00Z", anon="er-a"),
         msg("track", "2026-02-15T09:02:00Z", user="er-u", event="E"))
    pid = get(api, "/api/v1/persons/lookup", user_id="er-u")["id"]
    r = api.delete(f"/api/v1/persons/{pid}")
    assert r.status_code == 200, r.text
    counts = r.json()
    assert counts == {"person_id": pid, "events": 3, "identifiers": 2, "edges": 1, "traits": 1,
                      "quarantine": 0, "suppressed_identifiers": 2}
    assert get(api, f"/api/v1/persons/{pid}", status=404)["error"]["code"] == "not_found"
    get(api, "/api/v1/persons/lookup", status=404, user_id="er-u")
    assert api.delete(f"/api/v1/persons/{pid}").status_code == 404


def test_unknown_person_is_a_json_404(api: httpx.Client) -> None:
    for path in ("/api/v1/persons/00000000-0000-0000-0000-000000000000",
                 "/api/v1/persons/nope/events", "/api/v1/persons/nope/explain"):
        body = get(api, path, status=404)
        assert body["error"]["code"] == "not_found" and body["error"]["message"]
    get(api, "/api/v1/persons/lookup", status=404, anonymous_id="never-seen")


def test_lookup_needs_exactly_one_identifier(api: httpx.Client) -> None:
    assert get(api, "/api/v1/persons/lookup", status=422)["error"]["code"] == "validation_error"
    get(api, "/api/v1/persons/lookup", status=422, anonymous_id="a", user_id="b")


def test_list_search_and_pagination(api: httpx.Client) -> None:
    for n in range(5):
        send(api, msg("identify", f"2026-02-16T0{n}:00:00Z", user=f"ls-u{n}",
                      traits={"company_name": f"Zebracorn {n}"}))
    found = all_pages(api, "/api/v1/persons", search="zebracorn", limit=2)
    assert [p["user_ids"] for p in found] == [[f"ls-u{n}"] for n in (4, 3, 2, 1, 0)]
    by_id = all_pages(api, "/api/v1/persons", search="LS-U3")
    assert [p["user_ids"] for p in by_id] == [["ls-u3"]]
    everyone = all_pages(api, "/api/v1/persons", limit=7)
    ids = [p["id"] for p in everyone]
    assert len(ids) == len(set(ids))
    assert set(ids) >= {p["id"] for p in found}
    activity = [p["last_seen"] for p in everyone]
    assert activity == sorted(activity, reverse=True)


def test_timeline_pages_follow_the_cursor(api: httpx.Client) -> None:
    send(api, *(msg("track", f"2026-02-17T10:0{n}:00Z", user="pg-u", event=f"E{n}") for n in range(7)))
    pid = get(api, "/api/v1/persons/lookup", user_id="pg-u")["id"]
    first = get(api, f"/api/v1/persons/{pid}/events", limit=3)
    assert len(first["data"]) == 3 and first["next_cursor"]
    events = all_pages(api, f"/api/v1/persons/{pid}/events", limit=3)
    assert [e["event"] for e in events] == [f"E{n}" for n in range(7)]


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "1001"}, {"limit": "x"},
                                    {"cursor": "not-a-cursor"}, {"cursor": "WzFd"}])
def test_bad_pagination_parameters_are_422(api: httpx.Client, params: dict[str, str]) -> None:
    body = get(api, "/api/v1/persons", status=422, **params)
    assert body["error"]["code"] == "validation_error"
