"""The executable plan of a workflow: regions (the top level and each container
body), their edges, entry and sink blocks, and each block's compiled config.

Built once when a workflow is loaded; runs only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from engine.credentials import credential_refs
from engine.model import BlockModel, Edge, Problem, Workflow
from engine.redaction import env_names
from engine.references import SPECIAL_ROOTS, Compiled, Reference, compile_value
from engine.registry import BlockHandler, handler_for
from engine.transactions import transaction_groups

RegionKey = tuple[str | None, str | None]  # (container id, group) ; (None, None) is the top
TOP: RegionKey = (None, None)


@dataclass(slots=True)
class Region:
    key: RegionKey
    nodes: list[str] = field(default_factory=list)
    incoming: dict[str, list[Edge]] = field(default_factory=dict)
    outgoing: dict[str, list[Edge]] = field(default_factory=dict)
    entries: list[str] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)
    _graph: nx.DiGraph | None = None
    _reach: tuple[dict[str, int], dict[str, int]] | None = None

    def is_ancestor(self, name: str, block_id: str) -> bool:
        """Whether ``name`` has a path to ``block_id`` in this region (both in it):
        ``name in nx.ancestors(graph, block_id)``, from bits made once per region.
        Each block's own ancestor set made a workflow of n blocks cost n² (a chain of
        5,000 Functions: 12.5 million set entries, ~700 MB and 38 s at its first run)."""
        if self._reach is None:
            g = self.graph()
            bit = {n: 1 << i for i, n in enumerate(g)}
            dag = nx.condensation(g)  # a cycle's blocks all reach each other
            reach: dict[int, int] = {}  # component -> the bits of the blocks reaching it
            for c in nx.topological_sort(dag):
                got = 0
                for m in dag.nodes[c]["members"]:
                    got |= bit[m]
                for p in dag.predecessors(c):
                    got |= reach[p]
                reach[c] = got
            mapping = dag.graph["mapping"]
            self._reach = bit, {n: reach[c] for n, c in mapping.items()}
        bit, reached = self._reach
        return name != block_id and bool(reached.get(block_id, 0) & bit.get(name, 0))

    def graph(self) -> nx.DiGraph:
        if self._graph is None:
            g = nx.DiGraph()
            g.add_nodes_from(self.nodes)
            for edges in self.outgoing.values():
                g.add_edges_from((e.source, e.target) for e in edges)
            self._graph = g
        return self._graph


@dataclass(slots=True)
class Plan:
    workflow: Workflow
    handlers: dict[str, BlockHandler]
    compiled: dict[str, Compiled]
    regions: dict[RegionKey, Region]
    known_roots: frozenset[str]
    output: Compiled | None = None
    #: Transaction group → the top-level blocks whose settling commits it.
    transaction_groups: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Every ``<env.NAME>`` its blocks and output name: the run's secrets from its start.
    env_names: frozenset[str] = frozenset()
    #: The references in credential fields, by what they read (engine/credentials.py).
    credential_refs: dict[str, tuple[Reference, ...]] = field(default_factory=dict)

    @property
    def top(self) -> Region:
        return self.regions[TOP]

    def region_of(self, block_id: str) -> Region:
        b = self.workflow.blocks[block_id]
        return self.regions[(b.parent, b.group)]


def loop_variable_names(workflow: Workflow) -> set[str]:
    names = set()
    for b in workflow.blocks.values():
        if b.type in ("loop", "parallel"):
            names.add(str(b.config.get("as") or "item"))
    return names


def build_plan(workflow: Workflow, problems: list[Problem]) -> Plan:
    """Assign blocks to regions, split edges by region and compile configs.

    Structural problems are appended to ``problems``; the plan is still returned
    (possibly partial) so that validation can report everything at once.
    """
    file = workflow.file
    handlers: dict[str, BlockHandler] = {}
    for bid, block in workflow.blocks.items():
        cls = handler_for(block.type)
        if cls is None:
            continue  # reported by the schema check
        try:
            handlers[bid] = cls(block)
        except Exception as exc:  # a handler's prepare step rejected the config
            # A config the JSON Schema already flagged (`accumulate: 3`) trips the handler
            # as a side effect: its "'int' object has no attribute 'get'" adds nothing.
            if not any(p.block == bid for p in problems):
                problems.append(Problem(f"invalid config: {exc}", file, bid))

    _assign_parents(workflow, handlers, problems)

    regions: dict[RegionKey, Region] = {TOP: Region(TOP)}
    for bid, block in workflow.blocks.items():
        key = (block.parent, block.group)
        region = regions.setdefault(key, Region(key))
        region.nodes.append(bid)
        region.incoming[bid] = []
        region.outgoing[bid] = []
    for cid, h in handlers.items():
        body = h.body()
        if body:
            for group in body.groups:
                regions.setdefault((cid, group), Region((cid, group)))

    for edge in workflow.edges:
        src, dst = workflow.blocks.get(edge.source), workflow.blocks.get(edge.target)
        if src is None or dst is None:
            continue  # reported by validate
        if (src.parent, src.group) != (dst.parent, dst.group):
            problems.append(
                Problem(
                    f"edge {edge} crosses a container boundary: connect to the container "
                    "block, and keep edges inside a body between its own blocks",
                    file,
                    edge.target,
                    "edges",
                )
            )
            continue
        region = regions[(src.parent, src.group)]
        region.outgoing[edge.source].append(edge)
        region.incoming[edge.target].append(edge)

    for region in regions.values():
        region.entries = [n for n in region.nodes if not region.incoming[n]]
        region.sinks = [n for n in region.nodes if not region.outgoing[n]]

    known = frozenset(workflow.blocks) | SPECIAL_ROOTS | loop_variable_names(workflow)
    compiled = {}
    for bid, h in handlers.items():
        raw = h.raw_keys
        compiled[bid] = compile_value({k: v for k, v in h.config.items() if k not in raw}, known)
    output = compile_value(workflow.output, known) if workflow.output is not None else None
    groups = transaction_groups(workflow)
    names = env_names([*(b.config for b in workflow.blocks.values()), workflow.output])
    plan = Plan(workflow, handlers, compiled, regions, known, output, groups, names)
    plan.credential_refs = credential_refs(handlers)
    return plan


def _assign_parents(
    workflow: Workflow, handlers: dict[str, BlockHandler], problems: list[Problem]
) -> None:
    for cid, h in handlers.items():
        body = h.body()
        if not body:
            continue
        for group, members in body.groups.items():
            for member in members:
                field_name = "body" if group == "body" else f"branches.{group}"
                block: BlockModel | None = workflow.blocks.get(member)
                if block is None:
                    problems.append(
                        Problem(f"names unknown block {member!r}", workflow.file, cid, field_name)
                    )
                elif member == cid:
                    problems.append(
                        Problem("a container cannot contain itself", workflow.file, cid, field_name)
                    )
                elif block.parent is not None:
                    problems.append(
                        Problem(
                            f"block {member!r} is already in the body of {block.parent!r}",
                            workflow.file,
                            cid,
                            field_name,
                        )
                    )
                else:
                    block.parent, block.group = cid, group
    # A container nested in itself through its bodies would never finish.
    for cid in handlers:
        seen, cur = set(), workflow.blocks[cid].parent
        while cur is not None:
            if cur == cid or cur in seen:
                problems.append(Problem("containers nest in a cycle", workflow.file, cid, "body"))
                workflow.blocks[cid].parent = None
                break
            seen.add(cur)
            cur = workflow.blocks[cur].parent


def is_upstream(plan: Plan, name: str, block_id: str) -> bool:
    """``name in upstream_of(plan, block_id)``, without making that set."""
    blocks = plan.workflow.blocks
    if name not in blocks or block_id not in blocks:
        return False
    where = (blocks[name].parent, blocks[name].group)
    cur: str | None = block_id
    while cur is not None:
        region = plan.region_of(cur)
        if region.key == where and region.is_ancestor(name, cur):
            return True
        cur = blocks[cur].parent
    h = plan.handlers.get(block_id)
    if h is not None and h.body():
        p = blocks[name].parent
        while p is not None:  # inside block_id's bodies, nested ones included
            if p == block_id:
                return True
            p = blocks[p].parent
    return False


class Upstream:
    """``upstream_of(plan, block_id)`` for ``in`` alone: what a Function's ``input``
    may show of the blocks that ran, asked name by name."""

    __slots__ = ("plan", "block_id")

    def __init__(self, plan: Plan, block_id: str) -> None:
        self.plan, self.block_id = plan, block_id

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and is_upstream(self.plan, name, self.block_id)


def upstream_of(plan: Plan, block_id: str) -> set[str]:
    """Blocks whose outputs ``block_id`` may reference.

    Ancestors in its own region, plus everything upstream of each enclosing
    container, plus (for a container) its own body blocks, which its raw keys such
    as ``accumulate.next`` read.
    """
    out: set[str] = set()
    cur: str | None = block_id
    while cur is not None:
        region = plan.region_of(cur)
        out |= nx.ancestors(region.graph(), cur)
        cur = plan.workflow.blocks[cur].parent
    h = plan.handlers.get(block_id)
    if h is not None and h.body():
        out |= body_blocks(plan, block_id)
    return out


def body_blocks(plan: Plan, cid: str) -> set[str]:
    """The blocks inside container ``cid``'s bodies, nested bodies included."""
    found = set()
    for b in plan.workflow.blocks.values():
        p = b.parent
        while p is not None:
            if p == cid:
                found.add(b.id)
                break
            p = plan.workflow.blocks[p].parent
    return found
