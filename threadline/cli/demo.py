"""``threadline demo``: a month of realistic traffic, loaded through the ingest path."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress

from threadline.cli import ui
from threadline.cli.client import Target, api, target_options
from threadline.cli.hints import cli_command
from threadline.demo.generator import DEFAULT_EVENTS


@click.command()
@target_options
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="How many days of traffic, ending now.")
@click.option("--events", default=DEFAULT_EVENTS, show_default=True, type=click.IntRange(500),
              help="About how many events to generate.")
@click.option("--seed", default=7, show_default=True, help="Random seed; the same seed gives the same data.")
def demo(data_dir: Path | None, url: str | None, key: str | None, days: int, events: int, seed: int) -> None:
    """Generate demo traffic into a data directory (or the server running on it).

    Anonymous browsing, sign-ups, several devices per user, cookie clears, a shared
    computer, a cross-domain visit, companies, API calls and junk ids. Message ids depend
    only on the seed, so loading twice stores nothing new."""
    from threadline.demo.generator import batches, generate

    target = Target.of(data_dir, url, key)
    messages = generate(days=days, seed=seed, events=events)
    server = target.server()
    with ui.progress(*Progress.get_default_columns()) as progress:
        task = progress.add_task("loading demo traffic", total=len(messages))
        if server is not None:
            totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
            with api(target) as client:
                for chunk in batches(messages, 400):
                    out = client.ingest(chunk)
                    totals["accepted"] += out["accepted"]
                    totals["duplicates"] += out["duplicates"]
                    totals["rejected"] += len(out["rejected"])
                    progress.advance(task, len(chunk))
        else:
            from threadline.cli.local import open_store
            from threadline.demo.loader import load_messages

            with open_store(target.settings, create=True) as store:
                totals = load_messages(store, messages, progress=lambda n: progress.advance(task, n))
    click.echo(f"demo: {totals['accepted']} events stored, {totals['duplicates']} already there"
               + (f", {totals['rejected']} rejected" if totals.get("rejected") else ""))
    click.echo(f"try: {cli_command()} person --user-id usr_dana" + _where(data_dir, url))


def _where(data_dir: Path | None, url: str | None) -> str:
    if url:
        return f" --url {url} --key SECRET"
    return f" --data {data_dir}" if data_dir else ""
