"""The browser tracker end to end: real headless Chromium, a real Threadline server,
and the multi-page test site in ``tests/e2e/site`` served on loopback origins.

Every test drives the site like a visitor (clicks, forms, navigation) and then reads
the outcome through the query API. Nothing sleeps: each step waits on a condition
(the tracker loaded, ``threadline.flush()`` resolved, the server answering what is
expected before a deadline). Screenshots with the tracker's debug panel and each
page's console output are saved under ``test-artifacts/tracker/``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    LiveServer,
    chromium_path,
    require,
    start_server,
)
from tests.e2e.site.serve import Site

try:
    from playwright.sync_api import Browser, BrowserContext, Page, Request, sync_playwright
except ImportError:  # pragma: no cover - reported by require() below
    sync_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "tracker"
RESOLVER_RULES = "--host-resolver-rules=MAP *.acme.test 127.0.0.1"
T = TypeVar("T")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium (Debian's, never a downloaded build) for the module."""
    require(sync_playwright is not None, "playwright for Python is not installed")
    path = chromium_path()
    require(path is not None, "chromium is not installed")
    with sync_playwright() as p:
        # *.acme.test names loopback, for subdomains sharing a cookie domain.
        b = p.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, RESOLVER_RULES])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module", autouse=True)
def tracker_served(shared_server: LiveServer) -> None:
    """Fail fast, and say why, when the server does not serve the tracker."""
    r = httpx.get(shared_server.url + "/t.js")
    if r.status_code != 200:
        pytest.fail(f"GET /t.js answered {r.status_code}: mount threadline.tracker.routes in app.py")


@pytest.fixture
def site(shared_server: LiveServer) -> Iterator[Site]:
    """The test site on 127.0.0.1 with the tracker installed, debug panel on."""
    s = Site(shared_server.url, shared_server.write_key, {"debug": ""}).start()
    try:
        yield s
    finally:
        s.stop()


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


@pytest.fixture
def profiles(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Profile]]:
    """Open fresh browser profiles; on teardown save their console output and check
    that the tracker never threw into a page."""
    opened: list[Profile] = []
    test = request.node.name.removeprefix("test_")

    def open_profile(label: str) -> Profile:
        context = browser.new_context()
        page = context.new_page()
        prof = Profile(context, page, SHOTS / test, label)

        def on_request(r: Request) -> None:
            if r.url.endswith("/v1/batch") and r.method == "POST" and r.post_data:
                prof.sent.append(json.loads(r.post_data))

        page.on("console", lambda m: prof.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: prof.errors.append(str(e)))
        page.on("request", on_request)
        opened.append(prof)
        return prof

    yield open_profile
    for prof in opened:
        prof.folder.mkdir(parents=True, exist_ok=True)
        (prof.folder / f"{prof.name}.console.log").write_text(prof.log_text() + "\n")
        prof.context.close()
    for prof in opened:
        assert prof.errors == [], f"errors thrown in {prof.name}: {prof.errors}"


# --------------------------------------------------------------------------- helpers


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll ``probe`` until it answers something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.05)  # polling the server for a condition, not timing a result
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


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


# --------------------------------------------------------------------------- tests


def test_usermaven_procedure_one_timeline(profiles: Callable[[str], Profile], site: Site,
                                          shared_server: LiveServer) -> None:
    """Usermaven's testing procedure: a new profile browses three pages, signs up,
    browses two more; the person's timeline holds all of it, in order."""
    p = profiles("visitor")
    aid = p.visit(site.url("index.html"))
    assert p.click_and_settle("nav >> text=Features", "**/features.html") == aid
    assert p.click_and_settle("nav >> text=Sign up", "**/signup.html") == aid
    p.page.fill("input[name=email]", "ada@acme.test")
    p.shot("signup-form")
    p.click_and_settle("button[type=submit]", "**/app.html")
    assert p.click_and_settle("nav >> text=Settings", "**/settings.html") == aid
    p.shot("after-signup")

    person, events = person_with(shared_server, 7, user_id="ada@acme.test")
    assert summary(events) == [
        ("page", "/index.html"),
        ("page", "/features.html"),
        ("page", "/signup.html"),
        ("identify", None),
        ("track", "Signed Up"),
        ("page", "/app.html"),
        ("page", "/settings.html"),
    ]
    assert person["anonymous_ids"] == [aid]
    assert person["user_ids"] == ["ada@acme.test"]
    assert person["is_identified"] is True
    assert person["traits"]["email"] == "ada@acme.test"
    assert lookup(shared_server, anonymous_id=aid)["id"] == person["id"]  # type: ignore[index]
    # Pre-signup events are anonymous; from the identify on they carry the user.
    assert [e["user_id"] for e in events] == [None] * 3 + ["ada@acme.test"] * 4
    assert all(e["anonymous_id"] == aid and e["source"] == "tracker" for e in events)
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    features = events[1]
    assert features["properties"]["referrer"] == site.url("index.html")
    ctx = features["context"]
    assert ctx["library"] == {"name": "threadline.js", "version": "0.1.0"}
    assert ctx["page"]["title"].startswith("Features")
    assert ctx["screen"]["width"] > 0 and ctx["locale"] and ctx["timezone"] and ctx["userAgent"]
    # The cookie is first-party, a year long, SameSite=Lax; localStorage holds a copy.
    cookie = next(c for c in p.context.cookies() if c["name"] == "tl_aid")
    assert cookie["value"] == aid and cookie["sameSite"] == "Lax"
    assert cookie["expires"] - time.time() > 364 * 86400
    assert p.storage()["tl_aid"] == aid
    assert "tl_q" not in p.storage()  # delivered, so nothing left queued


