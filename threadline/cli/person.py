"""``threadline person``: one person's identifiers and timeline in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from threadline.cli.client import api
from threadline.settings import Settings


@click.command()
@click.argument("person_id", required=False)
@click.option("--user-id", default=None, help="Find the person by a user id.")
@click.option("--anonymous-id", default=None, help="Find the person by an anonymous id.")
@click.option("--limit", default=200, show_default=True, help="Most timeline events to show.")
@click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
              help="Data directory [env THREADLINE_DATA_DIR; ./threadline-data].")
@click.option("--key", default=None, help="A project's secret key (default: the default project).")
def person(person_id: str | None, user_id: str | None, anonymous_id: str | None, limit: int,
           data_dir: Path | None, key: str | None) -> None:
    """Print a person: identifiers with the evidence that linked each, then the timeline,
    pre-login events included."""
    if not (person_id or user_id or anonymous_id):
        raise click.UsageError("give a PERSON_ID, --user-id or --anonymous-id")
    console = Console()
    with api(Settings.from_env(data_dir=data_dir), key) as client:
        if person_id:
            p = client.get(f"/api/v1/persons/{person_id}")
        else:
            p = client.get("/api/v1/persons/lookup", user_id=user_id, anonymous_id=anonymous_id)
        explain = client.get(f"/api/v1/persons/{p['id']}/explain")
        events = client.get(f"/api/v1/persons/{p['id']}/events", limit=min(limit, 1000))["data"]
    console.print(f"[bold]person {p['id']}[/bold]  {'identified' if p['is_identified'] else 'anonymous'}"
                  f"  {p['event_count']} events  {p['first_seen']} → {p['last_seen']}")
    if p.get("traits"):
        console.print("traits: " + ", ".join(f"{k}={v}" for k, v in p["traits"].items()))
    if p.get("companies"):
        console.print("companies: " + ", ".join(c.get("name") or c["id"] for c in p["companies"]))
    console.print(_identifiers(explain))
    if explain.get("conflicts"):
        for c in explain["conflicts"]:
            console.print(f"[yellow]refused[/yellow] {c['edge']} {c['a']['kind']}:{c['a']['value']} — "
                          f"{c['b']['kind']}:{c['b']['value']} at {c['time']} "
                          f"(would join users {c['a_user_ids']} and {c['b_user_ids']})")
    console.print(_timeline(events, p))


def _identifiers(explain: dict[str, Any]) -> Table:
    table = Table(title="identifiers")
    for col in ("kind", "value", "first seen", "linked by"):
        table.add_column(col)
    links: dict[tuple[str, str], str] = {}
    for link in explain.get("links", []):
        text = f"{link['edge']} {link['time']} ({link['source']})"
        for end in (link["a"], link["b"]):
            links.setdefault((end["kind"], end["value"]), text)
    for ident in explain.get("identifiers", []):
        table.add_row(ident["kind"], ident["value"], ident["first_seen"],
                      links.get((ident["kind"], ident["value"]), "—"))
    return table


def _timeline(events: list[dict[str, Any]], p: dict[str, Any]) -> Table:
    table = Table(title="timeline (oldest first)")
    for col in ("time", "type", "event / page", "ids", "source"):
        table.add_column(col)
    for e in events:
        what = e.get("event") or (e.get("properties") or {}).get("path") or ""
        ids = " ".join(x for x in (e.get("user_id") and f"user:{e['user_id']}",
                                   e.get("anonymous_id") and f"anon:{e['anonymous_id'][:12]}") if x)
        table.add_row(e["timestamp"], e["type"], str(what), ids, e.get("source", ""))
    return table
