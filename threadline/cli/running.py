"""Finding a server that runs on a data directory, so commands go through its API
instead of fighting it for the store's lock."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

SERVER_FILE = "server.json"


@dataclass(frozen=True)
class RunningServer:
    """A live server: its base URL and the default project's secret key."""

    url: str
    secret_key: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60,
                            headers={"Authorization": f"Bearer {self.secret_key}"})


def announce(data_dir: Path, url: str, secret_key: str) -> Path:
    """Write ``server.json`` (owner-only: it holds the secret key)."""
    path = data_dir / SERVER_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "pid": os.getpid(), "secret_key": secret_key}, f)
    return path


def running_server(data_dir: Path) -> RunningServer | None:
    """The server announced in ``data_dir``, if its process lives and answers /healthz."""
    path = data_dir / SERVER_FILE
    try:
        info = json.loads(path.read_text())
        pid = int(info["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        if httpx.get(info["url"] + "/healthz", timeout=2).status_code != 200:
            return None
    except httpx.HTTPError:
        return None
    return RunningServer(info["url"], str(info.get("secret_key", "")))
