"""Bulk resolution equals the ordered replay: representatives and every edge's outcome,
in replay order, with shared devices, aliases, links, loops and splits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.identity.bulk import resolve_bulk
from threadline.identity.edges import edges_of
from threadline.identity.rules import resolve
from threadline.model import Block, Identifier, Kind, Message

ANONS = [f"a{i}" for i in range(8)]
USERS = [f"u{i}" for i in range(4)]
IDENTS = [Identifier(Kind.ANONYMOUS, a) for a in ANONS] + [Identifier(Kind.USER, u) for u in USERS]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[Message], list[Block]]:
    messages = []
    for _ in range(draw(st.integers(0, 20))):
        kind = draw(st.sampled_from(["identify", "alias", "linked", "page", "track"]))
        t = draw(st.integers(0, 5))  # ties on time are common
        a, u = draw(st.sampled_from(ANONS)), draw(st.sampled_from(USERS))
        mid = f"m{draw(st.integers(0, 30)):02d}"  # message ids may repeat across times
        if kind == "identify":
            messages.append(Message(mid, "identify", t, t, "native", anonymous_id=a, user_id=u))
        elif kind == "alias":
            prev = draw(st.sampled_from([*USERS, a]))
            messages.append(Message(mid, "alias", t, t, "native", anonymous_id=a, user_id=u,
                                    previous_id=prev))
        elif kind == "linked":
            messages.append(Message(mid, "page", t, t, "native", anonymous_id=a,
                                    linked_anonymous_id=draw(st.sampled_from(ANONS))))
        elif kind == "page":
            messages.append(Message(mid, "page", t, t, "native", anonymous_id=a))
        else:
            messages.append(Message(mid, "track", t, t, "native", event="x", user_id=u))
    blocks = []
    for n in range(draw(st.integers(0, 2))):
        s = frozenset(draw(st.lists(st.sampled_from(IDENTS), min_size=1, max_size=3)))
        r = frozenset(draw(st.lists(st.sampled_from(IDENTS), min_size=1, max_size=3))) - s
        if r:
            blocks.append(Block(f"b{n}", s, r))
    return messages, blocks


@settings(max_examples=400, deadline=None)
@given(scenario(), st.booleans())
def test_bulk_resolution_equals_the_ordered_replay(case: tuple[list[Message], list[Block]],
                                                   sparse_first_seen: bool) -> None:
    messages, blocks = case
    first_seen: dict[Identifier, int] = {}
    for m in messages:
        for ident in m.identifiers():
            first_seen[ident] = min(first_seen.get(ident, m.timestamp_us), m.timestamp_us)
    if sparse_first_seen:  # identifiers known only from edges sort last, as in a replay
        first_seen = dict(list(first_seen.items())[::2])
    edges = [e for m in messages for e in edges_of(m)]
    expected = resolve(first_seen, edges, blocks)
    got = resolve_bulk(first_seen, edges, blocks)
    assert got.representative == expected.representative
    assert [(r.edge, r.outcome) for r in got.results] == [(r.edge, r.outcome) for r in expected.results]
