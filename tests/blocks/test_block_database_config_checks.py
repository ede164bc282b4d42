"""Database block config that can never run is refused at validation, naming the
file, block and field: a `:name` placeholder without a value in `params`, and a
transaction group on another connection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.model import WorkflowError


def block(query: str, **config: Any) -> str:
    extra = "".join(f"\n    {k}: {json.dumps(v)}" for k, v in config.items())
    return (
        "name: checks\nblocks:\n  start: {type: manual}\n"
        f"  d:\n    type: database\n    query: {json.dumps(query)}{extra}\n"
        "edges: [start -> d]\n"
    )


@pytest.mark.parametrize(
    ("query", "config", "says"),
    [
        ("SELECT :missing AS n", {}, "the block has no `params`"),
        ("SELECT :limit + :missing", {"params": {"limit": 1}}, "`params` has no 'missing'"),
        ("SELECT :missing::int", {"params": [1]}, "`params` is a list"),
        ("SELECT ARRAY[:missing]", {}, "the block has no `params`"),
        ("SELECT '<start.x>', :missing", {}, "the block has no `params`"),
    ],
)
def test_a_named_placeholder_without_a_value_is_refused(
    write_workflow: Any, query: str, config: dict[str, Any], says: str
) -> None:
    """It used to validate, and every run failed with `syntax error at or near ":"`."""
    with pytest.raises(WorkflowError) as info:
        write_workflow(block(query, **config), name="placeholders")
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("d", "query")
    assert problem.message.startswith(":missing is a named placeholder, but ")
    assert says in problem.message
    assert str(problem).startswith(f"{problem.file}: block 'd': field 'query': ")
    assert problem.file.endswith("placeholders.yaml")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1::int AS n, '{}'::jsonb AS j",  # casts
        "SELECT make_interval(days := 1) AS n",  # named arguments
        "SELECT ':missing' AS a, 1 AS \":x\", $a1$ :missing $a1$ AS c -- :missing",
        "SELECT /* :missing /* :x */ */ (ARRAY[1, 2, 3])[1:2] AS a, (ARRAY[1, 2])[:n] AS b "
        "FROM (SELECT 1 AS n) s",  # slices: n is a column
        "SELECT E'\\\\:x' AS e",
    ],
)
async def test_colons_that_are_not_placeholders_pass_and_run(run_yaml: Any, query: str) -> None:
    result = await run_yaml(block(query))
    assert result["status"] == "succeeded", result["error"]


async def test_a_placeholder_in_a_subscript_is_bound_from_params(run_yaml: Any) -> None:
    """A name in `params` is the placeholder even in a subscript: `[:n]` is `[$1]`."""
    result = await run_yaml(block("SELECT (ARRAY[10, 20, 30])[:n] AS a", params={"n": 2}))
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["a"] == 20


@pytest.mark.parametrize("connection", ["postgresql://elsewhere/db", "<env.OTHER_DATABASE_URL>"])
def test_a_transaction_group_on_another_connection_is_refused(
    write_workflow: Any, connection: str
) -> None:
    """It used to validate and fail at run time: "a transaction group runs on the
    runner's database"."""
    with pytest.raises(WorkflowError) as info:
        write_workflow(block("SELECT 1", transaction="order", connection=connection))
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("d", "connection")
    assert "`connection` cannot be used with `transaction`" in problem.message


def test_an_empty_transaction_group_name_is_refused(write_workflow: Any) -> None:
    """`transaction: ""` validated and meant no group at all: every statement of the
    "group" committed on its own, a failure after it rolling back nothing."""
    with pytest.raises(WorkflowError) as info:
        write_workflow(block("SELECT 1", transaction=""))
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("d", "transaction")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("COPY orders FROM STDIN", "`COPY … FROM STDIN` waits for data"),
        ("/* load */ copy orders (id, v) from stdin with (format csv);", "FROM STDIN"),
        ("COPY (SELECT 1) TO STDOUT WITH (FORMAT csv, HEADER)", "`COPY … TO STDOUT` streams"),
    ],
)
def test_a_copy_from_or_to_the_client_is_refused(
    write_workflow: Any, query: str, says: str
) -> None:
    """`COPY … FROM STDIN` validated, and its run never ended: the server waited for
    data, the block's `timeout` struck but the connection stayed inside the COPY.
    `COPY … TO STDOUT` succeeded with no rows."""
    with pytest.raises(WorkflowError) as info:
        write_workflow(block(query))
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("d", "query")
    assert says in problem.message


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 'COPY t FROM STDIN' AS a, 1 AS \"stdout\"",
        "COPY (SELECT 'stdin' AS a) TO '/dev/null'",
    ],
)
async def test_statements_that_only_mention_stdin_run(run_yaml: Any, query: str) -> None:
    result = await run_yaml(block(query))
    assert result["status"] == "succeeded", result["error"]
