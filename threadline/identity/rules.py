"""The resolution rules as a pure function: edges and blocks in, clusters out.

This module does no I/O and reads no clock. ``resolve`` replays edges in the
order ``(event time, message id, alias < identified < linked)`` exactly as
identity.md defines, so any implementation that is incremental must give the
same answer as calling it on the whole edge set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from threadline.model import Block, Edge, EdgeKind, Identifier, Kind

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


class _Cluster:
    __slots__ = ("members", "sides", "users")

    def __init__(self, ident: Identifier, sides: dict[str, int]) -> None:
        self.members = [ident]
        self.users = {ident.value} if ident.kind == Kind.USER else set()
        self.sides = sides


def resolve(
    first_seen: Mapping[Identifier, int],
    edges: Iterable[Edge],
    blocks: Iterable[Block] = (),
) -> Resolution:
    """Replay ``edges`` in order over the identifiers of ``first_seen`` (and any edge end).

    Each block contributes a side bit to every identifier it names (1 for S, 2 for
    R); a merge whose two clusters together carry both sides of one block is refused.
    """
    ordered = sorted(edges, key=lambda e: (e.key, e.pair))
    side_bits: dict[Identifier, dict[str, int]] = {}
    for block in blocks:
        for ident in block.s:
            side_bits.setdefault(ident, {})[block.id] = 1
        for ident in block.r:
            side_bits.setdefault(ident, {})[block.id] = 2

    cluster_of: dict[Identifier, _Cluster] = {}

    def cluster(ident: Identifier) -> _Cluster:
        c = cluster_of.get(ident)
        if c is None:
            c = _Cluster(ident, dict(side_bits.get(ident, {})))
            cluster_of[ident] = c
        return c

    for ident in first_seen:
        cluster(ident)

    results: list[EdgeResult] = []
    for edge in ordered:
        p, q = cluster(edge.a), cluster(edge.b)
        if p is q:
            results.append(EdgeResult(edge, Outcome.SAME))
            continue
        if _blocked(p, q):
            results.append(EdgeResult(edge, Outcome.BLOCKED))
            continue
        if edge.kind not in FORCED and len(p.users | q.users) > 1:
            results.append(EdgeResult(edge, Outcome.CONFLICT))
            continue
        # Merge the smaller cluster into the larger one.
        if len(p.members) < len(q.members):
            p, q = q, p
        p.members.extend(q.members)
        p.users |= q.users
        for bid, bits in q.sides.items():
            p.sides[bid] = p.sides.get(bid, 0) | bits
        for ident in q.members:
            cluster_of[ident] = p
        results.append(EdgeResult(edge, Outcome.MERGED))

    representative: dict[Identifier, Identifier] = {}
    seen: set[int] = set()
    for c in cluster_of.values():
        if id(c) in seen:
            continue
        seen.add(id(c))
        rep = min(c.members, key=lambda i: order_key(i, first_seen))
        for ident in c.members:
            representative[ident] = rep
    return Resolution(representative, results)


def _blocked(p: _Cluster, q: _Cluster) -> bool:
    if not p.sides or not q.sides:
        return False
    return any(p.sides.get(bid, 0) | bits == 3 for bid, bits in q.sides.items())
