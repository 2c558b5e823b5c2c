"""What the tracker's browser tests share: a browser profile driving the test site
(``tests/e2e/site``), and reading the outcome back through the query API.

Nothing sleeps: each step waits on a condition (the tracker loaded,
``threadline.flush()`` resolved, the server answering what is expected before a
deadline). The fixtures that open profiles and serve the site are in
``tests/e2e/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tests.compat.hosts import until
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

T = TypeVar("T")


@dataclass
class Profile:
    """A browser profile (its own cookies and storage) with one tab, recording what
    the page logs, what it throws and what it sends to the collector."""

    context: BrowserContext
    page: Page
    folder: Path
    name: str
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def ready(self) -> None:
        """Wait until the tracker has loaded on the current page."""
        self.page.wait_for_function("() => window.threadline && window.threadline.version")

    def flush(self) -> bool:
        """Wait until the tracker has delivered its queue (True) or failed to (False)."""
        return bool(self.page.evaluate("() => threadline.flush()"))

    def visit(self, url: str) -> str:
        """Load ``url``, wait for the tracker and its deliveries; the anonymous id."""
        self.page.goto(url)
        return self.settle()

    def settle(self) -> str:
        self.ready()
        assert self.flush(), self.log_text()
        return str(self.page.evaluate("() => threadline.anonymousId()"))

    def click_and_settle(self, selector: str, url_glob: str) -> str:
        """Click a link or button that navigates, then wait for the next page."""
        self.page.click(selector)
        self.page.wait_for_url(url_glob)
        return self.settle()

    def storage(self) -> dict[str, str]:
        return dict(self.page.evaluate("() => Object.assign({}, localStorage)"))

    def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.context.cookies()}

    def shot(self, step: str) -> None:
        """A screenshot of the page, debug panel included, saved as a test artifact."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.folder / f"{self.name}-{step}.png"))

    def log_text(self) -> str:
        return "\n".join(self.console)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll ``probe`` until it answers something truthy, or fail after ``timeout``."""
    return until(probe, what, timeout)


def lookup(server: LiveServer, **ident: str) -> dict[str, Any] | None:
    with server.query() as q:
        r = q.get("/api/v1/persons/lookup", params=ident)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    person: dict[str, Any] = r.json()
    return person


def events_of(server: LiveServer, person_id: str) -> list[dict[str, Any]]:
    with server.query() as q:
        r = q.get(f"/api/v1/persons/{person_id}/events", params={"limit": 500})
    r.raise_for_status()
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def person_with(server: LiveServer, count: int, **ident: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Wait until the person holding ``ident`` has ``count`` events; the person and
    its timeline."""

    def probe() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        person = lookup(server, **ident)
        if person is None:
            return None
        events = events_of(server, person["id"])
        return (person, events) if len(events) >= count else None

    person, events = wait_for(f"{count} events of {ident}", probe)
    assert len(events) == count, summary(events)
    return person, events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """Each event as (type, path of a page view or event name)."""
    return [
        (e["type"], e["properties"].get("path") if e["type"] == "page" else e["event"])
        for e in events
    ]


def messages(prof: Profile) -> list[dict[str, Any]]:
    return [m for body in prof.sent for m in body["batch"]]


def login(p: Profile, user: str) -> str:
    p.click_and_settle("nav >> text=Log in", "**/login.html")
    p.page.fill("input[name=user]", user)
    return p.click_and_settle("button[type=submit]", "**/app.html")
