"""The unmodified ``usermaven`` Python SDK (PyPI) against a real Threadline server:
only its ``host`` option changes. Sync mode (one request per call) and the threaded
consumer both deliver; the throwaway anonymous id never makes a visitor."""

from __future__ import annotations

import pytest

from tests.compat.helpers import person, stored, timeline
from tests.compat.hosts import until
from tests.conftest import SECRET_KEY, WRITE_KEY, LiveServer, require_module

usermaven = require_module("usermaven")
from usermaven import Client  # noqa: E402
from usermaven.request import APIError  # noqa: E402

COMPANY = {"id": "py-c1", "name": "Acme Inc", "created_at": "2023-05-06T00:00:00", "custom": {"plan": "enterprise"}}


def test_sync_identify_and_track_make_one_identified_person_in_its_company(shared_server: LiveServer) -> None:
    client = Client(WRITE_KEY, SECRET_KEY, host=shared_server.url, sync_mode=True)
    client.identify({"id": "py-u1", "email": "jane@example.com", "created_at": "2024-01-02T03:04:05",
                     "custom": {"plan_name": "premium"}}, COMPANY)
    client.track("py-u1", "plan_purchased", COMPANY, {"plan": "premium", "amount": 99.5})
    client.track(4242, "signed_up")  # numeric user ids keep working
    p = person(shared_server, user_id="py-u1")
    assert p["is_identified"] is True and p["user_ids"] == ["py-u1"]
    assert p["anonymous_ids"] == []  # each message's random anonymous_id is ignored
    assert p["traits"] == {"email": "jane@example.com", "created_at": "2024-01-02T03:04:05",
                           "custom": {"plan_name": "premium"}}
    assert [c["id"] for c in p["companies"]] == ["py-c1"]  # type: ignore[union-attr, index]
    assert p["companies"][0]["name"] == "Acme Inc"  # type: ignore[index]
    events = timeline(shared_server, str(p["id"]))
    assert [(e["type"], e["event"]) for e in events] == [("identify", None), ("track", "plan_purchased")]
    assert events[1]["properties"] == {"plan": "premium", "amount": 99.5}
    assert all(e["source"] == "usermaven-s2s" for e in events)
    assert person(shared_server, user_id="4242")["event_count"] == 1


def test_threaded_consumer_batches_are_delivered(shared_server: LiveServer) -> None:
    errors: list[object] = []
    client = Client(WRITE_KEY, SECRET_KEY, host=shared_server.url + "/", flush_interval=0.05,
                    on_error=lambda exc, batch: errors.append(exc))
    for i in range(25):
        client.track("py-u2", "evt", event_attributes={"i": i})
    client.flush()
    client.join()
    assert errors == []
    p = until(lambda: (lambda x: x if x["event_count"] == 25 else None)(person(shared_server, user_id="py-u2")),
              "25 events of py-u2")
    assert sorted(e["properties"]["i"] for e in timeline(shared_server, str(p["id"]))) == list(range(25))  # type: ignore[index]


def test_a_wrong_server_token_is_refused_and_stores_nothing(shared_server: LiveServer) -> None:
    client = Client(WRITE_KEY, "sk_wrong_0123456789abcdefghijkl", host=shared_server.url, sync_mode=True)
    with pytest.raises(APIError) as info:
        client.track("py-u3", "never")
    assert info.value.status == 401
    swapped = Client(SECRET_KEY, WRITE_KEY, host=shared_server.url, sync_mode=True)
    with pytest.raises(APIError):
        swapped.track("py-u3", "never")
    assert not [e for e in stored(shared_server) if e["user_id"] == "py-u3"]
