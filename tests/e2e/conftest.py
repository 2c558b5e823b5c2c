"""Fixtures for the browser tracker tests (``test_tracker_*.py``): Debian's headless
Chromium, the test site in ``tests/e2e/site`` with the tracker installed, and browser
profiles whose console output is saved under ``test-artifacts/tracker/`` (with the
screenshots the tests take).

``browser`` is overridden by the modules that need other resolver rules or checks
(the third-party SDK tests); ``tracker_served`` is not autouse, so that only the
tracker modules start a shared server for it (``pytest.mark.usefixtures``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import ARTIFACTS, CHROMIUM_ARGS, LiveServer, chromium_path, require
from tests.e2e.site.serve import Site
from tests.e2e.tracker_helpers import Profile

try:
    from playwright.sync_api import Browser, Request, sync_playwright
except ImportError:  # pragma: no cover - reported by require() below
    sync_playwright = None  # type: ignore[assignment]

SHOTS = ARTIFACTS / "tracker"
RESOLVER_RULES = "--host-resolver-rules=MAP *.acme.test 127.0.0.1"


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


@pytest.fixture(scope="module")
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
