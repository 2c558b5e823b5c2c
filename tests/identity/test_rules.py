"""identity.md, rule by rule, on the pure resolver. Test ids read like the rules."""

from __future__ import annotations

import uuid

import pytest

from threadline.identity.ids import JunkFilter, person_id_for
from threadline.identity.resolver import ProjectGraph
from threadline.identity.rules import Outcome, resolve
from threadline.model import Block, Edge, EdgeKind

from .scenario import anon, edges, first_seen, msg, user


def run(*messages, blocks=()):  # type: ignore[no-untyped-def]
    return resolve(first_seen(*messages), edges(*messages), blocks)


def test_identified_edge_links_anonymous_id_to_user_id() -> None:
    res = run(msg("m1", 1, "page", a="A"), msg("m2", 2, "identify", a="A", u="U"))
    assert res.representative[anon("A")] == res.representative[user("U")] == anon("A")


def test_event_with_only_a_user_id_gives_no_edge() -> None:
    assert edges(msg("m1", 1, u="U")) == []


def test_shared_device_without_reset_conflicts_and_stays_with_first_user() -> None:
    res = run(msg("m1", 1, "identify", a="A", u="alice"), msg("m2", 2, "identify", a="A", u="bob"))
    assert res.representative[anon("A")] == res.representative[user("alice")]
    assert res.representative[user("bob")] == user("bob")
    outcomes = {r.edge.message_id: r.outcome for r in res.results}
    assert outcomes == {"m1": Outcome.MERGED, "m2": Outcome.CONFLICT}


def test_one_user_on_several_devices_merges() -> None:
    res = run(msg("m1", 1, "identify", a="phone", u="U"), msg("m2", 2, "identify", a="laptop", u="U"))
    assert len(set(res.representative.values())) == 1


def test_alias_merges_even_when_the_cluster_then_holds_two_user_ids() -> None:
    res = run(msg("m1", 1, "identify", a="A", u="old"),
              msg("m2", 2, "alias", u="new", prev="old"))
    assert res.representative[user("new")] == res.representative[user("old")]


def test_alias_previous_id_is_anonymous_when_it_equals_the_messages_anonymous_id() -> None:
    m = msg("m1", 1, "alias", a="A", u="U", prev="A")
    kinds = {(e.kind, e.a.kind) for e in edges(m)}
    assert (EdgeKind.ALIAS, "anonymous") in kinds
    m2 = msg("m2", 1, "alias", a="B", u="U", prev="olduser")
    assert edges(m2)[0].a == user("olduser")


def test_linked_edge_merges_two_anonymous_visitors() -> None:
    res = run(msg("m1", 1, "page", a="siteA"), msg("m2", 2, "page", a="siteB", linked="siteA"))
    assert res.representative[anon("siteB")] == anon("siteA")


def test_linked_edge_is_refused_when_it_would_join_two_user_ids() -> None:
    res = run(msg("m1", 1, "identify", a="A", u="alice"), msg("m2", 2, "identify", a="B", u="bob"),
              msg("m3", 3, "page", a="B", linked="A"))
    assert res.representative[anon("A")] != res.representative[anon("B")]
    assert res.results[-1].outcome == Outcome.CONFLICT


def test_at_most_one_user_is_literal_even_when_one_side_already_holds_two() -> None:
    # u1 and u2 share a cluster through an alias; a new anonymous id identified as u2
    # would join a cluster holding two user ids, so the identified edge is refused.
    res = run(msg("m1", 1, "identify", a="A", u="u1"), msg("m2", 2, "alias", u="u2", prev="u1"),
              msg("m3", 3, "identify", a="C", u="u2"))
    assert res.representative[anon("C")] == anon("C")
    assert res.results[-1].outcome == Outcome.CONFLICT


def test_edges_of_one_message_apply_alias_then_identified_then_linked() -> None:
    m = msg("m1", 1, "alias", a="A", u="U", prev="P", linked="L")
    assert [e.kind for e in edges(m)] == [EdgeKind.ALIAS, EdgeKind.IDENTIFIED, EdgeKind.LINKED]
    assert [e.key for e in sorted(edges(m), key=lambda e: e.key)] == [e.key for e in edges(m)]


def test_earlier_evidence_wins_by_event_time_not_arrival() -> None:
    bob_first = [msg("m2", 2, "identify", a="A", u="bob"), msg("m1", 1, "identify", a="A", u="alice")]
    res = run(*bob_first)
    assert res.representative[anon("A")] == res.representative[user("alice")]


