"""CORS for every collector route (api.md): the Origin is echoed with
``Allow-Credentials: true``, never ``*``, because browsers drop credentialed
beacons and fetches answered with a wildcard."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Collector paths only, matched whole, so the query API (``/api/v1/events``,
# ``/api/v1/persons``...) never answers cross-origin: it is read with a secret key and
# must not echo an arbitrary Origin with credentials. Native and Moesif ``/v1/...``
# (including the short ``/v1/b``), ``/beacon/v1/batch``, the settings documents
# ``/v1/projects/{key}/settings`` and ``/sourceConfig``, Usermaven ``/api/v1/event``,
# ``/api/v1/s2s/event[/]`` and ``/api.xxxxx`` (also with a doubled leading slash), and
# the tracker script.
COLLECTOR_PATH = re.compile(
    r"^/{1,2}(?:v1/[A-Za-z0-9_./-]+|beacon/v1/batch|sourceConfig/?|api/v1/event|"
    r"api/v1/s2s/event/?|api\.[A-Za-z0-9]{1,32}|t\.js)$"
)


def is_collector_path(path: str) -> bool:
    """Whether ``path`` is one of the collector's (ingest, settings, tracker) paths."""
    return COLLECTOR_PATH.match(path) is not None


class CollectorCORS:
    """Pure ASGI middleware answering preflights and decorating collector responses."""

    def __init__(self, app: ASGIApp, max_age: int = 86400) -> None:
        self.app = app
        self.max_age = str(max_age)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_collector_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        origin = headers.get(b"origin")
        if scope["method"] == "OPTIONS":
            out = [(b"vary", b"Origin"), (b"access-control-max-age", self.max_age.encode()),
                   (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                   (b"content-length", b"0")]
            if origin:
                out += [(b"access-control-allow-origin", origin),
                        (b"access-control-allow-credentials", b"true")]
            requested = headers.get(b"access-control-request-headers")
            out.append((b"access-control-allow-headers",
                        requested or b"Content-Type, Authorization, X-Moesif-Application-Id"))
            if headers.get(b"access-control-request-private-network"):
                out.append((b"access-control-allow-private-network", b"true"))
            await send({"type": "http.response.start", "status": 204, "headers": out})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and origin:
                hdrs = list(message.get("headers", []))
                hdrs += [(b"access-control-allow-origin", origin),
                         (b"access-control-allow-credentials", b"true"),
                         # lets browser clients honour Retry-After on 503 and 429
                         (b"access-control-expose-headers", b"Retry-After"),
                         (b"vary", b"Origin")]
                message = {**message, "headers": hdrs}
            await send(message)

        await self.app(scope, receive, send_with_cors)
