"""Companies: list, detail, members and the company timeline (identity.md, Companies).

A person is a member of a company from the earliest event of any of its identifiers
that made it one (``events.member_of``); membership follows merges because it is
looked up through the identifier's current person. A company's events are its
members' events from their membership on, plus every event that carries the company
id directly (``events.company_ids``). Company traits: latest update wins per key.
"""

from __future__ import annotations

from typing import Any

from threadline.model import JSON
from threadline.query.events import hydrate
from threadline.query.pagination import PageRequest, page
from threadline.query.persons import persons
from threadline.query.serialize import EVENT_COLUMNS, iso
from threadline.query.traits import company_name, company_traits

COMPANIES_CURSOR = (int, str)  # (last seen µs, company id), newest first
MEMBERS_CURSOR = (int, str)  # (member since µs, person id)
TIMELINE_CURSOR = (int, int)  # (event time µs, ingest sequence), as the person timeline


def membership_sql(one: bool) -> str:
    """CTE ``mem(company_id, person_iid, since)``; ``one`` restricts it to ``$company``."""
    only = "AND list_contains(member_of, $company)" if one else ""
    pick = "WHERE m.company_id = $company" if one else ""
    return (
        "mem AS (SELECT m.company_id, i.person_iid, min(m.ts) AS since FROM "
        "(SELECT owner_iid, ts, unnest(member_of) AS company_id FROM events "
        f"WHERE project_id = $project AND len(member_of) > 0 AND owner_iid IS NOT NULL {only}) m "
        "JOIN identifiers i ON i.project_id = $project AND i.iid = m.owner_iid "
        f"{pick} GROUP BY m.company_id, i.person_iid)"
    )


def company_events_sql(one: bool, columns: str = "e.rowid AS rid, e.ts, e.message_id",
                       where: str = "NOT e.hidden") -> str:
    """CTEs ``mem`` and ``cev(company_id, <columns>)``: each company's events, once each.

    ``columns`` and ``where`` are over the events table as ``e``.
    """
    pick = "WHERE c.company_id = $company" if one else ""
    only = "AND list_contains(e.company_ids, $company)" if one else ""
    return (
        f"{membership_sql(one)}, "
        f"cev AS (SELECT mem.company_id, {columns} FROM events e "
        "JOIN identifiers i ON i.project_id = e.project_id AND i.iid = e.owner_iid "
        "JOIN mem ON mem.person_iid = i.person_iid AND e.ts >= mem.since "
        f"WHERE e.project_id = $project AND {where} AND e.owner_iid IN (SELECT iid FROM identifiers "
        "WHERE project_id = $project AND person_iid IN (SELECT person_iid FROM mem)) "
        f"UNION SELECT c.* FROM (SELECT unnest(e.company_ids) AS company_id, {columns} FROM events e "
        f"WHERE e.project_id = $project AND len(e.company_ids) > 0 AND {where} {only}) c {pick})"
    )


def _known(cur: Any, project_id: str, company_id: str) -> bool:
    row = cur.execute(
        "SELECT EXISTS (SELECT 1 FROM company_updates WHERE project_id = $project AND company_id = $company) "
        "OR EXISTS (SELECT 1 FROM events WHERE project_id = $project "
        "AND list_contains(company_ids, $company))",
        {"project": project_id, "company": company_id},
    ).fetchone()
    return bool(row and row[0])


def _stats(cur: Any, project_id: str,
           company_id: str | None = None) -> dict[str, tuple[int, int | None, int | None]]:
    """(member count, first seen µs, last seen µs) of one company, or of every company."""
    one = company_id is not None
    params: dict[str, Any] = {"project": project_id}
    if one:
        params["company"] = company_id
    rows = cur.execute(
        f"WITH {company_events_sql(one, 'e.rowid AS rid, e.ts')}, "
        "ev AS (SELECT company_id, min(ts) AS first, max(ts) AS last FROM cev GROUP BY company_id), "
        "mc AS (SELECT company_id, count(DISTINCT person_iid) AS n FROM mem GROUP BY company_id), "
        "up AS (SELECT company_id, min(ts) AS first, max(ts) AS last FROM company_updates "
        f"WHERE project_id = $project {'AND company_id = $company' if one else ''} GROUP BY company_id), "
        "ids AS (SELECT company_id FROM ev UNION SELECT company_id FROM up) "
        "SELECT ids.company_id, coalesce(mc.n, 0), epoch_us(coalesce(ev.first, up.first)), "
        "epoch_us(coalesce(ev.last, up.last)) FROM ids LEFT JOIN ev USING (company_id) "
        "LEFT JOIN mc USING (company_id) LEFT JOIN up USING (company_id)", params,
    ).fetchall()
    return {cid: (n, first, last) for cid, n, first, last in rows}


