"""Nothing stored may break a read: a stored JSON document that cannot be decoded, or
that nests too deep to be encoded again inside an answer (data from before the ingest
limit, simulated by writing the rows directly into the store), is answered as
``{"_unreadable": true}`` by the events API, timelines, persons, companies, the
quarantine and ``threadline export``, never as a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pytest
from click.testing import CliRunner

from tests.collector.surfaces import QUERY, client, running_app
from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.query.helpers import msg
from threadline.cli import cli
from threadline.model import Message
from threadline.query.serialize import message_json

pytestmark = pytest.mark.anyio
UNREADABLE = {"_unreadable": True}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def nested(levels: int) -> str:
    """JSON text ``levels`` objects deep (250 is past what an answer can re-encode, 1,100
    past what orjson parses; DuckDB's own JSON functions read both)."""
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


async def _get(c: httpx.AsyncClient, path: str, **params: str) -> Any:
    r = await c.get(path, params=params, headers=QUERY)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return r.json()


async def test_unreadable_stored_documents_are_answered_as_a_marker(tmp_path: Path) -> None:
    async with running_app(tmp_path) as app, client(app) as c:
        batch = [
            msg("identify", "2026-11-20T10:00:00Z", user="sj-user", mid="sj-identify", traits={"plan": "pro"}),
            msg("group", "2026-11-20T10:01:00Z", user="sj-user", mid="sj-group", groupId="sj-co",
                traits={"name": "Co"}),
            msg("track", "2026-11-20T10:02:00Z", user="sj-user", mid="sj-deep", event="Deep",
                context={"groupId": "sj-co"}),
            msg("track", "2026-11-20T10:03:00Z", user="sj-user", mid="sj-deeper", event="Deeper"),
            {"type": "bogus", "messageId": "sj-bad-1"}, {"type": "bogus", "messageId": "sj-bad-2"},
        ]
        r = await c.post("/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
        assert r.status_code == 200 and r.json()["accepted"] == 4, r.text

        def corrupt(tx: Any) -> None:
            con = tx.con
            con.execute("UPDATE events SET properties = ?, context = ? WHERE message_id = 'sj-deep'",
                        [nested(250), nested(250)])
            con.execute("UPDATE events SET properties = ? WHERE message_id = 'sj-deeper'", [nested(1100)])
            con.execute("UPDATE events SET traits = ? WHERE message_id = 'sj-identify'", [nested(250)])
            con.execute("UPDATE company_updates SET traits = ? WHERE company_id = 'sj-co'", [nested(1100)])
            con.execute("UPDATE quarantine SET body = ? WHERE idx = 4", [nested(250)])
            con.execute("UPDATE quarantine SET body = ? WHERE idx = 5", ["{not json"])

        app.state.services.store.write_sync(corrupt)

        events = {e["id"]: e for e in (await _get(c, "/api/v1/events"))["data"]}
        assert events["sj-deep"]["properties"] == UNREADABLE and events["sj-deep"]["context"] == UNREADABLE
        assert events["sj-deeper"]["properties"] == UNREADABLE
        person = await _get(c, "/api/v1/persons/lookup", user_id="sj-user")
        assert person["traits"].get("_unreadable") is True
        assert [co["traits"] for co in person["companies"]] == [UNREADABLE]
        timeline = (await _get(c, f"/api/v1/persons/{person['id']}/events"))["data"]
        assert {e["id"] for e in timeline} >= {"sj-deep", "sj-deeper"}
        await _get(c, f"/api/v1/persons/{person['id']}")
        await _get(c, "/api/v1/persons")
        await _get(c, "/api/v1/persons", search="pro")
        assert (await _get(c, "/api/v1/companies/sj-co"))["traits"] == UNREADABLE
        await _get(c, "/api/v1/companies")
        await _get(c, "/api/v1/companies/sj-co/persons")
        company_events = (await _get(c, "/api/v1/companies/sj-co/events"))["data"]
        assert [e["properties"] for e in company_events if e["id"] == "sj-deep"] == [UNREADABLE]
        bodies = [q["body"] for q in (await _get(c, "/api/v1/quarantine"))["data"]]
        assert bodies == [UNREADABLE, UNREADABLE]

    # The export and the quarantine listing of the CLI read the same store.
    env = {"THREADLINE_WRITE_KEY": WRITE_KEY, "THREADLINE_SECRET_KEY": SECRET_KEY}
    jl, pq = tmp_path / "events.jsonl", tmp_path / "events.parquet"
    for fmt, out in (("jsonl", jl), ("parquet", pq)):
        result = CliRunner().invoke(cli, ["export", "--format", fmt, "--out", str(out), "--data", str(tmp_path)],
                                    env=env)
        assert result.exit_code == 0, result.output
    lines = {e["id"]: e for e in map(orjson.loads, jl.read_text().splitlines())}
    assert lines["sj-deep"]["properties"] == UNREADABLE and lines["sj-deeper"]["properties"] == UNREADABLE
    row = duckdb.connect().execute(f"SELECT properties FROM '{pq}' WHERE id = 'sj-deeper'").fetchone()
    assert row is not None and orjson.loads(row[0]) == UNREADABLE
    result = CliRunner().invoke(cli, ["quarantine", "--json", "--data", str(tmp_path)], env=env)
    assert result.exit_code == 0 and result.output.count("_unreadable") == 2, result.output


def test_the_live_stream_answers_a_message_too_deep_to_encode_as_the_marker() -> None:
    deep: dict[str, Any] = {}
    for _ in range(300):
        deep = {"a": deep}
    message = Message("live-deep", "track", 0, 0, "native", event="E", properties=deep, context={"ok": 1})
    frame = orjson.loads(orjson.dumps(message_json(message, None)))
    assert frame["properties"] == UNREADABLE and frame["context"] == {"ok": 1}
