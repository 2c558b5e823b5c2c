"""Bulk resolution: the answer of ``rules.resolve``, vectorised where no rule can bite.

A replay refuses an edge only for two reasons: the merged cluster would hold two user
ids, or a block forbids it. In a component (identifiers reachable through any edge)
with at most one user id and no block, neither can happen, so every edge whose ends
are apart when its turn comes merges, and the clusters are the components. Real
projects are almost all such components (one person, their devices), so:

1. connected components of every edge, by ``scipy.sparse.csgraph`` (C, no Python loop);
2. for *plain* components: the cluster is the component, its representative the member
   with the smallest (first seen, kind, value); an edge's outcome is "accepted" when it
   is in the minimum spanning forest weighted by replay position (Kruskal in replay
   order is exactly what the replay does when nothing is refused), else "redundant";
3. the other components (shared devices, aliases between users, splits) are replayed
   in order by the same loop as ``rules.resolve`` (``rules.replay_slots``), on their own
   edges only.

Same partitions, representatives and outcomes as a replay of everything; the property
tests in tests/identity check it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from threadline.identity.rules import (
    FORCED,
    UNKNOWN_TIME,
    EdgeResult,
    Outcome,
    Resolution,
    block_sides,
    replay_key,
    replay_slots,
)
from threadline.model import Block, Edge, Identifier, Kind

_MERGED, _SAME, _REPLAY = 0, 1, 2


def _missing(slot: Mapping[Identifier, int], groups: Iterable[list[Identifier]]) -> list[Identifier]:
    """Identifiers of ``groups`` without a slot, each once, in order of appearance."""
    out: dict[Identifier, None] = {}
    for group in groups:
        if not set(group).issubset(slot.keys()):
            out.update((i, None) for i in group if i not in slot)
    return list(out)


def order_by(primary: np.ndarray, key_of: Callable[[int], Any]) -> np.ndarray:
    """Indices sorting ``primary`` (integers), ties broken by ``key_of(index)``.

    Only tied entries pay for a Python key: times and first-seen times are nearly
    unique, and sorting every message id or identifier text would cost more than the
    rest of the resolution.
    """
    idx = np.argsort(primary, kind="stable")
    p = primary[idx]
    eq = p[1:] == p[:-1]
    tied = np.zeros(len(p), dtype=bool)
    tied[1:] |= eq
    tied[:-1] |= eq
    if not tied.any():
        return idx
    second = np.zeros(len(p), dtype=np.int64)
    ranked = sorted(idx[tied].tolist(), key=key_of)
    second[ranked] = np.arange(1, len(ranked) + 1)
    return np.lexsort((second, primary))


def plain_components(
    n: int, a: np.ndarray, b: np.ndarray, is_user: np.ndarray, blocked: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Component label of each of ``n`` identifiers (edges ``a[i]``-``b[i]``), and per
    label whether it is plain: at most one user id and no identifier named by a block."""
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    users = np.bincount(labels, weights=is_user, minlength=count)
    has_block = np.bincount(labels, weights=blocked, minlength=count) > 0
    return labels, (users <= 1) & ~has_block


