"""``threadline person``: one person's identifiers and timeline in the terminal."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from threadline.cli import ui
from threadline.cli.client import Api, Target, api, target_options

Ident = tuple[str, str]


@click.command()
@click.argument("person_id", required=False)
@click.option("--user-id", default=None, help="Find the person by a user id.")
@click.option("--anonymous-id", default=None, help="Find the person by an anonymous id.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1),
              help="Most timeline events to show (the oldest first).")
@target_options
def person(person_id: str | None, user_id: str | None, anonymous_id: str | None, limit: int,
           data_dir: Path | None, url: str | None, key: str | None) -> None:
    """Print a person: identifiers with the evidence that linked each, refused links,
    then the timeline, pre-login events included.

    PERSON_ID may also be the id of a person that was merged away."""
    if sum(x is not None for x in (person_id, user_id, anonymous_id)) != 1:
        raise click.UsageError("give one of PERSON_ID, --user-id or --anonymous-id")
    with api(Target.of(data_dir, url, key)) as client:
        if person_id:
            p = client.get(f"/api/v1/persons/{person_id}")
        else:
            p = client.get("/api/v1/persons/lookup", user_id=user_id, anonymous_id=anonymous_id)
        explain = client.get(f"/api/v1/persons/{p['id']}/explain")
        events, more = _timeline_events(client, p["id"], limit)
    console = ui.console()
    console.print(f"[bold]person {p['id']}[/bold]  {'identified' if p['is_identified'] else 'anonymous'}  "
                  f"{p['event_count']} events  {_t(p['first_seen'])} → {_t(p['last_seen'])}")
    if p.get("traits"):
        console.print("traits: " + escape(", ".join(f"{k}={v}" for k, v in p["traits"].items())))
    if p.get("companies"):
        console.print("companies: " + escape(", ".join(c.get("name") or c["id"] for c in p["companies"])))
    console.print(identifier_table(explain))
    for c in explain.get("conflicts", []):
        console.print(f"[yellow]refused[/yellow] {c['edge']} {_id(c['a'])} — {_id(c['b'])} at {_t(c['time'])}: "
                      f"it would join users {', '.join(c['a_user_ids'])} and {', '.join(c['b_user_ids'])}")
    for b in explain.get("blocks", []):
        if b.get("type") == "split":
            console.print(f"[yellow]split[/yellow] at {_t(b['created_at'])}: "
                          + escape(f"{', '.join(map(_id, b['s']))} kept apart from {', '.join(map(_id, b['r']))}"))
        else:
            console.print(f"[yellow]blocked by a split[/yellow] {b['edge']} "
                          + escape(f"{_id(b['a'])} — {_id(b['b'])} at {_t(b['time'])}"))
    console.print(timeline_table(events))
    if more:
        console.print(f"... more events; show them with --limit {limit * 5}")


def _timeline_events(client: Api, pid: str, limit: int) -> tuple[list[dict[str, Any]], bool]:
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(events) < limit:
        page = client.get(f"/api/v1/persons/{pid}/events", limit=min(limit - len(events), 1000), cursor=cursor)
        events += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            return events, False
    return events, True


def linked_by(explain: dict[str, Any]) -> dict[Ident, dict[str, Any] | None]:
    """For each identifier, the link through which it joined the person: a walk from the
    earliest identifier (the one the person id is named after) over the accepted links.
    The earliest identifier maps to None."""
    idents = sorted(explain.get("identifiers", []), key=lambda i: (i["first_seen"] or "~", i["kind"], i["value"]))
    if not idents:
        return {}
    adjacent: dict[Ident, list[tuple[Ident, dict[str, Any]]]] = {}
    for link in sorted(explain.get("links", []), key=lambda x: x["time"]):
        a, b = (link["a"]["kind"], link["a"]["value"]), (link["b"]["kind"], link["b"]["value"])
        adjacent.setdefault(a, []).append((b, link))
        adjacent.setdefault(b, []).append((a, link))
    root = (idents[0]["kind"], idents[0]["value"])
    via: dict[Ident, dict[str, Any] | None] = {root: None}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for other, link in adjacent.get(node, []):
            if other not in via:
                via[other] = link
                queue.append(other)
    return via


def identifier_table(explain: dict[str, Any]) -> Table:
    """Identifiers, first seen, and the evidence that linked each."""
    via = linked_by(explain)
    table = Table(title="identifiers", title_justify="left")
    for col in ("kind", "value", "first seen", "linked by"):
        table.add_column(col)
    for ident in explain.get("identifiers", []):
        key = (ident["kind"], ident["value"])
        if key not in via:
            how = "—"
        elif via[key] is None:
            how = "first identifier (names the person)"
        else:
            link = via[key]
            assert link is not None
            other = link["b"] if (link["a"]["kind"], link["a"]["value"]) == key else link["a"]
            how = f"{link['edge']} with {_id(other)} at {_t(link['time'])} ({link['source']}, message {link['message_id']})"
        table.add_row(ident["kind"], escape(ident["value"]), _t(ident["first_seen"]), escape(how))
    return table


def timeline_table(events: list[dict[str, Any]]) -> Table:
    """The events, oldest first, one line each."""
    table = Table(title="timeline (oldest first)", title_justify="left")
    for col in ("time", "type", "what", "user id", "anonymous id", "source"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(_t(e["timestamp"]), e["type"], escape(describe(e)), escape(e.get("user_id") or ""),
                      escape((e.get("anonymous_id") or "")[:13]), e.get("source", ""))
    return table


def describe(e: dict[str, Any]) -> str:
    """A short line for an event: the page path, the API call, the event name..."""
    props = e.get("properties") or {}
    if e["type"] in ("page", "screen"):
        return str(props.get("path") or e.get("event") or props.get("url") or "")
    if e["type"] == "track" and e.get("event") == "API Call":
        ms = props.get("duration_ms")
        return (f"API Call {props.get('method', '')} {props.get('route') or props.get('url', '')} → "
                f"{props.get('status', '')}" + (f" ({ms} ms)" if ms is not None else ""))
    if e["type"] == "group":
        return "member of " + ", ".join(e.get("company_ids") or [])
    if e["type"] == "identify":
        return "identify"
    return str(e.get("event") or "")


def _t(iso: str | None) -> str:
    """``2026-11-13T19:09:12.000Z`` as ``2026-11-13 19:09:12``."""
    return (iso or "")[:19].replace("T", " ")


def _id(ident: dict[str, str]) -> str:
    return f"{ident['kind']}:{ident['value']}"
