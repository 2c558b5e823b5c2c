"""The writer's in-memory view of one project: identifier ids, the identity graph,
suppressions and settings. Built from the store on first use; only the writer
thread touches it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from threadline.identity.ids import JunkFilter, person_id_for
from threadline.identity.resolver import Changes, ProjectGraph
from threadline.model import Block, Edge, EdgeKind, Identifier
from threadline.projects import ProjectSettings


@dataclass
class ProjectState:
    """Everything the writer needs about one project to apply a batch."""

    project_id: str
    settings: ProjectSettings
    suppression_key: bytes
    graph: ProjectGraph = field(default_factory=ProjectGraph)
    iid_of: dict[Identifier, int] = field(default_factory=dict)
    ident_of: dict[int, Identifier] = field(default_factory=dict)
    suppressed: set[str] = field(default_factory=set)

    @property
    def junk(self) -> JunkFilter:
        return self.settings.junk_filter

    def suppression_hash(self, ident: Identifier) -> str:
        """The keyed hash stored for an erased identifier (never the identifier itself)."""
        return hmac.new(self.suppression_key, str(ident).encode(), hashlib.sha256).hexdigest()

    def is_suppressed(self, ident: Identifier) -> bool:
        return bool(self.suppressed) and self.suppression_hash(ident) in self.suppressed

    def person_id(self, ident: Identifier) -> str:
        return person_id_for(self.project_id, ident)


def load_state(con: Any, project_id: str, settings: ProjectSettings, key: str) -> tuple[ProjectState, Changes]:
    """Read a project's identifiers, edges, blocks and suppressions and resolve them."""
    state = ProjectState(project_id, settings, key.encode())
    first_seen: dict[Identifier, int] = {}
    rows = con.execute(
        "SELECT iid, kind, value, epoch_us(first_seen) FROM identifiers WHERE project_id = ?",
        [project_id],
    ).fetchall()
    for iid, kind, value, fs in rows:
        ident = Identifier(kind, value)
        state.iid_of[ident] = iid
        state.ident_of[iid] = ident
        first_seen[ident] = fs
    edges = [
        Edge(state.ident_of[a], state.ident_of[b], EdgeKind(kind), ts, mid, src)
        for a, b, kind, ts, mid, src in con.execute(
            "SELECT a_iid, b_iid, kind, epoch_us(ts), message_id, source FROM edges WHERE project_id = ?",
            [project_id],
        ).fetchall()
    ]
    blocks = [
        Block(bid, frozenset(state.ident_of[i] for i in s if i in state.ident_of),
              frozenset(state.ident_of[i] for i in r if i in state.ident_of), created)
        for bid, s, r, created in con.execute(
            "SELECT block_id, s_iids, r_iids, epoch_us(created_at) FROM blocks WHERE project_id = ?",
            [project_id],
        ).fetchall()
    ]
    state.suppressed = {
        h for (h,) in con.execute(
            "SELECT hash FROM suppressions WHERE project_id = ?", [project_id]
        ).fetchall()
    }
    changes = state.graph.load(first_seen, edges, blocks)
    return state, changes
