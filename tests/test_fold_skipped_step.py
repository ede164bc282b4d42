"""A fold whose step is behind a condition in its body (`chk.true -> add`, `next:
<add.state>`): in an iteration where the condition skips `add`, the state carries
over unchanged, as a reducer that ignores an event returns its accumulator. The loop
used to fail (`<add.state> names block 'add', which was skipped …; <add.state?> reads
null when it is`), and following that advice made the state null, so the next
iteration failed on `<state.total>` or folded from nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

Run = Callable[..., Awaitable[dict[str, Any]]]

FOLD = """
name: fold_skips
blocks:
  start: {type: manual}
  fold:
    type: loop
    items: <start.xs>
    as: x
    accumulate: {initial: {total: 0}, next: "NEXT"}
    body: [chk, add]
  chk: {type: condition, if: "<x> > 0"}
  add: {type: function, code: 'return {"state": {"total": <state.total> + <x>}}'}
edges: [start -> fold, chk.true -> add]
output: <fold.state>
"""


@pytest.mark.parametrize("written", ["<add.state>", "<add.state?>", " <add.state> "])
async def test_a_skipped_step_keeps_the_state(run_yaml: Run, written: str) -> None:
    result = await run_yaml(FOLD.replace("NEXT", written), {"xs": [1, -2, 3, -4]})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"total": 4}


async def test_a_step_that_ran_without_the_field_is_still_an_error(run_yaml: Run) -> None:
    result = await run_yaml(FOLD.replace("NEXT", "<add.nope>"), {"xs": [1]})
    assert result["status"] == "failed"
    assert "<add.nope>" in result["error"]["message"]


async def test_blanks_around_next_still_make_it_the_value(run_yaml: Run) -> None:
    # Validation reads `next` stripped; the run read " <add.state> " as text, so the
    # state became the JSON text of the value and the next step had no `total`.
    result = await run_yaml(FOLD.replace("NEXT", " <add.state> "), {"xs": [1, 3]})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"total": 4}
