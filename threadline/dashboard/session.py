"""Dashboard sessions and CSRF tokens.

A session is a signed cookie naming a server-side session (``session_store``), the
project and a fingerprint of the secret key the user signed in with; it lasts 12 hours
and ends early at logout (the server-side record is deleted) or when that key stops
being valid (rotation, expiry). Every form carries a CSRF token derived from the session, and every
POST must also come from the dashboard's own origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

COOKIE = "tl_session"
LIFETIME_S = 12 * 3600


def load_secret(data_dir: Path) -> bytes:
    """The server's signing key, created once per data directory (owner-only file)."""
    path = data_dir / "session.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
    return key


def key_fingerprint(secret_key: str) -> str:
    return hashlib.sha256(secret_key.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Session:
    """A signed-in user: the server-side session id, the project and the key's fingerprint."""

    session_id: str
    project_id: str
    key_fp: str
    expires: int
    raw: str


class Signer:
    """Makes and checks session cookies and CSRF tokens with one server secret."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def _mac(self, data: bytes) -> str:
        return hmac.new(self.secret, data, hashlib.sha256).hexdigest()

    def issue(self, session_id: str, project_id: str, key_fp: str) -> str:
        """The cookie value of a session recorded server-side under ``session_id``."""
        body = base64.urlsafe_b64encode(orjson.dumps(
            {"s": session_id, "p": project_id, "k": key_fp, "e": int(time.time()) + LIFETIME_S}
        )).decode()
        return f"{body}.{self._mac(body.encode())}"

    def read(self, cookie: str | None) -> Session | None:
        if not cookie or "." not in cookie:
            return None
        body, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(body))
            session = Session(str(data["s"]), str(data["p"]), str(data["k"]), int(data["e"]), cookie)
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def csrf(self, session: Session) -> str:
        return self._mac(b"csrf:" + session.raw.encode())[:32]

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf(session))
