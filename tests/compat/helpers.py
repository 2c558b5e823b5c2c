"""Building the request facts a wire adapter sees, for adapter tests without a server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from tests.conftest import LiveServer
from threadline.collector.request_info import RequestInfo
from threadline.projects import ProjectSettings

SALT = b"s" * 32


def info(
    *,
    received: str | float = "2026-11-22T19:30:00Z",
    ip: str = "203.0.113.77",
    user_agent: str = "Mozilla/5.0 test",
    origin: str = "http://www.shop.test:8900",
    settings: ProjectSettings | None = None,
    query: Mapping[str, str] | None = None,
    message_limit: int = 32 * 1024,
) -> RequestInfo:
    """A RequestInfo received at ``received`` (ISO text or unix seconds)."""
    if isinstance(received, str):
        moment = dt.datetime.fromisoformat(received.replace("Z", "+00:00"))
    else:
        moment = dt.datetime.fromtimestamp(received, dt.UTC)
    return RequestInfo(
        project_id="p1",
        settings=settings or ProjectSettings(),
        received_at_us=int(moment.timestamp() * 1_000_000),
        ip=ip,
        user_agent=user_agent,
        origin=origin,
        day=moment.strftime("%Y-%m-%d"),
        salt=lambda day: SALT + day.encode(),
        query=query or {},
        message_limit=message_limit,
    )


def us(iso: str) -> int:
    """ISO 8601 text as UTC microseconds."""
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1_000_000)


def stored(server: LiveServer, **params: object) -> list[dict[str, object]]:
    """Events the query API lists (hidden ones included), newest first."""
    with server.query() as q:
        r = q.get("/api/v1/events", params={"limit": 1000, "include_hidden": "true", **params})
        assert r.status_code == 200, r.text
        return list(r.json()["data"])


def quarantined(server: LiveServer) -> list[dict[str, object]]:
    with server.query() as q:
        r = q.get("/api/v1/quarantine", params={"limit": 1000})
        assert r.status_code == 200, r.text
        return list(r.json()["data"])


def person(server: LiveServer, **lookup: str) -> dict[str, object]:
    """The person holding an identifier (``user_id=`` or ``anonymous_id=``)."""
    with server.query() as q:
        r = q.get("/api/v1/persons/lookup", params=lookup)
        assert r.status_code == 200, (lookup, r.text)
        return dict(r.json())


def timeline(server: LiveServer, person_id: str) -> list[dict[str, object]]:
    with server.query() as q:
        r = q.get(f"/api/v1/persons/{person_id}/events", params={"limit": 1000})
        assert r.status_code == 200, r.text
        return list(r.json()["data"])