def forest_outcomes(n: int, a: np.ndarray, b: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """For edges replayed in ``rank`` order with nothing refused: ``_MERGED`` for the
    edges that join two clusters (the minimum spanning forest by rank), else ``_SAME``."""
    out = np.full(len(a), _SAME, dtype=np.int8)
    if not len(a):
        return out
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # Of several edges between one pair only the earliest can merge; loops never do.
    order = np.argsort(rank, kind="stable")
    pair = lo[order] * n + hi[order]
    _, first = np.unique(pair, return_index=True)
    candidates = order[first]
    candidates = candidates[lo[candidates] != hi[candidates]]
    weights = (rank[candidates] + 1).astype(np.float64)  # distinct, so the forest is unique
    tree = minimum_spanning_tree(
        coo_matrix((weights, (lo[candidates], hi[candidates])), shape=(n, n)).tocsr()
    ).tocoo()
    chosen = np.minimum(tree.row, tree.col).astype(np.int64) * n + np.maximum(tree.row, tree.col)
    out[candidates[np.isin(lo[candidates] * n + hi[candidates], chosen)]] = _MERGED
    return out


def resolve_bulk(
    first_seen: Mapping[Identifier, int],
    edges: Iterable[Edge],
    blocks: Iterable[Block] = (),
) -> Resolution:
    """``rules.resolve`` for a whole project at once (see the module docstring)."""
    edge_list = list(edges)
    block_list = list(blocks)
    # Slots: the identifiers of ``first_seen`` in its order, then any other edge or
    # block end (a store passes every identifier in ``first_seen``, so usually none).
    idents: list[Identifier] = list(first_seen)
    slot: dict[Identifier, int] = dict(zip(idents, range(len(idents)), strict=True))
    ends_a = list(map(attrgetter("a"), edge_list))
    ends_b = list(map(attrgetter("b"), edge_list))
    named_idents = [i for blk in block_list for i in (*blk.s, *blk.r)]
    for ident in _missing(slot, (ends_a, ends_b, named_idents)):
        slot[ident] = len(idents)
        idents.append(ident)
    a = np.fromiter(map(slot.__getitem__, ends_a), dtype=np.int64, count=len(edge_list))
    b = np.fromiter(map(slot.__getitem__, ends_b), dtype=np.int64, count=len(edge_list))
    named = list(map(slot.__getitem__, named_idents))
    n = len(idents)
    if n == 0:
        return Resolution({}, [])
    blocked = np.zeros(n, dtype=np.float64)
    blocked[named] = 1.0
    is_user = np.fromiter(map(Kind.USER.__eq__, map(itemgetter(0), idents)), dtype=np.float64, count=n)
    labels, plain = plain_components(n, a, b, is_user, blocked)

    # Identifier order (first seen, kind, value), for representatives.
    fs = np.full(n, UNKNOWN_TIME, dtype=np.int64)
    fs[: len(first_seen)] = np.fromiter(first_seen.values(), dtype=np.int64, count=len(first_seen))
    by_order = order_by(fs, idents.__getitem__)  # slots, earliest first
    order_rank = np.empty(n, dtype=np.int64)
    order_rank[by_order] = np.arange(n)

    # Replay order of the edges: (time, then message id, kind and pair: rules.replay_key).
    times = np.fromiter((e.time_us for e in edge_list), dtype=np.int64, count=len(edge_list))
    replay = order_by(times, lambda e: replay_key(edge_list[e]))
    rank = np.empty(len(edge_list), dtype=np.int64)
    rank[replay] = np.arange(len(edge_list))

    # Plain components: clusters are components; outcomes from the spanning forest.
    outcome = np.full(len(edge_list), _REPLAY, dtype=np.int8)
    plain_edge = plain[labels[a]] if len(edge_list) else np.zeros(0, dtype=bool)
    pe = np.flatnonzero(plain_edge)
    outcome[pe] = forest_outcomes(n, a[pe], b[pe], rank[pe])
    root = labels.copy()

    # The rest: the ordered replay of their own edges, on the same integer slots.
    rest = replay[~plain_edge[replay]]
    replayed: list[Outcome] = []
    if len(rest):
        forced = np.fromiter((edge_list[e].kind in FORCED for e in rest.tolist()), dtype=bool,
                             count=len(rest))
        sides = block_sides(block_list, slot.__getitem__)
        replayed, roots = replay_slots(
            zip(a[rest].tolist(), b[rest].tolist(), forced.tolist(), strict=True),
            is_user.astype(np.int64).tolist(), sides,
        )
        # Roots of the replay are slots; keep them apart from component labels.
        other = ~plain[labels]
        root[other] = len(plain) + np.asarray(roots, dtype=np.int64)[other]

    # Representatives: the member of each cluster earliest by (first seen, kind, value).
    best = np.full(len(plain) + n, n, dtype=np.int64)
    np.minimum.at(best, root, order_rank)
    rep_slot = by_order[best[root]].tolist()
    representative = {ident: idents[r] for ident, r in zip(idents, rep_slot, strict=True)}

    codes = (Outcome.MERGED, Outcome.SAME)
    outcome_list = outcome.tolist()
    replayed_at = iter(replayed)
    results = [
        EdgeResult(edge_list[e], codes[outcome_list[e]] if outcome_list[e] != _REPLAY
                   else next(replayed_at))
        for e in replay.tolist()
    ]
    return Resolution(representative, results)
