"""Which trigger block a run starts from.

A workflow may have several trigger blocks (two schedules, a webhook and a manual
trigger for testing it by hand). A run starts from one of them, the one that fired:
a schedule's tick from its schedule block, a delivery from its webhook block. The
other trigger blocks are skipped, and so is what only they lead to (the activation
rule, engine/activation.py), as in n8n or Sim. The block is kept with the run
(``flowyard_runs.trigger_block``), so a resume, a re-run, a queue worker or the
engine process runs the same branch.

A run by hand (``flowyard run``, ``POST /api/workflows/<name>/runs``, the editor)
starts from the workflow's manual trigger, or from its only trigger block when it
has one; with several and no single manual one, it is refused
(:class:`NoTriggerChosen`): which branch, and which schedule's input, would be a
guess.
"""

from __future__ import annotations

from engine.model import BlockModel, Workflow


class NoTriggerChosen(ValueError):
    """A run by hand of a workflow whose trigger blocks leave it open where it starts."""

    def __init__(self, workflow: str, triggers: list[BlockModel]) -> None:
        names = ", ".join(b.id for b in triggers)
        manual = [b.id for b in triggers if b.type == "manual"]
        why = (
            f"several manual triggers ({', '.join(manual)})"
            if len(manual) > 1
            else f"several trigger blocks ({names}) and no manual trigger"
        )
        super().__init__(
            f"workflow {workflow!r} has {why}: a run by hand starts from one manual trigger"
            " block; add one (type: manual) leading to the blocks to run"
        )


def started_by_hand(workflow: Workflow) -> BlockModel | None:
    """The trigger block a run by hand starts from: the manual trigger, else the
    only trigger block; None for a workflow without one (every entry block runs).
    Raises :class:`NoTriggerChosen` when that leaves a choice."""
    triggers = workflow.triggers()
    manual = [b for b in triggers if b.type == "manual"]
    if len(manual) == 1:
        return manual[0]
    if len(triggers) <= 1:
        return triggers[0] if triggers else None
    raise NoTriggerChosen(workflow.name, triggers)
