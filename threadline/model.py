"""The canonical values every layer speaks: messages, identifiers, edges.

Times inside the engine are integer microseconds since the Unix epoch (UTC):
they order exactly, cost nothing to compare and map straight onto the store's
``TIMESTAMP`` columns. Only the API layer turns them into ISO 8601 text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

JSON = dict[str, Any]


class Kind(StrEnum):
    """The kind of a person identifier (identity.md, Identifiers)."""

    ANONYMOUS = "anonymous"
    USER = "user"


class EdgeKind(StrEnum):
    """The kind of evidence that links two identifiers (identity.md, Evidence)."""

    ALIAS = "alias"
    IDENTIFIED = "identified"
    LINKED = "linked"
    MANUAL = "manual"


# Within one message, edges apply in this order (identity.md, details).
EDGE_ORDER: dict[EdgeKind, int] = {
    EdgeKind.MANUAL: 0,
    EdgeKind.ALIAS: 1,
    EdgeKind.IDENTIFIED: 2,
    EdgeKind.LINKED: 3,
}


class Source(StrEnum):
    """Which surface a message came through (api.md, Canonical messages)."""

    NATIVE = "native"
    TRACKER = "tracker"
    SDK = "sdk"
    MIDDLEWARE = "middleware"
    USERMAVEN_BROWSER = "usermaven-browser"
    USERMAVEN_S2S = "usermaven-s2s"
    MOESIF_API = "moesif-api"
    MOESIF_BROWSER = "moesif-browser"
    IMPORT = "import"
    OPERATOR = "operator"


class Identifier(NamedTuple):
    """A ``(kind, value)`` pair inside one project. Ordered by kind, then value.

    A named tuple rather than a dataclass: identifiers are hashed and compared millions
    of times during a replay, and tuples do that in C.
    """

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    def as_json(self) -> JSON:
        return {"kind": self.kind, "value": self.value}


@dataclass(frozen=True, slots=True)
class CompanyRef:
    """A company a message names.

    ``member`` says whether the message makes its owner a member (group call,
    Usermaven company block, Moesif ``company_id``) or merely carries the id
    (``context.groupId`` on a track). ``traits`` are company traits to set.
    """

    id: str
    member: bool
    traits: JSON | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One canonical (Segment-spec) message after a wire adapter mapped it.

    Identifier fields hold *usable* values only: the adapter has already turned
    numbers into text and dropped junk ids (``identity.ids``), so ``None`` means
    "no identifier of that kind".
    """

    message_id: str
    type: str
    timestamp_us: int
    received_at_us: int
    source: str
    event: str | None = None
    anonymous_id: str | None = None
    user_id: str | None = None
    previous_id: str | None = None
    linked_anonymous_id: str | None = None
    properties: JSON = field(default_factory=dict)
    traits: JSON = field(default_factory=dict)
    context: JSON = field(default_factory=dict)
    extra: JSON = field(default_factory=dict)
    companies: tuple[CompanyRef, ...] = ()
    sent_at_us: int | None = None
    hidden: bool = False
    # The raw ids as sent, junk included, so the store keeps what the client sent.
    raw_anonymous_id: str | None = None
    raw_user_id: str | None = None

    @property
    def owner(self) -> Identifier | None:
        """The identifier whose person owns this event: user id first, else anonymous id."""
        if self.user_id is not None:
            return Identifier(Kind.USER, self.user_id)
        if self.anonymous_id is not None:
            return Identifier(Kind.ANONYMOUS, self.anonymous_id)
        return None

    def identifiers(self) -> list[Identifier]:
        """Every identifier this message carries (anonymous, user, previous, linked)."""
        out: list[Identifier] = []
        if self.anonymous_id is not None:
            out.append(Identifier(Kind.ANONYMOUS, self.anonymous_id))
        if self.user_id is not None:
            out.append(Identifier(Kind.USER, self.user_id))
        prev = self.previous_identifier
        if prev is not None:
            out.append(prev)
        if self.linked_anonymous_id is not None:
            out.append(Identifier(Kind.ANONYMOUS, self.linked_anonymous_id))
        return out

    @property
    def previous_identifier(self) -> Identifier | None:
        """An alias's previous id: anonymous when it equals this message's anonymous id."""
        if self.previous_id is None:
            return None
        if self.previous_id == self.anonymous_id:
            return Identifier(Kind.ANONYMOUS, self.previous_id)
        return Identifier(Kind.USER, self.previous_id)


@dataclass(frozen=True, slots=True)
class Edge:
    """One piece of evidence linking two identifiers (identity.md, Evidence)."""

    a: Identifier
    b: Identifier
    kind: EdgeKind
    time_us: int
    message_id: str
    source: str = ""

    @property
    def key(self) -> tuple[int, str, int]:
        """The replay order: event time, message id, then alias < identified < linked."""
        return (self.time_us, self.message_id, EDGE_ORDER[self.kind])

    @property
    def pair(self) -> tuple[Identifier, Identifier]:
        """The unordered pair, normalised so ``a <= b``."""
        return (self.a, self.b) if self.a <= self.b else (self.b, self.a)


@dataclass(frozen=True, slots=True)
class Block:
    """A split: no edge may put an identifier of ``s`` and one of ``r`` in one cluster."""

    id: str
    s: frozenset[Identifier]
    r: frozenset[Identifier]
    created_at_us: int = 0


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message of a request that was refused, with its index in the request.

    ``count`` is how many refused messages the entry stands for: 1, except for the one
    summary entry of a request with more rejects than are kept (``collector.ingest``).
    """

    index: int
    code: str
    reason: str
    body: Any = None
    count: int = 1


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a wire adapter made of one request: messages to store and rejects to quarantine."""

    messages: list[Message]
    rejected: list[Rejected]
