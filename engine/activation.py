"""Branch activation: the one rule that decides which blocks run and which are skipped.

Every edge is ``PENDING`` until its source settles. When a block succeeds on a
port, its edges from that port (and its port-less edges, unless the port is
``error``) become ``ACTIVE`` and every other edge ``INACTIVE``. A skipped or
failed block makes all its edges ``INACTIVE``. A block is ready once none of its
incoming edges is pending: it runs if at least one is active, else it is skipped
(and that propagates). BPMN calls this dead-path elimination.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from engine.model import Edge


class EdgeState(Enum):
    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"


class Readiness(Enum):
    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"


def edge_taken(edge: Edge, port: str | None) -> bool:
    """Whether ``edge`` is active when its source settled on ``port`` (None: skipped)."""
    if port is None:
        return False
    if edge.port is None:
        return port != "error"
    return edge.port == port


def choose_error_port(outgoing: Iterable[Edge]) -> str:
    """A block whose error was handled takes ``error`` if wired, else carries on."""
    return "error" if any(e.port == "error" for e in outgoing) else "default"


def readiness(states: Iterable[EdgeState]) -> Readiness:
    any_active = False
    for s in states:
        if s is EdgeState.PENDING:
            return Readiness.WAIT
        if s is EdgeState.ACTIVE:
            any_active = True
    return Readiness.RUN if any_active else Readiness.SKIP


class Activation:
    """Edge states of one region during one execution; hands out what runs next.

    ``settle(node, port)`` marks the node's outgoing edges and returns the targets
    that became ready to run; targets whose edges all became inactive are skipped
    at once, and their own edges propagate the skip. Skipped nodes are collected
    in ``skipped`` in the order they were decided.
    """

    __slots__ = ("_outgoing", "_incoming", "states", "skipped")

    def __init__(self, incoming: dict[str, list[Edge]], outgoing: dict[str, list[Edge]]) -> None:
        self._incoming = incoming
        self._outgoing = outgoing
        self.states: dict[Edge, EdgeState] = {}
        self.skipped: list[str] = []

    def state(self, edge: Edge) -> EdgeState:
        return self.states.get(edge, EdgeState.PENDING)

    def settle(self, node: str, port: str | None) -> list[str]:
        ready: list[str] = []
        stack = [(node, port)]
        while stack:
            current, current_port = stack.pop()
            for edge in self._outgoing[current]:
                self.states[edge] = (
                    EdgeState.ACTIVE if edge_taken(edge, current_port) else EdgeState.INACTIVE
                )
                target = edge.target
                incoming = self._incoming[target]
                if len(incoming) == 1:  # the common case (a chain): this edge decides alone
                    decision = (
                        Readiness.RUN if self.states[edge] is EdgeState.ACTIVE else Readiness.SKIP
                    )
                else:
                    decision = readiness(self.state(e) for e in incoming)
                if decision is Readiness.RUN:
                    ready.append(target)
                elif decision is Readiness.SKIP:
                    self.skipped.append(target)
                    stack.append((target, None))
        return ready
