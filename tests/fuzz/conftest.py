"""Fixtures of the fuzz suites: one in-process app and store per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.fuzz.harness import InProcess
from threadline.app import create_app
from threadline.settings import Settings


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    """One app and store for the whole module."""
    data: Path = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(data_dir=data, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    with start_blocking_portal() as portal:
        harness = InProcess(app, portal)
        try:
            yield harness
        finally:
            harness.close()
