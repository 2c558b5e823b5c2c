"""Evidence edges extracted from canonical messages (identity.md, Evidence)."""

from __future__ import annotations

from threadline.model import Edge, EdgeKind, Identifier, Kind, Message


def edges_of(msg: Message) -> list[Edge]:
    """The edges one message gives, in the order they apply: alias, identified, linked."""
    out: list[Edge] = []
    anon = Identifier(Kind.ANONYMOUS, msg.anonymous_id) if msg.anonymous_id is not None else None
    user = Identifier(Kind.USER, msg.user_id) if msg.user_id is not None else None
    prev = msg.previous_identifier
    if msg.type == "alias" and prev is not None and user is not None and prev != user:
        out.append(Edge(prev, user, EdgeKind.ALIAS, msg.timestamp_us, msg.message_id, msg.source))
    if anon is not None and user is not None:
        out.append(Edge(anon, user, EdgeKind.IDENTIFIED, msg.timestamp_us, msg.message_id, msg.source))
    if anon is not None and msg.linked_anonymous_id is not None and msg.linked_anonymous_id != anon.value:
        linked = Identifier(Kind.ANONYMOUS, msg.linked_anonymous_id)
        out.append(Edge(anon, linked, EdgeKind.LINKED, msg.timestamp_us, msg.message_id, msg.source))
    return out
