"""Validation before anything runs: JSON Schema, then graph and reference checks.

Every problem names the file, the block and the field; all of them are
collected and reported together.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import networkx as nx

from engine.graph import Plan, build_plan
from engine.model import BLOCK_ID_RE, BlockModel, Problem, Workflow, WorkflowError, parse_edge
from engine.registry import block_types
from engine.schema import said_in_words, workflow_schema
from engine.suggest import closest, did_you_mean
from engine.validate_code import bare_name_problems, no_return_problems, string_literal_problems
from engine.validate_graph import container_problems, trigger_problems
from engine.validate_keys import hidden_block_problems, loop_variable_problems, schema_message
from engine.validate_refs import RUN_ROOTS, reference_problems
from engine.validate_scope import (
    mistyped_reference_problems,
    never_found_problems,
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
                    f"starting with a letter{_id_like(err.instance)}",
                    file,
                    str(err.instance),
                    "blocks",
                )
            )
        elif err.validator == "additionalProperties":
            # A key the object already has is no suggestion for its misspelling.
            free = [k for k in err.schema.get("properties", {}) if k not in err.instance]
            for key in _unexpected_keys(err):
                what = f" for {_a(btype)} block" if btype and len(inner) == 0 else ""
                said = f"unknown key {key!r}{what}{did_you_mean(key, free)}"
                problems.append(Problem(said, file, block, ".".join([*inner, str(key)])))
        elif err.validator == "required":
            key = err.message.split("'")[1] if "'" in err.message else ""
            # `tpye: manual`: with no type, no key of the block can be called unknown,
            # so the misspelling is named here (elsewhere `unknown key` names it).
            near = [k for k in err.instance if closest(k, [key]) == key and key == "type"]
            hint = f"; is {near[0]!r} a misspelling of it?" if near else ""
            problems.append(
                Problem(f"missing required key {key!r}{hint}", file, block, ".".join([*inner, key]))
            )
        elif err.validator == "enum" and inner == ["type"]:
            known = ", ".join(sorted(block_types()))
            hint = did_you_mean(err.instance, block_types())
            problems.append(
                Problem(
                    f"unknown block type {err.instance!r}{hint} (known: {known})",
                    file,
                    block,
                    "type",
                )
            )
        else:
            problems.append(Problem(schema_message(err, doc), file, block, ".".join(inner) or None))
    return _dedupe(problems)


#: Arrows other tools draw (`=>`, `>`, `→`, `-->`, `- >`), or none but a comma.
_OTHER_ARROW = re.compile(r"\s*(?:-+\s*>|=+>|>|→|,)\s*")


def _arrow_meant(text: str) -> str:
    """``"; did you mean 'a -> b'?"`` for `a => b`, `a > b`, `a→b`, `a --> b`."""
    meant = _OTHER_ARROW.sub(" -> ", text, count=1).strip()
    return f"; did you mean {meant!r}?" if parse_edge(meant) is not None else ""


def _id_like(written: object) -> str:
    """``"; did you mean 'send_email'?"`` for `send-email`, `sendEmail`, `Send Email`:
    the id a newcomer's name becomes (edges and references must then use it too)."""
    if not isinstance(written, str):
        return ""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", written).lower()
    snake = re.sub(r"[^a-z0-9_]+", "_", snake).strip("_")
    return f"; did you mean {snake!r}?" if BLOCK_ID_RE.match(snake) else ""


def _a(word: str) -> str:
    """``word`` with its article: an http block, an agent block, a function block."""
    return f"an {word}" if word[:1] in "aeiou" or word.startswith("http") else f"a {word}"


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
                        f"edge {text!r} is not of the form 'a -> b' or 'a.port -> b'"
                        + _arrow_meant(text),
                        file,
                        None,
                        f"edges.{i}",
                    )
                )
            continue
        for end in (edge.source, edge.target):
            if end not in blocks_doc:
                # Located at the edge, not "block 'ghost'": that block is what is missing.
                said = f"edge {edge} names missing block {end!r}{did_you_mean(end, blocks_doc)}"
                problems.append(Problem(said, file, None, f"edges.{i}"))
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
    problems.extend(no_return_problems(plan))
    # A cycle leaves open whether a block on it is upstream of another one on it:
    # that is said once it is gone. Every other reference problem is said now
    # (validate lists them all), a block upstream in no order among them.
    ordered = not any(p.message.startswith("edges form a cycle") for p in problems)
    problems.extend(reference_problems(plan))
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
assert set(_RUN_ROOT_MEANING) == RUN_ROOTS


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
