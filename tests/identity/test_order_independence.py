"""Arrival order never changes the result (identity.md, Resolution): generated scenarios
are fed to the incremental resolver in shuffled batches and compared with the pure replay
of the whole edge set, partition and person ids alike."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.identity.edges import edges_of
from threadline.identity.resolver import ProjectGraph
from threadline.identity.rules import resolve
from threadline.model import Identifier, Message

ANONS = [f"a{i}" for i in range(6)]
USERS = [f"u{i}" for i in range(4)]


@st.composite
def scenario(draw: st.DrawFn) -> list[Message]:
    n = draw(st.integers(1, 14))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(["page", "identify", "identify", "alias", "linked", "track_user"]))
        t = draw(st.integers(0, 6))  # few distinct times: ties on time are common
        a = draw(st.sampled_from(ANONS))
        u = draw(st.sampled_from(USERS))
        mid = f"m{i:02d}"
        if kind == "page":
            m = Message(mid, "page", t, t, "native", anonymous_id=a)
        elif kind == "identify":
            m = Message(mid, "identify", t, t, "native", anonymous_id=a, user_id=u)
        elif kind == "alias":
            prev = draw(st.sampled_from([*USERS, a]))
            m = Message(mid, "alias", t, t, "native", anonymous_id=a, user_id=u, previous_id=prev)
        elif kind == "linked":
            m = Message(mid, "page", t, t, "native", anonymous_id=a,
                        linked_anonymous_id=draw(st.sampled_from(ANONS)))
        else:
            m = Message(mid, "track", t, t, "native", event="x", user_id=u)
        out.append(m)
    return out


def first_seen(messages: list[Message]) -> dict[Identifier, int]:
    fs: dict[Identifier, int] = {}
    for m in messages:
        for i in m.identifiers():
            fs[i] = min(fs.get(i, m.timestamp_us), m.timestamp_us)
    return fs


def ingest(messages: list[Message], batch_sizes: list[int]) -> dict[Identifier, Identifier]:
    g = ProjectGraph()
    i = 0
    sizes = iter(batch_sizes)
    while i < len(messages):
        size = next(sizes, 1)
        batch = messages[i : i + size]
        i += size
        edges = [e for m in batch for e in edges_of(m)]
        g.apply(first_seen(batch), edges)
    return {ident: g.representative(ident) for ident in first_seen(messages)}


@settings(max_examples=300, deadline=None)
@given(scenario(), st.randoms(use_true_random=False), st.lists(st.integers(1, 4), max_size=20))
def test_shuffled_arrival_gives_the_same_persons_as_in_order_replay(
    messages: list[Message], rnd: object, batch_sizes: list[int]
) -> None:
    in_order = sorted(messages, key=lambda m: (m.timestamp_us, m.message_id))
    expected = resolve(first_seen(messages), [e for m in in_order for e in edges_of(m)]).representative
    shuffled = list(messages)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert ingest(in_order, [1] * len(messages)) == expected
    assert ingest(shuffled, batch_sizes) == expected


@settings(max_examples=150, deadline=None)
@given(scenario(), st.randoms(use_true_random=False))
def test_shuffled_arrival_gives_the_same_edge_outcomes(messages: list[Message], rnd: object) -> None:
    expected = {
        (r.edge.message_id, r.edge.kind): r.outcome
        for r in resolve(first_seen(messages), [e for m in messages for e in edges_of(m)]).results
    }
    shuffled = list(messages)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    g = ProjectGraph()
    for m in shuffled:
        g.apply(first_seen([m]), edges_of(m))
    got = {(e.message_id, e.kind): o for e, o in g.state.values()}
    # The graph keeps the earliest edge per (pair, class): compare on those.
    assert got == {k: v for k, v in expected.items() if k in got}
    partition = {i: g.representative(i) for i in first_seen(messages)}
    assert partition == resolve(first_seen(messages), [e for m in messages for e in edges_of(m)]).representative
