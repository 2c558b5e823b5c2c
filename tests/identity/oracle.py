"""An independent reference for the identity rules, written from identity.md alone.

It shares no code with ``threadline.identity`` (only the ``Identifier`` value type) and
is built for being obviously right rather than fast: clusters are plain sets, every
question is answered by replaying the whole edge list from scratch, and the final
partition is read off a networkx graph of the accepted edges.

A scenario is a sequence of steps, as a project sees them: batches of messages posted,
and operator actions (split, manual merge, erase) in between. Operator actions depend
on the state at the moment they are taken (a split detaches identifiers from the
person as it is then), so the oracle keeps that state:

- ``edges``: every piece of evidence, never deduplicated per pair;
- ``first_seen``: the earliest event time of any message that carried the identifier;
- ``blocks``: the splits, as (S, R) pairs, timeless;
- ``messages``: the stored events, for the persons' event counts;
- ``suppressed``: identifiers erased, whose later events are dropped or stripped.

Where identity.md is silent the oracle takes these readings (each also what a product
analyst would expect):

- an identifier's first-seen time is set when messages carrying it arrive; erasing
  another person's event that also carried it does not "unsee" it;
- erase deletes the blocks naming any erased identifier, and keeps an edge between two
  surviving identifiers even when the event that gave it was the erased person's;
- a manual merge deletes the blocks with one side in each person, then links the
  earliest identifiers of the two persons as the operator saw them (deleting the blocks
  can regroup clusters; the operator's intent is still these two persons) with an edge
  timed after every event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import networkx as nx

from threadline.model import Identifier

ANON = "anonymous"
USER = "user"
# Within one message: alias, then identified, then linked (identity.md, details). A manual
# edge is the only edge of its "message".
KIND_ORDER = {"manual": 0, "alias": 1, "identified": 2, "linked": 3}
FORCED = {"alias", "manual"}


@dataclass(frozen=True)
class Msg:
    """One message as a client sends it (times in microseconds)."""

    mid: str
    time_us: int
    type: str  # page, identify, alias, track
    anon: str | None = None
    user: str | None = None
    previous: str | None = None
    linked: str | None = None

    def owner(self) -> Identifier | None:
        """User id first, else anonymous id (identity.md, Which person an event belongs to)."""
        if self.user is not None:
            return Identifier(USER, self.user)
        return Identifier(ANON, self.anon) if self.anon is not None else None

    def previous_identifier(self) -> Identifier | None:
        """An alias's previousId: anonymous when it equals the message's anonymousId."""
        if self.previous is None:
            return None
        return Identifier(ANON if self.previous == self.anon else USER, self.previous)

    def identifiers(self) -> set[Identifier]:
        out = {i for i in (self.owner(), self.previous_identifier()) if i is not None}
        if self.anon is not None:
            out.add(Identifier(ANON, self.anon))
        if self.linked is not None:
            out.add(Identifier(ANON, self.linked))
        return out

    def edges(self) -> list[OEdge]:
        """The evidence this message gives (identity.md, Evidence)."""
        out = []
        anon = Identifier(ANON, self.anon) if self.anon is not None else None
        user = Identifier(USER, self.user) if self.user is not None else None
        prev = self.previous_identifier()
        if self.type == "alias" and prev is not None and user is not None and prev != user:
            out.append(OEdge(prev, user, "alias", self.time_us, self.mid))
        if anon is not None and user is not None:
            out.append(OEdge(anon, user, "identified", self.time_us, self.mid))
        if anon is not None and self.linked is not None and self.linked != self.anon:
            out.append(OEdge(anon, Identifier(ANON, self.linked), "linked", self.time_us, self.mid))
        return out

    def without(self, gone: set[Identifier]) -> Msg:
        """This message with the identifiers in ``gone`` removed."""
        prev = self.previous_identifier()
        return replace(
            self,
            anon=None if self.anon is not None and Identifier(ANON, self.anon) in gone else self.anon,
            user=None if self.user is not None and Identifier(USER, self.user) in gone else self.user,
            previous=None if prev is not None and prev in gone else self.previous,
            linked=None if self.linked is not None and Identifier(ANON, self.linked) in gone else self.linked,
        )


@dataclass(frozen=True)
class OEdge:
    a: Identifier
    b: Identifier
    kind: str
    time_us: int
    mid: str

    def order(self) -> tuple[int, str, int]:
        return (self.time_us, self.mid, KIND_ORDER[self.kind])


@dataclass(frozen=True)
class OBlock:
    s: frozenset[Identifier]
    r: frozenset[Identifier]

    def forbids(self, cluster: set[Identifier]) -> bool:
        return bool(cluster & self.s) and bool(cluster & self.r)


def namespace(project_id: str) -> uuid.UUID:
    """identity.md: the UUIDv5 of ``"threadline:" + project id`` under the URL namespace."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "threadline:" + project_id)


def person_id(project_id: str, ident: Identifier) -> str:
    """identity.md: the UUIDv5 of ``kind + ":" + value`` in the project's namespace."""
    return str(uuid.uuid5(namespace(project_id), f"{ident.kind}:{ident.value}"))


