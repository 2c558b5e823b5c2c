"""moesif-browser-js 1.8.13, unmodified from npm, in real headless Chromium against a
real Threadline server (only its ``host`` option points at it), walking Moesif's
identification guide: anonymous actions and API calls, sign-up with identifyUser and
identifyCompany, the same user on a second device (merged, with batching on), a second
user on the same browser (not merged), and the sign-up → first API call funnel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.compat.helpers import person, timeline
from tests.compat.hosts import until
from tests.compat.site import Site, sdks_installed
from tests.conftest import CHROMIUM_ARGS, WRITE_KEY, LiveServer, chromium_path, require

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - reported by require() below
    sync_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

RESOLVE = "--host-resolver-rules=MAP *.test 127.0.0.1"
READY = "() => window.moesif && localStorage.getItem('moesif_anonymous_id')"


def snippet(server: LiveServer, batch: bool = False) -> str:
    host = server.url.removeprefix("http://")  # the SDK copies the page's scheme
    return ('<script src="/sdk/moesif.min.js"></script>\n'
            f'<script>moesif.init({{applicationId: "{WRITE_KEY}", host: "{host}", '
            f'batchEnabled: {str(batch).lower()}, batchMaxTime: 200}}); moesif.start();</script>')


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require(sync_playwright is not None, "playwright for Python is not installed")
    require(sdks_installed(), "run `npm ci` in tests/e2e/sdks for the browser SDKs")
    path = chromium_path()
    require(path is not None, "chromium is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, RESOLVE])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def sites(shared_server: LiveServer) -> Iterator[dict[str, Site]]:
    out = {"plain": Site(snippet(shared_server), host="app.api.test").start(),
           "batch": Site(snippet(shared_server, batch=True), host="batch.api.test").start()}
    yield out
    for s in out.values():
        s.stop()


@dataclass
class Device:
    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_function(READY)

    def click(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)
        self.page.wait_for_function(READY)

    def js(self, script: str) -> Any:
        return self.page.evaluate(script)

    def api(self, path: str) -> None:
        """A call of the site's own API, which the SDK captures as an API-call event."""
        assert self.js(f"() => fetch('{path}').then(r => r.status)") == 200

    def anonymous_id(self) -> str:
        return str(self.js("() => localStorage.getItem('moesif_anonymous_id')"))


@pytest.fixture
def devices(browser: Browser) -> Iterator[Callable[[], Device]]:
    opened: list[Device] = []

    def open_device() -> Device:
        context = browser.new_context()
        d = Device(context, context.new_page())
        d.page.on("pageerror", lambda e: d.console.append(f"pageerror: {e}"))
        opened.append(d)
        return d

    yield open_device
    for d in opened:
        assert not d.console, d.console
        d.context.close()


def visible(server: LiveServer, n: int, **ident: str) -> list[dict[str, Any]]:
    """Wait until the person holding ``ident`` shows at least ``n`` events; its timeline."""
    def probe() -> list[dict[str, Any]] | None:
        with server.query() as q:
            r = q.get("/api/v1/persons/lookup", params=ident)
        events = timeline(server, r.json()["id"]) if r.status_code == 200 else []
        return events if len(events) >= n else None
    return until(probe, f"{n} events of {ident}")


