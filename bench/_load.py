"""Closed-loop HTTP load: concurrent loopback clients, each waiting for its answer."""

from __future__ import annotations

import http.client
import threading
import time

Bodies = dict[int, list[tuple[bytes, int]]]  # client -> [(request body, events in it)]


def throughput(port: int, path: str, headers: dict[str, str], bodies: Bodies,
               ok: int) -> dict[str, float]:
    """Each client posts its bodies in turn, waiting for each answer; events per second."""
    errors: list[str] = []

    def run(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body, _count in bodies[c]:
            conn.request("POST", path, body, headers)
            r = conn.getresponse()
            answer = r.read()
            if r.status != ok:
                errors.append(f"{r.status} {answer[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in bodies]
    start_t = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start_t
    if errors:
        raise RuntimeError(f"{len(errors)} batches failed on {path}: {errors[:3]}")
    sent = [item for b in bodies.values() for item in b]
    events = sum(count for _body, count in sent)
    return {"events_per_s": round(events / elapsed), "seconds": round(elapsed, 2), "events": events,
            "events_per_request": round(events / len(sent), 2),
            "mean_event_bytes": round(sum(len(body) for body, _count in sent) / events)}
