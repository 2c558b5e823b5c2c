"""Identity work per ingested event, by the size of the component it touches.

An event's identity cost must not grow with its component: a shared kiosk browser
that 10,000 users signed in on, or one user with 10,000 devices, should cost a new
sign-in at most twice what a fresh visitor's costs. Shapes, each fed to
``ProjectGraph.apply`` one message at a time as the writer does:

* ``small``: a fresh visitor signs in (a component of two identifiers);
* ``kiosk``: one anonymous id, each new event a different user signing in on it
  (every sign-in after the first is a refused conflict);
* ``devices``: one user id, each new event a new device signing in (every one merges);
* ``kiosk_late``: a sign-in on the kiosk timed before all others, which reorders the
  component and so needs a replay of it (the rare case, shown for honesty).

Baseline in the same run: a replay of the whole touched component with
``rules.resolve`` for each event (what the resolver did for every edge before it
applied in-order edges to the current clusters). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

from threadline.identity.edges import edges_of
from threadline.identity.resolver import ProjectGraph
from threadline.identity.rules import resolve
from threadline.model import Identifier, Message


def _fs(m: Message) -> dict[Identifier, int]:
    return dict.fromkeys(m.identifiers(), m.timestamp_us)


def _per_event_us(g: ProjectGraph, make: Callable[[int], Message], start: int, n: int) -> float:
    msgs = [make(i) for i in range(start, start + n)]
    t0 = time.perf_counter()
    for m in msgs:
        g.apply(_fs(m), edges_of(m))
    return (time.perf_counter() - t0) / n * 1e6


def _grow(make: Callable[[int], Message], size: int) -> ProjectGraph:
    g = ProjectGraph()
    for i in range(size):
        m = make(i)
        g.apply(_fs(m), edges_of(m))
    return g


def kiosk(i: int) -> Message:
    return Message(f"k{i:08d}", "identify", 1_000 + i, 1_000 + i, "native",
                   anonymous_id="kiosk", user_id=f"user-{i}")


def devices(i: int) -> Message:
    return Message(f"d{i:08d}", "identify", 1_000 + i, 1_000 + i, "native",
                   anonymous_id=f"device-{i}", user_id="heavy-user")


def small(i: int) -> Message:
    return Message(f"s{i:08d}", "identify", 1_000 + i, 1_000 + i, "native",
                   anonymous_id=f"visitor-{i}", user_id=f"member-{i}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000, help="identifiers in the big components")
    parser.add_argument("--events", type=int, default=2_000, help="events measured per shape")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    figures: dict[str, list[float]] = {"small": [], "kiosk": [], "devices": [], "kiosk_late": [],
                                       "baseline_replay_kiosk": [], "baseline_replay_devices": []}
    replays: dict[str, int] = {}
    for _ in range(args.repeat):
        g = _grow(small, args.size)
        figures["small"].append(_per_event_us(g, small, args.size, args.events))
        for name, make in (("kiosk", kiosk), ("devices", devices)):
            g = _grow(make, args.size)
            before = g.replays
            figures[name].append(_per_event_us(g, make, args.size, args.events))
            replays[name] = g.replays - before
            # Baseline: what replaying the touched component for every event costs.
            comp = next(iter(g.component(make(0).identifiers()[0])))
            edges = [e for e, _ in g.component_edges(comp)]
            fs = {i: g.first_seen[i] for i in g.component(comp)}
            t0 = time.perf_counter()
            for _ in range(5):
                resolve(fs, edges, [])
            figures[f"baseline_replay_{name}"].append((time.perf_counter() - t0) / 5 * 1e6)
        g = _grow(kiosk, args.size)
        late = [Message(f"late{i:06d}", "identify", -i, -i, "native", anonymous_id="kiosk",
                        user_id=f"late-{i}") for i in range(20)]
        t0 = time.perf_counter()
        for m in late:
            g.apply(_fs(m), edges_of(m))
        figures["kiosk_late"].append((time.perf_counter() - t0) / len(late) * 1e6)

    best = {k: min(v) for k, v in figures.items()}
    out = {
        "benchmark": "identity_ingest",
        "python": platform.python_version(),
        "component_size": args.size,
        "events_per_shape": args.events,
        "us_per_event": {k: round(v, 2) for k, v in best.items()},
        "us_per_event_median": {k: round(statistics.median(v), 2) for k, v in figures.items()},
        "ratio_to_small": {
            k: round(best[k] / best["small"], 2) for k in ("kiosk", "devices", "kiosk_late")
        },
        "component_replays_while_measuring": replays,
        "target": "kiosk and devices at most 2x small",
        "met": best["kiosk"] <= 2 * best["small"] and best["devices"] <= 2 * best["small"],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
