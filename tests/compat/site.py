"""A small multi-page test site on a loopback port that installs a third-party browser
SDK, served unmodified from ``tests/e2e/sdks/node_modules`` (``npm ci`` there).

Every ``*.html`` path is a page (title from its name) with the same navigation and the
site's ``head`` snippet; ``/api/...`` answers JSON, for SDKs that capture API calls.
``{origin}`` and ``{other}`` in the snippet and links name this site and a partner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.site_server import LoopbackSite

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
class Site(LoopbackSite):
    """One running copy of the site; ``head`` is the SDK install snippet."""

    head: str

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
