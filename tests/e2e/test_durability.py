"""Every acked batch survives ``kill -9``, on the native route and on a compat route
(Moesif's event batches), and a retried batch never duplicates.

Clients post concurrently until a share of the batches is acked, then the server is
killed mid-stream. The store on disk is read (read-only) while no server runs, before
a restart could replay or change anything: every message of every acked batch must be
there, as sent. Then a restarted server gets every batch again: each acked one must be
answered as all duplicates, and the stored rows of acked batches must be the original
ones. A client that meets anything but an ack or the kill fails the test.

(The PostgreSQL store the architecture plans does not exist yet, so this runs on the
embedded DuckDB store only.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import WRITE_KEY, LiveServer, start_server
from threadline.storage.duckdb_store import DuckDBStore

PER_BATCH = 50
NATIVE_CLIENTS = 3
NATIVE_BATCHES = 300
MOESIF_BATCHES = 100


@dataclass(frozen=True)
class Batch:
    route: str  # "native" or "moesif"
    n: int

    def ids(self) -> list[str]:
        return [f"dur-{self.route}-{self.n}-{i}" for i in range(PER_BATCH)]

    def post(self, http: httpx.Client) -> httpx.Response:
        if self.route == "native":
            return http.post("/v1/batch", auth=(WRITE_KEY, ""), json={"batch": [
                {"type": "track", "event": "Tick", "anonymousId": f"dur-{self.n % 37}",
                 "userId": f"u-{self.n % 11}" if i == 0 else None, "messageId": mid,
                 "properties": {"n": self.n, "i": i}}
                for i, mid in enumerate(self.ids())]})
        return http.post("/v1/events/batch", headers={"X-Moesif-Application-Id": WRITE_KEY}, json=[
            {"request": {"time": "2026-11-22T15:39:03.085", "uri": f"https://api.test/items/{self.n}?i={i}",
                         "verb": "GET"},
             "response": {"time": "2026-11-22T15:39:03.100", "status": 200},
             "user_id": f"mu-{self.n % 7}", "transaction_id": mid}
            for i, mid in enumerate(self.ids())])

    def acked(self, r: httpx.Response) -> bool:
        return r.status_code == (200 if self.route == "native" else 201)


NATIVE = [Batch("native", n) for n in range(NATIVE_BATCHES)]
MOESIF = [Batch("moesif", n) for n in range(MOESIF_BATCHES)]


def on_disk(data: Path) -> dict[str, tuple[Any, ...]]:
    """The stored rows of this test's messages, read with no server running."""
    store = DuckDBStore(data / "threadline.duckdb", read_only=True)
    try:
        rows = store.read().execute(
            "SELECT message_id, source, epoch_us(received_at), properties::VARCHAR FROM events "
            "WHERE message_id LIKE 'dur-%'").fetchall()
    finally:
        store.con.close()
    out = {r[0]: tuple(r[1:]) for r in rows}
    assert len(out) == len(rows), "a message id stored twice"
    return out


def test_acked_batches_survive_sigkill_and_retries_do_not_duplicate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    acked: list[Batch] = []
    errors: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    enough = threading.Event()

    def client(batches: list[Batch]) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for batch in batches:
                if killed.is_set():
                    return
                try:
                    r = batch.post(http)
                except httpx.HTTPError as exc:
                    if not killed.is_set():
                        with lock:
                            errors.append(f"{batch}: {exc!r}")
                    return
                with lock:
                    if not batch.acked(r):
                        errors.append(f"{batch}: {r.status_code} {r.text[:200]}")
                        return
                    acked.append(batch)
                    if len(acked) >= (NATIVE_BATCHES + MOESIF_BATCHES) // 4 and \
                            any(b.route == "moesif" for b in acked):
                        enough.set()

    threads = [threading.Thread(target=client, args=(NATIVE[k::NATIVE_CLIENTS],)) for k in range(NATIVE_CLIENTS)]
    threads.append(threading.Thread(target=client, args=(MOESIF,)))
    for t in threads:
        t.start()
    ready = enough.wait(180)
    killed.set()
    server.kill()  # SIGKILL while clients are still sending
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a client is stuck"
    assert errors == [], errors
    assert ready, "the server never acked a quarter of the batches"
    acked_before_kill = list(acked)
    assert {b.route for b in acked_before_kill} == {"native", "moesif"}
    assert len(acked_before_kill) < NATIVE_BATCHES + MOESIF_BATCHES, "the kill came after the last batch"

    # What is on disk after the kill, before any server opens the store again.
    before = on_disk(data)
    for batch in acked_before_kill:
        missing = [mid for mid in batch.ids() if mid not in before]
        assert missing == [], f"acked {batch} lost {len(missing)} messages: {missing[:5]}"
        sources = {before[mid][0] for mid in batch.ids()}
        assert sources == ({"native"} if batch.route == "native" else {"moesif-api"}), (batch, sources)
    sent = {mid for b in NATIVE + MOESIF for mid in b.ids()}
    assert set(before) <= sent

    # Restart on the same data directory; the clients retry everything they sent.
    server = start_server(data, port=server.port)
    try:
        retry(server, acked_before_kill)
    finally:
        server.stop()
    after = on_disk(data)
    assert set(after) == sent
    for batch in acked_before_kill:  # the original rows, not re-stored copies
        assert {mid: after[mid] for mid in batch.ids()} == {mid: before[mid] for mid in batch.ids()}, batch


def retry(server: LiveServer, acked_before_kill: list[Batch]) -> None:
    acked_ids = set(acked_before_kill)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for batch in NATIVE + MOESIF:
            r = batch.post(http)
            assert batch.acked(r), (batch, r.status_code, r.text)
            if batch.route == "native" and batch in acked_ids:
                body = r.json()
                assert (body["accepted"], body["duplicates"]) == (0, PER_BATCH), (batch, body)
