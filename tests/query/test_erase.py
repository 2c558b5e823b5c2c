"""GDPR erase with something in the quarantine and traffic after it (identity.md,
"Erase"): the quarantined bodies carrying the person's identifiers are deleted with it,
nothing stored anywhere still names an erased identifier, and later messages are
dropped when an erased identifier owns them and stripped of it when a live one does,
on the native route and the compat routes alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.query.helpers import msg
from threadline.app import create_app
from threadline.settings import Settings

pytestmark = pytest.mark.anyio
ANON, USER = "erq-anon-7f3", "erq-user-7f3"  # distinctive, so a text search finds every copy
TABLES = ("events", "quarantine", "identifiers", "edges", "blocks", "company_updates")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    application = create_app(Settings(data_dir=tmp_path, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    try:
        yield application
    finally:
        application.state.services.store.close()


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                             headers={"Authorization": f"Bearer {SECRET_KEY}"})


async def native(c: httpx.AsyncClient, *messages: dict[str, Any]) -> dict[str, Any]:
    r = await c.post("/v1/batch", json={"batch": list(messages)}, auth=(WRITE_KEY, ""))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def usermaven(event_id: str, anon: str, user: str | None = None, event_type: Any = "clicked") -> dict[str, Any]:
    block: dict[str, Any] = {"anonymous_id": anon}
    if user is not None:
        block["id"] = user
    return {"event_id": event_id, "event_type": event_type, "user": block, "api_key": WRITE_KEY,
            "utc_time": "2026-04-02T10:00:00.000Z", "src": "usermaven", "url": "http://shop.test/p"}


def moesif(tid: str, user: str, **extra: Any) -> dict[str, Any]:
    return {"request": {"time": "2026-04-02T10:00:00.000", "uri": "https://api.test/x", "verb": "GET"},
            "response": {"time": "2026-04-02T10:00:00.050", "status": 200}, "user_id": user,
            "transaction_id": tid, **extra}


def rows_naming(app: Starlette, *values: str) -> dict[str, int]:
    """Rows of every table whose text names any of ``values`` (a GDPR check: nothing left)."""
    cur = app.state.services.store.read()
    out = {}
    for table in TABLES:
        cond = " OR ".join(f"contains(CAST(t AS VARCHAR), '{v}')" for v in values)
        (n,) = cur.execute(f"SELECT count(*) FROM {table} t WHERE {cond}").fetchone()
        if n:
            out[table] = n
    return out


async def quarantined(c: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await c.get("/api/v1/quarantine", params={"limit": 1000})
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def test_erase_deletes_the_persons_quarantined_bodies_and_keeps_everyone_elses(app: Starlette) -> None:
    async with client(app) as c:
        sent = await native(
            c,
            msg("identify", "2026-04-01T09:00:00Z", anon=ANON, user=USER, mid="erq-1"),
            msg("track", "2026-04-01T09:01:00Z", user=USER, event="Paid", mid="erq-2"),
            msg("track", "2026-04-01T09:02:00Z", user="erq-other", event="Kept", mid="erq-3"),
            # Other persons' events that carry the person's ids: kept, without them.
            msg("identify", "2026-04-01T09:03:00Z", anon=ANON, user="erq-bob", mid="erq-4"),
            msg("identify", "2026-04-01T08:00:00Z", anon="erq-dave", user="erq-dan", mid="erq-5"),
            msg("page", "2026-04-01T09:05:00Z", anon="erq-dave", mid="erq-6",
                context={"linked_anonymous_id": ANON}),  # refused: two user ids
            # Refused messages carrying the person's ids, and one of somebody else.
            {"type": "nope", "anonymousId": ANON, "messageId": "erq-bad-anon"},
            {"type": "nope", "userId": USER, "messageId": "erq-bad-user"},
            {"type": "nope", "userId": "erq-other", "anonymousId": ANON, "messageId": "erq-bad-both"},
            {"type": "nope", "userId": "erq-other", "messageId": "erq-bad-other"},
        )
        assert sent["accepted"] == 6 and len(sent["rejected"]) == 4
        r = await c.post("/api/v1/event", params={"token": WRITE_KEY},
                         json=[usermaven("erq-um-bad", ANON, event_type="")])
        assert r.status_code == 200, r.text
        r = await c.post("/v1/events/batch", headers={"X-Moesif-Application-Id": WRITE_KEY},
                         json=[{"transaction_id": "erq-mo-bad", "user_id": USER}])
        assert r.status_code == 201, r.text
        assert len(await quarantined(c)) == 6

        pid = (await c.get("/api/v1/persons/lookup", params={"user_id": USER})).json()["id"]
        r = await c.delete(f"/api/v1/persons/{pid}")
        assert r.status_code == 200, r.text
        counts = r.json()
        assert (counts["events"], counts["identifiers"], counts["quarantine"]) == (2, 2, 5), counts

        left = await quarantined(c)
        assert [q["body"]["messageId"] for q in left] == ["erq-bad-other"]
        assert rows_naming(app, ANON, USER) == {}
        other = (await c.get("/api/v1/persons/lookup", params={"user_id": "erq-other"})).json()
        assert other["event_count"] == 1
        bob = (await c.get("/api/v1/persons/lookup", params={"user_id": "erq-bob"})).json()
        assert (bob["anonymous_ids"], bob["event_count"]) == ([], 1)
        dave = (await c.get("/api/v1/persons/lookup", params={"anonymous_id": "erq-dave"})).json()
        assert (dave["user_ids"], dave["event_count"]) == (["erq-dan"], 2)


async def test_later_messages_of_an_erased_person_are_dropped_or_stripped(app: Starlette) -> None:
    async with client(app) as c:
        await native(
            c,
            msg("identify", "2026-04-01T09:00:00Z", anon=ANON, user=USER, mid="erl-1"),
            msg("page", "2026-04-01T09:01:00Z", anon=ANON, mid="erl-2"),
            # Another person's event that also carries the anonymous id (a shared device).
            msg("identify", "2026-04-01T09:05:00Z", anon=ANON, user="erl-bob", mid="erl-3"),
        )
        pid = (await c.get("/api/v1/persons/lookup", params={"user_id": USER})).json()["id"]
        assert (await c.delete(f"/api/v1/persons/{pid}")).status_code == 200

        # Owned by an erased identifier: dropped, on every route, retries included.
        await native(
            c,
            msg("track", "2026-04-02T09:00:00Z", user=USER, event="After", mid="erl-d1"),
            msg("page", "2026-04-02T09:00:00Z", anon=ANON, mid="erl-d2"),
            msg("identify", "2026-04-01T09:00:00Z", anon=ANON, user=USER, mid="erl-1"),  # a retry
        )
        r = await c.post("/api/v1/event", params={"token": WRITE_KEY}, json=[usermaven("erl-d3", ANON)])
        assert r.status_code == 200, r.text
        r = await c.post("/v1/events/batch", headers={"X-Moesif-Application-Id": WRITE_KEY},
                         json=[moesif("erl-d4", USER)])
        assert r.status_code == 201, r.text
        # Owned by a live identifier: kept, without the erased one.
        await native(
            c,
            msg("identify", "2026-04-02T10:00:00Z", anon=ANON, user="erl-carol", mid="erl-k1"),
            msg("alias", "2026-04-02T10:01:00Z", user="erl-carol", previousId=USER, mid="erl-k2"),
            msg("page", "2026-04-02T10:02:00Z", anon="erl-dave", mid="erl-k3"),
        )
        r = await c.post("/api/v1/event", params={"token": WRITE_KEY},
                         json=[usermaven("erl-k4", ANON, user="erl-carol")])
        assert r.status_code == 200, r.text

        for params in ({"user_id": USER}, {"anonymous_id": ANON}):
            r = await c.get("/api/v1/persons/lookup", params=params)
            assert r.status_code == 404, (params, r.text)
        events = (await c.get("/api/v1/events", params={"limit": 1000, "include_hidden": "true"})).json()["data"]
        ids = {e["id"] for e in events}
        assert not ids & {"erl-1", "erl-2", "erl-d1", "erl-d2", "erl-d3", "erl-d4"}, ids
        assert {"erl-3", "erl-k1", "erl-k2", "erl-k3"} <= ids
        assert sum(e["source"] == "usermaven-browser" for e in events) == 1  # erl-k4, stripped
        carol = (await c.get("/api/v1/persons/lookup", params={"user_id": "erl-carol"})).json()
        assert carol["anonymous_ids"] == [] and carol["user_ids"] == ["erl-carol"]
        assert carol["event_count"] == 3
        bob = (await c.get("/api/v1/persons/lookup", params={"user_id": "erl-bob"})).json()
        assert bob["anonymous_ids"] == [] and bob["event_count"] == 1
        assert rows_naming(app, ANON, USER) == {}
        stats = (await c.get("/api/v1/ingest/stats")).json()["data"]
        assert sum(d["suppressed"] for d in stats) == 5


async def test_a_later_event_linked_from_an_erased_id_keeps_no_copy_of_it(app: Starlette) -> None:
    async with client(app) as c:
        await native(c, msg("page", "2026-04-01T09:00:00Z", anon=ANON, mid="erc-1"))
        pid = (await c.get("/api/v1/persons/lookup", params={"anonymous_id": ANON})).json()["id"]
        assert (await c.delete(f"/api/v1/persons/{pid}")).status_code == 200
        await native(c, msg("page", "2026-04-02T10:02:00Z", anon="erc-dave", mid="erc-2",
                            context={"linked_anonymous_id": ANON}))
        dave = (await c.get("/api/v1/persons/lookup", params={"anonymous_id": "erc-dave"})).json()
        assert (dave["anonymous_ids"], dave["event_count"]) == (["erc-dave"], 1)
        assert rows_naming(app, ANON) == {}


async def test_a_later_refused_message_of_an_erased_person_keeps_its_reason_not_its_body(
    app: Starlette,
) -> None:
    async with client(app) as c:
        await native(c, msg("identify", "2026-04-01T09:00:00Z", anon=ANON, user=USER, mid="erl-1"))
        pid = (await c.get("/api/v1/persons/lookup", params={"user_id": USER})).json()["id"]
        assert (await c.delete(f"/api/v1/persons/{pid}")).status_code == 200
        sent = await native(c, {"type": "nope", "userId": USER, "messageId": "erl-bad"},
                            {"type": "nope", "userId": "erl-other", "messageId": "erl-kept"})
        assert len(sent["rejected"]) == 2
        rows = {r["index"]: r for r in await quarantined(c)}
    assert rows[0]["body"] is None and "erased person" in rows[0]["reason"]
    assert rows[1]["body"]["userId"] == "erl-other"
    assert rows_naming(app, USER) == {}
