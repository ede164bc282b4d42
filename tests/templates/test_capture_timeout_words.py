"""A capture the processor did not answer in time is not reported as never sent.

A black-box round pointed STRIPE_API_BASE at a processor that took the capture
and never answered. The run's error said `has no known outcome (the capture was
not sent: TimeoutError: timed out after 30 s …)`: the step's own timeout (the
engine's) fires with the HTTP client's, as TimeoutError rather than the HTTP
block's error, and the words for a step that failed before sending anything were
used. The request had reached the processor on every attempt; an operator told
"not sent" would take the charge as untouched. The words now say the processor
did not answer in time.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from es_support import lifecycle, submit
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from templates import instantiate


def slow_copy(workflows: Path) -> str:
    """An Order Processing copy whose capture waits 1 s a try (a user's shorter
    timeout), 2 tries: the test takes seconds, not the default's two minutes."""
    name = "op_slow_capture"
    path = workflows / f"{name}.yaml"
    if not path.exists():
        instantiate("order_processing", workflows, name)
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["blocks"]["capture"].update({"timeout": 1, "retries": 1})
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return f"{name}/events"


async def test_a_capture_that_timed_out_is_not_called_unsent(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    asked: list[str] = []

    def never_answers_in_time(request: Request) -> Response:
        asked.append(request.headers.get("Idempotency-Key", ""))
        time.sleep(2)  # past the step's timeout: the run hears nothing
        return Response("{}", content_type="application/json")

    httpserver.clear_all_handlers()
    httpserver.expect_request("/v1/charges/ch_123/capture", method="POST").respond_with_handler(
        never_answers_in_time
    )
    httpserver.expect_request("/customer/events", method="POST").respond_with_json({"ok": True})
    httpserver.expect_request("/slack/hook", method="POST").respond_with_data("ok")
    path = slow_copy(es_runtime.workflows_dir)
    created, paid = lifecycle(f"ord-{uuid.uuid4().hex[:8]}")[:2]
    assert (await submit(es_runtime, created, path=path))["status"] == "succeeded"
    result = await submit(es_runtime, paid, path=path)
    assert result["status"] == "failed", result
    message = result["error"]["message"]
    assert len(asked) == 2  # both tries reached the processor
    assert "has no known outcome" in message, message
    assert "not sent" not in message, message
    assert "the processor did not answer within 1 s" in message, message
