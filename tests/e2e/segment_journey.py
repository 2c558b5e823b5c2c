"""The journey every Segment-spec client test walks, and its check through the query API:
an anonymous page view, identify with traits, a track and a group call make one person
with those traits, the page view before the identify on its timeline, in order, and
the company linked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.compat.helpers import stored, timeline
from tests.compat.hosts import until
from tests.conftest import LiveServer

JOURNEY_TYPES = ["page", "identify", "track", "group"]


@dataclass(frozen=True)
class Journey:
    """The ids and values one client's journey uses (distinct per test on a shared server);
    ``anon`` is the anonymous id, the browser's own where the SDK makes one."""

    prefix: str
    anon: str = field(default="")

    def __post_init__(self) -> None:
        if not self.anon:
            object.__setattr__(self, "anon", f"{self.prefix}-anon")

    @property
    def user(self) -> str:
        return f"{self.prefix}-user"

    @property
    def company(self) -> str:
        return f"{self.prefix}-co"

    @property
    def traits(self) -> dict[str, Any]:
        return {"email": f"{self.prefix}@example.test", "plan": "pro"}

    @property
    def event(self) -> str:
        return "Signed Up"


def lookup(server: LiveServer, **ident: str) -> dict[str, Any] | None:
    with server.query() as q:
        r = q.get("/api/v1/persons/lookup", params=ident)
    return dict(r.json()) if r.status_code == 200 else None


def wait_events(server: LiveServer, n: int, **ident: str) -> list[dict[str, Any]]:
    """The timeline of the person holding ``ident`` once it has at least ``n`` events."""
    def probe() -> list[dict[str, Any]] | None:
        p = lookup(server, **ident)
        events = timeline(server, str(p["id"])) if p else []
        return events if len(events) >= n else None
    return until(probe, f"{n} events of {ident}")


def check_journey(server: LiveServer, j: Journey, user_traits: dict[str, Any] | None = None) -> dict[str, Any]:
    """Wait for the journey's four events and check the person they make; returns it."""
    events = wait_events(server, 4, user_id=j.user)
    p = until(lambda: (lambda x: x if x and x["companies"] else None)(lookup(server, user_id=j.user)),
              f"the company of {j.user}")
    assert p["user_ids"] == [j.user] and j.anon in p["anonymous_ids"], p
    assert p["traits"] == (user_traits if user_traits is not None else j.traits), p["traits"]
    assert [c["id"] for c in p["companies"]] == [j.company], p["companies"]
    assert [e["type"] for e in events] == JOURNEY_TYPES, events
    page = events[0]
    assert page["user_id"] is None and page["anonymous_id"] == j.anon  # before the identify
    assert events[2]["event"] == j.event
    # Only the journey's four messages were stored for these ids: no duplicates.
    mine = [e for e in stored(server) if e["user_id"] == j.user or e["anonymous_id"] == j.anon]
    assert len(mine) == 4, mine
    return p
