"""The resolution rules as a pure function: edges and blocks in, clusters out.

This module does no I/O and reads no clock. ``resolve`` replays edges in the
order ``(event time, message id, alias < identified < linked)`` exactly as
identity.md defines, so any implementation that is incremental must give the
same answer as calling it on the whole edge set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from threadline.model import EDGE_ORDER, Block, Edge, EdgeKind, Identifier, Kind

# An identifier whose first-seen time is unknown sorts after every real one.
UNKNOWN_TIME = 2**62


class Outcome(StrEnum):
    """What applying one edge did (identity.md, Resolution)."""

    MERGED = "accepted"  # the edge joined two clusters
    SAME = "redundant"  # both ends were already one cluster
    CONFLICT = "conflict"  # refused: the merged cluster would hold two or more user ids
    BLOCKED = "blocked"  # refused: a split forbids putting these identifiers together


FORCED = frozenset({EdgeKind.ALIAS, EdgeKind.MANUAL})


def edge_class(kind: EdgeKind) -> str:
    """Alias and manual edges always merge ("forced"); identified and linked ones are
    conditional on the at-most-one-user rule. Only the earliest edge of a class per
    pair can change a replay's outcome, which is what lets the resolver keep one."""
    return "forced" if kind in FORCED else "conditional"


@dataclass(frozen=True, slots=True)
class EdgeResult:
    """One edge and what applying it did."""

    edge: Edge
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Resolution:
    """The result of a replay.

    ``representative`` maps every identifier given to the earliest identifier of its
    cluster (by first-seen time, then kind, then value): the identifier the person id
    is named after. ``results`` lists the edges in replay order with their outcome.
    """

    representative: dict[Identifier, Identifier]
    results: list[EdgeResult]

    def clusters(self) -> dict[Identifier, set[Identifier]]:
        """Representative -> members."""
        out: dict[Identifier, set[Identifier]] = {}
        for ident, rep in self.representative.items():
            out.setdefault(rep, set()).add(ident)
        return out


def order_key(ident: Identifier, first_seen: Mapping[Identifier, int]) -> tuple[int, str, str]:
    """How identifiers compare when electing a cluster's earliest identifier."""
    return (first_seen.get(ident, UNKNOWN_TIME), ident.kind, ident.value)


def replay_key(edge: Edge) -> tuple[int, str, int, Identifier, Identifier]:
    """The total order of a replay: event time, message id, alias < identified <
    linked, then the (normalised) pair, so edges of one message never tie."""
    a, b = edge.pair
    return (edge.time_us, edge.message_id, EDGE_ORDER[edge.kind], a, b)


def resolve(
    first_seen: Mapping[Identifier, int],
    edges: Iterable[Edge],
    blocks: Iterable[Block] = (),
) -> Resolution:
    """Replay ``edges`` in order over the identifiers of ``first_seen`` (and any edge end)."""
    ordered = sorted(edges, key=replay_key)
    slot: dict[Identifier, int] = {}
    idents: list[Identifier] = []

    def index(ident: Identifier) -> int:
        i = slot.get(ident)
        if i is None:
            i = slot[ident] = len(idents)
            idents.append(ident)
        return i

    sides = block_sides(blocks, index)
    ends = [(index(e.a), index(e.b), e.kind in FORCED) for e in ordered]
    users = [1 if ident.kind == Kind.USER else 0 for ident in idents]
    outcomes, roots = replay_slots(ends, users, sides)
    results = [EdgeResult(edge, outcome) for edge, outcome in zip(ordered, outcomes, strict=True)]

    best: dict[int, tuple[int, str, str, int]] = {}
    fs_get = first_seen.get
    for i, ident in enumerate(idents):
        root = roots[i]
        key = (fs_get(ident, UNKNOWN_TIME), ident[0], ident[1], i)
        cur = best.get(root)
        if cur is None or key < cur:
            best[root] = key
    representative: dict[Identifier, Identifier] = {
        ident: idents[best[roots[i]][3]] for i, ident in enumerate(idents)
    }
    for ident in first_seen:
        if ident not in representative:
            representative[ident] = ident
    return Resolution(representative, results)


def block_sides(blocks: Iterable[Block], index: Callable[[Identifier], int]) -> dict[int, dict[str, int]]:
    """Each block gives a side bit to the identifiers it names (1 for S, 2 for R), keyed
    by their slot."""
    sides: dict[int, dict[str, int]] = {}
    for block in blocks:
        for ident in block.s:
            sides.setdefault(index(ident), {})[block.id] = 1
        for ident in block.r:
            sides.setdefault(index(ident), {})[block.id] = 2
    return sides


def replay_slots(
    ends: Iterable[tuple[int, int, bool]], users: list[int], sides: dict[int, dict[str, int]]
) -> tuple[list[Outcome], list[int]]:
    """The replay itself, over integer slots ``0 .. len(users)-1``.

    ``ends`` are the edges in replay order as (slot, slot, forced); ``users[i]`` is 1 for
    a user id. Returns each edge's outcome and every slot's final root.

    A union-find. Two clusters never share a user id (a user id is one identifier, in one
    cluster), so the user ids of a merge are the sum of both counts and a count per root
    is all the at-most-one-user rule needs. A merge whose two clusters together carry both
    sides of one block is refused.
    """
    n = len(users)
    parent = list(range(n))
    size = [1] * n
    users = list(users)

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    outcomes: list[Outcome] = []
    append = outcomes.append
    for a, b, forced in ends:
        p, q = find(a), find(b)
        if p == q:
            append(Outcome.SAME)
            continue
        if sides and _blocked(sides.get(p), sides.get(q)):
            append(Outcome.BLOCKED)
            continue
        if not forced and users[p] + users[q] > 1:
            append(Outcome.CONFLICT)
            continue
        if size[p] < size[q]:
            p, q = q, p
        parent[q] = p
        size[p] += size[q]
        users[p] += users[q]
        if sides and q in sides:
            merged = sides.setdefault(p, {})
            for bid, bits in sides.pop(q).items():
                merged[bid] = merged.get(bid, 0) | bits
        append(Outcome.MERGED)
    return outcomes, [find(i) for i in range(n)]


def _blocked(p: dict[str, int] | None, q: dict[str, int] | None) -> bool:
    if not p or not q:
        return False
    return any((p.get(bid, 0) | bits) == 3 for bid, bits in q.items())
