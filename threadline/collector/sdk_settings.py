"""Settings documents the browser SDKs fetch before they send anything.

analytics.js (``@segment/analytics-next``) loads ``{cdnURL}/v1/projects/{writeKey}/settings``
and RudderStack JS v3 ``{configUrl}/sourceConfig/?writeKey=...``; neither sends an event
until it has one. Threadline answers a minimal document of each, naming itself as the
host to send to, so a page loads the SDK with Threadline as its only server: no
destinations, no remote plugins, no metrics sent anywhere.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from threadline.collector import segment_paths
from threadline.collector.http import JSONResponse, basic_user
from threadline.collector.routes import segment_errors
from threadline.services import services_of


def _host(request: Request) -> tuple[str, str]:
    """The scheme and host (with port) the SDK reached this server at. Behind a
    TLS-terminating proxy listed in ``trusted_proxies``, its ``X-Forwarded-Proto``
    decides the scheme: an ``http`` API host would be blocked on an https page."""
    host = request.headers.get("host") or request.url.netloc
    scheme = request.url.scheme
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    if forwarded in ("http", "https") and services_of(request).proxies.trusted(peer):
        scheme = forwarded
    return scheme, host


def segment_settings(write_key: str, scheme: str, host: str) -> dict[str, Any]:
    """analytics.js's CDN settings: only the ``Segment.io`` integration (its delivery to
    ``{host}/v1``), remote metrics off (``sampleRate`` 0), no plugins or middleware."""
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": f"{host}/v1",
                "protocol": scheme,
                "unbundledIntegrations": [],
                "addBundledMetadata": False,
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {"track": {"__default": {"enabled": True, "integrations": {}}},
                 "identify": {"__default": {"enabled": True}},
                 "group": {"__default": {"enabled": True}}},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0, "host": f"{host}/v1"},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


def rudderstack_source_config(write_key: str) -> dict[str, Any]:
    """RudderStack JS's source configuration: an enabled source without destinations,
    error and metrics reporting off (they would post to RudderStack's own service)."""
    return {
        "isHosted": False,
        "source": {
            "id": "threadline",
            "name": "Threadline",
            "writeKey": write_key,
            "workspaceId": "threadline",
            "enabled": True,
            "config": {"statsCollection": {"errors": {"enabled": False},
                                           "metrics": {"enabled": False}}},
            "destinations": [],
        },
    }


async def segment(request: Request) -> JSONResponse:
    """``GET /v1/projects/{write_key}/settings``: analytics.js's settings for that key."""
    write_key = request.path_params["write_key"]
    services_of(request).auth(write_key)
    scheme, host = _host(request)
    return JSONResponse(segment_settings(write_key, scheme, host))


async def source_config(request: Request) -> JSONResponse:
    """``GET /sourceConfig/?writeKey=...``: RudderStack JS's source configuration."""
    if request.method == "HEAD":
        # RudderStack JS's ad-blocker probe (``HEAD /sourceConfig/?view=ad``, no key):
        # any failure would count as "blocked". A bodiless 200 reveals nothing.
        return JSONResponse(None)
    write_key = request.query_params.get("writeKey") or basic_user(request)
    services_of(request).auth(write_key)
    return JSONResponse(rudderstack_source_config(write_key or ""))


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = [Route(segment_paths.SEGMENT_SETTINGS, segment_errors(segment),
                                  methods=["GET"])]
    out += [Route(path, segment_errors(source_config), methods=["GET", "HEAD"])
            for path in segment_paths.SOURCE_CONFIG]
    return out
