"""First run and the command line: only serve and demo create a store; the printed
next steps name a command that runs; an import's rejects are named by file line; an
export re-imports into the same persons and a re-import stores nothing twice."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli.test_offline import ENV, invoke, new_store, one_line_error, run
from threadline.cli.hints import cli_command


@pytest.mark.parametrize("args", [
    ["person", "--user-id", "usr_dana"], ["quarantine"], ["export", "--format", "jsonl", "--out", "x.jsonl"],
    ["keys"], ["projects", "list"], ["projects", "create", "Other"], ["projects", "set", "ip_policy", "strict"],
])
def test_commands_other_than_serve_and_demo_never_create_a_store(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "not-here"
    text = one_line_error(invoke(*args, "--data", str(missing)))
    assert "no Threadline data in" in text and str(missing) in text
    assert "--data DIR" in text and "--url URL --key SECRET" in text
    assert not missing.exists()  # nothing was created


def test_import_into_a_missing_store_is_refused_and_demo_creates_one(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text('{"type": "track", "userId": "u", "event": "E", "messageId": "m1"}\n')
    missing = tmp_path / "d"
    assert "no Threadline data in" in one_line_error(invoke("import", str(f), "--data", str(missing)))
    assert not missing.exists()
    assert "demo:" in run("demo", "--data", str(missing), "--events", "500")
    assert "imported 1 events" in run("import", str(f), "--data", str(missing))


def test_the_default_data_directory_is_not_created_either(tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        text = one_line_error(invoke("person", "--user-id", "u", env={**ENV, "THREADLINE_DATA_DIR": ""}))
    finally:
        os.chdir(cwd)
    assert "threadline-data" in text and not (tmp_path / "threadline-data").exists()


def test_quarantine_names_the_file_line_of_an_import(tmp_path: Path) -> None:
    data = new_store(tmp_path / "d")
    f = tmp_path / "e.jsonl"
    good = orjson.dumps({"type": "track", "userId": "q", "event": "Ok"}).decode()
    f.write_text("\n".join([good, "", good.replace("Ok", "Ok2"), '{"type": "track", "userId": "q"}', "{oops"]) + "\n")
    out = run("import", str(f), "--data", data)
    assert "line 4: invalid_message" in out and "line 5: not JSON" in out
    rows = [orjson.loads(x) for x in run("quarantine", "--json", "--data", data).splitlines()]
    assert sorted((r["source"], r["index"]) for r in rows) == [("import", 4), ("import", 5)]
    table = run("quarantine", "--data", data)
    assert "line 4" in table and "line 5" in table


def test_lines_without_message_id_get_ids_from_their_line_and_content(tmp_path: Path) -> None:
    data = new_store(tmp_path / "d")
    same = orjson.dumps({"type": "track", "userId": "dup", "event": "Clicked",
                         "timestamp": "2026-05-01T10:00:00Z"}).decode()
    f = tmp_path / "e.jsonl"
    f.write_text(f"{same}\n{same}\n")  # two identical lines are two events
    assert "imported 2 events, 0 already stored" in run("import", str(f), "--data", data)
    moved = tmp_path / "renamed.jsonl"
    moved.write_text(f"{same}\n{same}\n" + same.replace("Clicked", "Left") + "\n")  # a copy, grown
    assert "imported 1 events, 2 already stored" in run("import", str(moved), "--data", data)
    out = tmp_path / "out.jsonl"
    run("export", "--format", "jsonl", "--out", str(out), "--data", data)
    ids = [orjson.loads(x)["id"] for x in out.read_text().splitlines()]
    assert len(ids) == 3 and all(i.startswith("imp_") for i in ids)


def _persons(data: str, tmp_path: Path) -> dict[frozenset[str], dict[str, Any]]:
    """Every person of the store as {its identifiers: what else it shows}, via export."""
    out = tmp_path / f"persons-{Path(data).name}.jsonl"
    run("export", "--format", "jsonl", "--out", str(out), "--data", data)
    events = [orjson.loads(x) for x in out.read_text().splitlines()]
    from threadline.settings import Settings
    from threadline.storage.duckdb_store import DuckDBStore

    store = DuckDBStore(Settings(data_dir=Path(data)).store_path, read_only=True)
    try:
        rows = store.read().execute(
            "SELECT person_id, list(kind || ':' || value ORDER BY kind, value) FROM identifiers "
            "WHERE project_id = 'default' GROUP BY person_id").fetchall()
    finally:
        store.close()
    counts: dict[str, int] = {}
    for e in events:
        if e["person_id"]:
            counts[e["person_id"]] = counts.get(e["person_id"], 0) + 1
    return {frozenset(idents): {"id": pid, "events": counts.get(pid, 0)} for pid, idents in rows}


def test_an_export_re_imports_into_the_same_persons(tmp_path: Path) -> None:
    demo = str(tmp_path / "demo")
    run("demo", "--data", demo, "--events", "1500", "--seed", "5")
    exported = tmp_path / "demo.jsonl"
    total = int(run("export", "--format", "jsonl", "--out", str(exported), "--data", demo).split()[1])
    copy = new_store(tmp_path / "copy")
    out = run("import", str(exported), "--data", copy)
    assert f"imported {total} events, 0 already stored, 0 rejected" in out
    before, after = _persons(demo, tmp_path), _persons(copy, tmp_path)
    assert after == before  # the same identifiers in the same persons, same ids, same events
    # Traits and companies come back too.
    for user in ("usr_dana", "usr_hana"):
        a = run("person", "--user-id", user, "--data", demo)
        b = run("person", "--user-id", user, "--data", copy)
        assert a == b
    # And a second import of the export stores nothing.
    assert f"imported 0 events, {total} already stored" in run("import", str(exported), "--data", copy)


def test_next_steps_name_a_command_that_runs(tmp_path: Path) -> None:
    venv_cli = tmp_path / ".venv" / "bin" / "threadline"
    assert cli_command(str(venv_cli), cwd=tmp_path) == ".venv/bin/threadline"
    assert cli_command(".venv/bin/threadline", cwd=tmp_path) == ".venv/bin/threadline"
    assert cli_command(str(venv_cli), cwd=tmp_path / "elsewhere") == str(venv_cli)
    assert cli_command("/usr/bin/python3") == "threadline"  # python -m threadline
    demo = run("demo", "--data", str(tmp_path / "d"), "--events", "500")
    assert "try: threadline person --user-id usr_dana --data" in demo
