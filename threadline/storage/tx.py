"""The write buffer of one group transaction.

Jobs of a group append rows here; ``flush`` writes them with a handful of bulk
statements (Arrow tables scanned by DuckDB) just before the commit. One bulk
insert of 5,000 rows costs about what one insert of 100 rows does.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from threadline.storage.seen import Overlay, SeenIds

EVENT_COLUMNS: list[tuple[str, Any]] = [
    ("project_id", pa.string()),
    ("message_id", pa.string()),
    ("seq", pa.int64()),
    ("type", pa.string()),
    ("event", pa.string()),
    ("ts", pa.timestamp("us")),
    ("received_at", pa.timestamp("us")),
    ("sent_at", pa.timestamp("us")),
    ("anonymous_id", pa.string()),
    ("user_id", pa.string()),
    ("previous_id", pa.string()),
    ("linked_anonymous_id", pa.string()),
    ("anon_iid", pa.int64()),
    ("user_iid", pa.int64()),
    ("owner_iid", pa.int64()),
    ("company_ids", pa.list_(pa.string())),
    ("member_of", pa.list_(pa.string())),
    ("properties", pa.string()),
    ("traits", pa.string()),
    ("context", pa.string()),
    ("extra", pa.string()),
    ("source", pa.string()),
    ("hidden", pa.bool_()),
]
IDENT_COLUMNS: list[tuple[str, Any]] = [
    ("project_id", pa.string()),
    ("iid", pa.int64()),
    ("kind", pa.string()),
    ("value", pa.string()),
    ("first_seen", pa.timestamp("us")),
    ("person_iid", pa.int64()),
    ("person_id", pa.string()),
    ("self_id", pa.string()),
]
EDGE_COLUMNS: list[tuple[str, Any]] = [
    ("project_id", pa.string()),
    ("a_iid", pa.int64()),
    ("b_iid", pa.int64()),
    ("class", pa.string()),
    ("kind", pa.string()),
    ("ts", pa.timestamp("us")),
    ("message_id", pa.string()),
    ("source", pa.string()),
    ("outcome", pa.string()),
]
COMPANY_COLUMNS: list[tuple[str, Any]] = [
    ("project_id", pa.string()),
    ("company_id", pa.string()),
    ("ts", pa.timestamp("us")),
    ("message_id", pa.string()),
    ("traits", pa.string()),
]
QUARANTINE_COLUMNS: list[tuple[str, Any]] = [
    ("project_id", pa.string()),
    ("qid", pa.int64()),
    ("received_at", pa.timestamp("us")),
    ("source", pa.string()),
    ("idx", pa.int32()),
    ("code", pa.string()),
    ("reason", pa.string()),
    ("body", pa.string()),
    ("anonymous_id", pa.string()),
    ("user_id", pa.string()),
]
STAT_NAMES = ("accepted", "duplicates", "quarantined", "personless", "suppressed")


def _day(us: int) -> dt.date:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).date()


def arrow_table(columns: list[tuple[str, Any]], rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows (tuples in column order) as an Arrow table with the given schema."""
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pa.table(
        {name: pa.array(list(col), type=typ) for (name, typ), col in zip(columns, cols, strict=True)}
    )


