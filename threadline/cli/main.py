"""The root command group; each subcommand lives in its own module."""

from __future__ import annotations

import click

from threadline import __version__
from threadline.cli.demo import demo
from threadline.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="threadline")
def cli() -> None:
    """Threadline: self-hosted identity resolution and product analytics."""


cli.add_command(serve)
cli.add_command(demo)


def main() -> None:
    """Console-script entry point."""
    cli()
