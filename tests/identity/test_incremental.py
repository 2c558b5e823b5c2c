"""The incremental resolver equals a replay of everything it holds, after any sequence of
batches, splits, block removals and erasures.

Most in-order edges are applied to the current clusters without a replay (the fast
path); late edges, blocks and erasures replay their component. Either way the graph's
persons and edge outcomes must be what a fresh replay of its own first-seen times,
kept edges and blocks gives.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.identity.edges import edges_of
from threadline.identity.resolver import ProjectGraph, pair_key
from threadline.identity.rules import resolve
from threadline.model import Block, Edge, EdgeKind, Identifier, Kind, Message

ANONS = [f"a{i}" for i in range(7)]
USERS = [f"u{i}" for i in range(4)]


def _message(draw: st.DrawFn, i: int, base: int) -> Message:
    kind = draw(st.sampled_from(["identify", "identify", "alias", "linked", "page"]))
    # Mostly later than earlier batches (the fast path), sometimes late (a replay).
    t = base + draw(st.integers(-12, 12))
    a = draw(st.sampled_from(ANONS))
    u = draw(st.sampled_from(USERS))
    mid = f"m{i:03d}"
    if kind == "identify":
        return Message(mid, "identify", t, t, "native", anonymous_id=a, user_id=u)
    if kind == "alias":
        prev = draw(st.sampled_from([*USERS, a]))
        return Message(mid, "alias", t, t, "native", anonymous_id=a, user_id=u, previous_id=prev)
    if kind == "linked":
        return Message(mid, "page", t, t, "native", anonymous_id=a,
                       linked_anonymous_id=draw(st.sampled_from(ANONS)))
    return Message(mid, "page", t, t, "native", anonymous_id=a)


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, object]]:
    ops: list[tuple[str, object]] = []
    n = 0
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(["batch", "batch", "batch", "split", "unsplit", "erase", "manual"]))
        if op == "batch":
            size = draw(st.integers(1, 5))
            ops.append(("batch", [_message(draw, n + j, 10 * len(ops)) for j in range(size)]))
            n += size
        else:
            ops.append((op, draw(st.integers(0, 10_000))))
    return ops


def _first_seen(batch: list[Message]) -> dict[Identifier, int]:
    fs: dict[Identifier, int] = {}
    for m in batch:
        for ident in m.identifiers():
            fs[ident] = min(fs.get(ident, m.timestamp_us), m.timestamp_us)
    return fs


def _check_against_replay(g: ProjectGraph) -> None:
    ref = resolve(g.first_seen, g.edges.values(), g.blocks.values())
    assert {i: g.representative(i) for i in g.first_seen} == {
        i: ref.representative.get(i, i) for i in g.first_seen
    }
    assert g.state == {pair_key(r.edge): (r.edge, r.outcome) for r in ref.results}
    clusters = ref.clusters()
    for ident in g.first_seen:  # the cluster sets agree with the representatives
        assert g.cluster(ident) == clusters.get(ref.representative.get(ident, ident), {ident})


@settings(max_examples=250, deadline=None)
@given(operations(), st.randoms(use_true_random=False))
def test_incremental_graph_equals_a_replay_after_any_operations(
    ops: list[tuple[str, object]], rnd: random.Random
) -> None:
    g = ProjectGraph()
    clock = 1000
    for n, (op, arg) in enumerate(ops):
        known = sorted(g.first_seen)
        if op == "batch":
            batch = list(arg)  # type: ignore[call-overload]
            g.apply(_first_seen(batch), [e for m in batch for e in edges_of(m)])
        elif known and op == "split":
            ident = known[int(arg) % len(known)]  # type: ignore[call-overload]
            cluster = sorted(g.cluster(ident))
            if len(cluster) > 1:
                s = frozenset(rnd.sample(cluster, rnd.randint(1, len(cluster) - 1)))
                g.add_block(Block(f"b{n}", s, frozenset(cluster) - s))
        elif op == "unsplit" and g.blocks:
            g.remove_blocks([sorted(g.blocks)[int(arg) % len(g.blocks)]])  # type: ignore[call-overload]
        elif known and op == "erase":
            g.erase(g.cluster(known[int(arg) % len(known)]))  # type: ignore[call-overload]
        elif len(known) > 1 and op == "manual":
            a = known[int(arg) % len(known)]  # type: ignore[call-overload]
            b = known[(int(arg) // 7) % len(known)]  # type: ignore[call-overload]
            if g.representative(a) != g.representative(b):
                clock += 1
                g.apply({}, [Edge(g.representative(a), g.representative(b), EdgeKind.MANUAL,
                                  clock, f"manual-{clock}", "operator")])
        _check_against_replay(g)


def test_a_kiosk_sign_in_is_applied_without_replaying_the_component() -> None:
    """One browser, many users signing in one after another: each sign-in after the
    first is a conflict found on the current clusters, not by a replay of them all."""
    g = ProjectGraph()
    kiosk = Identifier(Kind.ANONYMOUS, "kiosk")
    for i in range(200):
        m = Message(f"m{i:04d}", "identify", i, i, "native", anonymous_id="kiosk", user_id=f"u{i}")
        changes = g.apply(_first_seen([m]), edges_of(m))
        assert len(changes.edges) == 1  # only the new edge's row is written
    assert g.replays == 0
    assert g.cluster(kiosk) == {kiosk, Identifier(Kind.USER, "u0")}
    # A late sign-in (earlier than the first) does replay, and wins the browser.
    late = Message("m-late", "identify", -1, -1, "native", anonymous_id="kiosk", user_id="early")
    g.apply(_first_seen([late]), edges_of(late))
    assert g.replays == 1
    assert g.cluster(kiosk) == {kiosk, Identifier(Kind.USER, "early")}
    _check_against_replay(g)
