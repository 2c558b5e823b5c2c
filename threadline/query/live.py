"""``GET /api/v1/events/stream``: committed events as server-sent events.

Each event is ``event: message``, ``id:`` the message id, ``data:`` the event JSON
(the same shape as the events list). The first thing sent is a comment, written once
the subscription exists, so a client that has read it will see every event committed
afterwards. A comment every 15 s keeps proxies from closing an
idle stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from threadline.model import Message
from threadline.query.auth import secret_project
from threadline.query.params import text
from threadline.query.serialize import message_json
from threadline.services import services_of

KEEPALIVE_S = 15.0
MAX_BATCH = 500


def person_ids(cur: Any, project_id: str, messages: list[Message]) -> dict[tuple[str, str], str]:
    """Current person id of each message's owner identifier, in one query."""
    users = sorted({m.user_id for m in messages if m.user_id is not None})
    anons = sorted({m.anonymous_id for m in messages if m.anonymous_id is not None})
    if not users and not anons:
        return {}
    rows = cur.execute(
        "SELECT kind, value, person_id FROM identifiers WHERE project_id = ? AND ("
        "(kind = 'user' AND value IN (SELECT unnest(?::VARCHAR[]))) OR "
        "(kind = 'anonymous' AND value IN (SELECT unnest(?::VARCHAR[]))))",
        [project_id, users, anons],
    ).fetchall()
    return {(kind, value): pid for kind, value, pid in rows}


def _owners(store: Any, project_id: str, messages: list[Message]) -> dict[tuple[str, str], str]:
    # Called in a worker thread: read cursors belong to the thread that asks for them.
    return person_ids(store.read(), project_id, messages)


def _owner_key(msg: Message) -> tuple[str, str] | None:
    owner = msg.owner
    return (str(owner.kind), owner.value) if owner is not None else None


async def stream(request: Request) -> StreamingResponse:
    """Live events of the key's project, optionally filtered by ``type`` and ``event``."""
    project = secret_project(request)
    q = request.query_params
    type_, event = text(q, "type"), text(q, "event")
    svc = services_of(request)

    def wanted(msg: Message) -> bool:
        return (not msg.hidden and (type_ is None or msg.type == type_)
                and (event is None or msg.event == event))

    async def frames() -> AsyncIterator[bytes]:
        # Subscribe inside the generator: its ``finally`` then always unsubscribes, even
        # when the client leaves before the first byte.
        queue = svc.broadcaster.subscribe(project)
        try:
            yield b": connected\n\n"
            while True:
                try:
                    first = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(queue.get_nowait())
                    except asyncio.QueueEmpty:
                        break
                batch = [m for m in batch if wanted(m)]
                if not batch:
                    continue
                owners = await run_in_threadpool(_owners, svc.store, project, batch)
                out = []
                for msg in batch:
                    key = _owner_key(msg)
                    data = orjson.dumps(message_json(msg, owners.get(key) if key else None), default=str)
                    mid = msg.message_id.replace("\n", " ").replace("\r", " ")
                    out.append(b"event: message\nid: " + mid.encode() + b"\ndata: " + data + b"\n\n")
                yield b"".join(out)
        finally:
            svc.broadcaster.unsubscribe(project, queue)

    return StreamingResponse(
        frames(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

