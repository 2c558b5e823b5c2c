"""Query-API speed on a synthetic store: prints JSON.

    .venv/bin/python bench/queries.py [--events 1000000] [--visitors 100000] [--repeat 7]

Builds a fresh store (bulk SQL, not the collector: this measures reads), then times
the query functions the API calls, each the best and median of ``--repeat`` runs:

- unique persons per day over 30 days (resolved and naive, with totals), in UTC and
  in a DST time zone;
- the baseline in the same run: the plain ``count(DISTINCT ...)`` per day that a
  store without resolution would run (naive ids only, no identifier join);
- a 3-step funnel by person (page path, then two event names, 7-day window);
- one person's timeline page (lookup of the id included), person detail, explain;
- the persons list (newest activity first) and the events list;
- one company's detail and timeline page, and the companies list.

Data: ``--visitors`` anonymous ids, 30% of them also identified by a user id (60%
of their events carry it), events spread evenly over 30 days; 55% page views over 20
paths, 5% identify, 5% "Signed Up", the rest "API Call"; one visitor in ten belongs
to one of 500 companies.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from threadline.identity.ids import person_id_for
from threadline.model import Identifier, Kind
from threadline.query import companies, explain, funnel, insights, persons
from threadline.query.events import list_events
from threadline.query.pagination import PageRequest
from threadline.storage.duckdb_store import DuckDBStore

P = "default"
DAY_US = 86_400_000_000
START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def build(store: DuckDBStore, events: int, visitors: int) -> None:
    """Fill the store with synthetic identifiers and events, straight through SQL."""
    users = int(visitors * 0.3)
    con = store.con
    # Person ids are the UUIDv5 of each cluster's earliest identifier (its anonymous id).
    anon_ids = [person_id_for(P, Identifier(Kind.ANONYMOUS, f"anon-{i}")) for i in range(1, visitors + 1)]
    user_ids = [person_id_for(P, Identifier(Kind.USER, f"user-{i}")) for i in range(1, users + 1)]
    ids = pa.table({"n": pa.array(range(1, visitors + 1), pa.int64()), "pid": anon_ids,  # noqa: F841
                    "uid": user_ids + [None] * (visitors - users)})
    con.execute(f"""
        INSERT INTO identifiers SELECT '{P}', n, 'anonymous', 'anon-' || n,
          make_timestamp({START_US} + n * 1000000), n, pid, pid FROM ids;
        INSERT INTO identifiers SELECT '{P}', {visitors} + n, 'user', 'user-' || n,
          make_timestamp({START_US} + n * 1000000 + 1000000), n, pid, uid FROM ids WHERE n <= {users};
        INSERT INTO edges SELECT '{P}', i, {visitors} + i, 'conditional', 'identified',
          make_timestamp({START_US} + i * 1000000 + 1000000), 'm-link-' || i, 'native', 'accepted'
          FROM range(1, {users} + 1) t(i);
        CREATE TEMP TABLE raw AS SELECT i + 1 AS seq, (hash(i) % {visitors}) + 1 AS a,
          hash(i * 7 + 1) % 1000 AS r1, hash(i * 13 + 5) % 100 AS r2,
          make_timestamp({START_US} + (i * (30 * {DAY_US} // {events}))::BIGINT) AS ts
          FROM range({events}) t(i);
        INSERT INTO events SELECT '{P}', 'm' || seq, seq,
          CASE WHEN r2 < 55 THEN 'page' WHEN r2 < 60 THEN 'identify' ELSE 'track' END,
          CASE WHEN r2 < 60 THEN NULL WHEN r2 < 65 THEN 'Signed Up' ELSE 'API Call' END,
          ts, ts, NULL, 'anon-' || a,
          CASE WHEN a <= {users} AND r1 < 600 THEN 'user-' || a END, NULL, NULL, a,
          CASE WHEN a <= {users} AND r1 < 600 THEN {visitors} + a END,
          CASE WHEN a <= {users} AND r1 < 600 THEN {visitors} + a ELSE a END,
          CASE WHEN a % 10 = 0 THEN ['co-' || (a % 500)] ELSE [] END,
          CASE WHEN a % 10 = 0 AND r2 BETWEEN 55 AND 59 THEN ['co-' || (a % 500)] ELSE [] END,
          CASE WHEN r2 < 55 THEN '{{"path":"/p' || (r1 % 20) || '"}}' ELSE '{{"plan":"pro"}}' END,
          CASE WHEN r2 BETWEEN 55 AND 59 THEN '{{"email":"u' || a || '@x.io","plan":"p' || (r1 % 3) || '"}}' END,
          CASE WHEN r2 < 55 THEN '{{"page":{{"path":"/p' || (r1 % 20) || '"}}}}' END,
          NULL, 'native', false FROM raw;
        DROP TABLE raw;
        CHECKPOINT;
    """)


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, Any]:
    fn()  # warm: first touch of a column pays for loading it
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return {"best_ms": round(min(runs), 2), "median_ms": round(statistics.median(runs), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--visitors", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        store.ensure_default_project(None, None)
        t0 = time.perf_counter()
        build(store, args.events, args.visitors)
        build_s = time.perf_counter() - t0
        cur = store.read()
        end = START_US + 30 * DAY_US
        utc, berlin = ZoneInfo("UTC"), ZoneInfo("Europe/Berlin")
        steps = funnel.parse_steps([{"type": "page", "path": "/p3"}, {"event": "Signed Up"},
                                    {"event": "API Call"}])
        alice = person_id_for(P, Identifier(Kind.ANONYMOUS, "anon-77"))
        one_person = persons.resolve(cur, P, alice)
        assert one_person is not None
        check = insights.unique_persons(cur, P, START_US, end, "day", "UTC", utc)
        cases: dict[str, Callable[[], Any]] = {
            "unique_persons_day_30d": lambda: insights.unique_persons(cur, P, START_US, end, "day", "UTC", utc),
            "unique_persons_day_30d_berlin": lambda: insights.unique_persons(
                cur, P, START_US, end, "day", "Europe/Berlin", berlin),
            "baseline_naive_count_distinct_day_30d": lambda: cur.execute(
                "SELECT date_trunc('day', ts), count(DISTINCT anonymous_id) + count(DISTINCT user_id) "
                "FROM events WHERE project_id = ? AND ts >= make_timestamp(?) AND ts < make_timestamp(?) "
                "AND NOT hidden GROUP BY 1", [P, START_US, end]).fetchall(),
            "funnel_3_steps_by_person": lambda: funnel.funnel(cur, P, steps, START_US, end, 7 * DAY_US, "person"),
            "funnel_3_steps_by_company": lambda: funnel.funnel(cur, P, steps, START_US, end, 7 * DAY_US, "company"),
            "timeline_page": lambda: persons.timeline(
                cur, P, persons.resolve(cur, P, alice) or one_person, PageRequest(50)),
            "person_detail": lambda: persons.person(cur, P, one_person, ("created_at",)),
            "explain": lambda: explain.explain(cur, P, one_person),
            "persons_list_page": lambda: persons.list_persons(cur, P, PageRequest(50), ("created_at",)),
            "events_list_page": lambda: list_events(cur, P, PageRequest(50)),
            "company_detail": lambda: companies.company(cur, P, "co-70"),
            "company_timeline_page": lambda: companies.timeline(cur, P, "co-70", PageRequest(50)),
            "companies_list_page": lambda: companies.list_companies(cur, P, PageRequest(50)),
        }
        results = {name: timed(fn, args.repeat) for name, fn in cases.items()}
        store.close()
    print(json.dumps({
        "events": args.events, "visitors": args.visitors, "build_s": round(build_s, 1),
        "check": {"day1_persons": check["data"][0]["persons"], "day1_naive": check["data"][0]["naive"],
                  "total": check["total"]},
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
