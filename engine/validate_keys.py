"""Checks beside engine.validate (kept apart so each module stays short): what a
schema error says about a value YAML read as something else than the text written,
and loop variables that would hide a block or a reference root, or blocks hidden
by a body's own names."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from engine.graph import Plan, is_upstream
from engine.model import Problem, Workflow
from engine.references import SPECIAL_ROOTS
from engine.strict_load import _kind
from engine.suggest import did_you_mean


def schema_message(err: jsonschema.ValidationError, doc: dict[str, Any]) -> str:
    """The schema's message, quoting the file's text when YAML read it as a number, a
    boolean or null: `name: 0123` is "0123 is read as a number (123) …", where the
    schema alone said "123 is not of type 'string'", a value nobody wrote."""
    path = [str(p) for p in err.absolute_path]
    if err.validator == "anyOf" and path[:1] == ["layout"]:
        return f"{err.instance!r} is not a position: write [x, y], or [x, y, width, height]"
    if path == ["name"] and err.validator == "pattern":  # `name: ''` or blanks
        return "the workflow's name is empty: give it one (its title in lists and the editor)"
    written = getattr(doc, "written", {})
    text = written.get(tuple(path))
    field = path[2] if len(path) == 3 and path[0] == "blocks" else None
    if field == "timeout" and err.validator == "exclusiveMinimum":
        # 0 meant "no limit" to some blocks and the default to others (a Function's 30 s).
        return (
            f"timeout is the seconds an attempt may take, more than 0, not {text or err.instance}:"
            " leave it out for the block's default"
        )
    if field == "count" and err.validator == "type" and _block_type(doc, path[1]) == "loop":
        # Quoting it, as the general message below advises, makes text no loop counts.
        shown = text or json.dumps(err.instance)
        return f"`count` is a whole number of times (0 or more) or one reference, not {shown}"
    if field == "blocks" and err.validator == "type" and _block_type(doc, path[1]) == "slack":
        # Quoting it, as the general message below advises, makes text that is no JSON list.
        shown = text or json.dumps(err.instance)
        return (
            f"`blocks` is a list of Block Kit blocks, its JSON text or one reference, not {shown}"
        )
    if field == "timezone" and err.validator == "type":
        # Quoting it, as the general message below advises, makes 'null' or '5': no zone.
        shown = text or json.dumps(err.instance)
        return (
            f"`timezone` is a time zone name such as 'Europe/Berlin' (leave it out for UTC),"
            f" not {shown}"
        )
    if path[2:] == ["accumulate", "next"] and err.validator == "type":
        # Quoting it, as the general message below advises, makes text that is no reference.
        body = _block_field(doc, path[1], "body")
        shown = text or json.dumps(err.instance)
        return f"`accumulate.next` is {one_body_reference(body)}, not {shown}"
    if err.validator == "type" and (shape := _shape_message(path, err.instance)):
        return shape
    if words := _value_message(err, field, text):
        return words
    if err.validator != "type" or text is None:
        return err.message
    expected = (
        err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
    )
    if not text.strip():
        # `if:` with nothing after it. Quoting nothing ('') only makes it empty text,
        # which no field that needs a value takes (`bad expression ''`).
        return "is empty (YAML reads nothing after the colon as null): write a value"
    as_json = json.dumps(err.instance)
    read = _kind(err.instance) + ("" if as_json == text else f" ({as_json})")
    if "string" in expected:
        return (
            f"{text} is read as {read}, not text: write it in quotes ('{text}') to keep it as text"
        )
    return f"{text} is read as {read}, not of type {' or '.join(map(repr, expected))}"


#: `timeout: 5s`, `retry_backoff: 2 seconds`: a duration written with its unit.
_WITH_UNIT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?)?\s*", re.IGNORECASE)


def _value_message(
    err: jsonschema.ValidationError, field: str | None, text: str | None
) -> str | None:
    """A value out of a fixed set, a `version` other than 1, or seconds written with
    their unit, in words: the schema said "'ignore' is not one of ['fail', 'continue']"
    (a Python list), "1 was expected" (for `version: "1"`, which reads as 1 to a
    person) and "'5s' is not of type 'number'"."""
    value = err.instance
    shown = text or (repr(value) if isinstance(value, str) else json.dumps(value))
    if err.validator == "enum" and isinstance(err.validator_value, list):
        values = ", ".join(str(v) for v in err.validator_value)
        return f"{shown} is not one of {values}{did_you_mean(value, err.validator_value)}"
    if err.validator == "const" and list(err.absolute_path) == ["version"]:
        return (
            "`version` is the format's version, the number 1 (no quotes): write "
            f"`version: 1`, not {shown}"
        )
    if (
        field in ("timeout", "retry_backoff")
        and err.validator == "type"
        and isinstance(value, str)
        and (m := _WITH_UNIT.fullmatch(value))
    ):
        return f"`{field}` is a number of seconds, not text: write `{field}: {m[1]}`, not {shown}"
    return None


def _shape_message(path: list[str], value: Any) -> str | None:
    """What the file should look like where its outline is wrong: `blocks` written as
    a list (`- start:`), a block as text (`type:manual`, no blank after the colon),
    `edges` as one text or an edge as a mapping (`- start: f`). The schema said
    "[{'start': …}] is not of type 'object'", Python's text of the value. Null (`start:`
    with nothing below) is "is empty", said by schema_message."""
    if value is None:
        return None
    if isinstance(value, (str, int, float, bool)):
        shown = json.dumps(value)
    else:
        shown = "a list" if isinstance(value, list) else "a mapping"
    if path == ["blocks"]:
        fix = ": remove the '- ' before each block id" if isinstance(value, list) else ""
        return (
            "`blocks` is a mapping of block id to block, each id on a line of its own "
            f"(`start:` with `type: manual` indented below it), not {shown}{fix}"
        )
    if len(path) == 2 and path[0] == "blocks":
        fix = (
            f": a key needs a blank after its colon ({value.replace(':', ': ', 1)!r})"
            if isinstance(value, str) and ":" in value and ": " not in value
            else ""
        )
        return f"a block is a mapping of its keys (`type: …` and the rest), not {shown}{fix}"
    if path == ["edges"]:
        return (
            "`edges` is a list: write each edge on a line of its own, starting with '- ' "
            f"(`- start -> f`), not {shown}"
        )
    inner = path[2:] if len(path) > 2 and path[0] == "blocks" else []
    listed = inner == ["body"] or (len(inner) == 2 and inner[0] == "branches")
    if listed and isinstance(value, str):
        return f"a list of block ids, not {shown}: write [{value}]"
    if inner == ["branches"] and isinstance(value, list):
        return (
            "`branches` maps each branch's name to its list of block ids "
            "(`branches: {first: [a], second: [b]}`), not a list"
        )
    if len(path) == 2 and path[0] == "edges" and isinstance(value, (dict, list)):
        example = (
            f"'{next(iter(value))} -> {next(iter(value.values()))}'"
            if isinstance(value, dict) and len(value) == 1
            else "'a -> b'"
        )
        return f"an edge is text such as {example}, not {shown}"
    return None


def one_body_reference(body: Any) -> str:
    """What a loop's `accumulate.next` is, with an example from the loop's own body
    (its first block), not from the docs: "one reference into the body, such as
    <add.field>"."""
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], str) else None
    example = f", such as <{first}.field>" if first else " (<block.field>, a block of `body`)"
    return f"one reference into the body{example}"