class StatBuffer:
    """Ingest counters carried across commits and written at most once a second.

    An insert per commit costs about as much as a small commit's events; counters are
    reporting, so a crash may lose at most the last second of them (never an event).
    """

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self.pending: dict[tuple[str, Any], dict[str, int]] = {}
        self.written_at = 0.0

    def snapshot(self) -> tuple[dict[tuple[str, Any], dict[str, int]], float]:
        """The buffer as it is before a transaction, to ``restore`` if that one fails."""
        return {k: dict(v) for k, v in self.pending.items()}, self.written_at

    def restore(self, saved: tuple[dict[tuple[str, Any], dict[str, int]], float]) -> None:
        self.pending, self.written_at = {k: dict(v) for k, v in saved[0].items()}, saved[1]

    def take(self, stats: dict[tuple[str, Any], dict[str, int]]) -> None:
        for key, counts in stats.items():
            into = self.pending.setdefault(key, dict.fromkeys(STAT_NAMES, 0))
            for name, value in counts.items():
                into[name] += value

    def write_if_due(self, con: Any, force: bool = False) -> None:
        now = time.monotonic()
        if not self.pending or (not force and now - self.written_at < self.every_s):
            return
        rows = [(pid, day, *(c[n] for n in STAT_NAMES)) for (pid, day), c in self.pending.items()
                if any(c.values())]
        if rows:
            con.executemany("INSERT INTO ingest_stats VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self.pending = {}
        self.written_at = now


@dataclass
class Tx:
    """One open write transaction and the rows its jobs have produced."""

    con: Any
    seen: SeenIds
    stat_buffer: StatBuffer
    events: list[tuple[Any, ...]] = field(default_factory=list)
    new_identifiers: dict[tuple[str, int], list[Any]] = field(default_factory=dict)
    identifier_updates: dict[tuple[str, int], list[Any]] = field(default_factory=dict)
    edge_upserts: dict[tuple[str, int, int, str], tuple[Any, ...]] = field(default_factory=dict)
    edge_deletes: set[tuple[str, int, int, str]] = field(default_factory=set)
    companies: list[tuple[Any, ...]] = field(default_factory=list)
    quarantine: list[tuple[Any, ...]] = field(default_factory=list)
    stats: dict[tuple[str, Any], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(STAT_NAMES, 0))
    )
    # message ids written by earlier jobs of this group, per project (cross-request dedupe)
    pending_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    after_commit: list[Any] = field(default_factory=list)
    # Message-id keys this transaction inserted or deleted; the store applies them to
    # ``seen`` after the commit (see seen.py).
    overlay: Overlay = field(default_factory=Overlay)
    # Per buffered event row: the request's result, the message, whether personless.
    event_results: list[tuple[Any, Any, bool]] = field(default_factory=list)

    def set_identifier(
        self, project_id: str, iid: int, kind: str, value: str, first_seen: int,
        person_iid: int, person_id: str, self_id: str, new: bool,
    ) -> None:
        """Record an identifier's current row; inserted when new, else updated."""
        key = (project_id, iid)
        row = [project_id, iid, kind, value, first_seen, person_iid, person_id, self_id]
        if new or key in self.new_identifiers:
            self.new_identifiers[key] = row
        else:
            self.identifier_updates[key] = row

    def forget_events(self, where: str, params: list[Any]) -> None:
        """Call before ``DELETE FROM events WHERE <where>``: the deleted ids stop being
        duplicates once this transaction commits."""
        self.overlay.delete(self.seen.keys_where(self.con, where, params))

    def _insert_events(self) -> None:
        """Insert the buffered events, skipping message ids already stored, and correct the
        counts of the requests whose messages turned out to be duplicates.

        The in-memory :class:`SeenIds` knows exactly which ids are stored, so a re-sent
        batch costs a lookup in memory, not a query. A duplicate's identifiers and edges
        were applied when its first copy was stored, and applying the same evidence again
        changes nothing, so only its row is skipped.
        """
        key = self.seen.key
        keys = [key(row[0], row[1]) for row in self.events]
        hits = self.seen.contains(keys, self.overlay)
        stored = {(row[0], row[1]) for row, hit in zip(self.events, hits, strict=True) if hit}
        self.overlay.insert(k for k, hit in zip(keys, hits, strict=True) if not hit)
        if stored:
            kept = {(r[0], r[1]) for r in self.events} - stored
            for row, (result, msg, personless) in zip(self.events, self.event_results, strict=True):
                if (row[0], row[1]) in kept:
                    continue
                result.accepted -= 1
                result.duplicates += 1
                result.stored.remove(msg)
                day_stats = self.stats[(row[0], _day(row[6]))]
                day_stats["accepted"] -= 1
                day_stats["duplicates"] += 1
                if personless:
                    result.personless -= 1
                    day_stats["personless"] -= 1
            self.events = [r for r in self.events if (r[0], r[1]) in kept]
        ev = arrow_table(EVENT_COLUMNS, self.events)  # noqa: F841 - scanned by name
        self.con.execute("INSERT INTO events SELECT * FROM ev")
        self.events = []
        self.event_results = []

    def flush(self) -> None:
        """Write everything buffered; the caller commits."""
        con = self.con
        if self.events:
            self._insert_events()
        if self.new_identifiers:
            ni = arrow_table(IDENT_COLUMNS, [tuple(r) for r in self.new_identifiers.values()])  # noqa: F841
            con.execute("INSERT INTO identifiers SELECT * FROM ni")
            self.new_identifiers = {}
        if self.identifier_updates:
            iu = arrow_table(IDENT_COLUMNS, [tuple(r) for r in self.identifier_updates.values()])  # noqa: F841
            con.execute(
                "UPDATE identifiers SET first_seen = iu.first_seen, person_iid = iu.person_iid, "
                "person_id = iu.person_id FROM iu "
                "WHERE identifiers.project_id = iu.project_id AND identifiers.iid = iu.iid"
            )
            self.identifier_updates = {}
        # Only edges stored before are deleted (and replaced): a scan of the edges table
        # on every commit would grow with the store.
        if self.edge_deletes:
            ed = arrow_table(  # noqa: F841
                [("project_id", pa.string()), ("a_iid", pa.int64()), ("b_iid", pa.int64()),
                 ("class", pa.string())],
                list(self.edge_deletes),
            )
            con.execute(
                "DELETE FROM edges USING ed WHERE edges.project_id = ed.project_id "
                "AND edges.a_iid = ed.a_iid AND edges.b_iid = ed.b_iid AND edges.class = ed.class"
            )
        if self.edge_upserts or self.edge_deletes:
            if self.edge_upserts:
                eu = arrow_table(EDGE_COLUMNS, list(self.edge_upserts.values()))  # noqa: F841
                con.execute("INSERT INTO edges SELECT * FROM eu")
            self.edge_upserts = {}
            self.edge_deletes = set()
        if self.companies:
            cu = arrow_table(COMPANY_COLUMNS, self.companies)  # noqa: F841
            con.execute("INSERT INTO company_updates SELECT * FROM cu")
            self.companies = []
        if self.quarantine:
            qu = arrow_table(QUARANTINE_COLUMNS, self.quarantine)  # noqa: F841
            con.execute("INSERT INTO quarantine SELECT * FROM qu")
            self.quarantine = []
        self.stat_buffer.take(self.stats)
        self.stat_buffer.write_if_due(con)
        self.stats.clear()
