"""The SDK client against a local fake collector: batching, retries, limits, never raising.

The fake collector stands in for the network and its failures; the SDK runs unmodified.
No sleeps: the tests wait on flush() or on the collector's condition with a deadline.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import threading
import time
from typing import Any

import pytest

import threadline.sdk as sdk
from tests.conftest import free_port
from tests.sdk.fake_collector import FakeCollector, Hangup, Reply
from threadline.sdk import Backoff, Client, Delivery, DeliveryError, InvalidCall, OversizedMessage

KEY = "wk_test_0123456789abcdefghijklmn"
FAST = Backoff(base=0.01, cap=0.05)


def client(url: str, **kw: Any) -> Client:
    options: dict[str, Any] = {"flush_interval": 0.05, "backoff": FAST, "timeout": 5.0}
    options.update(kw)
    return Client(KEY, url, **options)


def ids(messages: list[dict[str, Any]]) -> list[str]:
    return [m["messageId"] for m in messages]


def test_calls_return_message_ids_at_once_even_when_the_collector_is_slow(
    collector: FakeCollector,
) -> None:
    collector.then(Reply(delay=3.0))
    c = client(collector.url, flush_at=5)
    t0 = time.perf_counter()
    returned = [c.track("u1", "Clicked", {"n": i}) for i in range(50)]
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5, "tracking must not wait for the network"
    assert all(isinstance(mid, str) for mid in returned)
    collector.release.set()  # end the slow answer early
    assert c.flush(10)
    assert sorted(collector.stored) == sorted(returned)
    c.shutdown()


def test_batches_by_count_without_a_flush(collector: FakeCollector) -> None:
    c = client(collector.url, flush_at=10, flush_interval=60)
    for i in range(25):
        c.track("u1", "E", {"i": i})
    assert collector.wait_stored(20)
    assert [len(r.batch) for r in collector.requests] == [10, 10]
    assert c.flush(5)
    assert [len(r.batch) for r in collector.requests] == [10, 10, 5]
    c.shutdown()


def test_batches_by_interval_without_a_flush(collector: FakeCollector) -> None:
    c = client(collector.url, flush_at=1000, flush_interval=0.05)
    for i in range(3):
        c.page("u1", name=f"p{i}")
    assert collector.wait_stored(3, timeout=5)
    assert len(collector.requests) == 1
    c.shutdown()


def test_batches_by_bytes_stay_under_the_limit(collector: FakeCollector) -> None:
    c = client(collector.url, flush_at=1000, flush_interval=60, max_batch_bytes=20_000)
    for i in range(12):
        c.track("u1", "Big", {"blob": "x" * 5000, "i": i})
    assert c.flush(5)
    assert len(collector.requests) >= 3
    assert all(r.raw_bytes <= 20_000 for r in collector.requests)
    assert len(collector.stored) == 12
    c.shutdown()


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: every send fails
    c = client(dead, max_queue_size=20, flush_at=5, backoff=Backoff(base=5, cap=5))
    t0 = time.perf_counter()
    results = [c.track("u1", "E") for _ in range(500)]
    assert time.perf_counter() - t0 < 1.0
    stats = c.stats()
    assert stats.dropped_queue_full > 0
    assert results.count(None) == stats.dropped_queue_full
    assert stats.enqueued + stats.dropped_queue_full == 500
    assert c.shutdown(timeout=0.2) is False
    after = c.stats()
    assert after.failed == after.enqueued  # every queued message accounted for, none sent
    assert after.accepted == 0


def test_5xx_is_retried_with_the_same_message_ids_and_stored_once(
    collector: FakeCollector,
) -> None:
    collector.then(Reply(500), Reply(503, {"Retry-After": "0"}))
    c = client(collector.url)
    sent = [c.identify(f"u{i}", {"plan": "pro"}) for i in range(5)]
    assert c.flush(10)
    assert [r.status for r in collector.requests] == [500, 503, 200]
    batches = [ids(r.batch) for r in collector.requests]
    assert batches[0] == batches[1] == batches[2] == sent
    assert set(collector.stored.values()) == {1}
    sent_at = [r.body["sentAt"] for r in collector.requests]
    assert sent_at == sorted(sent_at)  # re-stamped per attempt, never older
    s = c.stats()
    assert (s.accepted, s.retries, s.requests, s.failed) == (5, 2, 3, 0)
    c.shutdown()


def test_retry_after_is_waited_for(collector: FakeCollector) -> None:
    collector.then(Reply(429, {"Retry-After": "0.4"}))
    c = client(collector.url)
    c.track("u1", "E")
    assert c.flush(10)
    first, second = collector.requests
    assert (first.status, second.status) == (429, 200)
    assert second.arrived - first.arrived >= 0.39


def test_network_errors_are_retried_until_the_collector_is_up() -> None:
    hangup = Hangup()
    c = client(f"http://127.0.0.1:{hangup.port}", backoff=Backoff(base=0.05, cap=0.1),
               max_retries=100)
    sent = [c.track("u1", "Early", {"i": i}) for i in range(10)]
    assert hangup.wait_connections(2)  # the first attempt and a retry both failed
    hangup.close()
    with FakeCollector(port=hangup.port) as late:
        assert c.flush(10)
        assert sorted(late.stored) == sorted(sent)
        assert set(late.stored.values()) == {1}
    assert c.stats().retries >= 1
    c.shutdown()


def test_final_4xx_gives_up_counts_and_tells_on_error(collector: FakeCollector) -> None:
    collector.then(Reply(401))
    seen: list[tuple[Delivery, int]] = []
    c = client(collector.url, on_error=lambda d, batch: seen.append((d, len(batch))))
    c.track("u1", "E")
    c.track("u1", "F")
    assert c.flush(5)
    assert len(collector.requests) == 1
    assert c.stats().failed == 2
    assert seen and seen[0][1] == 2 and "401" in seen[0][0].errors[0]
    c.shutdown()


def test_413_halves_the_batch_until_it_fits(collector: FakeCollector) -> None:
    collector.request_limit = 3_000
    c = client(collector.url, flush_at=100)
    sent = [c.track("u1", "E", {"pad": "y" * 300, "i": i}) for i in range(20)]
    assert c.flush(10)
    assert 413 in [r.status for r in collector.requests]
    assert sorted(collector.stored) == sorted(sent)
    assert set(collector.stored.values()) == {1}
    c.shutdown()


def test_a_single_message_refused_as_too_large_is_counted_as_rejected(
    collector: FakeCollector,
) -> None:
    collector.request_limit = 100
    c = client(collector.url)
    c.track("u1", "E")
    assert c.flush(5)
    assert c.stats().rejected == 1
    assert len(collector.requests) == 1
    c.shutdown()


def test_an_oversized_message_is_dropped_and_counted(collector: FakeCollector) -> None:
    c = client(collector.url)
    assert c.track("u1", "Huge", {"blob": "z" * 40_000}) is None
    assert c.track("u1", "Small") is not None
    assert c.flush(5)
    assert c.stats().dropped_oversized == 1
    assert [m["event"] for m in collector.stored_messages()] == ["Small"]
    with pytest.raises(OversizedMessage):
        client(collector.url, debug=True).track("u1", "Huge", {"blob": "z" * 40_000})
    c.shutdown()


def test_wire_format_gzip_basic_auth_and_library(collector: FakeCollector) -> None:
    c = client(collector.url)
    c.alias("anon-1", "user-1")
    c.group("user-1", "acme", {"name": "Acme"})
    assert c.flush(5)
    (request,) = collector.requests
    assert request.path == "/v1/batch"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    alias, group = request.batch
    assert alias["type"] == "alias" and alias["previousId"] == "anon-1" and alias["userId"] == "user-1"
    assert group["groupId"] == "acme" and group["traits"] == {"name": "Acme"}
    assert alias["context"]["library"] == {"name": "threadline-python", "version": sdk.VERSION}
    assert "sentAt" in request.body
    plain = client(collector.url, gzip=False)
    plain.track("u1", "E")
    assert plain.flush(5)
    assert "content-encoding" not in collector.requests[-1].headers
    c.shutdown()
    plain.shutdown()


def test_timestamps_ids_and_caller_dicts_are_snapshotted(collector: FakeCollector) -> None:
    c = client(collector.url)
    props: dict[str, Any] = {"n": 1}
    c.track("u1", "E", props, timestamp=dt.datetime(2026, 1, 2, 3, 4, 5, 678000),
            message_id="my-id", context={"library": {"name": "spoofed"}, "ip": "1.2.3.4"})
    props["n"] = 2  # a later mutation must not change what was queued
    c.identify(anonymous_id="a-1", traits={"when": dt.date(2026, 1, 1)})
    assert c.flush(5)
    track, identify = collector.stored_messages()
    assert track["messageId"] == "my-id"
    assert track["timestamp"] == "2026-01-02T03:04:05.678Z"
    assert track["properties"] == {"n": 1}
    assert track["context"]["library"]["name"] == "threadline-python"
    assert track["context"]["ip"] == "1.2.3.4"
    assert identify["anonymousId"] == "a-1" and "userId" not in identify
    assert identify["traits"] == {"when": "2026-01-01"}
    c.shutdown()


def test_invalid_calls_never_raise_unless_debug(collector: FakeCollector) -> None:
    c = client(collector.url)
    assert c.track("u1") is None  # no event name
    assert c.identify() is None  # nobody
    assert c.group("u1") is None  # no group id
    assert c.alias(None, "u1") is None
    assert c.track("u1", "E", properties=[1, 2]) is None  # type: ignore[arg-type]
    assert c.stats().dropped_invalid == 5
    strict = client(collector.url, debug=True)
    with pytest.raises(InvalidCall):
        strict.track("u1")
    with pytest.raises(InvalidCall):
        Client(None, collector.url, debug=True)
    keyless = Client(None, collector.url)
    assert keyless.track("u1", "E") is not None  # validated, but nothing is sent
    assert keyless.flush(1)
    assert collector.requests == []
    c.shutdown()


def test_sync_mode_sends_before_returning(collector: FakeCollector) -> None:
    c = client(collector.url, sync_mode=True)
    mid = c.track("u1", "Now")
    assert collector.stored[mid] == 1
    collector.then(Reply(400))
    assert c.track("u1", "Refused") is None
    strict = client(collector.url, sync_mode=True, debug=True)
    collector.then(Reply(400))
    with pytest.raises(DeliveryError):
        strict.track("u1", "Refused")


def test_flush_and_shutdown_are_bounded_when_the_collector_is_down() -> None:
    c = client(f"http://127.0.0.1:{free_port()}", backoff=Backoff(base=10, cap=10))
    c.track("u1", "E")
    t0 = time.perf_counter()
    assert c.flush(timeout=0.2) is False
    assert c.shutdown(timeout=0.2) is False
    assert time.perf_counter() - t0 < 2.0
    assert c.track("u1", "After") is None  # shut down: dropped, counted
    assert c.stats().failed == 1


def test_many_threads_share_one_client_and_nothing_is_lost_or_doubled(
    collector: FakeCollector,
) -> None:
    c = client(collector.url, flush_at=50)

    def work(t: int) -> None:
        for i in range(200):
            c.track(f"user-{t}", "E", {"i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.flush(20)
    assert len(collector.stored) == 1600
    assert set(collector.stored.values()) == {1}
    c.shutdown()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_consumer(collector: FakeCollector) -> None:
    c = client(collector.url, flush_interval=60, flush_at=1000)
    parent_ids = [c.track("parent", "Before fork", {"i": i}) for i in range(3)]
    pid = os.fork()
    if pid == 0:  # the child: a new consumer, an empty queue, its own connections
        code = 1
        try:
            child_ids = [c.track("child", "In child", {"i": i}) for i in range(4)]
            ok = c.flush(10) and all(collector.stored.get(m) is None for m in parent_ids)
            code = 0 if ok and c.stats().accepted == len(child_ids) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert c.flush(10)
    events = [m["event"] for m in collector.stored_messages()]
    assert events.count("In child") == 4
    assert events.count("Before fork") == 3  # sent by the parent only, once
    assert set(collector.stored.values()) == {1}
    c.shutdown()


def test_module_level_default_client(collector: FakeCollector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk, "write_key", KEY)
    monkeypatch.setattr(sdk, "host", collector.url)
    monkeypatch.setattr(sdk, "default_client", None)
    try:
        mid = sdk.track("u1", "Via module")
        sdk.identify("u1", {"name": "Ada"})
        assert sdk.flush(5)
        assert collector.stored[mid] == 1
    finally:
        assert sdk.shutdown(5)
    assert sdk.default_client is None
    monkeypatch.setattr(sdk, "write_key", None)
    assert sdk.track("u1", "Nowhere") is None


def test_a_timed_out_attempt_is_retried_with_the_same_ids(collector: FakeCollector) -> None:
    # The collector stores the first attempt but answers after the client gave up: the
    # retry must carry the same message ids, so a real collector answers "duplicates".
    collector.then(Reply(delay=1.0))
    c = client(collector.url, timeout=0.2)
    sent = [c.track("u1", "E", {"i": i}) for i in range(3)]
    assert c.flush(10)
    assert collector.wait_for(lambda fc: len(fc.requests) >= 2)
    first, second = collector.requests[:2]
    assert ids(first.batch) == ids(second.batch) == sent
    assert c.stats().duplicates + c.stats().accepted == 3
    c.shutdown()
