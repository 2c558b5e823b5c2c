"""``threadline quarantine``: the messages the collector refused, with the reasons."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
from rich.markup import escape
from rich.table import Table

from threadline.cli import ui
from threadline.cli.client import Target, api, target_options


@click.command()
@click.option("--code", default=None, help="Only this error code (e.g. invalid_message).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="Most rows to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, bodies in full.")
@target_options
def quarantine(code: str | None, limit: int, as_json: bool, data_dir: Path | None, url: str | None,
               key: str | None) -> None:
    """List quarantined (refused) messages, newest first."""
    with api(Target.of(data_dir, url, key)) as client:
        rows = client.get("/api/v1/quarantine", limit=limit, code=code)["data"]
    if as_json:
        for r in rows:
            click.echo(orjson.dumps(r).decode())
        return
    table = Table(title=f"quarantine (newest first, {len(rows)} shown)", title_justify="left")
    for col in ("received", "source", "where", "code", "reason", "body"):
        table.add_column(col, overflow="fold")
    for r in rows:
        body = r["body"] if isinstance(r["body"], str) else orjson.dumps(r["body"]).decode()
        # An import's rejects are kept under their file line; others under the request index.
        where = f"line {r['index']}" if r["source"] == "import" else f"item {r['index']}"
        table.add_row(r["received_at"][:19].replace("T", " "), r["source"], where, r["code"],
                      escape(r["reason"]), escape(body[:120] + ("…" if len(body) > 120 else "")))
    ui.console().print(table)
