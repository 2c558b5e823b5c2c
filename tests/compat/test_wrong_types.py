"""Compat routes never 500 on a wrong-typed nested block: each variant below is sent in
one batch beside a good event, and must be read as absent or refused on its own, with
the route's documented answer (Usermaven exactly ``200 {"status":"ok"}``, Moesif
``201``) and the good neighbour stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.collector.surfaces import (
    SURFACES,
    Surface,
    client,
    is_stored,
    post,
    running_app,
    with_field,
)
from tests.conftest import WRITE_KEY

pytestmark = pytest.mark.anyio

BY_NAME = {s.name: s for s in SURFACES}
STRICT = replace(BY_NAME["usermaven-browser"], name="usermaven-strict",
                 path=f"/api/v1/event?token={WRITE_KEY}&cookie_policy=strict&ip_policy=strict")

NOT_OBJECTS: list[Any] = ["text", [1], 5, True]
NOT_IDS: list[Any] = [{"id": 1}, [1]]

# (field path, value) per route; a Usermaven event is also sent without its top-level
# page fields, so that what the sender put in context.page is all there is.
USERMAVEN: list[tuple[tuple[str, ...], Any]] = [
    *((("user",), v) for v in NOT_OBJECTS),
    *((("user", "id"), v) for v in NOT_IDS),
    *((("user", "anonymous_id"), v) for v in NOT_IDS),
    *((("user", "company"), v) for v in NOT_OBJECTS),
    *((("user", "company", "id"), v) for v in NOT_IDS),
    *((("company",), v) for v in NOT_OBJECTS),
    *((("company", "id"), v) for v in NOT_IDS),
    *((("context",), v) for v in NOT_OBJECTS),
    *((("context", "page"), v) for v in NOT_OBJECTS),
    (("context", "ip"), {"v": 4}), (("context", "userAgent"), [1]),
    *((("event_attributes",), v) for v in NOT_OBJECTS),
    (("autocapture_attributes",), "text"), (("autocapture_attributes",), [1]),
    *((("utm",), v) for v in NOT_OBJECTS), (("utm", "campaign"), {"x": 1}),
    (("src",), [1]), (("src",), {"a": 1}),
    (("event_type",), {"a": 1}), (("event_type",), [1]), (("event_type",), 5),
    (("event_id",), {"a": 1}), (("event_id",), [1]),
    (("url",), {"a": 1}), (("doc_path",), [1]), (("referer",), 5), (("page_title",), {"a": 1}),
    (("doc_search",), [1]), (("user_agent",), {"a": 1}), (("user_language",), [1]), (("source_ip",), {"a": 1}),
    (("utc_time",), {"a": 1}), (("api_key",), {"a": 1}),
]
MOESIF_EVENTS: list[tuple[tuple[str, ...], Any]] = [
    *((("request",), v) for v in NOT_OBJECTS),
    *((("response",), v) for v in NOT_OBJECTS),
    *((("request", "headers"), v) for v in NOT_OBJECTS),
    *((("response", "headers"), v) for v in NOT_OBJECTS),
    (("request", "headers", "Content-Length"), "²"), (("request", "headers", "Content-Length"), "9" * 5000),
    (("request", "headers", "Content-Length"), "9" * 30), (("response", "headers", "content-length"), {"a": 1}),
    (("request", "headers", "Authorization"), {"a": 1}), (("request", "headers", "Authorization"), "Bearer a.e30.c"),
    (("request", "headers", "Authorization"), "Bearer a.W10.c"),  # the payload is a JSON array
    (("request", "uri"), {"a": 1}), (("request", "verb"), [1]), (("request", "ip_address"), {"a": 1}),
    (("request", "user_agent_string"), [1]), (("request", "api_version"), {"a": 1}),
    (("request", "body"), [1, {"a": [2]}]), (("request", "transfer_encoding"), {"a": 1}),
    (("response", "status"), "200"), (("response", "body"), "text"),
    *((("user_id",), v) for v in NOT_IDS), *((("company_id",), v) for v in NOT_IDS),
    *((("anonymous_id",), v) for v in NOT_IDS),
    (("metadata",), [1]), (("metadata",), "text"), (("tags",), {"a": 1}), (("direction",), {"a": 1}),
    (("transaction_id",), {"a": 1}), (("session_token",), {"a": 1}), (("weight",), "heavy"),
]
MOESIF_USERS: list[tuple[tuple[str, ...], Any]] = [
    *((("metadata",), v) for v in NOT_OBJECTS), *((("campaign",), v) for v in NOT_OBJECTS),
    *((("user_id",), v) for v in NOT_IDS), *((("company_id",), v) for v in NOT_IDS),
    (("ip_address",), {"a": 1}), (("user_agent_string",), [1]), (("session_token",), {"a": 1}),
]
MOESIF_COMPANIES: list[tuple[tuple[str, ...], Any]] = [
    *((("metadata",), v) for v in NOT_OBJECTS), *((("company_id",), v) for v in NOT_IDS),
    (("company_domain",), {"a": 1}), (("campaign",), "text"),
]
MOESIF_ACTIONS: list[tuple[tuple[str, ...], Any]] = [
    *((("request",), v) for v in NOT_OBJECTS), *((("metadata",), v) for v in NOT_OBJECTS),
    (("action_name",), {"a": 1}), (("request", "uri"), {"a": 1}), (("request", "ip_address"), [1]),
    (("request", "user_agent_string"), {"a": 1}), (("transaction_id",), [1]),
    *((("user_id",), v) for v in NOT_IDS),
]


def _params() -> list[Any]:
    out = []
    # (The s2s route shares the browser's adapter; strict mode reads context.page too.)
    groups = [(BY_NAME["usermaven-browser"], USERMAVEN),
              (STRICT, USERMAVEN),
              (BY_NAME["moesif-events-batch"], MOESIF_EVENTS), (BY_NAME["moesif-users-batch"], MOESIF_USERS),
              (BY_NAME["moesif-companies-batch"], MOESIF_COMPANIES),
              (BY_NAME["moesif-actions-batch"], MOESIF_ACTIONS)]
    for surface, variants in groups:
        for n, (path, value) in enumerate(variants):
            out.append(pytest.param(surface, path, value, id=f"{surface.name}-{'.'.join(path)}-{n}"))
    return out


def _variants(surface: Surface, bad: dict[str, Any]) -> list[dict[str, Any]]:
    """The bad item as each Usermaven event type, with and without the top-level url."""
    if not surface.name.startswith("usermaven"):
        return [bad]
    out = []
    for kind in (bad["event_type"], "pageview", "user_identify", "group"):
        typed = {**bad, "event_type": kind}
        out += [typed, {k: v for k, v in typed.items() if k != "url"}]
    return out


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    async with running_app(tmp_path) as application:
        yield application


@pytest.mark.parametrize(("surface", "path", "value"), _params())
async def test_a_wrong_typed_block_never_fails_its_batch(
        app: Starlette, surface: Surface, path: tuple[str, ...], value: Any) -> None:
    good = surface.good("wt-good")
    bad = with_field(surface.good("wt-bad"), path, value)
    if path == ("event_type",):
        variants = [bad, {k: v for k, v in bad.items() if k != "url"}]
    else:  # every Usermaven event type reads the blocks its own way
        variants = _variants(surface, bad)
    async with client(app) as c:
        for n, variant in enumerate(variants):
            r = await post(c, surface, [variant, {**good, **_fresh(surface, n)}])
            assert r.status_code == surface.ok_status, (variant, r.status_code, r.text)
            if surface.name.startswith("usermaven"):
                assert r.json() == {"status": "ok"}
            assert await is_stored(c, surface, _marker(n)), variant
        # The single-item Moesif route answers the same item 201 or 422, never a 5xx.
        if surface.name.startswith("moesif"):
            single = BY_NAME[surface.name.removesuffix("-batch")]
            r = await post(c, single, [with_field(single.good("wt-single"), path, value)])
            assert r.status_code in (201, 422), r.text


def _marker(n: int) -> str:
    return f"wt-good-{n}"


def _fresh(surface: Surface, n: int) -> dict[str, Any]:
    """The good neighbour's own id field, fresh for each send."""
    fresh = surface.good(_marker(n))
    key = {"id": "event_id" if surface.name.startswith("usermaven") else "transaction_id",
           "user": "user_id", "company": "company_id", "event": "action_name"}[surface.find]
    return {key: fresh[key]}
