"""Reading the browser's anonymous id from whatever request object a framework gives."""

from __future__ import annotations

import flask
import pytest
from starlette.requests import Request

from threadline.sdk import anonymous_id_from_cookies, anonymous_id_from_request


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("tl_aid=a-1", "a-1", id="tracker_cookie"),
        pytest.param("x=1; tl_aid=%22a-2%22; y=2", "a-2", id="url_encoded_quotes_stripped"),
        pytest.param("__eventn_id_wk_abc=um-1", "um-1", id="usermaven_cookie"),
        pytest.param("ajs_anonymous_id=%2522seg-1%2522", "seg-1", id="segment_double_encoded"),
        pytest.param('ajs_anonymous_id="seg-2"', "seg-2", id="segment_json_string"),
        pytest.param("ajs_anonymous_id=seg; tl_aid=tl", "tl", id="tracker_wins_over_segment"),
        pytest.param("__eventn_id=um; ajs_anonymous_id=seg", "um", id="usermaven_before_segment"),
        pytest.param("tl_aid=undefined; ajs_anonymous_id=seg", "seg", id="junk_value_skipped"),
        pytest.param("tl_aid=", None, id="empty_value"),
        pytest.param("garbage;;==; =x", None, id="malformed_header"),
        pytest.param("", None, id="no_cookies"),
    ],
)
def test_cookie_header(header: str, expected: str | None) -> None:
    assert anonymous_id_from_cookies(header) == expected


def test_usermaven_cookie_is_chosen_by_key() -> None:
    header = "__eventn_id_other=o-1; __eventn_id_mine=m-1"
    assert anonymous_id_from_cookies(header, key="mine") == "m-1"


def test_starlette_request_scope_environ_and_flask_request() -> None:
    scope = {"type": "http", "headers": [(b"cookie", b"tl_aid=from-scope")]}
    assert anonymous_id_from_request(Request(scope)) == "from-scope"
    assert anonymous_id_from_request(scope) == "from-scope"
    assert anonymous_id_from_request({"REQUEST_METHOD": "GET", "HTTP_COOKIE": "tl_aid=env"}) == "env"
    app = flask.Flask("t")
    with app.test_request_context("/", headers={"Cookie": "tl_aid=flask-1"}):
        assert anonymous_id_from_request(flask.request) == "flask-1"


def test_unknown_objects_give_none_never_an_error() -> None:
    assert anonymous_id_from_request(object()) is None
    assert anonymous_id_from_request(None) is None
    assert anonymous_id_from_request(42) is None
