"""Query-API inputs that Schemathesis does not reach by itself: cursors holding any JSON
(numbers of every size included) and ISO 8601 durations with hundreds of digits. Each is
answered 200 or a 422 naming the field, never a 5xx."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SECRET_KEY, WRITE_KEY
from tests.fuzz.harness import FUZZ, InProcess
from threadline.app import create_app
from threadline.demo.loader import load_demo
from threadline.settings import Settings

LISTS = ["/api/v1/events", "/api/v1/persons", "/api/v1/companies", "/api/v1/quarantine",
         "/api/v1/persons/{pid}/events", "/api/v1/companies/acme/events", "/api/v1/companies/acme/persons"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcess, str]]:
    """The in-process app over a week of demo traffic, and one of its person ids."""
    data: Path = tmp_path_factory.mktemp("query-inputs")
    app = create_app(Settings(data_dir=data, write_key=WRITE_KEY, secret_key=SECRET_KEY))
    load_demo(app.state.services.store, days=7, events=300)
    pid = app.state.services.store.read().execute(
        "SELECT person_id FROM identifiers WHERE project_id = 'default' ORDER BY 1 LIMIT 1").fetchone()[0]
    with start_blocking_portal() as portal:
        harness = InProcess(app, portal)
        try:
            yield harness, pid
        finally:
            harness.close()


def cursor(key: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def get(harness: InProcess, path: str, **params: str) -> tuple[int, str]:
    r = harness.request("GET", path, params=params, headers={"Authorization": f"Bearer {SECRET_KEY}"})
    return r.status_code, r.text[:300]


def funnel(harness: InProcess, window: str) -> tuple[int, str]:
    r = harness.request("POST", "/api/v1/insights/funnel", json={"steps": [{"event": "Signed Up"}],
                                                                  "window": window},
                        headers={"Authorization": f"Bearer {SECRET_KEY}"})
    return r.status_code, r.text[:300]


numbers = st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from([2**63 - 1, -(2**63), 2**53, 10**18]),
                    st.floats(allow_nan=False, allow_infinity=False))
keys = st.lists(st.one_of(numbers, st.text(max_size=8), st.none()), min_size=1, max_size=3)


@FUZZ
@given(path=st.sampled_from(LISTS), key=keys)
def test_any_cursor_is_a_page_or_a_422(demo: tuple[InProcess, str], path: str, key: list[object]) -> None:
    harness, pid = demo
    status, text = get(harness, path.format(pid=pid), cursor=cursor(key))
    assert status in (200, 422), (path, key, status, text)


@FUZZ
@given(window=st.from_regex(r"\AP(\d{1,400}W)?(\d{1,400}D)?(T(\d{1,400}H)?(\d{1,400}M)?(\d{1,400}(\.\d{1,5})?S)?)?\Z"))
def test_any_duration_is_a_funnel_or_a_422(demo: tuple[InProcess, str], window: str) -> None:
    status, text = funnel(demo[0], window)
    assert status in (200, 422), (window, status, text)


@pytest.mark.parametrize("path", LISTS)
def test_a_cursor_time_past_the_timestamp_range_is_a_422(demo: tuple[InProcess, str], path: str) -> None:
    harness, pid = demo
    for key in ([2**63 - 1, "x"], [2**63 - 1]):
        status, text = get(harness, path.format(pid=pid), cursor=cursor(key))
        assert status == 422 or (status == 200 and len(key) == 1), (path, key, status, text)


@pytest.mark.parametrize("window", ["P" + "9" * 400 + "D", "PT" + "9" * 400 + ".5S", "P" + "9" * 320 + "W"])
def test_a_window_too_long_for_a_float_is_a_422(demo: tuple[InProcess, str], window: str) -> None:
    status, text = funnel(demo[0], window)
    assert status == 422 and '"window"' in text, (status, text)
