"""The ``threadline`` command line: serve, demo, import, export, person, keys, projects."""

from __future__ import annotations

from threadline.cli.main import cli, main

__all__ = ["cli", "main"]