def test_same_user_on_two_profiles_is_one_person(profiles: Callable[[str], Profile], site: Site,
                                                 shared_server: LiveServer) -> None:
    """The same user logging in from a second browser profile: one person, two
    anonymous ids."""
    ids = []
    for label, first in (("laptop", "index.html"), ("phone", "pricing.html")):
        p = profiles(label)
        ids.append(p.visit(site.url(first)))
        p.click_and_settle("nav >> text=Log in", "**/login.html")
        p.page.fill("input[name=user]", "grace")
        p.click_and_settle("button[type=submit]", "**/app.html")
        p.shot("logged-in")
    assert ids[0] != ids[1]

    person, events = person_with(shared_server, 10, user_id="grace")
    assert sorted(person["anonymous_ids"]) == sorted(ids)
    assert person["user_ids"] == ["grace"]
    for aid in ids:
        assert lookup(shared_server, anonymous_id=aid)["id"] == person["id"]  # type: ignore[index]
    assert {e["anonymous_id"] for e in events} == set(ids)


def login(p: Profile, user: str) -> str:
    p.click_and_settle("nav >> text=Log in", "**/login.html")
    p.page.fill("input[name=user]", user)
    return p.click_and_settle("button[type=submit]", "**/app.html")


def test_shared_browser_with_reset_keeps_people_apart(profiles: Callable[[str], Profile], site: Site,
                                                      shared_server: LiveServer) -> None:
    """User A logs in, logs out (reset), user B logs in on the same browser: two
    persons, nothing mixed."""
    p = profiles("shared")
    first = p.visit(site.url("index.html"))
    assert login(p, "alan") == first
    second = p.click_and_settle("#logout", "**/index.html")
    assert second != first, "reset must start a new visitor"
    assert p.page.evaluate("() => threadline.userId()") is None
    assert p.cookies()["tl_aid"] == second and "tl_uid" not in p.cookies()
    assert login(p, "barbara") == second
    p.shot("second-user")

    # alan: page, login page, identify, Logged In, app page, Logged Out.
    alan, alan_events = person_with(shared_server, 6, user_id="alan")
    # barbara: the page after the reset, login page, identify, Logged In, app page.
    barbara, barbara_events = person_with(shared_server, 5, user_id="barbara")
    assert alan["id"] != barbara["id"]
    assert alan["anonymous_ids"] == [first] and alan["user_ids"] == ["alan"]
    assert barbara["anonymous_ids"] == [second] and barbara["user_ids"] == ["barbara"]
    assert {e["user_id"] for e in alan_events} <= {None, "alan"}
    assert {e["user_id"] for e in barbara_events} <= {None, "barbara"}
    assert summary(alan_events)[-1] == ("track", "Logged Out")
    assert summary(barbara_events)[0] == ("page", "/index.html")
    assert barbara_events[0]["user_id"] is None


