"""Which names besides blocks a reference may use where it is written: the variables
the containers around a block give their bodies. A part of engine.validate.

A loop's body has its `as` variable (default ``item``), ``<loop.…>`` and
``<state>``; a parallel's over ``items`` its `as` variable, ``<loop.…>`` and a null
``<state>``; a parallel's ``branches`` only the null ``<state>`` (each branch runs
once, with no item and no index), so there the others mean those of a container
further out, or nothing: refused here, naming the block and field, rather than
failing the run with "names 'loop', which has no value here" after validation said
ok. ``<loop.…>`` and ``<workflow.…>`` have fixed fields: another is refused too. And
what was meant as a reference but is none (``<f.result >``): said, not sent as text.
"""

from __future__ import annotations

from typing import Any

from engine.graph import Plan, loop_variable_names
from engine.mistyped_references import mistyped_references
from engine.model import BlockModel, Problem, Workflow
from engine.references import ENV_WHOLE_ADVICE, LOOP_FIELDS, Reference, references_in
from engine.registry import BlockHandler


def body_names(container: BlockModel) -> set[str]:
    """The names a container's body reads besides blocks."""
    if container.type not in ("loop", "parallel"):
        return set()
    # <state> is null in a body with no accumulator (engine.context.Frame.lookup).
    if container.type == "parallel" and "branches" in container.config:
        return {"state"}
    return {str(container.config.get("as") or "item"), "loop", "state"}


def names_in_scope(workflow: Workflow, block_id: str, own: bool) -> set[str]:
    """The container variables a field of ``block_id`` can read: those of every
    container around it, and with ``own`` (a loop's ``while`` and
    ``accumulate.next``, read in its body's scope) the block's own."""
    names = body_names(workflow.blocks[block_id]) if own else set()
    for container in workflow.containers_of(block_id):
        names |= body_names(workflow.blocks[container])
    return names


def reads_own_names(h: BlockHandler, key: str, in_body_scope: bool) -> bool:
    """Whether a field of a block is read with its own body's names: a loop's
    ``while`` (checked with the iteration's variables) and ``accumulate.next`` (read
    after each iteration, ``in_body_scope``); not ``accumulate.initial``."""
    return h.type == "loop" and (key == "while" or in_body_scope)


WORKFLOW_FIELDS = ("execution_id", "name", "rerun_of")  # what <workflow.…> holds


def fixed_field_problem(
    ref: Reference, scope: set[str], workflow: Workflow, block_id: str | None, key: str
) -> Problem | None:
    """Why a reference names a field its root never has, or None: ``<workflow.…>``
    and ``<loop.…>`` hold fixed fields, so a typo there would fail every run with
    MissingReference (a ``?`` does not excuse it: the field is never there).

    ``<loop.…>`` only where a container gives it (``scope``, from names_in_scope):
    elsewhere ``<loop.results>`` may read a loop block named ``loop``."""
    if ref.root == "env" and not ref.path:
        # Never the whole environment: it would carry every secret of the server
        # into the block's value and the run record, unredacted.
        said = f"<env> alone is the whole environment, every secret in it; {ENV_WHOLE_ADVICE}"
        return Problem(f"{ref.text}: {said}", workflow.file, block_id, key)
    if not ref.path:
        return None
    field, *rest = ref.path
    if ref.root == "workflow" and field not in WORKFLOW_FIELDS:
        said = (
            "<workflow.execution_id>, <workflow.name> and <workflow.rerun_of>"
            " are the workflow's fields"
        )
    elif ref.root != "loop" or "loop" not in scope or (field in LOOP_FIELDS and not rest):
        return None
    elif field in LOOP_FIELDS:
        said = f"<loop.{field}> is a number, with no field {rest[0]!r}"
    else:
        said = "<loop.index> (from 0) and <loop.iteration> (from 1) are the fields of <loop>"
    return Problem(f"{ref.text}: {said}", workflow.file, block_id, key)


def missing_name_problem(
    ref: Reference, workflow: Workflow, block_id: str, key: str
) -> Problem | None:
    """Why ``<loop.…>``, ``<state>`` or a loop variable has no value for this field,
    or None when ``ref`` names none of them (an unknown block then)."""
    root, text = ref.root, ref.text
    where = _where(workflow, block_id)
    if root == "state":
        said = f"reference {text} exists only inside a loop or parallel body"
    elif root == "loop":
        said = (
            f"reference {text} is the iteration's number and exists only in the body of a "
            "loop or of a parallel over `items`"
        )
    elif root in loop_variable_names(workflow):
        said = (
            f"reference {text} names no block, and no loop (or parallel over `items`) around "
            f"this block calls its item {root!r}"
        )
    else:
        return None
    return Problem(f"{said}{where}", workflow.file, block_id, key)


def _where(workflow: Workflow, block_id: str) -> str:
    """Where the block sits, when that explains a missing name: a branch, or a body
    without the name."""
    block = workflow.blocks[block_id]
    if block.parent is None:
        return ""
    container = workflow.blocks[block.parent]
    if container.type == "parallel" and "branches" in container.config:
        return (
            f"; block {block_id!r} is in branch {block.group!r} of parallel {container.id!r}, "
            "which runs each branch once, with no item and no index"
        )
    return f"; block {block_id!r} is in the body of {container.type} {container.id!r}"


def checked_fields(h: BlockHandler) -> list[tuple[str, Any, bool]]:
    """(field, value, whether it is read in the body's scope) for each field whose
    references must name blocks the field can see. A container resolves its fields
    before its body runs (`items`, `count`, `max_concurrency`, `accumulate.initial`)
    or checks them before each iteration (`while`): only `accumulate.next` is read
    after an iteration, where the body's blocks have values."""
    checked = {k: v for k, v in h.config.items() if k not in h.raw_keys} | h.references_in_raw()
    fields = []
    for key, value in checked.items():
        if key == "accumulate" and isinstance(value, dict) and h.body():
            # Only its two keys: another (a typo'd `nxt`) is an unknown key, said by
            # the JSON Schema, and its references were blamed on `initial`.
            fields += [(key, value.get("initial"), False), (key, value.get("next"), True)]
        else:
            fields.append((key, value, False))
    return fields


def never_found_problems(plan: Plan) -> list[Problem]:
    """References to a field the block they read never has in its output, as that
    block's handler tells (``BlockHandler.reference_problem``): such a reference
    validated, then failed every run (or read null, with a `?`)."""
    readers = [
        h
        for h in plan.handlers.values()
        if type(h).reference_problem is not BlockHandler.reference_problem
    ]
    if not readers:
        return []
    wf = plan.workflow
    fields = [
        (bid, key, value) for bid, h in plan.handlers.items() for key, value, _ in checked_fields(h)
    ]
    problems = []
    for bid, key, value in [*fields, (None, "output", wf.output)]:
        for ref in references_in(value, plan.known_roots):
            for h in readers:
                if (why := h.reference_problem(ref)) is not None:
                    problems.append(Problem(why, wf.file, bid, key))
    return problems


def mistyped_reference_problems(plan: Plan) -> list[Problem]:
    """`<f.result >`, `<f..result>`: no reference, so used as text where one was meant
    (engine.mistyped_references). A raw field (an expression, SQL) is code."""
    wf, problems = plan.workflow, []
    fields = [
        (bid, key, value, key in h.raw_keys)
        for bid, h in plan.handlers.items()
        for key, value, _ in checked_fields(h)
    ]
    for bid, key, value, code in [*fields, (None, "output", wf.output, False)]:
        for typo in mistyped_references(value, plan.known_roots, code=code):
            problems.append(Problem(typo.message, wf.file, bid, key))
    return problems