def _shape(cid: str, traits: JSON, stats: tuple[int, int | None, int | None]) -> JSON:
    return {"id": cid, "name": company_name(traits), "traits": traits, "member_count": stats[0],
            "first_seen": iso(stats[1]), "last_seen": iso(stats[2])}


def company(cur: Any, project_id: str, company_id: str) -> JSON | None:
    """The api.md Company shape, or None when no event or update names it."""
    if not _known(cur, project_id, company_id):
        return None
    stats = _stats(cur, project_id, company_id).get(company_id, (0, None, None))
    traits = company_traits(cur, project_id, [company_id])[company_id]
    return _shape(company_id, traits, stats)


def list_companies(cur: Any, project_id: str, req: PageRequest,
                   search: str | None = None) -> tuple[list[JSON], str | None]:
    """Companies, most recently active first; ``search`` matches id and trait values."""
    stats = _stats(cur, project_id)
    ids = list(stats)
    traits = company_traits(cur, project_id, ids)
    if search:
        needle = search.lower()
        ids = [c for c in ids if needle in c.lower()
               or any(needle in str(v).lower() for v in traits[c].values())]
    ordered = sorted(ids, key=lambda c: (stats[c][2] or 0, c), reverse=True)
    if req.after is not None:
        after = (req.after[0], req.after[1])
        ordered = [c for c in ordered if (stats[c][2] or 0, c) < after]
    items, cursor = page(ordered[: req.limit + 1], req, lambda c: (stats[c][2] or 0, c))
    return [_shape(c, traits[c], stats[c]) for c in items], cursor


def members(cur: Any, project_id: str, company_id: str, req: PageRequest,
            set_once: tuple[str, ...]) -> tuple[list[JSON], str | None]:
    """The company's members (persons), earliest membership first."""
    params: dict[str, Any] = {"project": project_id, "company": company_id, "n": req.limit + 1}
    after = ""
    if req.after is not None:
        after = "WHERE since > $t OR (since = $t AND person_id > $pid)"
        params |= {"t": req.after[0], "pid": req.after[1]}
    rows = cur.execute(
        f"WITH {membership_sql(True)}, "
        "ms AS (SELECT mem.person_iid, any_value(i.person_id) AS person_id, epoch_us(min(mem.since)) AS since "
        "FROM mem JOIN identifiers i ON i.project_id = $project AND i.iid = mem.person_iid "
        "GROUP BY mem.person_iid) "
        f"SELECT person_iid, person_id, since FROM ms {after} ORDER BY since, person_id LIMIT $n",
        params,
    ).fetchall()
    items, cursor = page(rows, req, lambda r: (r[2], r[1]))
    found = persons(cur, project_id, [r[0] for r in items], set_once)
    return [found[r[0]] for r in items if r[0] in found], cursor


def timeline(cur: Any, project_id: str, company_id: str,
             req: PageRequest) -> tuple[list[JSON], str | None]:
    """The company's events oldest first (members' from their membership on, and
    events carrying the company id), hidden ones excluded."""
    params: dict[str, Any] = {"project": project_id, "company": company_id, "n": req.limit + 1}
    after = ""
    if req.after is not None:
        after = "WHERE ts > make_timestamp($t) OR (ts = make_timestamp($t) AND seq > $seq)"
        params |= {"t": req.after[0], "seq": req.after[1]}
    rows = cur.execute(
        f"WITH {company_events_sql(True, 'e.rowid AS rid, e.ts, e.seq')}, "
        f"pg AS (SELECT rid, ts, seq FROM cev {after} ORDER BY ts, seq LIMIT $n) "
        f"SELECT {EVENT_COLUMNS}, e.seq FROM events e JOIN pg ON e.rowid = pg.rid "
        "WHERE e.project_id = $project ORDER BY e.ts, e.seq", params,
    ).fetchall()
    items, cursor = page(rows, req, lambda r: (r[3], r[-1]))
    return hydrate(cur, project_id, [r[:-1] for r in items]), cursor
