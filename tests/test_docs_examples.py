"""Every YAML example the README, docs/ and the templates' READMEs show validates,
as `flowyard validate` reads it, and is accepted by docs/workflow.schema.json.

A reader copies these examples into a workflow file. Most are fragments of one: a
block or two (`route:` …), or blocks that read `<function.…>` or `<apply.…>` from
the template they were taken from. A fragment is completed the least a reader would:
a `name:`, a `blocks:` around bare blocks, and each block of the templates it reads
but does not declare (`STANDING_IN`) given as a Function block upstream of it. What the example itself writes is
validated as written, so a key, a reference, an expression or an edge that
validation refuses fails here, naming the page and line of the example.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import blocks  # noqa: F401 - registers the block types
from engine.model import WorkflowError, load_text, parse_edge, read_document

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "templates").glob("*/README.md")),
]
# A fence, also inside a `>` quote; the closing fence has the opening one's prefix.
FENCE = re.compile(r"^( *(?:> *)?)```ya?ml\n(.*?)^\1```", re.S | re.M)
ROOT_NAME = re.compile(r"<([a-z][a-z0-9_]*)[.?>]")
TRIGGERS = {"webhook", "schedule", "manual"}
#: The blocks of the templates (or of a `load` query) that examples read without
#: declaring them. Only these stand in: any other name an example reads must be its
#: own block, a special root or its loop variable, so a misspelled one still fails.
STANDING_IN = {"function", "apply", "lock_snapshot", "enrich", "load"}


def examples() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            prefix = m.group(1)
            lines = [ln[len(prefix) :] if ln.startswith(prefix) else ln.lstrip(">").lstrip() for ln in m.group(2).splitlines()]  # fmt: skip
            where = f"{page.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
            found.append((where, "\n".join(lines) + "\n"))
    return found


def completed(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """The example as a whole workflow: its own blocks and edges as written, plus a
    name and Function blocks standing in for the blocks it reads from elsewhere."""
    doc = dict(doc) if "blocks" in doc else {"blocks": doc}
    doc.setdefault("name", re.sub(r"[^a-z0-9]+", "_", where.lower()))
    own = dict(doc["blocks"])
    edges = list(doc.get("edges") or [])
    ends = {e.source for e in map(parse_edge, edges) if e} | {e.target for e in map(parse_edge, edges) if e}  # fmt: skip
    read = ROOT_NAME.findall(yaml.safe_dump(own))
    outside = [r for r in dict.fromkeys(read) if r in STANDING_IN and r not in own]
    # Blocks the example's edges name stand in where they are; the others it reads
    # are a chain in front of its first blocks.
    chain = [r for r in outside if r not in ends]
    stubs = {r: {"type": "function", "code": "return {}"} for r in [*outside, *(ends - set(own))]}
    entered = {e.target for e in map(parse_edge, edges) if e}
    in_bodies = {
        b
        for cfg in own.values()
        if isinstance(cfg, dict)
        for b in [*cfg.get("body", []), *sum((cfg.get("branches") or {}).values(), [])]
    }
    first = [
        b
        for b, cfg in own.items()
        if b not in entered and b not in in_bodies and cfg.get("type") not in TRIGGERS
    ]
    edges += [f"{a} -> {b}" for a, b in zip(chain, chain[1:], strict=False)]
    if chain:
        edges += [f"{chain[-1]} -> {b}" for b in first]
    doc["blocks"] = {**stubs, **own}
    if edges:
        doc["edges"] = edges
    return doc


EXAMPLES = examples()


def test_the_docs_have_examples() -> None:
    # The fence pattern finds them: a change of how pages fence YAML must not make
    # the test below check nothing.
    assert len(EXAMPLES) >= 15, [w for w, _ in EXAMPLES]


@pytest.mark.parametrize(("where", "text"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_an_example_validates(where: str, text: str) -> None:
    # Read as flowyard reads a file (YAML 1.2: `yes` is text), not as PyYAML does.
    doc = completed(read_document(text, where), where)
    whole = yaml.safe_dump(doc, sort_keys=False)
    try:
        load_text(whole, where)
    except WorkflowError as exc:
        pytest.fail(f"{where}: the example does not validate:\n{exc}\n\nas completed:\n{whole}")
    schema = json.loads((ROOT / "docs" / "workflow.schema.json").read_text(encoding="utf-8"))
    refused = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
    assert not refused, f"{where}: docs/workflow.schema.json refuses the example: {refused}"


# Some examples also say what they do: run as completed above, with the blocks they
# read standing in with the values the page describes, they must do it.


def example(page: str, holding: str) -> dict[str, Any]:
    [(where, text)] = [(w, t) for w, t in EXAMPLES if w.startswith(page + ":") and holding in t]
    return completed(read_document(text, where), where)


def standing_in(doc: dict[str, Any], **outputs: Any) -> str:
    for block, output in outputs.items():
        doc["blocks"][block] = {"type": "function", "code": f"return {json.dumps(output)}"}
    return yaml.safe_dump(doc, sort_keys=False)


async def test_the_function_example_runs_as_described(run_yaml: Any) -> None:
    doc = example("docs/blocks/function.md", "crypto.randomUUID()")
    body = {"order_id": "o-1", "items": [{"price": 2}, {"price": 3.5}]}
    result = await run_yaml(yaml.safe_dump(doc), {"webhook": {"body": body}})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["enrich"] == {"order_id": "o-1", "total": 5.5}
    tag = result["output"]["tag"]
    assert tag["order"] == "o-1"
    assert re.fullmatch(r"[0-9a-f-]{36}", tag["event_id"]), tag
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", tag["at"]), tag


async def test_the_loop_example_folds_a_total(run_yaml: Any) -> None:
    doc = example("docs/blocks/control.md", "accumulate:")
    rows = [{"amount": 5}, {"amount": 7}, {"amount": 30}]
    result = await run_yaml(standing_in(doc, load={"rows": rows}))
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["total"]["output"]["state"] == 42
    assert result["blocks"]["total"]["output"]["iterations"] == 3


async def test_the_condition_example_takes_its_case_else_its_else(run_yaml: Any) -> None:
    doc = example("docs/blocks/control.md", "cases:")
    for event_type, port in (("payment_received", "paid"), ("order_shipped", "other")):
        result = await run_yaml(standing_in(doc, enrich={"event_type": event_type}))
        assert result["status"] == "succeeded", result["error"]
        assert result["blocks"]["route"]["output"]["branch"] == port, event_type
