"""Segment's and RudderStack's Python clients (segment-analytics-python and
rudder-sdk-python from PyPI), unmodified but for their host, against a real server.

rudder-sdk-python sends identify traits only in ``context.traits``; both clients
retry a batch whose answer was lost (a loopback proxy in front of the server drops the
first answer after the server stored it) and must store it once; with a wrong key,
their error handler reads ``code`` and ``message`` at the top level of the answer, and
must report the 401 once, without crashing or retrying.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from typing import Any

import pytest

from tests.conftest import WRITE_KEY, LiveServer, require
from tests.e2e.fault_proxy import drop_first, fault_proxy
from tests.e2e.segment_journey import Journey, check_journey

WRONG_KEY = "wk_wrong_0123456789abcdefghijkl"
CLIENTS = ("segment", "rudderstack")


def make_client(kind: str, key: str, host: str, errors: list[Any], **kw: Any) -> Any:
    """One of the two clients, sending to ``host``, reporting failures into ``errors``."""
    module = {"segment": "segment.analytics", "rudderstack": "rudderstack.analytics"}[kind]
    require(importlib.util.find_spec(module.split(".")[0]) is not None
            and importlib.util.find_spec(module) is not None,
            f"{module} is not installed (pip install -e '.[test]')")
    if kind == "segment":
        from segment.analytics import Client as SegmentClient
        return SegmentClient(key, host=host, on_error=lambda e, batch: errors.append(e),
                             upload_interval=0.05, **kw)
    from rudderstack.analytics import Client as RudderClient
    return RudderClient(key, host=host, on_error=lambda e, batch: errors.append(e),
                        upload_interval=0.05, **kw)


def walk(client: Any, j: Journey) -> None:
    """The journey with explicit times, one second apart, so their order is fixed."""
    at = [dt.datetime(2026, 11, 22, 9, 0, i, tzinfo=dt.UTC) for i in range(4)]
    client.page(anonymous_id=j.anon, name="Pricing", properties={"path": "/pricing"}, timestamp=at[0])
    client.identify(user_id=j.user, anonymous_id=j.anon, traits=j.traits, timestamp=at[1])
    client.track(user_id=j.user, event=j.event, properties={"plan": "pro"}, timestamp=at[2])
    client.group(user_id=j.user, group_id=j.company, traits={"name": "Acme"}, timestamp=at[3])
    client.flush()


def test_rudder_sdk_python_journey_with_identify_traits_in_context(shared_server: LiveServer) -> None:
    errors: list[Any] = []
    client = make_client("rudderstack", WRITE_KEY, shared_server.url, errors)
    j = Journey("rs-py")
    walk(client, j)
    client.join()
    assert errors == []
    p = check_journey(shared_server, j)
    assert p["traits"] == j.traits  # sent only as context.traits


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_lost_answer_is_retried_and_stored_once(shared_server: LiveServer, kind: str) -> None:
    j = Journey(f"{kind}-lost")
    errors: list[Any] = []
    with fault_proxy(shared_server.url, drop_first(1, "/v1/batch")) as proxy:
        client = make_client(kind, WRITE_KEY, proxy.url, errors)
        walk(client, j)
        client.join()
        sent = [s.status for s in proxy.posts("/v1/batch")]
    assert errors == []
    assert sent[0] is None and sent[1:] and all(s == 200 for s in sent[1:]), sent
    check_journey(shared_server, j)


@pytest.mark.parametrize("kind", CLIENTS)
def test_a_wrong_key_is_reported_once_by_the_clients_own_error_handler(
        shared_server: LiveServer, kind: str) -> None:
    errors: list[Any] = []
    with fault_proxy(shared_server.url) as proxy:
        client = make_client(kind, WRONG_KEY, proxy.url, errors, max_retries=3)
        client.track(user_id=f"{kind}-wrong-key", event="Never Stored")
        client.flush()
        client.join()
        posts = proxy.posts("/v1/batch")
    # One request, no retry of the 401, and the handler got a real APIError.
    assert [s.status for s in posts] == [401]
    assert len(errors) == 1
    err = errors[0]
    assert type(err).__name__ == "APIError", repr(err)
    assert (err.status, err.code) == (401, "unauthorized") and err.message
