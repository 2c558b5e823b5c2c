"""``threadline keys`` and ``threadline projects``: keys, rotation, per-project settings."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.cli.client import api
from threadline.cli.running import running_server
from threadline.settings import Settings

data_option = click.option("--data", "data_dir", default=None, type=click.Path(path_type=Path),
                           help="Data directory [env THREADLINE_DATA_DIR; ./threadline-data].")
key_option = click.option("--key", default=None, help="A project's secret key (default: the default project).")


def _print_project(project: dict[str, object]) -> None:
    click.echo(f"project {project['id']} ({project.get('name', '')})")
    for k in project.get("keys", []):  # type: ignore[attr-defined]
        state = "valid" if not k.get("expires_at") else f"valid until {k['expires_at']}"
        click.echo(f"  {k['kind']:<7} {k['key']}   {state}")


@click.group(invoke_without_command=True)
@data_option
@key_option
@click.pass_context
def keys(ctx: click.Context, data_dir: Path | None, key: str | None) -> None:
    """Show the project's keys (``keys rotate`` issues new ones)."""
    ctx.obj = (data_dir, key)
    if ctx.invoked_subcommand is None:
        with api(Settings.from_env(data_dir=data_dir), key) as client:
            _print_project(client.get("/api/v1/projects/current"))


@keys.command()
@click.pass_obj
def rotate(obj: tuple[Path | None, str | None]) -> None:
    """Issue new keys; the old ones stay valid for the grace period
    (THREADLINE_KEY_GRACE_HOURS). Keys fixed by THREADLINE_WRITE_KEY/SECRET_KEY stay."""
    data_dir, key = obj
    with api(Settings.from_env(data_dir=data_dir), key) as client:
        new = client.post("/api/v1/keys/rotate", {})
    click.echo(f"write key  {new['write_key']}")
    click.echo(f"secret key {new['secret_key']}")
    click.echo("The previous keys stay valid for the grace period.")


@click.group()
def projects() -> None:
    """Create and configure projects."""


@projects.command("create")
@click.argument("name")
@data_option
def create(name: str, data_dir: Path | None) -> None:
    """Create a project and print its keys."""
    settings = Settings.from_env(data_dir=data_dir)
    if running_server(settings.data_dir) is not None:
        raise click.ClickException(
            "a server is running on this data directory; stop it to create a project "
            "(projects are created offline so keys are never sent over the network)")
    from threadline.cli.local import open_store
    from threadline.errors import StoreError

    with open_store(settings) as store:
        try:
            created = store.create_project(name)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"project    {created['project_id']}")
    click.echo(f"write key  {created['write_key']}")
    click.echo(f"secret key {created['secret_key']}")


@projects.command("list")
@data_option
def list_projects(data_dir: Path | None) -> None:
    """List projects (with a server running: the default project's)."""
    settings = Settings.from_env(data_dir=data_dir)
    if running_server(settings.data_dir) is not None:
        with api(settings) as client:
            p = client.get("/api/v1/projects/current")
        click.echo(f"{p['id']}\t{p.get('name', '')}")
        return
    from threadline.cli.local import open_store

    with open_store(settings) as store:
        for p in store.projects():
            click.echo(f"{p['id']}\t{p['name']}\t{p['settings']}")


@projects.command("set")
@click.argument("name")
@click.argument("value")
@data_option
@key_option
def set_setting(name: str, value: str, data_dir: Path | None, key: str | None) -> None:
    """Change a per-project setting: body_capture, ip_policy, junk_ids (comma list),
    set_once (comma list), retention_days."""
    from threadline.projects import ProjectSettings

    try:
        parsed = ProjectSettings().with_value(name, value).to_json()[name]
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with api(Settings.from_env(data_dir=data_dir), key) as client:
        out = client.request("PATCH", "/api/v1/projects/current/settings", json={name: parsed})
    click.echo(f"{name} = {out.get('settings', out).get(name) if isinstance(out, dict) else parsed}")
