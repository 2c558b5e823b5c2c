"""The baseline for bench/ingest.py: the same HTTP stack (uvicorn + Starlette + orjson)
answering /v1/batch after parsing the JSON, storing nothing."""

from __future__ import annotations

import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def batch(request: Request) -> Response:
    body = orjson.loads(await request.body())
    n = len(body.get("batch", [])) if isinstance(body, dict) else 0
    return Response(orjson.dumps({"accepted": n, "duplicates": 0, "rejected": []}),
                    media_type="application/json")


async def ready(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


app = Starlette(routes=[Route("/v1/batch", batch, methods=["POST"]), Route("/v1/track", batch, methods=["POST"]),
                        Route("/readyz", ready)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[sys.argv.index("--port") + 1]), log_level="warning",
                access_log=False)
