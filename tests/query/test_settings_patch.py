"""``PATCH /api/v1/projects/current/settings`` in-process: one PATCH is one transaction
(all settings or none, 422 naming the invalid one), list settings are bounded, and
changing ``junk_ids`` keeps the built-in junk values."""

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
from threadline.projects import MAX_ITEM_CHARS, MAX_LIST_ITEMS
from threadline.settings import Settings

pytestmark = pytest.mark.anyio
PATH = "/api/v1/projects/current/settings"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app: Starlette = create_app(Settings(data_dir=tmp_path, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     headers={"Authorization": f"Bearer {SECRET_KEY}"}) as client:
            yield client
    finally:
        app.state.services.store.close()


async def settings(api: httpx.AsyncClient) -> dict[str, Any]:
    r = await api.get("/api/v1/projects/current")
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()["settings"]
    return out


async def refused(api: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    r = await api.patch(PATH, json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error" and error["details"]["field"] == field, error


async def test_changing_junk_ids_does_not_merge_everyone_with_an_empty_anonymous_id(
        api: httpx.AsyncClient) -> None:
    r = await api.patch(PATH, json={"junk_ids": ["n/a"]})
    assert r.status_code == 200 and r.json()["settings"]["junk_ids"] == ["n/a"], r.text
    batch = [msg("identify", "2026-11-01T10:00:00Z", anon="", user="ann"),
             msg("identify", "2026-11-01T10:01:00Z", anon="", user="bob"),
             msg("identify", "2026-11-01T10:02:00Z", anon="n/a", user="cy"),
             msg("identify", "2026-11-01T10:03:00Z", anon="n/a", user="dee")]
    sent = await api.post("/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
    assert sent.status_code == 200 and sent.json()["accepted"] == 4, sent.text
    ids = set()
    for user in ("ann", "bob", "cy", "dee"):
        person = await api.get("/api/v1/persons/lookup", params={"user_id": user})
        assert person.status_code == 200, person.text
        assert person.json()["anonymous_ids"] == []
        ids.add(person.json()["id"])
    assert len(ids) == 4


async def test_one_invalid_setting_changes_nothing(api: httpx.AsyncClient) -> None:
    before = await settings(api)
    await refused(api, {"ip_policy": "strict", "body_capture": True, "retention_days": -5}, "retention_days")
    await refused(api, {"set_once": ["plan"], "colour": "blue"}, "colour")
    assert await settings(api) == before
    r = await api.patch(PATH, json={"ip_policy": "strict", "body_capture": True, "retention_days": 30,
                                    "set_once": ["plan"]})
    assert r.status_code == 200, r.text
    now = r.json()["settings"]
    assert (now["ip_policy"], now["body_capture"], now["retention_days"], now["set_once"]) == \
        ("strict", True, 30, ["plan"])
    assert await settings(api) == now


async def test_list_settings_are_bounded(api: httpx.AsyncClient) -> None:
    before = await settings(api)
    await refused(api, {"junk_ids": [f"j{i}" for i in range(MAX_LIST_ITEMS + 1)]}, "junk_ids")
    await refused(api, {"ip_policy": "strict", "set_once": ["x" * (MAX_ITEM_CHARS + 1)]}, "set_once")
    assert await settings(api) == before
    r = await api.patch(PATH, json={"junk_ids": [f"j{i}" for i in range(MAX_LIST_ITEMS)]})
    assert r.status_code == 200 and len(r.json()["settings"]["junk_ids"]) == MAX_LIST_ITEMS, r.text
