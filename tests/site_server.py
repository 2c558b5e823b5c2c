"""A test website served on a loopback port in a background thread.

The browser tests install a tracker or a third-party SDK into a small multi-page site
and drive it with Chromium. ``LoopbackSite`` is the server part they share; each site
says what a path answers in ``render`` (``tests/e2e/site/serve.py`` for Threadline's
tracker, ``tests/compat/site.py`` for the unmodified npm SDKs).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit


# kw_only: a subclass's own fields (without defaults) come first, positionally.
@dataclass(kw_only=True)
class LoopbackSite:
    """One running copy of a test site on ``host`` (a loopback name); ``other`` is the
    origin of a partner site for cross-domain links (this site's own when empty)."""

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
        """The body and content type served at ``path``, or ``None`` for a 404."""
        raise NotImplementedError

    def start(self) -> Self:
        """Serve on ``port`` (a free one when 0, then recorded) until ``stop``."""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                found = site.render(urlsplit(self.path).path)
                if found is None:
                    self.send_error(404)
                    return
                body, ctype = found
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                # SDKs that capture API calls post to the site's own /api/... paths.
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._answer()

            def log_message(self, format: str, *args: object) -> None:
                pass

        # The bind is always loopback: ``host`` is a name that resolves to it.
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
