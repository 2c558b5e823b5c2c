"""The root command group; each subcommand lives in its own module."""

from __future__ import annotations

import click

from threadline import __version__
from threadline.cli.demo import demo
from threadline.cli.export import export
from threadline.cli.importer import import_
from threadline.cli.keys import keys, projects
from threadline.cli.person import person
from threadline.cli.quarantine import quarantine
from threadline.cli.serve import serve
from threadline.cli.settings_doc import settings_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="threadline")
def cli() -> None:
    """Threadline: self-hosted identity resolution and product analytics."""


cli.add_command(serve)
cli.add_command(demo)
for command in (import_, export, person, quarantine, keys, projects, settings_command):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli()
