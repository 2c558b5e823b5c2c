"""Terminal output shared by the commands: progress bars on stderr, wide tables when piped."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import Progress


def progress(*columns: Any) -> Progress:
    """A transient progress bar on stderr, shown only on a terminal (so piped or
    captured output holds only the results)."""
    err = Console(stderr=True)
    return Progress(*columns, console=err, transient=True, disable=not err.is_terminal)


def console() -> Console:
    """A console for tables: the terminal's width, or a wide fixed width when piped
    (rich would otherwise wrap at 80 columns)."""
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)
