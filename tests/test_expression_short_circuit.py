"""`and`, `or` and `x if c else y` read only the side they take, as in Python: a
guard such as `<start.coupon?> and <start.coupon.code> == "VIP"` routes an order
without a coupon to `false`. Every reference used to be resolved before the
expression ran, so the untaken side's missing field failed the run (MissingReference,
not retried) on exactly the inputs the guard was written for. A reference the
expression does read is still an error when missing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from engine.runtime import Runtime

Run = Callable[..., Awaitable[dict[str, Any]]]

GUARDS = """
name: guards
blocks:
  start: {type: manual}
  vip: {type: condition, if: '<start.coupon?> and <start.coupon.code> == "VIP"'}
  has: {type: condition, if: '"coupon" in <start> and <start.coupon.code> == "VIP"'}
  either: {type: condition, if: 'not <start.coupon?> or <start.coupon.code> == "VIP"'}
  pick:
    type: condition
    cases:
      - {name: big, if: '<start.coupon.percent> > 50 if <start.coupon?> else False'}
    else: small
edges: [start -> vip, start -> has, start -> either, start -> pick]
output:
  vip: <vip.branch>
  has: <has.branch>
  either: <either.branch>
  pick: <pick.branch>
"""


async def test_the_untaken_side_of_a_guard_is_not_read(run_yaml: Run) -> None:
    result = await run_yaml(GUARDS, {"total": 10})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"vip": "false", "has": "false", "either": "true", "pick": "small"}


async def test_the_taken_side_is_read(run_yaml: Run) -> None:
    result = await run_yaml(GUARDS, {"coupon": {"code": "VIP", "percent": 60}})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"vip": "true", "has": "true", "either": "true", "pick": "big"}


@pytest.mark.parametrize("coupon", [{"percent": 60}, {"code": "VIP"}])
async def test_a_missing_field_the_expression_reads_still_fails(
    run_yaml: Run, coupon: dict[str, Any]
) -> None:
    result = await run_yaml(GUARDS, {"coupon": coupon})
    assert result["status"] == "failed"
    assert result["error"]["type"] == "MissingReference"
    missing = "<start.coupon.code>" if "code" not in coupon else "<start.coupon.percent>"
    assert missing in result["error"]["message"]


async def test_the_record_shows_what_could_be_read(run_yaml: Run, runtime: Runtime) -> None:
    result = await run_yaml(GUARDS, {"total": 10})
    blocks = (await runtime.run_result(result["execution_id"]))["blocks"]
    # The missing field the guard kept the run from reading is not in the record.
    assert blocks["vip"]["inputs"] == {"<start.coupon?>": None}
    assert blocks["has"]["inputs"] == {"<start>": {"total": 10}}
