"""Explain (links, the shared-device conflict) and companies (detail, members, the
company timeline from membership on) through the real query API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.query.helpers import all_pages, get, msg, send


@pytest.fixture(scope="module")
def api(shared_server: LiveServer) -> Iterator[httpx.Client]:
    with shared_server.query() as client:
        yield client


def test_explain_lists_the_link_and_the_refused_shared_device_conflict(api: httpx.Client) -> None:
    # One browser: Alice logs in, then Bob logs in without a reset.
    send(api, msg("page", "2026-03-01T09:00:00Z", anon="sd-dev"),
         msg("identify", "2026-03-01T09:05:00Z", anon="sd-dev", user="sd-alice", mid="sd-m1"),
         msg("identify", "2026-03-01T12:00:00Z", anon="sd-dev", user="sd-bob", mid="sd-m2"),
         msg("track", "2026-03-01T12:01:00Z", anon="sd-dev", user="sd-bob", event="Bob did it"))
    alice = get(api, "/api/v1/persons/lookup", user_id="sd-alice")
    bob = get(api, "/api/v1/persons/lookup", user_id="sd-bob")
    assert alice["id"] != bob["id"]
    assert alice["anonymous_ids"] == ["sd-dev"] and bob["anonymous_ids"] == []
    # Bob's identified events belong to Bob, nobody's history is mixed.
    assert [e["event"] for e in get(api, f"/api/v1/persons/{bob['id']}/events")["data"]] == [None, "Bob did it"]
    assert "Bob did it" not in [e["event"] for e in get(api, f"/api/v1/persons/{alice['id']}/events")["data"]]

    ex = get(api, f"/api/v1/persons/{alice['id']}/explain")
    assert set(ex) == {"person_id", "identifiers", "links", "conflicts", "blocks"}
    assert ex["person_id"] == alice["id"]
    assert ex["identifiers"] == [
        {"kind": "anonymous", "value": "sd-dev", "first_seen": "2026-03-01T09:00:00.000Z"},
        {"kind": "user", "value": "sd-alice", "first_seen": "2026-03-01T09:05:00.000Z"}]
    assert ex["links"] == [{"a": {"kind": "anonymous", "value": "sd-dev"},
                            "b": {"kind": "user", "value": "sd-alice"}, "edge": "identified",
                            "message_id": "sd-m1", "time": "2026-03-01T09:05:00.000Z",
                            "source": "native"}]
    assert ex["conflicts"] == [{"a": {"kind": "anonymous", "value": "sd-dev"},
                                "b": {"kind": "user", "value": "sd-bob"}, "edge": "identified",
                                "message_id": "sd-m2", "time": "2026-03-01T12:00:00.000Z",
                                "a_user_ids": ["sd-alice"], "b_user_ids": ["sd-bob"]}]
    assert ex["blocks"] == []
    bob_ex = get(api, f"/api/v1/persons/{bob['id']}/explain")
    assert bob_ex["links"] == []
    assert [c["message_id"] for c in bob_ex["conflicts"]] == ["sd-m2"]


def test_explain_shows_alias_links_with_their_source(api: httpx.Client) -> None:
    send(api, msg("alias", "2026-03-02T09:00:00Z", user="al-new", previousId="al-old", mid="al-m",
                  context={"library": {"name": "threadline-python"}}))
    person = get(api, "/api/v1/persons/lookup", user_id="al-new")
    ex = get(api, f"/api/v1/persons/{person['id']}/explain")
    assert [(lk["edge"], lk["message_id"], lk["source"]) for lk in ex["links"]] == [("alias", "al-m", "sdk")]
    assert {lk["a"]["value"] for lk in ex["links"]} | {lk["b"]["value"] for lk in ex["links"]} == {"al-new", "al-old"}


def test_company_detail_members_and_timeline_from_membership_on(api: httpx.Client) -> None:
    send(api,
         msg("track", "2026-03-05T08:00:00Z", user="co-u1", event="Before joining"),
         msg("group", "2026-03-05T09:00:00Z", user="co-u1", groupId="co-acme",
             traits={"name": "Acme", "plan": "free"}),
         msg("track", "2026-03-05T10:00:00Z", user="co-u1", event="After joining"),
         msg("group", "2026-03-06T09:00:00Z", user="co-u2", groupId="co-acme", traits={"plan": "pro"}),
         msg("track", "2026-03-06T11:00:00Z", anon="co-visitor", event="Carries the id",
             context={"groupId": "co-acme"}),
         msg("track", "2026-03-07T11:00:00Z", user="co-u2", event="Last"))
    company = get(api, "/api/v1/companies/co-acme")
    assert company == {"id": "co-acme", "name": "Acme", "traits": {"name": "Acme", "plan": "pro"},
                       "member_count": 2, "first_seen": "2026-03-05T09:00:00.000Z",
                       "last_seen": "2026-03-07T11:00:00.000Z"}
    timeline = all_pages(api, "/api/v1/companies/co-acme/events", limit=2)
    assert [e["event"] for e in timeline] == [None, "After joining", None, "Carries the id", "Last"]
    assert timeline[3]["company_ids"] == ["co-acme"]
    members = all_pages(api, "/api/v1/companies/co-acme/persons")
    assert [m["user_ids"] for m in members] == [["co-u1"], ["co-u2"]]
    assert members[0]["companies"] == [{"id": "co-acme", "name": "Acme",
                                        "traits": {"name": "Acme", "plan": "pro"}}]
    listed = all_pages(api, "/api/v1/companies", search="acme")
    assert [c["id"] for c in listed] == ["co-acme"]
    assert listed[0] == company


def test_membership_follows_a_merge(api: httpx.Client) -> None:
    send(api, msg("group", "2026-03-08T09:00:00Z", anon="cm-a", groupId="co-merge"),
         msg("track", "2026-03-08T09:30:00Z", user="cm-u", event="Paid"))
    assert [e["event"] for e in get(api, "/api/v1/companies/co-merge/events")["data"]] == [None]
    send(api, msg("identify", "2026-03-08T09:10:00Z", anon="cm-a", user="cm-u"))
    events = get(api, "/api/v1/companies/co-merge/events")["data"]
    assert [e["type"] for e in events] == ["group", "identify", "track"]
    assert get(api, "/api/v1/companies/co-merge")["member_count"] == 1


def test_companies_are_listed_newest_first_with_pages(api: httpx.Client) -> None:
    for n in range(3):
        send(api, msg("group", f"2026-03-1{n}T09:00:00Z", user=f"cl-u{n}", groupId=f"cl-co{n}",
                      traits={"name": f"Listco {n}"}))
    listed = all_pages(api, "/api/v1/companies", search="listco", limit=1)
    assert [c["id"] for c in listed] == ["cl-co2", "cl-co1", "cl-co0"]
    assert [c["name"] for c in listed] == ["Listco 2", "Listco 1", "Listco 0"]


def test_unknown_company_is_404(api: httpx.Client) -> None:
    for path in ("/api/v1/companies/nope", "/api/v1/companies/nope/persons", "/api/v1/companies/nope/events"):
        assert get(api, path, status=404)["error"]["code"] == "not_found"
