"""Persons: lookup, detail, list and search, and the timeline.

A person is the current cluster of identifiers that share ``identifiers.person_iid``;
an event belongs to the person of its owner identifier (``events.owner_iid``), looked
up at read time, so a merge shows older events on the merged timeline at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from threadline.model import JSON, Kind
from threadline.query.events import hydrate
from threadline.query.pagination import PageRequest, page
from threadline.query.serialize import EVENT_COLUMNS, iso, loads
from threadline.query.traits import TraitRow, company_name, company_traits, fold

PERSONS_CURSOR = (int, str)  # (last activity µs, person id), newest first
# (event time µs, ingest sequence), oldest first: events of one millisecond read in the
# order they arrived (an identify before the page views sent with it), not by random id.
TIMELINE_CURSOR = (int, int)


@dataclass(frozen=True)
class PersonRef:
    """A live person: its cluster key (the earliest identifier's iid) and its id."""

    iid: int
    id: str


def resolve(cur: Any, project_id: str, person_id: str) -> PersonRef | None:
    """The person answering to ``person_id``: a live person's id first, else the id of
    one of its identifiers (an id that was merged away; identity.md, Persons)."""
    for column in ("person_id", "self_id"):
        row = cur.execute(
            f"SELECT person_iid, person_id FROM identifiers WHERE project_id = ? AND {column} = ? LIMIT 1",
            [project_id, person_id],
        ).fetchone()
        if row is not None:
            return PersonRef(int(row[0]), str(row[1]))
    return None


def lookup(cur: Any, project_id: str, kind: str, value: str) -> PersonRef | None:
    """The person holding the identifier ``(kind, value)``."""
    row = cur.execute(
        "SELECT person_iid, person_id FROM identifiers WHERE project_id = ? AND kind = ? AND value = ? LIMIT 1",
        [project_id, kind, value],
    ).fetchone()
    return PersonRef(int(row[0]), str(row[1])) if row else None


def persons(cur: Any, project_id: str, person_iids: Collection[int],
            set_once: Collection[str]) -> dict[int, JSON]:
    """The api.md Person shape of each person (by cluster iid)."""
    if not person_iids:
        return {}
    idents = cur.execute(
        "SELECT person_iid, person_id, iid, kind, value, epoch_us(first_seen) FROM identifiers "
        "WHERE project_id = ? AND person_iid IN (SELECT unnest(?::BIGINT[])) "
        "ORDER BY first_seen, kind, value", [project_id, sorted(person_iids)],
    ).fetchall()
    owner_of: dict[int, int] = {}
    out: dict[int, JSON] = {}
    for person_iid, person_id, iid, kind, value, first_seen in idents:
        owner_of[iid] = person_iid
        p = out.get(person_iid)
        if p is None:
            p = out[person_iid] = {
                "id": person_id, "is_identified": False, "user_ids": [], "anonymous_ids": [],
                "traits": {}, "companies": [], "first_seen": first_seen, "last_seen": None,
                "event_count": 0,
            }
        p["first_seen"] = min(p["first_seen"], first_seen)
        if kind == Kind.USER:
            p["user_ids"].append(value)
            p["is_identified"] = True
        else:
            p["anonymous_ids"].append(value)
    # One pass over the persons' events: counts, activity, trait updates, memberships.
    trait_rows: dict[int, list[TraitRow]] = defaultdict(list)
    members: dict[int, set[str]] = defaultdict(set)
    for owner, n, last, traits, member_of in cur.execute(
        "SELECT owner_iid, count(*) FILTER (WHERE NOT hidden), max(epoch_us(ts)) FILTER (WHERE NOT hidden), "
        "list({'t': epoch_us(ts), 'm': message_id, 'j': traits}) FILTER (WHERE traits IS NOT NULL), "
        "flatten(list(member_of) FILTER (WHERE len(member_of) > 0)) "
        "FROM events WHERE project_id = ? AND owner_iid IN (SELECT unnest(?::BIGINT[])) "
        "GROUP BY owner_iid", [project_id, sorted(owner_of)],
    ).fetchall():
        person_iid = owner_of[owner]
        p = out[person_iid]
        p["event_count"] += n
        if last is not None and (p["last_seen"] is None or last > p["last_seen"]):
            p["last_seen"] = last
        trait_rows[person_iid].extend((r["t"], r["m"], loads(r["j"])) for r in traits or ())
        members[person_iid].update(member_of or ())
    companies = company_traits(cur, project_id, {c for m in members.values() for c in m})
    for person_iid, p in out.items():
        p["traits"] = fold(trait_rows.get(person_iid, ()), set_once)
        p["companies"] = [{"id": c, "name": company_name(companies[c]), "traits": companies[c]}
                          for c in sorted(members.get(person_iid, ()))]
        p["last_seen"] = iso(p["last_seen"] if p["last_seen"] is not None else p["first_seen"])
        p["first_seen"] = iso(p["first_seen"])
    return out


def person(cur: Any, project_id: str, ref: PersonRef, set_once: Collection[str]) -> JSON | None:
    """One person in the api.md shape (None when it vanished meanwhile)."""
    return persons(cur, project_id, [ref.iid], set_once).get(ref.iid)


def _search_filter(project_id: str, search: str) -> tuple[str, list[Any]]:
    """Persons with an identifier, person id or trait value containing ``search``
    (case-insensitive)."""
    needle = search.lower()
    sql = (
        "i.person_iid IN ("
        "SELECT person_iid FROM identifiers WHERE project_id = ? "
        "AND (contains(lower(value), ?) OR person_id = ? OR self_id = ?) "
        "UNION SELECT i2.person_iid FROM events e2 JOIN identifiers i2 "
        "ON i2.project_id = e2.project_id AND i2.iid = e2.owner_iid "
        "WHERE e2.project_id = ? AND e2.traits IS NOT NULL "
        "AND contains(lower(array_to_string(json_extract_string(e2.traits, '$.*'), ' ')), ?))"
    )
    return sql, [project_id, needle, search, search, project_id, needle]


def list_persons(cur: Any, project_id: str, req: PageRequest, set_once: Collection[str],
                 search: str | None = None) -> tuple[list[JSON], str | None]:
    """Persons, newest activity first (last non-hidden event; else first seen)."""
    where = ["i.project_id = ?"]
    params: list[Any] = [project_id]
    if search:
        sql, extra = _search_filter(project_id, search)
        where.append(sql)
        params += extra
    outer = ""
    params_after: list[Any] = []
    if req.after is not None:
        outer = "WHERE activity < ? OR (activity = ? AND person_id < ?)"
        params_after = [req.after[0], req.after[0], req.after[1]]
    rows = cur.execute(
        "WITH act AS (SELECT owner_iid, max(ts) AS last_ts FROM events "
        "WHERE project_id = ? AND NOT hidden AND owner_iid IS NOT NULL GROUP BY owner_iid), "
        "p AS (SELECT i.person_iid, i.person_id, "
        "epoch_us(max(coalesce(act.last_ts, i.first_seen))) AS activity "
        "FROM identifiers i LEFT JOIN act ON act.owner_iid = i.iid "
        f"WHERE {' AND '.join(where)} GROUP BY i.person_iid, i.person_id) "
        f"SELECT person_iid, person_id, activity FROM p {outer} "
        "ORDER BY activity DESC, person_id DESC LIMIT ?",
        [project_id, *params, *params_after, req.limit + 1],
    ).fetchall()
    items, cursor = page(rows, req, lambda r: (r[2], r[1]))
    found = persons(cur, project_id, [r[0] for r in items], set_once)
    return [found[r[0]] for r in items if r[0] in found], cursor


def timeline(cur: Any, project_id: str, ref: PersonRef,
             req: PageRequest) -> tuple[list[JSON], str | None]:
    """The person's events oldest first, pre-login events included, hidden ones not."""
    params: list[Any] = [project_id, project_id, ref.iid]
    after = ""
    if req.after is not None:
        after = "AND (e.ts > make_timestamp(?) OR (e.ts = make_timestamp(?) AND e.seq > ?))"
        params += [req.after[0], req.after[0], req.after[1]]
    rows: Sequence[tuple[Any, ...]] = cur.execute(
        f"SELECT {EVENT_COLUMNS}, e.seq FROM events e WHERE e.project_id = ? AND e.owner_iid IN "
        "(SELECT iid FROM identifiers WHERE project_id = ? AND person_iid = ?) "
        f"AND NOT e.hidden {after} ORDER BY e.ts, e.seq LIMIT ?",
        [*params, req.limit + 1],
    ).fetchall()
    items, cursor = page(rows, req, lambda r: (r[3], r[-1]))
    return hydrate(cur, project_id, [r[:-1] for r in items]), cursor
