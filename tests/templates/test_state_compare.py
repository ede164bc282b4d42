"""The consistency check compares JSON, not Python values: Python's ``==`` says
``True == 1`` and ``False == 0``, which would let a snapshot holding ``true``
where the events give ``1`` pass as consistent."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from es_support import deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer


@pytest.fixture
def json_equal(lib_path: Path) -> Any:
    from order_events import json_equal

    return json_equal


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (True, 1),
        (False, 0),
        (False, None),
        (0, None),
        ({"gift": True}, {"gift": 1}),
        ([1, True], [1, 1]),
        ({"a": {"b": [0]}}, {"a": {"b": [False]}}),
        ({"a": 1}, {"a": 1, "b": None}),  # a missing key is not a null
        ([1, 2], [2, 1]),
        ("1", 1),
        (2**53 + 1, float(2**53)),
    ],
)
def test_values_that_python_calls_equal_or_that_differ_are_not_the_same_json(
    json_equal: Any, a: Any, b: Any
) -> None:
    assert not json_equal(a, b)
    assert not json_equal(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),  # JSON has one number type; see json_equal's docstring
        (10**20, 1e20),
        (Decimal("12.50"), 12.5),
        # jsonb stores the float as the number its text spells (test_event_store_big_numbers)
        (0.1, Decimal("0.1")),
        ({"x": [True, None, "s", 2]}, {"x": [True, None, "s", 2.0]}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        (None, None),
    ],
)
def test_the_same_json_is_equal(json_equal: Any, a: Any, b: Any) -> None:
    assert json_equal(a, b) and json_equal(b, a)


async def gift_order(rt: Any, httpserver: HTTPServer) -> str:
    """An order whose state holds booleans and a number side by side."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0])
    await deliver(
        rt,
        {"event_type": "item_added", "order_id": order, "sku": "G",
         "gift": True, "wrap": False, "qty": 1},
    )  # fmt: skip
    return order


@pytest.mark.parametrize(
    ("key", "stored"),
    [("gift", 1), ("wrap", 0), ("qty", True)],
)
async def test_a_boolean_and_a_number_in_the_snapshot_are_a_mismatch(
    es_runtime: Any, httpserver: HTTPServer, key: str, stored: Any
) -> None:
    order = await gift_order(es_runtime, httpserver)
    pool = es_runtime.db.pool
    await pool.execute(  # the pool's jsonb codec sends the Python value as JSON
        "UPDATE order_snapshots SET state = jsonb_set(state, $2::text[], $3::jsonb)"
        " WHERE order_id = $1",
        order,
        ["items", "1", key],
        stored,
    )
    result = await es_runtime.execute(
        es_runtime.load_workflow("replay_events"), {"order_id": order}
    )
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["checked"] is True and out["consistent"] is False, (key, stored)


async def test_an_integer_stored_as_a_decimal_number_is_still_consistent(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """jsonb keeps 1.0 as written and reads back a float: the same JSON number as 1."""
    order = await gift_order(es_runtime, httpserver)
    pool = es_runtime.db.pool
    await pool.execute(
        "UPDATE order_snapshots SET state = jsonb_set(state, '{items,1,qty}', '1.0')"
        " WHERE order_id = $1",
        order,
    )
    assert (
        await pool.fetchval(
            "SELECT state #>> '{items,1,qty}' FROM order_snapshots WHERE order_id = $1", order
        )
        == "1.0"
    )
    result = await es_runtime.execute(
        es_runtime.load_workflow("replay_events"), {"order_id": order}
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["consistent"] is True
