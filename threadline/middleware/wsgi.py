"""WSGI middleware recording every request as an ``API Call`` event (Flask, Django, ...).

The request path pays for a ``start_response`` wrapper, an iterator that counts response
bytes, and one enqueue when the server closes the response; everything else happens on
the SDK's consumer thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from threadline.middleware.capture import (
    ROUTE_KEY,
    BodyBuffer,
    CapturedRequest,
    CapturedResponse,
    headers_dict,
)
from threadline.middleware.options import ApiVersion, IdentifyHook, MaskHook, Options, SkipHook
from threadline.middleware.recorder import CallBase, Recorder
from threadline.middleware.wsgi_streams import ClosingResponse, TeeInput
from threadline.sdk.client import Client

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], Any]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class WSGIMiddleware:
    """Record API calls of a WSGI app in Threadline.

    Same arguments as :class:`threadline.middleware.ASGIMiddleware`. Flask::

        app.wsgi_app = WSGIMiddleware(app.wsgi_app, key="wk_...", host="https://...")

    Django (``wsgi.py``)::

        application = WSGIMiddleware(get_wsgi_application(), key="wk_...", host="https://...")
    """

    def __init__(
        self,
        app: WSGIApp,
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
        self._capture_body = capture_body
        self._max_body = max_body_bytes

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        call = WsgiCall(self.recorder, environ, time.time(), time.perf_counter())
        if self._capture_body:
            call.request_body = BodyBuffer(self._max_body)
            call.response_body = BodyBuffer(self._max_body)
            environ["wsgi.input"] = TeeInput(environ["wsgi.input"], call.request_body)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            call.status_line = status
            call.response_headers = headers
            # Flask clears this key when its request context ends, after start_response:
            # keep the request object (it knows the matched route) while it is there.
            call.framework_request = environ.get("werkzeug.request")
            write = start_response(status, headers, exc_info)

            def counting_write(data: bytes) -> Any:  # the legacy write() channel
                call.add_body(data)
                return write(data)

            return counting_write

        try:
            result = self.app(environ, start)
        except BaseException:
            if call.status_line is None:
                call.status_line = "500 Internal Server Error"
            call.finish()
            raise
        return ClosingResponse(result, call.add_body, call.finish)


class WsgiCall(CallBase):
    """Raw capture of one WSGI request."""

    __slots__ = ("environ", "framework_request", "path_info", "perf_start", "recorded",
                 "recorder", "request_body",
                 "response_body", "response_bytes", "response_headers", "script_name",
                 "status_line")

    def __init__(
        self, recorder: Recorder, environ: Environ, started_at: float, perf_start: float
    ) -> None:
        super().__init__(recorder.builder, started_at)
        self.recorder = recorder
        self.environ = environ
        self.perf_start = perf_start
        # Dispatchers move path segments between these in place; keep the originals.
        self.script_name: str = environ.get("SCRIPT_NAME", "")
        self.path_info: str = environ.get("PATH_INFO", "")
        self.status_line: str | None = None
        self.response_headers: Any = None
        self.framework_request: Any = None
        self.response_bytes = 0
        self.request_body: BodyBuffer | None = None
        self.response_body: BodyBuffer | None = None
        self.recorded = False

    def add_body(self, chunk: bytes) -> None:
        """Count (and with body capture keep) a chunk of the response body."""
        self.response_bytes += len(chunk)
        if self.response_body is not None:
            self.response_body.add(chunk)

    def finish(self) -> None:
        """Stop the clock and queue the call (once: exhaustion and close() both end up here)."""
        if self.recorded:
            return
        self.recorded = True
        self.duration = time.perf_counter() - self.perf_start
        self.recorder.record(self)

    def request(self) -> CapturedRequest:
        env = self.environ
        headers = {
            ("content-type" if k == "CONTENT_TYPE" else "content-length" if k == "CONTENT_LENGTH"
             else k[5:].replace("_", "-").lower()): str(v)
            for k, v in env.items()
            if (k.startswith("HTTP_") or k in ("CONTENT_TYPE", "CONTENT_LENGTH")) and v != ""
        }
        path = _wsgi_text(self.script_name + self.path_info) or "/"
        query = env.get("QUERY_STRING", "")
        host = headers.get("host") or _server_host(env)
        url = f"{env.get('wsgi.url_scheme', 'http')}://{host}{path}"
        if query:
            url += "?" + query
        length = headers.get("content-length", "")
        body = self.request_body
        size = int(length) if length.isdigit() else (len(body.data) if body is not None else 0)
        return CapturedRequest(
            method=env.get("REQUEST_METHOD", "GET"),
            url=url,
            path=path,
            route=self._route(),
            query_string=query,
            headers=headers,
            ip=env.get("REMOTE_ADDR") or None,
            size=size,
            body=bytes(body.data) if body is not None else None,
            body_truncated=body.truncated if body is not None else False,
            environ=env,
        )

    def _route(self) -> str | None:
        env = self.environ
        explicit = env.get(ROUTE_KEY)
        if isinstance(explicit, str):
            return explicit
        request = self.framework_request or env.get("werkzeug.request")
        rule = getattr(getattr(request, "url_rule", None), "rule", None)
        if isinstance(rule, str):
            return _wsgi_text(env.get("SCRIPT_NAME", "")) + rule
        return None

    def response(self) -> CapturedResponse:
        headers = headers_dict(self.response_headers)
        status = self.status_line or "500"
        code = status.split(" ", 1)[0]
        size = self.response_bytes
        if not size:
            length = headers.get("content-length", "")
            size = int(length) if length.isdigit() else 0
        body = self.response_body
        return CapturedResponse(
            status=int(code) if code.isdigit() else 500,
            headers=headers,
            size=size,
            duration_ms=self.duration * 1000.0,
            body=bytes(body.data) if body is not None else None,
            body_truncated=body.truncated if body is not None else False,
        )


def _wsgi_text(value: str) -> str:
    """WSGI paths are bytes decoded as latin-1; show them as the UTF-8 they were."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _server_host(env: Environ) -> str:
    name = env.get("SERVER_NAME", "localhost")
    port = str(env.get("SERVER_PORT", ""))
    default = "443" if env.get("wsgi.url_scheme") == "https" else "80"
    return name if port in ("", default) else f"{name}:{port}"
