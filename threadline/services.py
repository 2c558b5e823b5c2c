"""The long-lived parts one server process shares, handed to every route through
``app.state.services``: settings, store, ingestor, live stream, proxy policy."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from starlette.requests import Request

from threadline.collector.http import ProxyPolicy
from threadline.collector.ingest import Ingestor
from threadline.collector.request_info import RequestInfo
from threadline.errors import unauthorized
from threadline.projects import KeyInfo
from threadline.query.stream import Broadcaster
from threadline.settings import Settings
from threadline.storage.duckdb_store import DuckDBStore


@dataclass
class Services:
    """Everything a request handler may use."""

    settings: Settings
    store: DuckDBStore
    ingestor: Ingestor
    broadcaster: Broadcaster
    proxies: ProxyPolicy
    started_at: float = field(default_factory=time.time)
    fixed_keys: set[str] = field(default_factory=set)

    def auth(self, key: str | None) -> KeyInfo:
        """The project a write or secret key opens; 401 when missing or unknown."""
        if not key:
            raise unauthorized("a project key is required")
        info = self.store.auth(key)
        if info is None:
            raise unauthorized("unknown or expired key")
        return info

    def utc_day(self, received_at_us: int) -> str:
        if self.settings.fixed_day:
            return self.settings.fixed_day
        return dt.datetime.fromtimestamp(received_at_us / 1e6, dt.UTC).strftime("%Y-%m-%d")

    def request_info(self, request: Request, project_id: str, received_at_us: int,
                     message_limit: int, body_bytes: int | None = None) -> RequestInfo:
        """The facts about ``request`` that adapters need."""
        store = self.store
        return RequestInfo(
            project_id=project_id,
            settings=store.settings(project_id),
            received_at_us=received_at_us,
            ip=self.proxies.client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            origin=request.headers.get("origin", ""),
            day=self.utc_day(received_at_us),
            salt=lambda day: store.salt(project_id, day),
            headers=request.headers,
            query=request.query_params,
            max_future_us=int(self.settings.max_future_skew_days * 86_400_000_000),
            max_past_us=int(self.settings.max_past_days * 86_400_000_000),
            message_limit=message_limit,
            body_bytes=body_bytes,
        )


def services_of(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc
