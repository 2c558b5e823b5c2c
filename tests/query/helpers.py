"""Helpers for the query-API tests: sending Segment-spec batches and reading answers."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.conftest import WRITE_KEY

_ids = itertools.count()


def msg(type_: str, when: str, *, anon: str | None = None, user: str | None = None,
        mid: str | None = None, **fields: Any) -> dict[str, Any]:
    """One Segment-spec message timed at ``when`` (ISO 8601, UTC)."""
    out: dict[str, Any] = {"type": type_, "timestamp": when,
                           "messageId": mid or f"qm-{next(_ids)}-{type_}"}
    if anon is not None:
        out["anonymousId"] = anon
    if user is not None:
        out["userId"] = user
    out.update(fields)
    return out


def send(client: httpx.Client, *messages: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/batch with the write key; asserts every message was accepted."""
    r = client.post("/v1/batch", json={"batch": list(messages)}, auth=(WRITE_KEY, ""))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["rejected"] == [], body
    return body


def get(client: httpx.Client, path: str, status: int = 200, **params: Any) -> Any:
    """GET a query-API path and check the status; returns the JSON body."""
    r = client.get(path, params={k: v for k, v in params.items() if v is not None})
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()


def all_pages(client: httpx.Client, path: str, **params: Any) -> list[Any]:
    """Every item of a paginated list, following next_cursor."""
    items: list[Any] = []
    cursor = None
    for _ in range(1000):
        body = get(client, path, cursor=cursor, **params)
        assert set(body) == {"data", "next_cursor"}
        items += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")
