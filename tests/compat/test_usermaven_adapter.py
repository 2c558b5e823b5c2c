"""The Usermaven adapter on the request bodies the unmodified SDKs sent
(``data/usermaven_captures.json``, extracted from shared/wire/usermaven-captures):
each captured event maps to the canonical message api.md describes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.compat.helpers import info, us
from threadline.collector.formats.common import InvalidMessage, cookieless_id
from threadline.collector.formats.usermaven import Policies, parse_event, parse_request
from threadline.model import CompanyRef, Message, Source

CAPTURES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "usermaven_captures.json").read_text())["requests"]
BROWSER = Source.USERMAVEN_BROWSER
S2S = Source.USERMAVEN_S2S


def captured(scenario: str) -> list[dict[str, Any]]:
    """The events of a scenario, in the order they were sent."""
    out: list[dict[str, Any]] = []
    for req in CAPTURES:
        if req["scenario"] == scenario:
            body = req["body"]
            out.extend(body if isinstance(body, list) else [body])
    return out


def event(scenario: str, event_type: str, nth: int = 0) -> dict[str, Any]:
    return [e for e in captured(scenario) if e["event_type"] == event_type][nth]


def one(raw: dict[str, Any], source: Source = BROWSER, policies: Policies | None = None, **kw: Any) -> Message:
    return parse_event(raw, info(**kw), source, policies or Policies())


def test_every_captured_request_maps_without_a_reject() -> None:
    assert len(CAPTURES) > 60
    types = {"pageview": "page", "user_identify": "identify", "group": "group"}
    for req in CAPTURES:
        source = S2S if "/s2s/" in req["path"] else BROWSER
        parsed = parse_request(req["body"], info(query=req["query"]), source, Policies.of(req["query"]))
        assert parsed.rejected == [], (req["scenario"], req["seq"], parsed.rejected)
        events = req["body"] if isinstance(req["body"], list) else [req["body"]]
        assert len(parsed.messages) == len(events)
        for raw, msg in zip(events, parsed.messages, strict=True):
            assert msg.type == types.get(raw["event_type"], "track")
            assert msg.source == source
            if raw.get("event_id"):
                assert msg.message_id == raw["event_id"]
            assert "api_key" not in msg.extra


def test_initial_pageview_is_a_page_with_the_top_level_page_fields() -> None:
    raw = captured("browser-default")[0]
    msg = one(raw)
    assert (msg.type, msg.event, msg.message_id) == ("page", None, "081f59160j")
    assert msg.anonymous_id == "3u48366t5x" and msg.user_id is None
    assert msg.timestamp_us == us("2026-11-22T19:24:10.358Z")
    assert msg.properties["url"] == raw["url"]
    assert msg.properties["path"] == "/shop/index.html"
    assert msg.properties["referrer"] == "https://www.google.com/"
    assert msg.properties["title"] == "Shop home"
    assert msg.context["page"]["url"] == raw["url"]
    assert msg.context["campaign"] == {"source": "newsletter", "medium": "email", "name": "spring",
                                       "term": "shoes", "content": "hero"}
    assert msg.context["ip"] == "203.0.113.77"
    assert msg.context["userAgent"].startswith("Mozilla/5.0")
    assert msg.extra["ids"] == {"fbp": "fb.1.1700000000000.123456789"}
    assert msg.extra["namespace"] == "default" and msg.extra["local_tz_offset"] == -60
    assert msg.companies == ()


def test_custom_event_with_its_own_event_id_is_a_track_with_its_attributes() -> None:
    msg = one(event("browser-default", "signup_clicked"))
    assert (msg.type, msg.event, msg.message_id) == ("track", "signup_clicked", "my-own-event-id-1")
    assert msg.properties == {"plan": "pro", "price": 49, "tags": ["a", "b"], "nested": {"x": 1}}
    assert msg.traits == {}


def test_user_identify_is_an_identify_with_traits_and_company_membership() -> None:
    msg = one(event("browser-default", "user_identify"))
    assert msg.type == "identify"
    assert (msg.anonymous_id, msg.user_id) == ("3u48366t5x", "u_123")
    assert msg.traits["email"] == "jane@example.com" and msg.traits["first_name"] == "Jane"
    assert msg.traits["custom"] == {"role": "admin"}
    assert "id" not in msg.traits and "anonymous_id" not in msg.traits
    assert msg.companies == (CompanyRef("c_9", True, {"name": "Acme Inc", "created_at": "2023-05-06T00:00:00Z",
                                                      "custom": {"plan": "enterprise", "employees": 20}}),)


def test_later_events_carry_the_user_block_as_traits() -> None:
    msg = one(event("browser-default", "plan_upgraded"))
    assert msg.type == "track" and msg.user_id == "u_123"
    assert msg.traits["last_name"] == "Doe"
    assert msg.properties == {"from": "pro", "to": "enterprise"}


def test_group_makes_both_companies_memberships_with_the_group_company_first() -> None:
    msg = one(event("browser-default", "group"))
    assert msg.type == "group" and msg.event is None
    assert [c.id for c in msg.companies] == ["c_10", "c_9"]
    assert all(c.member for c in msg.companies)
    assert msg.companies[0].traits == {"name": "Beta LLC", "created_at": "2022-01-01T00:00:00Z", "industry": "saas"}


def test_set_props_are_kept_and_autocapture_attributes_become_properties() -> None:
    checkout = one(event("browser-default", "checkout"))
    assert checkout.extra["app_version"] == "2.3.1" and checkout.extra["only_for_checkout"] is True
    click = one(event("browser-default", "$autocapture"))
    assert click.event == "$autocapture" and click.properties["el_text"] == "Buy now"


def test_strict_mode_derives_one_cookieless_visitor_that_identify_stitches() -> None:
    req = next(r for r in CAPTURES if r["scenario"] == "browser-strict")
    policies = Policies.of(req["query"])
    assert policies.cookieless and policies.strict_ip
    events = captured("browser-strict")[:5]
    assert all(e["user"]["anonymous_id"] == "" for e in events)
    msgs = [one(e, policies=policies) for e in events]
    visitor = cookieless_id(info(), events[0]["url"])
    assert {m.anonymous_id for m in msgs} == {visitor} and visitor.startswith("cv_")
    assert all(m.context["cookieless"] is True for m in msgs)
    assert all(m.context["ip"] == "203.0.113.0" for m in msgs)  # last octet zeroed
    identify = next(m for m in msgs if m.type == "identify")
    assert identify.user_id == "u_123"  # with the visitor id: one identified edge
    other_ua = one(events[0], policies=policies, user_agent="Other/1.0")
    assert other_ua.anonymous_id != visitor


def test_without_a_cookie_policy_an_empty_anonymous_id_stays_empty() -> None:
    raw = {**captured("browser-strict")[0]}
    msg = one(raw)
    assert msg.anonymous_id is None and msg.context["ip"] == "203.0.113.77"


def test_comply_policy_keeps_a_sent_anonymous_id_and_truncates_the_ip() -> None:
    req = next(r for r in CAPTURES if r["path"].startswith("/api.") and r["query"].get("cookie_policy"))
    msg = one(req["body"][0], policies=Policies.of(req["query"]))
    assert msg.anonymous_id == req["body"][0]["user"]["anonymous_id"] != ""
    assert msg.context["ip"] == "203.0.113.0"


def test_legacy_events_without_event_id_are_keyed_by_a_hash_of_the_event() -> None:
    events = captured("browser-legacy-1.4.0")
    assert all(e["event_id"] == "" for e in events)
    ids = [one(e).message_id for e in events]
    assert all(i.startswith("h_") for i in ids) and len(set(ids)) == len(ids)
    assert one(events[0]).message_id == ids[0]  # the SDK's retry is the same message
    assert one(events[0]).timestamp_us == us("2026-11-22T19:26:13.057000Z")


def test_python_sdk_events_ignore_the_throwaway_anonymous_id_and_get_fresh_ids() -> None:
    events = captured("python-sdk")
    received = info(received=CAPTURES[-1]["t"])
    msgs = [parse_event(e, received, S2S, Policies()) for e in events]
    assert all(m.anonymous_id is None for m in msgs)
    assert all(m.message_id.startswith("r_") for m in msgs) and len({m.message_id for m in msgs}) == len(msgs)
    assert all(m.timestamp_us == received.received_at_us for m in msgs)
    identify = msgs[0]
    assert identify.type == "identify" and identify.user_id == "u_123"
    assert identify.traits == {"email": "jane@example.com", "created_at": "2024-01-02T03:04:05",
                               "custom": {"plan_name": "premium"}}
    assert identify.companies[0].id == "c_9" and identify.companies[0].member
    numeric = next(m for m in msgs if m.event == "signed_up")
    assert numeric.user_id == "42"
    assert "ip" not in msgs[0].context  # the server's address is not the user's


def test_server_events_take_unix_ms_or_iso_times_and_a_context() -> None:
    base = {"event_type": "paid", "event_id": "", "user": {"id": "s1", "anonymous_id": "browser-anon-1"}}
    ms = one({**base, "_timestamp": 1795375000000}, S2S)
    assert ms.timestamp_us == 1795375000000 * 1000 and ms.message_id.startswith("h_")
    assert ms.anonymous_id == "browser-anon-1"  # custom server code carries the cookie's id
    iso = one({**base, "utc_time": "2026-11-20T10:00:00Z", "context": {"ip": "198.51.100.4", "app": "billing"}}, S2S)
    assert iso.timestamp_us == us("2026-11-20T10:00:00Z")
    assert iso.context["ip"] == "198.51.100.4" and iso.context["app"] == "billing"


def test_invalid_events_are_rejected_by_index_and_the_key_is_not_kept() -> None:
    body = [
        {"event_type": "ok", "event_id": "e1", "user": {"anonymous_id": "a1"}},
        "not an object",
        {"event_id": "e2", "user": {"anonymous_id": "a1"}},
        {"event_type": "x", "user": "bob", "api_key": "UMtestKey1"},
        {"event_type": "x", "user": {"id": {"nested": 1}}},
        {"event_type": "group", "company": {"name": "no id"}},
        {"event_type": "x", "utc_time": "yesterday"},
        {"event_type": "big", "event_attributes": {"blob": "x" * 40_000}},
    ]
    parsed = parse_request(body, info(), BROWSER, Policies())
    assert [m.message_id for m in parsed.messages] == ["e1"]
    assert [r.index for r in parsed.rejected] == [1, 2, 3, 4, 5, 6, 7]
    assert parsed.rejected[-1].code == "message_too_large"
    assert parsed.rejected[5].code == "invalid_timestamp"
    assert "api_key" not in parsed.rejected[2].body


@pytest.mark.parametrize("body", ["text", 12, None, True])
def test_a_body_that_is_neither_an_event_nor_an_array_is_refused(body: Any) -> None:
    with pytest.raises(InvalidMessage):
        parse_request(body, info(), BROWSER, Policies())


def test_junk_ids_are_not_identifiers() -> None:
    msg = one({"event_type": "x", "event_id": "j1", "user": {"anonymous_id": "undefined", "id": "null"},
               "company": {"id": "0"}})
    assert (msg.anonymous_id, msg.user_id, msg.companies) == (None, None, ())
    assert msg.raw_anonymous_id == "undefined"


def test_a_repeated_company_block_sets_traits_once_per_request_and_membership_on_every_event() -> None:
    events = captured("browser-default")
    parsed = parse_request(events, info(), BROWSER, Policies())
    with_c9 = [m for m in parsed.messages if any(c.id == "c_9" for c in m.companies)]
    assert len(with_c9) > 5 and all(c.member for m in with_c9 for c in m.companies)
    updates = [(m.message_id, c.id) for m in parsed.messages for c in m.companies if c.traits is not None]
    # c_9 and c_10 keep one update each: on the latest event of the request carrying them.
    assert sorted(cid for _mid, cid in updates) == ["c_10", "c_9"]
    last_c9 = max(with_c9, key=lambda m: (m.timestamp_us, m.message_id))
    assert (last_c9.message_id, "c_9") in updates
    # A block that changes in between is kept, and so is its latest repetition.
    base = {"event_type": "x", "user": {"anonymous_id": "a", "id": "u"}, "utc_time": "2026-11-22T10:00:0{}Z"}
    blocks = [{"id": "k", "plan": "a"}, {"id": "k", "plan": "b"}, {"id": "k", "plan": "a"}, {"id": "k", "plan": "a"}]
    msgs = parse_request([{**base, "event_id": f"k{i}", "company": b, "utc_time": base["utc_time"].format(i)}
                          for i, b in enumerate(blocks)], info(), BROWSER, Policies()).messages
    assert [m.companies[0].traits for m in msgs] == [None, {"plan": "b"}, None, {"plan": "a"}]
