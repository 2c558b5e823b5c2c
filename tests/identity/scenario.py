"""Helpers that build messages and edges tersely for identity tests."""

from __future__ import annotations

from threadline.identity.edges import edges_of
from threadline.model import Edge, Identifier, Kind, Message

A = Kind.ANONYMOUS
U = Kind.USER


def anon(v: str) -> Identifier:
    return Identifier(A, v)


def user(v: str) -> Identifier:
    return Identifier(U, v)


def msg(mid: str, t: int, type_: str = "track", *, a: str | None = None, u: str | None = None,
        prev: str | None = None, linked: str | None = None) -> Message:
    return Message(message_id=mid, type=type_, timestamp_us=t, received_at_us=t, source="native",
                   event="x" if type_ == "track" else None, anonymous_id=a, user_id=u,
                   previous_id=prev, linked_anonymous_id=linked)


def edges(*messages: Message) -> list[Edge]:
    out: list[Edge] = []
    for m in messages:
        out.extend(edges_of(m))
    return out


def first_seen(*messages: Message) -> dict[Identifier, int]:
    out: dict[Identifier, int] = {}
    for m in messages:
        for i in m.identifiers():
            if i not in out or m.timestamp_us < out[i]:
                out[i] = m.timestamp_us
    return out
