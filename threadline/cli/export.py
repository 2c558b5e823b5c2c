"""``threadline export``: events with their resolved person ids, as Parquet or JSONL.

Events are read page by page from ``GET /api/v1/events`` (of the running server, or of
the application in-process) and written as they come, so memory stays flat whatever
the size of the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
from rich.progress import SpinnerColumn, TextColumn

from threadline.cli import ui
from threadline.cli.client import Api, Target, api, target_options

COLUMNS = ["id", "type", "event", "timestamp", "received_at", "anonymous_id", "user_id", "person_id",
           "company_ids", "properties", "context", "source"]
PAGE = 1000  # the API's largest page


def pages(client: Api, from_: str | None, to: str | None) -> Iterator[list[dict[str, Any]]]:
    """Every event in the range, a page at a time (newest first, as the API lists them)."""
    cursor: str | None = None
    while True:
        page = client.get("/api/v1/events", limit=PAGE, cursor=cursor, **{"from": from_, "to": to})
        if page["data"]:
            yield page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            return


class ParquetOut:
    """Writes API events as Parquet row groups: JSON objects as JSON text, times as
    UTC timestamps, company ids as a list."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        ts = pa.timestamp("ms", tz="UTC")
        self.schema = pa.schema([(name, ts if name in ("timestamp", "received_at") else
                                  pa.list_(pa.string()) if name == "company_ids" else pa.string())
                                 for name in COLUMNS])
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, events: list[dict[str, Any]]) -> None:
        pa = self.pa
        cols: dict[str, Any] = {}
        for name in COLUMNS:
            values = [e.get(name) for e in events]
            if name in ("properties", "context"):
                values = [orjson.dumps(v).decode() if v is not None else None for v in values]
            if name in ("timestamp", "received_at"):
                cols[name] = pa.array(values, pa.string()).cast(self.schema.field(name).type)
            else:
                cols[name] = pa.array(values, self.schema.field(name).type)
        self.writer.write_table(pa.table(cols, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


class JsonlOut:
    """Writes API events one JSON object a line."""

    def __init__(self, path: Path) -> None:
        self.f = path.open("wb")

    def write(self, events: list[dict[str, Any]]) -> None:
        self.f.write(b"".join(orjson.dumps(e) + b"\n" for e in events))

    def close(self) -> None:
        self.f.close()


@click.command()
@click.option("--format", "fmt", type=click.Choice(["parquet", "jsonl"]), default="parquet", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (replaced if it exists).")
@click.option("--from", "from_", default=None, help="Only events at or after this time (ISO 8601).")
@click.option("--to", default=None, help="Only events before this time (ISO 8601).")
@target_options
def export(fmt: str, out: Path, from_: str | None, to: str | None, data_dir: Path | None, url: str | None,
           key: str | None) -> None:
    """Export events, each with the id of the person it belongs to now (newest first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    count = 0
    with api(Target.of(data_dir, url, key)) as client, ui.progress(
        SpinnerColumn(), TextColumn("exporting: {task.completed} events"),
    ) as progress:
        task = progress.add_task("export", total=None)
        writer = ParquetOut(partial) if fmt == "parquet" else JsonlOut(partial)
        try:
            for events in pages(client, from_, to):
                writer.write(events)
                count += len(events)
                progress.advance(task, len(events))
        except BaseException:
            writer.close()
            partial.unlink(missing_ok=True)
            raise
        writer.close()
    # Written beside the target and renamed: a failed export never leaves half a file.
    partial.replace(out)
    click.echo(f"exported {count} events to {out}")
