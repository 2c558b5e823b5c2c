"""CLI commands while ``threadline serve --demo`` runs on the same data directory.

DuckDB lets one process hold the store, so the commands find the server through
DATA/server.json and go through its HTTP API. Every command runs as a separate process,
as a user would run it. The server has no fixed keys, so rotation is real.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest

from tests.conftest import LiveServer, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("live") / "data"
    srv = start_server(data, extra_env={"THREADLINE_DEMO": "true", "THREADLINE_WRITE_KEY": "",
                                        "THREADLINE_SECRET_KEY": ""})
    try:
        yield srv
    finally:
        srv.stop()


def announced(server: LiveServer) -> dict[str, str]:
    info: dict[str, str] = orjson.loads((server.data_dir / "server.json").read_bytes())
    return info


def tl(*args: str, ok: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    proc = subprocess.run([sys.executable, "-m", "threadline", *args], capture_output=True, text=True,
                          timeout=180, env=env, cwd=cwd)
    if ok:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def test_serve_announces_itself_and_loads_the_demo(server: LiveServer) -> None:
    path = server.data_dir / "server.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = announced(server)
    assert info["url"] == server.url and info["pid"] == server.proc.pid  # type: ignore[union-attr]
    assert "demo events stored" in server.log()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {info['secret_key']}"}) as http:
        persons = http.get("/api/v1/persons", params={"limit": 100}).json()["data"]
    assert sum(len(p["anonymous_ids"]) + len(p["user_ids"]) > 1 for p in persons) > 20
    dana = tl("person", "--user-id", "usr_dana", "--data", str(server.data_dir)).stdout
    assert "refused identified" in dana and "usr_eli" in dana and "/app/reports" in dana


def test_import_export_and_quarantine_go_through_the_server(server: LiveServer, tmp_path: Path) -> None:
    data = str(server.data_dir)
    f = tmp_path / "e.jsonl"
    f.write_text('{"type":"page","anonymousId":"live-a","properties":{"path":"/pricing"}}\n'
                 '{"type":"identify","anonymousId":"live-a","userId":"live-u"}\n'
                 "not json at all\n")
    first = tl("import", str(f), "--data", data)
    assert "imported 2 events, 0 already stored, 1 rejected" in first.stdout and "line 3: not JSON" in first.stderr
    assert "imported 0 events, 2 already stored" in tl("import", str(f), "--data", data).stdout
    person = tl("person", "--anonymous-id", "live-a", "--data", data).stdout
    assert "live-u" in person and "identified with" in person and "/pricing" in person
    assert "not json at all" in tl("quarantine", "--data", data).stdout

    out = tmp_path / "all.parquet"
    text = tl("export", "--format", "parquet", "--out", str(out), "--data", data).stdout
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {announced(server)['secret_key']}"}) as h:
        live_u = h.get("/api/v1/persons/lookup", params={"user_id": "live-u"}).json()["id"]
    con = duckdb.connect()
    total, mine = con.execute(f"SELECT count(*), count(*) FILTER (WHERE person_id = '{live_u}' "
                              f"AND anonymous_id = 'live-a') FROM '{out}'").fetchone() or (0, 0)
    assert f"exported {total} events" in text and total > 20_000 and mine == 2


def test_url_and_key_reach_a_server_from_anywhere(server: LiveServer, tmp_path: Path) -> None:
    secret = announced(server)["secret_key"]
    f = tmp_path / "u.jsonl"
    f.write_text('{"type":"track","event":"Remote","userId":"remote-u","messageId":"remote-1"}\n')
    out = tl("import", str(f), "--url", server.url, "--key", secret, cwd=tmp_path).stdout
    assert "imported 1 events" in out
    assert not (tmp_path / "threadline-data").exists()  # nothing was opened locally
    shown = tl("person", "--user-id", "remote-u", "--url", server.url + "/", "--key", secret, cwd=tmp_path).stdout
    assert "Remote" in shown
    wrong = tl("person", "--user-id", "remote-u", "--url", server.url, "--key", "sk_wrong_0123456789abcdefghijkl",
               ok=False, cwd=tmp_path)
    assert wrong.returncode == 1 and "401" in wrong.stderr and "Traceback" not in wrong.stderr


def test_demo_through_the_server_is_idempotent(server: LiveServer) -> None:
    data = str(server.data_dir)
    first = tl("demo", "--data", data, "--events", "600", "--seed", "99").stdout
    stored = int(first.split("demo: ")[1].split()[0])
    assert stored > 400
    assert f"demo: 0 events stored, {stored} already there" in tl("demo", "--data", data, "--events", "600",
                                                                  "--seed", "99").stdout


def test_projects_through_the_server(server: LiveServer) -> None:
    data = str(server.data_dir)
    assert tl("projects", "set", "set_once", "created_at,plan", "--data", data).stdout.strip() \
        == "set_once = created_at,plan"
    assert '"set_once":["created_at","plan"]' in tl("projects", "list", "--data", data).stdout
    bad = tl("projects", "set", "ip_policy", "loose", "--data", data, ok=False)
    assert bad.returncode == 1 and "ip_policy must be one of" in bad.stderr
    refused = tl("projects", "create", "Other", "--data", data, ok=False)
    assert refused.returncode == 1 and "a server is running" in refused.stderr and "Traceback" not in refused.stderr
    other = tl("keys", "--project", "other", "--data", data, ok=False)
    assert other.returncode == 1 and "belongs to project 'default'" in other.stderr


def test_keys_rotate_through_the_server_keeps_the_old_keys_valid(server: LiveServer) -> None:
    data = str(server.data_dir)
    before = announced(server)
    # The server printed the keys it created at its first start; the store keeps hashes,
    # so listings show prefixes only.
    old_write = next(line.split()[3] for line in server.log().splitlines() if "write key" in line)
    old_secret = next(line.split()[3] for line in server.log().splitlines() if "secret key" in line)
    listing = tl("keys", "--data", data).stdout
    assert old_write.startswith("wk_") and old_secret.startswith("sk_")
    assert f"write   {old_write[:8]}…   valid\n" in listing and old_write not in listing
    assert old_secret not in listing and before["secret_key"] not in listing
    rotated = tl("keys", "rotate", "--data", data).stdout
    new_write, new_secret = (line.split()[2] for line in rotated.splitlines()[:2])
    assert new_write != old_write and "valid for 24 hours" in rotated
    # CLI commands use the key the server announced, valid while it runs: a rotation
    # leaves it alone, so commands keep working after the grace period.
    assert announced(server) == before
    with httpx.Client(base_url=server.url) as http:
        for write_key in (old_write, new_write):
            r = http.post("/v1/track", auth=(write_key, ""), json={"event": "Key", "userId": f"k-{write_key[-6:]}"})
            assert r.status_code == 200, r.text
        for secret in (old_secret, new_secret, before["secret_key"]):
            r = http.get("/api/v1/projects/current", headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 200
        assert http.get("/api/v1/projects/current",
                        headers={"Authorization": "Bearer sk_wrong_0123456789abcdefghijkl"}).status_code == 401
    after = tl("keys", "--data", data).stdout
    assert f"{old_write[:8]}…   valid until" in after and f"{new_write[:8]}…   valid\n" in after


def test_a_stopped_server_withdraws_its_announcement(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    path = srv.data_dir / "server.json"
    try:
        assert announced(srv)["pid"] == srv.proc.pid  # type: ignore[union-attr]
    finally:
        srv.stop()  # SIGTERM: uvicorn shuts down, then re-raises the signal
    assert not path.exists()
    # With the server gone, commands open the store themselves again.
    assert "project default" in tl("keys", "--data", str(srv.data_dir)).stdout


def test_settings_show_the_running_servers_values(server: LiveServer) -> None:
    out = tl("settings", "--data", str(server.data_dir)).stdout
    assert f"the server running on {server.data_dir.resolve()} at {server.url}" in out
    assert f"THREADLINE_PORT = {server.port}   (default 8750)" in out
    assert "THREADLINE_DEMO = True" in out
    assert announced(server)["secret_key"] not in out


def test_a_second_demo_start_does_not_announce_a_demo_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tl("demo", "--data", str(data), "--events", "500")
    srv = start_server(data, extra_env={"THREADLINE_DEMO": "true"})
    try:
        log = srv.log()
    finally:
        srv.stop()
    assert "Threadline is running at" in log
    assert "Loading demo traffic" not in log and "demo skipped" not in log
    assert "command line   : threadline person --user-id usr_dana --data" in log
