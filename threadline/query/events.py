"""Raw events with their resolved person (``GET /api/v1/events``), and the shared step
that turns stored event rows into API events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from threadline.model import JSON
from threadline.query.pagination import PageRequest, page
from threadline.query.serialize import EVENT_COLUMNS, IdentInfo, event_json, loads

EVENTS_CURSOR = (int, int)  # (event time µs, ingest sequence), newest first


def ident_info(cur: Any, project_id: str, iids: Iterable[int | None]) -> dict[int, IdentInfo]:
    """(value, current person id) of each identifier iid."""
    wanted = sorted({i for i in iids if i is not None})
    if not wanted:
        return {}
    rows = cur.execute(
        "SELECT iid, value, person_id FROM identifiers WHERE project_id = ? "
        "AND iid IN (SELECT unnest(?::BIGINT[]))", [project_id, wanted]
    ).fetchall()
    return {iid: (value, pid) for iid, value, pid in rows}


def hydrate(cur: Any, project_id: str, rows: Sequence[tuple[Any, ...]]) -> list[JSON]:
    """Rows selected with ``EVENT_COLUMNS`` as API events (identifier values and the
    person each event belongs to now, looked up in one query)."""
    idents = ident_info(cur, project_id, (i for r in rows for i in (r[5], r[6], r[7])))
    return [event_json(r, idents) for r in rows]


def list_events(cur: Any, project_id: str, req: PageRequest, *, type_: str | None = None,
                event: str | None = None, start: int | None = None, end: int | None = None,
                include_hidden: bool = False) -> tuple[list[JSON], str | None]:
    """Events newest first, filtered by type, event name and a half-open time range."""
    where = ["e.project_id = ?"]
    params: list[Any] = [project_id]
    if not include_hidden:
        where.append("NOT e.hidden")
    if type_ is not None:
        where.append("e.type = ?")
        params.append(type_)
    if event is not None:
        where.append("e.event = ?")
        params.append(event)
    if start is not None:
        where.append("e.ts >= make_timestamp(?)")
        params.append(start)
    if end is not None:
        where.append("e.ts < make_timestamp(?)")
        params.append(end)
    if req.after is not None:
        where.append("(e.ts < make_timestamp(?) OR (e.ts = make_timestamp(?) AND e.seq < ?))")
        params += [req.after[0], req.after[0], req.after[1]]
    rows = cur.execute(
        f"SELECT {EVENT_COLUMNS}, e.traits, e.previous_id, e.seq FROM events e WHERE {' AND '.join(where)} "
        "ORDER BY e.ts DESC, e.seq DESC LIMIT ?", [*params, req.limit + 1]
    ).fetchall()
    items, cursor = page(rows, req, lambda r: (r[3], r[-1]))
    out = hydrate(cur, project_id, [r[:-3] for r in items])
    company_traits = _company_traits(cur, project_id, [e["id"] for e in out])
    # What a re-import needs beyond the timeline shape (``threadline export`` writes it):
    # identify traits, the alias's previous id, the company traits a group call set.
    for e, r in zip(out, items, strict=True):
        e["traits"] = loads(r[-3])
        e["previous_id"] = r[-2]
        e["company_traits"] = company_traits.get(e["id"], {})
    return out, cursor


def _company_traits(cur: Any, project_id: str, message_ids: list[str]) -> dict[str, dict[str, JSON]]:
    """``{message id: {company id: traits}}`` of the company trait updates these events made."""
    if not message_ids:
        return {}
    rows = cur.execute(
        "SELECT message_id, company_id, traits FROM company_updates WHERE project_id = ? "
        "AND message_id IN (SELECT unnest(?::VARCHAR[]))", [project_id, message_ids]
    ).fetchall()
    out: dict[str, dict[str, JSON]] = {}
    for mid, cid, traits in rows:
        out.setdefault(mid, {})[cid] = loads(traits)
    return out

