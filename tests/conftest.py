"""Shared fixtures: a real Threadline server on a loopback port, keys, HTTP clients.

Tests talk to the server the way users do: over HTTP. ``live_server`` starts
``python -m threadline serve`` in a subprocess on a free loopback port with a fresh
data directory and fixed keys, waits for ``/readyz`` and stops it afterwards.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import httpx
import pytest

WRITE_KEY = "wk_test_0123456789abcdefghijklmn"
SECRET_KEY = "sk_test_0123456789abcdefghijklmn"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
# uvicorn drains connections for up to 10 s (timeout_graceful_shutdown), then the store
# closes; a server that needs longer than this after SIGTERM is stuck.
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A running Threadline server process."""

    url: str
    data_dir: Path
    port: int
    write_key: str = WRITE_KEY
    secret_key: str = SECRET_KEY
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None

    def query(self) -> httpx.Client:
        """A client for the query API, authenticated with the secret key."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.secret_key}"}, timeout=30
        )

    def ingest(self) -> httpx.Client:
        """A client for the native collector, authenticated with the write key."""
        return httpx.Client(base_url=self.url, auth=(self.write_key, ""), timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL the server: no shutdown hooks run."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the server and fail the test unless it exits within ``timeout``.

        A server that ignores SIGTERM is a bug (service managers and containers stop it
        that way), so a slow stop is never hidden behind a SIGKILL: the process is still
        killed, to clean up, and then the test fails with the server's log.
        """
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                pytest.fail(f"the server was still running {timeout:.0f} s after SIGTERM:\n{self.log()}")


def start_server(
    data_dir: Path, port: int | None = None, extra_env: dict[str, str] | None = None
) -> LiveServer:
    """Start a server on ``data_dir`` and wait until ``/readyz`` answers 200."""
    port = port or free_port()
    env = dict(os.environ)
    env.update(
        {
            "THREADLINE_WRITE_KEY": WRITE_KEY,
            "THREADLINE_SECRET_KEY": SECRET_KEY,
            "THREADLINE_LOG_LEVEL": "warning",
        }
    )
    env.update(extra_env or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "threadline", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir, port, proc=proc, env=env,
                        log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # polling for readiness, not timing a result
    server.stop()
    raise RuntimeError(f"server did not become ready:\n{server.log()}")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh server with its own data directory, stopped after the test."""
    server = start_server(tmp_path / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for a whole test module (tests must use distinct ids)."""
    server = start_server(tmp_path_factory.mktemp("shared") / "data")
    try:
        yield server
    finally:
        server.stop()


def in_ci() -> bool:
    """Whether the tests run under CI: ``CI`` set to any truthy value ("true", "1", "yes",
    any case), as CI services spell it differently."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def require(condition: bool, why: str) -> None:
    """Skip when an outside dependency is missing, but fail under CI."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required in CI: {why}")
    # allow_module_level: a module may require a package at import time.
    pytest.skip(why, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """Import ``name``, or skip (fail under CI) when it is not installed: the
    ``pytest.importorskip`` of this suite."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(False, f"{name} is not installed ({exc})")
        raise  # unreachable: require() skipped or failed


def chromium_path() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
