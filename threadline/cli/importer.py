"""``threadline import``: JSONL or Segment export files, idempotent, with progress.

Every line goes through ``/v1/batch`` (of the running server, or of the application
in-process), so imported events meet exactly the validation, quarantine and identity
rules of live traffic.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import orjson
from rich.progress import BarColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from threadline.cli import ui
from threadline.cli.client import Api, Target, api, target_options
from threadline.collector.formats.common import InvalidMessage, parse_time

BATCH_MESSAGES = 400
BATCH_BYTES = 400_000  # under the native request limit (500 KB)
# A line this long cannot be a valid message (the message limit is far lower); only its
# head is sent, so the quarantine keeps evidence without the request going over its limit.
RAW_KEEP = 16_384
SEGMENT_ONLY = ("projectId", "version", "_metadata", "writeKey", "receivedAt_ms")


@dataclass
class Line:
    """One non-blank line: what to send for it (a message, or the raw text for the
    quarantine) and, for a line that cannot be a message, why."""

    number: int
    item: Any
    error: str = ""
    position: int = 0  # bytes of the file read so far, for the progress bar


def read_lines(path: Path, fmt: str) -> Iterator[Line]:
    """Each non-blank line of ``path`` as a :class:`Line`; gzip files (Segment's S3
    exports are) are read through gunzip."""
    with path.open("rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: Iterable[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        for number, text in enumerate(stream, start=1):
            if text.strip():
                line = _line(number, text, fmt)
                line.position = raw.tell()
                yield line


def _line(number: int, raw: bytes, fmt: str) -> Line:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Line(number, _raw_text(raw), f"not JSON: {exc}")
    if not isinstance(value, dict):
        return Line(number, value, "not a JSON object")
    try:
        return Line(number, to_message(value, fmt, number))
    except InvalidMessage:
        # The server gives the reason and quarantines it, like any bad message.
        return Line(number, value)


def _raw_text(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    return text if len(text) <= RAW_KEEP else text[:RAW_KEEP] + "…"


def to_message(value: dict[str, Any], fmt: str, line: int = 0) -> dict[str, Any]:
    """A message ready for ``/v1/batch``.

    A row of ``threadline export --format jsonl`` (the events API shape) is turned back
    into the Segment-spec message it was stored from (see :func:`from_export`). A line
    without ``messageId`` gets :func:`line_message_id`, so importing the same file again
    stores nothing twice. Clock skew is corrected here with the line's own ``receivedAt``
    (the import's receipt time would be wrong), and ``sentAt`` dropped. Segment's stored
    messages carry the client's time in ``originalTimestamp`` and an already-corrected
    ``timestamp``, which is then kept as it is.
    """
    msg = from_export(value) if fmt == "jsonl" and is_export_row(value) else dict(value)
    if fmt == "segment":
        for k in SEGMENT_ONLY:
            msg.pop(k, None)
    if msg.get("messageId") in (None, ""):
        msg["messageId"] = line_message_id(line, value)
    ts, sent = parse_time(msg.get("timestamp")), parse_time(msg.get("sentAt"), "sentAt")
    received = parse_time(msg.get("receivedAt"), "receivedAt")
    corrected = msg.get("originalTimestamp") not in (None, "")
    if ts is not None and sent is not None and received is not None and not corrected:
        msg["timestamp"] = _iso(ts + (received - sent))
    elif ts is None and received is not None:
        msg["timestamp"] = _iso(received)
    msg.pop("sentAt", None)
    return msg


def line_message_id(line: int, value: Any) -> str:
    """The message id of a line that has none: a hash of its line number and its content.

    Re-importing the file (or a copy, or the same file grown by appended lines) gives
    every line the same id again, so nothing is stored twice; two identical lines of one
    file are two events. The id never depends on when the import ran, unlike an id the
    collector would assign.
    """
    canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return "imp_" + hashlib.sha256(f"{line}:".encode() + canonical).hexdigest()[:32]


EXPORT_KEYS = frozenset({"id", "type", "timestamp", "received_at", "person_id", "company_ids"})


def is_export_row(value: dict[str, Any]) -> bool:
    """Whether ``value`` is a row of ``threadline export`` (the events API shape)."""
    return "messageId" not in value and value.keys() >= EXPORT_KEYS


def from_export(row: dict[str, Any]) -> dict[str, Any]:
    """The Segment-spec message an exported event was stored from: the same message id,
    identifiers, time, properties and context; identify traits, the group's company id
    and traits, the alias's previous id. The exported person id is not sent: identity
    is resolved again from the same evidence, which gives the same persons.

    A personless event (stored from placeholder ids such as ``"undefined"``, or a
    company-only update) is exported without ids; it is sent with an empty
    ``anonymousId``, a placeholder the collector always reads as "no identifier", so it
    is stored personless again instead of refused for having no id at all."""
    type_ = row.get("type")
    msg: dict[str, Any] = {"type": type_, "messageId": row.get("id"), "timestamp": row.get("timestamp")}
    for src, dst in (("anonymous_id", "anonymousId"), ("user_id", "userId")):
        if row.get(src) is not None:
            msg[dst] = row[src]
    if "anonymousId" not in msg and "userId" not in msg:
        msg["anonymousId"] = ""
    for k in ("properties", "context"):
        if row.get(k):
            msg[k] = row[k]
    if type_ == "track":
        msg["event"] = row.get("event")
    elif type_ in ("page", "screen") and row.get("event") is not None:
        msg["name"] = row["event"]
    elif type_ == "identify" and row.get("traits"):
        msg["traits"] = row["traits"]
    elif type_ == "alias" and row.get("previous_id") is not None:
        msg["previousId"] = row["previous_id"]
    elif type_ == "group":
        companies = row.get("company_ids") or []
        if companies:
            msg["groupId"] = companies[0]  # the group call's own company comes first
            traits = (row.get("company_traits") or {}).get(companies[0])
            if traits:
                msg["traits"] = traits
    return msg


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Batcher:
    """Collects lines into requests under the size limits and keeps the totals."""

    client: Api
    totals: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "duplicates": 0, "rejected": 0})
    bad: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    size: int = 0

    def add(self, line: Line) -> None:
        encoded = len(orjson.dumps(line.item))
        if self.lines and (len(self.lines) >= BATCH_MESSAGES or self.size + encoded > BATCH_BYTES):
            self.send()
        self.lines.append(line)
        self.size += encoded

    def send(self) -> None:
        if not self.lines:
            return
        by_number = {line.number: line for line in self.lines}
        out = self.client.ingest([line.item for line in self.lines], [line.number for line in self.lines])
        self.totals["accepted"] += out["accepted"]
        self.totals["duplicates"] += out["duplicates"]
        for r in out["rejected"]:
            line = by_number[r["index"]]  # the server answers with the file line numbers sent
            self.bad.append(f"line {line.number}: {line.error or r['code'] + ': ' + r['reason']}")
        # Past the server's rejects limit only the first are listed; the total counts all.
        total = out.get("rejected_total", len(out["rejected"]))
        self.totals["rejected"] += total
        if total > len(out["rejected"]):
            self.bad.append(f"{total - len(out['rejected'])} more rejected lines: see threadline quarantine")
        self.lines, self.size = [], 0


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "segment"]), default="jsonl", show_default=True,
              help="jsonl: one Segment-spec message a line; segment: Segment's export files (JSON lines, "
                   "optionally gzip).")
@target_options
def import_(file: Path, fmt: str, data_dir: Path | None, url: str | None, key: str | None) -> None:
    """Import events from FILE.

    Importing twice stores nothing twice (message ids, or a content hash for lines
    without one). Bad lines are reported with their line numbers and kept in the
    project's quarantine; they do not stop the import."""
    with api(Target.of(data_dir, url, key)) as client, ui.progress(
        TextColumn("importing {task.fields[name]}"), BarColumn(), TransferSpeedColumn(),
        TimeRemainingColumn(), TextColumn("{task.fields[stored]} stored"),
    ) as progress:
        task = progress.add_task("import", total=file.stat().st_size, name=file.name, stored=0)
        batcher = Batcher(client)
        for line in read_lines(file, fmt):
            batcher.add(line)
            progress.update(task, completed=line.position, stored=batcher.totals["accepted"])
        batcher.send()
    totals, bad = batcher.totals, batcher.bad
    for text in bad[:50]:
        click.echo(text, err=True)
    if len(bad) > 50:
        click.echo(f"... and {len(bad) - 50} more bad lines", err=True)
    click.echo(f"imported {totals['accepted']} events, {totals['duplicates']} already stored, "
               f"{totals['rejected']} rejected (quarantined)")
