"""Applying an ingest batch inside the writer's transaction: dedupe, suppression,
identifier ids, evidence edges, resolution, and the rows that record it all."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from threadline.identity.edges import edges_of
from threadline.identity.resolver import Changes
from threadline.jsondepth import cut
from threadline.model import Edge, Identifier, Kind, Message, Rejected
from threadline.storage.state import ProjectState
from threadline.storage.tx import Tx


@dataclass
class IngestResult:
    """What happened to one request's messages."""

    accepted: int = 0
    duplicates: int = 0
    personless: int = 0
    suppressed: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    stored: list[Message] = field(default_factory=list)


def _dumps(value: Any) -> str | None:
    if not value:
        return None
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


# What a quarantine copy that cannot be encoded at all is stored as (nothing the
# collector hands over should be: this keeps a reject from ever failing the commit).
UNSTORABLE = '{"_unstorable": true}'


def quarantine_json(body: Any) -> str | None:
    """A rejected message's copy as stored: cut to the nesting limit (a message refused
    for its depth is kept with its deep parts replaced by a marker), so that it can be
    encoded here and listed by every reader later."""
    if body is None:
        return None
    try:
        return orjson.dumps(cut(body), option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    except orjson.JSONEncodeError:  # e.g. an integer over 64 bits built by an adapter
        return UNSTORABLE


def _day(us: int) -> dt.date:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).date()


class Counters:
    """Global sequence numbers the writer hands out (events, identifiers, quarantine)."""

    def __init__(self, seq: int, iid: int, qid: int) -> None:
        self.seq = seq
        self.iid = iid
        self.qid = qid


def apply_ingest(
    tx: Tx,
    state: ProjectState,
    counters: Counters,
    messages: list[Message],
    rejected: list[Rejected],
    received_at_us: int,
    source: str,
) -> IngestResult:
    """Store one request's valid messages and quarantine its rejects."""
    pid = state.project_id
    result = IngestResult(rejected=list(rejected))
    stats = tx.stats[(pid, _day(received_at_us))]

    for rej in rejected:
        counters.qid += 1
        body, reason = rej.body, rej.reason
        anon = user = None
        if isinstance(body, dict):
            anon = _text(body.get("anonymousId") or body.get("anonymous_id"))
            user = _text(body.get("userId") or body.get("user_id"))
            if state.suppressed and _names_suppressed(state, body):
                # An erased person's data is not stored again, even refused: the reason
                # is kept for the sender's operator, the body and its ids are not.
                body = anon = user = None
                reason += "; its body is not kept: it names an erased person"
        tx.quarantine.append(
            (pid, counters.qid, received_at_us, source, rej.index, rej.code, reason,
             quarantine_json(body), anon, user)
        )
        stats["quarantined"] += rej.count  # a summary entry counts every reject it stands for

    # Dedupe: within the request, against earlier jobs of this group, against the store.
    pending = tx.pending_ids[pid]
    fresh: list[Message] = []
    seen: set[str] = set()
    for msg in messages:
        if msg.message_id in seen or msg.message_id in pending:
            result.duplicates += 1
            continue
        seen.add(msg.message_id)
        fresh.append(msg)
    # Duplicates of messages already in the store are found for the whole group at
    # flush time (one index probe for every request of the commit): see Tx.flush.
    stats["duplicates"] += result.duplicates

    # Suppression (GDPR erase): drop events whose owner was erased; strip other erased ids.
    if state.suppressed:
        kept = []
        for msg in fresh:
            owner = msg.owner
            if owner is not None and state.is_suppressed(owner):
                result.suppressed += 1
                continue
            kept.append(_strip_suppressed(state, msg))
        fresh = kept
    stats["suppressed"] += result.suppressed

    # Identifiers and evidence.
    first_seen: dict[Identifier, int] = {}
    edges: list[Edge] = []
    for msg in fresh:
        for ident in msg.identifiers():
            t = first_seen.get(ident)
            if t is None or msg.timestamp_us < t:
                first_seen[ident] = msg.timestamp_us
        edges.extend(edges_of(msg))
    new_idents = [i for i in first_seen if i not in state.iid_of]
    for ident in new_idents:
        counters.iid += 1
        state.iid_of[ident] = counters.iid
        state.ident_of[counters.iid] = ident
    changes = state.graph.apply(first_seen, edges)
    persist_changes(tx, state, changes, new=set(new_idents))

    # Event rows.
    iid_of = state.iid_of
    for msg in fresh:
        counters.seq += 1
        anon_iid = iid_of[Identifier(Kind.ANONYMOUS, msg.anonymous_id)] if msg.anonymous_id is not None else None
        user_iid = iid_of[Identifier(Kind.USER, msg.user_id)] if msg.user_id is not None else None
        owner_iid = user_iid if user_iid is not None else anon_iid
        if owner_iid is None:
            result.personless += 1
        carried = [c.id for c in msg.companies]
        members = [c.id for c in msg.companies if c.member]
        tx.events.append(
            (pid, msg.message_id, counters.seq, msg.type, msg.event, msg.timestamp_us,
             msg.received_at_us, msg.sent_at_us, msg.anonymous_id, msg.user_id, msg.previous_id,
             msg.linked_anonymous_id, anon_iid, user_iid, owner_iid, carried, members,
             _dumps(msg.properties), _dumps(msg.traits), _dumps(msg.context), _dumps(msg.extra),
             msg.source, msg.hidden)
        )
        tx.event_results.append((result, msg, owner_iid is None))
        for comp in msg.companies:
            if comp.traits is not None:
                tx.companies.append(
                    (pid, comp.id, msg.timestamp_us, msg.message_id, _dumps(comp.traits) or "{}")
                )
        pending.add(msg.message_id)
    result.accepted = len(fresh)
    result.stored = fresh
    stats["accepted"] += result.accepted
    stats["personless"] += result.personless
    return result


