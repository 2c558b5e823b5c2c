"""Folding trait updates into current traits (identity.md, Traits), and reading
company traits.

A pure function over (event time, message id, traits) rows, so persons, companies
and merges all use one rule: per top-level key the latest event wins (ties: the
later message id), set-once keys keep the earliest value, ``null`` never erases,
and a nested object is replaced whole.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from threadline.model import JSON
from threadline.query.serialize import loads

TraitRow = tuple[int, str, JSON]  # (event time in µs, message id, traits)


def fold(rows: Iterable[TraitRow], set_once: Collection[str] = ()) -> JSON:
    """The traits that ``rows`` leave, whatever order they are given in."""
    out: dict[str, Any] = {}
    for _ts, _mid, traits in sorted(rows, key=lambda r: (r[0], r[1])):
        for key, value in traits.items():
            if value is None:
                continue
            if key in set_once and key in out:
                continue
            out[key] = value
    return out


def company_traits(cur: Any, project_id: str, company_ids: Collection[str]) -> dict[str, JSON]:
    """Current traits of each company (latest update wins per key)."""
    if not company_ids:
        return {}
    rows: dict[str, list[TraitRow]] = {c: [] for c in company_ids}
    for cid, ts, mid, text in cur.execute(
        "SELECT company_id, epoch_us(ts), message_id, traits FROM company_updates "
        "WHERE project_id = ? AND company_id IN (SELECT unnest(?::VARCHAR[]))",
        [project_id, sorted(company_ids)],
    ).fetchall():
        rows[cid].append((ts, mid, loads(text)))
    return {cid: fold(r) for cid, r in rows.items()}


def company_name(traits: JSON) -> str | None:
    """A company's display name: its ``name`` trait when that is text."""
    name = traits.get("name")
    return name if isinstance(name, str) else None
