"""Operator actions on persons: manual merge, split, and GDPR erase (identity.md,
"Split, merge, erase"). Each runs as one writer job, so it is atomic with respect to
ingest, and updates the in-memory graph and the stored person map together.

Validation failures are returned from the job rather than raised inside it: a job
that raises makes the writer roll back and reload every project's graph.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from threadline.errors import HTTPError, conflict, not_found, unprocessable
from threadline.model import Block, Edge, EdgeKind, Identifier, Kind, Source
from threadline.storage.apply import QUARANTINE_ID_PATHS, persist_changes
from threadline.storage.state import ProjectState
from threadline.storage.tx import Tx

if TYPE_CHECKING:
    from threadline.storage.duckdb_store import DuckDBStore


# Where a refused message's body may carry a person identifier, in any wire format.
# JSON paths of the places a refused body carries identifiers (apply.QUARANTINE_ID_PATHS).
QUARANTINE_JSON_PATHS = tuple("$." + ".".join(path) for path in QUARANTINE_ID_PATHS)


def _now_us() -> int:
    from threadline.storage.duckdb_store import now_us

    return now_us()


def find_person(tx: Tx, state: ProjectState, person_id: str) -> Identifier | None:
    """An identifier of the person answering to ``person_id``: a live person's id first,
    else the id of one of its identifiers (an id that was merged away)."""
    for column in ("person_id", "self_id"):
        row = tx.con.execute(
            f"SELECT kind, value FROM identifiers WHERE project_id = ? AND {column} = ? LIMIT 1",
            [state.project_id, person_id],
        ).fetchone()
        if row is not None:
            ident = Identifier(row[0], row[1])
            if state.graph.knows(ident):
                return ident
    return None


def _unwrap(result: Any) -> Any:
    if isinstance(result, HTTPError):
        raise result
    return result


def merge_persons(store: DuckDBStore, project_id: str, person_ids: list[str]) -> str:
    """Merge persons by an operator: drop the blocks between them and add a manual edge
    between their earliest identifiers, timed now. Returns the merged person's id."""

    def run(tx: Tx) -> str | HTTPError:
        state = store.state(tx, project_id)
        reps: list[Identifier] = []
        for pid in person_ids:
            ident = find_person(tx, state, pid)
            if ident is None:
                return not_found(f"no person {pid}")
            rep = state.graph.representative(ident)
            if rep in reps:
                return conflict("these ids name the same person; nothing to merge",
                                {"person_id": state.person_id(rep)})
            reps.append(rep)
        now = _now_us()
        first = reps[0]
        for other in reps[1:]:
            left = state.graph.cluster(first)
            right = state.graph.cluster(other)
            blocks = state.graph.blocks_between(left, right)
            if blocks:
                tx.con.execute(
                    "DELETE FROM blocks WHERE project_id = ? AND list_contains(?::VARCHAR[], block_id)",
                    [project_id, [b.id for b in blocks]],
                )
                persist_changes(tx, state, state.graph.remove_blocks(b.id for b in blocks))
            # Between the two persons' earliest identifiers as the operator named them:
            # dropping the blocks may already have regrouped the clusters, and an edge
            # between the regrouped ones could be a self-loop that later evidence undoes.
            edge = Edge(first, other, EdgeKind.MANUAL, now, f"manual_{uuid.uuid4().hex}",
                        Source.OPERATOR)
            persist_changes(tx, state, state.graph.apply({}, [edge]))
        return state.person_id(state.graph.representative(first))

    return str(_unwrap(store.write_sync(run)))


def split_person(store: DuckDBStore, project_id: str, person_id: str,
                 identifiers: list[Identifier]) -> list[str]:
    """Detach ``identifiers`` from a person with a timeless block; returns the ids of the
    persons its identifiers now form (the detached part may itself be several)."""

    def run(tx: Tx) -> list[str] | HTTPError:
        state = store.state(tx, project_id)
        ident = find_person(tx, state, person_id)
        if ident is None:
            return not_found(f"no person {person_id}")
        cluster = state.graph.cluster(ident)
        detach = set(identifiers)
        unknown = [str(i) for i in detach if i not in cluster]
        if unknown:
            return unprocessable("these identifiers are not the person's", details={"identifiers": unknown})
        if not detach:
            return conflict("name at least one identifier to split off")
        if detach == cluster:
            return conflict("splitting off every identifier would leave nothing behind")
        rest = cluster - detach
        block = Block(f"blk_{uuid.uuid4().hex}", frozenset(detach), frozenset(rest), _now_us())
        tx.con.execute(
            "INSERT INTO blocks VALUES (?, ?, ?, ?, make_timestamp(?))",
            [project_id, block.id, sorted(state.iid_of[i] for i in block.s),
             sorted(state.iid_of[i] for i in block.r), block.created_at_us],
        )
        persist_changes(tx, state, state.graph.add_block(block))
        persons: list[str] = []
        for member in sorted(cluster):
            pid = state.person_id(state.graph.representative(member))
            if pid not in persons:
                persons.append(pid)
        return persons

    return list(_unwrap(store.write_sync(run)))


