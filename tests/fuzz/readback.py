"""Reading back what one example stored, through the query API only: the project's events
(hidden ones included), its quarantine, and the persons those events belong to."""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from tests.fuzz.harness import InProcess, Project

ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429})


@dataclass
class Stored:
    """A project's events and quarantine entries."""

    events: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]

    @property
    def event_ids(self) -> list[str]:
        return [str(e["id"]) for e in self.events]

    @property
    def rejected_indexes(self) -> list[int]:
        return sorted(int(q["index"]) for q in self.quarantine)


def _all(harness: InProcess, project: Project, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        r = harness.query(project, path, limit=1000, **({"cursor": cursor} if cursor else {}), **params)
        assert r.status_code == 200, (path, r.status_code, r.text[:2000])
        body = r.json()
        items += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{path}: pagination did not end")


def read_back(harness: InProcess, project: Project, persons: int = 3) -> Stored:
    """Everything the project holds, and every one of the first ``persons`` persons its
    events belong to read through the person, timeline and explain routes."""
    events = _all(harness, project, "/api/v1/events", include_hidden="true")
    quarantine = _all(harness, project, "/api/v1/quarantine")
    person_ids = list(dict.fromkeys(e["person_id"] for e in events if e.get("person_id")))
    for pid in person_ids[:persons]:
        for suffix in ("", "/events", "/explain"):
            r = harness.query(project, f"/api/v1/persons/{pid}{suffix}")
            assert r.status_code == 200, (pid, suffix, r.status_code, r.text[:2000])
    return Stored(events, quarantine)


def check_error(response: httpx.Response) -> None:
    """A 4xx answer is the documented JSON error; the Segment-compatible (native) routes
    repeat its code and message at the top level, where Segment's clients read them."""
    assert response.status_code in ERROR_STATUSES, response.status_code
    body = response.json()
    assert set(body) in ({"error"}, {"error", "code", "message"}), body
    assert isinstance(body["error"]["code"], str), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    if "code" in body:
        assert (body["code"], body["message"]) == (body["error"]["code"], body["error"]["message"]), body


def describe(route: str, raw: bytes, response: httpx.Response | None) -> str:
    """What a failing example sent and got, for the assertion message."""
    text = raw.decode("utf-8", "replace")
    if len(text) > 1500:
        text = f"{text[:1500]}... ({len(raw)} bytes)"
    got = f"{response.status_code} {response.text[:1500]}" if response is not None else "500 (raised)"
    return f"{route} <- {text}\n-> {got}"


class ServerError(AssertionError):
    """A 5xx answer: always a bug."""


@cache
def _server_error_class(status: int, message: str) -> type[ServerError]:
    name = f"Http{status}_" + re.sub(r"\W+", "_", message).strip("_")[:60]
    return type(name, (ServerError,), {})


def server_error(response: httpx.Response) -> type[ServerError]:
    """The exception to raise for a 5xx: one class per status and error message, so
    that Hypothesis reports each kind of server error as its own bug."""
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text[:80]
    return _server_error_class(response.status_code, message)


def crash_error(exc: Exception) -> type[ServerError]:
    """The exception to raise when the app itself raised (httpx's ASGI transport hands
    the app's exception over instead of its 500): one class per exception type and
    the Threadline line it came from."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/threadline/" in f.filename]
    where = f"{frames[-1].filename.rsplit('/threadline/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
    return _server_error_class(500, f"{type(exc).__name__} at {where}")
