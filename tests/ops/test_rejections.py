"""Every rejected request gives one log line (route, status, reason; never a key or a
query string) and a count by route and status in /metrics, bounded for scanners."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.ops.inprocess import client, running_app
from threadline.rejections import MAX_RAW_PATHS

pytestmark = pytest.mark.anyio
METRIC = re.compile(r'^threadline_rejected_requests_total\{route="(.*)",status="(\d+)"\} (\d+)$', re.M)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _counts(text: str) -> dict[tuple[str, int], int]:
    return {(r, int(s)): int(n) for r, s, n in METRIC.findall(text)}


async def test_rejections_are_logged_and_counted_by_route(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="threadline.rejected")
    async with running_app(tmp_path) as app, client(app) as c, client(app, bearer=SECRET_KEY) as q:
        # A client sending to a path we do not serve, with its key in the query string.
        for _ in range(3):
            r = await c.post(f"/v2/track?writeKey={WRITE_KEY}&p_abcde={WRITE_KEY}", json={})
            assert r.status_code == 404
        assert (await c.post(f"/api/v1/event?token={WRITE_KEY}x", json={})).status_code == 401
        assert (await c.post("/v1/batch", json={"batch": []})).status_code == 401
        assert (await q.get("/api/v1/persons/nobody")).status_code == 404
        assert (await q.get("/api/v1/persons", params={"limit": "0"})).status_code == 422
        assert (await c.get("/v1/batch")).status_code == 405
        assert (await c.post("/v1/batch", json={"batch": []}, auth=(WRITE_KEY, ""))).status_code == 200
        metrics = await c.get("/metrics")
    counts = _counts(metrics.text)
    assert counts == {("/v2/track", 404): 3, ("/api/v1/event", 401): 1, ("/v1/batch", 401): 1,
                      ("/api/v1/persons/{person_id}", 404): 1, ("/api/v1/persons", 422): 1,
                      ("/v1/batch", 405): 1}
    lines = [r.getMessage() for r in caplog.records if r.name == "threadline.rejected"]
    assert len(lines) == 8
    assert any("/v2/track" in line and "status=404" in line and "not_found" in line for line in lines)
    assert any("/api/v1/event" in line and "status=401" in line and "unauthorized" in line for line in lines)
    everything = "\n".join(lines) + metrics.text
    for secret in (WRITE_KEY, SECRET_KEY, "writeKey", "token=", "p_abcde"):
        assert secret not in everything


async def test_distinct_unmatched_paths_are_bounded(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as c:
        for n in range(MAX_RAW_PATHS + 50):
            assert (await c.get(f"/scan/{n}")).status_code == 404
        assert (await c.get("/scan/0")).status_code == 404  # a known path keeps its label
        assert (await c.get(f"/v1/projects/{WRITE_KEY}/nothing")).status_code == 404
        text = (await c.get("/metrics")).text
    counts = _counts(text)
    raw = [r for r, _ in counts if r.startswith("/scan/")]
    assert len(raw) == MAX_RAW_PATHS
    assert counts[("/scan/0", 404)] == 2
    assert counts[("other", 404)] == 51  # 50 more scanner paths and the key-carrying one
    assert WRITE_KEY not in text