def test_shared_browser_without_reset_records_a_conflict(
    profiles: Callable[[str], Profile], site: Site, shared_server: LiveServer
) -> None:
    """The site forgets to call reset: B's identify on A's anonymous id is refused as
    a conflict (identity.md), recorded, and nobody's history is mixed."""
    p = profiles("shared-noreset")
    aid = p.visit(site.url("index.html"))
    login(p, "carol")
    assert p.click_and_settle("#logout-noreset", "**/index.html") == aid
    assert login(p, "dave") == aid
    p.shot("second-user-no-reset")

    # carol: page, login page, identify, Logged In, app page, Logged Out, then the home
    # page and login page that still carried her user id (no reset).
    carol, carol_events = person_with(shared_server, 8, user_id="carol")
    # dave: identify, Logged In, app page: his through their user id.
    dave, dave_events = person_with(shared_server, 3, user_id="dave")
    assert carol["id"] != dave["id"]
    assert carol["anonymous_ids"] == [aid] and carol["user_ids"] == ["carol"]
    assert dave["anonymous_ids"] == [] and dave["user_ids"] == ["dave"]
    assert summary(dave_events) == [("identify", None), ("track", "Logged In"), ("page", "/app.html")]
    assert {e["user_id"] for e in carol_events} == {None, "carol"}

    def conflict() -> list[dict[str, Any]] | None:
        found = []
        for person in (carol, dave):
            with shared_server.query() as q:
                explain = q.get(f"/api/v1/persons/{person['id']}/explain").json()
            for c in explain["conflicts"]:
                if {"carol", "dave"} <= set(c["a_user_ids"]) | set(c["b_user_ids"]):
                    found.append(c)
        return found or None

    conflicts = wait_for("the conflict in explain", conflict)
    assert conflicts[0]["edge"] == "identified"
    sides = {(conflicts[0]["a"]["kind"], conflicts[0]["a"]["value"]),
             (conflicts[0]["b"]["kind"], conflicts[0]["b"]["value"])}
    assert sides == {("anonymous", aid), ("user", "dave")}


def test_cleared_cookie_or_storage_keeps_the_visitor(profiles: Callable[[str], Profile], site: Site,
                                                     shared_server: LiveServer) -> None:
    """The cookie cleared mid-session (localStorage kept), then the reverse: the
    same visitor throughout, and each copy is restored from the other."""
    p = profiles("cleared")
    aid = p.visit(site.url("index.html"))
    login(p, "edith")

    p.context.clear_cookies()
    assert p.cookies() == {}
    assert p.visit(site.url("features.html")) == aid
    assert p.cookies()["tl_aid"] == aid and p.cookies()["tl_uid"] == "edith"

    p.page.evaluate("() => localStorage.clear()")
    assert p.visit(site.url("pricing.html")) == aid
    assert p.storage()["tl_aid"] == aid and p.storage()["tl_uid"] == "edith"
    assert p.page.evaluate("() => threadline.userId()") == "edith"
    p.shot("restored")

    # index, login page, identify, Logged In, app page, features, pricing.
    person, events = person_with(shared_server, 7, anonymous_id=aid)
    assert person["anonymous_ids"] == [aid] and person["user_ids"] == ["edith"]
    assert [e["user_id"] for e in events[-2:]] == ["edith", "edith"]


def test_cookie_domain_shares_the_visitor_across_subdomains(
    profiles: Callable[[str], Profile], shared_server: LiveServer
) -> None:
    """``data-cookie-domain="auto"``: www. and app. of one domain share the visitor."""
    site = Site(shared_server.url, shared_server.write_key, {"cookie-domain": "auto", "debug": ""},
                host="www.acme.test").start()
    try:
        p = profiles("subdomains")
        aid = p.visit(site.url("index.html"))
        assert p.visit(f"http://app.acme.test:{site.port}/app.html") == aid
        p.shot("app-subdomain")
        cookie = next(c for c in p.context.cookies() if c["name"] == "tl_aid")
        assert cookie["domain"] == ".acme.test" and cookie["value"] == aid
        assert not [c for c in p.context.cookies() if c["name"] == "tl_probe"]
        _, events = person_with(shared_server, 2, anonymous_id=aid)
        assert [e["context"]["page"]["url"].split("/")[2].split(":")[0] for e in events] == [
            "www.acme.test", "app.acme.test"]
    finally:
        site.stop()


