"""In an expression, `.name` on a JSON object reads its field, as a reference path
does: `<f.cart>.items` is the cart's `items`, not the dict method of that name.
simpleeval looked the attribute up on the Python dict first, so a field named after a
dict method (`items`, `values`, `keys`, `get`, `copy`, `pop`…) read as a method — always
true — and `not <f.cart>.items` took the wrong branch for an empty cart, without an
error. A method is what is called (`<f.cart>.get("items")`)."""

from __future__ import annotations

from typing import Any

import pytest
from scopes import Scope

from engine.expressions import Expression, ExpressionError

ROOTS = {"f"}


CART = {"items": [], "values": [3, 4], "keys": "k-1", "get": 0, "total": 3}
SCOPE = Scope({"f": {"cart": CART, "orders": [{"items": [1]}, {"items": []}]}})


def value(text: str) -> Any:
    return Expression(text, ROOTS).evaluate(SCOPE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not <f.cart>.items", True),
        ("<f.cart>.items == []", True),
        ("len(<f.cart>.values)", 2),
        ("<f.cart>.keys", "k-1"),
        ("<f.cart>.get == 0", True),
        ("<f.cart>.total", 3),
        ("[o for o in <f.orders> if o.items]", [{"items": [1]}]),
        ("sum([len(o.items) for o in <f.orders>])", 1),
    ],
)
def test_a_field_named_like_a_dict_method_reads_the_field(text: str, expected: Any) -> None:
    assert value(text) == expected


def test_a_called_method_is_still_the_method() -> None:
    assert value('<f.cart>.get("total")') == 3
    assert value('<f.cart>.get("nope", 9)') == 9
    assert value("len(<f.cart>.keys())") == 5


def test_a_missing_field_is_an_error_naming_it_not_a_method() -> None:
    # `items` is no field here: before, the dict's method read as true.
    scope = Scope({"f": {"cart": {"total": 3}}})
    with pytest.raises(ExpressionError) as err:
        Expression("not <f.cart>.items", ROOTS).evaluate(scope)
    assert "items" in str(err.value) and "<f.cart>" in str(err.value)
    assert "__ref_" not in str(err.value)


async def test_a_condition_on_an_empty_cart_takes_the_right_branch(run_yaml) -> None:
    wf = """
    name: empty_cart
    blocks:
      start: {type: manual}
      route: {type: condition, if: "not <start.cart>.items"}
    edges: [start -> route]
    """
    result = await run_yaml(wf, {"cart": {"items": [], "total": 0}})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"branch": "true", "value": True}
