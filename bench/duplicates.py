"""What a re-sent batch costs in a large store, next to a new batch in the same run.

A store of ``--events`` events (default 1M) is built in seconds by inserting rows
straight into the events table of a fresh store file; then a real server opens it and
one client posts, in alternating rounds, to ``/v1/batch`` (100 events, durable ack):

* ``new``: a batch of 100 never-seen message ids (the baseline);
* ``resent_recent``: the batch of the previous round again, as a client whose ack was
  lost resends it;
* ``resent_old``: 100 ids of the bulk-inserted events, spread over the whole table, as a
  retry storm after an outage resends batches of every age.

Every answer is checked (100 accepted, or 100 duplicates). Also reported: how long the
server took to open the store (it hashes every stored id into its duplicate index) and
its peak RSS. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import orjson

from bench._server import SECRET_KEY, WRITE_KEY, peak_rss_mb, start_threadline
from threadline.storage.duckdb_store import DuckDBStore

AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
HEADERS = {"Authorization": AUTH, "Content-Type": "application/json"}
T0_US = 1_790_000_000_000_000  # 2026-09: inside the default accepted time range


def build(data: Path, events: int) -> float:
    """A store of ``events`` events of 5,000 visitors; returns the seconds it took."""
    started = time.perf_counter()
    store = DuckDBStore(data / "threadline.duckdb")
    store.ensure_default_project(WRITE_KEY, SECRET_KEY)
    store.close()
    con = duckdb.connect(str(data / "threadline.duckdb"))
    con.execute(
        "INSERT INTO events (project_id, message_id, seq, type, event, ts, received_at, "
        "anonymous_id, properties, context, source, hidden) "
        "SELECT 'default', 'old-' || i, i + 1, 'track', 'Clicked', make_timestamp(?::BIGINT + i * 1000), "
        "make_timestamp(?::BIGINT + i * 1000), 'v-' || (i % 5000), '{\"path\":\"/docs\"}', "
        "'{\"userAgent\":\"Mozilla/5.0 bench\"}', 'native', false FROM range(?) t(i)",
        [T0_US, T0_US, events])
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - started


def body(ids: list[str]) -> bytes:
    return orjson.dumps({"batch": [
        {"type": "track", "event": "Clicked", "messageId": mid, "anonymousId": f"v-{n % 50}",
         "timestamp": "2026-11-20T10:00:00.000Z", "properties": {"path": "/docs", "n": n}}
        for n, mid in enumerate(ids)]})


def post(conn: http.client.HTTPConnection, payload: bytes) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    conn.request("POST", "/v1/batch", payload, HEADERS)
    r = conn.getresponse()
    answer = orjson.loads(r.read())
    elapsed = (time.perf_counter() - started) * 1000
    if r.status != 200:
        raise RuntimeError(f"{r.status}: {answer}")
    return elapsed, answer


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 2), "min_ms": round(ms[0], 2),
            "max_ms": round(ms[-1], 2), "p90_ms": round(ms[int(len(ms) * 0.9)], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000, help="events in the store")
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    data = Path(tempfile.mkdtemp(prefix="tl-bench-dup-")) / "data"
    data.mkdir(parents=True)
    build_s = build(data, args.events)

    started = time.perf_counter()
    proc, url, _ = start_threadline(data)
    open_s = time.perf_counter() - started
    port = int(url.rsplit(":", 1)[1])
    times: dict[str, list[float]] = {"new": [], "resent_recent": [], "resent_old": []}
    step = max(1, args.events // 100)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        post(conn, body([f"warm-{i}" for i in range(100)]))
        for r in range(args.rounds):
            new = [f"new-{r}-{i}" for i in range(100)]
            old = [f"old-{(i * step + r * 7919) % args.events}" for i in range(100)]
            ms, a = post(conn, body(new))
            assert a["accepted"] == 100, a
            times["new"].append(ms)
            ms, a = post(conn, body(new))
            assert a["duplicates"] == 100 and a["accepted"] == 0, a
            times["resent_recent"].append(ms)
            ms, a = post(conn, body(old))
            assert a["duplicates"] == 100 and a["accepted"] == 0, a
            times["resent_old"].append(ms)
        conn.close()
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)

    result = {
        "benchmark": "duplicates",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_before": round(load_before, 2), "load_avg_after": round(os.getloadavg()[0], 2)},
        "store_events": args.events,
        "store_file_mb": round((data / "threadline.duckdb").stat().st_size / 2**20, 1),
        "build_s": round(build_s, 1),
        "server_start_to_ready_s": round(open_s, 2),
        "batch_of_100": {name: summary(ms) for name, ms in times.items()},
        "rounds": args.rounds,
        "baseline": "new: 100 new events in the same run",
        "resent_old_over_new": round(statistics.median(times["resent_old"])
                                     / statistics.median(times["new"]), 2),
        "server_peak_rss_mb": round(rss, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
