"""Insights through the real query API: unique persons (resolved vs naive, time-zone
buckets) and funnels by person and by company, the funnels checked against an
exhaustive reference model on random traffic.

Each test owns a time range and event names, so the shared server's other data never
falls inside its counts.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.query.helpers import get, msg, send


@pytest.fixture(scope="module")
def api(shared_server: LiveServer) -> Iterator[httpx.Client]:
    with shared_server.query() as client:
        yield client


def unique(api: httpx.Client, **params: Any) -> Any:
    return get(api, "/api/v1/insights/unique-persons", **params)


def test_unique_persons_resolved_versus_naive(api: httpx.Client) -> None:
    send(api,
         msg("page", "2025-07-01T08:00:00Z", anon="up-a1"),
         msg("identify", "2025-07-01T09:00:00Z", anon="up-a1", user="up-u1"),
         msg("page", "2025-07-01T10:00:00Z", anon="up-a2"),
         msg("page", "2025-07-01T11:00:00Z", anon="undefined"),  # personless: counts in neither
         msg("track", "2025-07-02T10:00:00Z", user="up-u1", event="UP Paid"))
    body = unique(api, **{"from": "2025-07-01", "to": "2025-07-02"})
    assert body == {"interval": "day", "tz": "UTC",
                    "data": [{"start": "2025-07-01T00:00:00.000+00:00", "persons": 2, "naive": 3},
                             {"start": "2025-07-02T00:00:00.000+00:00", "persons": 1, "naive": 1}],
                    "total": {"persons": 2, "naive": 3}}
    paid = unique(api, event="UP Paid", **{"from": "2025-07-01", "to": "2025-07-02"})
    assert [d["persons"] for d in paid["data"]] == [0, 1]
    assert paid["total"] == {"persons": 1, "naive": 1}


def test_unique_persons_buckets_are_local_days_across_a_dst_change(api: httpx.Client) -> None:
    # Europe/Berlin moves from +01:00 to +02:00 at 2025-03-30T01:00Z.
    send(api, msg("page", "2025-03-28T23:30:00Z", anon="tz-a"),   # 29th 00:30 +01:00
         msg("page", "2025-03-30T00:30:00Z", anon="tz-b"),        # 30th 01:30 +01:00
         msg("page", "2025-03-30T21:59:00Z", anon="tz-c"),        # 30th 23:59 +02:00
         msg("page", "2025-03-30T22:30:00Z", anon="tz-d"))        # 31st 00:30 +02:00
    body = unique(api, tz="Europe/Berlin", **{"from": "2025-03-28", "to": "2025-03-31"})
    assert body["tz"] == "Europe/Berlin"
    assert [(d["start"], d["persons"]) for d in body["data"]] == [
        ("2025-03-28T00:00:00.000+01:00", 0), ("2025-03-29T00:00:00.000+01:00", 1),
        ("2025-03-30T00:00:00.000+01:00", 2), ("2025-03-31T00:00:00.000+02:00", 1)]
    utc = unique(api, **{"from": "2025-03-28", "to": "2025-03-31"})
    assert [d["persons"] for d in utc["data"]] == [1, 0, 3, 0]


def test_unique_persons_by_hour_week_and_month(api: httpx.Client) -> None:
    send(api, msg("page", "2025-08-04T10:15:00Z", anon="iv-a"),
         msg("page", "2025-08-04T10:45:00Z", anon="iv-b"),
         msg("page", "2025-08-04T12:00:00Z", anon="iv-a"))
    hours = unique(api, interval="hour", **{"from": "2025-08-04T09:00:00Z", "to": "2025-08-04T13:00:00Z"})
    assert [(d["start"], d["persons"]) for d in hours["data"]] == [
        ("2025-08-04T09:00:00.000+00:00", 0), ("2025-08-04T10:00:00.000+00:00", 2),
        ("2025-08-04T11:00:00.000+00:00", 0), ("2025-08-04T12:00:00.000+00:00", 1)]
    india = unique(api, interval="hour", tz="Asia/Kolkata",
                   **{"from": "2025-08-04T10:00:00Z", "to": "2025-08-04T11:00:00Z"})
    assert [(d["start"], d["persons"]) for d in india["data"]] == [
        ("2025-08-04T15:00:00.000+05:30", 1), ("2025-08-04T16:00:00.000+05:30", 1)]
    weeks = unique(api, interval="week", **{"from": "2025-08-01", "to": "2025-08-10"})
    assert [(d["start"], d["persons"]) for d in weeks["data"]] == [
        ("2025-07-28T00:00:00.000+00:00", 0), ("2025-08-04T00:00:00.000+00:00", 2)]
    months = unique(api, interval="month", **{"from": "2025-08-01", "to": "2025-08-31"})
    assert months["data"] == [{"start": "2025-08-01T00:00:00.000+00:00", "persons": 2, "naive": 2}]


@pytest.mark.parametrize("params", [{"interval": "minute"}, {"tz": "Mars/Olympus"},
                                    {"from": "2025-02-02", "to": "2025-01-31"}, {"from": "yesterday"},
                                    {"interval": "hour", "from": "2000-01-01", "to": "2025-01-01"}])
def test_unique_persons_refuses_bad_parameters(api: httpx.Client, params: dict[str, str]) -> None:
    assert unique(api, status=422, **params)["error"]["code"] == "validation_error"


# ---- funnels -----------------------------------------------------------------------------

T0 = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)


def steps_of(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The funnel of a seed's traffic, and one whose steps repeat an event."""
    a, c = f"RF{seed} A", f"RF{seed} C"
    return ([{"event": a}, {"type": "page", "path": f"/rf{seed}-b"}, {"event": c, "properties": {"plan": "pro"}}],
            [{"event": a}, {"event": a}, {"event": c}])


