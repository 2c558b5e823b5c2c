"""``GET /t.js``: the browser tracker, cacheable, revalidated by ETag."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from threadline import tracker

# An hour fresh, then a cheap revalidation: the URL has no version in it, so a new
# bundle reaches every site within the hour.
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


async def script(request: Request) -> Response:
    """The tracker bundle, gzipped when the client accepts it; 304 on a matching ETag."""
    etag = tracker.etag()
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Sites that set Cross-Origin-Embedder-Policy may still load it.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    body = tracker.bundle()
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = tracker.gzipped()
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type="application/javascript; charset=utf-8")


routes: list[BaseRoute] = [Route("/t.js", script, methods=["GET", "HEAD"])]
