"""Validation before anything runs: JSON Schema, then graph and reference checks.

Every problem names the file, the block and the field; all of them are
collected and reported together.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import networkx as nx

from engine.graph import Plan, Upstream, body_blocks, build_plan
from engine.model import BlockModel, Problem, Workflow, WorkflowError, parse_edge
from engine.references import SPECIAL_ROOTS, references_in
from engine.registry import BlockHandler, block_ids, block_types
from engine.schema import RESERVED_IDS, said_in_words, workflow_schema
from engine.validate_code import bare_name_problems, string_literal_problems
from engine.validate_graph import container_problems, trigger_problems
from engine.validate_keys import hidden_block_problems, loop_variable_problems, schema_message
from engine.validate_scope import (
    checked_fields,
    fixed_field_problem,
    missing_name_problem,
    mistyped_reference_problems,
    names_in_scope,
    never_found_problems,
    reads_own_names,
)
from engine.validate_stored import unstorable_problems

_validator_cache: dict[tuple[str, ...], jsonschema.Draft202012Validator] = {}


def _validator() -> jsonschema.Draft202012Validator:
    key = tuple(sorted(block_types()))
    v = _validator_cache.get(key)
    if v is None:
        v = jsonschema.Draft202012Validator(workflow_schema())
        _validator_cache.clear()
        _validator_cache[key] = v
    return v


def _unexpected_keys(err: Any) -> list[Any]:
    """The keys an ``additionalProperties: false`` error is about, read from the schema
    (jsonschema's message quotes a key with a ``'`` in it, or a number, otherwise, and
    parsing it let ``time'out: 5`` pass as no problem at all)."""
    named = err.schema.get("properties", {})
    patterns = err.schema.get("patternProperties", {})
    return [
        key
        for key in err.instance
        if key not in named
        and not (isinstance(key, str) and any(re.search(p, key) for p in patterns))
    ]


def schema_problems(doc: dict[str, Any], file: str) -> list[Problem]:
    """JSON Schema errors, each turned into a Problem that names block and field."""
    problems = []
    blocks = doc.get("blocks") if isinstance(doc.get("blocks"), dict) else {}
    for err in _validator().iter_errors(doc):
        if said_in_words(err.schema):
            continue
        path = [str(p) for p in err.absolute_path]
        in_block = len(path) >= 2 and path[0] == "blocks"
        block = path[1] if in_block else None
        inner = path[2:] if in_block else path
        btype = (
            blocks.get(block, {}).get("type")
            if in_block and isinstance(blocks.get(block), dict)
            else None
        )
        if err.validator == "pattern" and path[:1] == ["edges"]:
            continue  # validate_document says it in words, not as a regex
        if err.validator == "pattern" and path == ["blocks"]:
            problems.append(
                Problem(
                    f"block id {err.instance!r} must be lower-case letters, digits and '_', "
                    "starting with a letter",
                    file,
                    str(err.instance),
                    "blocks",
                )
            )
        elif err.validator == "additionalProperties":
            for key in _unexpected_keys(err):
                what = f" for a {btype} block" if btype and len(inner) == 0 else ""
                problems.append(
                    Problem(f"unknown key {key!r}{what}", file, block, ".".join([*inner, str(key)]))
                )
        elif err.validator == "required":
            key = err.message.split("'")[1] if "'" in err.message else ""
            problems.append(
                Problem(f"missing required key {key!r}", file, block, ".".join([*inner, key]))
            )
        elif err.validator == "enum" and inner == ["type"]:
            known = ", ".join(sorted(block_types()))
            problems.append(
                Problem(
                    f"unknown block type {err.instance!r} (known: {known})", file, block, "type"
                )
            )
        else:
            problems.append(Problem(schema_message(err, doc), file, block, ".".join(inner) or None))
    return _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def validate_document(doc: dict[str, Any], file: str = "") -> Workflow:
    """Validate a parsed workflow document and return its runnable Workflow."""
    problems = schema_problems(doc, file)
    blocks_doc = doc.get("blocks") if isinstance(doc.get("blocks"), dict) else {}
    problems += _reserved_id_problems(blocks_doc, file)
    problems += unstorable_problems(doc, file)
    known_types = block_types()

    blocks: dict[str, BlockModel] = {}
    for bid, raw in blocks_doc.items():
        # A `type` that is a list or mapping is unhashable: the schema names it.
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            continue
        if raw["type"] not in known_types:
            continue
        cfg = {
            k: v
            for k, v in raw.items()
            if k
            not in (
                "type",
                "retries",
                "retry_backoff",
                "timeout",
                "on_error",
                "name",
                "description",
            )
        }
        blocks[str(bid)] = BlockModel(
            id=str(bid),
            type=raw["type"],
            config=cfg,
            retries=int(raw.get("retries", 0) or 0)
            if isinstance(raw.get("retries", 0), int)
            else 0,
            retry_backoff=float(raw.get("retry_backoff", 0.5))
            if isinstance(raw.get("retry_backoff", 0.5), (int, float))
            else 0.5,
            timeout=float(raw["timeout"]) if isinstance(raw.get("timeout"), (int, float)) else None,
            on_error=raw.get("on_error", "fail")
            if raw.get("on_error") in ("fail", "continue")
            else "fail",
        )

    edges, seen = [], set()  # `in edges` made 5,000 edges 12.5 million comparisons
    # Only a list holds edges: a string would be walked character by character.
    raw_edges = doc.get("edges") if isinstance(doc.get("edges"), list) else []
    for i, text in enumerate(raw_edges):
        edge = parse_edge(text) if isinstance(text, str) else None
        if edge is None:
            if isinstance(text, str):
                problems.append(
                    Problem(
                        f"edge {text!r} is not of the form 'a -> b' or 'a.port -> b'",
                        file,
                        None,
                        f"edges.{i}",
                    )
                )
            continue
        for end in (edge.source, edge.target):
            if end not in blocks_doc:
                # Located at the edge, not "block 'ghost'": that block is what is missing.
                problems.append(
                    Problem(f"edge {edge} names missing block {end!r}", file, None, f"edges.{i}")
                )
        if edge in seen:  # kept once, it would vanish from the file at the next save
            problems.append(Problem(f"edge {edge} is listed twice", file, None, f"edges.{i}"))
        elif edge.source in blocks_doc and edge.target in blocks_doc:
            edges.append(edge)
            seen.add(edge)

    wf = Workflow(
        name=str(doc.get("name") or ""),
        blocks=blocks,
        edges=[e for e in edges if e.source in blocks and e.target in blocks],
        description=str(doc.get("description") or ""),
        output=doc.get("output"),
        layout=doc.get("layout") or {},
        version=doc.get("version", 1),
        file=file,
        source=doc,
    )
    problems += loop_variable_problems(wf)
    plan = build_plan(wf, problems)
    problems.extend(_graph_problems(plan))
    for h in plan.handlers.values():
        problems.extend(
            p if p.file else Problem(p.message, file, p.block, p.field) for p in h.problems()
        )
    problems.extend(mistyped_reference_problems(plan))
    problems.extend(never_found_problems(plan))
    # A cycle leaves open whether a block on it is upstream of another one on it:
    # that is said once it is gone. Every other reference problem is said now
    # (validate lists them all), a block upstream in no order among them.
    ordered = not any(p.message.startswith("edges form a cycle") for p in problems)
    problems.extend(_reference_problems(plan))
    if ordered:
        problems.extend(hidden_block_problems(plan))
    problems.extend(string_literal_problems(plan))
    problems.extend(bare_name_problems(plan))
    problems = _dedupe(problems)
    if problems:
        raise WorkflowError(problems)
    wf.plan = plan
    return wf


def _graph_problems(plan: Plan) -> list[Problem]:
    file = plan.workflow.file
    problems = []
    for region in plan.regions.values():
        g = region.graph()
        if not nx.is_directed_acyclic_graph(g):
            cycle = nx.find_cycle(g)
            path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
            problems.append(Problem(f"edges form a cycle: {path}", file, cycle[0][0], "edges"))
    problems += trigger_problems(plan) + container_problems(plan)
    for edge in plan.workflow.edges:
        h = plan.handlers.get(edge.source)
        # A condition case named `error` is refused on its own; saying "add on_error"
        # to its edge as well would point the user at the wrong fix.
        if (
            edge.port == "error"
            and not (h is not None and "error" in h.ports())
            and _fails_the_run(plan, edge.source)
        ):
            problems.append(
                Problem(
                    f"edge {edge}: the error port is taken only with on_error: continue; "
                    f"add `on_error: continue` to {edge.source}",
                    file,
                    edge.source,
                    "edges",
                )
            )
        if h is None or edge.port is None or edge.port == "error":
            continue
        if edge.port not in h.ports():
            problems.append(
                Problem(
                    f"edge {edge}: a {h.type} block has no port {edge.port!r} (ports: {', '.join(h.ports())})",
                    file,
                    edge.source,
                    "edges",
                )
            )
    return problems


def _fails_the_run(plan: Plan, block_id: str) -> bool:
    """Whether a failure of the block fails the run (its `error` port is never
    taken). A misspelt `on_error` is the JSON Schema's to report, not this."""
    blocks = plan.workflow.source.get("blocks")
    raw = blocks.get(block_id) if isinstance(blocks, dict) else None
    written = raw.get("on_error", "fail") if isinstance(raw, dict) else "fail"
    return written == "fail"


#: What each run root means, for the message refusing it as a block id.
_RUN_ROOT_MEANING = {
    "input": "the run's input",
    "env": "an environment variable",
    "workflow": "the run itself",
}
#: Roots every block can read, wherever it is.
RUN_ROOTS = RESERVED_IDS
assert set(_RUN_ROOT_MEANING) == RUN_ROOTS
#: Roots that exist only inside a container body (`<loop.index>`, `<state>`).
BODY_ROOTS = SPECIAL_ROOTS - RUN_ROOTS


def _reserved_id_problems(blocks_doc: dict[str, Any], file: str) -> list[Problem]:
    """A block named like a run root would hide it (Frame.lookup reads block outputs
    first): `<env.KEY>` would read the block, and `<input.x>` no longer the input."""
    return [
        Problem(
            f"block id {bid!r} is reserved: <{bid}.…> means {_RUN_ROOT_MEANING[bid]}",
            file,
            bid,
            "blocks",
        )
        for bid in blocks_doc
        if bid in RUN_ROOTS
    ]


def _reference_problems(plan: Plan) -> list[Problem]:
    """References to what a block cannot read.

    With a cycle in the edges, upstream is what ``upstream_of`` gives with the
    cycle's edges kept: a block reached only through the cycle passes (whether it
    is upstream is the cycle's fix to decide, and said once it is gone), and one
    not reached even so is upstream in no order the fix can leave (removing an
    edge only takes upstream blocks away), so it is said now."""
    wf = plan.workflow
    problems = []
    for bid, h in plan.handlers.items():
        # Asked name by name: a set of each block's upstream made n blocks cost n².
        upstream = Upstream(plan, bid)
        inside = body_blocks(plan, bid) if h.body() else set()
        for key, value, in_body_scope in checked_fields(h):
            # <loop.…>, <state> and `as` variables: given by the containers around it.
            scope = names_in_scope(wf, bid, own=reads_own_names(h, key, in_body_scope))
            shadowing = {n for n in scope if n not in RUN_ROOTS and n not in upstream}
            for ref in references_in(value, plan.known_roots):
                # A block named `loop` it could read is refused by hidden_block_problems.
                if bad_field := fixed_field_problem(ref, shadowing, wf, bid, key):
                    problems.append(bad_field)
                if ref.root in inside and not in_body_scope:
                    if not _said_by_the_loop(h, key, ref.root):
                        problems.append(_before_the_body(ref.text, ref.root, wf.file, bid, key))
                    continue
                if ref.root in RUN_ROOTS or ref.root in scope or ref.root in upstream:
                    continue
                if ref.root in wf.blocks:
                    why = "is not upstream of this block"
                    if (
                        wf.blocks[ref.root].parent is not None
                        and wf.blocks[ref.root].parent != wf.blocks[bid].parent
                    ):
                        why = f"is inside the body of {wf.blocks[ref.root].parent!r}; use <{wf.blocks[ref.root].parent}.results>"
                    problems.append(
                        Problem(
                            f"reference {ref.text}: block {ref.root!r} {why}", wf.file, bid, key
                        )
                    )
                elif missing := missing_name_problem(ref, wf, bid, key):
                    problems.append(missing)
                else:
                    problems.append(
                        Problem(
                            f"reference {ref.text} names unknown block {ref.root!r}",
                            wf.file,
                            bid,
                            key,
                        )
                    )
    if wf.output is not None:
        for ref in references_in(wf.output, plan.known_roots):
            if bad_field := fixed_field_problem(ref, set(), wf, None, "output"):
                problems.append(bad_field)
            elif ref.root in BODY_ROOTS and ref.root not in wf.blocks:
                problems.append(_outside_a_body(ref.text, wf.file, None, "output"))
            elif ref.root not in SPECIAL_ROOTS and ref.root not in wf.blocks:
                said = f"reference {ref.text} names unknown block {ref.root!r}"
                problems.append(Problem(said, wf.file, None, "output"))
            elif ref.root not in SPECIAL_ROOTS and wf.blocks[ref.root].parent:
                top = wf.containers_of(ref.root)[-1]  # the top-level one, however deep
                said = (
                    f"reference {ref.text} must name a top-level block: block {ref.root!r} "
                    f"is inside the body of {top!r}, whose output is <{top}.results>"
                )
                problems.append(Problem(said, wf.file, None, "output"))
    return problems


def _said_by_the_loop(h: BlockHandler, key: str, root: str) -> bool:
    """A loop's `while` naming one of its own body blocks is refused by the Loop
    handler, with advice on carrying the value in `accumulate`."""
    return h.type == "loop" and key == "while" and root in block_ids(h.config.get("body"))


def _before_the_body(text: str, root: str, file: str, block: str, key: str) -> Problem:
    when = (
        "is checked before each iteration" if key == "while" else "is resolved before the body runs"
    )
    field = "accumulate.initial" if key == "accumulate" else key
    message = (
        f"reference {text}: `{field}` {when}, where block {root!r} of its body has no value "
        "yet; a container's fields read only blocks upstream of it"
    )
    return Problem(message, file, block, key)


def _outside_a_body(text: str, file: str, block: str | None, key: str) -> Problem:
    return Problem(f"reference {text} exists only inside a loop or parallel body", file, block, key)
