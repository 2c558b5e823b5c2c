"""A log line and a counter per rejected (4xx) request, so an operator sees a client
sending to a path the server does not serve, with a key it does not know, and so on.

The route is the matched route's template (``/api/v1/persons/{person_id}``); a path no
route matched is counted under its raw path, bounded: after ``MAX_RAW_PATHS`` distinct
ones the rest share the label ``other``, so a scanner cannot grow ``/metrics`` without
end. Query strings are never logged or counted (they carry keys: ``?token=``,
``?writeKey=``, ``p_xxxxx=``), and anything shaped like a project key is masked.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("threadline.rejected")

MAX_RAW_PATHS = 100
MAX_LABEL_CHARS = 120
MAX_BODY_PEEK = 4096  # the error code is read from the start of a JSON error answer
OTHER = "other"
KEY_LIKE = re.compile(r"(?:wk|sk)_[A-Za-z0-9_-]{6,}")


def mask_keys(text: str) -> str:
    """``text`` with anything shaped like a project key replaced by ``wk_***``/``sk_***``."""
    return KEY_LIKE.sub(lambda m: m.group(0)[:3] + "***", text)


def _route_template(scope: Scope) -> str | None:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


def _reason(status: int, content_type: str, body: bytes) -> str:
    """The JSON error code and message when the answer is one, else the status alone."""
    if "json" in content_type and body:
        try:
            err = orjson.loads(body).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            err = None
        if isinstance(err, dict):
            code, msg = str(err.get("code", "")), str(err.get("message", ""))[:200]
            return mask_keys(f"{code}: {msg}" if msg else code)
    return f"HTTP {status}"


class RejectionCounts:
    """4xx answers by (route, status) since start; thread-safe, bounded in labels."""

    def __init__(self, max_raw_paths: int = MAX_RAW_PATHS) -> None:
        self.max_raw_paths = max_raw_paths
        self._counts: Counter[tuple[str, int]] = Counter()
        self._raw_paths: set[str] = set()
        self._lock = threading.Lock()

    def label_for(self, template: str | None, path: str) -> str:
        """The route label: the template, or the bounded raw path of an unmatched request."""
        if template is not None:
            return template
        # Printable only: the label goes into log lines and /metrics as it is.
        raw = "".join(c if c.isprintable() else "?" for c in mask_keys(path)[:MAX_LABEL_CHARS])
        with self._lock:
            if raw in self._raw_paths:
                return raw
            if len(self._raw_paths) >= self.max_raw_paths:
                return OTHER
            self._raw_paths.add(raw)
            return raw

    def add(self, route: str, status: int) -> None:
        with self._lock:
            self._counts[(route, status)] += 1

    def snapshot(self) -> list[tuple[str, int, int]]:
        """(route, status, count), sorted for a stable /metrics page."""
        with self._lock:
            return sorted((r, s, n) for (r, s), n in self._counts.items())


class RejectionLog:
    """Pure ASGI middleware: for every 4xx answer, one log line and one count."""

    def __init__(self, app: ASGIApp, counts: RejectionCounts) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"status": 0, "type": "", "body": b"", "done": False}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = int(message["status"])
                for k, v in message.get("headers", []):
                    if k.lower() == b"content-type":
                        state["type"] = v.decode("latin-1")
            elif message["type"] == "http.response.body" and 400 <= state["status"] < 500 \
                    and not state["done"]:
                state["body"] = (state["body"] + message.get("body", b""))[:MAX_BODY_PEEK]
                if not message.get("more_body", False):
                    state["done"] = True
                    self._record(scope, state)
            await send(message)

        await self.app(scope, receive, watch)

    def _record(self, scope: Scope, state: dict[str, Any]) -> None:
        status: int = state["status"]
        route = self.counts.label_for(_route_template(scope), str(scope.get("path", "")))
        self.counts.add(route, status)
        # INFO, like an access log line: a 4xx is the client's error, and anyone holding
        # the public write key can cause them, so they must not flood a warnings feed.
        log.info("rejected %s %s status=%d reason=%s", scope.get("method", ""), route, status,
                    _reason(status, state["type"], state["body"]))
