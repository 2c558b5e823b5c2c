"""The browser tracker end to end, across domains and with privacy settings: a
cookie domain shared by subdomains, cross-domain links, cookieless mode (on a server
whose day is fixed), and the privacy signals and opt-out.

Real headless Chromium drives the test site in ``tests/e2e/site`` like a visitor, with
a real Threadline server; the outcome is read through the query API. The fixtures are
in ``tests/e2e/conftest.py``, the helpers in ``tests/e2e/tracker_helpers.py``.
Screenshots and each page's console output are saved under ``test-artifacts/tracker/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import LiveServer, start_server
from tests.e2e.site.serve import Site
from tests.e2e.tracker_helpers import Profile, login, lookup, messages, person_with, summary

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("tracker_served")]


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
