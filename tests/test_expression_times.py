"""Dates and times in expressions: ISO 8601 text compares as text, so two instants
written with different offsets (`…T10:00:00+02:00` is before `…T09:00:00Z`), or one
with `Z` and one with `+00:00` and a fraction, compared the wrong way round — a
payment read as late, an expiry as not yet reached — with no way in the expression to
compare them as instants. `timestamp(x)` reads ISO 8601 text (or epoch seconds) as
seconds since the epoch; `now()` is the current one."""

from __future__ import annotations

import time
from typing import Any

import pytest
from scopes import Scope

from engine.expressions import Expression, ExpressionError

ROOTS = {"a"}


def value(text: str, **fields: Any) -> Any:
    return Expression(text, ROOTS).evaluate(Scope({"a": fields}))


@pytest.mark.parametrize(
    ("paid", "due"),
    [
        ("2026-01-01T10:00:00+02:00", "2026-01-01T09:00:00Z"),  # 08:00Z is earlier
        ("2026-01-01T09:00:00.5+00:00", "2026-01-01T09:00:01Z"),  # `.` before `Z` as text
        ("2026-01-01T09:00:00Z", "2026-01-01T09:00:00.25+00:00"),  # `Z` after `.` as text
    ],
)
def test_instants_with_different_offsets_compare_as_instants(paid: str, due: str) -> None:
    assert value("timestamp(<a.paid>) < timestamp(<a.due>)", paid=paid, due=due) is True


def test_what_timestamp_reads() -> None:
    assert value('timestamp("1970-01-01T00:01:00Z")') == 60
    assert value('timestamp("1970-01-02")') == 86400  # no offset: UTC
    assert value('timestamp("1970-01-01 00:00:10")') == 10
    assert value("timestamp(<a.created>)", created=1767225600) == 1767225600  # epoch (Stripe)
    assert value('timestamp("2026-03-01T00:00:00Z") - timestamp("2026-02-28T00:00:00Z")') == 86400


@pytest.mark.parametrize("bad", ["'tomorrow'", "'2026-13-01'", "None", "True", "[1]"])
def test_what_timestamp_refuses_says_so(bad: str) -> None:
    with pytest.raises((ValueError, TypeError)) as err:
        Expression(f"timestamp({bad})").evaluate(Scope({}))
    assert "timestamp()" in str(err.value) and "ISO 8601" in str(err.value)
    assert not isinstance(err.value, ExpressionError)  # the block's error names its type


def test_now_is_the_current_time() -> None:
    before = time.time()
    assert before <= value("now()") <= time.time()
    assert value('timestamp("2026-01-01T00:00:00Z") < now()') is True


async def test_a_condition_routes_on_instants(run_yaml) -> None:
    wf = """
    name: late_payment
    blocks:
      start: {type: manual}
      late: {type: condition, if: "timestamp(<start.paid_at>) > timestamp(<start.due_at>)"}
    edges: [start -> late]
    """
    on_time = {"paid_at": "2026-01-01T10:00:00+02:00", "due_at": "2026-01-01T09:00:00Z"}
    result = await run_yaml(wf, on_time)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["branch"] == "false"
