"""Random small workflows for the reference interpreter (tests/dag_reference.py), and
their YAML: a start block, functions that add up what they read (and raise on some
values), conditions with `if` or cases, loops and parallels nested two deep, edges on
ports (`true`, a case, `error`) and port-less, `?` references, `output:`.

Each Function returns ``{"v": t % 997}`` where ``t`` is its constant plus what it
reads (a number as is, a list, mapping or text by its length, null as 0), plus
``<loop.index>`` and ``<state>`` when it reads them; a Condition tests the same sum.
"""

from __future__ import annotations

import json
import random

from dag_reference import Block, Edge, Read, Wf

# -- random workflows ---------------------------------------------------------------

FIELDS = {
    "manual": ("n",),
    "function": ("v",),
    "condition": ("branch", "value"),
    "loop": ("results", "state", "iterations"),
    "parallel": ("results", "errors"),
}
NUMERIC = {"manual": ("n",), "function": ("v",), "loop": ("iterations",)}


class Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.blocks: dict[str, Block] = {}
        self.edges: list[Edge] = []
        self.count = 0

    def workflow(self) -> Wf:
        rng = self.rng
        self.blocks["start"] = Block("start", "manual")
        self.region(None, None, ["start"], [], depth=0, size=rng.randint(2, 6), top=True)
        output = None
        top = [b for b in self.blocks.values() if b.parent is None and b.id != "start"]
        if top and rng.random() < 0.4:
            b = rng.choice(top)
            name = rng.choice(FIELDS[b.type])
            if name in ("results", "errors") and rng.random() < 0.6:  # into the list
                name += "." + rng.choice(["0", "1", "-1", "a", "b"])
                if rng.random() < 0.5:
                    name += "." + rng.choice(["v", "branch", "block", "type", "index"])
            output = Read(b.id, name, rng.random() < 0.5)
        return Wf(self.blocks, self.edges, output, rng.randint(0, 20))

    def new_id(self, kind: str) -> str:
        self.count += 1
        return f"{kind[0]}{self.count}"

    def region(
        self,
        parent: str | None,
        group: str | None,
        nodes: list[str],
        outer: list[str],
        depth: int,
        size: int,
        top: bool = False,
        iterating: bool = False,
        in_body: bool = False,
    ) -> None:
        """Add ``size`` blocks to a region holding ``nodes`` already; ``outer``: the
        blocks its blocks may read besides their own region's ancestors."""
        rng = self.rng
        ancestors: dict[str, set[str]] = {n: set() for n in nodes}
        for _ in range(size):
            roll = rng.random()
            kind = (
                "function"
                if roll < 0.55
                else "condition"
                if roll < 0.75 or depth >= 2
                else rng.choice(["loop", "parallel"])
            )
            bid = self.new_id(kind)
            sources: list[str] = []
            if nodes and rng.random() < (0.9 if top else 0.7):
                sources = rng.sample(nodes, min(len(nodes), rng.choice([1, 1, 2])))
                if rng.random() < 0.15:  # a second edge from the same block (other port)
                    sources.append(sources[0])
            ups = set(sources).union(*(ancestors[s] for s in sources)) if sources else set()
            visible = [n for n in [*nodes] if n in ups] + outer
            b = Block(bid, kind, k=rng.randint(0, 9), parent=parent, group=group)
            if rng.random() < 0.25:
                b.on_error = "continue"
            self.blocks[bid] = b  # file order: a container before its body
            for s in sources:
                edge = Edge(s, self.port(s), bid)
                if edge not in self.edges:
                    self.edges.append(edge)
            sources = list(dict.fromkeys(sources))
            if kind in ("function", "condition"):
                b.reads = self.reads(visible, numeric=kind == "condition")
                b.uses_index = iterating and rng.random() < 0.5
                b.uses_item = iterating and kind == "function" and rng.random() < 0.3
                b.uses_state = in_body and kind == "function" and rng.random() < 0.3
                if kind == "function":
                    if rng.random() < 0.35:
                        m = rng.choice([2, 3])
                        b.fail = (m, rng.randrange(m))
                        if rng.random() < 0.5:
                            b.on_error = "continue"
                    if rng.random() < 0.2:
                        b.retries = rng.randint(1, 2)
                    b.worker = rng.random() < 0.2
                    b.js = rng.random() < 0.15
                    b.reads_input = rng.random() < 0.2
                    if top and not b.js and rng.random() < 0.25:
                        b.flaky = rng.randint(1, 2)
                else:
                    b.cases = rng.random() < 0.4
                    if rng.random() < 0.2:
                        b.fail = (3, rng.randrange(3))
                        b.retries = rng.choice([0, 0, 1])
            else:
                self.container(b, visible, depth, iterating)
            nodes.append(bid)
            ancestors[bid] = ups

    def port(self, source: str) -> str | None:
        b = self.blocks[source]
        options: list[str | None] = [None, None]
        if b.type == "condition":
            options += ["c0", "c1", "other"] if b.cases else ["true", "false", "true", "false"]
        if b.on_error == "continue" and self.rng.random() < 0.4:
            return "error"
        return self.rng.choice(options)

    def reads(self, visible: list[str], numeric: bool) -> list[Read]:
        found = []
        for root in self.rng.sample(visible, min(len(visible), self.rng.randint(0, 2))):
            kind = self.blocks[root].type
            fields = NUMERIC.get(kind, ()) if numeric else FIELDS[kind]
            if fields:
                found.append(Read(root, self.rng.choice(fields), self.rng.random() < 0.6))
        return found

    def flaky_body(self, b: Block) -> None:
        """A top-level loop's or `on_error: continue` parallel's one-block body may
        be a flaky Function: its tries then do not depend on timing (no block beside
        it that a failure stops, no item stopped by another's failure)."""
        if b.parent is not None or (b.type == "parallel" and b.on_error != "continue"):
            return
        for members in b.groups.values():
            one = self.blocks[members[0]]
            if len(members) == 1 and one.type == "function" and not one.js:
                if self.rng.random() < 0.5:
                    one.flaky = self.rng.randint(1, 2)

    def container(self, b: Block, visible: list[str], depth: int, iterating: bool) -> None:
        rng = self.rng
        if rng.random() < 0.2:
            b.retries = 1
        groups: list[str]
        containers = [x for x in visible if self.blocks[x].type in ("loop", "parallel")]
        if b.type == "loop":
            loops = [x for x in visible if self.blocks[x].type in ("loop", "condition")]
            if rng.random() < 0.5:
                b.count = rng.randint(0, 3)
                b.loop_while = rng.random() < 0.3
            elif loops and rng.random() < 0.3:
                root = rng.choice(loops)
                name = "iterations" if self.blocks[root].type == "loop" else "value"
                b.count_ref = Read(root, name, rng.random() < 0.5)
                b.count = None
            else:
                b.items = [rng.randint(0, 5) for _ in range(rng.randint(0, 3))]
            groups = ["body"]
            b.collect = rng.random() < 0.9
            if containers and b.count is None and b.count_ref is None and rng.random() < 0.4:
                root = rng.choice(containers)
                b.items_ref = Read(
                    root, rng.choice(FIELDS[self.blocks[root].type]), rng.random() < 0.6
                )
                b.items = None
        elif rng.random() < 0.5:
            b.items = [rng.randint(0, 5) for _ in range(rng.randint(0, 3))]
            groups = ["body"]
            if containers and rng.random() < 0.4:
                root = rng.choice(containers)
                b.items_ref = Read(
                    root, rng.choice(FIELDS[self.blocks[root].type]), rng.random() < 0.6
                )
                b.items = None
        else:
            groups = ["a", "b"]
        if b.type == "parallel" and rng.random() < 0.3:
            b.max_concurrency = 1
        for group in groups:
            before = len(self.blocks)
            self.region(
                b.id,
                group,
                [],
                visible,
                depth + 1,
                rng.randint(1, 3),
                iterating=iterating or group == "body",
                in_body=True,
            )
            b.groups[group] = [
                x
                for x in list(self.blocks)[before:]
                if (self.blocks[x].parent, self.blocks[x].group) == (b.id, group)
            ]
        self.flaky_body(b)
        if b.type == "loop" and rng.random() < 0.4:
            funcs = [x for x in b.groups["body"] if self.blocks[x].type == "function"]
            if funcs:
                b.accumulate = Read(rng.choice(funcs), "v", rng.random() < 0.5)
            members = b.groups["body"]
            if rng.random() < 0.3:  # any field of any body block
                root = rng.choice(members)
                name = rng.choice(FIELDS[self.blocks[root].type])
                b.accumulate = Read(root, name, rng.random() < 0.5)


