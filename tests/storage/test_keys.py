"""Secrets at rest: owner-only data files, API keys stored as hashes (shown once), auth
by hash, fixed keys, the process-local key, and the migration of stores that kept keys
in clear."""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path

import duckdb
import pytest

from threadline.projects import DEFAULT_PROJECT, new_key
from threadline.storage.duckdb_store import DuckDBStore
from threadline.storage.migrate import migrations

WRITE = "wk_fixed_0123456789abcdefghijklmn"
SECRET = "sk_fixed_0123456789abcdefghijklmn"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def store_bytes(path: Path) -> bytes:
    wal = path.with_name(path.name + ".wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_a_new_data_directory_and_its_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    store = DuckDBStore(data / "threadline.duckdb")
    try:
        store.ensure_default_project(None, None)
        wal = data / "threadline.duckdb.wal"
        assert mode(data) == 0o700 and mode(data / "threadline.duckdb") == 0o600
        assert wal.exists() and mode(wal) == 0o600
        # DuckDB deletes the WAL at a checkpoint and makes a new one at the next commit.
        store.con.execute("FORCE CHECKPOINT")
        store.create_project("After checkpoint")
        assert wal.exists() and mode(wal) == 0o600
    finally:
        store.close()


def test_an_existing_data_directory_is_tightened_only_when_it_holds_only_threadline_files(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ours, shared = tmp_path / "ours", tmp_path / "shared"
    for d in (ours, shared):
        d.mkdir()
        d.chmod(0o755)
    (ours / "server.json").write_text("{}")
    (shared / "notes.txt").write_text("someone else's")
    for d in (ours, shared):
        DuckDBStore(d / "threadline.duckdb").close()
    assert mode(ours) == 0o700
    assert mode(shared) == 0o755 and "open to other users" in caplog.text
    assert mode(shared / "threadline.duckdb") == 0o600


def test_no_key_is_in_the_store_files_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "k.duckdb"
    store = DuckDBStore(path)
    try:
        shown = [v for v in store.ensure_default_project(WRITE, SECRET).values() if isinstance(v, str)]
        made = store.create_project("Mobile")
        rotated = store.rotate_keys("mobile")
        keys = [WRITE, SECRET, made["write_key"], made["secret_key"],
                rotated["write_key"], rotated["secret_key"], store.local_secret_key]
        assert WRITE in shown and all(k.startswith(("wk_", "sk_")) for k in keys)
        blob = store_bytes(path)  # the WAL holds everything committed so far
        assert path.with_name(path.name + ".wal").exists()
        for key in keys:
            assert key.encode() not in blob and key[8:].encode() not in blob
            assert store.auth(key) is not None
        assert hashlib.sha256(SECRET.encode()).hexdigest().encode() in blob
    finally:
        store.close()
    blob = store_bytes(path)  # checkpointed into the database file at close
    assert not any(k.encode() in blob for k in keys)


def test_keys_open_their_project_by_hash_and_expire(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "a.duckdb")
    try:
        created = store.ensure_default_project(None, None)
        assert created["created"] and created["secret_key"].startswith("sk_")
        again = store.ensure_default_project(None, None)
        assert again["secret_key"] == created["secret_key"]  # remembered by this store only
        wk, sk = created["write_key"], created["secret_key"]
        info = store.auth(sk)
        assert info is not None and (info.project_id, info.kind) == (DEFAULT_PROJECT, "secret")
        assert store.auth(new_key("secret")) is None and store.auth("") is None
        listed = store.keys_of(DEFAULT_PROJECT)
        assert {k["prefix"] for k in listed} == {wk[:8], sk[:8]} and all("key" not in k for k in listed)
        store.rotate_keys(DEFAULT_PROJECT, grace_hours=0)
        assert store.auth(sk) is None and store.auth(wk) is None  # rotated with no grace
        local = store.auth(store.local_secret_key)
        assert local is not None and local.kind == "secret"  # never stored, never rotated
    finally:
        store.close()
    reopened = DuckDBStore(tmp_path / "a.duckdb")
    try:
        shown = reopened.ensure_default_project(None, None)
        # A new process cannot show the keys again: it has only their hashes.
        assert shown["write_key"] is None and shown["secret_key"] is None and not shown["created"]
        assert shown["secret_prefix"].startswith("sk_")
        assert reopened.auth(store.local_secret_key) is None  # the old process's key died with it
    finally:
        reopened.close()


def test_fixed_keys_still_work_and_survive_rotation(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "f.duckdb")
    try:
        shown = store.ensure_default_project(WRITE, SECRET)
        assert (shown["write_key"], shown["secret_key"]) == (WRITE, SECRET)
        new = store.rotate_keys(DEFAULT_PROJECT, fixed={WRITE, SECRET}, grace_hours=0)
        for key in (WRITE, SECRET, new["write_key"], new["secret_key"]):
            assert store.auth(key) is not None, key
    finally:
        store.close()


def test_a_store_that_kept_keys_in_clear_is_migrated_in_place(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))  # the schema as version 1 left it
    version, name, sql = migrations()[0]
    con.execute(sql)
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
    con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
    con.execute("INSERT INTO projects VALUES ('default', 'Default project', current_timestamp::TIMESTAMP, "
                "'{}', 'k')")
    old_secret, old_write, expired = new_key("secret"), new_key("write"), new_key("secret")
    con.execute("INSERT INTO api_keys VALUES (?, 'default', 'secret', current_timestamp::TIMESTAMP, NULL), "
                "(?, 'default', 'write', current_timestamp::TIMESTAMP, NULL), "
                "(?, 'default', 'secret', current_timestamp::TIMESTAMP, '2020-01-01')",
                [old_secret, old_write, expired])
    con.close()
    with caplog.at_level(logging.WARNING, logger="threadline.store"):
        store = DuckDBStore(path)
    try:
        assert "rotate the keys" in caplog.text
        assert store.auth(old_secret) is not None and store.auth(old_write) is not None
        assert store.auth(expired) is None
        columns = [r[0] for r in store.read().execute("DESCRIBE api_keys").fetchall()]
        assert "key" not in columns and {"key_hash", "prefix"} <= set(columns)
        rows = store.read().execute("SELECT key_hash, prefix FROM api_keys").fetchall()
        assert (hashlib.sha256(old_secret.encode()).hexdigest(), old_secret[:8]) in rows
    finally:
        store.close()