def _matches(event: dict[str, Any], step: dict[str, Any]) -> bool:
    if "event" in step and event.get("event") != step["event"]:
        return False
    if "type" in step and event["type"] != step["type"]:
        return False
    if "path" in step and (event.get("properties") or {}).get("path") != step["path"]:
        return False
    return all((event.get("properties") or {}).get(k) == v for k, v in step.get("properties", {}).items())


def _deepest(evs: list[dict[str, Any]], steps: list[dict[str, Any]], k: int, after: int,
             t0: dt.datetime, window: dt.timedelta) -> int:
    """The deepest step reachable from event ``after`` (which made step k), trying every
    later event, not just the earliest."""
    best = k
    for j in range(after + 1, len(evs)):
        if k < len(steps) and _matches(evs[j], steps[k]) and evs[j]["_t"] <= t0 + window:
            best = max(best, _deepest(evs, steps, k + 1, j, t0, window))
    return best


def reference(streams: dict[Any, list[dict[str, Any]]], steps: list[dict[str, Any]],
              start: dt.datetime, end: dt.datetime, window: dt.timedelta) -> list[int]:
    """Exhaustive: the deepest step any entering event reaches, over every choice."""
    counts = [0] * len(steps)
    for events in streams.values():
        evs = sorted(events, key=lambda e: (e["timestamp"], e["messageId"]))
        reach = 0
        for i, e in enumerate(evs):
            if _matches(e, steps[0]) and start <= e["_t"] < end:
                reach = max(reach, _deepest(evs, steps, 1, i, e["_t"], window))
        for k in range(reach):
            counts[k] += 1
    return counts


def traffic(seed: int) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]],
                                dict[str, list[dict[str, Any]]]]:
    """Random funnel traffic: messages to send, each person's events, each company's events."""
    rnd = random.Random(seed)
    messages: list[dict[str, Any]] = []
    by_person: dict[int, list[dict[str, Any]]] = defaultdict(list)
    member_since: dict[tuple[str, int], dt.datetime] = {}
    carried: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def when() -> dt.datetime:
        return T0 + dt.timedelta(minutes=rnd.randrange(0, 8 * 24 * 60, 90))  # coarse: many ties

    def add(p: int, m: dict[str, Any], t: dt.datetime) -> dict[str, Any]:
        m["_t"] = t
        messages.append(m)
        by_person[p].append(m)
        return m

    for p in range(60):
        anon, user = f"rf{seed}-a{p}", (f"rf{seed}-u{p}" if rnd.random() < 0.6 else None)
        if user:
            t = when()
            add(p, msg("identify", t.isoformat(), anon=anon, user=user, mid=f"rf{seed}-{rnd.random()}"), t)
        for _ in range(rnd.randrange(1, 10)):
            t = when()
            kind = rnd.choice("AABBCCDN")
            ident = {"anon": anon} if not user or rnd.random() < 0.5 else {"user": user}
            mid = f"rf{seed}-{rnd.random()}"
            if kind == "B":
                m = msg("page", t.isoformat(), mid=mid, properties={"path": f"/rf{seed}-b"}, **ident)
            elif kind == "N":
                m = msg("page", t.isoformat(), mid=mid, properties={"path": "/rf-other"}, **ident)
            else:
                name = f"RF{seed} A" if kind == "A" else f"RF{seed} C"
                m = msg("track", t.isoformat(), mid=mid, event=name,
                        properties={"plan": "pro" if kind != "D" else "free"}, **ident)
            if rnd.random() < 0.05:
                company = f"rf{seed}-co{rnd.randrange(8)}"
                m["context"] = {"groupId": company}
                carried[company].append(m)
            add(p, m, t)
        if rnd.random() < 0.5:
            company, t = f"rf{seed}-co{rnd.randrange(8)}", when()
            add(p, msg("group", t.isoformat(), anon=anon, groupId=company, mid=f"rf{seed}-{rnd.random()}"), t)
            member_since[(company, p)] = min(t, member_since.get((company, p), t))
    by_company: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for company, events in carried.items():
        by_company[company].extend(events)
    for (company, p), since in member_since.items():
        seen = {id(e) for e in by_company[company]}
        by_company[company].extend(e for e in by_person[p] if e["_t"] >= since and id(e) not in seen)
    return messages, by_person, by_company