# -- YAML -------------------------------------------------------------------------------


def to_yaml(wf: Wf, name: str, folder: str | None = None) -> str:
    """The workflow's YAML; ``folder``: where flaky Functions count their tries (a
    workflow with flaky blocks needs one)."""
    lines = [f"name: {name}", "blocks:"]
    for b in wf.blocks.values():
        lines += [f"  {b.id}:", f"    type: {b.type}"]
        if b.on_error:
            lines.append(f"    on_error: {b.on_error}")
        if b.retries:
            lines += [f"    retries: {b.retries}", "    retry_backoff: 0"]
        terms = [str(b.k)]
        if b.type == "function" and b.js:
            lines += ["    language: javascript", "    code: |"]
            lines += [f"      {c}" for c in javascript(b, terms)]
        elif b.type == "function":
            terms += [f"c({r.text()})" for r in b.reads]
            terms += ["<loop.index>"] * b.uses_index + ["c(<state>)"] * b.uses_state
            terms += ["c(<item>)"] * b.uses_item
            terms += ["len(list(input.keys()))"] * b.reads_input
            code = [
                "def c(x):",
                "    if x is None:",
                "        return 0",
                "    if isinstance(x, (bool, int)):",
                "        return int(x)",
                "    return len(x)",
                f"t = {' + '.join(terms)}",
            ]
            if b.flaky:
                assert folder is not None, "a flaky Function counts its tries in a folder"
                code += flaky(b, folder)
            if b.gate:
                assert folder is not None, "a gate is a file in a folder"
                code += gate(folder)
            if b.fail:
                code += [f"if t % {b.fail[0]} == {b.fail[1]}:", '    raise ValueError("boom")']
            code.append('return {"v": t % 997}')
            lines += [] if b.worker or b.gate else ["    isolation: inline"]
            lines += ["    timeout: 120"] * b.gate
            lines += ["    code: |"] + [f"      {c}" for c in code]
        elif b.type == "condition":
            terms += [r.text() if not r.optional else f"({r.text()} or 0)" for r in b.reads]
            terms += ["<loop.index>"] * b.uses_index
            total = f"({' + '.join(terms)})"
            if b.fail:  # a ZeroDivisionError when it holds
                total = f"(1 // 0 if {total} % 3 == {b.fail[1]} else {total})"
            if b.cases:
                lines += [
                    "    cases:",
                    f"      - {{name: c0, if: {json.dumps(total + ' % 3 == 0')}}}",
                    f"      - {{name: c1, if: {json.dumps(total + ' % 3 == 1')}}}",
                    "    else: other",
                ]
            else:
                lines.append(f"    if: {json.dumps(total + ' % 2 == 0')}")
        elif b.type in ("loop", "parallel"):
            if b.loop_while:
                lines.append(f'    while: "<loop.index> < {b.count}"')
            elif b.count is not None:
                lines.append(f"    count: {b.count}")
            elif b.count_ref is not None:
                lines.append(f"    count: {json.dumps(b.count_ref.text())}")
            if b.items_ref is not None:
                lines.append(f"    items: {json.dumps(b.items_ref.text())}")
            if not b.collect:
                lines.append("    collect: false")
            if b.max_concurrency:
                lines.append(f"    max_concurrency: {b.max_concurrency}")
            if b.items is not None:
                lines.append(f"    items: {json.dumps(b.items)}")
            if "body" in b.groups:
                lines.append(f"    body: {json.dumps(b.groups['body'])}")
            else:
                lines.append(f"    branches: {json.dumps(b.groups)}")
            if b.accumulate is not None:
                next_ = json.dumps(b.accumulate.text())
                lines.append(f"    accumulate: {{initial: 0, next: {next_}}}")
    lines.append("edges:")
    for e in wf.edges:
        source = e.source + (f".{e.port}" if e.port else "")
        lines.append(f"  - {source} -> {e.target}")
    if not wf.edges:
        lines[-1] = "edges: []"
    if wf.output is not None:
        lines.append(f"output: {json.dumps(wf.output.text())}")
    return "\n".join(lines) + "\n"


