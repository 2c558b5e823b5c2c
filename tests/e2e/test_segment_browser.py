"""analytics.js (@segment/analytics-next 1.84.3, its standalone build unmodified from
npm) in headless Chromium with every non-loopback request blocked. Segment's snippet is
installed as documented, with one change: ``analytics._cdn`` names the Threadline
server, which answers the settings document naming itself as the API host. Batching
delivery (``/v1/b``) is on; a loopback proxy loses the first batch's answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.compat.helpers import stored
from tests.conftest import WRITE_KEY, LiveServer
from tests.e2e.browser_sdks import Device, SdkSite, browser, device_factory
from tests.e2e.fault_proxy import FaultProxy, drop_first, fault_proxy
from tests.e2e.segment_journey import Journey, check_journey

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser
__all__ = ["browser"]

READY = "() => window.analytics && window.analytics.initialized === true"
# Segment's snippet 5.2.x, as a source's setup page gives it, but for the script's src (the
# standalone build, hosted by the site) and the one option, ``analytics._cdn``.
SNIPPET = """<script>
!function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];analytics.factory=function(e){return function(){if(window[i].initialized)return window[i][e].apply(window[i],arguments);var n=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}analytics.load=function(key,n){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.setAttribute("data-global-segment-analytics-key",i);t.src="/sdk/segment/standalone.js";var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};analytics._writeKey=WRITE_KEY;analytics._cdn=CDN;analytics.SNIPPET_VERSION="5.2.1";
analytics.load(WRITE_KEY, OPTIONS);
analytics.page("Pricing", {path: "/pricing"});
}}();
</script>"""
BATCHING = {"integrations": {"Segment.io": {"deliveryStrategy": {
    "strategy": "batching", "config": {"size": 10, "timeout": 50}}}}}


def snippet(cdn: str, options: dict[str, Any]) -> str:
    return (SNIPPET.replace("WRITE_KEY", json.dumps(WRITE_KEY)).replace("CDN", json.dumps(cdn))
            .replace("OPTIONS", json.dumps(options)))


@pytest.fixture
def devices(browser: Browser) -> Iterator[Callable[[], Device]]:
    yield from device_factory(browser, READY)


def stored_for(d: Device, server: LiveServer, n: int, anon: str) -> list[dict[str, object]]:
    """Wait until ``n`` events of the anonymous id are stored (each step waits, so the
    journey's events never share a millisecond)."""
    return d.until(lambda: (lambda ev: ev if len(ev) >= n else None)(
        [e for e in stored(server) if e["anonymous_id"] == anon]), f"{n} events of {anon}")


def walk(d: Device, server: LiveServer, site: SdkSite, prefix: str) -> Journey:
    d.visit(site.url("pricing.html"))
    j = Journey(prefix, anon=str(d.js("() => analytics.user().anonymousId()")))
    stored_for(d, server, 1, j.anon)
    d.js("([u, t]) => analytics.identify(u, t)", [j.user, j.traits])
    stored_for(d, server, 2, j.anon)
    d.js("([e]) => analytics.track(e, {plan: 'pro'})", [j.event])
    stored_for(d, server, 3, j.anon)
    d.js("([g]) => analytics.group(g, {name: 'Acme'})", [j.company])
    stored_for(d, server, 4, j.anon)
    return j


def test_analytics_js_from_threadline_alone_batching_with_a_lost_answer(
        shared_server: LiveServer, devices: Callable[[], Device]) -> None:
    with fault_proxy(shared_server.url, drop_first(1, "/v1/b")) as proxy:
        site = SdkSite(snippet(proxy.url, BATCHING), host="shop.test").start()
        try:
            j = walk(devices(), shared_server, site, "ajs-browser")
            check_journey(shared_server, j)
        finally:
            site.stop()
        check_traffic(proxy)


def check_traffic(proxy: FaultProxy) -> None:
    """Settings first, then batches on /v1/b: the first answer lost, its retry answered."""
    paths = [s.path.split("?")[0] for s in proxy.seen if s.method != "OPTIONS"]
    assert paths[0] == f"/v1/projects/{WRITE_KEY}/settings", paths
    batches = proxy.posts("/v1/b")
    assert batches[0].status is None and batches[1:] and all(b.status == 200 for b in batches[1:])
    assert set(paths[1:]) == {"/v1/b"}, paths
