"""Schemathesis over ``/api/v1/openapi.json``, served and answered by the in-process app
over a store holding a little demo data (``threadline.demo``).

Every documented operation is called with inputs generated from its parameters and
body schemas (and with inputs that break them), authenticated the way the document's
security scheme says. Each answer must not be a server error, must have a documented
status and content type, and its body must match the documented response schema.

The operations that change or erase data (erase, merge, split, settings, key rotation)
run against a store of their own, with person ids drawn from the persons it holds, so
they do their work rather than answering 404 to random ids, and cannot empty the read
operations' store halfway through. The live stream never ends by itself: a separate
test reads its first line.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.fuzz.harness import FUZZ
from threadline.app import create_app
from threadline.demo.loader import load_demo
from threadline.query.openapi import document
from threadline.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Change or erase what the read operations look at: run on their own store.
WRITES = {("POST", "/api/v1/persons/merge"), ("POST", "/api/v1/persons/{person_id}/split"),
          ("DELETE", "/api/v1/persons/{person_id}"), ("PATCH", "/api/v1/projects/current/settings"),
          ("POST", "/api/v1/keys/rotate")}
STREAM = ("GET", "/api/v1/events/stream")
OPERATIONS = sorted((method.upper(), path) for path, item in document()["paths"].items() for method in item)
READS = [op for op in OPERATIONS if op not in WRITES and op != STREAM]
BASIC = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
EXAMPLES = 15


class Served:
    """The app as Schemathesis calls it: its lifespan answered here, so that the client
    Schemathesis opens per call does not run the app's shutdown (which closes the
    store) after the first one. The fixture closes the store at the end."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def demo_app(data: Path) -> Starlette:
    """An app over a fresh store with a week of demo traffic in the default project."""
    app = create_app(Settings(data_dir=data, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    totals = load_demo(app.state.services.store, days=7, events=500)
    assert totals["accepted"] > 200, totals
    return app


@pytest.fixture(scope="module")
def read_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The document as the app serves it, answered by an app over demo data."""
    app = demo_app(tmp_path_factory.mktemp("openapi-read"))
    yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", Served(app))
    app.state.services.store.close()


@pytest.fixture(scope="module")
def write_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The same over a store of its own, for the operations that change data."""
    app = demo_app(tmp_path_factory.mktemp("openapi-write"))
    yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", Served(app))
    app.state.services.store.close()


def cases(schema: Any, method: str, path: str) -> Any:
    """Cases that fit the operation's schemas, and some that break them."""
    operation = schema[path][method]
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    return st.one_of(positive, positive, operation.as_strategy(GenerationMode.NEGATIVE))


def authenticate(case: Any) -> None:
    """Put the key where the operation's security scheme says."""
    schemes = {name for req in case.operation.definition.raw.get("security", []) for name in req}
    headers = dict(case.headers or {})
    query = dict(case.query or {})
    if "secretKey" in schemes:
        headers["Authorization"] = f"Bearer {SECRET_KEY}"
    elif "writeKeyBasic" in schemes:
        headers["Authorization"] = BASIC
    elif "moesifApplicationId" in schemes:
        headers["X-Moesif-Application-Id"] = WRITE_KEY
    elif "usermavenToken" in schemes:
        query["token"] = f"{WRITE_KEY}.{SECRET_KEY}" if "/s2s/" in case.path else WRITE_KEY
    case.headers = headers
    case.query = query


@pytest.mark.parametrize(("method", "path"), READS, ids=[f"{m} {p}" for m, p in READS])
def test_documented_operations(read_schema: Any, method: str, path: str) -> None:
    @settings(FUZZ, max_examples=EXAMPLES)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(cases(read_schema, method, path), label="case")
        authenticate(case)
        case.call_and_validate(checks=CHECKS)

    run()


def person_ids(schema: Any) -> list[str]:
    rows = schema.app.app.state.services.store.read().execute(
        "SELECT DISTINCT person_id FROM identifiers WHERE project_id = 'default' ORDER BY 1 LIMIT 50"
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize(("method", "path"), sorted(WRITES), ids=[f"{m} {p}" for m, p in sorted(WRITES)])
def test_operations_that_change_data(write_schema: Any, method: str, path: str) -> None:
    @settings(FUZZ, max_examples=EXAMPLES)
    @given(data=st.data(), pick=st.integers(0, 60))
    def run(data: st.DataObject, pick: int) -> None:
        case = data.draw(cases(write_schema, method, path), label="case")
        authenticate(case)
        # Most of the time, name persons the store holds, so the operation does its work.
        known = person_ids(write_schema)
        if pick < len(known):
            if "person_id" in (case.path_parameters or {}):
                case.path_parameters = {**case.path_parameters, "person_id": known[pick]}
            if isinstance(case.body, dict) and isinstance(case.body.get("person_ids"), list):
                case.body = {**case.body, "person_ids": [known[pick], known[(pick + 1) % len(known)]]}
        case.call_and_validate(checks=CHECKS)

    run()
