"""Ingest throughput of the compatibility surfaces against native ``/v1/batch``, in one run.

Every surface replays requests captured from a real client, over HTTP on loopback,
the way bench/ingest.py loads the server: 8 concurrent clients, each waiting for its
durable ack before sending the next request. Two load shapes: batches of 100 events
(bench/ingest.py's), and the requests as the client sent them (``as_sent``: one or two
events for the browser SDKs, a few dozen for the middlewares).

The target (``route_ratios``, ``targets``): each wire route against native ingest of
the same captured events. ``usermaven`` posts the browser SDK's events
(tests/compat/data/usermaven_captures.json: @usermaven/sdk-js 1.5 in Chromium) to
``/api/v1/event?token=``; ``moesif`` posts what ``moesifasgi`` sent for a set of API
calls to ``/v1/events/batch``. Each ``*_same_content`` run posts exactly what that
adapter made of the same bodies to ``/v1/batch`` as Segment-spec messages. The ratio
is what taking the wire route costs against the native one, for the same data. (A
Segment-spec track names one company, in ``context.groupId``, without traits, so the
native re-send of a Usermaven event stores fewer company updates than the route does.)

Context (``client_ratios``): each SDK against the native client doing the same job,
from bench/data/native_captures.json (made by bench/capture_native.py): the Usermaven
browser SDK against t.js on the same kind of visit (t.js's events are about half the
size), moesifasgi against ``threadline.middleware`` on the same calls; and both against
bench/ingest.py's small synthetic events (``native_synthetic``). These ratios mostly
measure what each client puts in an event.

Noise: these machines are shared, and identical runs differ by up to 30%. Every run
is repeated ``--rounds`` times on a fresh server, a route right before or after the run
it is compared with (alternating), and a ratio is the median of the rounds' pairs; its
range and the ratio of the two best rounds are printed beside it.

Each replayed event gets a unique message id, and visitors, users and companies are
spread over the clients as in bench/ingest.py, so the identity work is alike. Every
run checks through ``/api/v1/ingest/stats`` that each event sent was accepted. Bodies
are plain JSON everywhere (the SDKs gzip; that is client CPU). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._load import throughput
from bench._server import SECRET_KEY, WRITE_KEY, cpu_seconds, start_threadline
from bench.ingest import batch_body as synthetic_body
from tests.compat.helpers import info
from threadline.collector.formats import moesif as moesif_format
from threadline.collector.formats import usermaven as usermaven_format
from threadline.model import Message, Source

ROOT = Path(__file__).resolve().parent.parent
USERMAVEN_CAPTURES = ROOT / "tests" / "compat" / "data" / "usermaven_captures.json"
NATIVE_CAPTURES = ROOT / "bench" / "data" / "native_captures.json"
PER_BATCH = 100
# Replayed events are dated a day ago (well inside every acceptance window).
WHEN = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
WHEN_ISO = WHEN.isoformat().replace("+00:00", ".000Z")

def usermaven_templates() -> list[list[dict[str, Any]]]:
    """Browser SDK 1.5 requests as captured (every event type of the default scenario)."""
    requests = json.loads(USERMAVEN_CAPTURES.read_text())["requests"]
    return [req["body"] if isinstance(req["body"], list) else [req["body"]]
            for req in requests if req["scenario"] == "browser-default"]


def native_templates(client: str) -> list[list[dict[str, Any]]]:
    """The requests one native-captures client sent: messages (or moesifasgi events)."""
    captured = json.loads(NATIVE_CAPTURES.read_text())[client]
    return [body if isinstance(body, list) else body["batch"] for body in captured]


def replay(templates: list[list[dict[str, Any]]], c: int, n: int,
           repack: bool) -> Iterator[tuple[int, dict[str, Any], str, str, str]]:
    """Deep copies of the events of request ``n`` of client ``c``, with the ids to set:
    (position, event, message id, visitor, user). ``repack``: 100 events cycling through
    every captured one; else the ``n``-th captured request as the SDK sent it. A visitor
    is shared by every tenth event of a request and a user by a client's request, as in
    bench/ingest.py."""
    if repack:
        flat = [e for request in templates for e in request]
        chosen = [flat[i % len(flat)] for i in range(PER_BATCH)]
    else:
        chosen = templates[n % len(templates)]
    for i, template in enumerate(chosen):
        yield (i, copy.deepcopy(template), f"{c}-{n}-{i}", f"v{c}-{n % 50}-{i % 10}",
               f"user{c}-{n % 50}-{i % 10}")


def usermaven_body(templates: list[list[dict[str, Any]]], c: int, n: int, repack: bool = True) -> bytes:
    events = []
    for _i, e, mid, visitor, user in replay(templates, c, n, repack):
        e["event_id"], e["api_key"], e["utc_time"] = "um" + mid, WRITE_KEY, WHEN_ISO
        e["user"]["anonymous_id"] = visitor
        if "id" in e["user"]:
            e["user"]["id"] = user
        events.append(e)
    return orjson.dumps(events)


def tracker_body(templates: list[list[dict[str, Any]]], c: int, n: int, repack: bool = True) -> bytes:
    batch = []
    for _i, m, mid, visitor, user in replay(templates, c, n, repack):
        m["messageId"], m["timestamp"], m["anonymousId"] = "tj" + mid, WHEN_ISO, visitor
        if "userId" in m:
            m["userId"] = user
        batch.append(m)
    return orjson.dumps({"batch": batch, "sentAt": WHEN_ISO, "writeKey": WRITE_KEY})


def middleware_body(templates: list[list[dict[str, Any]]], c: int, n: int, repack: bool = True) -> bytes:
    batch = []
    for i, m, mid, _visitor, user in replay(templates, c, n, repack):
        m["messageId"], m["timestamp"], m["userId"] = "mw" + mid, WHEN_ISO, user
        company = f"co{c}-{n % 5}-{i % 2}"
        if m["type"] == "group":
            m["groupId"] = company
        else:
            m["context"]["groupId"] = company
            m["properties"]["transaction_id"] = m["messageId"]
        batch.append(m)
    return orjson.dumps({"batch": batch, "sentAt": WHEN_ISO})


def moesif_body(templates: list[list[dict[str, Any]]], c: int, n: int, repack: bool = True) -> bytes:
    events = []
    for i, e, mid, _visitor, user in replay(templates, c, n, repack):
        e["transaction_id"], e["user_id"], e["company_id"] = "mo" + mid, user, f"co{c}-{n % 5}-{i % 2}"
        e["request"]["time"] = WHEN.replace(tzinfo=None).isoformat(timespec="milliseconds")
        e["response"]["time"] = (WHEN.replace(tzinfo=None) + dt.timedelta(milliseconds=4)).isoformat(
            timespec="milliseconds")
        events.append(e)
    return orjson.dumps(events)


def as_native(body: bytes, parse: Callable[[Any], list[Message]]) -> bytes:
    """What an adapter made of a compat body, re-sent as native Segment messages."""
    batch = []
    for m in parse(orjson.loads(body)):
        msg: dict[str, Any] = {
            **m.extra, "type": m.type, "messageId": m.message_id, "timestamp": iso(m.timestamp_us),
            "properties": m.properties, "traits": m.traits, "context": dict(m.context)}
        if m.event is not None:
            msg["event"] = m.event
        if m.anonymous_id is not None:
            msg["anonymousId"] = m.anonymous_id
        if m.user_id is not None:
            msg["userId"] = m.user_id
        if m.companies:
            first = m.companies[0]
            if m.type == "group":
                msg["groupId"], msg["traits"] = first.id, first.traits or {}
            else:
                msg["context"]["groupId"] = first.id
        batch.append(msg)
    return orjson.dumps({"batch": batch})


def iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat().replace("+00:00", "Z")


def accepted(url: str) -> int:
    """Events the server reports as accepted (quarantined or duplicate ones are not)."""
    r = httpx.get(url + "/api/v1/ingest/stats", headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=30)
    r.raise_for_status()
    return sum(int(day["accepted"]) for day in r.json()["data"])


def measure(path: str, headers: dict[str, str], bodies: dict[int, list[tuple[bytes, int]]],
            ok: int) -> dict[str, float]:
    """One surface on a fresh server, so no surface pays for another's stored rows."""
    proc, url, _ = start_threadline()
    port = int(url.rsplit(":", 1)[1])
    try:
        cpu0 = cpu_seconds(proc.pid)
        result = throughput(port, path, headers, bodies, ok)
        result["server_cpu_us_per_event"] = round((cpu_seconds(proc.pid) - cpu0) * 1e6 / result["events"], 1)
        stored = accepted(url)
        if stored != result["events"]:  # a 2xx alone does not say every event was kept
            raise RuntimeError(f"{path}: {result['events']} events sent, {stored} accepted")
    finally:
        proc.terminate()
        proc.wait(30)
    return result


