"""Every server setting, declared once with its default and help text.

Each setting can be given as an environment variable ``THREADLINE_<NAME>`` (upper
case); the CLI's options override the environment. ``docs/settings.md`` lists them
all and a test keeps that page complete.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Server settings. Per-project settings (body capture, ip policy, junk ids, ...)
    live with the project in the store instead; see ``threadline.projects``."""

    data_dir: Path = _setting(Path("./threadline-data"), "Directory holding the store file and server state.")
    host: str = _setting("127.0.0.1", "Address the server listens on.")
    port: int = _setting(8750, "Port the server listens on.")
    write_key: str | None = _setting(None, "Fixes the default project's write key (wk_...). Always valid.")
    secret_key: str | None = _setting(None, "Fixes the default project's secret key (sk_...). Always valid.")
    admin_token: str | None = _setting(None, "Bearer token for /metrics; when unset /metrics answers loopback clients only.")
    trusted_proxies: str = _setting("", "Comma-separated proxy addresses or CIDRs whose X-Forwarded-For is honoured.")
    log_level: str = _setting("info", "Log level: debug, info, warning, error.")
    native_message_limit: int = _setting(32 * 1024, "Largest native message in bytes; larger ones are quarantined.")
    native_request_limit: int = _setting(500 * 1024, "Largest native request body in bytes (decompressed); larger is 413.")
    usermaven_message_limit: int = _setting(32 * 1024, "Largest Usermaven event in bytes.")
    usermaven_request_limit: int = _setting(1024 * 1024, "Largest Usermaven request body in bytes.")
    moesif_message_limit: int = _setting(1024 * 1024, "Largest Moesif event in bytes.")
    moesif_request_limit: int = _setting(12 * 1024 * 1024, "Largest Moesif request body in bytes.")
    max_future_skew_days: float = _setting(1.0, "Events timed further in the future than this (after skew correction) are stamped with the receipt time.")
    max_past_days: float = _setting(3650.0, "Events older than this many days are quarantined.")
    rejected_limit: int = _setting(100, "Most rejected messages of one request listed in its answer and kept in the quarantine; the rest are counted and summed up in one quarantine row.")
    commit_max_messages: int = _setting(20000, "Most messages one group commit takes.")
    writer_queue_limit: int = _setting(2000, "Most requests waiting for the writer before ingest answers 503.")
    key_grace_hours: float = _setting(24.0, "How long rotated keys stay valid.")
    fixed_day: str | None = _setting(None, "Testing only: the UTC day (YYYY-MM-DD) cookieless salts are taken for.")
    demo: bool = _setting(False, "Load demo data on first start when the store is empty.")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``THREADLINE_*`` variables, then ``overrides`` (non-None ones)."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("THREADLINE_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.default, raw)
        settings = cls(**values)
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in clean:
            clean["data_dir"] = Path(clean["data_dir"])
        return replace(settings, **clean)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(environment variable, default, help) for every setting."""
        return [
            ("THREADLINE_" + f.name.upper(), str(f.default), str(f.metadata["help"]))
            for f in fields(cls)
        ]

    @property
    def store_path(self) -> Path:
        return self.data_dir / "threadline.duckdb"


def _convert(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    return raw
