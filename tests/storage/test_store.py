"""The DuckDB store through its writer: dedupe, persistence, order independence, and
the operator actions (merge, split, erase) against a real database file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from threadline.errors import HTTPError
from threadline.model import CompanyRef, Identifier, Message
from threadline.storage.duckdb_store import DuckDBStore

P = "default"


def m(mid: str, t: int, type_: str = "track", **kw: object) -> Message:
    return Message(message_id=mid, type=type_, timestamp_us=t * 1_000_000, received_at_us=t * 1_000_000,
                   source="native", event="x" if type_ == "track" else None, **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = DuckDBStore(tmp_path / "t.duckdb")
    s.ensure_default_project(None, None)
    yield s
    s.close()


def ingest(store: DuckDBStore, msgs: list[Message]):  # type: ignore[no-untyped-def]
    return store.ingest(P, msgs, [], 0, "native").result(30)


def person_map(store: DuckDBStore) -> dict[tuple[str, str], str]:
    rows = store.read().execute("SELECT kind, value, person_id FROM identifiers WHERE project_id = ?", [P]).fetchall()
    return {(k, v): pid for k, v, pid in rows}


def scenario() -> list[Message]:
    rnd = random.Random(7)
    out = []
    for i in range(400):
        a = f"a{rnd.randrange(60)}"
        u = f"u{rnd.randrange(25)}"
        kind = rnd.random()
        t = rnd.randrange(1000, 5000)
        if kind < 0.5:
            out.append(m(f"m{i}", t, "page", anonymous_id=a))
        elif kind < 0.8:
            out.append(m(f"m{i}", t, "identify", anonymous_id=a, user_id=u))
        elif kind < 0.9:
            out.append(m(f"m{i}", t, "page", anonymous_id=a, linked_anonymous_id=f"a{rnd.randrange(60)}"))
        else:
            out.append(m(f"m{i}", t, "alias", anonymous_id=a, user_id=u, previous_id=f"u{rnd.randrange(25)}"))
    return out


def test_duplicates_are_counted_and_not_stored(store: DuckDBStore) -> None:
    r1 = ingest(store, [m("x1", 1, anonymous_id="A"), m("x1", 1, anonymous_id="A"), m("x2", 2, anonymous_id="A")])
    r2 = ingest(store, [m("x2", 2, anonymous_id="A"), m("x3", 3, anonymous_id="A")])
    assert (r1.accepted, r1.duplicates, r2.accepted, r2.duplicates) == (2, 1, 1, 1)
    assert store.read().execute("SELECT count(*) FROM events").fetchone() == (3,)


def test_concurrent_requests_share_a_commit_and_never_duplicate(store: DuckDBStore) -> None:
    futures = [store.ingest(P, [m(f"c{i % 50}", i, anonymous_id=f"A{i % 7}")], [], 0, "native")
               for i in range(200)]
    results = [f.result(30) for f in futures]
    assert sum(r.accepted for r in results) == 50
    assert sum(r.duplicates for r in results) == 150
    assert store.writer is not None and store.writer.stats.commits < 200


def test_shuffled_batches_give_the_same_person_ids_as_in_order_ingestion(tmp_path: Path) -> None:
    msgs = scenario()
    in_order = sorted(msgs, key=lambda x: (x.timestamp_us, x.message_id))
    maps = []
    for seed, order in ((None, in_order), (1, msgs), (2, msgs)):
        order = list(order)
        if seed is not None:
            random.Random(seed).shuffle(order)
        s = DuckDBStore(tmp_path / f"s{seed}.duckdb")
        s.ensure_default_project(None, None)
        for i in range(0, len(order), 17):
            ingest(s, order[i:i + 17])
        maps.append(person_map(s))
        s.close()
    assert maps[0] == maps[1] == maps[2]
    assert len(set(maps[0].values())) < len(maps[0])  # some merging happened


def test_reopening_the_store_reloads_the_same_graph(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    s = DuckDBStore(path)
    s.ensure_default_project(None, None)
    msgs = scenario()
    ingest(s, msgs[:200])
    before = person_map(s)
    s.close()
    s = DuckDBStore(path)
    ingest(s, msgs[200:])
    after = person_map(s)
    s.close()
    fresh = DuckDBStore(tmp_path / "f.duckdb")
    fresh.ensure_default_project(None, None)
    ingest(fresh, msgs)
    assert after == person_map(fresh)
    assert set(before) <= set(after)
    fresh.close()


def test_merge_split_and_merge_again(store: DuckDBStore) -> None:
    ingest(store, [m("1", 1, "page", anonymous_id="A"), m("2", 2, "identify", user_id="alice")])
    pm = person_map(store)
    pa, pb = pm[("anonymous", "A")], pm[("user", "alice")]
    merged = store.merge_persons(P, [pa, pb])
    assert merged == pa
    assert len(set(person_map(store).values())) == 1
    with pytest.raises(HTTPError) as exc:
        store.merge_persons(P, [pa, pb])
    assert exc.value.status == 409
    persons = store.split_person(P, pa, [Identifier("user", "alice")])
    assert sorted(persons) == sorted([pa, pb])
    # Later evidence cannot undo a split...
    ingest(store, [m("3", 3, "identify", anonymous_id="A", user_id="alice")])
    assert len(set(person_map(store).values())) == 2
    # ...but an operator's merge lifts the block.
    store.merge_persons(P, [pb, pa])
    assert len(set(person_map(store).values())) == 1


def test_old_person_id_resolves_after_merge(store: DuckDBStore) -> None:
    ingest(store, [m("1", 5, "page", anonymous_id="B"), m("2", 1, "page", anonymous_id="A")])
    pb = person_map(store)[("anonymous", "B")]
    ingest(store, [m("3", 6, "page", anonymous_id="B", linked_anonymous_id="A")])
    assert store.split_person(P, pb, [Identifier("anonymous", "A")])  # pb no longer live: resolved via self_id


def test_erase_removes_rows_and_suppresses_later_events(store: DuckDBStore) -> None:
    ingest(store, [
        m("1", 1, "page", anonymous_id="A"),
        m("2", 2, "identify", anonymous_id="A", user_id="eve", traits={"email": "eve@x"}),
        m("3", 3, "group", user_id="eve", companies=(CompanyRef("acme", True, {"name": "Acme"}),)),
        m("4", 4, "identify", anonymous_id="A", user_id="bob"),  # conflict: bob's event carries A
    ])
    pid = person_map(store)[("user", "eve")]
    counts = store.erase_person(P, pid)
    assert counts["events"] == 3 and counts["identifiers"] == 2 and counts["suppressed_identifiers"] == 2
    assert counts["edges"] >= 2 and counts["traits"] == 1
    rows = store.read().execute("SELECT message_id, anonymous_id, user_id FROM events").fetchall()
    assert rows == [("4", None, "bob")]
    r = ingest(store, [m("5", 5, "track", user_id="eve"), m("6", 6, "track", anonymous_id="A", user_id="bob")])
    assert r.suppressed == 1 and r.accepted == 1
    assert store.read().execute("SELECT anonymous_id FROM events WHERE message_id = '6'").fetchone() == (None,)
    assert ("user", "eve") not in person_map(store)


def test_retention_deletes_old_events_but_keeps_who_is_who(store: DuckDBStore) -> None:
    from threadline.storage.duckdb_store import now_us

    day = 86_400_000_000
    old = Message("old", "identify", now_us() - 3 * day, now_us(), "native", anonymous_id="A", user_id="U")
    new = Message("new", "page", now_us(), now_us(), "native", anonymous_id="A")
    ingest(store, [old, new])
    assert store.apply_retention() == {}
    store.set_setting(P, "retention_days", "2")
    assert store.apply_retention() == {P: 1}
    assert store.read().execute("SELECT message_id FROM events").fetchall() == [("new",)]
    pm = person_map(store)
    assert pm[("anonymous", "A")] == pm[("user", "U")]
