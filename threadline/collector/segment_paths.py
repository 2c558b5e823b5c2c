"""Paths of the Segment-compatible collector routes that other modules must know.

``collector/cors.py`` answers CORS on every collector route; the browser SDKs call the
ones below cross-origin, and those outside ``/v1/`` are listed in
:data:`OUTSIDE_V1` so that its path match covers them.
"""

from __future__ import annotations

# analytics.js batching delivery posts to /v1/b; RudderStack JS beacons to
# /beacon/v1/batch?writeKey=... (key in the query: a beacon cannot set headers).
BATCH = ("/v1/batch", "/v1/b", "/beacon/v1/batch")
# analytics.js's settings document (the key is in the path).
SEGMENT_SETTINGS = "/v1/projects/{write_key}/settings"
# RudderStack JS asks for ``{configUrl}/sourceConfig/?...&writeKey=...``.
SOURCE_CONFIG = ("/sourceConfig", "/sourceConfig/")
# Every path above that does not start with /v1/.
OUTSIDE_V1 = tuple(p for p in (*BATCH, *SOURCE_CONFIG) if not p.startswith("/v1/"))
