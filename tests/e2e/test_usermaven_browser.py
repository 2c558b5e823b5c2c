"""Usermaven's browser SDK, unmodified from npm (@usermaven/sdk-js 1.5.15 as a script tag
and as an ES module, and the legacy 1.4.0 script), in real headless Chromium against a
real Threadline server: only ``data-tracking-host`` / ``trackingHost`` points at it.

Each test walks the guide's procedure with fresh browser profiles (browse, sign up,
browse more, a second device, a second user, cookieless mode, cross-domain links, the
browser + backend hybrid) and then reads the persons through the query API. Nothing
sleeps: every step waits until the server has the events it expects.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.compat.helpers import person, stored, timeline
from tests.compat.hosts import until
from tests.compat.site import Site, sdks_installed
from tests.conftest import CHROMIUM_ARGS, SECRET_KEY, WRITE_KEY, LiveServer, chromium_path, require

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - reported by require() below
    sync_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

COOKIE = f"__eventn_id_{WRITE_KEY}"
RESOLVE = "--host-resolver-rules=MAP *.test 127.0.0.1"
STUB = ("<script>window.usermaven = window.usermaven || (function () "
        "{ (window.usermavenQ = window.usermavenQ || []).push(arguments); });</script>")
READY = "() => window.usermavenScriptTagClient && window.usermavenScriptTagClient()"


def script_tag(server: LiveServer, src: str = "{origin}/sdk/usermaven/lib.js", **attrs: str) -> str:
    """The documented install: the queue stub and a deferred lib.js with data-* options."""
    data = {"key": WRITE_KEY, "tracking-host": server.url, **attrs}
    tags = "".join(f' data-{k}="{html.escape(v)}"' for k, v in data.items())
    return f'{STUB}\n<script defer src="{src}"{tags}></script>'


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


@dataclass
class Device:
    """One browser profile (its own cookies and storage) with one tab."""

    context: BrowserContext
    page: Page
    ready: str = READY
    console: list[str] = field(default_factory=list)

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_function(self.ready)

    def click(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)
        self.page.wait_for_function(self.ready)

    def call(self, method: str, *args: Any) -> Any:
        """``usermaven(method, ...args)``, awaiting the promise id/group/reset return."""
        return self.page.evaluate("([m, a]) => Promise.resolve(window.usermaven(m, ...a)).then(() => true)",
                                  [method, list(args)])

    def anonymous_id(self) -> str:
        return next(c["value"] for c in self.context.cookies() if c["name"] == COOKIE)


@pytest.fixture
def devices(browser: Browser) -> Iterator[Callable[..., Device]]:
    opened: list[Device] = []

    def open_device(ready: str = READY) -> Device:
        context = browser.new_context()
        device = Device(context, context.new_page(), ready)
        device.page.on("console", lambda m: device.console.append(m.text))
        device.page.on("pageerror", lambda e: device.console.append(f"pageerror: {e}"))
        opened.append(device)
        return device

    yield open_device
    for d in opened:
        assert not [m for m in d.console if m.startswith("pageerror")], d.console
        d.context.close()


@pytest.fixture
def make_site() -> Iterator[Callable[..., Site]]:
    sites: list[Site] = []

    def start(head: str, host: str = "www.shop.test", other: str = "") -> Site:
        site = Site(head, host=host, other=other).start()
        sites.append(site)
        return site

    yield start
    for s in sites:
        s.stop()


def lookup(server: LiveServer, **ident: str) -> dict[str, Any] | None:
    with server.query() as q:
        r = q.get("/api/v1/persons/lookup", params=ident)
    return dict(r.json()) if r.status_code == 200 else None


def delivered(server: LiveServer, n: int, **ident: str) -> list[dict[str, Any]]:
    """Wait until the person holding ``ident`` has at least ``n`` events; its timeline.

    The SDK's automatic ``$pageleave``/``$scroll`` events depend on when Chromium hides
    a page, so they are left out of both the count and the answer.
    """
    def probe() -> list[dict[str, Any]] | None:
        p = lookup(server, **ident)
        events = timeline(server, str(p["id"])) if p else []
        events = [e for e in events if not str(e["event"] or "").startswith("$")]
        return events if len(events) >= n else None
    return until(probe, f"{n} events of {ident}")


def test_visitor_browses_signs_up_and_a_second_device_of_the_same_user_merges(
        shared_server: LiveServer, devices: Callable[..., Device], make_site: Callable[..., Site]) -> None:
    site = make_site(script_tag(shared_server))
    laptop = devices()
    laptop.visit(site.url("index.html?utm_source=newsletter&utm_campaign=spring"))
    anon = laptop.anonymous_id()
    delivered(shared_server, 1, anonymous_id=anon)
    laptop.click("#pricing")
    delivered(shared_server, 2, anonymous_id=anon)
    laptop.click("#signup")
    delivered(shared_server, 3, anonymous_id=anon)
    laptop.call("id", {"id": "ub-u1", "email": "una@shop.test", "created_at": "2026-11-01T00:00:00Z",
                       "first_name": "Una", "company": {"id": "ub-co", "name": "Shop Co",
                                                        "created_at": "2025-01-01T00:00:00Z"}})
    laptop.call("track", "signed_up", {"plan": "pro"})
    delivered(shared_server, 5, anonymous_id=anon)
    laptop.click("#app")
    events = delivered(shared_server, 6, user_id="ub-u1")

    p = person(shared_server, user_id="ub-u1")
    assert p["anonymous_ids"] == [anon] and p["traits"]["first_name"] == "Una"  # type: ignore[index]
    assert [c["id"] for c in p["companies"]] == ["ub-co"]  # type: ignore[union-attr, index]
    assert [(e["type"], e["event"] or e["properties"].get("path")) for e in events] == [
        ("page", "/index.html"), ("page", "/pricing.html"), ("page", "/signup.html"),
        ("identify", None), ("track", "signed_up"), ("page", "/app.html")]
    assert events[0]["context"]["campaign"] == {"source": "newsletter", "name": "spring"}
    assert {e["source"] for e in events} == {"usermaven-browser"}

    phone = devices()
    phone.visit(site.url("features.html"))
    anon2 = phone.anonymous_id()
    assert anon2 != anon
    delivered(shared_server, 1, anonymous_id=anon2)
    phone.call("id", {"id": "ub-u1", "email": "una@shop.test"})
    merged = until(lambda: (lambda x: x if x and len(x["anonymous_ids"]) == 2 else None)(
        lookup(shared_server, user_id="ub-u1")), "the second device merged")
    assert set(merged["anonymous_ids"]) == {anon, anon2} and merged["id"] == p["id"]
    assert lookup(shared_server, anonymous_id=anon2)["id"] == p["id"]  # type: ignore[index]


def test_a_second_user_on_the_same_browser_is_not_merged_and_reset_separates(
        shared_server: LiveServer, devices: Callable[..., Device], make_site: Callable[..., Site]) -> None:
    site = make_site(script_tag(shared_server))
    kiosk = devices()
    kiosk.visit(site.url("index.html"))
    anon = kiosk.anonymous_id()
    kiosk.call("id", {"id": "ub-alice"})
    delivered(shared_server, 2, user_id="ub-alice")
    kiosk.call("id", {"id": "ub-bob"})  # no reset in between: a shared device
    kiosk.call("track", "bob_clicked")
    bob_events = delivered(shared_server, 2, user_id="ub-bob")
    alice, bob = person(shared_server, user_id="ub-alice"), person(shared_server, user_id="ub-bob")
    assert alice["id"] != bob["id"]
    assert alice["anonymous_ids"] == [anon] and bob["anonymous_ids"] == []  # the earlier link wins
    assert alice["user_ids"] == ["ub-alice"] and bob["user_ids"] == ["ub-bob"]
    assert [e["event"] for e in bob_events] == [None, "bob_clicked"]
    with shared_server.query() as q:
        conflicts = q.get(f"/api/v1/persons/{alice['id']}/explain").json()["conflicts"]
    assert any({c["a"]["value"], c["b"]["value"]} == {anon, "ub-bob"} for c in conflicts)

    kiosk.call("reset", True)  # logout: a new anonymous id
    anon2 = kiosk.anonymous_id()
    assert anon2 != anon
    kiosk.call("id", {"id": "ub-carol"})
    carol = until(lambda: lookup(shared_server, user_id="ub-carol"), "carol")
    assert carol["anonymous_ids"] == [anon2]
    assert person(shared_server, user_id="ub-alice")["anonymous_ids"] == [anon]


def test_cookieless_strict_mode_derives_the_visitor_and_id_stitches_it(
        shared_server: LiveServer, devices: Callable[..., Device], make_site: Callable[..., Site]) -> None:
    site = make_site(script_tag(shared_server, **{"privacy-policy": "strict"}), host="strict.shop.test")
    d = devices()

    def pages() -> list[dict[str, Any]]:
        return [e for e in stored(shared_server, type="page")
                if str(e["properties"].get("url", "")).startswith(site.origin)]

    d.visit(site.url("index.html"))
    until(lambda: len(pages()) >= 1, "the first cookieless page view")
    assert COOKIE not in {c["name"] for c in d.context.cookies()}
    d.click("#pricing")
    until(lambda: len(pages()) >= 2, "the second cookieless page view")
    visitor = {e["anonymous_id"] for e in pages()}
    assert len(visitor) == 1 and str(next(iter(visitor))).startswith("cv_")
    assert {e["context"]["ip"] for e in pages()} == {"127.0.0.0"}  # ip_policy=strict
    d.call("id", {"id": "ub-strict", "email": "s@shop.test"})
    events = delivered(shared_server, 3, user_id="ub-strict")
    assert person(shared_server, user_id="ub-strict")["anonymous_ids"] == list(visitor)
    assert [e["type"] for e in events] == ["page", "page", "identify"]


def test_npm_client_spa_page_views_randomized_urls_and_a_trailing_slash_host(
        shared_server: LiveServer, devices: Callable[..., Device], make_site: Callable[..., Site]) -> None:
    head = ('<script type="module">import { usermavenClient } from "/sdk/usermaven/usermaven.es.js";'
            f'window.um = usermavenClient({{key: "{WRITE_KEY}", trackingHost: "{shared_server.url}/", '
            'randomizeUrl: true, autoPageview: true, forceUseFetch: true}); window.um.pageview();</script>')
    site = make_site(head, host="spa.shop.test")
    d = devices("() => window.um")
    sent: list[str] = []
    d.page.on("request", lambda r: sent.append(r.url) if r.url.startswith(shared_server.url) else None)
    d.visit(site.url("app.html"))
    anon = d.anonymous_id()
    delivered(shared_server, 1, anonymous_id=anon)
    d.page.evaluate("() => history.pushState({}, '', '/app.html?tab=billing')")
    delivered(shared_server, 2, anonymous_id=anon)
    d.page.evaluate("() => history.pushState({}, '', '/settings.html')")
    d.page.evaluate("() => window.um.track('saved', {ok: true})")
    events = delivered(shared_server, 4, anonymous_id=anon)
    paths = [e["properties"].get("path") for e in events if e["type"] == "page"]
    assert paths[:3] == ["/app.html", "/app.html", "/settings.html"]
    assert any(e["event"] == "saved" for e in events)
    assert sent and all(u.startswith(shared_server.url + "//api.") for u in sent)  # the SDK's own URL form


def test_cross_domain_link_carries_the_anonymous_id(
        shared_server: LiveServer, devices: Callable[..., Device], make_site: Callable[..., Site]) -> None:
    partner = make_site(script_tag(shared_server), host="app.other.test")
    shop = make_site(script_tag(shared_server, domains="app.other.test"), host="www.shop.test",
                     other=partner.origin)
    d = devices()
    d.visit(shop.url("index.html"))
    anon = d.anonymous_id()
    delivered(shared_server, 1, anonymous_id=anon)
    d.click("#partner")
    assert f"_um={anon}" in d.page.url
    events = delivered(shared_server, 2, anonymous_id=anon)
    hosts = {httpx.URL(str(e["properties"]["url"])).host for e in events}
    assert hosts == {"www.shop.test", "app.other.test"}


def test_browser_then_backend_identify_then_server_events_are_one_person(
        shared_server: LiveServer, devices: Callable[..., Device], make_site: Callable[..., Site]) -> None:
    from usermaven import Client

    site = make_site(script_tag(shared_server), host="hybrid.shop.test")
    d = devices()
    d.visit(site.url("index.html"))
    d.click("#pricing")
    anon = d.anonymous_id()  # the backend reads it from the __eventn_id_<key> cookie
    delivered(shared_server, 2, anonymous_id=anon)
    # The backend's identify over the HTTP API, as Usermaven's docs show it.
    r = httpx.post(f"{shared_server.url}/api/v1/s2s/event?token={WRITE_KEY}.{SECRET_KEY}",
                   json={"api_key": WRITE_KEY, "event_id": "", "event_type": "user_identify",
                         "user": {"anonymous_id": anon, "id": "ub-hybrid", "email": "h@shop.test",
                                  "created_at": "2026-11-20T00:00:00"}})
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    client = Client(WRITE_KEY, SECRET_KEY, host=shared_server.url, sync_mode=True)
    client.track("ub-hybrid", "invoice_paid", event_attributes={"amount": 10})
    events = delivered(shared_server, 4, anonymous_id=anon)
    assert [(e["type"], e["source"]) for e in events] == [
        ("page", "usermaven-browser"), ("page", "usermaven-browser"),
        ("identify", "usermaven-s2s"), ("track", "usermaven-s2s")]
    assert person(shared_server, user_id="ub-hybrid")["anonymous_ids"] == [anon]


def test_legacy_sdk_1_4_script_tag(
        shared_server: LiveServer, devices: Callable[..., Device], make_site: Callable[..., Site]) -> None:
    site = make_site(script_tag(shared_server, "{origin}/sdk/usermaven-legacy/lib.js"), host="legacy.shop.test")
    d = devices("() => window.usermavenClient")
    cloud: list[str] = []
    d.page.on("request", lambda r: cloud.append(r.url) if "usermaven.com" in r.url else None)
    d.visit(site.url("index.html"))
    anon = d.anonymous_id()
    delivered(shared_server, 1, anonymous_id=anon)
    d.click("#signup")
    delivered(shared_server, 2, anonymous_id=anon)
    d.call("id", {"id": "ub-legacy", "email": "l@shop.test"})
    d.call("track", "legacy_signed_up")
    events = delivered(shared_server, 4, user_id="ub-legacy")
    assert [e["type"] for e in events] == ["page", "page", "identify", "track"]
    assert all(str(e["id"]).startswith("h_") for e in events)  # event_id "": keyed by content
    assert cloud == []  # every answer was the 200 it needs: no fail-over to Usermaven's cloud
