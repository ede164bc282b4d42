"""A webhook sender's retry with the same idempotency key: after a failed (or
cancelled) run it starts a new run — the event is not lost — and a key reused for a
different request is refused, not silently answered with another event's run.

``accept`` is what the Flask route calls, on a real runtime (real PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from blocks.webhook import accept
from engine import intake

#: `gate` fails until its flag file exists: the sender's first delivery fails.
FLAKY = """
version: 1
name: NAME
blocks:
  hook: {{type: webhook, path: test/NAME}}
  gate:
    type: function
    code: |
      import pathlib
      if not pathlib.Path({flag!r}).exists():
          raise RuntimeError("the customer system is down")
      return {{"order": input.hook.body.order_id}}
edges: [hook -> gate]
"""


def _post(key: str, body: dict[str, Any], **headers: str) -> tuple[dict[str, str], bytes]:
    h = {"Content-Type": "application/json", "Idempotency-Key": key, **headers}
    return h, json.dumps(body).encode()


async def _deliver(rt: Any, wf: Any, key: str, body: dict[str, Any], **headers: str) -> Any:
    h, raw = _post(key, body, **headers)
    return await accept(rt, f"test/{wf.name}", "POST", h, {}, raw)


async def _runs(rt: Any, workflow: str) -> list[tuple[str, str, str | None]]:
    rows = await rt.db.pool.fetch(
        "SELECT execution_id::text, status, idempotency_key FROM flowyard_runs"
        " WHERE workflow = $1 ORDER BY created_at",
        workflow,
    )
    return [tuple(r) for r in rows]


async def test_a_retry_after_a_failed_run_runs_again_and_then_is_a_repeat(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Path
) -> None:
    flag = tmp_path / "up"
    wf = install_workflow(FLAKY.format(flag=str(flag)))
    body = {"order_id": "o-1", "event_type": "paid"}
    first = await _deliver(blocks_runtime, wf, "k-1", body)
    assert first.status == 202
    failed = await blocks_runtime.wait(first.body["execution_id"], timeout=30)
    assert failed["status"] == "failed"

    flag.write_text("up")  # the operator fixed it; the sender retries, same key and body
    retry = await _deliver(blocks_runtime, wf, "k-1", body, **{"X-Retry": "1"})
    assert retry.status == 202, retry.body
    assert retry.body["execution_id"] != first.body["execution_id"]
    assert retry.body["retry_of"] == first.body["execution_id"]
    assert "duplicate" not in retry.body
    done = await blocks_runtime.wait(retry.body["execution_id"], timeout=30)
    assert done["status"] == "succeeded" and done["output"] == {"order": "o-1"}

    again = await _deliver(blocks_runtime, wf, "k-1", body)  # now a repeat of a success
    assert again.status == 202 and again.body["duplicate"] is True
    assert again.body["execution_id"] == retry.body["execution_id"]
    assert await _runs(blocks_runtime, wf.name) == [
        (first.body["execution_id"], "failed", None),  # the key moved to the retry
        (retry.body["execution_id"], "succeeded", "k-1"),
    ]


async def test_concurrent_retries_of_a_failed_run_start_one_run(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Path
) -> None:
    flag = tmp_path / "up"
    wf = install_workflow(FLAKY.format(flag=str(flag)))
    body = {"order_id": "o-2"}
    first = await _deliver(blocks_runtime, wf, "k-2", body)
    await blocks_runtime.wait(first.body["execution_id"], timeout=30)
    flag.write_text("up")
    answers = await asyncio.gather(*(_deliver(blocks_runtime, wf, "k-2", body) for _ in range(6)))
    assert {a.status for a in answers} == {202}
    started = {a.body["execution_id"] for a in answers}
    assert len(started) == 1 and first.body["execution_id"] not in started
    assert sum("duplicate" not in a.body for a in answers) == 1
    (eid,) = started
    assert (await blocks_runtime.wait(eid, timeout=30))["status"] == "succeeded"
    assert len(await _runs(blocks_runtime, wf.name)) == 2


async def test_a_different_body_racing_the_retries_never_takes_the_key(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Path
) -> None:
    """Retries of a failed delivery and other bodies under the same key, all at once:
    the retries start exactly one run, every other body is 409 — none of them takes
    the key between the failed run's release and the retry's insert."""
    flag = tmp_path / "up"
    wf = install_workflow(FLAKY.format(flag=str(flag)))
    for round_ in range(5):
        key, order = f"race-{round_}", f"o-9{round_}"
        flag.unlink(missing_ok=True)
        first = await _deliver(blocks_runtime, wf, key, {"order_id": order, "x": 1})
        await blocks_runtime.wait(first.body["execution_id"], timeout=30)
        flag.write_text("up")
        bodies = [{"order_id": order, "x": 2 - n % 2} for n in range(30)]
        answers = await asyncio.gather(*(_deliver(blocks_runtime, wf, key, b) for b in bodies))
        retries = [a for b, a in zip(bodies, answers, strict=True) if b["x"] == 1]
        others = [a for b, a in zip(bodies, answers, strict=True) if b["x"] == 2]
        assert {a.status for a in others} == {409}, round_
        assert {a.status for a in retries} == {202}, round_
        started = {a.body["execution_id"] for a in retries if "duplicate" not in a.body}
        assert len(started) == 1 and {a.body["execution_id"] for a in retries} == started
        (eid,) = started
        assert (await blocks_runtime.wait(eid, timeout=30))["output"] == {"order": order}
    assert len(await _runs(blocks_runtime, wf.name)) == 10


async def test_a_key_reused_for_a_different_request_is_refused(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Path
) -> None:
    (tmp_path / "up").write_text("up")
    wf = install_workflow(FLAKY.format(flag=str(tmp_path / "up")))
    first = await _deliver(blocks_runtime, wf, "shared", {"order_id": "o-3", "n": 1})
    await blocks_runtime.wait(first.body["execution_id"], timeout=30)
    # The same request again, its numbers and key order as another sender may write
    # them and with other headers (a new signature): a repeat.
    same = await _deliver(blocks_runtime, wf, "shared", {"n": 1.0, "order_id": "o-3"}, X_Sig="2")
    assert same.status == 202 and same.body["duplicate"] is True
    other = await _deliver(blocks_runtime, wf, "shared", {"order_id": "o-4", "n": 1})
    assert other.status == 409
    assert "shared" in other.body["error"] and "different request" in other.body["error"]
    assert other.body["execution_id"] == first.body["execution_id"]
    truthy = await _deliver(blocks_runtime, wf, "shared", {"order_id": "o-3", "n": True})
    assert truthy.status == 409  # `true` is not the number 1
    assert len(await _runs(blocks_runtime, wf.name)) == 1


async def test_other_callers_keep_the_first_run_whatever_became_of_it(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Path
) -> None:
    """A schedule's tick (or any caller without a webhook's retry rules) is answered
    with its first run even when that run failed: a tick runs once."""
    wf = install_workflow(FLAKY.format(flag=str(tmp_path / "never")))
    first = await blocks_runtime.submit(wf, {}, trigger="schedule", idempotency_key="tick-1")
    assert (await blocks_runtime.wait(first.execution_id, timeout=30))["status"] == "failed"
    again = await blocks_runtime.submit(wf, {}, trigger="schedule", idempotency_key="tick-1")
    assert (again.execution_id, again.created) == (first.execution_id, False)
    assert intake.same_json({"a": [1, {"b": 2.0}]}, {"a": [1.0, {"b": 2}]})
    assert not intake.same_json({"a": 1}, {"a": "1"}) and not intake.same_json([0], [False])


async def test_a_webhook_whose_file_broke_answers_503_until_it_is_fixed(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Path, monkeypatch: Any, caplog: Any
) -> None:
    """A typo saved while serving must not turn deliveries into 404s (which many
    senders treat as final): the route is known to be broken, the sender is told to
    retry, the log says which file, and the events arrive once it is fixed."""
    monkeypatch.setattr(blocks_runtime.workflows, "INDEX_TTL_S", 0.0)
    (tmp_path / "up").write_text("up")
    wf = install_workflow(FLAKY.format(flag=str(tmp_path / "up")))
    file = Path(wf.file)
    good = file.read_text()
    assert (await _deliver(blocks_runtime, wf, "b-1", {"order_id": "o-5"})).status == 202

    def write(text: str) -> None:
        file.write_text(text)
        stat = file.stat()  # a new mtime even within the filesystem's granularity
        os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    for broken in (good.replace("edges: [", "edges: [[", 1), good + "oops: 1\n"):
        write(broken)  # a YAML syntax error, then a valid YAML with an unknown key
        answer = await _deliver(blocks_runtime, wf, "b-2", {"order_id": "o-6"})
        assert answer.status == 503, answer.body
        assert answer.headers["Retry-After"] and "retry later" in answer.body["reason"]
        assert file.name not in str(answer.body)  # said in the log, not to the sender
    assert any(file.name in r.getMessage() and "503" in r.getMessage() for r in caplog.records)
    h, raw = _post("b-3", {})
    other = await accept(blocks_runtime, "test/nobody-here", "POST", h, {}, raw)
    assert other.status == 404

    write(good)
    fixed = await _deliver(blocks_runtime, wf, "b-2", {"order_id": "o-6"})
    assert fixed.status == 202 and "duplicate" not in fixed.body
    assert (await blocks_runtime.wait(fixed.body["execution_id"], timeout=30))[
        "status"
    ] == "succeeded"


def test_a_key_read_from_the_body_is_its_json_value() -> None:
    """The same JSON value written another way is the same key; another value is not."""
    from blocks._delivery_keys import delivery_key

    def key(value: Any) -> str | None:
        payload = {"body": {"event_id": value}}
        return delivery_key("<webhook.body.event_id>", "hook", payload, {}, "wf").key

    assert key(1) == key(1.0) == "1"
    assert key("abc") == "abc" and key(True) == "true" != key("True")
    assert key({"a": 1, "b": [2]}) == key({"b": [2], "a": 1})
    assert key(None) is None and key("") is None


async def test_a_retry_after_an_operator_reran_the_failed_run_is_answered_with_that_rerun(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Path
) -> None:
    """The customer system came back, an operator re-ran the failed delivery, and then
    the sender's retry arrived: it started a second run beside the re-run, repeating
    its effects (a capture, an event appended). It is that re-run's repeat now."""
    flag = tmp_path / "up"
    wf = install_workflow(FLAKY.format(flag=str(flag)))
    body = {"order_id": "o-9", "event_type": "paid"}
    first = await _deliver(blocks_runtime, wf, "k-9", body)
    failed_id = first.body["execution_id"]
    assert (await blocks_runtime.wait(failed_id, timeout=30))["status"] == "failed"

    flag.write_text("up")
    rerun = await blocks_runtime.rerun(failed_id)
    assert (await blocks_runtime.wait(str(rerun.execution_id), timeout=30))["status"] == (
        "succeeded"
    )
    retry = await _deliver(blocks_runtime, wf, "k-9", body, **{"X-Retry": "1"})
    assert retry.status == 202, retry.body
    assert retry.body["execution_id"] == str(rerun.execution_id)
    assert retry.body["duplicate"] is True
    assert [r[0] for r in await _runs(blocks_runtime, wf.name)] == [
        failed_id,
        str(rerun.execution_id),
    ]


async def test_a_retry_after_the_rerun_failed_too_runs_again(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Path
) -> None:
    flag = tmp_path / "up"
    wf = install_workflow(FLAKY.format(flag=str(flag)))
    body = {"order_id": "o-10", "event_type": "paid"}
    first = await _deliver(blocks_runtime, wf, "k-10", body)
    failed_id = first.body["execution_id"]
    assert (await blocks_runtime.wait(failed_id, timeout=30))["status"] == "failed"
    rerun = await blocks_runtime.rerun(failed_id)  # still down: fails again
    assert (await blocks_runtime.wait(str(rerun.execution_id), timeout=30))["status"] == "failed"

    flag.write_text("up")
    retry = await _deliver(blocks_runtime, wf, "k-10", body, **{"X-Retry": "1"})
    assert retry.status == 202 and retry.body["retry_of"] == failed_id
    done = await blocks_runtime.wait(retry.body["execution_id"], timeout=30)
    assert done["status"] == "succeeded"
