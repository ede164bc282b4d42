"""A re-run from the failed block of a payment that failed on a missing setting
captures once the setting is set (both variants).

Black-box report: with STRIPE_SECRET_KEY unset, a payment's run failed ("the setting
STRIPE_SECRET_KEY is not set, so no capture was sent"); with the key set, the re-run
(POST /api/runs/<id>/rerun, `{}`) failed again with the same message and sent
nothing to Stripe: `route`'s branch `unconfigured` was carried over, so the capture
was skipped. The setting is now checked by `stripe_url`, the step that fails, which
a re-run from the failed block runs again."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from es_support import calls, deliver, lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer

UNSET = "the setting STRIPE_SECRET_KEY is not set, so no capture was sent"


def ready(httpserver: HTTPServer, order: str) -> int:
    texts = [r.get_json()["text"] for r in calls(httpserver, "/slack/hook")]
    return sum(1 for t in texts if order in t and t.endswith("ready for fulfillment."))


async def capture_row(rt: Any, order: str) -> Any:
    return await rt.db.pool.fetchrow(
        "SELECT c.status, c.http_status FROM event_correlations c"
        "  JOIN events e USING (event_id) WHERE e.aggregate_id = $1",
        order,
    )


async def rerun(rt: Any, run: dict[str, Any]) -> dict[str, Any]:
    return await rt.wait((await rt.rerun(run["execution_id"])).execution_id, timeout=60)


@pytest.mark.parametrize("repeat", [False, True], ids=["first_run", "resend"])
async def test_a_rerun_after_the_key_is_set_captures_once(
    variant: tuple[Any, str],
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    repeat: bool,
) -> None:
    """`repeat`: the run that failed is a resend of a payment stored by a run that
    had failed the same way (its capture decided by `recapture`, not `route`)."""
    rt, path = variant
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "event_id": str(uuid.uuid4())}
    await deliver(rt, created, path=path)
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    failed = await submit(rt, paid, path=path)
    if repeat:
        assert UNSET in failed["error"]["message"]
        failed = await submit(rt, paid, path=path)
    assert failed["status"] == "failed"
    decided = (await rt.run_result(failed["execution_id"]))["blocks"]
    assert decided["recapture"]["status"] == ("succeeded" if repeat else "skipped")
    assert UNSET in failed["error"]["message"]
    assert calls(httpserver, "/v1/charges/ch_123/capture") == []
    monkeypatch.undo()  # the key is set again

    again = await rerun(rt, failed)
    assert again["status"] == "succeeded", json.dumps(again["error"], default=str)
    assert again["output"]["capture"] == "succeeded"
    [sent] = calls(httpserver, "/v1/charges/ch_123/capture")
    assert sent.headers["Idempotency-Key"] == f"capture-{paid['event_id']}"
    assert tuple(await capture_row(rt, order)) == ("succeeded", 200)
    assert ready(httpserver, order) == 1

    # Re-run once more: the same key, and the charge captured is not told again.
    once_more = await rerun(rt, failed)
    assert once_more["status"] == "succeeded", json.dumps(once_more["error"], default=str)
    keys = {r.headers["Idempotency-Key"] for r in calls(httpserver, "/v1/charges/ch_123/capture")}
    assert keys == {f"capture-{paid['event_id']}"}
    assert ready(httpserver, order) == 1
