"""A Database block may not begin, end or mark a transaction itself.

In a transaction group the engine owns the transaction. A member's `COMMIT` made
the members before it permanent (the run then failed and recorded them
`rolled_back: true`, yet the rows stayed), and a `ROLLBACK` lost them while the run
log said `transaction_committed`. Outside a group each block runs in a transaction
of its own, so a BEGIN block and a COMMIT block around INSERT blocks made nothing
atomic. Both validated ok; both are refused now, naming file, block and field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.model import WorkflowError
from engine.runtime import Runtime


def members(*queries: str, group: str | None = "g") -> str:
    """A workflow of Database blocks b0, b1… in a chain, in transaction ``group``."""
    tx = f", transaction: {group}" if group else ""
    names = [f"b{i}" for i in range(len(queries))]
    lines = "".join(
        f"  {n}: {{type: database{tx}, query: {json.dumps(q)}}}\n"
        for n, q in zip(names, queries, strict=True)
    )
    chain = ", ".join(f"{a} -> {b}" for a, b in zip(["start", *names], names, strict=False))
    return f"name: tx_control\nblocks:\n  start: {{type: manual}}\n{lines}edges: [{chain}]\n"


def refused(write_workflow: Any, text: str) -> str:
    with pytest.raises(WorkflowError) as info:
        write_workflow(text, name="tx_control")
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("b1", "query"), problem
    assert str(problem).startswith(f"{problem.file}: block 'b1': field 'query': ")
    assert problem.file.endswith("tx_control.yaml")
    return problem.message


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("COMMIT", "`COMMIT` would end the transaction of group 'g' early"),
        ("commit work and chain;", "`COMMIT` would end"),
        ("/* done */ END", "`END` would end"),
        ("ROLLBACK", "`ROLLBACK` would end"),
        ("-- give up\nabort transaction", "`ABORT` would end"),
        ("PREPARE TRANSACTION 'x'", "`PREPARE TRANSACTION` would end"),
        ("BEGIN", "`BEGIN` starts a transaction, but transaction group 'g'"),
        ("start transaction isolation level serializable", "`START TRANSACTION` starts"),
        ("SAVEPOINT s", "`SAVEPOINT` would act on a savepoint inside transaction group 'g'"),
        ("RELEASE SAVEPOINT s", "`RELEASE` would act on a savepoint"),
        ("ROLLBACK TO SAVEPOINT s", "`ROLLBACK TO SAVEPOINT` would act on a savepoint"),
        ("rollback work to s", "`ROLLBACK TO SAVEPOINT` would act on a savepoint"),
        ("COMMIT PREPARED 'x'", "`COMMIT PREPARED` cannot run inside a transaction block"),
        ("ROLLBACK /* c */ PREPARED 'x'", "`ROLLBACK PREPARED` cannot run inside"),
    ],
)
def test_a_group_member_may_not_control_the_transaction(
    write_workflow: Any, query: str, named: str
) -> None:
    text = members("INSERT INTO nowhere VALUES (1)", query, "INSERT INTO nowhere VALUES (2)")
    assert named in refused(write_workflow, text)


@pytest.mark.parametrize("query", ["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT s"])
def test_outside_a_group_they_point_to_transaction(write_workflow: Any, query: str) -> None:
    text = members("SELECT 1", query, "SELECT 2", group=None)
    message = refused(write_workflow, text)
    assert message.startswith(f"`{query.split()[0]}` does nothing for the blocks around it")
    assert "the same `transaction: NAME`" in message


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 'COMMIT' AS word",
        'SELECT 1 AS "begin"',
        "-- ROLLBACK\nSELECT 1",
        "/* COMMIT */ SELECT 1",
        "WITH rollback AS (SELECT 1) SELECT * FROM rollback",
    ],
)
async def test_statements_that_only_mention_them_run(run_yaml: Any, query: str) -> None:
    result = await run_yaml(members("SELECT 0", query))
    assert result["status"] == "succeeded", result["error"]


def test_commit_prepared_outside_a_group_is_real_work(write_workflow: Any) -> None:
    """Finishing a two-phase transaction prepared elsewhere needs no group."""
    write_workflow(members("SELECT 1", "COMMIT PREPARED 'x'", group=None))


async def test_set_transaction_first_in_a_group_sets_its_isolation(
    runtime: Runtime, write_workflow: Any
) -> None:
    """Left allowed: it cannot end the group's transaction, and out of place
    PostgreSQL refuses it with its own message."""
    wf = write_workflow(
        members(
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SELECT current_setting('transaction_isolation') AS isolation",
        )
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["isolation"] == "serializable"