def test_cookieless_mode(profiles: Callable[[str], Profile], tmp_path: Path) -> None:
    """Cookieless: nothing is written to the browser; two page loads the same day are
    one visitor (the server's daily salted hash); identify links the user to it."""
    server = start_server(tmp_path / "data", extra_env={"THREADLINE_FIXED_DAY": "2026-01-15"})
    site = Site(server.url, server.write_key, {"cookieless": "", "debug": ""}).start()
    try:
        p = profiles("cookieless")

        def nothing_stored() -> None:
            assert p.context.cookies() == []
            assert p.page.evaluate("() => document.cookie") == ""
            assert p.page.evaluate("() => localStorage.length + sessionStorage.length") == 0

        assert p.visit(site.url("index.html")) == "None"  # no client id at all
        nothing_stored()
        p.visit(site.url("pricing.html"))
        nothing_stored()
        p.click_and_settle("nav >> text=Sign up", "**/signup.html")
        p.page.fill("input[name=email]", "hedy@acme.test")
        p.click_and_settle("button[type=submit]", "**/app.html")
        # Nothing is stored, so a call made just before leaving can only go by beacon.
        p.page.evaluate("""() => {
            threadline.track("Leaving", {how: "beacon"});
            location.href = "/settings.html";
        }""")
        p.page.wait_for_url("**/settings.html")
        p.settle()
        nothing_stored()
        p.shot("cookieless")

        sent = messages(p)
        assert sent and all("anonymousId" not in m and m["context"]["cookieless"] is True for m in sent)
        assert all(m["context"]["page"]["url"].startswith(site.origin) for m in sent)

        # index, pricing, signup pages, identify, Signed Up, app page, Leaving, settings.
        person, events = person_with(server, 8, user_id="hedy@acme.test")
        visitor = person["anonymous_ids"]
        assert len(visitor) == 1 and visitor[0].startswith("cv_"), person
        assert {e["anonymous_id"] for e in events} == set(visitor)
        assert summary(events)[:2] == [("page", "/index.html"), ("page", "/pricing.html")]
        # (A beacon's clock-skew correction uses its own latency: the last two may swap.)
        assert sorted(summary(events)[-2:]) == [("page", "/settings.html"), ("track", "Leaving")]
        assert all(e["context"]["cookieless"] is True for e in events)
    finally:
        site.stop()
        server.stop()

    # The next day (same data, the injected clock moved on) the visitor is a new one.
    server = start_server(tmp_path / "data", extra_env={"THREADLINE_FIXED_DAY": "2026-01-16"})
    site = Site(server.url, server.write_key, {"cookieless": ""}).start()
    try:
        p.visit(site.url("index.html"))
        with server.query() as q:
            pages = q.get("/api/v1/events", params={"type": "page", "limit": 100}).json()["data"]
        next_day = {e["anonymous_id"] for e in pages} - set(visitor)
        assert len(next_day) == 1 and next(iter(next_day)).startswith("cv_")
    finally:
        site.stop()
        server.stop()


def test_cross_domain_visitor_is_one_person(profiles: Callable[[str], Profile], browser: Browser,
                                            shared_server: LiveServer) -> None:
    """A visitor followed from site A (127.0.0.1) to site B (localhost) through a
    decorated link is one person; B records the link, strips the parameter, and an
    expired link is not honoured."""
    a = Site(shared_server.url, shared_server.write_key, {"cross-domain": "localhost", "debug": ""})
    b = Site(shared_server.url, shared_server.write_key, {"cross-domain": "127.0.0.1", "debug": ""},
             host="localhost")
    a.start()
    b.start()
    a.other, b.other = b.origin, a.origin
    try:
        p = profiles("cross-domain")
        aid_a = p.visit(a.url("index.html"))
        helper = p.page.evaluate("(u) => threadline.linkTo(u)", b.url("features.html"))
        assert f"_tlid={aid_a}." in helper
        p.shot("site-a")
        aid_b = p.click_and_settle("#partner-pricing", f"{b.origin}/pricing.html*")
        assert aid_b != aid_a  # another site, another first-party cookie
        assert "_tlid" not in p.page.url and "utm_source=acme" in p.page.url
        p.shot("site-b-landing")
        login(p, "ida")
        p.shot("site-b")

        person, events = person_with(shared_server, 6, user_id="ida")
        assert sorted(person["anonymous_ids"]) == sorted([aid_a, aid_b])
        assert lookup(shared_server, anonymous_id=aid_a)["id"] == person["id"]  # type: ignore[index]
        landing = events[1]
        assert landing["anonymous_id"] == aid_b
        assert landing["context"]["linked_anonymous_id"] == aid_a
        assert landing["properties"]["url"] == b.url("pricing.html?utm_source=acme&utm_campaign=partner")
        assert landing["context"]["campaign"] == {"source": "acme", "name": "partner"}

        # A stale link (a shared URL, say) links nobody.
        q = profiles("stale-link")
        q.visit(b.url("features.html?_tlid=someone-else.1"))
        assert "_tlid" not in q.page.url
        assert all("linked_anonymous_id" not in m["context"] for m in messages(q))
    finally:
        a.stop()
        b.stop()


