"""API keys at rest: the store keeps a hash and a short prefix, never the key.

A key is shown in clear once, when it is created (``threadline projects create``,
``keys rotate``, the default project's first start); afterwards it can be checked but
not read back, so a copy of the store file, a backup or its WAL gives nobody a key.

SHA-256 is enough, no slow password hash (bcrypt, scrypt, argon2) is needed: a slow hash
protects *low-entropy* secrets people choose, by making each guess of a dictionary
attack expensive. These keys are 32 random url-safe characters (192 bits), so there is
no dictionary to try and 2^191 guesses on average; a slow hash would add nothing but
cost to every authenticated request. Keys fixed with ``THREADLINE_WRITE_KEY`` and
``THREADLINE_SECRET_KEY`` are the operator's to choose; they must have the same format.

The key ring also holds one *local* secret key per process, for the default project,
never stored: the server announces it in ``server.json`` so CLI commands on the same
machine can use the query API, and CLI commands that open the store in-process use it
for their in-process app. It dies with the process.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from threadline.projects import DEFAULT_PROJECT, KeyInfo, new_key

PREFIX_CHARS = 8


def key_hash(key: str) -> str:
    """The stored form of a key: SHA-256, lowercase hex (what DuckDB's ``sha256`` gives)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_prefix(key: str) -> str:
    """The displayable start of a key (``wk_`` or ``sk_`` and 5 characters)."""
    return key[:PREFIX_CHARS]


def insert_key(con: Any, key: str, project_id: str, kind: str) -> None:
    """Store a new valid key (its hash and prefix)."""
    con.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, current_timestamp::TIMESTAMP, NULL)",
                [key_hash(key), key_prefix(key), project_id, kind])


class KeyRing:
    """Which project and kind each valid key opens, by hash; reloaded after key changes."""

    def __init__(self) -> None:
        self.local_secret_key = new_key("secret")
        self._local_hash = key_hash(self.local_secret_key)
        self._keys: dict[str, tuple[KeyInfo, int | None]] = {}
        self._lock = threading.Lock()

    def load(self, con: Any) -> None:
        keys: dict[str, tuple[KeyInfo, int | None]] = {
            h: (KeyInfo(pid, kind), exp) for h, pid, kind, exp in con.execute(
                "SELECT key_hash, project_id, kind, epoch_us(expires_at) FROM api_keys").fetchall()
        }
        if con.execute("SELECT 1 FROM projects WHERE id = ?", [DEFAULT_PROJECT]).fetchone():
            keys[self._local_hash] = (KeyInfo(DEFAULT_PROJECT, "secret"), None)
        with self._lock:
            self._keys = keys

    def auth(self, key: str) -> KeyInfo | None:
        """The project and kind ``key`` opens, or None when unknown or expired."""
        hit = self._keys.get(key_hash(key))
        if hit is None:
            return None
        info, exp = hit
        if exp is not None and exp <= int(time.time() * 1_000_000):
            return None
        return info
