"""Per-request overhead of Threadline's ASGI and WSGI middleware: prints one JSON object.

    .venv/bin/python bench/middleware_overhead.py [--iterations 20000] [--rounds 20]

The same FastAPI app (ASGI) and Flask app (WSGI) are called in-process three ways, in
alternating rounds so that drift (other processes, CPU frequency) hits every side
alike: without the middleware; with it, its consumer parked (``request_path``: what a
request pays, i.e. the capture and one enqueue); and with it sending live
(``with_sending``: the consumer thread builds, redacts, serialises, gzips and posts
every event meanwhile and competes with the request loop for the GIL, as it would in
production). ASGI requests go through a direct ``await app(scope, receive, send)``
loop, WSGI requests through ``app(environ, start_response)`` with the body iterated and
closed, as a server would. Each request is timed on its own; figures are p50/p99/mean
per request in microseconds and the difference ("added"). ``consumer`` is the consumer
thread's own CPU per event, measured by draining the parked queue alone.

Events go to a no-op collector in a separate process, so its cost stays out of the
measurement; the client counters show the events were really delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import io
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import fastapi
import flask

from threadline.middleware import LIBRARY, ASGIMiddleware, WSGIMiddleware
from threadline.sdk import Client

KEY = "wk_bench_0123456789abcdefghijklmn"

NOOP_COLLECTOR = r"""
import gzip, json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        n = len(json.loads(gzip.decompress(raw))["batch"])
        out = json.dumps({"accepted": n, "duplicates": 0, "rejected": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def fastapi_app() -> fastapi.FastAPI:
    app = fastapi.FastAPI()

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget", "price": 9.5}

    return app


def flask_app() -> flask.Flask:
    app = flask.Flask("bench")

    @app.get("/items/<int:item_id>")
    def get_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget", "price": 9.5}

    return app


SCOPE = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
    "scheme": "http", "path": "/items/42", "raw_path": b"/items/42", "root_path": "",
    "query_string": b"q=1",
    "headers": [(b"host", b"api.example.com"), (b"user-agent", b"bench/1.0"),
                (b"accept", b"application/json"),
                (b"authorization", b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1LTEifQ.sig")],
    "client": ("10.0.0.7", 50000), "server": ("api.example.com", 80),
}

ENVIRON = {
    "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/items/42", "QUERY_STRING": "q=1",
    "SERVER_NAME": "api.example.com", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "10.0.0.7", "HTTP_HOST": "api.example.com", "HTTP_USER_AGENT": "bench/1.0",
    "HTTP_ACCEPT": "application/json",
    "HTTP_AUTHORIZATION": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1LTEifQ.sig",
    "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.multithread": True,
    "wsgi.multiprocess": False, "wsgi.run_once": False,
}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


async def time_asgi(app: Any, n: int, out: list[float]) -> None:
    clock = time.perf_counter_ns
    for _ in range(n):
        scope = dict(SCOPE)  # routers write into the scope: a fresh one per request
        t0 = clock()
        await app(scope, _receive, _send)
        out.append((clock() - t0) / 1000.0)


def time_wsgi(app: Callable[..., Iterable[bytes]], n: int, out: list[float]) -> None:
    clock = time.perf_counter_ns

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return lambda data: None

    for _ in range(n):
        environ = dict(ENVIRON)
        environ["wsgi.input"] = io.BytesIO(b"")
        environ["wsgi.errors"] = sys.stderr
        t0 = clock()
        result = app(environ, start_response)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
        out.append((clock() - t0) / 1000.0)


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(ordered[len(ordered) // 2], 2),
        "p99": round(ordered[int(len(ordered) * 0.99)], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def compare(plain: list[float], wrapped: list[float]) -> dict[str, Any]:
    a, b = summary(plain), summary(wrapped)
    return {
        "requests": len(plain),
        "without_us": a,
        "with_us": b,
        "added_us_p50": round(b["p50"] - a["p50"], 2),
        "added_us_p99": round(b["p99"] - a["p99"], 2),
    }


def parked_client(collector_url: str, capacity: int) -> Client:
    """A client whose consumer waits until flush(): the request path alone is timed."""
    return Client(KEY, collector_url, flush_at=10**9, flush_interval=10**9,
                  max_queue_size=capacity, library=LIBRARY)


def consumer_cost(client: Client) -> dict[str, Any]:
    """Drain a parked client in one go: the consumer thread's CPU per event (build,
    redact, serialise, gzip, POST), measured as this process's CPU time while the main
    thread only waits in flush(); the collector runs in another process."""
    queued = client.stats().queued
    cpu0, t0 = time.process_time(), time.perf_counter()
    client.flush(120)
    cpu, elapsed = time.process_time() - cpu0, time.perf_counter() - t0
    s = client.stats()
    client.shutdown()
    return {"events": queued, "cpu_us_per_event": round(cpu / max(queued, 1) * 1e6, 2),
            "wall_us_per_event": round(elapsed / max(queued, 1) * 1e6, 2),
            "requests": s.requests, "failed": s.failed}


def alternate(rounds: int, sides: list[tuple[Any, list[float]]], run_one: Callable[..., None],
              per_round: int) -> None:
    for r in range(rounds):
        order = sides[r % len(sides):] + sides[:r % len(sides)]
        for app, out in order:
            gc.collect()
            run_one(app, per_round, out)


def run(iterations: int, rounds: int, collector_url: str) -> dict[str, Any]:
    per_round = max(1, iterations // rounds)
    results: dict[str, Any] = {}
    capacity = iterations + 10_000

    fa = fastapi_app()
    live = ASGIMiddleware(fa, key=KEY, host=collector_url)
    parked = ASGIMiddleware(fa, client=parked_client(collector_url, capacity))
    loop = asyncio.new_event_loop()

    def run_asgi(app: Any, n: int, out: list[float]) -> None:
        loop.run_until_complete(time_asgi(app, n, out))

    plain: list[float] = []
    path: list[float] = []
    full: list[float] = []
    for app in (fa, parked, live):  # warm-up
        run_asgi(app, 500, [])
    alternate(rounds, [(fa, plain), (parked, path), (live, full)], run_asgi, per_round)
    loop.close()
    live.client.flush(30)
    results["asgi"] = {
        "app": f"fastapi {fastapi.__version__}",
        "request_path": compare(plain, path),
        "with_sending": {**compare(plain, full), "client": _stats(live)},
        "consumer": consumer_cost(parked.client),
    }
    live.client.shutdown()

    fl = flask_app()
    wlive = WSGIMiddleware(fl.wsgi_app, key=KEY, host=collector_url)
    wparked = WSGIMiddleware(fl.wsgi_app, client=parked_client(collector_url, capacity))
    plain, path, full = [], [], []
    for wsgi_app in (fl.wsgi_app, wparked, wlive):
        time_wsgi(wsgi_app, 500, [])
    alternate(rounds, [(fl.wsgi_app, plain), (wparked, path), (wlive, full)], time_wsgi,
              per_round)
    wlive.client.flush(30)
    results["wsgi"] = {
        "app": f"flask {importlib.metadata.version('flask')}",
        "request_path": compare(plain, path),
        "with_sending": {**compare(plain, full), "client": _stats(wlive)},
        "consumer": consumer_cost(wparked.client),
    }
    wlive.client.shutdown()
    return results


def _stats(middleware: ASGIMiddleware | WSGIMiddleware) -> dict[str, int]:
    s = middleware.client.stats()
    return {"enqueued": s.enqueued, "delivered": s.accepted + s.duplicates, "requests": s.requests,
            "dropped": s.dropped_queue_full + s.dropped_invalid + s.dropped_oversized,
            "failed": s.failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000, help="requests per side")
    parser.add_argument("--rounds", type=int, default=20, help="alternating rounds")
    args = parser.parse_args()
    proc = subprocess.Popen([sys.executable, "-c", NOOP_COLLECTOR], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        results = run(args.iterations, args.rounds, f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)
    out = {
        "benchmark": "middleware_overhead",
        "python": platform.python_version(),
        "iterations": args.iterations,
        "target_added_us_p50": 50,
        **results,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