def replay(identifiers: Iterable[Identifier], edges: Iterable[OEdge],
           blocks: Iterable[OBlock]) -> dict[Identifier, frozenset[Identifier]]:
    """identity.md, Resolution: apply the edges one at a time in order; returns each
    identifier's cluster."""
    blocks = list(blocks)
    cluster: dict[Identifier, frozenset[Identifier]] = {i: frozenset({i}) for i in identifiers}
    accepted = nx.Graph()
    accepted.add_nodes_from(cluster)
    for edge in sorted(edges, key=OEdge.order):
        p = cluster.setdefault(edge.a, frozenset({edge.a}))
        q = cluster.setdefault(edge.b, frozenset({edge.b}))
        if p == q:
            continue
        merged = p | q
        if any(b.forbids(set(merged)) for b in blocks):
            continue  # blocked: a split forbids it, whatever the kind and time
        if edge.kind not in FORCED and sum(i.kind == USER for i in merged) > 1:
            continue  # conflict: at most one user id, literally
        for ident in merged:
            cluster[ident] = merged
        accepted.add_edge(edge.a, edge.b)
    # The same partition, read independently off the graph of accepted edges.
    components = {i: frozenset(c) for c in nx.connected_components(accepted) for i in c}
    assert components == cluster, "oracle: replay and accepted-edge components disagree"
    return cluster


@dataclass
class Oracle:
    """One project's identity state, step by step (see the module docstring)."""

    project_id: str = "default"
    edges: list[OEdge] = field(default_factory=list)
    first_seen: dict[Identifier, int] = field(default_factory=dict)
    blocks: list[OBlock] = field(default_factory=list)
    messages: dict[str, Msg] = field(default_factory=dict)
    seen_ids: set[str] = field(default_factory=set)
    suppressed: set[Identifier] = field(default_factory=set)
    manual_count: int = 0
    manual_base_us: int = 2**53  # manual edges are timed at the operator's action: after every event

    # ---- reading ----------------------------------------------------------------------

    def clusters(self) -> dict[Identifier, frozenset[Identifier]]:
        return replay(self.first_seen, self.edges, self.blocks)

    def earliest(self, cluster: Iterable[Identifier]) -> Identifier:
        """The identifier a person is named after: by first-seen time, then kind, then value."""
        return min(cluster, key=lambda i: (self.first_seen[i], i.kind, i.value))

    def representative(self) -> dict[Identifier, Identifier]:
        return {i: self.earliest(c) for i, c in self.clusters().items()}

    def person_of(self, ident: Identifier) -> str:
        return person_id(self.project_id, self.earliest(self.clusters()[ident]))

    def persons(self) -> dict[str, Person]:
        """Every person by id: its identifiers and how many events it owns."""
        out: dict[str, Person] = {}
        clusters = self.clusters()
        for cluster in set(clusters.values()):
            pid = person_id(self.project_id, self.earliest(cluster))
            owned = sum(1 for m in self.messages.values() if m.owner() in cluster)
            out[pid] = Person(pid, frozenset(i.value for i in cluster if i.kind == USER),
                              frozenset(i.value for i in cluster if i.kind == ANON), owned)
        return out

    # ---- steps ------------------------------------------------------------------------

    def post(self, messages: Iterable[Msg]) -> None:
        """Messages arrive (in any order: the result must not depend on it)."""
        for msg in messages:
            if msg.mid in self.seen_ids:
                continue  # idempotent: a retried message id stores nothing
            self.seen_ids.add(msg.mid)
            owner = msg.owner()
            if owner is None or owner in self.suppressed:
                continue  # identity.md, Erase: a later event of an erased owner is dropped
            msg = msg.without(self.suppressed)
            self.messages[msg.mid] = msg
            for ident in msg.identifiers():
                self.first_seen[ident] = min(self.first_seen.get(ident, msg.time_us), msg.time_us)
            self.edges.extend(msg.edges())

    def split(self, holder: Identifier, detach: frozenset[Identifier]) -> None:
        """Detach ``detach`` from the person holding ``holder``: a timeless block."""
        cluster = self.clusters()[holder]
        assert detach and detach < cluster, "a split detaches a non-empty proper subset"
        self.blocks.append(OBlock(frozenset(detach), frozenset(cluster - detach)))

    def merge(self, a: Identifier, b: Identifier) -> None:
        """Manual merge of the persons holding ``a`` and ``b``."""
        clusters = self.clusters()
        left, right = clusters[a], clusters[b]
        assert left != right
        ea, eb = self.earliest(left), self.earliest(right)
        self.blocks = [blk for blk in self.blocks
                       if not ((blk.s & left and blk.r & right) or (blk.s & right and blk.r & left))]
        self.manual_count += 1
        self.edges.append(OEdge(ea, eb, "manual", self.manual_base_us + self.manual_count,
                                f"manual-{self.manual_count}"))

    def erase(self, holder: Identifier) -> Erased:
        """GDPR erase of the person holding ``holder``; returns what it removed."""
        gone = set(self.clusters()[holder])
        owned = [mid for mid, m in self.messages.items() if m.owner() in gone]
        for mid in owned:
            del self.messages[mid]
        for mid, m in list(self.messages.items()):
            self.messages[mid] = m.without(gone)
        self.edges = [e for e in self.edges if e.a not in gone and e.b not in gone]
        self.blocks = [b for b in self.blocks if not (b.s | b.r) & gone]
        for ident in gone:
            del self.first_seen[ident]
        self.suppressed |= gone
        return Erased(len(owned), len(gone))


@dataclass(frozen=True)
class Person:
    id: str
    user_ids: frozenset[str]
    anonymous_ids: frozenset[str]
    event_count: int


@dataclass(frozen=True)
class Erased:
    events: int
    identifiers: int
