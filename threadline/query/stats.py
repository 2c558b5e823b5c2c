"""Ingest counts per UTC day (``GET /api/v1/ingest/stats``): accepted, duplicates,
quarantined, personless and suppressed messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from threadline.model import JSON

NAMES = ("accepted", "duplicates", "quarantined", "personless", "suppressed")


def ingest_stats(cur: Any, project_id: str, start: dt.date | None = None,
                 end: dt.date | None = None) -> list[JSON]:
    """One row per day that saw traffic in ``[start, end]`` (days of receipt, UTC),
    oldest first. The store appends a row per commit; they are summed here."""
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    if start is not None:
        where.append("day >= ?")
        params.append(start)
    if end is not None:
        where.append("day <= ?")
        params.append(end)
    sums = ", ".join(f"sum({n})::BIGINT" for n in NAMES)
    rows = cur.execute(
        f"SELECT day, {sums} FROM ingest_stats WHERE {' AND '.join(where)} GROUP BY day ORDER BY day",
        params,
    ).fetchall()
    return [{"day": day.isoformat(), **dict(zip(NAMES, (int(v) for v in vals), strict=True))}
            for day, *vals in rows]
