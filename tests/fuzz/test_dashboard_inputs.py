"""Hand-edited dashboard query strings (numbers in any script, forged cursors, odd time
zones) show a page or a 4xx, never a 5xx."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SECRET_KEY
from tests.fuzz.harness import FUZZ, InProcess
from tests.fuzz.strategies import STRANGE_STRINGS


@pytest.fixture(scope="module")
def logged_in(inprocess: InProcess) -> Iterator[InProcess]:
    """The module's app with a dashboard session cookie on its client."""
    r = inprocess.request("POST", "/login", data={"secret_key": SECRET_KEY, "next": "/"})
    assert r.status_code == 303, r.text
    assert inprocess.client.cookies, "no session cookie"
    yield inprocess


def forged_cursor(key: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


# A URL cannot carry a lone surrogate: those stay out.
values = st.one_of(st.sampled_from([v for v in STRANGE_STRINGS if not any(0xD800 <= ord(c) <= 0xDFFF for c in v)]),
                   st.text(st.characters(codec="utf-8"), max_size=10),
                   st.sampled_from([forged_cursor([2**63 - 1, "x"]), forged_cursor([None, None]), "%%%"]))


@FUZZ
@given(page=st.sampled_from(["/", "/persons", "/companies", "/funnels"]),
       name=st.sampled_from(["days", "tz", "q", "cursor", "msg", "from", "to", "window", "by", "steps"]),
       value=values)
def test_query_strings_never_break_a_page(logged_in: InProcess, page: str, name: str, value: str) -> None:
    try:
        r: httpx.Response = logged_in.request("GET", page, params={name: value})
    except Exception as exc:  # the app raised: its answer was a 500
        raise AssertionError(f"GET {page}?{name}={value!r} raised {exc!r}") from exc
    assert r.status_code < 500, (page, name, value, r.status_code, r.text[:300])


@pytest.mark.parametrize("days", ["\u00b2", "\u0663", "\uff11"])
def test_days_in_another_script_shows_the_default_range(logged_in: InProcess, days: str) -> None:
    r = logged_in.request("GET", "/", params={"days": days})
    assert r.status_code == 200, r.text[:300]
