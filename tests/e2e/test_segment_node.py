"""@segment/analytics-node (npm), unmodified but for its ``host``, run by Node from a
small script (tests/e2e/sdks/scripts/segment_node.mjs) against a real server: the
journey, a batch whose answer was lost retried and stored once, and a wrong key that
the client reports through its own ``error`` event without retrying."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from tests.compat.site import NODE_MODULES
from tests.conftest import WRITE_KEY, LiveServer, require
from tests.e2e.fault_proxy import drop_first, fault_proxy
from tests.e2e.segment_journey import Journey, check_journey

SCRIPT = NODE_MODULES.parent / "scripts" / "segment_node.mjs"


def run_node(host: str, prefix: str, journey: bool = True, key: str = WRITE_KEY) -> dict[str, Any]:
    """Run the script once; its JSON report (errors the client emitted, events sent)."""
    node = shutil.which("node")
    require(node is not None, "node (20+) is not installed")
    require((NODE_MODULES / "@segment/analytics-node/package.json").is_file(),
            "run `npm ci` in tests/e2e/sdks for @segment/analytics-node")
    opts = {"host": host, "writeKey": key, "prefix": prefix, "journey": journey}
    done = subprocess.run([str(node), str(SCRIPT), json.dumps(opts)], capture_output=True,
                          text=True, timeout=60, cwd=SCRIPT.parent)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_analytics_node_journey_and_a_lost_answer_retried_once(shared_server: LiveServer) -> None:
    j = Journey("ajs-node")
    with fault_proxy(shared_server.url, drop_first(1, "/v1/batch")) as proxy:
        report = run_node(proxy.url, j.prefix)
        sent = [s.status for s in proxy.posts("/v1/batch")]
    assert report == {"errors": [], "events": 4}
    assert sent[0] is None and sent[1:] and all(s == 200 for s in sent[1:]), sent
    check_journey(shared_server, j)


def test_analytics_node_wrong_key_is_one_reported_delivery_failure(shared_server: LiveServer) -> None:
    with fault_proxy(shared_server.url) as proxy:
        report = run_node(proxy.url, "ajs-node-wrong", journey=False, key="wk_wrong_0123456789abcdefghijkl")
        posts = [s.status for s in proxy.posts("/v1/batch")]
    assert posts == [401]
    assert [e["code"] for e in report["errors"]] == ["delivery_failure"]
    assert "401" in report["errors"][0]["reason"]
