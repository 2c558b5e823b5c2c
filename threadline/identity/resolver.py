"""The incremental resolver: keeps one project's identity graph in memory and
answers, for each batch of evidence, which identifiers changed person.

Correctness rests on one fact: resolution is independent per *component* (the
identifiers reachable through any edge, accepted or refused). So whenever a
component gains an edge earlier than one it already holds, gains an earlier edge
for a pair, or gains or loses a block, the resolver replays that whole component
with the pure ``rules.resolve``; the result equals a replay of the whole project,
and arrival order is irrelevant by construction.

The common case needs no replay: an edge later than every edge of the components
it touches is exactly the next step of their replay, so applying it to the current
clusters (the at-most-one-user rule, union by size) gives the replay's answer. That
keeps an in-order event's cost independent of its component's size: a shared kiosk
browser that 10,000 users signed in on costs each new sign-in what a fresh visitor
costs. Only components that hold a block, or that receive a late edge, are
replayed.

For each (pair of identifiers, edge class) only the earliest edge is kept: a later
edge of the same class between the same two identifiers can never change a replay
(clusters only grow during a replay, so it would meet the same cluster or the same
refusal). That is what keeps the graph the size of the identifiers, not the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from threadline.identity.bulk import resolve_bulk
from threadline.identity.rules import (
    FORCED,
    Outcome,
    Resolution,
    edge_class,
    order_key,
    replay_key,
    resolve,
)
from threadline.model import Block, Edge, Identifier, Kind

PairKey = tuple[Identifier, Identifier, str]
ReplayKey = tuple[int, str, int, Identifier, Identifier]


def pair_key(edge: Edge) -> PairKey:
    a, b = edge.pair
    return (a, b, edge_class(edge.kind))


@dataclass
class Component:
    """Identifiers connected by any edge, and the kept edges between them."""

    members: set[Identifier] = field(default_factory=set)
    edges: set[PairKey] = field(default_factory=set)
    # The replay key of the latest kept edge: an edge after it extends the replay.
    latest: ReplayKey | None = None
    # Whether a block names a member (blocks make every change a replay).
    blocked: bool = False
    # Whether the component changed in a way only a replay can settle (this batch).
    dirty: bool = False

    def absorb(self, other: Component) -> None:
        """Take ``other``'s members, edges and flags (two components joined by an edge)."""
        self.members |= other.members
        self.edges |= other.edges
        if other.latest is not None and (self.latest is None or other.latest > self.latest):
            self.latest = other.latest
        self.blocked = self.blocked or other.blocked
        self.dirty = self.dirty or other.dirty


@dataclass
class Changes:
    """What one call changed, for the store to persist in the same transaction."""

    # identifier -> its cluster's earliest identifier, for every identifier whose
    # representative is new or different (new identifiers included).
    representative: dict[Identifier, Identifier] = field(default_factory=dict)
    # kept edges whose outcome is new or different, with the outcome.
    edges: dict[PairKey, tuple[Edge, Outcome]] = field(default_factory=dict)
    # kept edges that no longer exist (replaced by an earlier one, or erased).
    removed_edges: list[PairKey] = field(default_factory=list)
    # kept edges in ``edges`` that had a stored row before (their row is replaced).
    stored_edges: set[PairKey] = field(default_factory=set)
    first_seen: dict[Identifier, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.representative or self.edges or self.removed_edges or self.first_seen)


