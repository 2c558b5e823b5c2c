"""File line numbers for the rejects of a ``threadline import`` batch.

``threadline import`` sends ``X-Threadline-Import-Lines``: the file line number of each
batch item, comma-separated. With it, a rejected item is quarantined (and answered)
under its file line and the quarantine row's source is ``import``, so ``threadline
quarantine`` names the line an operator can open in the file, not a position in a
request of 400 lines. A header that does not give one number per item is ignored.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.datastructures import Headers

from threadline.model import Parsed

HEADER = "x-threadline-import-lines"


def line_numbers(headers: Headers, items: int) -> list[int] | None:
    """The line number of each of ``items`` batch items, or None without a usable header."""
    raw = headers.get(HEADER)
    if not raw:
        return None
    parts = raw.split(",")
    if len(parts) != items or not all(p.strip().isdigit() for p in parts):
        return None
    return [int(p) for p in parts]


def by_line(parsed: Parsed, lines: list[int]) -> Parsed:
    """``parsed`` with each reject's index replaced by its file line number."""
    return Parsed(parsed.messages, [replace(r, index=lines[r.index]) if 0 <= r.index < len(lines) else r
                                    for r in parsed.rejected])
