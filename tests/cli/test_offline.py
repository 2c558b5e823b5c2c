"""The CLI through click's runner on a data directory no server holds: the commands open
the store themselves and go through the application in-process."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import orjson
import pytest
from click.testing import CliRunner, Result

from tests.conftest import SECRET_KEY, WRITE_KEY
from threadline.cli import cli
from threadline.cli.settings_doc import markdown
from threadline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ENV = {"THREADLINE_WRITE_KEY": WRITE_KEY, "THREADLINE_SECRET_KEY": SECRET_KEY}
NO_KEYS = {"THREADLINE_WRITE_KEY": "", "THREADLINE_SECRET_KEY": ""}


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=ENV if env is None else env)


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def new_store(path: Path, env: dict[str, str] | None = None) -> str:
    """An empty store in ``path``, as ``threadline serve`` leaves it on first start (only
    serve and demo create stores); answers the path for ``--data``."""
    from threadline.cli.local import open_store

    keys = ENV if env is None else env
    settings = Settings(data_dir=path, write_key=keys["THREADLINE_WRITE_KEY"] or None,
                        secret_key=keys["THREADLINE_SECRET_KEY"] or None)
    with open_store(settings, create=True):
        pass
    return str(path)


def one_line_error(result: Result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), result.exception
    return result.output


def test_settings_doc_is_generated_from_the_settings() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    missing = [name for name, _, _ in Settings.describe() if f"`{name}`" not in doc]
    assert not missing, f"docs/settings.md lacks {missing}"
    assert doc == markdown(), "docs/settings.md is stale: run scripts/settings-doc"


def test_demo_gives_merged_persons_a_conflict_and_loads_once(tmp_path: Path) -> None:
    data = tmp_path / "d"
    out = run("demo", "--data", str(data), "--events", "2000")
    stored = int(out.split("demo: ")[1].split()[0])
    assert 1500 < stored < 2600
    assert "demo: 0 events stored" in run("demo", "--data", str(data), "--events", "2000")

    dana = run("person", "--user-id", "usr_dana", "--data", str(data))
    assert "refused identified" in dana and "usr_eli" in dana
    hana = run("person", "--user-id", "usr_hana", "--data", str(data))
    assert "linked with anonymous:" in hana and "/posts/launch" in hana and "/signup" in hana

    con = duckdb.connect(str(data / "threadline.duckdb"), read_only=True)
    try:
        merged = con.execute("SELECT count(*) FROM (SELECT person_id FROM identifiers "
                             "GROUP BY person_id HAVING count(*) > 1)").fetchone()
        multi_device = con.execute("SELECT count(*) FROM (SELECT person_id FROM identifiers WHERE kind = 'anonymous' "
                                   "GROUP BY person_id HAVING count(*) > 2)").fetchone()
        conflicts = con.execute("SELECT count(*) FROM edges WHERE outcome = 'conflict'").fetchone()
        personless = con.execute("SELECT count(*) FROM events WHERE owner_iid IS NULL").fetchone()
        api_calls = con.execute("SELECT count(*) FROM events WHERE event = 'API Call'").fetchone()
        companies = con.execute("SELECT count(DISTINCT c) FROM (SELECT unnest(member_of) AS c FROM events)").fetchone()
    finally:
        con.close()
    assert merged and merged[0] > 30
    assert multi_device and multi_device[0] > 3
    assert conflicts and conflicts[0] >= 1
    assert personless and personless[0] >= 9  # "undefined", "null", "0" are never identifiers
    assert api_calls and api_calls[0] > 100
    assert companies and companies[0] == 10


def test_export_parquet_and_jsonl_carry_resolved_person_ids(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    run("demo", "--data", data, "--events", "1000", "--seed", "3")
    pq, jl = tmp_path / "out" / "events.parquet", tmp_path / "events.jsonl"
    text = run("export", "--format", "parquet", "--out", str(pq), "--data", data)
    run("export", "--format", "jsonl", "--out", str(jl), "--data", data)
    con = duckdb.connect()
    total, with_person, persons, anon_only = con.execute(
        f"SELECT count(*), count(person_id), count(DISTINCT person_id), "
        f"count(*) FILTER (WHERE user_id IS NULL AND anonymous_id IS NOT NULL) FROM '{pq}'").fetchone() or (0, 0, 0, 0)
    assert f"exported {total} events" in text and total > 900
    assert with_person == total - 9  # all but the junk-id events
    assert persons < with_person and anon_only > 0
    # A person's pre-login page views carry the same person id as their identified events.
    same = con.execute(f"""SELECT count(*) FROM (SELECT person_id FROM '{pq}' WHERE person_id IS NOT NULL
        GROUP BY person_id HAVING count(user_id) > 0 AND count(*) > count(user_id))""").fetchone()
    assert same and same[0] > 10
    lines = [orjson.loads(x) for x in jl.read_text().splitlines()]
    assert len(lines) == total and {e["id"] for e in lines} == {r[0] for r in con.execute(f"SELECT id FROM '{pq}'").fetchall()}
    window = run("export", "--format", "jsonl", "--out", str(jl), "--data", data,
                 "--from", lines[100]["timestamp"], "--to", lines[10]["timestamp"])
    assert 80 <= int(window.split()[1]) <= 95


def test_import_is_idempotent_and_quarantines_bad_lines(tmp_path: Path) -> None:
    data = new_store(tmp_path / "d")
    f = tmp_path / "events.jsonl"
    # No message ids, and half without a timestamp: only the content hash keeps a
    # second import from storing them again.
    lines = [orjson.dumps({"type": "page", "anonymousId": f"imp-{i}", "properties": {"path": "/"},
                           **({"timestamp": "2026-05-01T10:00:00Z"} if i % 2 else {})}).decode() for i in range(30)]
    lines.insert(3, "{not json")
    lines.insert(7, '{"type": "track", "userId": "x"}')  # no event name
    lines.insert(9, "")
    lines.append(orjson.dumps({"type": "identify", "anonymousId": "imp-1", "userId": "imp-user",
                               "timestamp": "2026-05-01T10:05:00Z"}).decode())
    f.write_text("\n".join(lines) + "\n")
    first = run("import", str(f), "--data", data)
    assert "imported 31 events, 0 already stored, 2 rejected" in first
    assert "line 4: not JSON" in first and "line 8: invalid_message: a track message needs an event name" in first
    second = run("import", str(f), "--data", data)
    assert "imported 0 events, 31 already stored, 2 rejected" in second
    quarantined = [orjson.loads(x) for x in run("quarantine", "--json", "--data", data).splitlines()]
    assert "{not json" in [q["body"] for q in quarantined]
    person = run("person", "--anonymous-id", "imp-1", "--data", data)
    assert "imp-user" in person and "identified" in person


def test_segment_export_times_are_corrected_once(tmp_path: Path) -> None:
    data = new_store(tmp_path / "d")
    f = tmp_path / "segment.json.gz"
    raw = [  # a client message as sent: timestamp is the device's clock, 5 s fast
        {"type": "track", "event": "Old", "userId": "seg-1", "messageId": "seg-m1", "projectId": "p", "version": 2,
         "timestamp": "2026-05-01T10:00:00.000Z", "sentAt": "2026-05-01T10:00:05.000Z",
         "receivedAt": "2026-05-01T10:00:00.000Z"},
        # Segment's stored shape: timestamp already corrected, the device time in originalTimestamp
        {"type": "track", "event": "Stored", "userId": "seg-1", "messageId": "seg-m2", "writeKey": "x",
         "originalTimestamp": "2026-05-01T11:00:05.000Z", "timestamp": "2026-05-01T11:00:00.000Z",
         "sentAt": "2026-05-01T11:00:10.000Z", "receivedAt": "2026-05-01T11:00:05.000Z"},
    ]
    f.write_bytes(gzip.compress(b"".join(orjson.dumps(m) + b"\n" for m in raw)))
    assert "imported 2 events" in run("import", str(f), "--format", "segment", "--data", data)
    out = tmp_path / "out.jsonl"
    run("export", "--format", "jsonl", "--out", str(out), "--data", data)
    times = {e["event"]: e["timestamp"] for e in map(orjson.loads, out.read_text().splitlines())}
    assert times == {"Old": "2026-05-01T09:59:55.000Z", "Stored": "2026-05-01T11:00:00.000Z"}


def test_keys_rotate_keeps_the_old_keys_valid_for_the_grace_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = new_store(tmp_path / "d", NO_KEYS)
    # Creating the store shows the default project's keys, once; listings show prefixes
    # (the store keeps hashes).
    created = capsys.readouterr().err
    old = {line.split()[0]: line.split()[2] for line in created.splitlines() if " key " in line}
    listing = run("keys", "--data", data, env=NO_KEYS)
    assert old["write"].startswith("wk_") and old["secret"].startswith("sk_")
    assert f"write   {old['write'][:8]}…   valid\n" in listing and old["write"] not in listing.split("project default (")[1]
    rotated = run("keys", "--data", data, "rotate", env=NO_KEYS)
    new = {line.split()[0]: line.split()[2] for line in rotated.splitlines()[:2]}
    assert new["write"] != old["write"] and new["secret"].startswith("sk_") and "24 hours" in rotated
    after = run("keys", "--data", data, env=NO_KEYS)
    assert "Created project" not in after and old["secret"] not in after
    assert f"{old['write'][:8]}…   valid until" in after and f"{new['write'][:8]}…   valid\n" in after
    # The old secret key still opens the query API; a wrong one does not.
    assert "exported 0 events" in run("export", "--format", "jsonl", "--out", str(tmp_path / "e.jsonl"),
                                      "--data", data, "--key", old["secret"], env=NO_KEYS)
    bad = invoke("export", "--out", str(tmp_path / "x.jsonl"), "--data", data,
                 "--key", "sk_wrong_0123456789abcdefghijkl", env=NO_KEYS)
    assert "401" in one_line_error(bad) and not (tmp_path / "x.jsonl").exists()


def test_projects_create_list_and_set(tmp_path: Path) -> None:
    data = new_store(tmp_path / "d")
    out = run("projects", "create", "Mobile App", "--data", data)
    assert "project    mobile-app" in out and "wk_" in out and "sk_" in out
    assert "project 'mobile-app' exists" in one_line_error(invoke("projects", "create", "Mobile App", "--data", data))
    listing = run("projects", "list", "--data", data)
    assert "default\t" in listing and "mobile-app\tMobile App" in listing
    assert run("projects", "set", "ip_policy", "strict", "--data", data).strip() == "ip_policy = strict"
    # junk_ids adds to the built-in junk values, which always apply ("undefined" is one).
    assert run("projects", "set", "junk_ids", "undefined, n/a", "--project", "mobile-app",
               "--data", data).strip() == "junk_ids = n/a"
    assert run("projects", "set", "retention_days", "90", "--project", "mobile-app", "--data", data).strip() \
        == "retention_days = 90"
    listing = run("projects", "list", "--data", data)
    assert '"junk_ids":["n/a"]' in listing and '"retention_days":90' in listing
    assert '"ip_policy":"strict"' in listing.splitlines()[0]
    for args, message in ((["ip_policy", "sometimes"], "ip_policy must be one of"),
                          (["body_capture", "maybe"], "body_capture must be true or false"),
                          (["retention_days", "soon"], "retention_days must be a whole number"),
                          (["colour", "blue"], "unknown setting 'colour'"),
                          (["ip_policy", "strict", "--project", "nope"], "no project 'nope'")):
        assert message in one_line_error(invoke("projects", "set", *args, "--data", data))


def test_unknown_person_is_a_clear_error(tmp_path: Path) -> None:
    result = invoke("person", "--user-id", "nobody", "--data", new_store(tmp_path / "d"))
    text = one_line_error(result)
    assert "404" in text and "nobody" in text and len(text.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [
    ["import", "/nonexistent.jsonl"],
    ["person"],
    ["person", "some-id", "--user-id", "u"],
    ["export", "--out", "x.parquet", "--url", "http://127.0.0.1:9"],
    ["demo", "--events", "10"],
])
def test_usage_errors_are_short_messages(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Error:" in result.output


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    result = invoke("person", "--user-id", "u", "--url", "http://127.0.0.1:9", "--key", SECRET_KEY)
    assert "cannot reach the server" in one_line_error(result)
