"""Dashboard sessions and failed sign-ins, kept in the store.

Sessions live in the ``dashboard_sessions`` table rather than in process memory: the
server may run as several processes on one database, and a logout must end the session
for all of them (an old cookie stops working). The cookie carries a random session id;
the table holds only its hash. Failed sign-ins are counted per client address in
``dashboard_login_failures`` for the same reason: the limit then holds across processes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from threadline.storage.duckdb_store import DuckDBStore, now_us
from threadline.storage.tx import Tx

LOGIN_FAILURES = 10  # failed sign-ins per client address...
LOGIN_WINDOW_S = 300  # ...within this many seconds, then 429 until the oldest ages out


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_session(store: DuckDBStore, project_id: str, key_fp: str, lifetime_s: int) -> str:
    """Record a session and answer its id (for the signed cookie); expired ones are swept."""
    session_id = secrets.token_urlsafe(24)
    now = now_us()

    def run(tx: Tx) -> None:
        tx.con.execute("DELETE FROM dashboard_sessions WHERE expires_at < make_timestamp(?)", [now])
        tx.con.execute("INSERT INTO dashboard_sessions VALUES (?, ?, ?, make_timestamp(?), make_timestamp(?))",
                       [_hash(session_id), project_id, key_fp, now, now + lifetime_s * 1_000_000])

    store.write_sync(run)
    return session_id


def session_alive(store: DuckDBStore, session_id: str, project_id: str, key_fp: str) -> bool:
    """Whether the session is recorded (not logged out) and unexpired, for this project and key."""
    row = store.read().execute(
        "SELECT 1 FROM dashboard_sessions WHERE id_hash = ? AND project_id = ? AND key_fp = ? "
        "AND expires_at > make_timestamp(?)", [_hash(session_id), project_id, key_fp, now_us()]
    ).fetchone()
    return row is not None


def end_session(store: DuckDBStore, session_id: str) -> None:
    """Delete the session: its cookie opens nothing from now on."""
    store.write_sync(lambda tx: tx.con.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?",
                                               [_hash(session_id)]))


@dataclass(frozen=True)
class LoginLimit:
    """Whether a client may try to sign in now, and if not, for how long to wait."""

    allowed: bool
    retry_after_s: int = 0


def login_limit(store: DuckDBStore, client: str) -> LoginLimit:
    """The limit for ``client``: refused after LOGIN_FAILURES failures in LOGIN_WINDOW_S."""
    since = now_us() - LOGIN_WINDOW_S * 1_000_000
    row = store.read().execute(
        "SELECT count(*), epoch_us(min(failed_at)) FROM dashboard_login_failures "
        "WHERE client = ? AND failed_at > make_timestamp(?)", [client, since]
    ).fetchone()
    count, oldest = (int(row[0]), row[1]) if row else (0, None)
    if count < LOGIN_FAILURES or oldest is None:
        return LoginLimit(True)
    wait_us = int(oldest) - since
    return LoginLimit(False, max(1, -(-wait_us // 1_000_000)))


def record_failure(store: DuckDBStore, client: str) -> None:
    """Count one failed sign-in of ``client``; rows past the window are deleted."""
    now = now_us()

    def run(tx: Tx) -> None:
        tx.con.execute("DELETE FROM dashboard_login_failures WHERE failed_at < make_timestamp(?)",
                       [now - LOGIN_WINDOW_S * 1_000_000])
        tx.con.execute("INSERT INTO dashboard_login_failures VALUES (?, make_timestamp(?))", [client, now])

    store.write_sync(run)
