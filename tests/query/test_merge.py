"""A manual merge holds against later evidence (identity.md, "Manual merge": the blocks
between the two persons go, and a manual edge links their earliest identifiers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.query.helpers import msg
from threadline.app import create_app
from threadline.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     headers={"Authorization": f"Bearer {SECRET_KEY}"}) as client:
            yield client
    finally:
        app.state.services.store.close()


async def send(api: httpx.AsyncClient, *messages: dict[str, Any]) -> None:
    r = await api.post("/v1/batch", json={"batch": list(messages)}, auth=(WRITE_KEY, ""))
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text


async def person(api: httpx.AsyncClient, **lookup: str) -> dict[str, Any]:
    r = await api.get("/api/v1/persons/lookup", params=lookup)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_merge_that_lifts_a_split_survives_later_conflicting_evidence(api: httpx.AsyncClient) -> None:
    await send(api, msg("identify", "2026-05-01T10:00:00Z", anon="mg-a0", user="mg-u1"),
               msg("page", "2026-05-01T10:00:01Z", anon="mg-a0", context={"linked_anonymous_id": "mg-a1"}))
    whole = await person(api, anonymous_id="mg-a0")
    r = await api.post(f"/api/v1/persons/{whole['id']}/split",
                       json={"identifiers": [{"kind": "anonymous", "value": "mg-a0"}]})
    assert r.status_code == 200 and len(r.json()["data"]) == 3, r.text
    a0, a1 = await person(api, anonymous_id="mg-a0"), await person(api, anonymous_id="mg-a1")
    r = await api.post("/api/v1/persons/merge", json={"person_ids": [a0["id"], a1["id"]]})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["anonymous_ids"]) == ["mg-a0", "mg-a1"]
    # Later evidence, timed before the link: mg-a1 identified as another user. Without the
    # operator's edge the link would now be refused (two user ids); the merge must hold.
    await send(api, msg("identify", "2026-05-01T10:00:00Z", anon="mg-a1", user="mg-u0"))
    merged = await person(api, anonymous_id="mg-a0")
    assert merged["id"] == (await person(api, anonymous_id="mg-a1"))["id"] == r.json()["id"]
    assert sorted(merged["user_ids"]) == ["mg-u0", "mg-u1"]
