"""``threadline import``: JSONL or Segment export files, idempotent, with progress."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

from threadline.cli.client import api
from threadline.collector.formats.common import InvalidMessage, parse_time
from threadline.settings import Settings

BATCH_MESSAGES = 400
BATCH_BYTES = 400_000  # under the native request limit


def read_lines(path: Path, fmt: str) -> Iterator[tuple[int, int, dict[str, Any] | None, str]]:
    """(line number, bytes read, message or None, error) for each non-blank line."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield number, len(raw), None, f"not JSON: {exc}"
                continue
            if not isinstance(value, dict):
                yield number, len(raw), None, "not a JSON object"
                continue
            try:
                yield number, len(raw), to_message(value, fmt), ""
            except InvalidMessage as exc:
                yield number, len(raw), None, exc.reason


def to_message(value: dict[str, Any], fmt: str) -> dict[str, Any]:
    """A message ready for ``/v1/batch``.

    Segment exports carry the original ``receivedAt``: the skew correction is applied
    here with it (the import's own receipt time would be wrong), and ``sentAt`` dropped.
    """
    msg = dict(value)
    if fmt == "segment":
        for k in ("projectId", "version", "receivedAt_ms", "_metadata"):
            msg.pop(k, None)
    ts, sent, received = (parse_time(msg.get("timestamp")), parse_time(msg.get("sentAt")),
                          parse_time(msg.get("receivedAt"), "receivedAt"))
    if ts is not None and sent is not None and received is not None:
        corrected = ts + (received - sent)
        msg["timestamp"] = _iso(corrected)
    elif ts is None and received is not None:
        msg["timestamp"] = _iso(received)
    msg.pop("sentAt", None)
    return msg


def _iso(us: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "segment"]), default="jsonl",
              show_default=True, help="jsonl: one Segment-spec message a line; segment: Segment's export files.")
@click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
              help="Data directory [env THREADLINE_DATA_DIR; ./threadline-data].")
@click.option("--key", default=None, help="A project's secret key (default: the default project).")
def import_(file: Path, fmt: str, data_dir: Path | None, key: str | None) -> None:
    """Import events from FILE. Running it twice stores nothing twice (message ids, or a
    content hash for lines without one). Bad lines are reported and skipped."""
    settings = Settings.from_env(data_dir=data_dir)
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    bad: list[str] = []
    with api(settings, key) as client, Progress(
        TextColumn("importing {task.fields[name]}"), BarColumn(), TransferSpeedColumn(),
        TextColumn("{task.fields[stored]} stored"),
    ) as progress:
        task = progress.add_task("import", total=file.stat().st_size, name=file.name, stored=0)
        batch: list[dict[str, Any]] = []
        lines: list[int] = []
        size = 0

        def send() -> None:
            nonlocal batch, lines, size
            if not batch:
                return
            out = client.post("/v1/batch", {"batch": batch}, auth=(client.secret_key, ""))
            totals["accepted"] += out["accepted"]
            totals["duplicates"] += out["duplicates"]
            for r in out["rejected"]:
                totals["rejected"] += 1
                bad.append(f"line {lines[r['index']]}: {r['code']}: {r['reason']}")
            progress.update(task, stored=totals["accepted"])
            batch, lines, size = [], [], 0

        for number, nbytes, msg, error in read_lines(file, fmt):
            progress.advance(task, nbytes)
            if msg is None:
                totals["rejected"] += 1
                bad.append(f"line {number}: {error}")
                continue
            encoded = len(orjson.dumps(msg))
            if batch and (len(batch) >= BATCH_MESSAGES or size + encoded > BATCH_BYTES):
                send()
            batch.append(msg)
            lines.append(number)
            size += encoded
        send()
    for line in bad[:50]:
        click.echo(line, err=True)
    if len(bad) > 50:
        click.echo(f"... and {len(bad) - 50} more bad lines", err=True)
    click.echo(f"imported {totals['accepted']} events, {totals['duplicates']} already stored, "
               f"{totals['rejected']} rejected (quarantined when they reached the server)")
