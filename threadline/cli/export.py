"""``threadline export``: events with their resolved person ids, as Parquet or JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from threadline.cli.client import api
from threadline.settings import Settings

COLUMNS = ["id", "type", "event", "timestamp", "received_at", "anonymous_id", "user_id", "person_id",
           "company_ids", "properties", "context", "source"]


@click.command()
@click.option("--format", "fmt", type=click.Choice(["parquet", "jsonl"]), default="parquet", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "from_", default=None, help="Only events at or after this time (ISO 8601).")
@click.option("--to", default=None, help="Only events before this time (ISO 8601).")
@click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
              help="Data directory [env THREADLINE_DATA_DIR; ./threadline-data].")
@click.option("--key", default=None, help="A project's secret key (default: the default project).")
def export(fmt: str, out: Path, from_: str | None, to: str | None, data_dir: Path | None,
           key: str | None) -> None:
    """Export events, each with the id of the person it belongs to now."""
    settings = Settings.from_env(data_dir=data_dir)
    rows: list[dict[str, Any]] = []
    count = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with api(settings, key) as client, (out.open("wb") if fmt == "jsonl" else _Null()) as f:
        cursor: str | None = None
        while True:
            page = client.get("/api/v1/events", limit=1000, cursor=cursor, **{"from": from_, "to": to})
            for event in page["data"]:
                count += 1
                if fmt == "jsonl":
                    f.write(orjson.dumps(event) + b"\n")
                else:
                    rows.append(event)
            cursor = page.get("next_cursor")
            if not cursor:
                break
    if fmt == "parquet":
        _write_parquet(rows, out)
    click.echo(f"exported {count} events to {out}")


def _write_parquet(rows: list[dict[str, Any]], out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def col(name: str) -> pa.Array:
        values = [r.get(name) for r in rows]
        if name in ("properties", "context"):
            return pa.array([orjson.dumps(v).decode() if v is not None else None for v in values], pa.string())
        if name == "company_ids":
            return pa.array(values, pa.list_(pa.string()))
        if name in ("timestamp", "received_at"):
            return pa.array(values, pa.string()).cast(pa.timestamp("ms", tz="UTC")) if rows else pa.array([], pa.timestamp("ms", tz="UTC"))
        return pa.array(values, pa.string())

    pq.write_table(pa.table({name: col(name) for name in COLUMNS}), out)


class _Null:
    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: bytes) -> None:  # pragma: no cover - never called for parquet
        raise AssertionError
