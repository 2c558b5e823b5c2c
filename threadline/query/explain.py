"""Why a person is who it is (identity.md, Split, merge, erase: Explain).

Read from the kept evidence: ``edges`` holds the earliest edge per pair and class
with the outcome the replay gave it, ``blocks`` the operators' splits.

- links: accepted edges with both ends inside the person;
- conflicts: refused edges touching the person's identifiers, with the user ids of
  the person now holding each side (so the shared-device case reads at a glance);
- blocks: edges a split refused (``"type": "edge"``) and the stored splits touching
  the person (``"type": "split"``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from threadline.model import JSON, Kind
from threadline.query.persons import PersonRef
from threadline.query.serialize import iso

Ident = tuple[str, str, int]  # kind, value, person iid


def _idents(cur: Any, project_id: str, iids: set[int]) -> dict[int, Ident]:
    if not iids:
        return {}
    rows = cur.execute(
        "SELECT iid, kind, value, person_iid FROM identifiers WHERE project_id = ? "
        "AND iid IN (SELECT unnest(?::BIGINT[]))", [project_id, sorted(iids)]
    ).fetchall()
    return {iid: (kind, value, pid) for iid, kind, value, pid in rows}


def _user_ids(cur: Any, project_id: str, person_iids: set[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    if person_iids:
        for pid, value in cur.execute(
            "SELECT person_iid, value FROM identifiers WHERE project_id = ? AND kind = ? "
            "AND person_iid IN (SELECT unnest(?::BIGINT[])) ORDER BY first_seen, value",
            [project_id, Kind.USER.value, sorted(person_iids)],
        ).fetchall():
            out[pid].append(value)
    return out


def explain(cur: Any, project_id: str, ref: PersonRef) -> JSON:
    """The api.md Explain shape for one person."""
    own = cur.execute(
        "SELECT iid, kind, value, epoch_us(first_seen) FROM identifiers "
        "WHERE project_id = ? AND person_iid = ? ORDER BY first_seen, kind, value",
        [project_id, ref.iid],
    ).fetchall()
    mine = {r[0] for r in own}
    edges = cur.execute(
        "SELECT a_iid, b_iid, kind, epoch_us(ts), message_id, source, outcome FROM edges "
        "WHERE project_id = ? AND (a_iid IN (SELECT unnest(?::BIGINT[])) "
        "OR b_iid IN (SELECT unnest(?::BIGINT[]))) ORDER BY ts, message_id, kind",
        [project_id, sorted(mine), sorted(mine)],
    ).fetchall()
    blocks = cur.execute(
        "SELECT block_id, s_iids, r_iids, epoch_us(created_at) FROM blocks WHERE project_id = ? "
        "AND (len(list_intersect(s_iids, ?::BIGINT[])) > 0 OR len(list_intersect(r_iids, ?::BIGINT[])) > 0) "
        "ORDER BY created_at, block_id", [project_id, sorted(mine), sorted(mine)],
    ).fetchall()
    wanted = {i for e in edges for i in (e[0], e[1])} | {i for b in blocks for i in (*b[1], *b[2])}
    idents = _idents(cur, project_id, wanted | mine)
    conflict_persons = {idents[i][2] for e in edges if e[6] == "conflict" for i in e[:2] if i in idents}
    users = _user_ids(cur, project_id, conflict_persons)

    def ident(iid: int) -> JSON:
        hit = idents.get(iid)
        return {"kind": hit[0], "value": hit[1]} if hit else {"kind": None, "value": None}

    links: list[JSON] = []
    conflicts: list[JSON] = []
    refused: list[JSON] = []
    for a, b, kind, ts, mid, source, outcome in edges:
        base = {"a": ident(a), "b": ident(b), "edge": kind, "message_id": mid, "time": iso(ts)}
        if outcome == "accepted" and a in mine and b in mine:
            links.append({**base, "source": source})
        elif outcome == "conflict":
            conflicts.append({
                **base,
                "a_user_ids": users.get(idents[a][2], []) if a in idents else [],
                "b_user_ids": users.get(idents[b][2], []) if b in idents else [],
            })
        elif outcome == "blocked":
            refused.append({"type": "edge", **base, "source": source})
    for block_id, s_iids, r_iids, created in blocks:
        refused.append({
            "type": "split", "id": block_id, "created_at": iso(created),
            "s": [ident(i) for i in sorted(s_iids)], "r": [ident(i) for i in sorted(r_iids)],
        })
    return {
        "person_id": ref.id,
        "identifiers": [{"kind": k, "value": v, "first_seen": iso(fs)} for _i, k, v, fs in own],
        "links": links,
        "conflicts": conflicts,
        "blocks": refused,
    }
