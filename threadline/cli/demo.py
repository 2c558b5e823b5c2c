"""``threadline demo``: a month of realistic traffic, loaded through the ingest path."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress

from threadline.cli.running import running_server
from threadline.settings import Settings


@click.command()
@click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
              help="Data directory [env THREADLINE_DATA_DIR; ./threadline-data].")
@click.option("--days", default=30, show_default=True, help="How many days of traffic, ending now.")
@click.option("--visitors", default=2000, show_default=True, help="How many visitors (about 15 events each).")
@click.option("--seed", default=7, show_default=True, help="Random seed; the same seed gives the same data.")
def demo(data_dir: Path | None, days: int, visitors: int, seed: int) -> None:
    """Generate demo traffic into a data directory (or a server running on it).

    Anonymous browsing, sign-ups, several devices, cookie clears, a shared computer, a
    cross-domain visit, companies and API calls. Loading twice stores nothing new."""
    from threadline.demo.generator import batches, generate

    settings = Settings.from_env(data_dir=data_dir)
    messages = generate(days=days, seed=seed, visitors=visitors)
    server = running_server(settings.data_dir)
    with Progress() as progress:
        task = progress.add_task("loading demo traffic", total=len(messages))
        if server is not None:
            accepted = duplicates = 0
            with server.client() as http:
                for chunk in batches(messages, 400):
                    r = http.post("/v1/batch", json={"batch": chunk},
                                  auth=(server.secret_key, ""))
                    if r.status_code != 200:
                        raise click.ClickException(f"the server answered {r.status_code}: {r.text[:200]}")
                    accepted += r.json()["accepted"]
                    duplicates += r.json()["duplicates"]
                    progress.advance(task, len(chunk))
            totals = {"accepted": accepted, "duplicates": duplicates}
        else:
            from threadline.cli.local import open_store
            from threadline.demo.loader import load_messages

            with open_store(settings) as store:
                totals = load_messages(store, messages,
                                       progress=lambda n: progress.advance(task, n))
    click.echo(f"demo: {totals['accepted']} events stored, {totals['duplicates']} already there")
