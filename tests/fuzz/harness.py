"""The fuzz suites' in-process harness: the app behind httpx's ASGI transport, called from
synchronous Hypothesis tests through one event loop, and a fresh project per example so
that what a request stored can be read back exactly."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette

from tests.conftest import SECRET_KEY, WRITE_KEY

# Reproducible in CI: the same examples every run, no example database between runs, and
# a fixed number of them so the whole fuzz suite stays under a minute.
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)

_names = itertools.count()


@dataclass(frozen=True)
class Project:
    """A project's id and keys."""

    id: str
    write_key: str
    secret_key: str


class InProcess:
    """The app behind httpx's ASGI transport, called from synchronous code through an
    event loop that lives as long as the test module."""

    def __init__(self, app: Starlette, portal: BlockingPortal) -> None:
        self.app = app
        self.portal = portal
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://fuzz.test", timeout=60)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """One HTTP request to the app (a 5xx comes back as a response, never raised)."""
        response: httpx.Response = self.portal.call(lambda: self.client.request(method, url, **kw))
        return response

    def query(self, project: Project, path: str, **params: Any) -> httpx.Response:
        """GET a query-API path with the project's secret key."""
        return self.request("GET", path, params=params,
                            headers={"Authorization": f"Bearer {project.secret_key}"})

    def new_project(self) -> Project:
        """A fresh, empty project: what one example stores is all it holds."""
        made = self.app.state.services.store.create_project(f"fuzz {next(_names)}")
        return Project(made["project_id"], made["write_key"], made["secret_key"])

    def default_project(self) -> Project:
        return Project("default", WRITE_KEY, SECRET_KEY)

    def close(self) -> None:
        self.portal.call(self.client.aclose)
        self.app.state.services.store.close()