def javascript(b: Block, terms: list[str]) -> list[str]:
    """A JavaScript Function's code: what the Python one does."""
    terms += [f"c({r.text()})" for r in b.reads]
    terms += ["<loop.index>"] * b.uses_index + ["c(<state>)"] * b.uses_state
    terms += ["c(<item>)"] * b.uses_item
    terms += ["Object.keys(input).length"] * b.reads_input
    code = [
        "function c(x) {",
        "  if (x === null || x === undefined) return 0;",
        "  if (typeof x === 'boolean') return x ? 1 : 0;",
        "  if (typeof x === 'number') return x;",
        "  if (typeof x === 'string' || Array.isArray(x)) return x.length;",
        "  return Object.keys(x).length;",
        "}",
        f"const t = {' + '.join(terms)};",
    ]
    if b.fail:
        code.append(f'if (t % {b.fail[0]} === {b.fail[1]}) throw new Error("boom");')
    return [*code, "return {v: t % 997};"]


def flaky(b: Block, folder: str) -> list[str]:
    """Python lines that fail the block's first ``b.flaky`` tries in a run."""
    index = "<loop.index>" if b.group == "body" else '""'
    mark = f"{folder}/" + "{}-" + b.id + "-{}"
    return [
        "import os",
        f"mark = {mark!r}.format(<workflow.execution_id>, {index})",
        "tried = os.path.getsize(mark) if os.path.exists(mark) else 0",
        'with open(mark, "a") as f:',
        '    f.write("x")',
        f"if tried < {b.flaky}:",
        '    raise ValueError("flaky")',
    ]


def gate(folder: str) -> list[str]:
    """Python lines that say the run got here (a file named after the run) and wait
    until the file `gate` exists."""
    return [
        "import os, time",
        f"open(os.path.join({folder!r}, 'reached-' + str(<workflow.execution_id>)), 'w').close()",
        f"while not os.path.exists(os.path.join({folder!r}, 'gate')):",
        "    time.sleep(0.02)",
    ]
