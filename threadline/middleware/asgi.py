"""Pure ASGI middleware recording every HTTP request as an ``API Call`` event.

Works with any ASGI app (Starlette, FastAPI, Django's ASGI handler, ...). On the request
path it only wraps ``receive``/``send`` to note the status and count bytes, and enqueues
the raw capture at the end; decoding, hooks, redaction and sending happen on the SDK's
consumer thread. Lifespan and websocket scopes pass through untouched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from threadline.middleware.capture import (
    ROUTE_KEY,
    BodyBuffer,
    CapturedRequest,
    CapturedResponse,
    headers_dict,
)
from threadline.middleware.event import EventBuilder
from threadline.middleware.options import ApiVersion, IdentifyHook, MaskHook, Options, SkipHook
from threadline.middleware.recorder import CallBase, Recorder
from threadline.sdk.client import Client

# As permissive as Starlette's own middleware factory types, so that
# ``app.add_middleware(ASGIMiddleware, ...)`` type-checks under mypy --strict.
Scope = MutableMapping[str, Any]
Message = Any
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Any, Receive, Send], Awaitable[None]]


class ASGIMiddleware:
    """Record API calls of an ASGI app in Threadline.

    ``key`` and ``host`` (or an existing ``client``) say where events go; the hooks and
    switches are those of :class:`threadline.middleware.options.Options`; any other
    keyword goes to :class:`threadline.sdk.Client` (``flush_interval``, ``timeout``...).
    FastAPI/Starlette::

        app.add_middleware(ASGIMiddleware, key="wk_...", host="https://threadline.example")
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        key: str | None = None,
        host: str | None = None,
        *,
        client: Client | None = None,
        identify_user: IdentifyHook | None = None,
        identify_company: IdentifyHook | None = None,
        skip: SkipHook | None = None,
        mask_event: MaskHook | None = None,
        capture_body: bool = False,
        capture_headers: bool = False,
        redact_fields: tuple[str, ...] | list[str] = (),
        max_body_bytes: int = 8 * 1024,
        api_version: ApiVersion = None,
        anonymous_ids: bool = True,
        **client_options: Any,
    ) -> None:
        self.app = app
        defaults = Options()
        self.options = Options(
            identify_user=identify_user or defaults.identify_user,
            identify_company=identify_company or defaults.identify_company,
            skip=skip, mask_event=mask_event, capture_body=capture_body,
            capture_headers=capture_headers, redact_fields=tuple(redact_fields),
            max_body_bytes=max_body_bytes, api_version=api_version, anonymous_ids=anonymous_ids,
        )
        self.recorder = Recorder(key, host, client, self.options, client_options)
        self.client = self.recorder.client
        self._builder = self.recorder.builder
        self._capture_body = capture_body
        self._max_body = max_body_bytes

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = AsgiCall(self._builder, scope, time.time())
        started = time.perf_counter()
        capture = self._capture_body
        if capture:
            call.request_body = BodyBuffer(self._max_body)
            call.response_body = BodyBuffer(self._max_body)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                call.request_bytes += len(body)
                if capture and call.request_body is not None:
                    call.request_body.add(body)
            return message

        async def send_wrapper(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                call.status = message["status"]
                call.response_headers = message.get("headers")
            elif kind == "http.response.body":
                body = message.get("body", b"")
                call.response_bytes += len(body)
                if capture and call.response_body is not None:
                    call.response_body.add(body)
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except asyncio.CancelledError:
            if call.status is None:
                call.status = 499  # the client went away before an answer
            raise
        except BaseException:
            if call.status is None:
                call.status = 500
            raise
        finally:
            call.duration = time.perf_counter() - started
            self.recorder.record(call)


class AsgiCall(CallBase):
    """Raw capture of one ASGI request."""

    __slots__ = ("path", "request_body", "request_bytes", "response_body", "response_bytes",
                 "response_headers", "root_path", "scope")

    def __init__(self, builder: EventBuilder, scope: Scope, started_at: float) -> None:
        super().__init__(builder, started_at)
        self.scope = scope
        # Routers rewrite these in place as they descend into mounts; keep the originals.
        self.path: str = scope.get("path", "")
        self.root_path: str = scope.get("root_path", "")
        self.request_bytes = 0
        self.response_bytes = 0
        self.response_headers: Any = None
        self.request_body: BodyBuffer | None = None
        self.response_body: BodyBuffer | None = None

    def request(self) -> CapturedRequest:
        scope = self.scope
        headers = headers_dict(scope.get("headers"))
        query = scope.get("query_string", b"")
        query_text = query.decode("latin-1") if isinstance(query, bytes) else str(query)
        path = self.path
        # Since Starlette 0.33 (and uvicorn's --root-path) ``path`` includes root_path.
        if self.root_path and not path.startswith(self.root_path):
            path = self.root_path + path
        host = headers.get("host") or _server_host(scope)
        url = f"{scope.get('scheme', 'http')}://{host}{path}"
        if query_text:
            url += "?" + query_text
        client = scope.get("client")
        length = headers.get("content-length")
        size = int(length) if length and length.isdigit() else self.request_bytes
        body = self.request_body
        return CapturedRequest(
            method=scope.get("method", "GET"),
            url=url,
            path=path,
            route=self._route(),
            query_string=query_text,
            headers=headers,
            ip=client[0] if client else None,
            size=size,
            body=bytes(body.data) if body is not None else None,
            body_truncated=body.truncated if body is not None else False,
            scope=scope,
        )

    def _route(self) -> str | None:
        scope = self.scope
        explicit = scope.get(ROUTE_KEY)
        if isinstance(explicit, str):
            return explicit
        route = scope.get("route")
        if route is None:
            return None
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if not isinstance(template, str):
            return None
        # Mounts append the matched prefix to root_path; that prefix belongs to the route.
        mount = str(scope.get("root_path", ""))
        if mount.startswith(self.root_path):
            mount = mount[len(self.root_path):]
        return self.root_path + mount + template

    def response(self) -> CapturedResponse:
        headers = headers_dict(self.response_headers)
        size = self.response_bytes
        if not size:
            length = headers.get("content-length")
            size = int(length) if length and length.isdigit() else 0
        body = self.response_body
        return CapturedResponse(
            status=self.status or 500,
            headers=headers,
            size=size,
            duration_ms=self.duration * 1000.0,
            body=bytes(body.data) if body is not None else None,
            body_truncated=body.truncated if body is not None else False,
        )


def _server_host(scope: Scope) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server[0], server[1]
    default = 443 if scope.get("scheme") in ("https", "wss") else 80
    return host if port in (None, default) else f"{host}:{port}"