def erase_person(store: DuckDBStore, project_id: str, person_id: str) -> dict[str, Any]:
    """GDPR erase: delete the person's events, traits, identifiers, every edge touching
    them and the quarantine rows carrying them; record keyed hashes so later events of
    these identifiers are dropped (or stripped, when another person owns them)."""

    def run(tx: Tx) -> dict[str, Any] | HTTPError:
        state = store.state(tx, project_id)
        ident = find_person(tx, state, person_id)
        if ident is None:
            return not_found(f"no person {person_id}")
        rep = state.graph.representative(ident)
        erased_person = state.person_id(rep)
        cluster = state.graph.cluster(ident)
        iids = sorted(state.iid_of[i] for i in cluster)
        anon_values = sorted(i.value for i in cluster if i.kind == Kind.ANONYMOUS)
        user_values = sorted(i.value for i in cluster if i.kind == Kind.USER)
        con = tx.con
        tx.flush()  # earlier jobs of this group may have buffered rows for these identifiers

        def count(sql: str, params: list[Any]) -> int:
            row = con.execute(sql, params).fetchone()
            return int(row[0]) if row else 0

        owned = "project_id = ? AND list_contains(?::BIGINT[], owner_iid)"
        events = count(f"SELECT count(*) FROM events WHERE {owned}", [project_id, iids])
        traits = count(f"SELECT count(*) FROM events WHERE {owned} AND traits IS NOT NULL",
                       [project_id, iids])
        tx.forget_events(owned, [project_id, iids])
        con.execute(f"DELETE FROM events WHERE {owned}", [project_id, iids])
        # Events another person owns keep their owner and lose the erased identifiers.
        con.execute(
            "UPDATE events SET anonymous_id = NULL, anon_iid = NULL "
            "WHERE project_id = ? AND list_contains(?::BIGINT[], anon_iid)", [project_id, iids])
        con.execute(
            "UPDATE events SET previous_id = NULL WHERE project_id = ? AND "
            "(list_contains(?::VARCHAR[], previous_id) OR list_contains(?::VARCHAR[], previous_id))",
            [project_id, anon_values, user_values])
        # The linked id also sits in the stored context, where the adapter read it.
        con.execute(
            "UPDATE events SET linked_anonymous_id = NULL, context = CASE WHEN json_valid(context) "
            "THEN json_remove(context, '$.linked_anonymous_id') ELSE context END "
            "WHERE project_id = ? AND list_contains(?::VARCHAR[], linked_anonymous_id)",
            [project_id, anon_values])
        edge_where = ("project_id = ? AND (list_contains(?::BIGINT[], a_iid) OR "
                      "list_contains(?::BIGINT[], b_iid))")
        edges = count(f"SELECT count(*) FROM edges WHERE {edge_where}", [project_id, iids, iids])
        con.execute(f"DELETE FROM edges WHERE {edge_where}", [project_id, iids, iids])
        con.execute(
            "DELETE FROM blocks WHERE project_id = ? AND (len(list_intersect(s_iids, ?::BIGINT[])) > 0 "
            "OR len(list_intersect(r_iids, ?::BIGINT[])) > 0)", [project_id, iids, iids])
        # The id columns hold only top-level Segment/Moesif ids; a refused body can carry
        # the identifiers elsewhere too (Usermaven's user block, an alias's previousId, a
        # linked id), so the bodies themselves are read at those places.
        q_where = ("project_id = ? AND (list_contains(?::VARCHAR[], anonymous_id) OR "
                   "list_contains(?::VARCHAR[], user_id) OR list_has_any(?::VARCHAR[], "
                   "CASE WHEN json_valid(body) THEN ["
                   + ", ".join(f"json_extract_string(body, '{p}')" for p in QUARANTINE_JSON_PATHS)
                   + "] ELSE [] END))")
        q_params = [project_id, anon_values, user_values, anon_values + user_values]
        quarantine = count(f"SELECT count(*) FROM quarantine WHERE {q_where}", q_params)
        con.execute(f"DELETE FROM quarantine WHERE {q_where}", q_params)
        con.execute("DELETE FROM identifiers WHERE project_id = ? AND list_contains(?::BIGINT[], iid)",
                    [project_id, iids])
        hashes = sorted({state.suppression_hash(i) for i in cluster} - state.suppressed)
        for h in hashes:
            con.execute("INSERT INTO suppressions VALUES (?, ?, make_timestamp(?))",
                        [project_id, h, _now_us()])
        changes = state.graph.erase(cluster)
        changes.removed_edges = []  # deleted above by iid
        persist_changes(tx, state, changes)
        for member in cluster:
            iid = state.iid_of.pop(member, None)
            if iid is not None:
                state.ident_of.pop(iid, None)
        state.suppressed.update(hashes)
        return {
            "person_id": erased_person,
            "events": events,
            "identifiers": len(iids),
            "edges": edges,
            "traits": traits,
            "quarantine": quarantine,
            "suppressed_identifiers": len(hashes),
        }

    return dict(_unwrap(store.write_sync(run)))
