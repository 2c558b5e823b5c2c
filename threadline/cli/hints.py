"""How to spell the ``threadline`` command in printed next steps so they work as
written: ``scripts/demo`` installs it into ``.venv/bin``, which is not on PATH unless
the virtualenv is activated."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def cli_command(argv0: str | None = None, cwd: Path | None = None) -> str:
    """``threadline`` when that name on PATH is this program, else the path to run it by
    (relative to the working directory when below it, e.g. ``.venv/bin/threadline``)."""
    me = Path(argv0 if argv0 is not None else sys.argv[0])
    if me.name != "threadline":  # python -m threadline, or a test runner
        return "threadline"
    here = (cwd or Path.cwd()).absolute()
    mine = (here / me) if not me.is_absolute() else me
    found = shutil.which("threadline")
    if found is not None and Path(found).resolve() == mine.resolve():
        return "threadline"
    if mine.is_relative_to(here):
        return os.path.relpath(mine, here)
    return str(mine)