def events_in(body: bytes) -> int:
    """Events in a body: a native ``{"batch": [...]}`` or a compat array."""
    data = orjson.loads(body)
    return len(data["batch"] if isinstance(data, dict) else data)


Run = tuple[str, dict[str, str], dict[int, list[tuple[bytes, int]]], int]


Rounds = dict[str, list[dict[str, float]]]


def all_rounds(runs: dict[str, Run], rounds: int) -> Rounds:
    """Each run ``rounds`` times, each on a fresh server. Rounds alternate direction
    (A B C, C B A, ...), so runs listed next to each other are measured next to each
    other in time and neither always goes first."""
    out: Rounds = {name: [] for name in runs}
    names = list(runs)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            path, headers, payload, ok = runs[name]
            out[name].append(measure(path, headers, payload, ok))
    return out


def best(results: Rounds) -> dict[str, dict[str, float]]:
    """The best round of each run: on a shared machine, other load only ever makes a
    run slower."""
    return {name: max(rounds, key=lambda r: r["events_per_s"]) for name, rounds in results.items()}


def paired(results: Rounds, name: str, base: str) -> dict[str, float]:
    """``name`` against ``base`` round by round (each pair measured back to back): the
    median ratio, its range, and the ratio of the two best rounds."""
    ratios = sorted(a["events_per_s"] / b["events_per_s"] for a, b in zip(results[name], results[base], strict=True))
    top = best(results)
    return {"median": round(statistics.median(ratios), 3), "min": round(ratios[0], 3),
            "max": round(ratios[-1], 3),
            "best_to_best": round(top[name]["events_per_s"] / top[base]["events_per_s"], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--batches", type=int, default=40, help="100-event batches per client and surface")
    ap.add_argument("--requests", type=int, default=250,
                    help="requests per client and surface when replaying the SDKs' own request sizes")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each surface; the best counts")
    args = ap.parse_args()
    json_ct = {"Content-Type": "application/json"}
    native_headers = {**json_ct, "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
    moesif_headers = {**json_ct, "X-Moesif-Application-Id": WRITE_KEY}
    request = info(received=WHEN_ISO, message_limit=1 << 20)

    def um_parse(data: Any) -> list[Message]:
        return usermaven_format.parse_request(data, request, Source.USERMAVEN_BROWSER,
                                              usermaven_format.Policies()).messages

    def mo_parse(data: Any) -> list[Message]:
        return moesif_format.parse_many(data, request, Source.MOESIF_API, moesif_format.parse_event,
                                        True).messages

    def bodies(make: Callable[[int, int], bytes], count: int, n_requests: int) -> dict[int, list[tuple[bytes, int]]]:
        out: dict[int, list[tuple[bytes, int]]] = {}
        for c in range(args.clients):
            out[c] = []
            for n in range(n_requests):
                body = make(c, n)
                out[c].append((body, count or events_in(body)))
        return out

    def native_same(compat: dict[int, list[tuple[bytes, int]]],
                    parse: Callable[[Any], list[Message]]) -> dict[int, list[tuple[bytes, int]]]:
        return {c: [(as_native(b, parse), n) for b, n in v] for c, v in compat.items()}

    um_t, tj_t = usermaven_templates(), native_templates("tracker")
    mo_t, mw_t = native_templates("moesifasgi"), native_templates("middleware")
    um_bodies = bodies(lambda c, n: usermaven_body(um_t, c, n), PER_BATCH, args.batches)
    mo_bodies = bodies(lambda c, n: moesif_body(mo_t, c, n), PER_BATCH, args.batches)
    batched = all_rounds({
        "native_tracker": ("/v1/batch", native_headers,
                           bodies(lambda c, n: tracker_body(tj_t, c, n), PER_BATCH, args.batches), 200),
        "usermaven": (f"/api/v1/event?token={WRITE_KEY}", json_ct, um_bodies, 200),
        "usermaven_same_content": ("/v1/batch", native_headers, native_same(um_bodies, um_parse), 200),
        "native_synthetic": ("/v1/batch", native_headers, bodies(synthetic_body, PER_BATCH, args.batches), 200),
        "moesif_same_content": ("/v1/batch", native_headers, native_same(mo_bodies, mo_parse), 200),
        "moesif": ("/v1/events/batch", moesif_headers, mo_bodies, 201),
        "native_middleware": ("/v1/batch", native_headers,
                              bodies(lambda c, n: middleware_body(mw_t, c, n), PER_BATCH, args.batches), 200),
    }, args.rounds)
    # The SDKs' own request sizes: the browser SDKs send one or two events a request,
    # the middlewares a few dozen; replayed request by request as captured.
    um_sent = bodies(lambda c, n: usermaven_body(um_t, c, n, False), 0, args.requests)
    mo_sent = bodies(lambda c, n: moesif_body(mo_t, c, n, False), 0, args.requests // 4)
    as_sent = all_rounds({
        "native_tracker": ("/v1/batch", native_headers,
                           bodies(lambda c, n: tracker_body(tj_t, c, n, False), 0, args.requests), 200),
        "usermaven": (f"/api/v1/event?token={WRITE_KEY}", json_ct, um_sent, 200),
        "usermaven_same_content": ("/v1/batch", native_headers, native_same(um_sent, um_parse), 200),
        "moesif_same_content": ("/v1/batch", native_headers, native_same(mo_sent, mo_parse), 200),
        "moesif": ("/v1/events/batch", moesif_headers, mo_sent, 201),
        "native_middleware": ("/v1/batch", native_headers,
                              bodies(lambda c, n: middleware_body(mw_t, c, n, False), 0, args.requests // 4), 200),
    }, args.rounds)

    # The target: each wire route against native ingest of the same captured events,
    # judged on the median of the rounds' paired ratios.
    route_ratios = {
        "usermaven_to_same_content": paired(batched, "usermaven", "usermaven_same_content"),
        "moesif_to_same_content": paired(batched, "moesif", "moesif_same_content"),
        "as_sent_usermaven_to_same_content": paired(as_sent, "usermaven", "usermaven_same_content"),
        "as_sent_moesif_to_same_content": paired(as_sent, "moesif", "moesif_same_content"),
    }
    # Context: each SDK against the native client doing the same job, whose events are
    # smaller (t.js) or alike (the middleware), and against small synthetic events.
    client_ratios = {
        "usermaven_to_native_tracker": paired(batched, "usermaven", "native_tracker"),
        "moesif_to_native_middleware": paired(batched, "moesif", "native_middleware"),
        "as_sent_usermaven_to_native_tracker": paired(as_sent, "usermaven", "native_tracker"),
        "as_sent_moesif_to_native_middleware": paired(as_sent, "moesif", "native_middleware"),
        "usermaven_to_native_synthetic": paired(batched, "usermaven", "native_synthetic"),
        "moesif_to_native_synthetic": paired(batched, "moesif", "native_synthetic"),
    }
    print(json.dumps({
        "benchmark": "compat_ingest",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "client and server share the cores"},
        "clients": args.clients, "durable_ack": True,
        "rounds": args.rounds,
        "note": "each run on a fresh server; surfaces show their best round, ratios the median of "
                "the paired rounds",
        "batches_of_100": best(batched),
        "as_sent": best(as_sent),
        "route_ratios": route_ratios,
        "client_ratios": client_ratios,
        "targets": {name: value["median"] >= 0.8 for name, value in route_ratios.items()},
    }))


if __name__ == "__main__":
    main()
