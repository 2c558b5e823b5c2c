"""Fixtures for the SDK tests: a local fake collector (outside the system under test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sdk.fake_collector import FakeCollector


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    with FakeCollector() as fake:
        yield fake
