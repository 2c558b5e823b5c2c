"""A small multi-page test site on a loopback port that installs a third-party browser
SDK, served unmodified from ``tests/e2e/sdks/node_modules`` (``npm ci`` there).

Every ``*.html`` path is a page (title from its name) with the same navigation and the
site's ``head`` snippet; ``/api/...`` answers JSON, for SDKs that capture API calls.
``{origin}`` and ``{other}`` in the snippet and links name this site and a partner.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

NODE_MODULES = Path(__file__).resolve().parent.parent / "e2e" / "sdks" / "node_modules"
# Served paths keep ``lib.js`` in the name: Usermaven's script only auto-initialises then.
SDK_FILES = {
    "/sdk/usermaven/lib.js": NODE_MODULES / "@usermaven/sdk-js/dist/lib.js",
    "/sdk/usermaven/usermaven.es.js": NODE_MODULES / "@usermaven/sdk-js/dist/usermaven.es.js",
    "/sdk/usermaven-legacy/lib.js": NODE_MODULES / "usermaven-sdk-legacy/dist/web/lib.js",
    "/sdk/moesif.min.js": NODE_MODULES / "moesif-browser-js/moesif.min.js",
}

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
{head}
</head><body>
<nav>
 <a id="home" href="/index.html">Home</a> <a id="pricing" href="/pricing.html">Pricing</a>
 <a id="features" href="/features.html">Features</a> <a id="signup" href="/signup.html">Sign up</a>
 <a id="app" href="/app.html">App</a> <a id="partner" href="{other}/landing.html?from=site">Partner</a>
</nav>
<h1>{title}</h1>
<div style="height: 4000px"></div>
</body></html>
"""


def sdks_installed() -> bool:
    return all(p.is_file() for p in SDK_FILES.values())


@dataclass
class Site:
    """One running copy of the site; ``head`` is the SDK install snippet."""

    head: str
    host: str = "127.0.0.1"
    other: str = ""
    port: int = 0
    httpd: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + "/" + path.lstrip("/")

    def render(self, path: str) -> tuple[bytes, str] | None:
        if path in SDK_FILES:
            return SDK_FILES[path].read_bytes(), "application/javascript"
        if path.startswith("/api/"):
            return json.dumps({"path": path, "ok": True}).encode(), "application/json"
        name = path.strip("/") or "index.html"
        if not name.endswith(".html") or "/" in name:
            return None
        fill = {"origin": self.origin, "other": self.other or self.origin}
        head = self.head.replace("{origin}", fill["origin"]).replace("{other}", fill["other"])
        html = PAGE.format(title=name.removesuffix(".html").title(), head=head, other=fill["other"])
        return html.encode(), "text/html; charset=utf-8"

    def start(self) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                found = site.render(urlsplit(self.path).path)
                if found is None:
                    self.send_error(404)
                    return
                body, ctype = found
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.send_header("cache-control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self._answer()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
