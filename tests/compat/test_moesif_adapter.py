"""The Moesif adapter on the payloads moesif.md §8 shows (as the SDKs send them):
API calls, user and company updates, actions, and what is never stored."""

from __future__ import annotations

import base64
import copy
import dataclasses
from typing import Any

import orjson
import pytest

from tests.compat.helpers import info, us
from threadline.collector.formats import moesif
from threadline.collector.formats.common import InvalidMessage
from threadline.collector.formats.jwt import jwt_claim, user_from_authorization
from threadline.model import CompanyRef, Source
from threadline.projects import ProjectSettings

API = Source.MOESIF_API
BROWSER = Source.MOESIF_BROWSER
CAPTURE = ProjectSettings(body_capture=True)

# moesif.md §8 A: what moesifasgi posts to /v1/events/batch (one item).
EVENT: dict[str, Any] = {
    "request": {"time": "2026-11-22T15:39:03.085", "uri": "http://127.0.0.1:9201/items?q=1", "verb": "POST",
                "headers": {"host": "127.0.0.1:9201", "user-agent": "curl/7.88.1",
                            "authorization": "Bearer aaa.eyJzdWIiOiJ1c2VyLTQyIn0.sig",
                            "cookie": "session=s3cr3t", "content-type": "application/json",
                            "x-forwarded-for": "1.2.3.4, 10.0.0.1", "content-length": "7",
                            "X-Moesif-Transaction-Id": "939d8c40-2901-457f-be3e-730448ffbaaf"},
                "api_version": "1.2", "ip_address": "1.2.3.4", "body": {"a": 1}, "transfer_encoding": "json"},
    "response": {"time": "2026-11-22T15:39:03.089", "status": 200,
                 "headers": {"content-length": "25", "content-type": "application/json",
                             "set-cookie": "session=new", "X-Moesif-Transaction-Id": "939d8c40"},
                 "body": {"ok": True, "got": {"a": 1}}, "ip_address": None, "transfer_encoding": "json"},
    "session_token": "sess-abc", "tags": None, "user_id": "user-42", "company_id": "comp-1",
    "metadata": {"dc": "westus"}, "direction": "Incoming", "weight": 1, "blocked_by": None,
    "transaction_id": "e40faabb-9117-4195-ab9d-8d8c6463bd78",
}


def call(raw: dict[str, Any], source: Source = API, **kw: Any) -> Any:
    return moesif.parse_event(raw, info(**{"message_limit": 1024 * 1024, **kw}), source)


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for path, value in changes.items():
        node = out
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return out


