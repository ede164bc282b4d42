"""What a region's run gives as its output when nothing names it: the two rules, side
by side (engine/executor.py applies them).

- The run's output without ``output:`` (SPEC "Run result"): the output of the one
  *sink* that ran — a top-level block with no outgoing edges — or a mapping sink id →
  output when several ran. The SPEC defines a sink by its edges, so a block whose
  outgoing edges were all untaken (an error edge of a block that succeeded, the
  branch a condition did not take) is none: name it in ``output:``.
- A loop iteration's or a parallel item's or branch's output (`results`: "each
  iteration's last body output"): the output of the body blocks that *ended* it —
  they ran, and none of their outgoing edges leads to a block that ran. A body's sink
  that ran is one; so is a block whose error edge was not taken, or a condition
  whose branch was not (its `{branch, value}`). Bodies ended only at sinks gave null
  for such an iteration, losing the output it produced.

Both give the one block's output, a mapping block id → output (in file order) when
several, or null when none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.graph import Region
from engine.references import NotRun

if TYPE_CHECKING:
    from engine.context import Frame


def sink_output(region: Region, outputs: dict[str, Any]) -> Any:
    """The run's output: of the top-level sinks that ran (``outputs``: the blocks that ran)."""
    return _one_or_mapping([s for s in region.sinks if s in outputs], outputs)


def body_output(region: Region, outputs: dict[str, Any]) -> Any:
    """One iteration's (item's, branch's) last body output: of the blocks that ran
    with no block after them that ran."""
    return _one_or_mapping(_ended(region, outputs), outputs)


def body_chars(region: Region, outputs: dict[str, Any], sizes: dict[str, int]) -> int | None:
    """The characters of JSON of ``body_output``, from the sizes of its blocks' outputs
    as the run log encoded them (``sizes``; engine.recorder.RunRecorder.encoded), or
    None when one of them is not known (restored on a resume, a handled failure)."""
    ended = _ended(region, outputs)
    if not ended:
        return len("null")
    if any(n not in sizes for n in ended):
        return None
    if len(ended) == 1:
        return sizes[ended[0]]
    # {"a":…,"b":…}: each key quoted, a colon, a comma between; braces around.
    return sum(sizes[n] + len(n) + 4 for n in ended) + 1


def _ended(region: Region, outputs: dict[str, Any]) -> list[str]:
    """The blocks of ``region`` that ran with no block after them that ran."""
    return [
        n
        for n in region.nodes
        if n in outputs and not any(e.target in outputs for e in region.outgoing[n])
    ]


def _one_or_mapping(blocks: list[str], outputs: dict[str, Any]) -> Any:
    if len(blocks) == 1:
        return outputs[blocks[0]]
    return {b: outputs[b] for b in blocks} or None


class OutputScope:
    """The run's top-level scope, as the workflow's ``output:`` reads it.

    A block skipped on an untaken branch reads as null rather than failing a run
    whose blocks all succeeded: the SPEC's own example ends ``output:
    <capture.status>`` with ``capture`` behind a condition. A missing field of a
    block that ran is still an error naming the reference."""

    __slots__ = ("frame", "blocks")

    def __init__(self, frame: Frame, blocks: dict[str, dict[str, Any]]) -> None:
        self.frame = frame
        self.blocks = blocks

    def lookup(self, root: str) -> Any:
        record = self.blocks.get(root)
        if record is not None and record["status"] == "skipped":
            raise NotRun(root)
        return self.frame.lookup(root)

    def note_secret(self, value: Any) -> None:
        self.frame.note_secret(value)
