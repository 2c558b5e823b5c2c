"""The DuckDB database file of a store: opening it owner-only, cursors for every thread,
and reopening it after a failure.

DuckDB *invalidates* a database after a fatal error, such as a checkpoint that cannot
be written to a full disk: every statement fails from then on, and only a new database
instance (which replays the WAL) works again. ``reopen`` makes that instance and proves
it can write (a probe row and a checkpoint) before anyone uses it. Threads notice the
new instance through a generation number and take new cursors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import duckdb

from threadline.errors import StoreError
from threadline.storage.migrate import migrate

log = logging.getLogger("threadline.store")

# Data files hold every event and the keys' hashes: owner-only. DuckDB deletes its WAL
# at each checkpoint and creates it again at the next commit with the process umask, so
# a writable store sets the process umask to 077 for good (PostgreSQL's server does the
# same) instead of around its own calls; files that exist already are corrected.
DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


# What Threadline keeps in a data directory besides the store file and its WAL.
OWN_FILES = frozenset({"server.json", "server.json.tmp", "session.key", "demo-keys.env"})


def secure_dir(store: Path) -> None:
    """Make the store's directory owner-only: created so, or tightened when it holds only
    Threadline's files (commands create it with ``mkdir`` before the store opens). A
    directory with anything else in it (a home or shared directory given as ``--data``)
    keeps its mode, with a warning when other users can list it."""
    path = store.parent
    if not path.exists():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        return
    st = path.stat()
    if not st.st_mode & 0o077:
        return
    ours = all(e.name in OWN_FILES or e.name.startswith(store.name) for e in path.iterdir())
    if ours and st.st_uid == os.geteuid():
        path.chmod(DIR_MODE)
    else:
        log.warning("the data directory %s is open to other users; the store's files are "
                    "owner-only, but chmod 700 %s keeps their names private too", path, path)


def secure_files(path: Path) -> None:
    """Make the database file and its WAL owner-only where they exist."""
    for f in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            if f.stat().st_mode & 0o077:
                f.chmod(FILE_MODE)


def is_invalidated(exc: BaseException | None) -> bool:
    """Whether DuckDB has invalidated the database: every statement fails until it reopens."""
    return exc is not None and (isinstance(exc, duckdb.FatalException)
                                or "database has been invalidated" in str(exc))


def is_store_failure(exc: BaseException) -> bool:
    """Whether an error is the database's (disk full, I/O, invalidated), not one job's."""
    return (isinstance(exc, duckdb.FatalException | duckdb.IOException)
            or "database has been invalidated" in str(exc))


class Database:
    """One DuckDB database file; ``con`` is replaced when it is reopened."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._lock = threading.Lock()
        self._local = threading.local()
        self.generation = 0
        # Every thread's read cursor, to close at ``close``: one left holding a half-read
        # result keeps a transaction open, and the checkpoint at close waits for it forever.
        self._readers: list[Any] = []
        self.con = self._connect()

    def _connect(self) -> Any:
        if not self.read_only:
            os.umask(UMASK)
            secure_dir(self.path)
        try:
            con = duckdb.connect(str(self.path), read_only=self.read_only)
            if not self.read_only:
                migrate(con)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        if not self.read_only:
            secure_files(self.path)
        return con

    def cursor(self) -> Any:
        """A new connection to the current instance (callers keep it to one thread)."""
        with self._lock:
            return self.con.cursor()

    def read(self) -> Any:
        """This thread's read cursor, renewed when the database was reopened."""
        local = self._local
        old = getattr(local, "cur", None)
        if old is not None and local.generation == self.generation:
            return old
        if old is not None:
            with contextlib.suppress(duckdb.Error):
                old.close()
        with self._lock:
            cur, local.generation = self.con.cursor(), self.generation
            self._readers = [c for c in self._readers if c is not old] + [cur]
        local.cur = cur
        return cur

    def reopen(self, old_cursors: tuple[Any, ...] = (), invalidated: bool = True) -> None:
        """Open the file again; raises :class:`StoreError` while it still cannot be written.

        An invalidated instance is closed first (with ``old_cursors``, the calling
        thread's): DuckDB hands out the cached instance while its connection is open,
        and a fresh one, which replays the WAL, after. A still valid instance (a commit
        failed for lack of space, nothing else) stays open, so readers never meet a
        closed connection: the new connection is to the same instance.
        """
        if invalidated:
            self._close_all(*old_cursors, self.con)
        con = self._connect()
        try:
            # Writing works again only if a commit and a checkpoint do: the checkpoint
            # moves the replayed WAL into the file, the step that failed on a full disk.
            con.execute("UPDATE writer_probe SET written_at = current_timestamp::TIMESTAMP")
            con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            self._close_all(con)
            raise StoreError(f"the store still cannot write: {exc}") from exc
        with self._lock:
            old, self.con = self.con, con
            self.generation += 1
        if not invalidated:
            self._close_all(*old_cursors, old)

    @staticmethod
    def _close_all(*cursors: Any) -> None:
        for c in cursors:
            if c is not None:
                with contextlib.suppress(duckdb.Error):
                    c.close()

    def close_readers(self) -> None:
        """Close every thread's read cursor (at shutdown, when no request runs)."""
        with self._lock:
            readers, self._readers = self._readers, []
        for cur in readers:
            with contextlib.suppress(duckdb.Error):
                cur.close()

    def close(self) -> None:
        self.close_readers()
        with contextlib.suppress(duckdb.Error):
            self.con.close()
