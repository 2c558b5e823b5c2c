"""Finding a server that runs on a data directory, so commands go through its API
instead of fighting it for the store's lock."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SERVER_FILE = "server.json"


@dataclass(frozen=True)
class RunningServer:
    """A server to talk to: its base URL and the secret key to use."""

    url: str
    secret_key: str


def announce(data_dir: Path, url: str, secret_key: str, pid: int | None = None,
             settings: dict[str, str] | None = None) -> Path:
    """Write ``server.json``: ``{"url", "pid", "secret_key", "settings"}`` (owner-only: it
    holds the default project's secret key, which CLI commands use while the server holds
    the store; ``settings`` are the server's settings in effect, secrets masked, for
    ``threadline settings``). Replaced atomically, so a reader never sees half a file.
    Without ``settings``, those of the same process's earlier announcement are kept."""
    path = data_dir / SERVER_FILE
    pid = os.getpid() if pid is None else pid
    if settings is None:
        before = read_announcement(data_dir) or {}
        kept = before.get("settings") if before.get("pid") == pid else None
        settings = kept if isinstance(kept, dict) else None
    body: dict[str, Any] = {"url": url, "pid": pid, "secret_key": secret_key}
    if settings is not None:
        body["settings"] = settings
    tmp = path.with_name(SERVER_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(body, f)
    os.chmod(tmp, 0o600)  # O_CREAT's mode only applies to a new file
    tmp.replace(path)
    return path


def read_announcement(data_dir: Path) -> dict[str, Any] | None:
    """The contents of ``server.json``, or None when absent or unreadable."""
    try:
        info = json.loads((data_dir / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def running_server(data_dir: Path) -> RunningServer | None:
    """The server announced in ``data_dir``, if its process lives and answers /healthz."""
    info = read_announcement(data_dir)
    if info is None:
        return None
    try:
        url = str(info["url"])
        os.kill(int(info["pid"]), 0)
    except PermissionError:  # alive, but another user's process
        pass
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        if httpx.get(url + "/healthz", timeout=2).status_code != 200:
            return None
    except httpx.HTTPError:
        return None
    return RunningServer(url, str(info.get("secret_key", "")))
