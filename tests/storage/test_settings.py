"""Per-project settings in the store: the built-in junk ids always apply, several
changes commit together or not at all, concurrent changes never undo each other, and
list settings are bounded."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from threadline.identity.ids import DEFAULT_JUNK_IDS
from threadline.projects import MAX_ITEM_CHARS, MAX_LIST_ITEMS, ProjectSettings, SettingError
from threadline.storage.duckdb_store import DuckDBStore
from threadline.storage.tx import Tx

P = "default"


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = DuckDBStore(tmp_path / "s.duckdb")
    s.ensure_default_project(None, None)
    yield s
    s.close()


def test_changing_junk_ids_keeps_the_built_in_rules(store: DuckDBStore) -> None:
    store.set_setting(P, "junk_ids", "n/a, Guest-User")
    settings = store.settings(P)
    assert settings.junk_ids == ("n/a", "Guest-User")
    junk = settings.junk_filter
    assert [junk.usable(v) for v in ("", " ", "undefined", "N/A", "guest-user", "ann")] == \
        [None, None, None, None, None, "ann"]
    # (tests/query/test_settings_patch.py sends events through a route to see the effect)


def test_a_stored_full_list_reads_as_the_additions_only() -> None:
    # Stores written before the built-ins always applied kept the whole list.
    old = ProjectSettings.from_json({"junk_ids": [*sorted(DEFAULT_JUNK_IDS), "n/a", "n/a"]})
    assert old.junk_ids == ("n/a",)
    assert old.junk_filter.usable("") is None and old.junk_filter.usable("n/a") is None
    assert ProjectSettings().junk_ids == () and ProjectSettings().junk_filter.usable("null") is None


def test_several_changes_commit_together_or_not_at_all(store: DuckDBStore) -> None:
    with pytest.raises(SettingError) as err:
        store.update_settings(P, {"ip_policy": "strict", "retention_days": "-5"})
    assert err.value.name == "retention_days"
    stored = store.read().execute("SELECT settings FROM projects WHERE id = ?", [P]).fetchone()
    assert store.settings(P) == ProjectSettings() and '"ip_policy":"keep"' in stored[0]
    new = store.update_settings(P, {"ip_policy": "strict", "retention_days": "30", "body_capture": "on"})
    assert (new.ip_policy, new.retention_days, new.body_capture) == ("strict", 30, True)
    assert store.settings(P) == new


def test_concurrent_changes_of_different_settings_are_both_kept(store: DuckDBStore) -> None:
    release = threading.Event()

    def hold(tx: Tx) -> None:  # keeps the writer busy while both changes are queued
        release.wait(30)

    held = store.write(hold, exclusive=True)
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(store.set_setting, P, "ip_policy", "strict")
        b = pool.submit(store.set_setting, P, "body_capture", "true")
        while store.writer is not None and store.writer.depth < 2:  # both wait in the queue
            threading.Event().wait(0.01)
        release.set()
        a.result(30), b.result(30), held.result(30)
    now = store.settings(P)
    assert (now.ip_policy, now.body_capture) == ("strict", True)


def test_list_settings_are_bounded(store: DuckDBStore) -> None:
    many = ",".join(f"v{i}" for i in range(MAX_LIST_ITEMS))
    assert len(store.set_setting(P, "set_once", many).set_once) == MAX_LIST_ITEMS
    for name, raw in (("set_once", many + ",one-more"), ("junk_ids", "x" * (MAX_ITEM_CHARS + 1))):
        with pytest.raises(SettingError) as err:
            store.set_setting(P, name, raw)
        assert err.value.name == name
    assert len(store.settings(P).set_once) == MAX_LIST_ITEMS and store.settings(P).junk_ids == ()
    assert store.set_setting(P, "junk_ids", "y" * MAX_ITEM_CHARS).junk_ids == ("y" * MAX_ITEM_CHARS,)
