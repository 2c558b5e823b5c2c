"""Ingest throughput and latency over HTTP, with its baseline measured in the same run.

* throughput: POST /v1/batch, 100 events a batch, 8 concurrent loopback clients, each
  waiting for its durable ack before sending the next batch;
* latency: single-event POST /v1/track at a fixed 500 requests/s (open loop: latency is
  measured from when a request was due, so a stall is not hidden), spread over 64
  keep-alive connections as a site's browsers spread theirs (``--connections``). A
  connection waits for its answer before sending its next request, so a handful of
  connections would cap the requests the server can group into one commit and measure
  the load generator instead;
* baselines: the same load against the same HTTP stack that parses and stores nothing
  (the HTTP ceiling), and the same batches inserted straight into the events table in
  one thread, one transaction a batch, no HTTP (the storage ceiling, bench/_duckdb_direct.py).

Client and server share the machine's cores; the JSON says how many. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import statistics
import threading
import time
from typing import Any

import orjson

from bench._duckdb_direct import direct_insert
from bench._load import throughput as load
from bench._server import WRITE_KEY, cpu_seconds, peak_rss_mb, start, start_threadline

AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
HEADERS = {"Authorization": AUTH, "Content-Type": "application/json"}


def batch_body(client: int, n: int) -> bytes:
    events = []
    for i in range(100):
        visitor = f"v{client}-{n % 50}-{i % 10}"
        msg: dict[str, Any] = {"type": "page" if i % 3 else "track", "anonymousId": visitor,
                               "messageId": f"b{client}-{n}-{i}", "timestamp": "2026-11-20T10:00:00.000Z",
                               "properties": {"path": f"/docs/{i % 7}", "title": "Docs", "n": i},
                               "context": {"page": {"url": f"https://example.com/docs/{i % 7}"},
                                           "userAgent": "Mozilla/5.0 bench", "locale": "en-US"}}
        if i % 3 == 0:
            msg["event"] = "Clicked"
        if i == 50:
            msg["type"], msg["userId"] = "identify", f"user{client}-{n % 50}"
        events.append(msg)
    return orjson.dumps({"batch": events, "sentAt": "2026-11-20T10:00:00.000Z"})


def throughput(port: int, bodies: dict[int, list[bytes]]) -> dict[str, float]:
    """Every client posts its 100-event batches to ``/v1/batch`` in turn."""
    result = load(port, "/v1/batch", HEADERS, {c: [(b, 100) for b in bs] for c, bs in bodies.items()}, 200)
    return {"events_per_s": result["events_per_s"], "seconds": result["seconds"]}


def latency(port: int, rate: int, seconds: float, threads: int = 64) -> dict[str, float]:
    per_thread = rate / threads
    lat: list[float] = []
    lock = threading.Lock()

    def run(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        interval = 1 / per_thread
        t0 = time.perf_counter() + k * interval / threads
        n = int(per_thread * seconds)
        mine = []
        for i in range(n):
            due = t0 + i * interval
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)  # pacing the load generator, not timing a result
            body = orjson.dumps({"type": "track", "event": "Ping", "anonymousId": f"lat-{k}-{i % 100}",
                                 "messageId": f"lat-{k}-{i}"})
            conn.request("POST", "/v1/track", body, HEADERS)
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - due)
        conn.close()
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lat.sort()
    return {"requests": len(lat), "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
            "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2), "mean_ms": round(statistics.mean(lat) * 1000, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--batches", type=int, default=150, help="batches per client")
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=64, help="concurrent connections of the latency runs")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]

    # Bodies are serialised up front so the load generator spends its CPU on sending.
    bodies = {c: [batch_body(c, n) for n in range(args.batches)] for c in range(args.clients)}
    # Interleaved as the clients send them.
    in_order = [bodies[c][n] for n in range(args.batches) for c in range(args.clients)]
    direct_one = direct_insert(in_order, 1)
    direct_group = direct_insert(in_order, args.clients)

    base_proc, base_url = start(["-m", "bench._null_collector"], "/readyz")
    base_port = int(base_url.rsplit(":", 1)[1])
    try:
        baseline = throughput(base_port, bodies)
        baseline_latency = latency(base_port, args.rate, args.seconds, args.connections)
    finally:
        base_proc.kill()

    proc, url, _ = start_threadline()
    port = int(url.rsplit(":", 1)[1])
    try:
        cpu0, client_cpu0 = cpu_seconds(proc.pid), sum(os.times()[:2])
        ours = throughput(port, bodies)
        ours["server_cpu_s"] = round(cpu_seconds(proc.pid) - cpu0, 2)
        ours["load_generator_cpu_s"] = round(sum(os.times()[:2]) - client_cpu0, 2)
        ours_latency = latency(port, args.rate, args.seconds, args.connections)
        ours_latency_low = latency(port, 100, args.seconds, args.connections)
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)

    result = {
        "benchmark": "ingest",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_before": round(load_before, 2), "load_avg_after": round(os.getloadavg()[0], 2),
                    "note": "load generator (this process, threads) and server share the cores"},
        "throughput": {"threadline": ours, "baseline_no_store": baseline,
                       "baseline_duckdb_direct_insert": direct_one,
                       "baseline_duckdb_direct_insert_grouped": direct_group,
                       "clients": args.clients, "events_per_batch": 100, "durable_ack": True},
        "single_event_latency": {"rate_per_s": args.rate, "connections": args.connections,
                                 "threadline": ours_latency, "baseline_no_store": baseline_latency,
                                 "threadline_at_100_per_s": ours_latency_low},
        "server_peak_rss_mb": round(rss, 1),
        "targets": {
            "events_per_s>=50000": ours["events_per_s"] >= 50000,
            "p99_ms<10_at_500rps": ours_latency["p99_ms"] < 10,
            "rss_mb<1024": rss < 1024,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