def persist_changes(tx: Tx, state: ProjectState, changes: Changes, new: Iterable[Identifier] = ()) -> None:
    """Buffer the identifier and edge rows a resolver change implies."""
    pid = state.project_id
    new_set = set(new)
    graph = state.graph
    touched = set(changes.representative) | set(changes.first_seen) | new_set
    for ident in touched:
        iid = state.iid_of.get(ident)
        if iid is None:
            continue
        rep = graph.representative(ident)
        tx.set_identifier(
            pid, iid, ident.kind, ident.value, graph.first_seen[ident], state.iid_of[rep],
            state.person_id(rep), state.person_id(ident), new=ident in new_set,
        )
    for key, (edge, outcome) in changes.edges.items():
        a, b = state.iid_of[key[0]], state.iid_of[key[1]]
        if key in changes.stored_edges:
            tx.edge_deletes.add((pid, a, b, key[2]))
        tx.edge_upserts[(pid, a, b, key[2])] = (
            pid, a, b, key[2], edge.kind.value, edge.time_us, edge.message_id, edge.source,
            outcome.value,
        )
    for key in changes.removed_edges:
        a_iid, b_iid = state.iid_of.get(key[0]), state.iid_of.get(key[1])
        if a_iid is not None and b_iid is not None:
            tx.edge_deletes.add((pid, a_iid, b_iid, key[2]))


def _strip_suppressed(state: ProjectState, msg: Message) -> Message:
    changes: dict[str, Any] = {}
    if msg.anonymous_id is not None and state.is_suppressed(Identifier(Kind.ANONYMOUS, msg.anonymous_id)):
        changes["anonymous_id"] = None
        changes["raw_anonymous_id"] = None
    prev = msg.previous_identifier
    if prev is not None and state.is_suppressed(prev):
        changes["previous_id"] = None
    if msg.linked_anonymous_id is not None and state.is_suppressed(
        Identifier(Kind.ANONYMOUS, msg.linked_anonymous_id)
    ):
        changes["linked_anonymous_id"] = None
        # The stored context is where the link came from: no copy of the erased id stays.
        changes["context"] = {k: v for k, v in msg.context.items() if k != "linked_anonymous_id"}
    return dataclasses.replace(msg, **changes) if changes else msg


# Where a refused body can carry a person's identifiers: Segment's and Moesif's top-level
# ids, an alias's previous id, a linked id, Usermaven's user block.
QUARANTINE_ID_PATHS: tuple[tuple[str, ...], ...] = (
    ("anonymousId",), ("anonymous_id",), ("userId",), ("user_id",), ("previousId",),
    ("context", "linked_anonymous_id"), ("user", "anonymous_id"), ("user", "id"),
)


def body_ids(body: dict[str, Any]) -> list[str]:
    """The identifier values a refused body carries at :data:`QUARANTINE_ID_PATHS`."""
    out = []
    for path in QUARANTINE_ID_PATHS:
        value: Any = body
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        text = _text(value)
        if text is not None:
            out.append(text)
    return out


def _names_suppressed(state: ProjectState, body: dict[str, Any]) -> bool:
    # Either kind: a body's place does not always say which kind a value is.
    return any(state.is_suppressed(Identifier(kind, value))
               for value in body_ids(body) for kind in (Kind.ANONYMOUS, Kind.USER))


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None
