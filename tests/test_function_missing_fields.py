"""A field a Python Function reads from ``input`` and does not find is named with
where it was looked for: ``no field 'name' in input.start.rows[0] (fields: id)``.
The message named the field alone, so in ``input.webhook.body.customer.address.zip``
the author had to guess which object lacked it. ``hasattr`` and ``getattr`` with a
default still just answer.

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

ISOLATIONS = pytest.mark.parametrize("isolation", ["process", "inline"])
GIVEN = {"order": {"rows": [{"id": 1}], "meta": {"owner": "ann"}}}


async def _error(run_yaml, isolation: str, code: str) -> str:
    result = await run_yaml(
        json.dumps(
            {
                "name": f"missing_fields_{isolation}",
                "blocks": {
                    "start": {"type": "manual"},
                    "f": {"type": "function", "isolation": isolation, "code": code},
                },
                "edges": ["start -> f"],
            }
        ),
        GIVEN,
    )
    assert result["status"] == "failed"
    assert result["error"]["type"] == "AttributeError", result["error"]
    return result["error"]["message"]


@ISOLATIONS
@pytest.mark.parametrize(
    ("code", "says"),
    [
        (
            "x = 1\nreturn input.start.order.rows[0].name",
            "no field 'name' in input.start.order.rows[0] (fields: id) (line 2)",
        ),
        ("rows = input.start.order\nreturn rows.lines", "no field 'lines' in input.start.order"),
        ("del input.start.order.meta.team", "no field 'team' in input.start.order.meta"),
        # A reference's value is not the input: the field alone, as before.
        ("return <start.order>.lines", "no field 'lines' (fields: rows, meta) (line 1)"),
    ],
)
async def test_a_missing_field_names_where_it_was_looked_for(
    run_yaml, isolation: str, code: str, says: str
) -> None:
    assert (await _error(run_yaml, isolation, code)).startswith(says)


@ISOLATIONS
async def test_hasattr_and_getattr_with_a_default_still_answer(run_yaml, isolation: str) -> None:
    code = (
        "o = input.start.order\n"
        "return {'has': hasattr(o, 'lines'), 'got': getattr(o.meta, 'team', 'none'),"
        " 'x': input.start.order.meta.x}"
    )
    said = await _error(run_yaml, isolation, code)
    assert said == "no field 'x' in input.start.order.meta (fields: owner) (line 2)"


@ISOLATIONS
async def test_a_misspelt_block_name_is_not_said_to_leave_input_empty(
    run_yaml, isolation: str
) -> None:
    """Only what the code reads crosses to the worker, so the input the code got held
    none of the fields it did not name, and the message said "(fields: none)": as if
    no block upstream had given anything."""
    said = await _error(run_yaml, isolation, "return input.strat.order")
    assert said == (
        "no field 'strat' in input: no block upstream that ran for this one, loop variable or field"
        " of the run's input has that name (line 1)"
    )
    # Code that reads input as a whole got all of it: the fields are listed.
    said = await _error(run_yaml, isolation, "keys = list(input)\nreturn input.strat")
    assert (
        said == "no field 'strat' in input (fields: order, start); did you mean 'start'? (line 2)"
    )


@ISOLATIONS
async def test_the_error_reads_as_an_attribute_error_does(run_yaml, isolation: str) -> None:
    """``e.args[0]``, ``e.name`` as Python's own AttributeError has them (args was empty)."""
    result = await run_yaml(
        json.dumps(
            {
                "name": f"missing_field_args_{isolation}",
                "blocks": {
                    "start": {"type": "manual"},
                    "f": {
                        "type": "function",
                        "isolation": isolation,
                        "code": "try:\n    input.start.order.zz\nexcept AttributeError as e:\n"
                        "    return {'arg': e.args[0], 'name': e.name, 'said': str(e)}",
                    },
                },
                "edges": ["start -> f"],
            }
        ),
        GIVEN,
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {
        "arg": "no field 'zz'",
        "name": "zz",
        "said": "no field 'zz' in input.start.order (fields: rows, meta)",
    }
