"""Keyset pagination: opaque cursors and the ``{"data", "next_cursor"}`` answer.

A cursor is the sort key of the last item of a page, as url-safe base64 of JSON.
Keyset (rather than offset) pages stay correct while events keep arriving: a new
event never shifts an item onto the next page twice.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from threadline.query.params import invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# Every integer this API puts in a cursor (a time in µs, a row id) is far smaller: a
# larger one is not a cursor it issued, and would overflow the timestamp it is compared
# with in SQL.
MAX_CURSOR_INT = 2**53 - 1
T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """How many items to answer and the sort key to continue after (None: first page)."""

    limit: int = DEFAULT_LIMIT
    after: list[Any] | None = None


def encode_cursor(key: Sequence[Any]) -> str:
    """The opaque cursor of a sort key (a short list of JSON scalars)."""
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str, shape: Sequence[type]) -> list[Any]:
    """The sort key inside ``cursor``, checked against the expected element types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid("cursor", "not a cursor this API issued") from None
    if not isinstance(key, list) or len(key) != len(shape):
        raise invalid("cursor", "not a cursor of this list")
    for value, typ in zip(key, shape, strict=True):
        # Issued keys never hold null: a null would meet Python and SQL comparisons
        # that cannot order it.
        if not isinstance(value, typ) or isinstance(value, bool):
            raise invalid("cursor", "not a cursor of this list")
        if isinstance(value, int) and not -MAX_CURSOR_INT <= value <= MAX_CURSOR_INT:
            raise invalid("cursor", "not a cursor this API issued")
    return key


def page_request(params: Mapping[str, Any], shape: Sequence[type]) -> PageRequest:
    """``limit`` (1..1000, default 50) and ``cursor`` from the query string."""
    raw = params.get("limit")
    limit = DEFAULT_LIMIT
    if raw not in (None, ""):
        try:
            limit = int(str(raw))
        except ValueError:
            raise invalid("limit", "must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    cursor = params.get("cursor")
    after = decode_cursor(str(cursor), shape) if cursor else None
    return PageRequest(limit, after)


def page(rows: Sequence[T], req: PageRequest, key: Callable[[T], Sequence[Any]]) -> tuple[list[T], str | None]:
    """Cut ``rows`` (fetched with ``limit + 1``) to one page and its next cursor."""
    items = list(rows[: req.limit])
    more = len(rows) > req.limit
    return items, (encode_cursor(key(items[-1])) if more and items else None)


def answer(data: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """Every list response: ``{"data": [...], "next_cursor": ...}``."""
    return {"data": data, "next_cursor": next_cursor}
