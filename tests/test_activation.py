"""The branch activation rule, exhaustively on small graphs."""

from __future__ import annotations

from engine.activation import (
    Activation,
    EdgeState,
    Readiness,
    choose_error_port,
    edge_taken,
    readiness,
)
from engine.model import Edge, parse_edge


def graph(*edges: str) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
    parsed = [parse_edge(e) for e in edges]
    nodes = {n for e in parsed for n in (e.source, e.target)}
    incoming = {n: [e for e in parsed if e.target == n] for n in nodes}
    outgoing = {n: [e for e in parsed if e.source == n] for n in nodes}
    return incoming, outgoing


def test_edge_taken_by_port() -> None:
    plain, true, err = parse_edge("a -> b"), parse_edge("a.true -> b"), parse_edge("a.error -> b")
    assert edge_taken(plain, "default") and edge_taken(plain, "true")
    assert not edge_taken(plain, "error")
    assert edge_taken(true, "true") and not edge_taken(true, "false")
    assert edge_taken(err, "error") and not edge_taken(err, "default")
    assert not any(edge_taken(e, None) for e in (plain, true, err))


def test_readiness() -> None:
    A, N, P = EdgeState.ACTIVE, EdgeState.INACTIVE, EdgeState.PENDING
    assert readiness([A, N]) is Readiness.RUN
    assert readiness([N, N]) is Readiness.SKIP
    assert readiness([A, P]) is Readiness.WAIT
    assert readiness([N, P]) is Readiness.WAIT


def test_condition_skips_untaken_side_and_join_still_runs() -> None:
    act = Activation(*graph("c.true -> yes", "c.false -> no", "yes -> join", "no -> join"))
    assert act.settle("c", "true") == ["yes"]
    assert act.skipped == ["no"]
    assert act.settle("yes", "default") == ["join"]


def test_skip_propagates_down_a_chain() -> None:
    act = Activation(*graph("c.true -> a", "a -> b", "b -> d", "c.false -> e"))
    assert act.settle("c", "false") == ["e"]
    assert act.skipped == ["a", "b", "d"]


def test_diamond_waits_for_both_sides() -> None:
    act = Activation(*graph("s -> l", "s -> r", "l -> j", "r -> j"))
    assert sorted(act.settle("s", "default")) == ["l", "r"]
    assert act.settle("l", "default") == []
    assert act.settle("r", "default") == ["j"]


def test_join_of_two_skipped_branches_is_skipped() -> None:
    act = Activation(*graph("c.true -> a", "c.true -> b", "a -> j", "b -> j", "c.false -> z"))
    act.settle("c", "false")
    assert act.skipped == ["a", "j", "b"] or sorted(act.skipped) == ["a", "b", "j"]
    assert "j" in act.skipped


def test_error_port() -> None:
    incoming, outgoing = graph("a -> ok", "a.error -> handle")
    assert choose_error_port(outgoing["a"]) == "error"
    act = Activation(incoming, outgoing)
    assert act.settle("a", "error") == ["handle"]
    assert act.skipped == ["ok"]
    # without an error edge, a handled error carries on along the plain edges
    incoming, outgoing = graph("a -> ok")
    assert choose_error_port(outgoing["a"]) == "default"


def test_cases_ports() -> None:
    act = Activation(*graph("r.small -> s", "r.big -> b", "r.else -> e"))
    assert act.settle("r", "big") == ["b"]
    assert sorted(act.skipped) == ["e", "s"]
