"""The refusal of a re-run whose input held a secret says which kind of secret.

Its words named one kind only, "a value of an <env.…> its workflow names": a user
who gave an Agent's `api_key` (or an HTTP `Authorization` header) in the run's
input, as docs/blocks/agent.md allows, was told about environment values the input
never held. The credential kind (docs/engine.md, "Secrets") is named too.

Real embedded PostgreSQL and a real Runtime; the HTTP block's peer is a port on
127.0.0.1 nobody listens on, so the run fails at once and has ended.
"""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest

from engine.runtime import InputNotKept, Runtime

CREDENTIAL_IN_INPUT = """
name: {name}
blocks:
  start: {{type: manual}}
  call:
    type: http
    url: http://127.0.0.1:{port}/orders
    headers: {{Authorization: "Bearer <start.token>"}}
    timeout: 2
edges: [start -> call]
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_credential_in_the_input_is_named_when_its_rerun_is_refused(
    runtime: Runtime, write_workflow: Any
) -> None:
    workflow = write_workflow(
        CREDENTIAL_IN_INPUT.format(name=f"cred_{uuid.uuid4().hex[:8]}", port=closed_port())
    )
    result = await runtime.execute(workflow, {"token": "Input9Credential7Value"})
    assert result["status"] == "failed"
    stored = await runtime.run_result(result["execution_id"])
    assert stored["input"] == {"token": "***"}

    with pytest.raises(InputNotKept) as refused:
        await runtime.rerun(result["execution_id"])
    words = str(refused.value)
    assert "its input held a secret" in words
    assert "credential" in words and "api_key" in words, words
