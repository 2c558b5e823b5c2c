"""The embedded store: one DuckDB file, one writer thread, many readers.

Readers use their own cursors on the same database instance, so DuckDB's MVCC
lets them read committed data while the writer's transaction is open: queries
never wait for ingest. Another process cannot open the file while the server
holds it; the CLI talks to a running server over HTTP instead (``cli/client``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import orjson

from threadline.errors import StoreError
from threadline.identity.resolver import Changes
from threadline.model import Identifier, Message, Rejected
from threadline.projects import (
    DEFAULT_PROJECT,
    KeyInfo,
    ProjectSettings,
    SettingError,
    new_key,
    valid_key,
)
from threadline.storage.apply import Counters, IngestResult, apply_ingest, persist_changes
from threadline.storage.database import Database, is_invalidated, is_store_failure
from threadline.storage.keys import KeyRing, insert_key, key_hash
from threadline.storage.seen import SeenIds
from threadline.storage.state import ProjectState, load_state
from threadline.storage.tx import StatBuffer, Tx
from threadline.storage.writer import Job, Writer

log = logging.getLogger("threadline.store")
T = TypeVar("T")


def now_us() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)


class DuckDBStore:
    """The default store. All writes go through ``self.writer``; reads through ``read()``."""

    def __init__(self, path: Path, *, max_group: int = 20000, queue_limit: int = 2000,
                 key_grace_hours: float = 24.0, read_only: bool = False) -> None:
        self.path = path
        self.db = Database(path, read_only=read_only)
        self.read_only = read_only
        self.key_grace_hours = key_grace_hours
        self._states: dict[str, ProjectState] = {}
        self.keyring = KeyRing()
        self._made_default: dict[str, str] | None = None
        self._settings: dict[str, ProjectSettings] = {}
        self._salts: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self._wcon: Any = None
        self.counters = self._load_counters()
        self.stat_buffer = StatBuffer()
        self._stats_before = self.stat_buffer.snapshot()
        self.seen = SeenIds()
        self.seen.load(self.cursor())
        self.reload_projects()
        self.writer: Writer | None = None
        if not read_only:
            self.writer = Writer(self._begin, self._commit, self._rollback, self._reset,
                                 max_group=max_group, queue_limit=queue_limit,
                                 recover=self.reopen, store_failure=is_store_failure)

    # ---- connections -------------------------------------------------------------------

    @property
    def con(self) -> Any:
        """The current database connection (replaced when the store reopens)."""
        return self.db.con

    def read(self) -> Any:
        """This thread's read cursor (a connection to the same database instance); a
        :class:`StoreError` (503) while an invalidated database waits to be reopened."""
        writer = self.writer
        if writer is not None and not writer.healthy and is_invalidated(writer.last_failure):
            raise StoreError(f"the store is reopening after a failure: {writer.last_error}")
        return self.db.read()

    def cursor(self) -> Any:
        """A new connection to the database instance (callers keep it to one thread)."""
        return self.db.cursor()

    def reopen(self) -> None:
        """Reopen the database after a store failure (writer thread, between transactions)
        and rebuild everything held in memory from what is committed: identity states,
        counters, the duplicate index, keys and settings. Raises while it cannot write."""
        failure = self.writer.last_failure if self.writer is not None else None
        self.db.reopen((self._wcon,), invalidated=is_invalidated(failure))
        self._wcon = None
        self._states.clear()
        self._salts = {}
        self.counters = self._load_counters()
        seen = SeenIds()
        seen.load(self.cursor())
        self.seen = seen
        self.reload_projects()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.stop()
            if self.stat_buffer.pending:
                try:
                    self.write_sync_direct(lambda con: self.stat_buffer.write_if_due(con, force=True))
                except Exception:  # closing must go on; counters are reporting only
                    log.warning("could not write the last ingest counters", exc_info=True)
        self.db.close_readers()
        try:
            if not self.read_only:
                # FORCE: reader cursors of request threads may still hold transactions; the
                # WAL is durable either way, this only saves replaying it at the next start.
                self.con.execute("FORCE CHECKPOINT")
        except duckdb.Error as exc:
            log.warning("checkpoint at close skipped: %s", exc)
        self.db.close()

    def flush_stats(self) -> None:
        """Write the ingest counters buffered in memory (see ``tx.StatBuffer``)."""
        if self.stat_buffer.pending and self.writer is not None:
            self.write_sync(lambda tx: tx.stat_buffer.write_if_due(tx.con, force=True))

    def write_sync_direct(self, fn: Callable[[Any], None]) -> None:
        """Run ``fn(connection)`` in a transaction on the caller's thread (writer stopped)."""
        cur = self.cursor()
        cur.execute("BEGIN TRANSACTION")
        fn(cur)
        cur.execute("COMMIT")

    def _begin(self) -> Tx:
        wcon = self._wcon
        if wcon is None:
            wcon = self.cursor()
            self._wcon = wcon
        self._stats_before = self.stat_buffer.snapshot()
        wcon.execute("BEGIN TRANSACTION")
        return Tx(wcon, self.seen, self.stat_buffer)

    def _commit(self, tx: Tx) -> None:
        tx.con.execute("COMMIT")
        self.seen.apply(tx.overlay)
        for fn in tx.after_commit:
            fn()

    def _rollback(self, tx: Tx) -> None:
        # The counters the failed transaction took (or wrote) are as if it never ran.
        self.stat_buffer.restore(self._stats_before)
        try:
            tx.con.execute("ROLLBACK")
        except duckdb.Error as exc:  # after a failed COMMIT DuckDB has already aborted it
            log.info("rollback: %s", exc)

    def _reset(self) -> None:
        # In-memory graphs may hold changes of the rolled-back transaction.
        self._states.clear()
        self.counters = self._load_counters()

    def _load_counters(self) -> Counters:
        cur = self.cursor()

        def top(sql: str) -> int:
            row = cur.execute(sql).fetchone()
            return int(row[0] or 0) if row else 0

        return Counters(
            seq=top("SELECT max(seq) FROM events"),
            iid=top("SELECT max(iid) FROM identifiers"),
            qid=top("SELECT max(qid) FROM quarantine"),
        )

    # ---- writing -------------------------------------------------------------------------

    def write(self, fn: Callable[[Tx], T], *, exclusive: bool = False, size: int = 1) -> Future[T]:
        """Queue ``fn`` to run in the writer's transaction; the future resolves after commit."""
        if self.writer is None:
            raise StoreError("the store is open read-only")
        return self.writer.submit(Job(fn, size=size, exclusive=exclusive))

    def write_sync(self, fn: Callable[[Tx], T], *, exclusive: bool = False) -> T:
        return self.write(fn, exclusive=exclusive).result(300)

    def state(self, tx: Tx, project_id: str) -> ProjectState:
        """The project's in-memory identity state (writer thread only), loaded on first use."""
        st = self._states.get(project_id)
        if st is None:
            row = tx.con.execute(
                "SELECT suppression_key FROM projects WHERE id = ?", [project_id]
            ).fetchone()
            if row is None:
                raise StoreError(f"unknown project {project_id}")
            st, changes = load_state(tx.con, project_id, self.settings(project_id), row[0])
            self._states[project_id] = st
            _ = changes  # the stored map already reflects these; replays agree by construction
        return st

    def ingest(self, project_id: str, messages: list[Message], rejected: list[Rejected],
               received_at_us: int, source: str) -> Future[IngestResult]:
        """Queue one request's messages; the future resolves once they are committed."""

        def run(tx: Tx) -> IngestResult:
            st = self.state(tx, project_id)
            return apply_ingest(tx, st, self.counters, messages, rejected, received_at_us, source)

        return self.write(run, size=max(1, len(messages) + len(rejected)))

    def persist(self, tx: Tx, state: ProjectState, changes: Changes) -> None:
        persist_changes(tx, state, changes)

    def apply_retention(self) -> dict[str, int]:
        """Delete events older than each project's ``retention_days``. Identifiers and
        edges stay: who is who outlives the raw events. Returns rows deleted per project."""

        def run(tx: Tx) -> dict[str, int]:
            deleted: dict[str, int] = {}
            for pid, settings in self._settings.items():
                if not settings.retention_days:
                    continue
                cutoff = now_us() - settings.retention_days * 86_400_000_000
                row = tx.con.execute(
                    "SELECT count(*) FROM events WHERE project_id = ? AND ts < make_timestamp(?)",
                    [pid, cutoff]).fetchone()
                if row and row[0]:
                    old = "project_id = ? AND ts < make_timestamp(?)"
                    tx.forget_events(old, [pid, cutoff])
                    tx.con.execute(f"DELETE FROM events WHERE {old}", [pid, cutoff])
                    deleted[pid] = int(row[0])
            return deleted

        return self.write_sync(run)

    # ---- operator actions on persons (identity_ops) -----------------------------------------

    def merge_persons(self, project_id: str, person_ids: list[str]) -> str:
        """Manual merge; returns the merged person's id. Raises HTTPError 404/409."""
        from threadline.storage import identity_ops

        return identity_ops.merge_persons(self, project_id, person_ids)

    def split_person(self, project_id: str, person_id: str, identifiers: list[Identifier]) -> list[str]:
        """Detach identifiers from a person; returns the resulting person ids."""
        from threadline.storage import identity_ops

        return identity_ops.split_person(self, project_id, person_id, identifiers)

    def erase_person(self, project_id: str, person_id: str) -> dict[str, Any]:
        """GDPR erase with suppression; returns the counts of rows removed."""
        from threadline.storage import identity_ops

        return identity_ops.erase_person(self, project_id, person_id)

    # ---- projects, keys, settings, salts ------------------------------------------------------

    def reload_projects(self) -> None:
        """Refresh the key and settings caches from the store."""
        cur = self.cursor()
        self.keyring.load(cur)
        settings = {
            pid: ProjectSettings.from_json(orjson.loads(s))
            for pid, s in cur.execute("SELECT id, settings FROM projects").fetchall()
        }
        with self._lock:
            self._settings = settings

    def auth(self, key: str) -> KeyInfo | None:
        """The project and kind a key opens, or None when unknown or expired."""
        return self.keyring.auth(key)

    @property
    def local_secret_key(self) -> str:
        """A secret key of the default project valid in this process only (keys.py)."""
        return self.keyring.local_secret_key

    def settings(self, project_id: str) -> ProjectSettings:
        return self._settings.get(project_id, ProjectSettings())

    def projects(self) -> list[dict[str, Any]]:
        rows = self.read().execute(
            "SELECT id, name, created_at, settings FROM projects ORDER BY created_at"
        ).fetchall()
        return [{"id": r[0], "name": r[1], "created_at": r[2], "settings": orjson.loads(r[3])} for r in rows]

    def keys_of(self, project_id: str) -> list[dict[str, Any]]:
        """A project's keys as stored: ``prefix``, ``key_hash``, ``kind``, ``created_at``,
        ``expires_at`` (the keys themselves are not kept, see keys.py)."""
        rows = self.read().execute(
            "SELECT prefix, key_hash, kind, created_at, expires_at FROM api_keys WHERE project_id = ? "
            "ORDER BY created_at, kind", [project_id]
        ).fetchall()
        return [{"prefix": r[0], "key_hash": r[1], "kind": r[2], "created_at": r[3], "expires_at": r[4]}
                for r in rows]

    def create_project(self, name: str, project_id: str | None = None,
                       write_key: str | None = None, secret_key: str | None = None) -> dict[str, str]:
        """Create a project with fresh keys (or the given ones); returns id and keys."""
        pid = project_id or _slug(name)
        wk = write_key or new_key("write")
        sk = secret_key or new_key("secret")

        def run(tx: Tx) -> dict[str, str]:
            exists = tx.con.execute("SELECT 1 FROM projects WHERE id = ?", [pid]).fetchone()
            if exists:
                raise StoreError(f"project {pid!r} exists")
            tx.con.execute(
                "INSERT INTO projects VALUES (?, ?, current_timestamp::TIMESTAMP, ?, ?)",
                [pid, name, orjson.dumps(ProjectSettings().to_json()).decode(), secrets.token_hex(32)],
            )
            return self._add_keys(tx, pid, wk, sk)

        return self.write_sync(run)

    def ensure_default_project(self, write_key: str | None, secret_key: str | None) -> dict[str, Any]:
        """Create the default project on first start; make fixed keys valid. Returns
        ``{"project_id", "write_key", "secret_key", "write_prefix", "secret_prefix",
        "created"}``: a key is there in clear only when fixed or created now (None
        otherwise: the store keeps hashes), a prefix always for the newest valid key.
        Keys created by this store object are remembered, so a second call (``serve``
        after ``open_services``) can still print them."""
        for key in (write_key, secret_key):
            if key is not None and not valid_key(key):
                raise StoreError(f"key {key[:6]}... does not have the wk_/sk_ key format")
        row = self.read().execute("SELECT 1 FROM projects WHERE id = ?", [DEFAULT_PROJECT]).fetchone()
        if row is None:
            self._made_default = self.create_project("Default project", DEFAULT_PROJECT,
                                                     write_key, secret_key)
        made = self._made_default

        def fix(tx: Tx) -> None:
            for key, kind in ((write_key, "write"), (secret_key, "secret")):
                if key is None:
                    continue
                tx.con.execute("DELETE FROM api_keys WHERE key_hash = ?", [key_hash(key)])
                insert_key(tx.con, key, DEFAULT_PROJECT, kind)
            tx.after_commit.append(self.reload_projects)

        if write_key or secret_key:
            self.write_sync(fix)
        prefix = {k["kind"]: k["prefix"] for k in self.keys_of(DEFAULT_PROJECT) if k["expires_at"] is None}
        return {
            "project_id": DEFAULT_PROJECT,
            "write_key": write_key or (made["write_key"] if made else None),
            "secret_key": secret_key or (made["secret_key"] if made else None),
            "write_prefix": prefix.get("write"),
            "secret_prefix": prefix.get("secret"),
            "created": made is not None,
        }

    def _add_keys(self, tx: Tx, project_id: str, write_key: str, secret_key: str) -> dict[str, str]:
        """Insert a valid write and secret key; the key cache reloads after the commit."""
        for key, kind in ((write_key, "write"), (secret_key, "secret")):
            insert_key(tx.con, key, project_id, kind)
        tx.after_commit.append(self.reload_projects)
        return {"project_id": project_id, "write_key": write_key, "secret_key": secret_key}

    def rotate_keys(self, project_id: str, fixed: set[str] | None = None,
                    grace_hours: float | None = None) -> dict[str, str]:
        """Issue new keys; old ones stay valid for the grace period. ``fixed`` keys
        (from THREADLINE_WRITE_KEY/SECRET_KEY) are left alone."""
        hours = self.key_grace_hours if grace_hours is None else grace_hours
        wk, sk = new_key("write"), new_key("secret")
        keep = sorted(key_hash(k) for k in fixed or set())

        def run(tx: Tx) -> dict[str, str]:
            if not tx.con.execute("SELECT 1 FROM projects WHERE id = ?", [project_id]).fetchone():
                raise StoreError(f"unknown project {project_id!r}")
            tx.con.execute(
                "UPDATE api_keys SET expires_at = current_timestamp::TIMESTAMP + to_microseconds(?::BIGINT) "
                "WHERE project_id = ? AND expires_at IS NULL AND NOT list_contains(?::VARCHAR[], key_hash)",
                [int(hours * 3600 * 1e6), project_id, keep],
            )
            return self._add_keys(tx, project_id, wk, sk)

        return self.write_sync(run)

    def set_setting(self, project_id: str, name: str, raw: str) -> ProjectSettings:
        """Change one per-project setting (see ``update_settings``)."""
        return self.update_settings(project_id, {name: raw})

    def update_settings(self, project_id: str, changes: dict[str, str]) -> ProjectSettings:
        """Change several per-project settings in one transaction: all of them, or none
        (:class:`SettingError` for the first invalid one). The changes apply to the
        settings as committed, so two concurrent updates never undo each other."""

        def run(tx: Tx) -> ProjectSettings | SettingError:
            row = tx.con.execute("SELECT settings FROM projects WHERE id = ?", [project_id]).fetchone()
            if row is None:
                raise StoreError(f"unknown project {project_id!r}")
            try:
                new = ProjectSettings.from_json(orjson.loads(row[0])).with_values(changes)
            except SettingError as exc:  # returned, not raised: nothing to roll back
                return exc
            tx.con.execute("UPDATE projects SET settings = ? WHERE id = ?",
                           [orjson.dumps(new.to_json()).decode(), project_id])
            tx.after_commit.append(self.reload_projects)
            tx.after_commit.append(lambda: self._states.pop(project_id, None))
            return new

        out = self.write_sync(run)
        if isinstance(out, SettingError):
            raise out
        return out

    def salt(self, project_id: str, day: str) -> bytes:
        """The project's cookieless salt for a UTC day (YYYY-MM-DD), created on first use.
        Salts older than two days are deleted, so a visitor id cannot be recomputed later."""
        hit = self._salts.get((project_id, day))
        if hit is not None:
            return hit

        def run(tx: Tx) -> str:
            row = tx.con.execute("SELECT salt FROM salts WHERE project_id = ? AND day = ?::DATE",
                                 [project_id, day]).fetchone()
            if row:
                return str(row[0])
            salt = secrets.token_hex(32)
            tx.con.execute("INSERT INTO salts VALUES (?, ?::DATE, ?)", [project_id, day, salt])
            tx.con.execute("DELETE FROM salts WHERE day < ?::DATE - INTERVAL 2 DAY", [day])
            return salt

        value = bytes.fromhex(self.write_sync(run))
        with self._lock:
            self._salts = {k: v for k, v in self._salts.items() if k[1] >= day} | {(project_id, day): value}
        return value


def _slug(name: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in name).strip("-")
    while "--" in out:
        out = out.replace("--", "-")
    return out or "project"