def _block_field(doc: dict[str, Any], block: str, key: str) -> Any:
    blocks = doc.get("blocks")
    raw = blocks.get(block) if isinstance(blocks, dict) else None
    return raw.get(key) if isinstance(raw, dict) else None


def _block_type(doc: dict[str, Any], block: str) -> Any:
    blocks = doc.get("blocks")
    raw = blocks.get(block) if isinstance(blocks, dict) else None
    return raw.get("type") if isinstance(raw, dict) else None


#: What each reference root means, for a loop variable named like one.
_ROOT_MEANING = {
    "input": "the run's input",
    "env": "the environment variables",
    "workflow": "the run itself",
    "loop": "the loop's index",
    "state": "the loop's accumulated state",
}


def loop_variable_problems(workflow: Workflow) -> list[Problem]:
    """A loop or parallel `as:` named like a block or a reference root would hide it
    in the body (variables are looked up before block outputs and roots): `<f>` would
    give the item, not block f's output; `as: input` would make `<input.x>` the item.
    Refused as block ids named `input` are."""
    problems = []
    for bid, block in workflow.blocks.items():
        name = block.config.get("as")
        if block.type not in ("loop", "parallel") or not isinstance(name, str):
            continue
        if name in SPECIAL_ROOTS:
            hidden = f"<{name}.…> ({_ROOT_MEANING.get(name, 'a reference root')})"
        elif name in workflow.blocks:
            hidden = f"block {name!r} (<{name}> would be the item, not the block's output)"
        elif (outer := _outer_with_variable(workflow, bid, name)) is not None:
            hidden = f"the item of the loop {outer!r} around it"
        else:
            continue
        message = f"loop variable {name!r} would hide {hidden} in the body; choose another name"
        problems.append(Problem(message, workflow.file, bid, "as"))
    return problems


