"""``create_app(settings)``: wiring only. Each area owns its routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from threadline import operations
from threadline.collector import moesif_routes, sdk_settings, usermaven_routes
from threadline.collector import routes as collector_routes
from threadline.collector.cors import CollectorCORS
from threadline.collector.http import JSONResponse, ProxyPolicy
from threadline.collector.ingest import Ingestor
from threadline.dashboard import views as dashboard
from threadline.errors import HTTPError
from threadline.query import api as query_api
from threadline.query.stream import Broadcaster
from threadline.rejections import RejectionCounts, RejectionLog
from threadline.services import Services
from threadline.settings import Settings
from threadline.storage.duckdb_store import DuckDBStore
from threadline.tracker.routes import routes as tracker_routes

log = logging.getLogger("threadline")

HTTP_CODES = {400: "invalid_body", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              422: "validation_error", 429: "rate_limited"}


def open_services(settings: Settings, store: DuckDBStore | None = None) -> Services:
    """Open the store (creating the default project on first start) and build the services."""
    if store is None:
        store = DuckDBStore(settings.store_path, max_group=settings.commit_max_messages,
                            queue_limit=settings.writer_queue_limit,
                            key_grace_hours=settings.key_grace_hours)
    store.ensure_default_project(settings.write_key, settings.secret_key)
    broadcaster = Broadcaster()
    ingestor = Ingestor(store, settings.rejected_limit)
    ingestor.listeners.append(broadcaster.publish)
    fixed = {k for k in (settings.write_key, settings.secret_key) if k}
    return Services(settings, store, ingestor, broadcaster, ProxyPolicy(settings.trusted_proxies),
                    fixed_keys=fixed)


async def _retention_loop(svc: Services, every_s: float = 3600.0) -> None:
    """Apply per-project retention at start and then hourly, off the event loop."""
    while True:
        try:
            deleted = await run_in_threadpool(svc.store.apply_retention)
            if deleted:
                log.info("retention deleted events: %s", deleted)
        except Exception:  # a failed sweep is retried next hour; ingest is unaffected
            log.exception("retention sweep failed")
        await asyncio.sleep(every_s)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    return JSONResponse({"error": {"code": code, "message": str(exc.detail), "details": None}},
                        status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": {"code": "internal_error", "message": "internal server error",
                                   "details": None}}, status_code=500)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    """The whole server: collectors, query API, dashboard, operations."""
    settings = settings or Settings.from_env()
    svc = services or open_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        retention = asyncio.create_task(_retention_loop(svc))
        try:
            yield
        finally:
            retention.cancel()
            svc.store.close()

    # The query API last: collector routes under /api/v1/ (Usermaven) must match first.
    routes = [*operations.routes(), *collector_routes.routes(), *sdk_settings.routes(),
              *usermaven_routes.routes(),
              *moesif_routes.routes(), *tracker_routes, *query_api.routes(),
              *dashboard.routes()]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPError: http_error, HTTPException: starlette_error,
                            Exception: server_error},
    )
    app.state.services = svc
    # Innermost, so it shares the router's scope and sees the matched route's template.
    app.state.rejections = RejectionCounts()
    app.add_middleware(RejectionLog, counts=app.state.rejections)
    app.add_middleware(CollectorCORS)
    app.add_middleware(usermaven_routes.DoubledSlash)
    return app
