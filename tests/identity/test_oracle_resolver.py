"""The incremental resolver against the independent oracle (``oracle.py``, written from
identity.md alone): generated scenarios with splits, manual merges and erasures between
batches, the messages of each batch fed in shuffled order and random batch sizes.

After every step each live identifier must name the same earliest identifier (so the
same person id) as the oracle, and erased identifiers must be forgotten. The harness
does what the store does around the resolver: it drops retried message ids, drops or
strips later messages of erased identifiers, and turns operator actions into blocks and
manual edges exactly as ``storage.identity_ops`` does.
"""

from __future__ import annotations

import random
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.identity.oracle import Msg
from tests.identity.steps import Erase, Merge, Post, Scenario, Split, scenarios
from threadline.identity.edges import edges_of
from threadline.identity.resolver import ProjectGraph
from threadline.model import Block, Edge, EdgeKind, Identifier, Message


def to_message(m: Msg) -> Message:
    return Message(m.mid, m.type, m.time_us, m.time_us, "native", event="x" if m.type == "track" else None,
                   anonymous_id=m.anon, user_id=m.user, previous_id=m.previous, linked_anonymous_id=m.linked)


class Harness:
    """A ``ProjectGraph`` with the store's duties around it."""

    def __init__(self) -> None:
        self.graph = ProjectGraph()
        self.seen: set[str] = set()
        self.suppressed: set[Identifier] = set()
        self.manual = 0

    def post(self, messages: list[Msg], rnd: random.Random) -> None:
        fresh = []
        for m in messages:
            if m.mid in self.seen:
                continue
            self.seen.add(m.mid)
            owner = m.owner()
            if owner is not None and owner not in self.suppressed:
                fresh.append(to_message(m.without(self.suppressed)))
        rnd.shuffle(fresh)
        while fresh:
            size = rnd.randint(1, 4)
            batch, fresh = fresh[:size], fresh[size:]
            first_seen: dict[Identifier, int] = {}
            for msg in batch:
                for ident in msg.identifiers():
                    first_seen[ident] = min(first_seen.get(ident, msg.timestamp_us), msg.timestamp_us)
            self.graph.apply(first_seen, [e for msg in batch for e in edges_of(msg)])

    def split(self, holder: Identifier, detach: frozenset[Identifier]) -> None:
        cluster = self.graph.cluster(holder)
        self.graph.add_block(Block(uuid.uuid4().hex, frozenset(detach), frozenset(cluster - detach)))

    def merge(self, a: Identifier, b: Identifier) -> None:
        first, other = self.graph.representative(a), self.graph.representative(b)
        blocks = self.graph.blocks_between(self.graph.cluster(first), self.graph.cluster(other))
        self.graph.remove_blocks(blk.id for blk in blocks)
        self.manual += 1
        edge = Edge(first, other, EdgeKind.MANUAL, 2**53 + self.manual, f"manual-{self.manual}")
        self.graph.apply({}, [edge])

    def erase(self, holder: Identifier) -> None:
        cluster = self.graph.cluster(holder)
        self.graph.erase(cluster)
        self.suppressed |= cluster


def run(scenario: Scenario, rnd: random.Random) -> None:
    h = Harness()
    for n, (step, expected) in enumerate(scenario.steps):
        if isinstance(step, Post):
            h.post(list(step.messages), rnd)
        elif isinstance(step, Split):
            h.split(step.holder, step.detach)
        elif isinstance(step, Merge):
            h.merge(step.a, step.b)
        elif isinstance(step, Erase):
            h.erase(step.holder)
        got = {i: h.graph.representative(i) for i in expected.representative}
        assert got == expected.representative, f"after step {n}: {step}"
        assert not any(h.graph.knows(i) for i in expected.suppressed), f"after step {n}: {step}"


@settings(max_examples=400, deadline=None)
@given(scenarios(actions=False, max_phases=3), st.randoms(use_true_random=False))
def test_shuffled_messages_resolve_as_the_oracle_replays_them(scenario: Scenario, rnd: random.Random) -> None:
    run(scenario, rnd)


@settings(max_examples=400, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_splits_merges_and_erasures_between_shuffled_batches_match_the_oracle(
    scenario: Scenario, rnd: random.Random
) -> None:
    run(scenario, rnd)
