"""Every acked event survives ``kill -9``; a retried batch never duplicates."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.conftest import WRITE_KEY, start_server
from threadline.storage.duckdb_store import DuckDBStore

BATCHES = 400
PER_BATCH = 50
CLIENTS = 4


def batch_body(n: int) -> dict[str, object]:
    return {"batch": [
        {"type": "track", "event": "Tick", "anonymousId": f"dur-{n % 37}", "userId": f"u-{n % 11}" if i == 0 else None,
         "messageId": f"dur-{n}-{i}", "properties": {"n": n, "i": i}}
        for i in range(PER_BATCH)
    ]}


def test_acked_batches_survive_sigkill_and_retries_do_not_duplicate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    acked: set[int] = set()
    lock = threading.Lock()
    killed = threading.Event()
    enough = threading.Event()

    def client(k: int) -> None:
        with httpx.Client(base_url=server.url, auth=(WRITE_KEY, ""), timeout=10) as http:
            for n in range(k, BATCHES, CLIENTS):
                try:
                    r = http.post("/v1/batch", json=batch_body(n))
                except httpx.HTTPError:
                    if killed.is_set():
                        return
                    raise
                if r.status_code == 200:
                    with lock:
                        acked.add(n)
                        if len(acked) >= BATCHES // 4:
                            enough.set()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    assert enough.wait(120), "the server never acked a quarter of the batches"
    killed.set()
    server.kill()  # SIGKILL while clients are still sending
    for t in threads:
        t.join(60)
    acked_before_kill = set(acked)
    assert 0 < len(acked_before_kill) < BATCHES

    # Restart on the same data directory; the clients retry everything they sent.
    server = start_server(data, port=server.port)
    try:
        with httpx.Client(base_url=server.url, auth=(WRITE_KEY, ""), timeout=30) as http:
            dupes = 0
            for n in range(BATCHES):
                r = http.post("/v1/batch", json=batch_body(n))
                assert r.status_code == 200, r.text
                dupes += r.json()["duplicates"]
        # Every batch acked before the kill was found already stored.
        assert dupes >= len(acked_before_kill) * PER_BATCH
    finally:
        server.stop()
    store = DuckDBStore(data / "threadline.duckdb", read_only=True)
    try:
        total, distinct = store.read().execute(
            "SELECT count(*), count(DISTINCT message_id) FROM events WHERE message_id LIKE 'dur-%'"
        ).fetchone()
        stored = {int(mid.split("-")[1]) for (mid,) in store.read().execute(
            "SELECT DISTINCT message_id FROM events WHERE message_id LIKE 'dur-%'").fetchall()}
    finally:
        store.con.close()
    assert total == distinct == BATCHES * PER_BATCH
    assert acked_before_kill <= stored