def _outer_with_variable(workflow: Workflow, bid: str, name: str) -> str | None:
    """The container around block ``bid`` (innermost first) whose variable is
    ``name``. Read from the containers' bodies: parents are not set yet here."""
    seen: set[str] = set()
    while (outer := _container_of(workflow, bid)) is not None and outer not in seen:
        seen.add(outer)
        if str(workflow.blocks[outer].config.get("as") or "item") == name:
            return outer
        bid = outer
    return None


def _container_of(workflow: Workflow, bid: str) -> str | None:
    for cid, block in workflow.blocks.items():
        if block.type not in ("loop", "parallel"):
            continue
        body = block.config.get("body")
        branches = block.config.get("branches")
        members = list(body) if isinstance(body, list) else []
        if isinstance(branches, dict):
            members += [m for ids in branches.values() if isinstance(ids, list) for m in ids]
        if bid in members:
            return cid
    return None


#: What the names a body defines besides its `as` variable mean there.
_BODY_NAME_MEANING = {
    "loop": "<loop.index> and <loop.iteration>, the iteration's number",
    "state": "the loop's accumulated state",
}


def hidden_block_problems(plan: Plan) -> list[Problem]:
    """Blocks a body cannot see because one of its own names comes first: inside a
    loop's body, ``item`` (the default ``as``), ``loop`` and ``state`` are looked up
    before block outputs (a parallel over items: ``item`` and ``loop``). A block of
    that name that the body could otherwise read — upstream of the container, or in
    the body itself — is hidden there: `<item.y>` read the loop's item, and the run
    failed with "no field 'y' in <item>" after validation said ok. An explicit
    ``as`` named like a block is ``loop_variable_problems``' (any block)."""
    wf = plan.workflow
    problems = []
    for cid, container in wf.blocks.items():
        if container.type == "loop":
            names = {"loop", "state"}
        elif container.type == "parallel" and "items" in container.config:
            names = {"loop"}
        else:
            continue
        if not isinstance(container.config.get("as"), str):
            names.add("item")
        # Only these names can be hidden: each block's upstream, made as a set per
        # container, made n containers cost n².
        visible = {
            n
            for n in names
            if n in wf.blocks
            and (
                wf.blocks[n].parent == cid
                or (wf.blocks[n].parent in _around(wf, cid) and is_upstream(plan, n, cid))
            )
        }
        for name in sorted(visible):
            if name == "item":
                message = (
                    "loop variable 'item' (the default of `as`) would hide block 'item' in "
                    "the body (<item> would be the item, not the block's output); set `as` "
                    "to another name, or rename the block"
                )
                problems.append(Problem(message, wf.file, cid, "as"))
            else:
                message = (
                    f"block id {name!r} is hidden in the body of {cid!r}, where <{name}> is "
                    f"{_BODY_NAME_MEANING[name]}: rename the block"
                )
                problems.append(Problem(message, wf.file, name, "blocks"))
    return problems


def _around(workflow: Workflow, cid: str) -> set[str | None]:
    """The scopes a container's body sees blocks of: those around it (None: the top)."""
    return {None, *workflow.containers_of(cid)}