def test_offline_then_back_events_arrive_once(profiles: Callable[[str], Profile], site: Site,
                                              shared_server: LiveServer) -> None:
    """Offline for a while, then back: queued events arrive once. The queue also
    survives a reload while the collector is unreachable."""
    p = profiles("offline")
    aid = p.visit(site.url("index.html"))

    p.context.set_offline(True)
    p.page.click("#cta")
    p.page.click("#cta")
    assert p.flush() is False
    queued = json.loads(p.storage()["tl_q"])
    assert [m["event"] for m in queued] == ["Clicked CTA", "Clicked CTA"]
    p.shot("offline")
    p.context.set_offline(False)  # the browser's "online" event makes the tracker send
    _, events = person_with(shared_server, 3, anonymous_id=aid)
    assert {e["id"] for e in events if e["type"] == "track"} == {m["messageId"] for m in queued}

    # The collector unreachable across a reload: the stored queue is sent afterwards.
    p.page.route("**/v1/batch", lambda route: route.abort())
    p.page.click("#cta")
    assert p.flush() is False
    pending = json.loads(p.storage()["tl_q"])
    p.page.reload()
    p.ready()
    p.page.wait_for_function("() => JSON.parse(localStorage.tl_q || '[]').length >= 2")
    p.page.unroute("**/v1/batch")
    # A send that started before the unroute may still fail: wait for a flush that succeeds.
    wait_for("the queue delivered", p.flush)
    p.shot("back-online")
    # index, two clicks, the click before the reload, the reloaded page.
    _, events = person_with(shared_server, 5, anonymous_id=aid)
    assert [e["type"] for e in events].count("track") == 3
    assert pending[0]["messageId"] in {e["id"] for e in events}
    assert len({e["id"] for e in events}) == 5
    assert "tl_q" not in p.storage()
    # The click was sent more than once (failed, resent after the reload) and stored once.
    assert [m["messageId"] for m in messages(p)].count(pending[0]["messageId"]) >= 2


def test_single_page_app_navigation(profiles: Callable[[str], Profile], site: Site,
                                    shared_server: LiveServer) -> None:
    """pushState, replaceState, popstate and hash changes each make one page view; a
    replaceState that keeps the URL makes none. A call made before the script loaded
    (queued by the stub) is delivered first."""
    p = profiles("spa")
    aid = p.visit(site.url("spa.html"))
    for button, url in (("#push", "/spa/a"), ("#replace", "/spa/b"), ("#back", "/spa.html"),
                        ("#same", "/spa.html"), ("#hash", "/spa.html#pricing")):
        if button == "#same":
            p.page.click(button)  # no page view expected; the summary below checks it
            continue
        # The tracker logs each page view it takes (data-debug): wait for that one.
        with p.page.expect_console_message(lambda m: m.text.startswith("[threadline] page")):
            p.page.click(button)
        assert p.page.evaluate("() => location.pathname + location.hash") == url
    assert p.flush()
    p.shot("spa")

    _, events = person_with(shared_server, 6, anonymous_id=aid)
    assert summary(events) == [
        ("track", "SPA Loaded"),
        ("page", "/spa.html"),
        ("page", "/spa/a"),
        ("page", "/spa/b"),
        ("page", "/spa.html"),
        ("page", "/spa.html"),
    ]
    assert events[0]["properties"] == {"early": True}
    assert events[2]["properties"]["referrer"] == site.url("spa.html")
    assert events[5]["properties"]["url"] == site.url("spa.html#pricing")


