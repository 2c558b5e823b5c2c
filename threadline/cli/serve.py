"""``threadline serve``: run the server on a data directory."""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from pathlib import Path

import click

from threadline.cli.hints import cli_command
from threadline.cli.running import announce
from threadline.cli.settings_doc import shown_values
from threadline.settings import Settings


@click.command()
@click.option("--host", default=None, help="Address to listen on [env THREADLINE_HOST; 127.0.0.1].")
@click.option("--port", default=None, type=int, help="Port [env THREADLINE_PORT; 8750].")
@click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
              help="Data directory [env THREADLINE_DATA_DIR; ./threadline-data].")
@click.option("--demo", is_flag=True, default=None,
              help="Load a month of demo traffic first when the store is empty.")
def serve(host: str | None, port: int | None, data_dir: Path | None, demo: bool | None) -> None:
    """Run the server. Creates the data directory and default project on first start
    and prints the URL and keys."""
    from threadline.app import create_app, open_services
    from threadline.cli.uvicorn_run import run_uvicorn
    from threadline.errors import StoreError

    settings = Settings.from_env(host=host, port=port, data_dir=data_dir, demo=demo)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        services = open_services(settings)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    keys = services.store.ensure_default_project(settings.write_key, settings.secret_key)
    if settings.demo:
        from threadline.demo import load_demo_if_empty, store_is_empty

        if store_is_empty(services):
            click.echo("Loading demo traffic (first start only)...")
            loaded = load_demo_if_empty(services)
            click.echo(f"  {loaded['accepted'] if loaded else 0} demo events stored")
    url = f"http://{settings.host if settings.host not in ('0.0.0.0', '::') else '127.0.0.1'}:{settings.port}"
    click.echo(f"Threadline is running at {url}")
    click.echo(f"  data directory : {settings.data_dir.resolve()}")
    click.echo(f"  project        : {keys['project_id']}")
    # The store keeps key hashes: a key is printed in full when fixed or created now.
    shown = {kind: keys[f"{kind}_key"] or f"{keys[f'{kind}_prefix']}…  (shown when created; "
             "`threadline keys rotate` issues new ones)" for kind in ("write", "secret")}
    click.echo(f"  write key      : {shown['write']}   (browser and SDK ingest)")
    click.echo(f"  secret key     : {shown['secret']}   (query API and server-side ingest)")
    click.echo(f"  dashboard      : {url}/   (sign in with the secret key)")
    click.echo(f"  API reference  : {url}/api/v1/openapi.json")
    cmd = cli_command()
    # Other commands find ./threadline-data by themselves; any other directory must be named.
    default = settings.data_dir.resolve() == Path("threadline-data").resolve()
    data_arg = "" if default else f" --data {settings.data_dir}"
    click.echo(f"  command line   : {cmd} person --user-id usr_dana{data_arg}"
               if settings.demo else f"  command line   : {cmd} --help")
    if cmd != "threadline":  # not on PATH: say where it runs from, and how to put it there
        click.echo(f"                   (in {Path.cwd()}; or `source {Path(cmd).parent}/activate` first)")
    app = create_app(settings, services)
    # Ingest allocates many short-lived objects; the default collector thresholds make
    # Python rescan the long-lived identity graph far too often. Freeze what start-up
    # loaded and collect the young generation less eagerly.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)
    # The event loop and the writer thread share the GIL; a shorter switch interval keeps
    # the loop from waiting up to 5 ms behind the writer's Python work.
    sys.setswitchinterval(0.001)
    # CLI commands on this machine use a key valid only while this process runs.
    marker = announce(settings.data_dir, url, services.store.local_secret_key,
                      settings=shown_values(settings))
    try:
        run_uvicorn(app, settings, on_exit=lambda: _withdraw(marker))
    finally:
        _withdraw(marker)


def _withdraw(marker: Path) -> None:
    """Remove ``server.json`` if it still names this process."""
    try:
        if json.loads(marker.read_text()).get("pid") == os.getpid():
            marker.unlink()
    except (OSError, ValueError):
        pass
