"""Validation's reference checks (beside engine.validate, kept apart so each module
stays short): a reference to a block a block cannot read — unknown, not upstream,
inside another body, or in a body the field is read before — and the workflow's
`output:` naming one."""

from __future__ import annotations

import re
from typing import Any

from engine.graph import Plan, Upstream, body_blocks, is_upstream
from engine.model import Problem
from engine.references import SPECIAL_ROOTS, references_in
from engine.registry import BlockHandler, block_ids
from engine.schema import RESERVED_IDS
from engine.suggest import did_you_mean
from engine.validate_scope import (
    checked_fields,
    fixed_field_problem,
    missing_name_problem,
    names_in_scope,
    reads_own_names,
)

#: Roots every block can read, wherever it is.
RUN_ROOTS = RESERVED_IDS
#: Roots that exist only inside a container body (`<loop.index>`, `<state>`).
BODY_ROOTS = SPECIAL_ROOTS - RUN_ROOTS


def reference_problems(plan: Plan) -> list[Problem]:
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
                    why = _not_upstream(plan, ref.root, bid)
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
                    said = f"reference {ref.text} names unknown block {ref.root!r}"
                    said += did_you_mean(ref.root, wf.blocks)
                    problems.append(Problem(said, wf.file, bid, key))
    if bare := _bare_output(wf.output, wf.blocks):
        problems.append(Problem(bare, wf.file, None, "output"))
    if wf.output is not None:
        for ref in references_in(wf.output, plan.known_roots):
            if bad_field := fixed_field_problem(ref, set(), wf, None, "output"):
                problems.append(bad_field)
            elif ref.root in BODY_ROOTS and ref.root not in wf.blocks:
                problems.append(_outside_a_body(ref.text, wf.file, None, "output"))
            elif ref.root not in SPECIAL_ROOTS and ref.root not in wf.blocks:
                said = f"reference {ref.text} names unknown block {ref.root!r}"
                said += did_you_mean(ref.root, wf.blocks)
                problems.append(Problem(said, wf.file, None, "output"))
            elif ref.root not in SPECIAL_ROOTS and wf.blocks[ref.root].parent:
                top = wf.containers_of(ref.root)[-1]  # the top-level one, however deep
                said = (
                    f"reference {ref.text} must name a top-level block: block {ref.root!r} "
                    f"is inside the body of {top!r}, whose output is <{top}.results>"
                )
                problems.append(Problem(said, wf.file, None, "output"))
    return problems


#: `f.total`, `input.order_id`: a reference written without its `<…>`.
_BARE_REFERENCE = re.compile(r"[a-z][a-z0-9_]*(\.[\w-]+)+")


def _bare_output(output: Any, blocks: Any) -> str | None:
    """`output: f.total`, the angle brackets forgotten: the run's result was the text
    "f.total", silently. Refused when the text is a block id (or `input`, `env`,
    `workflow`) followed by a dotted path; other text stays a constant."""
    if not isinstance(output, str) or not _BARE_REFERENCE.fullmatch(output.strip()):
        return None
    root = output.strip().split(".", 1)[0]
    if root not in blocks and root not in RUN_ROOTS:
        return None
    return (
        f"{output.strip()!r} is text, so every run's result would be those characters: "
        f"did you mean <{output.strip()}>?"
    )


def _not_upstream(plan: Plan, root: str, bid: str) -> str:
    """Why block ``bid`` cannot read ``root``, and the fix: a block sees only the
    outputs of blocks that ran before it, which is what the edges say. An edge is
    suggested only where it makes no cycle (``root`` is not after ``bid``)."""
    if root == bid:
        return "is this block itself: a block reads the outputs of blocks before it, not its own"
    if is_upstream(plan, bid, root):
        return "is not upstream of this block: it runs after it"
    return (
        "is not upstream of this block: add an edge that leads from it here "
        f"({root} -> {bid}, or through the blocks between them)"
    )


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
