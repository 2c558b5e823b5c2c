"""One bad message never fails its batch, on any ingest route: times out of range and
values nested over the limit are refused by index and quarantined (a quarantine copy
that can itself be stored and listed), their neighbours stored; and a request of many
invalid messages lists and keeps only a bounded number of them (docs/collector.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from tests.collector.surfaces import (
    BATCHES,
    MOESIF,
    QUERY,
    SURFACES,
    Surface,
    client,
    deep,
    depth,
    is_stored,
    nest,
    post,
    quarantined,
    running_app,
    with_field,
)
from tests.conftest import WRITE_KEY
from threadline.jsondepth import MAX_DEPTH, TOO_DEEP

pytestmark = pytest.mark.anyio

# Times no store or reader can hold: refused with timestamp_out_of_range on every field.
OUT_OF_RANGE: list[Any] = [
    1e300, -1e300,
    "__BIG__",  # 99999999999999999999, as JSON digits
    "__U64__",  # 18446744073709551615
    9e18,  # unix microseconds in the year 287,000
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00",  # overflow once in UTC
    "9" * 400,  # digits past any float
    "9" * 5000,  # digits past what int() converts
]
NOT_A_TIME: list[Any] = ["²", True, [1], {"t": 1}]  # "²".isdigit() is true


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    async with running_app(tmp_path) as application:
        yield application


def _cases() -> list[Any]:
    return [pytest.param(s, f, id=f"{s.name}-{'.'.join(f)}") for s in SURFACES for f in s.time_fields]


async def _bad_item_is_refused(c: httpx.AsyncClient, surface: Surface, bad: dict[str, Any], bad_marker: str,
                               good_marker: str, code: str) -> list[str]:
    """Send ``bad`` beside a good item (or alone, then the good one, on single routes);
    the problems found, if any."""
    problems: list[str] = []
    good = surface.good(good_marker)
    if surface.batch:
        r = await post(c, surface, [bad, good])
        if r.status_code != surface.ok_status:
            return [f"{bad_marker}: {r.status_code} {r.text[:200]}"]
        if surface.path == "/v1/batch":
            listed = [(x["index"], x["code"]) for x in r.json()["rejected"]]
            if listed != [(0, code)]:
                problems.append(f"{bad_marker}: rejected {listed}")
    else:
        r = await post(c, surface, [bad])
        if r.status_code != 422 or r.json()["error"]["details"]["code"] != code:
            return [f"{bad_marker}: {r.status_code} {r.text[:200]}"]
        r = await post(c, surface, [good])
        if r.status_code != surface.ok_status:
            return [f"{good_marker}: {r.status_code} {r.text[:200]}"]
    if not await is_stored(c, surface, good_marker):
        problems.append(f"{good_marker}: the good neighbour was not stored")
    if await is_stored(c, surface, bad_marker):
        problems.append(f"{bad_marker}: the bad item was stored")
    if [q["code"] for q in await quarantined(c, bad_marker)] != [code]:
        problems.append(f"{bad_marker}: not quarantined with {code}")
    return problems


@pytest.mark.parametrize(("surface", "field"), _cases())
async def test_a_time_out_of_range_is_refused_by_index_and_its_neighbour_stored(
        app: Starlette, surface: Surface, field: tuple[str, ...]) -> None:
    problems: list[str] = []
    async with client(app) as c:
        values = [(v, "timestamp_out_of_range") for v in OUT_OF_RANGE] + [(v, "invalid_timestamp") for v in NOT_A_TIME]
        for n, (value, code) in enumerate(values):
            bad_marker, good_marker = f"{surface.name}-bad-{n}", f"{surface.name}-good-{n}"
            bad = with_field(surface.good(bad_marker), field, value)
            problems += await _bad_item_is_refused(c, surface, bad, bad_marker, good_marker, code)
    assert problems == []


async def test_skew_correction_never_leaves_the_range(app: Starlette) -> None:
    batch = next(s for s in SURFACES if s.name == "native-batch")
    async with client(app) as c:
        # A year-9999 time sent with a year-0001 clock: corrected far into the future, so
        # stamped with the receipt time; the reverse is far in the past, so refused.
        late = {**batch.good("skew-late"), "timestamp": "9999-12-31T23:59:59Z", "sentAt": "0001-01-01T00:00:00Z"}
        early = {**batch.good("skew-early"), "timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T23:59:59Z"}
        r = await post(c, batch, [late, early])
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        assert [(x["index"], x["code"]) for x in r.json()["rejected"]] == [(1, "timestamp_out_of_range")]
        events = (await c.get("/api/v1/events", headers=QUERY)).json()["data"]
        assert [e["timestamp"][:4] for e in events if e["id"] == "skew-late"] == [events[0]["received_at"][:4]]
        # A sentAt out of range with no timestamp to correct: still refused (it is stored).
        r = await c.post("/v1/batch", content=b'{"batch": [{"type": "page", "userId": "u", "messageId": "skew-s", '
                         b'"sentAt": 99999999999999999999}]}', auth=(WRITE_KEY, ""))
        assert r.status_code == 200 and [x["code"] for x in r.json()["rejected"]] == ["timestamp_out_of_range"]
        # A batch-level sentAt out of range refuses the messages it times, by index: no 503.
        r = await c.post("/v1/batch", content=b'{"sentAt": 99999999999999999999, "batch": ['
                         + orjson.dumps(batch.good("skew-a")) + b"]}", auth=(WRITE_KEY, ""))
        assert r.status_code == 200 and [x["code"] for x in r.json()["rejected"]] == ["timestamp_out_of_range"]
        # originalTimestamp out of range never fails the neighbour either.
        odd = {**batch.good("orig-odd"), "originalTimestamp": 1e300}
        r = await post(c, batch, [odd, batch.good("orig-good")])
        assert r.status_code == 200, r.text
        assert await is_stored(c, batch, "orig-good")


@pytest.mark.parametrize("surface", SURFACES, ids=[s.name for s in SURFACES])
async def test_nesting_over_the_limit_is_refused_and_its_quarantine_copy_is_listed(
        app: Starlette, surface: Surface) -> None:
    problems: list[str] = []
    async with client(app) as c:
        # At the limit (the message itself is the first level): stored, and readable.
        at_limit = with_field(surface.good(f"{surface.name}-deep-ok"), (surface.doc_field,), nest(MAX_DEPTH - 1))
        assert depth(at_limit) == MAX_DEPTH
        r = await post(c, surface, [at_limit])
        assert r.status_code == surface.ok_status, r.text
        assert await is_stored(c, surface, f"{surface.name}-deep-ok")
        # One level over, just under the encoder's limit, and near the parser's.
        for n, levels in enumerate((MAX_DEPTH, 250, 1000)):
            bad_marker = f"{surface.name}-deep-{n}"
            bad = with_field(surface.good(bad_marker), (surface.doc_field,), deep(levels))
            problems += await _bad_item_is_refused(c, surface, bad, bad_marker, f"{surface.name}-fine-{n}",
                                                   "too_deep")
            for q in await quarantined(c, bad_marker):
                if depth(q["body"]) > MAX_DEPTH or TOO_DEEP not in orjson.dumps(q["body"]).decode():
                    problems.append(f"{bad_marker}: quarantine copy not cut to the limit")
        # The quarantine is listed by the API (checked above) and its CLI reads the same.
        r = await c.get("/api/v1/quarantine", params={"code": "too_deep"}, headers=QUERY)
        assert r.status_code == 200 and len(r.json()["data"]) == 3
        # What the JSON parser refuses makes the whole body invalid JSON: nesting over 1,024
        # levels, and numbers no double holds (NaN and Infinity are not JSON either).
        r = await post(c, surface, [with_field(surface.good("unparsed"), (surface.doc_field,), deep(1100))])
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_json")
        for number in (b"1e400", b"-1e400", b"NaN", b"Infinity"):
            content = surface.body([surface.good("unparsed")]).replace(b'"unparsed"', number)
            r = await c.post(surface.path, content=content, headers=surface.headers)
            assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_json"), number
    assert problems == []


async def test_moesif_bodies_are_cut_not_refused(tmp_path: Path) -> None:
    # A small message limit makes the collector measure each item, deep body and all.
    async with running_app(tmp_path, moesif_message_limit=2000) as application, client(application) as c:
        surface = next(s for s in SURFACES if s.name == "moesif-events-batch")

        def deep_call(marker: str) -> dict[str, Any]:
            item = with_field(surface.good(marker), ("request", "body"), deep(300))
            return with_field(item, ("response", "body"), {"list": [nest(40)]})

        r = await post(c, surface, [deep_call("body-off")])
        assert r.status_code == 201, r.text
        r = await c.patch("/api/v1/projects/current/settings", json={"body_capture": True}, headers=QUERY)
        assert r.status_code == 200, r.text
        r = await post(c, surface, [deep_call("body-on")])
        assert r.status_code == 201, r.text
        events = {e["id"]: e for e in (await c.get("/api/v1/events", headers=QUERY)).json()["data"]}
        assert "request_body" not in events["body-off"]["properties"]
        props = events["body-on"]["properties"]
        assert props["request_body_truncated"] is True and props["response_body_truncated"] is True
        assert depth(props) <= MAX_DEPTH and TOO_DEEP in orjson.dumps(props).decode()


# ------------------------------------------------------------------ the cap on rejects


async def _stats(c: httpx.AsyncClient) -> dict[str, int]:
    r = await c.get("/api/v1/ingest/stats", headers=QUERY)
    assert r.status_code == 200, r.text
    days = r.json()["data"]
    return {k: sum(d[k] for d in days) for k in ("accepted", "quarantined")}


async def _quarantine_rows(c: httpx.AsyncClient) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        body = (await c.get("/api/v1/quarantine", params=params, headers=QUERY)).json()
        rows += body["data"]
        cursor = body["next_cursor"]
        if not cursor:
            return rows


@pytest.mark.parametrize("surface", BATCHES, ids=[s.name for s in BATCHES])
async def test_many_invalid_messages_are_counted_but_only_the_first_are_listed_and_kept(
        app: Starlette, surface: Surface) -> None:
    n = 150_000
    items: list[Any] = [0] * n + [surface.good(f"{surface.name}-after-many")]
    async with client(app) as c:
        r = await c.post(surface.path, headers={"content-type": "application/json", **surface.headers},
                         content=orjson.dumps({"batch": items} if surface.path == "/v1/batch" else items))
        assert r.status_code == surface.ok_status, r.text
        assert len(r.content) < 50_000  # was 12.6 MB
        if surface.path == "/v1/batch":
            answer = r.json()
            assert answer["accepted"] == 1 and answer["rejected_total"] == n
            assert [x["index"] for x in answer["rejected"]] == list(range(100))
        assert await is_stored(c, surface, f"{surface.name}-after-many")
        rows = await _quarantine_rows(c)
        assert len(rows) == 101
        summary = rows[0]  # newest first: the summary is written last
        assert (summary["code"], summary["index"], summary["body"]) == ("too_many_rejected", 100, None)
        assert f"{n - 100} more" in summary["reason"]
        assert await _stats(c) == {"accepted": 1, "quarantined": n}


async def test_the_cap_is_a_setting_and_a_request_under_it_keeps_its_answer_shape(tmp_path: Path) -> None:
    async with running_app(tmp_path, rejected_limit=2) as application, client(application) as c:
        r = await c.post("/v1/batch", json={"batch": [0, 1]}, auth=(WRITE_KEY, ""))
        assert set(r.json()) == {"accepted", "duplicates", "rejected"}  # api.md's shape
        r = await c.post("/v1/batch", json={"batch": [0, 1, 2]}, auth=(WRITE_KEY, ""))
        assert len(r.json()["rejected"]) == 2 and r.json()["rejected_total"] == 3
        r = await c.post("/v1/events/batch", json=[0, 1, 2, 3], headers=MOESIF)
        assert r.status_code == 201
        assert len(await _quarantine_rows(c)) == 2 + 3 + 3
        assert (await _stats(c))["quarantined"] == 9


async def test_a_deep_value_where_text_belongs_is_a_clear_error(app: Starlette) -> None:
    # The reason quotes what was sent: never the repr of a container (too deep for repr).
    track = next(s for s in SURFACES if s.name == "native-track")
    async with client(app) as c:
        r = await post(c, track, [{**track.good("deep-type"), "type": deep(1000)}])
        assert r.status_code == 422 and r.json()["error"]["details"]["code"] == "invalid_message", r.text
        assert "an object" in r.json()["error"]["message"]
        assert [q["code"] for q in await quarantined(c, "deep-type")] == ["invalid_message"]
