"""A delivery an earlier release accepted, resent after the upgrade, is a repeat.

Black-box report: with a release 500 commits back, deliveries were accepted; after
upgrading to main, 6 of 7 resends started a second run and repeated its effects. That
release stored some keys in another form than main computes: a long key as it came
(now ``sha256:…``), a value read from the body as Python's text (``7.0``, ``True``,
``{'b': 1, 'a': 2}``, ``d:7.0``; now ``7``, ``true``, ``{"a":2,"b":1}``, ``d:7``).

The database is made as that release left it: runs accepted by this release, then
their rows given what the earlier one wrote (the key in its form, no trigger block
nor key scope, schema version 2), then upgraded by a runtime of this release. The
forms are the earlier release's own output, written out here (its code is not in a
shallow clone). ``accept`` is what the Flask route calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from db_helpers import new_database

from blocks.webhook import accept
from engine.runtime import Runtime

KEYED = """
name: NAME
blocks:
  hook: {type: webhook, path: test/NAME, idempotency_key: <hook.body.k>}
  done: {type: function, code: "return {'ok': 1}"}
edges: [hook -> done]
"""
TEXT_KEYED = KEYED.replace("<hook.body.k>", '"d:<hook.body.k>"')
HEADER_KEYED = KEYED.replace(", idempotency_key: <hook.body.k>", "")

LONG = "x" * 300


async def _deliver(rt: Any, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await accept(rt, path, "POST", headers, {}, json.dumps(body).encode())


async def _as_an_earlier_release_left_it(pool: Any, stored: dict[str, tuple[str, str]]) -> None:
    """Each run (execution id → its key as the earlier release stored it, its end)
    as that release wrote it, and the run log at its schema version (2)."""
    for eid, (key, status) in stored.items():
        await pool.execute(
            "UPDATE flowyard_runs SET idempotency_key = $2, status = $3, trigger_block = NULL,"
            " key_scope = NULL WHERE execution_id = $1::uuid",
            eid,
            key,
            status,
        )
    await pool.execute(
        "ALTER TABLE flowyard_runs DROP COLUMN key_scope;"
        "CREATE UNIQUE INDEX flowyard_runs_idempotency ON flowyard_runs"
        " (workflow, idempotency_key) WHERE idempotency_key IS NOT NULL;"
        "DELETE FROM flowyard_schema WHERE version > 2"
    )


async def test_a_delivery_an_earlier_release_accepted_is_a_repeat_when_resent(
    database_url: str, workspace: Path, blocks_workflows: Path, install_workflow: Any
) -> None:
    keyed, text_keyed, header_keyed = (
        install_workflow(KEYED), install_workflow(TEXT_KEYED), install_workflow(HEADER_KEYED)
    )  # fmt: skip
    # (workflow, body, Idempotency-Key header, the key as the earlier release stored it)
    deliveries = [
        (keyed, {"k": "ord-1"}, None, "ord-1"),  # the same in every release
        (keyed, {"k": 7.0}, None, "7.0"),
        (keyed, {"k": True}, None, "True"),
        (keyed, {"k": {"b": 1, "a": 2}}, None, "{'b': 1, 'a': 2}"),
        (text_keyed, {"k": 7.0}, None, "d:7.0"),
        (keyed, {"k": LONG}, None, LONG),
        (header_keyed, {"n": 1}, LONG, LONG),
    ]
    url = await new_database(database_url, "earlierkeys")
    before = Runtime(blocks_workflows, url, workspace, function_workers=1, resume=False)
    await before.start()
    try:
        runs = []
        for wf, body, header, _ in deliveries:
            answer = await _deliver(before, f"test/{wf.name}", body, header)
            assert answer.status == 202 and "duplicate" not in answer.body, answer.body
            runs.append(answer.body["execution_id"])
            assert (await before.wait(runs[-1], timeout=30))["status"] == "succeeded"
        # One more, whose run failed: its resend is a retry of it.
        failed = await _deliver(before, f"test/{keyed.name}", {"k": 8.0})
        await before.wait(failed.body["execution_id"], timeout=30)
        stored = {eid: (d[3], "succeeded") for eid, d in zip(runs, deliveries, strict=True)}
        stored[failed.body["execution_id"]] = ("8.0", "failed")
        await _as_an_earlier_release_left_it(before.db.log_pool, stored)
    finally:
        await before.close()

    after = Runtime(blocks_workflows, url, workspace, function_workers=1, resume=False)
    await after.start()  # migrates from schema version 2
    try:
        for (wf, body, header, form), eid in zip(deliveries, runs, strict=True):
            resent = await _deliver(after, f"test/{wf.name}", body, header)
            assert (resent.status, resent.body.get("duplicate")) == (202, True), (form, resent.body)
            assert resent.body["execution_id"] == eid, form
        changed = await _deliver(after, f"test/{keyed.name}", {"k": 7.0, "other": 1})
        assert changed.status == 409 and changed.body["execution_id"] == runs[1]

        retry = await _deliver(after, f"test/{keyed.name}", {"k": 8.0})
        assert retry.status == 202 and retry.body["retry_of"] == failed.body["execution_id"]
        assert (await after.wait(retry.body["execution_id"], timeout=30))["status"] == "succeeded"
        again = await _deliver(after, f"test/{keyed.name}", {"k": 8.0})
        assert again.body["duplicate"] is True
        assert again.body["execution_id"] == retry.body["execution_id"]

        counts = await after.db.log_pool.fetch(
            "SELECT workflow, count(*) AS n FROM flowyard_runs GROUP BY workflow"
        )
        assert {r["workflow"]: r["n"] for r in counts} == {
            keyed.name: 7,  # 5 above, the failed run and its retry
            text_keyed.name: 1,
            header_keyed.name: 1,
        }
    finally:
        await after.close()


async def test_an_earlier_form_never_matches_a_delivery_accepted_since_the_upgrade(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    """``7.0`` is how an earlier release stored the key of the number 7.0, and how
    this one stores the text "7.0": a delivery of the number after one of the text is
    another delivery (another key, `7`), not a 409 for the text's run."""
    wf = install_workflow(KEYED)
    text = await _deliver(blocks_runtime, f"test/{wf.name}", {"k": "7.0"})
    number = await _deliver(blocks_runtime, f"test/{wf.name}", {"k": 7.0})
    assert text.status == 202 and number.status == 202, number.body
    assert "duplicate" not in number.body
    assert number.body["execution_id"] != text.body["execution_id"]
    for answer in (text, number):
        await blocks_runtime.wait(answer.body["execution_id"], timeout=30)
