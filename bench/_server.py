"""Start a throwaway server process on a loopback port for a benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

WRITE_KEY = "wk_bench_0123456789abcdefghijklmn"
SECRET_KEY = "sk_bench_0123456789abcdefghijklmn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(argv: list[str], ready_path: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, *argv, "--port", str(port)],
                            env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + ready_path, timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{argv} did not start")


def start_threadline(data_dir: Path | None = None) -> tuple[subprocess.Popen[bytes], str, Path]:
    data = data_dir or Path(tempfile.mkdtemp(prefix="tl-bench-")) / "data"
    proc, url = start(["-m", "threadline", "serve", "--host", "127.0.0.1", "--data", str(data)], "/readyz",
                      {"THREADLINE_WRITE_KEY": WRITE_KEY, "THREADLINE_SECRET_KEY": SECRET_KEY,
                       "THREADLINE_LOG_LEVEL": "warning"})
    return proc, url, data


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
