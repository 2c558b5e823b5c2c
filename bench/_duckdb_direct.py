"""A storage baseline for bench/ingest.py: the same batches parsed with orjson and
inserted straight into Threadline's events table (same schema, same primary key) in a
fresh DuckDB file, in one thread, with no HTTP and no identity work. With one batch a
transaction it is the rate of a store that commits each request alone; with as many
batches a transaction as there are clients, the best a group commit can do when every
client waits for its ack (at most one batch per client in flight)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

SCHEMA = Path(__file__).resolve().parents[1] / "threadline" / "storage" / "migrations" / "001_initial.sql"
INSERT = """
    INSERT INTO events (project_id, message_id, seq, type, event, ts, received_at, anonymous_id, user_id,
                        properties, context, source, hidden)
    SELECT 'default', message_id, seq, type, event, ts, ts, anonymous_id, user_id, properties, context,
           'native', false FROM tbl
"""


def _table(rows: list[dict[str, Any]], seq: int) -> pa.Table:
    now = int(time.time() * 1_000_000)
    n = len(rows)
    return pa.table({
        "message_id": [m["messageId"] for m in rows],
        "seq": list(range(seq, seq + n)),
        "type": [m["type"] for m in rows],
        "event": [m.get("event") for m in rows],
        "ts": pa.array([now] * n, pa.int64()).cast(pa.timestamp("us")),
        "anonymous_id": [m.get("anonymousId") for m in rows],
        "user_id": [m.get("userId") for m in rows],
        "properties": [orjson.dumps(m.get("properties")).decode() for m in rows],
        "context": [orjson.dumps(m.get("context")).decode() for m in rows],
    })


def direct_insert(bodies: list[bytes], per_commit: int = 1) -> dict[str, float]:
    """Events per second for parse + insert + commit of ``per_commit`` bodies (each a
    ``{"batch": [...]}``) a transaction."""
    events = 0
    with tempfile.TemporaryDirectory(prefix="tl-direct-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "direct.duckdb"))
        con.execute(SCHEMA.read_text())
        start = time.perf_counter()
        for i in range(0, len(bodies), per_commit):
            rows = [m for body in bodies[i:i + per_commit] for m in orjson.loads(body)["batch"]]
            tbl = _table(rows, events)  # noqa: F841 - scanned by name
            con.execute("BEGIN")
            con.execute(INSERT)
            con.execute("COMMIT")
            events += len(rows)
        elapsed = time.perf_counter() - start
        con.close()
    return {"events_per_s": round(events / elapsed), "seconds": round(elapsed, 2),
            "batches_per_transaction": per_commit}
