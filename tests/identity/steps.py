"""Generated identity scenarios for the oracle tests: batches of messages with operator
actions (split, manual merge, erase) in between, made concrete step by step against the
oracle, so that every action names a person that exists at that moment.

Few identifiers and few distinct times: shared devices, ties on time and message id,
late edges and repeated evidence between the same two identifiers are all common.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.identity.oracle import Erased, Msg, Oracle, Person
from threadline.model import Identifier

ANONS = [f"a{i}" for i in range(6)]
USERS = [f"u{i}" for i in range(4)]
BASE_US = 1_772_323_200_000_000  # 2026-03-01T00:00:00Z: before any operator's "now"
SECOND = 1_000_000


@dataclass(frozen=True)
class Post:
    messages: tuple[Msg, ...]


@dataclass(frozen=True)
class Split:
    holder: Identifier
    detach: frozenset[Identifier]
    person_id: str  # the person's id before the split


@dataclass(frozen=True)
class Merge:
    a: Identifier
    b: Identifier
    person_ids: tuple[str, str]


@dataclass(frozen=True)
class Erase:
    holder: Identifier
    person_id: str
    removed: Erased


Step = Post | Split | Merge | Erase


@dataclass(frozen=True)
class Expected:
    """The oracle's state after a step."""

    representative: dict[Identifier, Identifier]
    persons: dict[str, Person]
    suppressed: frozenset[Identifier]


@dataclass(frozen=True)
class Scenario:
    project_id: str
    steps: tuple[tuple[Step, Expected], ...]

    def messages(self) -> list[Msg]:
        return [m for step, _ in self.steps if isinstance(step, Post) for m in step.messages]


@st.composite
def message(draw: st.DrawFn, mid: str) -> Msg:
    kind = draw(st.sampled_from(["page", "identify", "identify", "alias", "linked", "track_user"]))
    t = BASE_US + draw(st.integers(0, 6)) * SECOND
    a = draw(st.sampled_from(ANONS))
    u = draw(st.sampled_from(USERS))
    if kind == "page":
        return Msg(mid, t, "page", anon=a)
    if kind == "identify":
        return Msg(mid, t, "identify", anon=a, user=u)
    if kind == "alias":
        # previousId: another user id (a backend rename) or the browser's anonymous id.
        prev = draw(st.sampled_from([*USERS, a]))
        anon = draw(st.sampled_from([None, a]))
        return Msg(mid, t, "alias", anon=anon if prev != a else a, user=u, previous=prev)
    if kind == "linked":
        return Msg(mid, t, "page", anon=a, linked=draw(st.sampled_from(ANONS)))
    return Msg(mid, t, "track", user=u)


ACTION = st.one_of(
    st.tuples(st.just("split"), st.integers(0, 63), st.integers(1, 255)),
    st.tuples(st.just("merge"), st.integers(0, 63), st.integers(0, 63)),
    st.tuples(st.just("erase"), st.integers(0, 63), st.just(0)),
)


def _snapshot(oracle: Oracle) -> Expected:
    return Expected(oracle.representative(), oracle.persons(), frozenset(oracle.suppressed))


@st.composite
def scenarios(draw: st.DrawFn, project_ids: Iterator[str] | None = None, max_phases: int = 5,
              actions: bool = True) -> Scenario:
    """Phases of 1..8 messages (some of them retries of earlier ones), each followed
    by an operator action when ``actions`` (skipped when it has nothing to act on).
    Person ids are the project's: ``project_ids`` gives a fresh project id per example
    (it is not drawn: it only names the UUID namespace)."""
    project_id = next(project_ids) if project_ids is not None else "default"
    oracle = Oracle(project_id)
    steps: list[tuple[Step, Expected]] = []
    sent: list[Msg] = []
    for _phase in range(draw(st.integers(1, max_phases))):
        batch: list[Msg] = []
        for _ in range(draw(st.integers(1, 8))):
            if sent and draw(st.integers(0, 9)) == 0:
                batch.append(draw(st.sampled_from(sent)))  # a client's retry: same id, same body
            else:
                batch.append(draw(message(f"m{len(sent) + len(batch):03d}")))
        sent += batch
        oracle.post(batch)
        steps.append((Post(tuple(batch)), _snapshot(oracle)))
        if not actions or not draw(st.booleans()):
            continue
        what, x, y = draw(ACTION)
        live = sorted(oracle.first_seen)
        if not live:
            continue
        holder = live[x % len(live)]
        step: Step
        if what == "split":
            cluster = sorted(oracle.clusters()[holder])
            detach = frozenset(c for bit, c in enumerate(cluster) if y >> (bit % 8) & 1)
            if not detach or len(detach) == len(cluster):
                continue
            step = Split(holder, detach, oracle.person_of(holder))
            oracle.split(holder, detach)
        elif what == "merge":
            other = live[y % len(live)]
            if oracle.clusters()[holder] == oracle.clusters()[other]:
                continue
            step = Merge(holder, other, (oracle.person_of(holder), oracle.person_of(other)))
            oracle.merge(holder, other)
        else:
            pid = oracle.person_of(holder)
            step = Erase(holder, pid, oracle.erase(holder))
        steps.append((step, _snapshot(oracle)))
    return Scenario(project_id, tuple(steps))

