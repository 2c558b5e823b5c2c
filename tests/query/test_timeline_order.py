"""Events of one millisecond read in the order they arrived (ingest sequence), not by
their message ids: an identify sent before page views in the same millisecond stays
first on the person timeline, the company timeline and (reversed) the events API, and
cursors follow that order page by page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.query.helpers import all_pages, get, msg, send

WHEN = "2026-03-02T09:00:00.123Z"


@pytest.fixture(scope="module")
def api(shared_server: LiveServer) -> Iterator[httpx.Client]:
    with shared_server.query() as client:
        yield client


def _same_millisecond(api: httpx.Client, tag: str) -> list[str]:
    """identify, group, then three page views, all at WHEN; message ids sort backwards."""
    sent = [
        msg("identify", WHEN, anon=f"{tag}-a", user=f"{tag}-u", mid=f"{tag}-z9"),
        msg("group", WHEN, user=f"{tag}-u", groupId=f"{tag}-co", mid=f"{tag}-z5"),
        *(msg("page", WHEN, anon=f"{tag}-a", mid=f"{tag}-a{9 - n}", name=f"P{n}") for n in range(3)),
    ]
    send(api, *sent)
    return [m["messageId"] for m in sent]


@pytest.mark.parametrize("limit", [1000, 1, 2])
def test_person_timeline_keeps_arrival_order_for_equal_timestamps(api: httpx.Client, limit: int) -> None:
    tag = f"ord{limit}"
    sent = _same_millisecond(api, tag)
    pid = get(api, "/api/v1/persons/lookup", user_id=f"{tag}-u")["id"]
    events = all_pages(api, f"/api/v1/persons/{pid}/events", limit=limit)
    assert [e["id"] for e in events] == sent


@pytest.mark.parametrize("limit", [1000, 1])
def test_company_timeline_keeps_arrival_order_for_equal_timestamps(api: httpx.Client, limit: int) -> None:
    tag = f"cord{limit}"
    sent = _same_millisecond(api, tag)
    events = all_pages(api, f"/api/v1/companies/{tag}-co/events", limit=limit)
    assert [e["id"] for e in events] == [m for m in sent if m in {e["id"] for e in events}]
    assert [e["id"] for e in events][-3:] == sent[-3:]


@pytest.mark.parametrize("limit", [1000, 2])
def test_events_api_lists_equal_timestamps_newest_arrival_first(api: httpx.Client, limit: int) -> None:
    tag = f"eord{limit}"
    sent = _same_millisecond(api, tag)
    window = {"from": "2026-03-02T09:00:00.123Z", "to": "2026-03-02T09:00:00.124Z"}
    events = all_pages(api, "/api/v1/events", limit=limit, **window)
    mine = [e["id"] for e in events if e["id"].startswith(f"{tag}-")]
    assert mine == list(reversed(sent))
