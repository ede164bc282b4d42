"""A reference used inside a class the Function's code defines — a class attribute,
a method — reads its value like anywhere else in the code. Python mangles a name
with two leading underscores inside a class, so the variable a reference became
(``__ref_0``) was looked up as ``_Order__ref_0``, and the block failed with
``NameError: name '_Order__ref_0' is not defined``, a name its author never wrote.

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.function_workflows import one_function

CODE = """
class Order:
    rate = <start.rate>
    def total(self):
        return sum(<start.amounts>) * self.rate + <start.fee>
    class Line:
        first = <start.amounts.0>
return {"total": Order().total(), "first": Order.Line.first, "fee": <start.fee>}
"""


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_references_inside_a_class_body_and_its_methods_read_their_values(
    run_yaml, isolation: str
) -> None:
    result = await run_yaml(
        one_function(f"classes_{isolation}", CODE, isolation),
        {"rate": 2, "amounts": [1, 2], "fee": 10},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"total": 16, "first": 1, "fee": 10}
