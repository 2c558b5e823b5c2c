"""The duplicate index: exact, equal to the committed events table through reopen,
rollback, erase and retention (timings are in bench/duplicates.py, not here)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from threadline.model import Message
from threadline.storage import seen as seen_module
from threadline.storage.apply import apply_ingest
from threadline.storage.duckdb_store import DuckDBStore, now_us
from threadline.storage.seen import KEY_SQL, Overlay, SeenIds
from threadline.storage.tx import Tx

P = "default"


def m(mid: str, t_us: int | None = None, **kw: object) -> Message:
    t = now_us() if t_us is None else t_us
    return Message(message_id=mid, type="track", timestamp_us=t, received_at_us=t, source="native",
                   event="x", **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = DuckDBStore(tmp_path / "t.duckdb")
    s.ensure_default_project(None, None)
    yield s
    s.close()


def ingest(store: DuckDBStore, msgs: list[Message]):  # type: ignore[no-untyped-def]
    return store.ingest(P, msgs, [], 0, "native").result(30)


def stored_ids(store: DuckDBStore) -> set[tuple[str, str]]:
    return set(store.read().execute("SELECT project_id, message_id FROM events").fetchall())


def index_matches_table(store: DuckDBStore) -> bool:
    """The index holds exactly the keys of the committed rows."""
    rows = stored_ids(store)
    keys = [store.seen.key(p, mid) for p, mid in rows]
    return len(store.seen) == len(rows) and all(store.seen.contains(keys))


def test_python_and_sql_keys_agree_and_cannot_be_read_two_ways() -> None:
    seen = SeenIds()
    con = duckdb.connect()
    con.execute("CREATE TABLE events (project_id VARCHAR, message_id VARCHAR)")
    pairs = [("ab", "c"), ("a", "bc"), ("default", "ünïcödé-ид-🙂"), ("p", ""), ("p", "x" * 2000),
             ("1", "2:x"), ("12", ":x")]
    con.executemany("INSERT INTO events VALUES (?, ?)", pairs)
    for p, mid in pairs:
        row = con.execute(f"SELECT {KEY_SQL} FROM events WHERE project_id = ? AND message_id = ?",
                          [seen.salt, p, mid]).fetchone()
        assert row is not None and bytes(row[0]) == seen.key(p, mid)
    assert len({seen.key(p, mid) for p, mid in pairs}) == len(pairs)


def test_a_resent_batch_after_reopening_is_answered_as_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    s = DuckDBStore(path)
    s.ensure_default_project(None, None)
    batch = [m(f"id-{i}", anonymous_id=f"a{i % 7}") for i in range(100)]
    assert ingest(s, batch).accepted == 100
    s.close()
    s = DuckDBStore(path)  # the index is rebuilt from the table
    try:
        again = ingest(s, batch)
        assert (again.accepted, again.duplicates, again.stored) == (0, 100, [])
        mixed = ingest(s, batch[:50] + [m(f"fresh-{i}", anonymous_id="b") for i in range(50)])
        assert (mixed.accepted, mixed.duplicates) == (50, 50)
        assert {x.message_id for x in mixed.stored} == {f"fresh-{i}" for i in range(50)}
        assert s.read().execute("SELECT count(*) FROM events").fetchone() == (150,)
        assert index_matches_table(s)
    finally:
        s.close()


def test_the_same_id_in_another_project_is_not_a_duplicate(store: DuckDBStore) -> None:
    other = store.create_project("Other")["project_id"]
    assert ingest(store, [m("same", anonymous_id="a")]).accepted == 1
    r = store.ingest(other, [m("same", anonymous_id="a")], [], 0, "native").result(30)
    assert (r.accepted, r.duplicates) == (1, 0)


def test_a_rolled_back_insert_does_not_make_its_retry_a_duplicate(store: DuckDBStore) -> None:
    batch = [m(f"rb-{i}", anonymous_id="a") for i in range(10)]

    def insert_then_fail(tx: Tx) -> None:
        apply_ingest(tx, store.state(tx, P), store.counters, batch, [], 0, "native")
        tx.flush()  # the rows are in the transaction when it fails
        raise RuntimeError("the commit never happens")

    with pytest.raises(RuntimeError):
        store.write_sync(insert_then_fail)
    r = ingest(store, batch)
    assert (r.accepted, r.duplicates) == (10, 0)
    assert index_matches_table(store)


def test_events_deleted_by_retention_are_stored_again_when_resent(store: DuckDBStore) -> None:
    day = 86_400_000_000
    old = m("old", now_us() - 5 * day, anonymous_id="a")
    ingest(store, [old, m("new", anonymous_id="a")])
    store.set_setting(P, "retention_days", "2")
    assert store.apply_retention() == {P: 1}
    assert index_matches_table(store)
    r = ingest(store, [old])
    assert (r.accepted, r.duplicates) == (1, 0)
    assert stored_ids(store) == {(P, "old"), (P, "new")}


def test_erase_removes_the_erased_events_from_the_index(store: DuckDBStore) -> None:
    ingest(store, [m("e1", user_id="eve"), m("e2", user_id="eve"), m("b1", user_id="bob")])
    pid = store.read().execute(
        "SELECT person_id FROM identifiers WHERE value = 'eve'").fetchone()[0]
    assert store.erase_person(P, pid)["events"] == 2
    assert index_matches_table(store)
    assert store.seen.contains([store.seen.key(P, "e1"), store.seen.key(P, "b1")]) == [False, True]


def test_the_index_stays_exact_across_compaction_and_deletes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seen_module, "COMPACT_AT", 50)
    seen = SeenIds()
    keys = [seen.key("p", f"m{i}") for i in range(500)]
    for i in range(0, 500, 20):  # commits of 20: the recent set is merged every few
        ov = Overlay()
        ov.insert(keys[i:i + 20])
        seen.apply(ov)
    assert len(seen) == 500 and all(seen.contains(keys))
    gone = Overlay()
    gone.delete(keys[::3])
    seen.apply(gone)
    expected = [i % 3 != 0 for i in range(500)]
    assert seen.contains(keys) == expected
    assert seen.contains([seen.key("p", "never")]) == [False]
    # Inside a transaction the overlay wins over the index, in both directions.
    ov = Overlay()
    ov.insert([keys[0]])
    ov.delete([keys[1]])
    assert seen.contains(keys[:2], ov) == [True, False]