class ProjectGraph:
    """One project's identity graph: first-seen times, kept edges, components, blocks,
    and the current representative of every identifier."""

    def __init__(self) -> None:
        self.first_seen: dict[Identifier, int] = {}
        self.edges: dict[PairKey, Edge] = {}
        self.outcome: dict[PairKey, Outcome] = {}
        self.state: dict[PairKey, tuple[Edge, Outcome]] = {}
        self.component_of: dict[Identifier, Component] = {}
        self.blocks: dict[str, Block] = {}
        self.blocks_of: dict[Identifier, set[str]] = {}
        self.rep: dict[Identifier, Identifier] = {}
        self.members: dict[Identifier, set[Identifier]] = {}
        # representative -> how many user ids its cluster holds (filled on demand)
        self.users: dict[Identifier, int] = {}
        # Component replays since creation (the fast path avoids them): for benchmarks.
        self.replays = 0

    # ---- loading -------------------------------------------------------------------

    def load(
        self,
        first_seen: Mapping[Identifier, int],
        edges: Iterable[Edge],
        blocks: Iterable[Block],
    ) -> Changes:
        """Build the graph from stored state and resolve it all. Returns every
        representative and outcome, so a caller can check or persist them."""
        self.first_seen.update(first_seen)
        for block in blocks:
            self._add_block(block)
        for edge in edges:
            key = pair_key(edge)
            old = self.edges.get(key)
            if old is None or edge.key < old.key:
                self.edges[key] = edge
        self._build_components()
        # One bulk resolution of everything: equal to replaying each component on its
        # own, and far cheaper than many small replays at start-up.
        res = resolve_bulk(self.first_seen, self.edges.values(), self.blocks.values())
        changes = Changes()
        for result in res.results:
            key = pair_key(result.edge)
            self.state[key] = (result.edge, result.outcome)
            self.outcome[key] = result.outcome
            changes.edges[key] = (result.edge, result.outcome)
        for rep, members in res.clusters().items():
            for ident in members:
                self.rep[ident] = rep
            self.members[rep] = members
            changes.representative.update(dict.fromkeys(members, rep))
        return changes

    def _build_components(self) -> None:
        """Group identifiers into components with a union-find over every kept edge."""
        parent: dict[Identifier, Identifier] = {}

        def find(x: Identifier) -> Identifier:
            root = x
            while parent.get(root, root) != root:
                root = parent[root]
            while parent.get(x, x) != root:
                parent[x], x = root, parent[x]
            return root

        for a, b, _ in self.edges:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
        comps: dict[Identifier, Component] = {}
        for key in self.edges:
            root = find(key[0])
            comp = comps.get(root)
            if comp is None:
                comp = comps[root] = Component()
            comp.members.add(key[0])
            comp.members.add(key[1])
            comp.edges.add(key)
            rk = replay_key(self.edges[key])
            if comp.latest is None or rk > comp.latest:
                comp.latest = rk
        self.component_of = {}
        for comp in comps.values():
            comp.blocked = any(self.blocks_of.get(i) for i in comp.members)
            for ident in comp.members:
                self.component_of[ident] = comp

    # ---- queries -------------------------------------------------------------------

    def representative(self, ident: Identifier) -> Identifier:
        """The earliest identifier of ``ident``'s cluster (itself when alone or unknown)."""
        return self.rep.get(ident, ident)

    def cluster(self, ident: Identifier) -> set[Identifier]:
        """Every identifier of ``ident``'s cluster."""
        rep = self.representative(ident)
        return set(self.members.get(rep, {ident}))

    def component(self, ident: Identifier) -> set[Identifier]:
        comp = self.component_of.get(ident)
        return set(comp.members) if comp else {ident}

    def component_edges(self, ident: Identifier) -> list[tuple[Edge, Outcome]]:
        comp = self.component_of.get(ident)
        if comp is None:
            return []
        return [(self.edges[k], self.outcome.get(k, Outcome.SAME)) for k in comp.edges]

    def knows(self, ident: Identifier) -> bool:
        return ident in self.first_seen

    # ---- updates -------------------------------------------------------------------

    def apply(self, first_seen: Mapping[Identifier, int], edges: Iterable[Edge]) -> Changes:
        """Take a batch's identifiers (with the batch's earliest time for each) and edges."""
        changes = Changes()
        to_replay: set[Identifier] = set()
        to_reelect: set[Identifier] = set()
        for ident, t in first_seen.items():
            old = self.first_seen.get(ident)
            if old is None:
                self.first_seen[ident] = t
                changes.first_seen[ident] = t
                self.rep[ident] = ident
                self.members[ident] = {ident}
                changes.representative[ident] = ident
            elif t < old:
                self.first_seen[ident] = t
                changes.first_seen[ident] = t
                to_reelect.add(ident)
        # In replay order, so that each edge that extends its components' replay can be
        # applied on the spot; the rest mark their component for one replay at the end.
        for edge in sorted(edges, key=replay_key):
            for end in (edge.a, edge.b):
                if end not in self.first_seen:  # defensive: callers pass every end
                    self.first_seen[end] = edge.time_us
                    changes.first_seen[end] = edge.time_us
                    self.rep[end] = end
                    self.members[end] = {end}
                    changes.representative[end] = end
            key = pair_key(edge)
            old_edge = self.edges.get(key)
            if old_edge is not None and old_edge.key <= edge.key:
                continue
            rk = replay_key(edge)
            extends = old_edge is None and self._extends(edge.a, rk) and self._extends(edge.b, rk)
            self.edges[key] = edge
            comp = self._connect(key)
            if extends:
                comp.latest = rk
                self._step(key, edge, changes)
            else:
                comp.dirty = True
                to_replay.add(edge.a)
        self._replay_components(to_replay, changes)
        for ident in to_reelect:
            self._reelect(self.representative(ident), changes)
        return changes

    def _extends(self, ident: Identifier, rk: ReplayKey) -> bool:
        """Whether an edge with replay key ``rk`` at ``ident`` is the next step of the
        replay of ``ident``'s component (later than all its edges, no block, no pending
        replay)."""
        comp = self.component_of.get(ident)
        if comp is None:
            return not self.blocks_of.get(ident)
        return not comp.dirty and not comp.blocked and (comp.latest is None or rk > comp.latest)

    def _step(self, key: PairKey, edge: Edge, changes: Changes) -> None:
        """Apply one edge to the current clusters, as the replay would at its turn."""
        p, q = self.representative(edge.a), self.representative(edge.b)
        if p == q:
            outcome = Outcome.SAME
        elif edge.kind not in FORCED and self._users(p) + self._users(q) > 1:
            outcome = Outcome.CONFLICT
        else:
            outcome = Outcome.MERGED
            self._join(p, q, changes)
        self.state[key] = (edge, outcome)
        self.outcome[key] = outcome
        changes.edges[key] = (edge, outcome)

    def _users(self, rep: Identifier) -> int:
        n = self.users.get(rep)
        if n is None:
            members = self.members.get(rep, {rep})
            n = self.users[rep] = sum(1 for i in members if i.kind == Kind.USER)
        return n

    def _join(self, p: Identifier, q: Identifier, changes: Changes) -> None:
        """Merge the clusters of representatives ``p`` and ``q``: the smaller side's
        members move (union by size), the earliest identifier of both represents it."""
        fs = self.first_seen
        rep, other = (p, q) if order_key(p, fs) <= order_key(q, fs) else (q, p)
        users = self._users(p) + self._users(q)
        rep_members = self.members.pop(rep, {rep})
        other_members = self.members.pop(other, {other})
        self.users.pop(other, None)
        for ident in other_members:  # they change person
            self.rep[ident] = rep
            changes.representative[ident] = rep
        if len(rep_members) < len(other_members):
            other_members |= rep_members
            rep_members = other_members
        else:
            rep_members |= other_members
        self.members[rep] = rep_members
        self.users[rep] = users

    def add_block(self, block: Block) -> Changes:
        """Store a split and replay the components it touches."""
        self._add_block(block)
        changes = Changes()
        self._replay_components(set(block.s) | set(block.r), changes)
        return changes

    def remove_blocks(self, block_ids: Iterable[str]) -> Changes:
        touched: set[Identifier] = set()
        for bid in block_ids:
            block = self.blocks.pop(bid, None)
            if block is None:
                continue
            for ident in block.s | block.r:
                self.blocks_of.get(ident, set()).discard(bid)
                touched.add(ident)
        changes = Changes()
        self._replay_components(touched, changes)
        return changes

    def blocks_between(self, left: set[Identifier], right: set[Identifier]) -> list[Block]:
        """Blocks with one side in ``left`` and the other in ``right``."""
        out = []
        ids = {bid for i in left | right for bid in self.blocks_of.get(i, ())}
        for bid in ids:
            b = self.blocks[bid]
            if (b.s & left and b.r & right) or (b.s & right and b.r & left):
                out.append(b)
        return out

    def erase(self, idents: set[Identifier]) -> Changes:
        """Forget identifiers, every kept edge touching them and the blocks naming them;
        the rest of their component is rebuilt and replayed."""
        changes = Changes()
        neighbours: set[Identifier] = set()
        for ident in idents:
            comp = self.component_of.get(ident)
            if comp is not None:
                neighbours |= comp.members
        neighbours -= idents
        for key in [k for k in self.edges if k[0] in idents or k[1] in idents]:
            del self.edges[key]
            self.outcome.pop(key, None)
            self.state.pop(key, None)
            changes.removed_edges.append(key)
        for ident in idents:
            for bid in list(self.blocks_of.get(ident, ())):
                block = self.blocks.pop(bid, None)
                if block:
                    for other in block.s | block.r:
                        self.blocks_of.get(other, set()).discard(bid)
            self.blocks_of.pop(ident, None)
            self.first_seen.pop(ident, None)
            self.component_of.pop(ident, None)
            rep = self.rep.pop(ident, None)
            if rep is not None and rep in self.members:
                self.members[rep].discard(ident)
                self.users.pop(rep, None)
            self.members.pop(ident, None)
            self.users.pop(ident, None)
        # Rebuild the components of what remains: an erased identifier may have been
        # the only bridge between two parts.
        for ident in neighbours:
            self.component_of.pop(ident, None)
        for key, _edge in self.edges.items():
            if key[0] in neighbours or key[1] in neighbours:
                self._connect(key)
        self._replay_components(neighbours, changes, force=True)
        return changes

    # ---- internals -----------------------------------------------------------------

    def _add_block(self, block: Block) -> None:
        self.blocks[block.id] = block
        for ident in block.s | block.r:
            self.blocks_of.setdefault(ident, set()).add(block.id)

    def _connect(self, key: PairKey) -> Component:
        """Add a kept edge to the components (joining two); returns its component."""
        a, b, _ = key
        ca, cb = self.component_of.get(a), self.component_of.get(b)
        if ca is None:
            ca = Component({a}, blocked=bool(self.blocks_of.get(a)))
            self.component_of[a] = ca
        if cb is None:
            cb = Component({b}, blocked=bool(self.blocks_of.get(b)))
            self.component_of[b] = cb
        if ca is not cb:
            if len(ca.members) < len(cb.members):
                ca, cb = cb, ca
            ca.absorb(cb)
            for ident in cb.members:
                self.component_of[ident] = ca
        ca.edges.add(key)
        return ca

    def _replay_components(
        self, seeds: set[Identifier], changes: Changes, force: bool = False
    ) -> None:
        done: set[int] = set()
        for seed in seeds:
            comp = self.component_of.get(seed)
            if comp is None:
                if force and seed in self.first_seen:
                    self._set_cluster({seed}, seed, changes)
                continue
            if id(comp) in done:
                continue
            done.add(id(comp))
            self._replay(comp, changes)

    def _replay(self, comp: Component, changes: Changes) -> None:
        fs = {i: self.first_seen.get(i, 0) for i in comp.members}
        block_ids = {bid for i in comp.members for bid in self.blocks_of.get(i, ())}
        edges = [self.edges[k] for k in comp.edges]
        self.replays += 1
        res: Resolution = resolve(fs, edges, [self.blocks[b] for b in block_ids])
        comp.latest = max(map(replay_key, edges)) if edges else None
        comp.blocked = bool(block_ids)
        comp.dirty = False
        for result in res.results:
            key = pair_key(result.edge)
            # Compare edge and outcome: an edge replaced by an earlier one of the same
            # pair must be written even when its outcome did not change.
            if self.state.get(key) != (result.edge, result.outcome):
                if key in self.state:
                    changes.stored_edges.add(key)
                self.state[key] = (result.edge, result.outcome)
                self.outcome[key] = result.outcome
                changes.edges[key] = (result.edge, result.outcome)
        for rep, members in res.clusters().items():
            self._set_cluster(members, rep, changes)

    def _set_cluster(self, members: set[Identifier], rep: Identifier, changes: Changes) -> None:
        # Drop stale member sets of the old representatives before installing the new one.
        for ident in members:
            old_rep = self.rep.get(ident)
            if old_rep is not None and old_rep != rep:
                old = self.members.get(old_rep)
                self.users.pop(old_rep, None)
                if old is not None:
                    old.discard(ident)
                    if not old:
                        del self.members[old_rep]
            if old_rep != rep:
                changes.representative[ident] = rep
            self.rep[ident] = rep
        self.members[rep] = set(members)
        self.users[rep] = sum(1 for i in members if i.kind == Kind.USER)

    def _reelect(self, rep: Identifier, changes: Changes) -> None:
        members = self.members.get(rep, {rep})
        new_rep = min(members, key=lambda i: order_key(i, self.first_seen))
        if new_rep != rep:
            self._set_cluster(set(members), new_rep, changes)
