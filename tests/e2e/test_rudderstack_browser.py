"""RudderStack JS v3 (@rudderstack/analytics-js 3.34.1, its bundled UMD build unmodified
from npm: every plugin inside, none from RudderStack's CDN) in headless Chromium with
every non-loopback request blocked. ``load(writeKey, dataPlaneUrl, {configUrl})`` names
the Threadline server twice: it answers the source configuration and takes the events.

RudderStack JS sends identify traits only in ``context.traits`` and the client time only
as ``originalTimestamp`` (with ``sentAt``). Delivery by XHR (one event a request, to
``/v1/<type>``) with the first answer lost behind a loopback proxy, and by beacon
(``/beacon/v1/batch?writeKey=...``, a text/plain body).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.compat.helpers import stored
from tests.conftest import WRITE_KEY, LiveServer
from tests.e2e.browser_sdks import Device, SdkSite, browser, device_factory
from tests.e2e.fault_proxy import drop_first, fault_proxy
from tests.e2e.segment_journey import Journey, check_journey

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser
__all__ = ["browser"]

READY = "() => window.__rudderReady === true"
# The npm UMD build as a script tag; ready() only tells the test when the SDK has loaded.
SNIPPET = """<script src="/sdk/rudderstack/rsa.js"></script>
<script>
new rudderanalytics.RudderAnalytics();
rudderanalytics.load(WRITE_KEY, HOST, Object.assign({configUrl: HOST}, OPTIONS));
rudderanalytics.ready(function () { window.__rudderReady = true; });
rudderanalytics.page("Docs", "Pricing", {path: "/pricing"});
</script>"""


def snippet(host: str, options: dict[str, Any]) -> str:
    return (SNIPPET.replace("WRITE_KEY", json.dumps(WRITE_KEY)).replace("HOST", json.dumps(host))
            .replace("OPTIONS", json.dumps(options)))


@pytest.fixture
def devices(browser: Browser) -> Iterator[Callable[[], Device]]:
    yield from device_factory(browser, READY)


def stored_for(d: Device, server: LiveServer, n: int, anon: str) -> list[dict[str, Any]]:
    """Wait until ``n`` events of the anonymous id are stored; each step waits, so the
    journey's events never share a millisecond."""
    return d.until(lambda: (lambda ev: ev if len(ev) >= n else None)(
        [e for e in stored(server) if e["anonymous_id"] == anon]), f"{n} events of {anon}")


def walk(d: Device, server: LiveServer, site: SdkSite, prefix: str) -> Journey:
    d.visit(site.url("pricing.html"))
    j = Journey(prefix, anon=str(d.js("() => rudderanalytics.getAnonymousId()")))
    stored_for(d, server, 1, j.anon)
    d.js("([u, t]) => rudderanalytics.identify(u, t)", [j.user, j.traits])
    stored_for(d, server, 2, j.anon)
    d.js("([e]) => rudderanalytics.track(e, {plan: 'pro'})", [j.event])
    stored_for(d, server, 3, j.anon)
    d.js("([g]) => rudderanalytics.group(g, {name: 'Acme'})", [j.company])
    stored_for(d, server, 4, j.anon)
    return j


def test_rudderstack_js_xhr_from_threadline_alone_with_a_lost_answer(
        shared_server: LiveServer, devices: Callable[[], Device]) -> None:
    with fault_proxy(shared_server.url, drop_first(1, "/v1/page")) as proxy:
        site = SdkSite(snippet(proxy.url, {}), host="docs.test").start()
        try:
            d = devices()
            j = walk(d, shared_server, site, "rs-xhr")
            # The page view was stored by the request whose answer was lost: its retry
            # comes after the SDK's retry delay, and must be a duplicate.
            d.until(lambda: [p for p in proxy.posts("/v1/page") if p.status == 200], "the page retry")
        finally:
            site.stop()
        seen = [(s.method, s.path.split("?")[0], s.status) for s in proxy.seen if s.method != "OPTIONS"]
    check_journey(shared_server, j)
    assert seen[0] == ("GET", "/sourceConfig/", 200), seen
    pages = [s for s in seen if s[1] == "/v1/page"]
    assert pages[0][2] is None and pages[1:] and all(p[2] == 200 for p in pages[1:]), seen
    assert {s[1] for s in seen[1:]} == {"/v1/page", "/v1/identify", "/v1/track", "/v1/group"}, seen
    identify = next(e for e in stored(shared_server) if e["type"] == "identify" and e["user_id"] == j.user)
    assert identify["context"]["traits"] == j.traits  # where RudderStack JS puts them


def test_rudderstack_js_beacons_with_the_key_in_the_query_string(
        shared_server: LiveServer, devices: Callable[[], Device]) -> None:
    options = {"useBeacon": True, "beaconQueueOptions": {"flushQueueInterval": 100}}
    with fault_proxy(shared_server.url) as proxy:
        site = SdkSite(snippet(proxy.url, options), host="beacon.test").start()
        try:
            j = walk(devices(), shared_server, site, "rs-beacon")
        finally:
            site.stop()
        beacons = proxy.posts("/beacon/v1/batch")
    check_journey(shared_server, j)
    assert beacons and all(b.path == f"/beacon/v1/batch?writeKey={WRITE_KEY}" and b.status == 200
                           for b in beacons), beacons
    assert not proxy.posts("/v1/")  # every event went by beacon
    # The page view was queued at load (before the source config came) and sent by a
    # later flush: its time is the call's (originalTimestamp), not the arrival's.
    page = next(e for e in stored(shared_server) if e["type"] == "page" and e["anonymous_id"] == j.anon)
    assert str(page["timestamp"]) < str(page["received_at"]), page


def test_rudderstack_js_with_a_wrong_key_stops_at_the_source_config(
        shared_server: LiveServer, devices: Callable[[], Device]) -> None:
    """The 401 on the source config is the SDK's own handled failure: it logs it, throws
    nothing into the page, sends no event and asks nobody else."""
    wrong = "wk_wrong_0123456789abcdefghijkl"
    with fault_proxy(shared_server.url) as proxy:
        site = SdkSite(snippet(proxy.url, {}).replace(WRITE_KEY, wrong), host="wrong.test").start()
        try:
            d = devices()
            d.page.goto(site.url("pricing.html"))
            config = d.until(lambda: [s for s in proxy.seen if s.path.startswith("/sourceConfig")],
                             "the source config request")
            d.until(lambda: any("source config" in line for line in d.console), "the SDK's error log")
        finally:
            site.stop()
    assert [c.status for c in config] == [401]
    assert proxy.posts() == []
    assert d.js("() => window.__rudderReady === true") is False
