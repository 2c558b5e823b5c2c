"""The CLI through click's runner, and against a live server on the same data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest
from click.testing import CliRunner

from tests.conftest import SECRET_KEY, WRITE_KEY, start_server
from threadline.cli import cli
from threadline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ENV = {"THREADLINE_WRITE_KEY": WRITE_KEY, "THREADLINE_SECRET_KEY": SECRET_KEY}


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=ENV, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_settings_doc_lists_every_setting() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    missing = [name for name, _, _ in Settings.describe() if f"`{name}`" not in doc]
    assert not missing, f"docs/settings.md lacks {missing}"


def test_demo_gives_merged_persons_and_a_shared_device_conflict(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    out = run("demo", "--data", data, "--visitors", "150")
    assert "events stored" in out
    again = run("demo", "--data", data, "--visitors", "150")
    assert again.startswith("demo: 0 events stored") or "demo: 0 events stored" in again
    dana = run("person", "--user-id", "usr_dana", "--data", data)
    assert "refused identified" in dana and "usr_eli" in dana
    con = duckdb.connect(str(Path(data) / "threadline.duckdb"), read_only=True)
    merged = con.execute("SELECT count(*) FROM (SELECT person_id FROM identifiers GROUP BY person_id "
                         "HAVING count(*) > 1)").fetchone()
    hana = con.execute("SELECT count(DISTINCT person_id) FROM identifiers WHERE value = 'usr_hana' OR person_id IN "
                       "(SELECT person_id FROM identifiers WHERE value = 'usr_hana')").fetchone()
    personless = con.execute("SELECT count(*) FROM events WHERE owner_iid IS NULL").fetchone()
    con.close()
    assert merged and merged[0] > 20
    assert hana == (1,)
    assert personless and personless[0] >= 9


def test_import_is_idempotent_and_reports_bad_lines(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    f = tmp_path / "events.jsonl"
    lines = [orjson.dumps({"type": "page", "anonymousId": f"imp-{i}", "timestamp": "2026-05-01T10:00:00Z",
                           "properties": {"path": "/"}}).decode() for i in range(30)]
    lines.insert(3, "{not json")
    lines.insert(7, '{"type": "track", "userId": "x"}')  # no event name
    lines.append(orjson.dumps({"type": "identify", "anonymousId": "imp-1", "userId": "imp-user",
                               "timestamp": "2026-05-01T10:05:00Z"}).decode())
    f.write_text("\n".join(lines) + "\n")
    first = run("import", str(f), "--data", data)
    assert "imported 31 events, 0 already stored, 2 rejected" in first
    assert "line 4: not JSON" in first and "line 8: invalid_message" in first
    second = run("import", str(f), "--data", data)
    assert "imported 0 events, 31 already stored" in second


def test_segment_export_import_applies_the_original_skew(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    f = tmp_path / "segment.json"
    f.write_text(orjson.dumps({"type": "track", "event": "Old", "userId": "seg-1", "messageId": "seg-m1",
                               "projectId": "p", "timestamp": "2026-05-01T10:00:00.000Z",
                               "sentAt": "2026-05-01T10:00:05.000Z", "receivedAt": "2026-05-01T10:00:00.000Z"}).decode() + "\n")
    run("import", str(f), "--format", "segment", "--data", data)
    out = tmp_path / "out.jsonl"
    run("export", "--format", "jsonl", "--out", str(out), "--data", data)
    event = orjson.loads(out.read_text().splitlines()[0])
    assert event["timestamp"] == "2026-05-01T09:59:55.000Z"


def test_export_parquet_has_resolved_person_ids(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    run("demo", "--data", data, "--visitors", "60")
    out = tmp_path / "events.parquet"
    text = run("export", "--format", "parquet", "--out", str(out), "--data", data)
    rows = duckdb.connect().execute(f"SELECT count(*), count(person_id), count(DISTINCT person_id) FROM '{out}'").fetchone()
    assert rows is not None and f"exported {rows[0]} events" in text
    assert rows[1] > 0.9 * rows[0] and rows[2] < rows[1]


def test_keys_rotate_keeps_the_old_keys_valid_for_the_grace_period(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    result = CliRunner().invoke(cli, ["keys", "--data", data])  # no fixed keys in this test
    assert result.exit_code == 0, result.output
    old = next(line.split()[1] for line in result.output.splitlines() if line.strip().startswith("write"))
    rotated = CliRunner().invoke(cli, ["keys", "--data", data, "rotate"])
    assert rotated.exit_code == 0, rotated.output
    new = rotated.output.split()[2]
    assert new != old and new.startswith("wk_")
    listing = CliRunner().invoke(cli, ["keys", "--data", data]).output
    assert old in listing and "valid until" in listing and new in listing


def test_projects_create_and_set(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    out = run("projects", "create", "Mobile App", "--data", data)
    assert "project    mobile-app" in out and "wk_" in out
    assert "mobile-app" in run("projects", "list", "--data", data)
    assert run("projects", "set", "ip_policy", "strict", "--data", data).strip() == "ip_policy = strict"
    bad = CliRunner().invoke(cli, ["projects", "set", "ip_policy", "sometimes", "--data", data], env=ENV)
    assert bad.exit_code != 0 and "ip_policy must be one of" in bad.output


def test_commands_go_through_a_server_running_on_the_same_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "d"
    server = start_server(data)
    try:
        f = tmp_path / "e.jsonl"
        f.write_text('{"type":"page","anonymousId":"live-a"}\n{"type":"identify","anonymousId":"live-a","userId":"live-u"}\n')
        proc = subprocess.run([sys.executable, "-m", "threadline", "import", str(f), "--data", str(data)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "imported 2 events" in proc.stdout
        proc = subprocess.run([sys.executable, "-m", "threadline", "person", "--anonymous-id", "live-a",
                               "--data", str(data)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "live-u" in proc.stdout and "identified" in proc.stdout
        proc = subprocess.run([sys.executable, "-m", "threadline", "projects", "create", "X", "--data", str(data)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and "a server is running" in proc.stderr
    finally:
        server.stop()


def test_unknown_person_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["person", "--user-id", "nobody", "--data", str(tmp_path / "d")], env=ENV)
    assert result.exit_code == 1
    assert "404" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["import", "/nonexistent.jsonl"], ["person"]])
def test_usage_errors_are_one_line(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args, env=ENV)
    assert result.exit_code == 2 and "Traceback" not in result.output
