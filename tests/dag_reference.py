"""A reference interpreter of the SPEC's execution semantics (the random workflows it
is run on: tests/dag_random.py).

Pure Python, no engine imports: tests/test_dag_differential.py runs each random
workflow through flowyard and compares the run result with what this module says the
SPEC (and docs/engine.md, docs/blocks/control.md where the SPEC is silent) gives:

- activation: a port-less edge is taken when its source succeeded on any port but
  `error`; a port edge when the source chose that port; a block runs once every
  incoming edge is settled and one is active, else it is skipped;
- `on_error: continue`: the output is `{error: …}` and the `error` port is chosen
  when an `error` edge is wired, else the default port;
- `retries`: a block that keeps failing makes `retries + 1` attempts; a missing
  reference is not retried; a container's retries run its whole body again;
- loop / parallel results: each iteration's (item's, branch's) last body output —
  of the body blocks that ran with no body block after them that ran, one's output
  or a mapping id → output in file order, null when none ran;
- a fold's `accumulate.next`: its value after each iteration, the state unchanged
  when the block it names was skipped in that iteration;
- the run's output: the `output:` reference (a skipped block reads as null), else
  the one top-level sink that ran, or a mapping sink id → output, or null.

Concurrency makes a failed run's first error one of several; such values are
`OneOf` here, and `matches` accepts any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# -- the workflow model ---------------------------------------------------------


@dataclass
class Read:
    root: str
    field: str
    optional: bool

    def text(self) -> str:
        return f"<{self.root}.{self.field}{'?' if self.optional else ''}>"


@dataclass
class Block:
    id: str
    type: str  # manual | function | condition | loop | parallel
    k: int = 0
    reads: list[Read] = field(default_factory=list)
    uses_index: bool = False
    uses_item: bool = False  # reads <item>, the innermost loop's or parallel's item
    uses_state: bool = False
    fail: tuple[int, int] | None = None  # fails when t % m == r
    flaky: int = 0  # a Python function: its first `flaky` tries fail (per loop index)
    gate: bool = False  # a Python function that first waits for a gate file (a resume test)
    retries: int = 0
    on_error: str | None = None
    cases: bool = False  # condition: cases c0 / c1, else other (else: if, true / false)
    worker: bool = False  # function: in a worker process (else isolation: inline)
    js: bool = False  # function: language: javascript
    reads_input: bool = False  # function: adds how many names its `input` has
    loop_while: bool = False  # loop: `while: <loop.index> < count`
    collect: bool = True
    max_concurrency: int | None = None
    items_ref: Read | None = None  # loop / parallel: `items: <x.f>`
    count_ref: Read | None = None  # loop: `count: <x.f>`
    count: int | None = None  # loop over count
    items: list[int] | None = None  # loop / parallel over items
    groups: dict[str, list[str]] = field(default_factory=dict)  # body or branches
    accumulate: Read | None = None
    parent: str | None = None
    group: str | None = None


@dataclass
class Edge:
    source: str
    port: str | None
    target: str


@dataclass
class Wf:
    blocks: dict[str, Block]
    edges: list[Edge]
    output: Read | None
    n: int

    def region(self, parent: str | None, group: str | None) -> list[str]:
        return [b.id for b in self.blocks.values() if (b.parent, b.group) == (parent, group)]

    def outgoing(self, node: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node]

    def incoming(self, node: str) -> list[Edge]:
        return [e for e in self.edges if e.target == node]


# -- values the reference cannot pin down ------------------------------------------


class OneOf:
    """One of several errors (a concurrent region's first failure)."""

    def __init__(self, options: list[dict[str, Any]]) -> None:
        self.options = options

    def __repr__(self) -> str:
        return f"OneOf({self.options})"


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, OneOf):
        return any(matches(o, actual) for o in expected.options)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        if set(expected) != set(actual):
            return False
        if {"type", "message", "block"} <= set(expected):
            # An error: its message is the engine's words (a missing reference), or the
            # Function's own with the line it raised on ("boom (line 9)").
            said = expected["message"]
            if said is not None and not str(actual["message"]).startswith(said):
                return False
            return all(matches(expected[k], actual[k]) for k in expected if k != "message")
        return all(matches(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return expected == actual and type(expected) is type(actual)


def _error(kind: str, block: str | None, message: str | None = None) -> dict[str, Any]:
    return {"type": kind, "message": message, "block": block}


class Failed(Exception):
    """A block or region failed unhandled; ``errors`` are the errors it may give."""

    def __init__(self, errors: list[dict[str, Any]], attempts: int = 1) -> None:
        super().__init__(errors)
        self.errors = errors
        self.attempts = attempts


class Missing(Exception):
    """A reference had no value (a skipped block, a missing field) and no `?`."""


# -- the interpreter ------------------------------------------------------------------


class Scope:
    def __init__(
        self, parent: Scope | None, index: int | None = None, state: Any = None, item: Any = None
    ) -> None:
        self.parent = parent
        self.outputs: dict[str, Any] = {}
        self.index = index if index is not None else (parent.index if parent else None)
        self.item = item if index is not None else (parent.item if parent else None)
        self.state = state

    def lookup(self, root: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if root in scope.outputs:
                return scope.outputs[root]
            scope = scope.parent
        raise Missing(root)


def contribution(value: Any) -> int:
    if isinstance(value, OneOf):  # an error: whichever it is, it has the same keys
        value = value.options[0]
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return len(value)


def resolve(scope: Scope, read: Read) -> Any:
    try:
        output = scope.lookup(read.root)
    except Missing:
        if read.optional:
            return None
        raise
    value = output
    for key in read.field.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif (
            isinstance(value, list)
            and key.lstrip("-").isdigit()
            and -len(value) <= int(key) < len(value)
        ):
            value = value[int(key)]
        elif read.optional:
            return None
        else:
            raise Missing(read.text())
    return value


class Interpreter:
    def __init__(self, wf: Wf) -> None:
        self.wf = wf
        self.top: dict[str, dict[str, Any]] = {}
        #: Every block path's (status, attempts) in a succeeded run, body blocks too;
        #: ``uncertain``: path prefixes whose records depend on timing (a body where a
        #: failure stopped the blocks beside it).
        self.paths: dict[str, tuple[str, int]] = {}
        self.uncertain: list[str] = []
        self.failed = False  # the run failed: every record may have been stopped
        self.tries: dict[tuple[str, int | None], int] = {}  # a flaky block's tries so far

    def run(self) -> dict[str, Any]:
        """``{"status", "output", "error", "blocks"}`` (error: a OneOf when failed)."""
        scope = Scope(None)
        scope.outputs["start"] = {"n": self.wf.n}
        try:
            self.region(None, None, scope, "")
        except Failed as exc:
            self.failed = True
            return {"status": "failed", "error": OneOf(exc.errors), "blocks": self.top}
        if self.wf.output is not None:
            read = self.wf.output
            if self.top[read.root]["status"] == "skipped":
                output = None  # the top-level `output:` reads a skipped block as null
            else:
                try:
                    output = resolve(scope, read)
                except Missing:
                    error = OneOf([_error("MissingReference", None)])
                    return {"status": "failed", "error": error, "blocks": self.top}
        else:
            sinks = [n for n in self.wf.region(None, None) if not self.wf.outgoing(n)]
            output = _one_or_mapping([s for s in sinks if s in scope.outputs], scope.outputs)
        return {"status": "succeeded", "output": output, "error": None, "blocks": self.top}

    def region(self, parent: str | None, group: str | None, scope: Scope, prefix: str) -> Any:
        """Run a region; return its last output (body rule). Raises Failed."""
        ports: dict[str, str | None] = {}  # settled: the port, None when skipped / failed
        failures: list[dict[str, Any]] = []
        nodes = self.wf.region(parent, group)
        for node in nodes:  # file order is a topological order here
            if node == "start":
                ports[node] = "default"
                self.top[node] = _record("succeeded", 1, scope.outputs["start"], None)
                self.paths[node] = ("succeeded", 1)
                continue
            incoming = self.wf.incoming(node)
            if incoming and not any(_taken(e, ports[e.source]) for e in incoming):
                ports[node] = None
                self.paths[prefix + node] = ("skipped", 0)
                if not prefix:
                    self.top[node] = _record("skipped", 0, None, None)
                continue
            try:
                ports[node] = self.block(self.wf.blocks[node], scope, prefix)
            except Failed as exc:
                # Carry on (what runs after is only a superset of the first failure).
                failures += exc.errors
                ports[node] = None
                self.paths[prefix + node] = ("failed", exc.attempts)
                if not prefix:
                    self.top[node] = _record("failed", exc.attempts, None, OneOf(exc.errors))
        if failures:
            raise Failed(failures)
        ended = [
            n
            for n in nodes
            if n in scope.outputs
            and not any(e.target in scope.outputs for e in self.wf.outgoing(n))
        ]
        return _one_or_mapping(ended, scope.outputs)

    def block(self, b: Block, scope: Scope, prefix: str) -> str:
        path = prefix + b.id
        try:
            output, port, attempts = self.attempt(b, scope, path)
            status, error = "succeeded", None
        except Failed as exc:
            if b.on_error != "continue":
                raise
            error = OneOf(exc.errors)
            output, attempts, status = {"error": error}, exc.attempts, "failed"
            port = "error" if any(e.port == "error" for e in self.wf.outgoing(b.id)) else "default"
        scope.outputs[b.id] = output
        self.paths[path] = (status, attempts)
        if not prefix:
            self.top[b.id] = _record(status, attempts, output, error)
        return port

    def attempt(self, b: Block, scope: Scope, path: str) -> tuple[Any, str, int]:
        if b.type in ("function", "condition"):
            try:
                values = [resolve(scope, r) for r in b.reads]
            except Missing:
                raise Failed([_error("MissingReference", path)], 1) from None
            t = b.k + sum(contribution(v) for v in values)
            if b.uses_index:
                t += scope.index
            if b.uses_item:
                t += contribution(scope.item)
            if b.uses_state:
                t += contribution(scope.state)
            if b.reads_input:
                t += self.input_size(b, scope)
            if b.type == "condition":
                if b.fail and t % b.fail[0] == b.fail[1]:
                    raise Failed([_error("ZeroDivisionError", path)], b.retries + 1)
                if not b.cases:
                    value = t % 2 == 0
                    port = "true" if value else "false"
                    return {"branch": port, "value": value}, port, 1
                for name, r in (("c0", 0), ("c1", 1)):
                    if t % 3 == r:
                        return {"branch": name, "value": True}, name, 1
                return {"branch": "other", "value": None}, "other", 1
            thrown = ("JavaScriptError", "Error: boom") if b.js else ("ValueError", "boom")
            key = (b.id, scope.index if b.parent else None)  # what its code counts by
            for attempt in range(1, b.retries + 2):
                tried = self.tries.get(key, 0)
                self.tries[key] = tried + 1
                if tried < b.flaky:
                    error = _error("ValueError", path, "flaky")
                elif b.fail and t % b.fail[0] == b.fail[1]:
                    error = _error(thrown[0], path, thrown[1])
                else:
                    return {"v": t % 997}, "default", attempt
            raise Failed([error], b.retries + 1)
        for attempt in range(1, b.retries + 2):  # each runs the whole body again
            try:
                output = (
                    self.loop(b, scope, path) if b.type == "loop" else self.parallel(b, scope, path)
                )
            except Failed as exc:
                self.uncertain.append(path + "[")
                missing = all(
                    e["type"] == "MissingReference" and e["block"] == path for e in exc.errors
                )
                if missing or attempt > b.retries:
                    raise Failed(exc.errors, attempt) from None
                continue
            if b.type == "parallel" and output["errors"] and attempt <= b.retries:
                continue  # `on_error: continue` collects the errors after the retries
            return output, "default", attempt
        raise AssertionError("unreachable")

    def input_size(self, b: Block, scope: Scope) -> int:
        """How many names a Function's `input` has: the run input's fields, the blocks
        upstream of it that ran (in its region, and upstream of each container around
        it), and the loop variables of the bodies around it (docs/engine.md)."""
        upstream: set[str] = set()
        names = {"n"}  # the run input's one field
        block: Block | None = b
        while block is not None:
            upstream |= self.ancestors(block.id)
            container = self.wf.blocks.get(block.parent) if block.parent else None
            if container is not None and "body" in container.groups:
                names |= {"item", "loop"} | ({"state"} if container.type == "loop" else set())
            block = container
        for name in upstream:
            try:
                scope.lookup(name)
                names.add(name)
            except Missing:
                pass  # skipped: not an input
        return len(names)

    def ancestors(self, node: str) -> set[str]:
        found: set[str] = set()
        todo = [node]
        while todo:
            for e in self.wf.incoming(todo.pop()):
                if e.source not in found:
                    found.add(e.source)
                    todo.append(e.source)
        return found

    def loop(self, b: Block, scope: Scope, path: str) -> dict[str, Any]:
        state = 0 if b.accumulate is not None else None
        results = []
        iterations = 0
        runs = list(range(b.count)) if b.count is not None else self.items(b, scope, path)
        for index, item in enumerate(runs):
            body = Scope(scope, index, state, item)
            output = self.region(b.id, "body", body, f"{path}[{index}].")
            if b.collect:
                results.append(output)
            iterations = index + 1
            if b.accumulate is not None:
                try:
                    body.lookup(b.accumulate.root)
                except Missing:
                    continue  # `next`'s block was skipped: the state carries over
                try:
                    state = resolve(body, b.accumulate)
                except Missing:
                    raise Failed([_error("MissingReference", path)]) from None
        return {"results": results, "state": state, "iterations": iterations}

    def items(self, b: Block, scope: Scope, path: str) -> list[Any]:
        """The items a container runs its body over (`items`, or a `count` reference's
        0, 1, …): a list as is, a mapping as its {key, value} pairs, null as none."""
        read = b.items_ref or b.count_ref
        if read is None:
            return list(b.items or [])
        try:
            value = resolve(scope, read)
        except Missing:
            raise Failed([_error("MissingReference", path)]) from None
        if b.count_ref is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise Failed([_error("ValueError", path)])
            return list(range(value))
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return [{"key": k, "value": v} for k, v in value.items()]
        raise Failed([_error("TypeError", path)])

    def parallel(self, b: Block, scope: Scope, path: str) -> dict[str, Any]:
        if "body" in b.groups:
            items = self.items(b, scope, path)
            runs = [("body", str(i), i, item) for i, item in enumerate(items)]
        else:
            runs = [(name, name, None, None) for name in b.groups]
        outcomes = []
        for group, label, index, item in runs:
            body = Scope(scope, index, scope.state if scope.parent else None, item)
            try:
                outcomes.append((self.region(b.id, group, body, f"{path}[{label}]."), None))
            except Failed as exc:
                self.uncertain.append(f"{path}[{label}].")
                outcomes.append((None, exc.errors))
        failed = [e for _, errors in outcomes if errors for e in errors]
        if failed and b.on_error != "continue":
            raise Failed(failed)
        if "body" in b.groups:
            results: Any = [out for out, _ in outcomes]
            errors: Any = [
                OneOf([{"index": i, **e} for e in errs])
                for i, (_, errs) in enumerate(outcomes)
                if errs
            ]
        else:
            names = [label for _, label, _, _ in runs]
            results = {n: out for n, (out, _) in zip(names, outcomes, strict=True)}
            errors = {n: OneOf(errs) for n, (_, errs) in zip(names, outcomes, strict=True) if errs}
        return {"results": results, "errors": errors}


def _taken(edge: Edge, port: str | None) -> bool:
    if port is None:
        return False
    if edge.port is None:
        return port != "error"
    return edge.port == port


def _record(status: str, attempts: int, output: Any, error: Any) -> dict[str, Any]:
    return {"status": status, "attempts": attempts, "output": output, "error": error}


def _one_or_mapping(blocks: list[str], outputs: dict[str, Any]) -> Any:
    if len(blocks) == 1:
        return outputs[blocks[0]]
    return {b: outputs[b] for b in blocks} or None
