"""Headless Chromium for the analytics.js and RudderStack JS tests, with every request
to a non-loopback address blocked (and recorded), and the test site of
tests/compat/site.py serving those SDKs' unmodified npm builds as well.

Blocking proves the SDKs load and send with Threadline as their only server: a request
to a vendor CDN or API fails the test through :attr:`Device.blocked`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from tests.compat.site import NODE_MODULES, Site
from tests.conftest import CHROMIUM_ARGS, chromium_path, require

try:
    from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
except ImportError:  # pragma: no cover - reported by require() below
    sync_playwright = None  # type: ignore[assignment]

RESOLVE = "--host-resolver-rules=MAP *.test 127.0.0.1"
# The standalone (script tag) build of analytics.js, and RudderStack JS v3's bundled UMD
# build: its plugins are inside, so it loads none from RudderStack's CDN.
BROWSER_SDKS = {
    "/sdk/segment/standalone.js": NODE_MODULES / "@segment/analytics-next/dist/umd/standalone.js",
    "/sdk/rudderstack/rsa.js":
        NODE_MODULES / "@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js",
}
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
T = TypeVar("T")


def loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOOPBACK or host.endswith(".test") or url.startswith(("data:", "blob:", "about:"))


@dataclass
class SdkSite(Site):
    """The compat test site, also serving the two SDK builds above."""

    def render(self, path: str) -> tuple[bytes, str] | None:
        if path in BROWSER_SDKS:
            return BROWSER_SDKS[path].read_bytes(), "application/javascript"
        return super().render(path)


@dataclass
class Device:
    """One browser profile with one tab; ``blocked`` lists the non-loopback requests."""

    context: BrowserContext
    page: Page
    ready: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_function(self.ready)

    def js(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def until(self, probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
        """Poll ``probe`` until it is truthy, waiting inside Playwright between probes: the
        routing that blocks non-loopback requests only runs while Playwright has control,
        so a plain sleep would hold every request of the page."""
        deadline = time.monotonic() + timeout
        last: T | None = None
        while time.monotonic() < deadline:
            last = probe()
            if last:
                return last
            self.page.wait_for_timeout(100)  # lets the page's requests through meanwhile
        raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require(sync_playwright is not None, "playwright for Python is not installed")
    require(all(p.is_file() for p in BROWSER_SDKS.values()),
            "run `npm ci` in tests/e2e/sdks for @segment/analytics-next and @rudderstack/analytics-js")
    path = chromium_path()
    require(path is not None, "chromium is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, RESOLVE])
        try:
            yield b
        finally:
            b.close()


def device_factory(browser: Browser, ready: str) -> Iterator[Callable[[], Device]]:
    """Open fresh devices; on teardown check that nothing left loopback and no page threw."""
    opened: list[Device] = []

    def open_device() -> Device:
        context = browser.new_context()
        d = Device(context, context.new_page(), ready)

        def gate(route: Route) -> None:
            if loopback(route.request.url):
                route.continue_()
            else:
                d.blocked.append(route.request.url)
                route.abort("blockedbyclient")

        context.route("**/*", gate)
        d.page.on("pageerror", lambda e: d.errors.append(str(e)))
        d.page.on("console", lambda m: d.console.append(f"{m.type}: {m.text}"))
        opened.append(d)
        return d

    yield open_device
    for d in opened:
        d.context.close()
    for d in opened:
        assert d.blocked == [], f"requests left loopback: {d.blocked}"
        assert d.errors == [], f"errors thrown in the page: {d.errors}\n" + "\n".join(d.console)