def test_person_id_is_uuid5_of_the_earliest_identifier() -> None:
    res = run(msg("m1", 1, "page", a="A"), msg("m2", 2, "identify", a="A", u="U"))
    rep = res.representative[user("U")]
    ns = uuid.uuid5(uuid.NAMESPACE_URL, "threadline:default")
    assert person_id_for("default", rep) == str(uuid.uuid5(ns, "anonymous:A"))


def test_person_id_does_not_change_when_the_visitor_signs_up() -> None:
    g = ProjectGraph()
    m1 = msg("m1", 1, "page", a="A")
    g.apply(first_seen(m1), edges(m1))
    before = g.representative(anon("A"))
    m2 = msg("m2", 2, "identify", a="A", u="U")
    g.apply(first_seen(m2), edges(m2))
    assert g.representative(user("U")) == before == anon("A")


def test_ties_on_first_seen_go_to_kind_then_value() -> None:
    res = run(msg("m1", 5, "identify", a="zz", u="aa"))
    assert res.representative[user("aa")] == anon("zz")  # 'anonymous' < 'user'


def test_a_block_refuses_edges_of_every_kind_at_any_time() -> None:
    block = Block("b1", frozenset({anon("A")}), frozenset({user("U")}))
    for kind_msg in (msg("m1", 1, "identify", a="A", u="U"), msg("m1", 1, "alias", a="A", u="U", prev="A")):
        res = resolve(first_seen(kind_msg), edges(kind_msg), [block])
        assert res.representative[anon("A")] != res.representative[user("U")]
        assert Outcome.BLOCKED in {r.outcome for r in res.results}


def test_a_block_also_refuses_indirect_paths() -> None:
    block = Block("b1", frozenset({anon("A")}), frozenset({user("U")}))
    ms = [msg("m1", 1, "page", a="B", linked="A"), msg("m2", 2, "identify", a="B", u="U")]
    res = resolve(first_seen(*ms), edges(*ms), [block])
    assert res.representative[anon("A")] != res.representative[user("U")]


def test_manual_merge_edge_merges_like_an_alias() -> None:
    e = Edge(user("alice"), user("bob"), EdgeKind.MANUAL, 10, "op1")
    res = resolve({user("alice"): 1, user("bob"): 2}, [e])
    assert res.representative[user("bob")] == user("alice")


@pytest.mark.parametrize("junk", ["", "null", "undefined", " Undefined ", "0", "anonymous", "guest", "NULL"])
def test_junk_values_never_become_identifiers(junk: str) -> None:
    assert JunkFilter().usable(junk) is None


def test_block_list_matching_ignores_case_and_spaces_but_other_values_are_exact() -> None:
    f = JunkFilter()
    assert f.usable("User-1") == "User-1"
    assert f.usable(42) == "42"
    assert f.usable(True) is None
    assert JunkFilter(["Bad"]).usable(" bad ") is None


def test_first_seen_is_the_earliest_event_time_of_any_message_carrying_it() -> None:
    fs = first_seen(msg("m1", 9, "page", a="A"), msg("m2", 3, "page", a="B", linked="A"))
    assert fs[anon("A")] == 3


def test_late_edge_replays_the_affected_component() -> None:
    g = ProjectGraph()
    late = msg("m1", 1, "identify", a="A", u="alice")
    later = msg("m2", 2, "identify", a="A", u="bob")
    for m in (later, late):  # bob's identify arrives first
        g.apply(first_seen(m), edges(m))
    assert g.representative(user("alice")) == g.representative(anon("A"))
    assert g.representative(user("bob")) == user("bob")


def test_split_survives_later_evidence_and_manual_merge_lifts_it() -> None:
    g = ProjectGraph()
    m = msg("m1", 1, "identify", a="A", u="U")
    g.apply(first_seen(m), edges(m))
    g.add_block(Block("b1", frozenset({anon("A")}), frozenset({user("U")})))
    assert g.representative(anon("A")) != g.representative(user("U"))
    m2 = msg("m2", 5, "identify", a="A", u="U")
    g.apply(first_seen(m2), edges(m2))
    assert g.representative(anon("A")) != g.representative(user("U"))
    g.remove_blocks(["b1"])
    assert g.representative(anon("A")) == g.representative(user("U"))


def test_erase_rebuilds_the_component_of_what_remains() -> None:
    g = ProjectGraph()
    ms = [msg("m1", 1, "page", a="A", linked="B"), msg("m2", 2, "page", a="C", linked="A")]
    for m in ms:
        g.apply(first_seen(m), edges(m))
    assert len(g.component(anon("B"))) == 3
    g.erase({anon("A")})
    assert g.representative(anon("B")) == anon("B")
    assert g.representative(anon("C")) == anon("C")
    assert g.component(anon("B")) == {anon("B")}
