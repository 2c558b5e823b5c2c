"""Serve the test site on a loopback port, with the tracker's snippet in every page.

Each page has ``<!--threadline-->`` where the install snippet goes (the stub and the
script tag with this site's ``data-*`` options) and ``{{other}}`` where the partner
site's origin goes, for cross-domain links. ``/spa/...`` serves the single-page app.

Run by hand: ``python -m tests.e2e.site.serve SERVER_URL WRITE_KEY [PORT]``.
"""

from __future__ import annotations

import html
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.site_server import LoopbackSite

SITE = Path(__file__).resolve().parent
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "application/javascript"}

STUB = (
    "<script>\n"
    "window.threadline=window.threadline||{q:[]};\"page track identify group alias reset optOut optIn\""
    ".split(\" \").forEach(function(m){threadline[m]=threadline[m]||function(){threadline.q.push([m,[].slice.call(arguments)])}});\n"
    "</script>"
)


@dataclass
class Site(LoopbackSite):
    """One running copy of the test site: its origin and the tracker options it installs."""

    server_url: str
    write_key: str
    attrs: dict[str, str] = field(default_factory=dict)

    def snippet(self) -> str:
        """The install snippet docs/tracker.md shows, with this site's options."""
        attrs = {"write-key": self.write_key, **self.attrs}
        data = "".join(
            f' data-{k}="{html.escape(v)}"' if v != "" else f" data-{k}" for k, v in attrs.items()
        )
        return f'{STUB}\n<script defer src="{self.server_url}/t.js"{data}></script>'

    def render(self, path: str) -> tuple[bytes, str] | None:
        name = path.strip("/") or "index.html"
        if name.startswith("spa/"):
            name = "spa.html"
        file = (SITE / name).resolve()
        if file.parent != SITE or file.suffix not in TYPES or not file.is_file():
            return None
        text = file.read_text()
        if file.suffix == ".html":
            text = (text.replace("<!--threadline-->", self.snippet())
                    .replace("{{other}}", self.other or self.origin)
                    .replace("{{self}}", self.origin))
        return text.encode(), TYPES[file.suffix]


if __name__ == "__main__":
    server_url, write_key = sys.argv[1], sys.argv[2]
    site = Site(server_url, write_key, {"debug": ""}, port=int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    site.start()
    print(f"test site at {site.origin}/index.html (Ctrl-C stops)")
    threading.Event().wait()
