"""The whole product path against the independent oracle (``oracle.py``): generated
scenarios are posted to ``/v1/batch`` of the in-process app (each batch's messages
shuffled and cut into several requests), operator actions go through the query API
(``POST .../split``, ``POST /persons/merge``, ``DELETE /persons/{id}``), and after every
step the persons read back through ``GET /api/v1/persons`` (ids, user ids, anonymous
ids, event counts) must be the oracle's. Erased identifiers must be unknown to lookup.

One app for the module, a fresh project per example: person ids are namespaced per
project, so the oracle computes them from the project's id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.identity.oracle import ANON, Msg, Person, person_id
from tests.identity.steps import Erase, Merge, Post, Scenario, Split, scenarios
from threadline.app import create_app
from threadline.model import Identifier
from threadline.settings import Settings

EPOCH = dt.datetime(1970, 1, 1)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    application = create_app(Settings(data_dir=tmp_path_factory.mktemp("oracle"), write_key=WRITE_KEY,
                                      secret_key=SECRET_KEY))
    try:
        yield application
    finally:
        application.state.services.store.close()


def wire(m: Msg) -> dict[str, Any]:
    """The Segment-spec message a client would send."""
    out: dict[str, Any] = {"type": m.type, "messageId": m.mid,
                           "timestamp": (EPOCH + dt.timedelta(microseconds=m.time_us)).isoformat() + "Z"}
    if m.type == "track":
        out["event"] = "x"
    if m.anon is not None:
        out["anonymousId"] = m.anon
    if m.user is not None:
        out["userId"] = m.user
    if m.previous is not None:
        out["previousId"] = m.previous
    if m.linked is not None:
        out["context"] = {"linked_anonymous_id": m.linked}
    return out


def lookup_params(ident: Identifier) -> dict[str, str]:
    return {"anonymous_id" if ident.kind == ANON else "user_id": ident.value}


async def persons(api: httpx.AsyncClient) -> dict[str, Person]:
    r = await api.get("/api/v1/persons", params={"limit": 1000})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    return {p["id"]: Person(p["id"], frozenset(p["user_ids"]), frozenset(p["anonymous_ids"]), p["event_count"])
            for p in body["data"]}


async def play(app: Starlette, scenario: Scenario, rnd: random.Random) -> None:
    project = app.state.services.store.create_project("Oracle", project_id=scenario.project_id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                 auth=(project["write_key"], "")) as ingest, \
            httpx.AsyncClient(transport=transport, base_url="http://test",
                              headers={"Authorization": f"Bearer {project['secret_key']}"}) as api:

        def pid(ident: Identifier) -> str:
            return person_id(scenario.project_id, ident)

        before: dict[Identifier, Identifier] = {}
        for n, (step, expected) in enumerate(scenario.steps):
            where = f"after step {n}: {step}"
            if isinstance(step, Post):
                messages = [wire(m) for m in step.messages]
                rnd.shuffle(messages)
                while messages:
                    size = rnd.randint(1, 4)
                    batch, messages = messages[:size], messages[size:]
                    r = await ingest.post("/v1/batch", json={"batch": batch})
                    assert r.status_code == 200 and r.json()["rejected"] == [], (where, r.text)
            elif isinstance(step, Split):
                r = await api.post(f"/api/v1/persons/{step.person_id}/split",
                                   json={"identifiers": [i.as_json() for i in sorted(step.detach)]})
                assert r.status_code == 200, (where, r.text)
                cluster = {i for i, rep in before.items() if rep == before[step.holder]}
                assert {p["id"] for p in r.json()["data"]} == {pid(expected.representative[i]) for i in cluster}, where
            elif isinstance(step, Merge):
                r = await api.post("/api/v1/persons/merge", json={"person_ids": list(step.person_ids)})
                assert r.status_code == 200, (where, r.text)
                assert r.json()["id"] == pid(expected.representative[step.a]), where
            elif isinstance(step, Erase):
                r = await api.delete(f"/api/v1/persons/{step.person_id}")
                assert r.status_code == 200, (where, r.text)
                body = r.json()
                assert (body["events"], body["identifiers"]) == (step.removed.events, step.removed.identifiers), where
                for ident in expected.suppressed:
                    r = await api.get("/api/v1/persons/lookup", params=lookup_params(ident))
                    assert r.status_code == 404, (where, ident, r.text)
            assert await persons(api) == expected.persons, where
            before = expected.representative


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios(project_ids=(f"oracle-{n}" for n in itertools.count())), rnd=st.randoms(use_true_random=False))
def test_persons_through_the_api_match_the_oracle_with_splits_merges_and_erasures(
    app: Starlette, scenario: Scenario, rnd: random.Random
) -> None:
    asyncio.run(play(app, scenario, rnd))
