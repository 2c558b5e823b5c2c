"""Capture what Threadline's own clients send, for bench/compat_ingest.py to replay.

The compatibility benchmark replays batches captured from the Usermaven and Moesif
SDKs; its native baseline replays batches captured the same way from the native
clients doing the same jobs:

* ``tracker``: ``t.js`` in headless Chromium on the test site (tests/e2e/site): landing
  page with UTM tags, a click, pricing, sign-up (identify + track), the app, a group
  call, log-out. The counterpart of the Usermaven browser SDK.
* ``middleware``: ``threadline.middleware.ASGIMiddleware`` around a small Starlette API
  called with Bearer JWTs and company headers. The counterpart of ``moesifasgi``.

Writes bench/data/native_captures.json (committed; run again after changing the
tracker or the middleware): ``python -m bench.capture_native``.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bench._server import WRITE_KEY, start_threadline
from tests.conftest import CHROMIUM_ARGS, chromium_path
from tests.e2e.site.serve import Site
from threadline.middleware import ASGIMiddleware

OUT = Path(__file__).resolve().parent / "data" / "native_captures.json"


def capture_tracker() -> list[dict[str, Any]]:
    """Every ``/v1/batch`` body t.js sent while one visitor browses, signs up and leaves."""
    from playwright.sync_api import Request as PwRequest
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    proc, url, _ = start_threadline()
    site = Site(url, WRITE_KEY).start()
    bodies: list[dict[str, Any]] = []

    def on_request(r: PwRequest) -> None:
        if r.url.endswith("/v1/batch") and r.method == "POST" and r.post_data:
            bodies.append(json.loads(r.post_data))

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            page = browser.new_context().new_page()
            page.on("request", on_request)

            def settle() -> None:
                page.wait_for_function("() => window.threadline && window.threadline.version")
                page.evaluate("() => threadline.flush()")

            page.goto(site.url("/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring"))
            settle()
            page.click("#cta")
            settle()
            page.goto(site.url("/pricing.html"))
            settle()
            page.goto(site.url("/signup.html"))
            settle()
            page.fill("input[name=email]", "ada@example.com")
            page.click("button[type=submit]")
            page.wait_for_url("**/app.html")
            settle()
            page.evaluate("() => threadline.group('acme', {name: 'Acme Inc', plan: 'team'})")
            page.evaluate("() => threadline.track('Report Exported', {format: 'csv', rows: 1200})")
            settle()
            page.goto(site.url("/features.html"))
            settle()
            browser.close()
    finally:
        site.stop()
        proc.terminate()
        proc.wait(30)
    return bodies


def _jwt(sub: str) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part({'sub': sub, 'iat': 1763600000})}.c2ln"


class _Recorder:
    """A loopback HTTP server that keeps every POST body (gunzipped) by path and answers
    like a collector: 200 ``{}`` to reads, the given status to writes."""

    def __init__(self, status: int) -> None:
        self.bodies: list[tuple[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                recorder.bodies.append((self.path, json.loads(raw)))
                self._answer(status)

            def do_GET(self) -> None:
                self._answer(200)

            def _answer(self, code: int) -> None:
                out = b"{}"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def posted(self, path: str) -> list[Any]:
        return [body for p, body in self.bodies if p.split("?")[0] == path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


async def _items(request: Request) -> JSONResponse:
    if request.method == "POST":
        return JSONResponse({"ok": True, "got": await request.json()}, status_code=201)
    return JSONResponse({"items": [{"id": 1}, {"id": 2}], "q": request.query_params.get("q")})


API = Starlette(routes=[Route("/items/{n}", _items, methods=["GET", "POST"])])
CALLS = 24


def _call_api(app: Any) -> None:
    """The same API calls for either middleware: JWT users, a company header, GETs and POSTs."""
    with TestClient(app, base_url="http://api.example.com", client=("203.0.113.9", 50000)) as client:
        for n in range(CALLS):
            headers = {"Authorization": f"Bearer {_jwt(f'user-{n % 3}')}", "X-Company-Id": f"co-{n % 2}",
                       "User-Agent": "python-requests/2.32", "X-API-Version": "1.2"}
            if n % 2:
                client.post(f"/items/{n}", json={"a": n}, headers=headers)
            else:
                client.get(f"/items/{n}?q=shoes", headers=headers)


def capture_middleware() -> list[dict[str, Any]]:
    """Every ``/v1/batch`` body ``threadline.middleware``'s SDK client sent for the calls."""
    recorder = _Recorder(200)
    wrapped = ASGIMiddleware(API, WRITE_KEY, recorder.url,
                             identify_company=lambda req, resp: req.headers.get("x-company-id"))
    try:
        _call_api(wrapped)
        if not wrapped.client.shutdown(30):
            raise SystemExit("the middleware could not deliver its events")
        return recorder.posted("/v1/batch")
    finally:
        recorder.stop()


def capture_moesifasgi() -> list[list[dict[str, Any]]]:
    """Every ``/v1/events/batch`` body the unmodified ``moesifasgi`` sent for the same calls."""
    from moesifasgi import MoesifMiddleware

    recorder = _Recorder(201)
    app = MoesifMiddleware(API, settings={
        "APPLICATION_ID": WRITE_KEY, "BASE_URI": recorder.url,
        "IDENTIFY_COMPANY": lambda req, resp: req.headers.get("x-company-id"),
    })
    try:
        _call_api(app)
        deadline = time.monotonic() + 60
        while sum(len(b) for b in recorder.posted("/v1/events/batch")) < CALLS:
            if time.monotonic() > deadline:
                raise SystemExit("moesifasgi did not send its events within a minute")
            time.sleep(0.2)
        return recorder.posted("/v1/events/batch")
    finally:
        recorder.stop()


def main() -> None:
    from importlib.metadata import version

    playwright_version = version("playwright")

    tracker, middleware, moesif = capture_tracker(), capture_middleware(), capture_moesifasgi()
    for name, got in (("tracker", tracker), ("middleware", middleware), ("moesifasgi", moesif)):
        if not got:
            raise SystemExit(f"nothing captured from the {name}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "source": "POST /v1/batch bodies of t.js (Debian Chromium, Playwright "
                  f"{playwright_version}), threadline.middleware.ASGIMiddleware and moesifasgi "
                  f"{version('moesifasgi')} (POST /v1/events/batch), "
                  "captured by bench/capture_native.py",
        "captured": dt.date.today().isoformat(),
        "tracker": tracker,
        "middleware": middleware,
        "moesifasgi": moesif,
    }, indent=1) + "\n")
    print(f"{OUT}: {sum(len(b['batch']) for b in tracker)} tracker and "
          f"{sum(len(b['batch']) for b in middleware)} middleware messages, "
          f"{sum(len(b) for b in moesif)} moesifasgi events")


if __name__ == "__main__":
    main()
