"""The retry predicate, Retry-After parsing and the backoff schedule, as tables."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from threadline.sdk.retry import Backoff, is_retryable, retry_after_seconds


@pytest.mark.parametrize(
    ("status", "error", "retry"),
    [
        pytest.param(500, None, True, id="server_error_is_retried"),
        pytest.param(503, None, True, id="store_unavailable_is_retried"),
        pytest.param(408, None, True, id="request_timeout_is_retried"),
        pytest.param(429, None, True, id="rate_limited_is_retried"),
        pytest.param(200, None, False, id="success_is_not_retried"),
        pytest.param(400, None, False, id="bad_request_is_final"),
        pytest.param(401, None, False, id="wrong_key_is_final"),
        pytest.param(413, None, False, id="too_large_is_split_not_retried"),
        pytest.param(422, None, False, id="invalid_message_is_final"),
        pytest.param(None, httpx.ConnectError("refused"), True, id="refused_connection_is_retried"),
        pytest.param(None, httpx.ReadTimeout("slow"), True, id="timeout_is_retried"),
        pytest.param(None, httpx.RemoteProtocolError("reset"), True, id="reset_is_retried"),
        pytest.param(None, ConnectionResetError(), True, id="os_error_is_retried"),
        pytest.param(None, ValueError("bug"), False, id="programming_error_is_not_retried"),
    ],
)
def test_retry_predicate(status: int | None, error: BaseException | None, retry: bool) -> None:
    assert is_retryable(status, error) is retry


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-4") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(date, now=1_000_000) == pytest.approx(30.0)


def test_backoff_grows_is_capped_and_takes_retry_after_as_a_minimum() -> None:
    b = Backoff(base=0.5, cap=4.0, max_retry_after=60.0)
    lows = [b.delay(n, rand=0.0) for n in range(1, 7)]
    highs = [b.delay(n, rand=1.0) for n in range(1, 7)]
    assert lows == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert highs == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.delay(1, retry_after=10.0, rand=0.0) == 10.0  # the server's minimum wins
    assert b.delay(6, retry_after=0.1, rand=1.0) == 4.0  # ...but never shortens ours
    assert b.delay(1, retry_after=3600.0) == 60.0  # and a silly header is bounded
