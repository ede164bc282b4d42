"""Whether a re-run of a delivery names what the run it repeats named.

A block reading ``<workflow.execution_id>`` (or the whole ``<workflow>``, which holds
it) gets the run's own id. A workflow that
derives an identity from its run (Order Processing's event id for a delivery that
carried none) writes ``<workflow.rerun_of> or <workflow.execution_id>``, so that a
re-run names what the first run named and the re-run of a delivery is not a new
fact. A re-run executes the workflow version stored with the run it repeats, and a
version that reads no ``<workflow.rerun_of>`` (stored before the field existed, or
before its file was edited to read it) names the re-run instead: re-run, the
delivery was appended as a second event and its payment captured again. Editing
the file cannot help runs accepted before the edit, so :func:`refuse_renaming`
refuses such a re-run unless the caller asks for the workflow as it is now.

Only a re-run of a webhook delivery is checked: a delivery is a fact from outside
that a re-run repeats, where a run by hand or a schedule's tick is re-run to run it
again, with the run's own id as ``<workflow.execution_id>`` promises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from engine import runstore
from engine.model import Workflow
from engine.references import references_in


class RerunNamesItself(Exception):
    """A re-run of a delivery whose stored workflow version would name the re-run
    where the delivery's run named itself (see the module's docstring)."""

    def __init__(self, execution_id: str, blocks: list[str]) -> None:
        self.execution_id = execution_id
        self.blocks = blocks
        listed = ", ".join(map(repr, blocks))
        named = f"block {listed} reads" if len(blocks) == 1 else f"blocks {listed} read"
        super().__init__(
            f"run {execution_id} cannot be re-run with the workflow version it ran: {named}"
            " <workflow.execution_id> and would run again, and that version reads no"
            " <workflow.rerun_of>, so the re-run would name itself where this delivery's"
            " run named that run (an id derived from it, such as Order Processing's event"
            " id: the delivery stored again as a new event). Make the workflow name the"
            " run it repeats (<workflow.rerun_of> or <workflow.execution_id>), then re-run"
            ' with {"current_version": true}, which runs the workflow as it is now,'
            " whatever it reads"
        )


async def refuse_renaming(
    pool: asyncpg.Pool,
    row: Mapping[str, Any],
    workflow: Workflow,
    reused: Mapping[str, Any] | None,
) -> None:
    """Raise :class:`RerunNamesItself` when re-running the run ``row`` with its stored
    ``workflow`` version would name the re-run where a delivery's run named itself.
    ``reused``: the records a re-run from the failed block carries over (None: every
    block runs again)."""
    blocks = renaming_blocks(workflow, reused)
    if not blocks:
        return
    # The run a re-run of a re-run repeats says whether it all began with a delivery.
    first = None
    if row["rerun_of"] is not None:
        first = await runstore.fetch_run_row(pool, str(row["rerun_of"]))
    if _repeats_a_delivery(row, first):
        raise RerunNamesItself(str(row["execution_id"]), blocks)


def renaming_blocks(workflow: Workflow, reused: Mapping[str, Any] | None) -> list[str]:
    """The blocks a re-run would run again that read ``<workflow.execution_id>``, in
    a workflow that reads ``<workflow.rerun_of>`` nowhere (none when it does: its
    author made the re-run name what they meant). A block in the body of a
    container runs again with its outermost container; a block off the path the
    run took counts too, since the re-run may take it."""
    reads = {bid: _workflow_fields(block.config) for bid, block in workflow.blocks.items()}
    if any("rerun_of" in fields for fields in reads.values()):
        return []
    carried = set(reused or ())
    return [
        bid
        for bid, fields in reads.items()
        if "execution_id" in fields and _outermost(workflow, bid) not in carried
    ]


def _repeats_a_delivery(row: Mapping[str, Any], first: Mapping[str, Any] | None) -> bool:
    """Whether the run's first run was started by a webhook delivery. A re-run whose
    first run is unknown (retention deleted it, or it was re-run before runs kept
    ``rerun_of``) counts as one: nothing says it was not."""
    origin = first if first is not None else row
    return origin["trigger"] in ("webhook", "rerun")


def _workflow_fields(config: Any) -> set[str]:
    """The ``<workflow.…>`` fields a block's settings read (code and SQL included).

    A reference to the whole ``<workflow>`` holds ``execution_id`` too, so it counts as
    reading it. It does not count as reading ``rerun_of``: that it holds the field too
    says nothing of whether its author meant the re-run to name the run it repeats."""
    fields: set[str] = set()
    for ref in references_in(config):
        if ref.root == "workflow":
            fields.add(ref.path[0] if ref.path else "execution_id")
    return fields


def _outermost(workflow: Workflow, block_id: str) -> str:
    containers = workflow.containers_of(block_id)
    return containers[-1] if containers else block_id


class StoredVersionRefused(Exception):
    """The run's stored workflow version does not load in this release: an earlier
    release took what this one refuses at validation (docs/deploy.md, "Upgrading"),
    or the version is not stored. Re-running it with the workflow as it is now is
    the way out, as for :class:`RerunNamesItself`."""

    def __init__(self, execution_id: str, problem: str) -> None:
        self.execution_id = execution_id
        super().__init__(
            f"run {execution_id} cannot be re-run with the workflow version it ran, which"
            f" does not load in this flowyard release: {problem}. Fix the workflow file,"
            ' then re-run with {"current_version": true}'
        )
