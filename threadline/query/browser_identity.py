"""The last identify a moesif-browser-js client sent, read from the store: the fallback of
``collector/moesif_browser`` when this process has not seen it (another process, or
before a restart)."""

from __future__ import annotations

from typing import Any


def last_browser_identify(cur: Any, project_id: str, *, session: str | None, ip: str, user_agent: str,
                          since_us: int, client_since_us: int) -> tuple[str, str | None, int] | None:
    """(user id, anonymous id, event time µs) of the newest browser identify received
    since ``since_us`` with this session token, else since ``client_since_us`` from this
    address and User-Agent (as stored: the address under the project's ip policy)."""
    row = cur.execute(
        "SELECT user_id, anonymous_id, epoch_us(ts) FROM events "
        "WHERE project_id = ? AND type = 'identify' AND source = 'moesif-browser' "
        "AND user_id IS NOT NULL AND NOT hidden AND received_at >= make_timestamp(?) "
        "AND ((? IS NOT NULL AND json_extract_string(properties, '$.session_token') = ?) "
        "OR (received_at >= make_timestamp(?) AND json_extract_string(context, '$.userAgent') = ? "
        "AND json_extract_string(context, '$.ip') = ?)) "
        "ORDER BY (? IS NOT NULL AND json_extract_string(properties, '$.session_token') = ?) DESC, "
        "received_at DESC, seq DESC LIMIT 1",
        [project_id, since_us, session, session, client_since_us, user_agent, ip, session, session],
    ).fetchone()
    return (str(row[0]), row[1], int(row[2])) if row else None