def funnel(api: httpx.Client, steps: list[dict[str, Any]], window: str, by: str = "person",
           **extra: Any) -> list[int]:
    body = {"steps": steps, "window": window, "by": by,
            "from": (T0 + dt.timedelta(days=1)).isoformat(), "to": (T0 + dt.timedelta(days=6)).isoformat(), **extra}
    r = api.post("/api/v1/insights/funnel", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    counts = [s["count"] for s in answer["steps"]]
    for k, s in enumerate(answer["steps"]):
        assert set(s) == {"count", "conversion", "overall"}
        prev = counts[k - 1] if k else counts[0]
        assert s["conversion"] == pytest.approx(s["count"] / prev if prev else 0.0)
        assert s["overall"] == pytest.approx(s["count"] / counts[0] if counts[0] else 0.0)
    return counts


@pytest.mark.parametrize("seed", [3, 4])
def test_funnels_match_an_exhaustive_reference_on_random_traffic(api: httpx.Client, seed: int) -> None:
    messages, by_person, by_company = traffic(seed)
    for n in range(0, len(messages), 100):
        send(api, *({k: v for k, v in m.items() if k != "_t"} for m in messages[n:n + 100]))
    start, end = T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=6)
    steps, repeated = steps_of(seed)  # names of this seed only: other traffic never matches
    for window, delta in (("P2D", dt.timedelta(days=2)), ("PT36H", dt.timedelta(hours=36))):
        expected = reference(by_person, steps, start, end, delta)
        assert expected[0] > 0 and expected[-1] > 0, "the traffic should exercise every step"
        assert funnel(api, steps, window) == expected
        assert funnel(api, repeated, window) == reference(by_person, repeated, start, end, delta)
        company_expected = reference(by_company, steps, start, end, delta)
        assert company_expected[0] > 0
        assert funnel(api, steps, window, by="company") == company_expected


def test_funnel_scripted_order_and_window(api: httpx.Client) -> None:
    send(api,
         # Converts: page, sign-up, API call within a day; pre-login steps count.
         msg("page", "2025-09-01T10:00:00Z", anon="fs-a1", properties={"path": "/fs-pricing"}),
         msg("identify", "2025-09-01T10:05:00Z", anon="fs-a1", user="fs-u1"),
         msg("track", "2025-09-01T10:06:00Z", user="fs-u1", event="FS Signed Up"),
         msg("track", "2025-09-01T11:00:00Z", user="fs-u1", event="FS API Call"),
         # Wrong order: sign-up before the pricing page.
         msg("track", "2025-09-01T10:00:00Z", anon="fs-a2", event="FS Signed Up"),
         msg("page", "2025-09-01T10:01:00Z", anon="fs-a2", context={"page": {"path": "/fs-pricing"}}),
         # Too slow: the API call comes after the 1-day window.
         msg("page", "2025-09-01T10:00:00Z", anon="fs-a3", properties={"path": "/fs-pricing"}),
         msg("track", "2025-09-01T12:00:00Z", anon="fs-a3", event="FS Signed Up"),
         msg("track", "2025-09-02T10:00:01Z", anon="fs-a3", event="FS API Call"))
    steps = [{"type": "page", "path": "/fs-pricing"}, {"event": "FS Signed Up"}, {"event": "FS API Call"}]
    r = api.post("/api/v1/insights/funnel", json={"steps": steps, "window": "P1D", "from": "2025-09-01",
                                                  "to": "2025-09-01", "by": "person"})
    assert r.status_code == 200, r.text
    assert r.json() == {"steps": [{"count": 3, "conversion": 1.0, "overall": 1.0},
                                  {"count": 2, "conversion": pytest.approx(2 / 3), "overall": pytest.approx(2 / 3)},
                                  {"count": 1, "conversion": 0.5, "overall": pytest.approx(1 / 3)}]}
    # from/to bound the first step only.
    late = api.post("/api/v1/insights/funnel", json={"steps": steps, "window": "P1D",
                                                     "from": "2025-09-02", "to": "2025-09-03"})
    assert [s["count"] for s in late.json()["steps"]] == [0, 0, 0]


@pytest.mark.parametrize("body", [
    {"steps": []}, {"steps": [{}]}, {"steps": [{"colour": "red"}]}, {"steps": [{"event": 5}]},
    {"steps": [{"event": "x"}], "window": "P1M"}, {"steps": [{"event": "x"}], "window": "soon"},
    {"steps": [{"event": "x"}], "by": "team"}, {"steps": [{"event": "x"}], "from": "never"},
])
def test_funnel_refuses_bad_bodies(api: httpx.Client, body: dict[str, Any]) -> None:
    r = api.post("/api/v1/insights/funnel", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert r.json()["error"]["details"]["field"]


def test_funnel_body_must_be_a_json_object(api: httpx.Client) -> None:
    assert api.post("/api/v1/insights/funnel", content=b"{nope").status_code == 400
    r = api.post("/api/v1/insights/funnel", json=[1])
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_body"
