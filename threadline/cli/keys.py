"""``threadline keys`` and ``threadline projects``: keys, rotation, per-project settings.

With no server on the data directory these open the store directly (every project);
through a server they use the query API, which acts on the project of the secret key.
The store keeps keys hashed (storage/keys.py): listings show prefixes, and a key is
printed in full only by the command that creates it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from threadline.cli.client import Target, api, data_option, target_options
from threadline.projects import DEFAULT_PROJECT
from threadline.settings import Settings

if TYPE_CHECKING:
    from threadline.storage.duckdb_store import DuckDBStore

project_option = click.option("--project", default=None, metavar="ID",
                              help="The project (default: the default project, or the key's project).")


@contextmanager
def _local(target: Target, project: str | None) -> Iterator[tuple[DuckDBStore, str]]:
    """The store and the project id, checked to exist."""
    from threadline.cli.local import open_store

    pid = project or DEFAULT_PROJECT
    with open_store(target.settings) as store:
        if not any(p["id"] == pid for p in store.projects()):
            known = ", ".join(p["id"] for p in store.projects())
            raise click.ClickException(f"no project {pid!r} (projects: {known})")
        yield store, pid


def _check_project(remote: dict[str, Any], project: str | None) -> None:
    if project is not None and remote["id"] != project:
        raise click.ClickException(
            f"the key belongs to project {remote['id']!r}, not {project!r}; give --key with {project!r}'s secret key")


def _print_keys(pid: str, name: str, keys: list[dict[str, Any]]) -> None:
    # The store keeps hashes, so a key is listed by its prefix; it is shown in full only
    # when it is created (projects create, keys rotate, the default project's first start).
    click.echo(f"project {pid} ({name})")
    for k in keys:
        click.echo(f"  {k['kind']:<7} {k.get('prefix', '')}…   {_state(k.get('expires_at'))}")


def print_created(keys: dict[str, Any], settings: Settings) -> None:
    """Say the default project's keys when a command has just created them: the store
    keeps hashes, so this is the only time they can be shown (on stderr, so a command's
    own output stays as it was). Keys fixed by the settings are the operator's already."""
    fixed = {settings.write_key, settings.secret_key}
    made = [(kind, keys[f"{kind}_key"]) for kind in ("write", "secret")
            if keys.get("created") and keys[f"{kind}_key"] not in fixed]
    if not made:
        return
    click.echo(f"Created project {keys['project_id']}; its keys are shown only now:", err=True)
    for kind, key in made:
        click.echo(f"  {kind} key{' ' if kind == 'secret' else '  '}{key}", err=True)


def _state(expires: Any) -> str:
    """``valid``, ``valid until ...`` (rotated, in its grace period) or ``expired ...``."""
    if not expires:
        return "valid"
    when = expires if isinstance(expires, dt.datetime) else dt.datetime.fromisoformat(str(expires).rstrip("Z"))
    shown = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the store keeps naive UTC times
    return f"valid until {shown}" if when.replace(tzinfo=None) > now else f"expired {shown}"


@click.group(invoke_without_command=True)
@target_options
@project_option
@click.pass_context
def keys(ctx: click.Context, data_dir: Path | None, url: str | None, key: str | None, project: str | None) -> None:
    """Show a project's keys; "keys rotate" issues new ones."""
    target = Target.of(data_dir, url, key)
    ctx.obj = (target, project)
    if ctx.invoked_subcommand is not None:
        return
    server = target.server()
    if server is None:
        with _local(target, project) as (store, pid):
            name = next(p["name"] for p in store.projects() if p["id"] == pid)
            _print_keys(pid, name, store.keys_of(pid))
        return
    with api(target) as client:
        p = client.get("/api/v1/projects/current")
    _check_project(p, project)
    _print_keys(p["id"], p["name"], p["keys"])


@keys.command()
@target_options
@project_option
@click.pass_obj
def rotate(obj: tuple[Target, str | None], data_dir: Path | None, url: str | None, key: str | None,
           project: str | None) -> None:
    """Issue new keys; the old ones stay valid for the grace period
    (THREADLINE_KEY_GRACE_HOURS, default 24 h). Keys fixed by THREADLINE_WRITE_KEY and
    THREADLINE_SECRET_KEY are left alone."""
    # Options may come before ``rotate`` (the group's) or after it.
    target = Target.of(data_dir, url, key) if data_dir or url or key else obj[0]
    project = project or obj[1]
    server = target.server()
    if server is None:
        fixed = {k for k in (target.settings.write_key, target.settings.secret_key) if k}
        with _local(target, project) as (store, pid):
            new = store.rotate_keys(pid, fixed=fixed if pid == DEFAULT_PROJECT else set())
        hours = target.settings.key_grace_hours
    else:
        with api(target) as client:
            _check_project(client.get("/api/v1/projects/current"), project)
            new = client.post("/api/v1/keys/rotate", {})
        hours = new.get("grace_hours", target.settings.key_grace_hours)
    click.echo(f"write key  {new['write_key']}")
    click.echo(f"secret key {new['secret_key']}")
    click.echo(f"The previous keys stay valid for {hours:g} hours. The new keys are shown "
               "only now: the store keeps their hashes.")


@click.group()
def projects() -> None:
    """Create, list and configure projects."""


@projects.command("create")
@click.argument("name")
@data_option
def create(name: str, data_dir: Path | None) -> None:
    """Create a project and print its keys."""
    target = Target.of(data_dir)
    if target.server() is not None:
        raise click.ClickException(
            "a server is running on this data directory; stop it to create a project "
            "(projects are created offline, so new keys never travel over the network)")
    from threadline.cli.local import open_store
    from threadline.errors import StoreError

    with open_store(target.settings) as store:
        try:
            created = store.create_project(name)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"project    {created['project_id']}")
    click.echo(f"write key  {created['write_key']}")
    click.echo(f"secret key {created['secret_key']}")
    click.echo("The keys are shown only now: the store keeps their hashes.")


@projects.command("list")
@target_options
def list_projects(data_dir: Path | None, url: str | None, key: str | None) -> None:
    """List projects with their settings (through a server: the key's project only)."""
    import orjson

    target = Target.of(data_dir, url, key)
    if target.server() is not None:
        with api(target) as client:
            rows = [client.get("/api/v1/projects/current")]
    else:
        from threadline.cli.local import open_store

        with open_store(target.settings) as store:
            rows = store.projects()
    for p in rows:
        click.echo(f"{p['id']}\t{p['name']}\t{orjson.dumps(p['settings']).decode()}")


@projects.command("set")
@click.argument("name")
@click.argument("value")
@target_options
@project_option
def set_setting(name: str, value: str, data_dir: Path | None, url: str | None, key: str | None,
                project: str | None) -> None:
    """Change a per-project setting: body_capture (true/false), ip_policy (keep/strict),
    junk_ids (comma list added to the built-in junk values), set_once (comma list),
    retention_days (days, or none). Lists take at most 1,000 values of 200 characters."""
    from threadline.projects import ProjectSettings

    try:
        parsed = ProjectSettings().with_value(name, value).to_json()[name]
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    target = Target.of(data_dir, url, key)
    if target.server() is None:
        with _local(target, project) as (store, pid):
            now = store.set_setting(pid, name, value).to_json()[name]
    else:
        with api(target) as client:
            _check_project(client.get("/api/v1/projects/current"), project)
            now = client.request("PATCH", "/api/v1/projects/current/settings", json={name: parsed})["settings"][name]
    shown = ",".join(map(str, now)) if isinstance(now, list) else "none" if now is None else str(now).lower()
    click.echo(f"{name} = {shown}")
