"""A full disk, for real: a server process whose data directory is a 48 MB tmpfs.

When the disk fills, DuckDB fails the commit or invalidates the database; the server
must say so (ingest and /readyz answer 503 store_unavailable with Retry-After), reopen
the store by itself once space is freed, and keep every event it acked.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.compat.hosts import until
from tests.conftest import LiveServer, require, start_server

MB = 1 << 20


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MB tmpfs mounted at ``tmp_path/data`` (mounting needs root)."""
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    require(done.returncode == 0, f"mounting a tmpfs needs root: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def batch(n: int) -> list[dict[str, object]]:
    # Random hex properties: DuckDB cannot compress them away, so the disk fills quickly.
    return [{"type": "track", "event": "Filled", "messageId": f"b{n}-{i}", "anonymousId": f"a{n}-{i % 20}",
             "properties": {"blob": os.urandom(300).hex()}} for i in range(200)]


def post(server: LiveServer, client: httpx.Client, n: int) -> httpx.Response:
    return client.post("/v1/batch", json={"batch": batch(n)})


@pytest.mark.parametrize("room_mb", [6, 20], ids=["commit_cannot_write_the_wal",
                                                  "checkpoint_fails_and_invalidates_the_database"])
def test_a_full_disk_makes_the_store_unready_and_it_recovers_without_losing_acked_events(
        tiny_disk: Path, room_mb: int) -> None:
    server = start_server(tiny_disk)
    filler = tiny_disk / "filler"
    try:
        free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
        filler.write_bytes(b"\0" * max(0, free - room_mb * MB))
        acked: list[int] = []
        failed: list[int] = []
        saw_unready = False
        with server.ingest() as client:
            for n in range(400):  # about 60 batches fill 6 MB
                r = post(server, client, n)
                if r.status_code == 200:
                    assert r.json()["accepted"] == 200
                    acked.append(n)
                    continue
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "store_unavailable"
                assert int(r.headers["Retry-After"]) > 0
                failed.append(n)
                ready = httpx.get(server.url + "/readyz", timeout=10)
                if ready.status_code == 503:
                    assert ready.json()["error"]["code"] == "store_unavailable"
                    assert "Retry-After" in ready.headers
                    saw_unready = True
                    # Reads still answer from a valid database, or say 503, never 500.
                    with server.query() as query:
                        r = query.get("/api/v1/persons/lookup", params={"anonymous_id": f"a{acked[0]}-0"})
                    assert r.status_code in (200, 503), r.text
                    break
            assert acked and failed and saw_unready, (len(acked), len(failed), server.log()[-3000:])

            filler.unlink()  # space is back: the store must reopen by itself
            try:
                until(lambda: httpx.get(server.url + "/readyz", timeout=10).status_code == 200,
                      "readyz to say ready again", timeout=60)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{server.log()[-4000:]}") from None
            # Every batch acked before is there (a re-send is all duplicates); every batch
            # that got a 503 is stored when its client retries; new batches are stored.
            for n in acked[-3:]:
                assert post(server, client, n).json() == {"accepted": 0, "duplicates": 200, "rejected": []}
            for n in failed:
                r = post(server, client, n)
                assert r.status_code == 200, r.text
                assert r.json()["accepted"] + r.json()["duplicates"] == 200
            assert post(server, client, 10_000).json()["accepted"] == 200
        with server.query() as query:  # readers moved to the reopened database too
            r = query.get("/api/v1/persons/lookup", params={"anonymous_id": f"a{acked[0]}-0"})
            assert r.status_code == 200, r.text
    finally:
        server.stop()
    con = duckdb.connect(str(tiny_disk / "threadline.duckdb"), read_only=True)
    stored = {m for (m,) in con.execute("SELECT message_id FROM events").fetchall()}
    con.close()
    expected = {f"b{n}-{i}" for n in [*acked, *failed, 10_000] for i in range(200)}
    assert stored == expected
