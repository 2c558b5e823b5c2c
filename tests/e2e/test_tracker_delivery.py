"""The browser tracker end to end, delivery and page views: offline and reload
survival without duplicates, single-page-app navigation, a hostile page that must not
see the tracker throw, and page views sent only by hand.

Real headless Chromium drives the test site in ``tests/e2e/site`` like a visitor, with
a real Threadline server; the outcome is read through the query API. The fixtures are
in ``tests/e2e/conftest.py``, the helpers in ``tests/e2e/tracker_helpers.py``.
Screenshots and each page's console output are saved under ``test-artifacts/tracker/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import LiveServer
from tests.e2e.site.serve import Site
from tests.e2e.tracker_helpers import Profile, lookup, messages, person_with, summary, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("tracker_served")]


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
