"""An expression over many values stops at simpleeval's limits, which guard against
runaway expressions: comprehensions take at most 10,000 steps, and `+`/`*` make no
text or list longer than 100,000. A condition such as `all(r.ok for r in <db.rows>)`
over 20,000 rows failed with only "Comprehension generates too many elements", no
limit and no way round it; the error now says both."""

from __future__ import annotations

import pytest
from scopes import Scope

from engine.expressions import Expression, ExpressionError

ROWS = {"db": {"rows": [{"ok": True}] * 10_001, "s": "x" * 60_000}}


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("all(r.ok for r in <db.rows>)", "10,000"),
        ("sum([1 for r in <db.rows>])", "10,000"),
        ("len(<db.s> + <db.s>) > 0", "100,000"),
    ],
)
def test_an_expression_over_its_limits_says_them_and_the_way_round(text: str, limit: str) -> None:
    with pytest.raises(ExpressionError) as err:
        Expression(text, {"db"}).evaluate(Scope(ROWS))
    said = str(err.value)
    assert limit in said and "Function block" in said, said


def test_within_the_limits_it_runs() -> None:
    rows = {"db": {"rows": [{"ok": True}] * 10_000, "s": "x"}}
    assert Expression("all(r.ok for r in <db.rows>)", {"db"}).evaluate(Scope(rows)) is True