def jwt(payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{body}.signature"


def test_an_api_call_is_a_track_with_the_documented_properties() -> None:
    msg = call(EVENT)
    assert (msg.type, msg.event, msg.message_id) == ("track", "API Call", EVENT["transaction_id"])
    assert msg.user_id == "user-42" and msg.anonymous_id is None
    assert msg.companies == (CompanyRef("comp-1", True),)
    assert msg.timestamp_us == us("2026-11-22T15:39:03.085Z")  # naive times are UTC
    p = msg.properties
    assert {k: p[k] for k in ("method", "url", "route", "status", "duration_ms", "request_bytes",
                              "response_bytes", "ip", "user_agent", "api_version", "transaction_id",
                              "direction")} == {
        "method": "POST", "url": "http://127.0.0.1:9201/items?q=1", "route": "/items", "status": 200,
        "duration_ms": 4.0, "request_bytes": 7, "response_bytes": 25, "ip": "1.2.3.4",
        "user_agent": "curl/7.88.1", "api_version": "1.2", "transaction_id": EVENT["transaction_id"],
        "direction": "incoming"}
    assert p["session_token"] == "sess-abc" and p["weight"] == 1 and p["metadata"] == {"dc": "westus"}
    assert msg.context == {"ip": "1.2.3.4", "userAgent": "curl/7.88.1"}


def test_without_body_capture_no_body_and_no_header_is_kept() -> None:
    text = orjson.dumps(dataclasses.asdict(call(EVENT))).decode()
    for secret in ("s3cr3t", "session=new", "Bearer", '"a":1'):
        assert secret not in text


def test_with_body_capture_bodies_and_headers_are_kept_without_credentials() -> None:
    p = call(EVENT, settings=CAPTURE).properties
    assert p["request_body"] == {"a": 1} and p["request_body_truncated"] is False
    assert p["response_body"] == {"ok": True, "got": {"a": 1}}
    assert p["request_headers"]["content-type"] == "application/json"
    assert "authorization" not in p["request_headers"] and "cookie" not in p["request_headers"]
    assert "set-cookie" not in p["response_headers"]


def test_bodies_over_32_kb_are_cut_and_flagged() -> None:
    big = {"blob": "é" * 40_000}
    p = call(with_(EVENT, request__body=big, response__body="x" * 50_000), settings=CAPTURE).properties
    assert p["request_body_truncated"] is True and p["response_body_truncated"] is True
    assert len(p["request_body"].encode()) <= moesif.BODY_LIMIT
    assert p["response_body"] == "x" * moesif.BODY_LIMIT
    encoded = call(with_(EVENT, response__body="aGVsbG8=", response__transfer_encoding="base64"),
                   settings=CAPTURE).properties
    assert encoded["response_body_encoding"] == "base64"


def test_the_user_comes_from_a_bearer_jwt_or_basic_auth_when_user_id_is_missing() -> None:
    # '-' and '_' in the payload: Moesif's own decoder fails on these, ours must not.
    token = jwt({"sub": "user~?>>?~", "name": "x"})
    assert "-" in token.split(".")[1] or "_" in token.split(".")[1]
    msg = call(with_(EVENT, user_id=None, request__headers={"Authorization": f"Bearer {token}"}))
    assert msg.user_id == "user~?>>?~"
    basic = base64.b64encode(b"bob:pw").decode()
    assert call(with_(EVENT, user_id=None, request__headers={"authorization": f"Basic {basic}"})).user_id == "bob"
    assert call(with_(EVENT, user_id=None, request__headers={})).user_id is None
    assert call(with_(EVENT, user_id="null")).user_id == "user-42"  # a junk id: the token decides
    assert jwt_claim("not-a-jwt") is None and user_from_authorization({"authorization": "Bearer a.!!.c"}) is None
    assert jwt_claim(jwt({"SUB": 42})) == "42"


def test_without_a_transaction_id_the_id_is_a_hash_of_the_call() -> None:
    first = call(with_(EVENT, transaction_id=None)).message_id
    assert first.startswith("h_") and first == call(with_(EVENT, transaction_id=None)).message_id
    assert first != call(with_(EVENT, transaction_id=None, request__verb="GET")).message_id


def test_wsgi_mount_prefix_before_the_scheme_still_gives_a_route() -> None:
    msg = call(with_(EVENT, request__uri="/apphttp://localhost:5000/users/7?x=1"))
    assert msg.properties["route"] == "/app/users/7"


@pytest.mark.parametrize(("uri", "route"), [
    ("https://api.test/v1/items/7?q=1#top", "/v1/items/7"),
    ("http://api.test:8080", "/"),
    ("http://api.test?q=1", "/"),
    ("https://api.test/a;b/c#frag?not-query", "/a;b/c"),
    ("HTTPS://api.test/upper", "/upper"),
    ("https://api.test/tab\there", "/tabhere"),  # urlsplit drops tabs; so does the route
    ("/relative/path?x=1", "/relative/path"),
])
def test_the_route_is_the_path_of_the_url_as_urlsplit_reads_it(uri: str, route: str) -> None:
    assert call(with_(EVENT, request__uri=uri)).properties["route"] == route


def test_a_request_time_in_the_future_is_kept_as_sent_and_replaced_by_the_receipt_time() -> None:
    msg = call(with_(EVENT, request__time="2999-01-01T00:00:00.000", response__time="2999-01-01T00:00:00.250"),
               received="2026-11-22T19:30:00Z")
    assert msg.timestamp_us == us("2026-11-22T19:30:00Z")
    assert msg.extra["original_timestamp"] == "2999-01-01T00:00:00.000"
    assert msg.properties["duration_ms"] == 250.0


def test_header_names_match_in_any_spelling() -> None:
    headers = {"USER-AGENT": "curl/8", "CONTENT-LENGTH": "12", "AUTHORIZATION": "Basic " + base64.b64encode(
        b"ann:pw").decode()}
    msg = call(with_(EVENT, user_id=None, request__headers=headers))
    assert msg.properties["user_agent"] == "curl/8" and msg.properties["request_bytes"] == 12
    assert msg.user_id == "ann"


def test_browser_calls_get_the_client_address_and_agent_of_the_request() -> None:
    raw = {"request": {"uri": "https://api.test/v1/me", "verb": "GET", "time": "2026-11-22T15:00:00.000Z",
                       "headers": {}},
           "response": {"status": 200, "time": "2026-11-22T15:00:00.120Z", "headers": {}},
           "anonymous_id": "1a203eb106a2aa-034a85fb287517-3a563a7f-0", "transaction_id": "b-1"}
    msg = call(raw, BROWSER, ip="198.51.100.9", user_agent="Chromium")
    assert msg.anonymous_id == raw["anonymous_id"] and msg.source == BROWSER
    assert msg.properties["ip"] == "198.51.100.9" and msg.properties["user_agent"] == "Chromium"
    assert msg.properties["duration_ms"] == 120.0 and msg.properties["direction"] == "incoming"


def test_invalid_calls_are_rejected_and_quarantined_without_credentials() -> None:
    batch = [EVENT, {"request": {"verb": "GET"}}, {"response": {}}, [], with_(EVENT, request__time="soon"),
             with_(EVENT, request__headers="x"), with_(EVENT, user_id={"id": 1})]
    parsed = moesif.parse_many(batch, info(), API, moesif.parse_event, batch=True)
    assert len(parsed.messages) == 1
    assert [r.index for r in parsed.rejected] == [1, 2, 3, 4, 5, 6]
    kept = orjson.dumps([r.body for r in parsed.rejected]).decode()
    assert "Bearer" not in kept and "s3cr3t" not in kept and "session=new" not in kept
    limited = moesif.parse_many([EVENT], info(message_limit=500), API, moesif.parse_event, batch=True)
    assert limited.rejected[0].code == "message_too_large"


@pytest.mark.parametrize(("data", "batch"), [({}, True), ([], False), ("x", True), (3, False)])
def test_the_wrong_top_level_type_is_refused(data: Any, batch: bool) -> None:
    with pytest.raises(InvalidMessage):
        moesif.parse_many(data, info(), API, moesif.parse_event, batch)


def test_identify_user_links_the_anonymous_id_and_joins_the_company() -> None:
    # moesif.md §8 B: browser-js identifyUser.
    raw = {"user_id": "user-1", "metadata": {"email": "a@b.c", "plan": None},
           "campaign": {"utm_source": "google", "utm_medium": "cpc", "gclid": "GCLID123", "utm_term": None},
           "company_id": "comp-1", "anonymous_id": "1a203eb106a2aa-034a85fb287517-3a563a7f-0"}
    msg = moesif.parse_user(raw, info(user_agent="Chromium"), BROWSER)
    assert (msg.type, msg.hidden) == ("identify", False)
    assert (msg.user_id, msg.anonymous_id) == ("user-1", raw["anonymous_id"])
    assert msg.traits == {"email": "a@b.c", "plan": None}  # null is "not provided" when folded
    assert msg.companies == (CompanyRef("comp-1", True),)
    assert msg.context["campaign"] == {"utm_source": "google", "utm_medium": "cpc", "gclid": "GCLID123"}
    assert msg.timestamp_us == info().received_at_us


def test_an_anonymous_only_user_post_is_a_hidden_identify_timed_at_modified_time() -> None:
    msg = moesif.parse_user({"anonymous_id": "anon-9", "campaign": {}}, info(), BROWSER)
    assert (msg.type, msg.hidden, msg.user_id, msg.anonymous_id) == ("identify", True, None, "anon-9")
    assert "campaign" not in msg.context
    timed = moesif.parse_user({"anonymous_id": "anon-9", "modified_time": "2026-11-01T00:00:00+00:00"}, info(), API)
    assert timed.timestamp_us == us("2026-11-01T00:00:00Z")
    with pytest.raises(InvalidMessage):
        moesif.parse_user({"metadata": {"x": 1}}, info(), API)


def test_a_company_update_sets_company_traits_on_no_timeline() -> None:
    msg = moesif.parse_company({"company_id": "comp-1", "company_domain": "acme.test",
                                "metadata": {"name": "Acme", "plan": "pro"}}, info(), API)
    assert msg.hidden and msg.owner is None and msg.type == "group"
    assert msg.companies == (CompanyRef("comp-1", False, {"name": "Acme", "plan": "pro",
                                                         "company_domain": "acme.test"}),)
    with pytest.raises(InvalidMessage):
        moesif.parse_company({"metadata": {}}, info(), API)


def test_an_action_is_a_track_named_by_action_name() -> None:
    # moesif.md §8 C: browser-js track() while anonymous.
    raw = {"action_name": "Viewed Landing", "anonymous_id": "anon-7",
           "request": {"uri": "http://app.example.test/landing?utm_source=google", "verb": "GET",
                       "user_agent_string": "Mozilla/5.0 (...)"},
           "transaction_id": "99ba4a51-c75f-4cd9-a923-ae859f7c380b", "metadata": {"button": "x"}}
    msg = moesif.parse_action(raw, info(ip="198.51.100.2"), BROWSER)
    assert (msg.type, msg.event, msg.anonymous_id) == ("track", "Viewed Landing", "anon-7")
    assert msg.properties == {"button": "x"}
    assert msg.context["page"] == {"url": raw["request"]["uri"], "path": "/landing"}
    assert msg.context["ip"] == "198.51.100.2" and msg.context["userAgent"] == "Mozilla/5.0 (...)"
    assert msg.message_id.startswith("ma_")
    assert msg.message_id == moesif.parse_action(raw, info(), BROWSER).message_id  # a re-sent batch
    again = moesif.parse_action({**raw, "transaction_id": "other"}, info(), BROWSER)
    assert again.message_id != msg.message_id  # a second click is a second action
    url_alias = moesif.parse_action({**raw, "request": {"url": "https://x.test/p"}}, info(), BROWSER)
    assert url_alias.context["page"]["url"] == "https://x.test/p"
    with pytest.raises(InvalidMessage):
        moesif.parse_action({"metadata": {}}, info(), BROWSER)