def test_the_identification_guide_end_to_end(
        shared_server: LiveServer, sites: dict[str, Site], devices: Callable[[], Device]) -> None:
    site = sites["plain"]
    laptop = devices()
    laptop.visit(site.url("index.html?utm_source=google&utm_campaign=launch"))
    anon = laptop.anonymous_id()
    laptop.js("() => moesif.track('Viewed Landing', {button: 'hero'})")
    laptop.api("/api/items?page=1")
    visible(shared_server, 2, anonymous_id=anon)
    laptop.click("#pricing")
    laptop.js("() => moesif.track('Viewed Pricing')")
    before = visible(shared_server, 3, anonymous_id=anon)
    assert {e["event"] for e in before} == {"Viewed Landing", "API Call", "Viewed Pricing"}
    assert all(e["user_id"] is None and e["source"] == "moesif-browser" for e in before)

    # Sign up: identifyUser links the anonymous id; identifyCompany and later calls the company.
    laptop.click("#signup")
    laptop.js("() => moesif.identifyUser('mb-u1', {email: 'u1@api.test', first_name: 'Mo'})")
    laptop.js("() => moesif.identifyCompany('mb-co', {name: 'Moesif Co', plan: 'growth'})")
    visible(shared_server, 4, user_id="mb-u1")
    laptop.js("() => moesif.track('Signed Up', {plan: 'growth'})")
    # Stored before the next call starts, so the call is strictly later on the timeline
    # (the same millisecond would order the two by message id).
    visible(shared_server, 5, user_id="mb-u1")
    laptop.api("/api/me")
    events = visible(shared_server, 6, user_id="mb-u1")
    assert [e["event"] for e in events[3:]] == [None, "Signed Up", "API Call"]
    assert events[3]["type"] == "identify"
    call = events[-1]
    assert call["user_id"] == "mb-u1" and call["properties"]["route"] == "/api/me"
    assert call["properties"]["status"] == 200 and call["properties"]["method"] == "GET"
    p = person(shared_server, user_id="mb-u1")
    assert p["anonymous_ids"] == [anon] and p["traits"] == {"email": "u1@api.test", "first_name": "Mo"}
    until(lambda: person(shared_server, user_id="mb-u1")["companies"], "the company membership")
    company = person(shared_server, user_id="mb-u1")["companies"][0]  # type: ignore[index]
    assert company["id"] == "mb-co" and company["traits"] == {"name": "Moesif Co", "plan": "growth"}

    # The same user on a second device (batching on): merged into one person.
    phone = devices()
    phone.visit(sites["batch"].url("features.html"))
    anon2 = phone.anonymous_id()
    phone.js("() => moesif.track('Opened App')")
    visible(shared_server, 1, anonymous_id=anon2)
    phone.js("() => moesif.identifyUser('mb-u1')")
    merged = until(lambda: (lambda x: x if len(x["anonymous_ids"]) == 2 else None)(
        person(shared_server, user_id="mb-u1")), "the second device merged")
    assert set(merged["anonymous_ids"]) == {anon, anon2} and merged["id"] == p["id"]
    assert "Opened App" in [e["event"] for e in timeline(shared_server, str(p["id"]))]

    # A second user on the first browser, without reset: not merged, the conflict recorded.
    laptop.js("() => moesif.identifyUser('mb-u2')")
    laptop.js("() => moesif.track('U2 Action')")
    u2 = visible(shared_server, 2, user_id="mb-u2")
    assert [e["event"] for e in u2] == [None, "U2 Action"]
    assert person(shared_server, user_id="mb-u2")["anonymous_ids"] == []
    assert person(shared_server, user_id="mb-u1")["id"] == p["id"]
    with shared_server.query() as q:
        conflicts = q.get(f"/api/v1/persons/{p['id']}/explain").json()["conflicts"]
        assert any("mb-u2" in (c["a"]["value"], c["b"]["value"]) for c in conflicts)

        # The funnel from sign-up to first API call counts this person once.
        funnel = q.post("/api/v1/insights/funnel", json={
            "steps": [{"event": "Signed Up"}, {"event": "API Call"}], "window": "P1D"}).json()
    assert [s["count"] for s in funnel["steps"]] == [1, 1]


def test_reset_gives_a_new_anonymous_id_that_only_the_next_user_gets(
        shared_server: LiveServer, sites: dict[str, Site], devices: Callable[[], Device]) -> None:
    d = devices()
    d.visit(sites["plain"].url("index.html"))
    first = d.anonymous_id()
    d.js("() => moesif.identifyUser('mb-r1')")
    visible(shared_server, 1, user_id="mb-r1")
    d.js("() => moesif.reset()")
    second = d.anonymous_id()
    assert second != first
    d.js("() => moesif.track('Browsing')")
    d.js("() => moesif.identifyUser('mb-r2')")
    visible(shared_server, 2, user_id="mb-r2")
    assert person(shared_server, user_id="mb-r1")["anonymous_ids"] == [first]
    assert person(shared_server, user_id="mb-r2")["anonymous_ids"] == [second]
