"""``threadline keys`` and ``threadline projects``: keys, rotation, per-project settings.

With no server on the data directory these open the store directly (whoever holds the
data directory may see every project's keys). Through a server they use the query API,
which acts on the project of the secret key and shows secret keys by prefix only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from threadline.cli.client import Target, api, data_option, target_options
from threadline.cli.running import RunningServer, announce
from threadline.projects import DEFAULT_PROJECT

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


def _print_keys(pid: str, name: str, keys: list[dict[str, Any]], known_secret: str | None = None) -> None:
    click.echo(f"project {pid} ({name})")
    for k in keys:
        value = k.get("key")
        if value is None:  # the API shows secret keys by prefix only
            prefix = str(k.get("prefix", ""))
            value = known_secret if known_secret and known_secret.startswith(prefix) else prefix + "…"
        click.echo(f"  {k['kind']:<7} {value}   {_state(k.get('expires_at'))}")


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
    _print_keys(p["id"], p["name"], p["keys"], server.secret_key)


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
        _follow_rotation(target, server, new)
    click.echo(f"write key  {new['write_key']}")
    click.echo(f"secret key {new['secret_key']}")
    click.echo(f"The previous keys stay valid for {hours:g} hours.")


def _follow_rotation(target: Target, server: RunningServer, new: dict[str, Any]) -> None:
    """A server found on the data directory announced the default project's secret key;
    announce the new one, or CLI commands would stop working when the old one expires."""
    from threadline.cli.running import read_announcement

    info = read_announcement(target.settings.data_dir)
    if target.url is None and info is not None and info.get("secret_key") == server.secret_key:
        announce(target.settings.data_dir, info["url"], new["secret_key"], pid=int(info["pid"]))


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
    junk_ids (comma list), set_once (comma list), retention_days (days, or none)."""
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