def test_privacy_signals_and_opt_out(profiles: Callable[[str], Profile], browser: Browser,
                                     shared_server: LiveServer) -> None:
    """With data-respect-dnt, Global Privacy Control (or Do Not Track) means nothing
    is sent or stored; optOut() stops a tracking page and forgets the visitor."""
    dnt_site = Site(shared_server.url, shared_server.write_key, {"respect-dnt": "", "debug": ""}).start()
    try:
        gpc = profiles("gpc")
        gpc.context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
        )
        gpc.visit(dnt_site.url("index.html"))
        gpc.page.click("#cta")
        assert gpc.flush() is True
        gpc.shot("gpc")
        assert gpc.sent == [] and gpc.context.cookies() == []
        assert gpc.page.evaluate("() => localStorage.length") == 0
    finally:
        dnt_site.stop()

    plain = Site(shared_server.url, shared_server.write_key, {"debug": ""}).start()
    try:
        p = profiles("opt-out")
        aid = p.visit(plain.url("index.html"))
        p.page.evaluate("() => threadline.optOut()")
        p.page.click("#cta")
        p.visit(plain.url("features.html"))
        p.shot("opted-out")
        assert [m["type"] for m in messages(p)] == ["page"]  # only the first page view
        assert "tl_aid" not in p.cookies() and p.storage() == {"tl_optout": "1"}
        person, _ = person_with(shared_server, 1, anonymous_id=aid)
        assert person["event_count"] == 1
    finally:
        plain.stop()


def test_group_alias_and_leaving_the_page(profiles: Callable[[str], Profile], site: Site,
                                         shared_server: LiveServer) -> None:
    """group makes the person a member of the company, alias links a new user id; calls
    made just before leaving the page are delivered (beacon, then the next page's
    resend of the stored queue) and stored once."""
    p = profiles("group-alias")
    aid = p.visit(site.url("index.html"))
    p.page.evaluate("""() => {
        threadline.identify("kim", {name: "Kim"});
        threadline.group("kim-co", {name: "Kim & Co"});
        threadline.alias("kim-2");
        threadline.track("Leaving", {how: "beacon"});
        location.href = "/features.html";  // before the batch timer fires
    }""")
    p.page.wait_for_url("**/features.html")
    p.settle()
    p.shot("after-leaving")

    person, events = person_with(shared_server, 6, anonymous_id=aid)
    assert sorted(person["user_ids"]) == ["kim", "kim-2"]
    assert [c["id"] for c in person["companies"]] == ["kim-co"]
    assert summary(events)[:4] == [("page", "/index.html"), ("identify", None), ("group", None),
                                   ("alias", None)]
    # (A beacon's clock-skew correction uses its own latency: the last two may swap.)
    assert sorted(summary(events)[4:]) == [("page", "/features.html"), ("track", "Leaving")]


def test_never_throws_into_the_page(profiles: Callable[[str], Profile], site: Site,
                                    shared_server: LiveServer) -> None:
    """Storage that throws and calls with nonsense arguments: no error reaches the
    page, and the tracker still delivers (keeping the visitor in memory)."""
    p = profiles("hostile")
    p.context.add_init_script("""
        Object.defineProperty(window, "localStorage", {get() { throw new Error("denied"); }});
    """)
    aid = p.visit(site.url("index.html"))
    result = p.page.evaluate("""() => {
        const t = threadline;
        t.track(); t.track(null, 5); t.page(42, "x"); t.identify(undefined, null);
        t.group(); t.alias(); t.identify({plan: "free"});
        t.track("Odd Props", [1, 2]);
        return [t.linkTo("http://[bad"), typeof t.flush().then];
    }""")
    assert result == ["http://[bad", "function"]
    assert p.flush()
    assert p.page.evaluate("() => threadline.anonymousId()") == aid
    _, events = person_with(shared_server, 5, anonymous_id=aid)
    assert summary(events) == [("page", "/index.html"), ("page", "/index.html"),
                               ("identify", None), ("identify", None), ("track", "Odd Props")]
    assert events[1]["event"] == "42"
    assert lookup(shared_server, anonymous_id=aid)["traits"] == {"plan": "free"}  # type: ignore[index]


def test_auto_pageview_off(profiles: Callable[[str], Profile], shared_server: LiveServer) -> None:
    """``data-auto-pageview="false"``: no page view on load or navigation; page()
    sends one when the site says so."""
    quiet = Site(shared_server.url, shared_server.write_key,
                 {"auto-pageview": "false", "debug": ""}).start()
    try:
        p = profiles("manual-pages")
        aid = p.visit(quiet.url("spa.html"))
        p.page.click("#push")
        p.page.evaluate("() => threadline.page('Pricing', {plan_count: 3})")
        assert p.flush()
        _, events = person_with(shared_server, 2, anonymous_id=aid)
        assert summary(events) == [("track", "SPA Loaded"), ("page", "/spa/a")]
        assert events[1]["event"] == "Pricing" and events[1]["properties"]["plan_count"] == 3
    finally:
        quiet.stop()
