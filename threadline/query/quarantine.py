"""The quarantine (dead-letter) list: messages refused at ingest, with their reasons."""

from __future__ import annotations

from typing import Any

from threadline.model import JSON
from threadline.query.pagination import PageRequest, page
from threadline.query.serialize import iso, loads_any

QUARANTINE_CURSOR = (int,)  # qid, newest first


def list_quarantine(cur: Any, project_id: str, req: PageRequest, *, start: int | None = None,
                    end: int | None = None, code: str | None = None) -> tuple[list[JSON], str | None]:
    """Rejected messages newest first: where they came from, why, and the body as sent."""
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    if start is not None:
        where.append("received_at >= make_timestamp(?)")
        params.append(start)
    if end is not None:
        where.append("received_at < make_timestamp(?)")
        params.append(end)
    if code is not None:
        where.append("code = ?")
        params.append(code)
    if req.after is not None:
        where.append("qid < ?")
        params.append(req.after[0])
    rows = cur.execute(
        "SELECT qid, epoch_us(received_at), source, idx, code, reason, body, anonymous_id, user_id "
        f"FROM quarantine WHERE {' AND '.join(where)} ORDER BY qid DESC LIMIT ?",
        [*params, req.limit + 1],
    ).fetchall()
    items, cursor = page(rows, req, lambda r: (r[0],))
    return [
        {"id": qid, "received_at": iso(received), "source": source, "index": idx, "code": code_,
         "reason": reason, "body": loads_any(body), "anonymous_id": anon, "user_id": user}
        for qid, received, source, idx, code_, reason, body, anon, user in items
    ], cursor
