"""A stored workflow version keeps the file's key order, and its hash tells two key
orders apart. The process executing a run rebuilds the workflow from
`flowyard_workflow_versions.source` (jsonb until schema version 7, which sorts keys),
and the hash was of the document with its keys sorted: two files differing only in
key order shared one version, and the second ran in the first one's order.
(tests/ui/test_http_run_wait_elsewhere.py runs such a workflow in real
`serve --engine-process` and `flowyard worker` processes.)"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from engine.model import Workflow
from engine.runtime import Runtime
from engine.workflow_versions import version_hash

LITERAL = """
name: literal_{suffix}
blocks:
  start: {{type: manual}}
  each: {{type: loop, items: {items}, body: [key]}}
  key: {{type: function, isolation: inline, code: "return <item.key>"}}
edges: [start -> each]
output: {{keys: <each.results>}}
"""


def _keys(result: dict[str, Any]) -> list[str]:
    assert result["status"] == "succeeded", result["error"]
    return [each["result"] for each in result["output"]["keys"]]


def _sorted_keys_hash(file: str, source: Any) -> str:
    """The version hash as flowyard computed it before schema version 7."""
    text = json.dumps(source, sort_keys=True, default=str)
    return hashlib.sha256((file + "\0" + text).encode()).hexdigest()[:32]


def test_two_documents_differing_only_in_key_order_are_two_versions() -> None:
    written = {"name": "w", "blocks": {"each": {"items": {"zzz": 2, "a": 1, "cc": 3}}}}
    reordered = {"name": "w", "blocks": {"each": {"items": {"a": 1, "cc": 3, "zzz": 2}}}}
    assert version_hash("w.yaml", written) != version_hash("w.yaml", reordered)
    assert version_hash("w.yaml", written) == version_hash(
        "w.yaml", json.loads(json.dumps(written))
    )
    # A document already in sorted order does not hash as it did before schema
    # version 7: that row holds its keys in jsonb's order (a, cc, zzz here: shorter
    # first), not the file's, and must not be taken for it.
    assert version_hash("w.yaml", reordered) != _sorted_keys_hash("w.yaml", reordered)


async def test_files_differing_only_in_key_order_run_each_in_its_own_order(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    first = write_workflow(LITERAL.format(suffix=suffix, items="{zzz: 2, a: 1, cc: 3}"), "same")
    assert _keys(await runtime.execute(first, {})) == ["zzz", "a", "cc"]
    # The same file, its mapping's keys reordered: another version, run in its order.
    second = write_workflow(LITERAL.format(suffix=suffix, items="{cc: 3, zzz: 2, a: 1}"), "same")
    run = await runtime.execute(second, {})
    assert _keys(run) == ["cc", "zzz", "a"]
    assert first.content_hash != second.content_hash
    stored = await runtime.db.log_pool.fetch(
        "SELECT hash, source FROM flowyard_workflow_versions WHERE hash = ANY($1::text[])",
        [first.content_hash, second.content_hash],
    )
    items = {r["hash"]: list(r["source"]["blocks"]["each"]["items"]) for r in stored}
    assert items == {
        first.content_hash: ["zzz", "a", "cc"],
        second.content_hash: ["cc", "zzz", "a"],
    }


async def test_a_run_of_a_version_stored_before_schema_version_7_still_finds_it(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    """Its row stays under its sorted-keys hash, in the order jsonb kept: a re-run
    executes that version and names it, and the file now is a version of its own."""
    workflow = write_workflow(
        LITERAL.format(suffix=uuid.uuid4().hex[:8], items="{zzz: 2, a: 1, cc: 3}")
    )
    old = _sorted_keys_hash(workflow.file, workflow.source)
    pool = runtime.db.log_pool
    await pool.execute(
        "INSERT INTO flowyard_workflow_versions (hash, name, file, source)"
        " VALUES ($1, $2, $3, $4::text::jsonb::json)",  # as the upgrade to 7 left it
        old,
        workflow.name,
        workflow.file,
        json.dumps(workflow.source),
    )
    eid = str(uuid.uuid4())
    await pool.execute(
        "INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, input,"
        " started_at, finished_at) VALUES ($1::uuid, $2, $3, 'succeeded', '{}', now(), now())",
        eid,
        workflow.name,
        old,
    )
    again = await runtime.rerun(eid, from_failed=False)
    assert _keys(await runtime.wait(again.execution_id, 60)) == ["a", "cc", "zzz"]  # jsonb's
    rerun_version = await pool.fetchval(
        "SELECT workflow_hash FROM flowyard_runs WHERE execution_id = $1::uuid",
        again.execution_id,
    )
    assert rerun_version == old
    now = await runtime.execute(workflow, {})
    assert _keys(now) == ["zzz", "a", "cc"]
    assert workflow.content_hash != old
