"""Operations routes: ``/healthz`` (alive), ``/readyz`` (store writable), ``/metrics``."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from threadline.collector.http import JSONResponse, bearer_token
from threadline.errors import HTTPError, forbidden, unauthorized
from threadline.rejections import RejectionCounts
from threadline.services import services_of


async def healthz(request: Request) -> Response:
    """The process is up and answering."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The store takes writes: the writer thread runs and its last commit worked."""
    svc = services_of(request)
    writer = svc.store.writer
    if writer is None or not writer.alive():
        raise HTTPError(503, "store_unavailable", "the writer is not running", headers={"Retry-After": "5"})
    if not writer.healthy:
        raise HTTPError(503, "store_unavailable", f"the last commit failed: {writer.last_error}",
                        headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "queue_depth": writer.depth})


def _check_admin(request: Request) -> None:
    svc = services_of(request)
    token = svc.settings.admin_token
    if token:
        given = bearer_token(request)
        if given is None:
            raise unauthorized("the admin token is required")
        if not hmac.compare_digest(given, token):
            raise forbidden("wrong admin token")
        return
    host = request.client.host if request.client else ""
    if host not in ("127.0.0.1", "::1", "localhost", "testclient"):
        raise forbidden("/metrics answers loopback clients only when THREADLINE_ADMIN_TOKEN is unset")


async def metrics(request: Request) -> Response:
    """Prometheus text for the whole server."""
    _check_admin(request)
    svc = services_of(request)
    t = svc.ingestor.totals
    lines = []

    def metric(name: str, kind: str, help_: str, value: float, labels: str = "") -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name}{labels} {value}")

    for key in ("accepted", "duplicates", "quarantined", "personless", "suppressed"):
        metric(f"threadline_messages_{key}_total", "counter", f"Messages {key} since start.", t[key])
    metric("threadline_ingest_requests_total", "counter", "Ingest requests answered 2xx.", t["requests"])
    writer = svc.store.writer
    if writer is not None:
        metric("threadline_writer_queue_depth", "gauge", "Requests waiting for the writer.", writer.depth)
        st = writer.stats
        lines.append("# HELP threadline_commit_latency_ms Group commit latency in milliseconds.")
        lines.append("# TYPE threadline_commit_latency_ms histogram")
        for bound in sorted(st.commit_ms_buckets):
            lines.append(f'threadline_commit_latency_ms_bucket{{le="{bound}"}} {st.commit_ms_buckets[bound]}')
        lines.append(f'threadline_commit_latency_ms_bucket{{le="+Inf"}} {st.commits}')
        lines.append(f"threadline_commit_latency_ms_sum {st.commit_ms_total:.3f}")
        lines.append(f"threadline_commit_latency_ms_count {st.commits}")
        metric("threadline_commit_failures_total", "counter", "Failed write transactions.", st.failures)
    rejections: RejectionCounts = request.app.state.rejections
    lines.append("# HELP threadline_rejected_requests_total Requests answered 4xx, by route "
                 "template (or bounded raw path of an unmatched request) and status.")
    lines.append("# TYPE threadline_rejected_requests_total counter")
    for route, status, count in rejections.snapshot():
        lines.append(f'threadline_rejected_requests_total{{route="{_label(route)}",status="{status}"}} {count}')
    metric("threadline_stream_subscribers", "gauge", "Live stream clients.", svc.broadcaster.subscriber_count())
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
